"""Clinical columns (age, sex, any numeric or categorical column a user names) as model features.

    >>> enc = fit_encoding(dev_rows, ["age", "sex"])       # ranges, mean/sd, levels from train + val rows
    >>> x, notes = encode(enc, rows)                      # (N, F) float64; notes[i]: what row i lacked

Every column carries an explicit missing indicator, never a silent 0:

    numeric      ``<name>`` = (value - mean) / sd and ``<name>_missing`` = 0 for a value inside the
                 training range [low, high]; a blank, unreadable or out-of-range value gives
                 ``<name>`` = 0 and ``<name>_missing`` = 1, and a note says which and why
    categorical  one 0/1 column per level except the first (the reference, e.g. ``sex=M`` for F/M) and
                 ``<name>_missing``; a blank or unseen level gives zeros and ``<name>_missing`` = 1

Columns the Study table does not have (e.g. ``malignancy``) come from ``STUDY/clinical.csv``, one row per
``roi_id`` or per (pseudonymous) ``patient_id`` (:func:`with_clinical_file`). The encoding is a plain
pydantic model so the model card stores it as it is (``card.clinical``).
Numbers only: no torch here.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from vcfnet.errors import VcfnetError

#: Columns of the Study table that ``--clinical`` uses unless told otherwise.
DEFAULT_COLUMNS: tuple[str, ...] = ("age", "sex")
#: Further clinical columns of a study (e.g. known malignancy), beside study.csv: keyed by ``roi_id`` or by
#: the study's pseudonymous ``patient_id``.
CLINICAL_FILE = "clinical.csv"
#: A column with more distinct values than this is not treated as categorical.
MAX_LEVELS = 20
_BLANK = {"", "nan", "none", "<na>", "na", "unknown"}


class ColumnEncoding(BaseModel):
    """How one clinical column becomes features, with what the training rows held."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["numeric", "categorical"]
    low: float | None = None          # numeric: training range (train + val rows)
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    levels: list[str] = []            # categorical: observed levels, the first is the reference
    n_missing: int = 0                # rows of the fitting data without a usable value

    def feature_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name, f"{self.name}_missing"]
        return [f"{self.name}={lv}" for lv in self.levels[1:]] + [f"{self.name}_missing"]


class ClinicalEncoding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: list[ColumnEncoding]
    fitted_on: str = "train + val rows of the development cohort"

    def feature_names(self) -> list[str]:
        return [f for c in self.columns for f in c.feature_names()]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def parse_columns(text: str | Sequence[str] | None) -> list[str]:
    """``"age,sex"`` (or a list) -> ``["age", "sex"]``; empty -> the defaults."""
    if text is None:
        return list(DEFAULT_COLUMNS)
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = [p.strip() for p in parts if p.strip()]
    if len(set(names)) != len(names):
        raise VcfnetError(f"--clinical-columns '{text}': a column is named twice")
    return names or list(DEFAULT_COLUMNS)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip().lower() in _BLANK


def _number(value: Any) -> float | None:
    if _blank(value):
        return None
    try:
        v = float(str(value).strip().rstrip("Yy"))     # "067Y" (DICOM PatientAge) reads as 67
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def fit_column(name: str, values: Sequence[Any]) -> ColumnEncoding:
    """Numeric when every non-blank value reads as a number, else categorical (at most MAX_LEVELS)."""
    present = [v for v in values if not _blank(v)]
    if not present:
        raise VcfnetError(f"clinical column '{name}': no row of the training data has a value")
    numbers = [_number(v) for v in present]
    if all(n is not None for n in numbers) and name != "sex":
        arr = np.asarray(numbers, dtype=float)
        sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return ColumnEncoding(name=name, kind="numeric", low=float(arr.min()), high=float(arr.max()),
                              mean=float(arr.mean()), sd=sd if sd > 0 else 1.0,
                              n_missing=len(values) - len(present))
    levels = sorted({str(v).strip() for v in present})
    if len(levels) > MAX_LEVELS:
        raise VcfnetError(f"clinical column '{name}': {len(levels)} distinct non-numeric values (at most "
                          f"{MAX_LEVELS} for a categorical column); is it free text?")
    return ColumnEncoding(name=name, kind="categorical", levels=levels, n_missing=len(values) - len(present))


