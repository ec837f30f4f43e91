"""The study's cohorts: one definition for Table 1 (who is in each cohort) and Table 2 (how the model did).

The evaluation cohorts are, in this order: the internal test set (``split == "test"``), each external
site, all external sites pooled (when there is more than one), the prospective cohort and the
collaboration set (``collaboration == 1``). Training and validation rows are never evaluated; Table 1
lists them too (:func:`development_parts`). A table without a ``split`` column (a Study table before
splits) is cut by its ``cohort`` column, and has no test or collaboration rows.

Each cohort has one reader-facing ``name``; Table 1 shows it as it is, except that it lists the
internal test set under the development cohort (``Development: internal test``, :attr:`Part.table1_name`).
Its ``key`` names Table 2's files and ``metrics.json`` entries; ``table1_key`` is the ``cohort`` column
of ``table1.csv``, which keeps the keys it always had (``development:test``, ``external:<site>``,
``external:all``, ...).

    >>> [p.key for p in evaluation_parts(table)]
    ['test', 'external-site2', 'external-site3', 'external', 'prospective', 'collaboration']
    >>> [p.table1_key for p in evaluation_parts(table)]
    ['development:test', 'external:site2', 'external:site3', 'external:all', 'prospective', 'collaboration']
"""
from __future__ import annotations

import re
from typing import NamedTuple

import pandas as pd

from vcfnet.errors import VcfnetError

#: What a reader sees for each fixed cohort key (an external site is ``External: <site>``).
NAMES: dict[str, str] = {"development": "Development (all)", "train": "Development: training",
                         "val": "Development: validation", "test": "Internal test",
                         "external": "External (pooled)", "prospective": "Prospective",
                         "collaboration": "Collaboration set"}

#: The ``table1.csv`` key of each fixed cohort key (an external site is ``external:<site>``).
TABLE1_KEYS: dict[str, str] = {"development": "development", "train": "development:train",
                               "val": "development:val", "test": "development:test",
                               "external": "external:all", "prospective": "prospective",
                               "collaboration": "collaboration"}


class Part(NamedTuple):
    """One cohort of the study: ``key`` names Table 2's files and rows, ``table1_key`` Table 1's rows,
    ``name`` is what a reader sees in both."""

    key: str
    name: str
    kind: str            # development | internal | external-site | external | prospective | collaboration
    rows: pd.DataFrame
    table1_key: str

    @property
    def table1_name(self) -> str:
        """The name in Table 1, which nests the internal test set under the development cohort."""
        return _in_table1(self.name, self.kind)


def _in_table1(name: str, kind: str) -> str:
    return f"Development: {name[:1].lower()}{name[1:]}" if kind == "internal" else name


def _part(key: str, kind: str, rows: pd.DataFrame) -> Part:
    """A fixed cohort (not an external site): its name and Table 1 key from :data:`NAMES`, :data:`TABLE1_KEYS`."""
    return Part(key, NAMES[key], kind, rows, TABLE1_KEYS[key])


def name_of(table1_key: str) -> str:
    """The reader-facing name of a ``table1.csv`` key (``external:Site 2`` -> ``External: Site 2``);
    an unknown key is shown as it is."""
    fixed = {t1: _in_table1(NAMES[k], "internal" if k == "test" else "") for k, t1 in TABLE1_KEYS.items()}
    if table1_key in fixed:
        return fixed[table1_key]
    return site_name(table1_key.split(":", 1)[1]) if table1_key.startswith("external:") else table1_key


def slug(text: str) -> str:
    """A file-name-safe form of a site name (``Site 2/B`` -> ``site-2-b``)."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "unnamed"


def site_name(site: str) -> str:
    return f"External: {site}"


def _where(table: pd.DataFrame, split: str) -> pd.Series:
    """Rows of ``split`` (test | external | prospective): by the split column, else by the cohort."""
    if "split" in table.columns:
        return table["split"] == split
    if split == "test":
        return pd.Series(False, index=table.index)
    return table["cohort"] == split


def evaluation_parts(table: pd.DataFrame) -> list[Part]:
    """The evaluation cohorts of ``table`` in reporting order, empty ones included (callers drop them)."""
    external = table[_where(table, "external")]
    sites = sorted(external["site"].unique(), key=str)
    parts = [_part("test", "internal", table[_where(table, "test")])]
    keys = {"test"}
    for site in sites:
        key = f"external-{slug(site)}"
        if key in keys:
            raise VcfnetError(f"external sites '{site}' and another site share the file name '{key}'")
        keys.add(key)
        parts.append(Part(key, site_name(site), "external-site", external[external["site"] == site],
                          f"external:{site}"))
    if len(sites) > 1:
        parts.append(_part("external", "external", external))
    parts.append(_part("prospective", "prospective", table[_where(table, "prospective")]))
    if "split" in table.columns and "collaboration" in table.columns:
        collab = pd.to_numeric(table["collaboration"], errors="coerce") == 1
        parts.append(_part("collaboration", "collaboration", table[collab]))
    return parts


def development_parts(table: pd.DataFrame) -> list[Part]:
    """The development cohort, then its training and validation rows (Table 1 only)."""
    dev = table[table["cohort"] == "development"] if "cohort" in table.columns else table.iloc[:0]
    parts = [_part("development", "development", dev)]
    if "split" in table.columns:
        parts += [_part(s, "development", dev[dev["split"] == s]) for s in ("train", "val")]
    return parts
