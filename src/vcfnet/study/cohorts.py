"""The study's cohorts: one definition for Table 1 (who is in each cohort) and Table 2 (how the model did).

The evaluation cohorts are, in this order: the internal test set (``split == "test"``), each external
site, all external sites pooled (when there is more than one), the prospective cohort and the
collaboration set (``collaboration == 1``). Training and validation rows are never evaluated; Table 1
lists them too (:func:`development_parts`). A table without a ``split`` column (a Study table before
splits) is cut by its ``cohort`` column, and has no test or collaboration rows.

    >>> [p.key for p in evaluation_parts(table)]
    ['test', 'external-site2', 'external-site3', 'external', 'prospective', 'collaboration']
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


class Part(NamedTuple):
    """One cohort of the study: ``key`` names files and CSV rows, ``name`` is what a reader sees."""

    key: str
    name: str
    kind: str            # development | internal | external-site | external | prospective | collaboration
    rows: pd.DataFrame


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
    parts = [Part("test", NAMES["test"], "internal", table[_where(table, "test")])]
    keys = {"test"}
    for site in sites:
        key = f"external-{slug(site)}"
        if key in keys:
            raise VcfnetError(f"external sites '{site}' and another site share the file name '{key}'")
        keys.add(key)
        parts.append(Part(key, site_name(site), "external-site", external[external["site"] == site]))
    if len(sites) > 1:
        parts.append(Part("external", NAMES["external"], "external", external))
    parts.append(Part("prospective", NAMES["prospective"], "prospective", table[_where(table, "prospective")]))
    if "split" in table.columns and "collaboration" in table.columns:
        collab = pd.to_numeric(table["collaboration"], errors="coerce") == 1
        parts.append(Part("collaboration", NAMES["collaboration"], "collaboration", table[collab]))
    return parts


def development_parts(table: pd.DataFrame) -> list[Part]:
    """The development cohort, then its training and validation rows (Table 1 only)."""
    dev = table[table["cohort"] == "development"] if "cohort" in table.columns else table.iloc[:0]
    parts = [Part("development", NAMES["development"], "development", dev)]
    if "split" in table.columns:
        parts += [Part(s, NAMES[s], "development", dev[dev["split"] == s]) for s in ("train", "val")]
    return parts