def fit_encoding(table, columns: Sequence[str]) -> ClinicalEncoding:
    """The encoding of ``columns`` from the rows of ``table`` (a DataFrame: the model's training rows)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise VcfnetError(f"clinical column(s) {', '.join(missing)} not in the study table (it has "
                          f"{', '.join(map(str, table.columns))}); put further columns in STUDY/{CLINICAL_FILE} "
                          f"(roi_id or patient_id, then the columns)")
    return ClinicalEncoding(columns=[fit_column(c, table[c].tolist()) for c in columns])


def _encode_value(col: ColumnEncoding, value: Any) -> tuple[list[float], str | None]:
    if col.kind == "numeric":
        v = _number(value)
        if v is None:
            why = "missing" if _blank(value) else f"'{str(value)[:40]}' is not a number"
            return [0.0, 1.0], f"{col.name} {why}: treated as missing"
        assert col.low is not None and col.high is not None and col.mean is not None and col.sd is not None
        if not col.low <= v <= col.high:
            return [0.0, 1.0], (f"{col.name} {v:g} is outside the training range {col.low:g}-{col.high:g}: "
                                f"treated as missing")
        return [(v - col.mean) / col.sd, 0.0], None
    zeros = [0.0] * (len(col.levels) - 1)
    text = "" if _blank(value) else str(value).strip()
    if text in col.levels:
        onehot = [1.0 if text == lv else 0.0 for lv in col.levels[1:]]
        return onehot + [0.0], None
    why = "missing" if not text else f"'{text[:40]}' is not one of {', '.join(col.levels)}"
    return zeros + [1.0], f"{col.name} {why}: treated as missing"


def encode(encoding: ClinicalEncoding, rows: Sequence[Mapping[str, Any]] | Any) -> tuple[np.ndarray, list[list[str]]]:
    """Features (N, F) float64 and, per row, notes on what was missing or out of range.

    ``rows``: a DataFrame or a sequence of mappings; a column it lacks counts as missing in every row.
    """
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    feats: list[list[float]] = []
    notes: list[list[str]] = []
    for row in rows:
        values, said = [], []
        for col in encoding.columns:
            part, note = _encode_value(col, row.get(col.name))
            values.extend(part)
            if note:
                said.append(note)
        feats.append(values)
        notes.append(said)
    width = len(encoding.feature_names())
    return np.asarray(feats, dtype=np.float64).reshape(len(feats), width), notes


def header_values(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Age (years) and sex from a radiograph's safe metadata (``vcfnet.io``: DICOM PatientAge /
    PatientSex, or a source's metadata.csv), when present and plausible."""
    out: dict[str, Any] = {}
    age = meta.get("patient_age")
    if isinstance(age, (int, float)) and not isinstance(age, bool) and 0 <= float(age) <= 130:
        out["age"] = float(age)
    sex = str(meta.get("patient_sex") or "").strip().upper()
    if sex in ("F", "M"):
        out["sex"] = sex
    return out


def merge_values(given: Mapping[str, Any], header: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values given by the user first, then the header's; and where each came from."""
    values, source = {}, {}
    for key in sorted(set(given) | set(header) | {"age", "sex"}):
        if not _blank(given.get(key)):
            values[key], source[key] = given[key], "given"
        elif not _blank(header.get(key)):
            values[key], source[key] = header[key], "dicom header"
        else:
            source[key] = "missing"
    return values, source


def with_clinical_file(study_dir, table):
    """``table`` (Study rows) with the columns of ``STUDY/clinical.csv`` joined on ``roi_id`` (or, when the
    file has no ``roi_id`` column, on ``patient_id``); ``table`` itself when there is no such file."""
    from pathlib import Path

    import pandas as pd

    path = Path(study_dir) / CLINICAL_FILE
    if not path.is_file():
        return table
    try:
        extra = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # the parser's message is the useful part
        raise VcfnetError(f"{path}: cannot be read as a CSV table ({exc})") from None
    key = "roi_id" if "roi_id" in extra.columns else "patient_id" if "patient_id" in extra.columns else None
    if key is None:
        raise VcfnetError(f"{path}: needs a roi_id or patient_id column to join its rows to the study")
    clash = sorted(set(extra.columns) & set(table.columns) - {key})
    if clash:
        raise VcfnetError(f"{path}: column(s) {', '.join(clash)} are already in the study table; rename them")
    dup = extra[key].duplicated()
    if dup.any():
        raise VcfnetError(f"{path}: row {int(dup.to_numpy().argmax()) + 2}: {key} '{extra[key][dup].iloc[0]}' "
                          f"appears twice")
    return table.merge(extra, on=key, how="left")
