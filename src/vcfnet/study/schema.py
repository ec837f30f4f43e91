"""The Study table: one row per vertebra ROI, validated on every load and save.

Columns (DESIGN.md): ``roi_id, image, patient_id, site, cohort, exam_date, level, label, x0, y0, x1,
y1, age, sex`` plus ``width, height`` (the source image size, to check boxes) and ``source`` (which
ingested source the row came from). ``patient_id`` is always a keyed pseudonym, never a DICOM
identifier; ``image`` (``SOURCE_ID/F-…``) and ``source`` are keyed pseudonyms of the file and the folder
it came from, never their names. Boxes are pixel edges: x0 < x1 <= width, y0 < y1 <= height.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import InputError
from vcfnet.fileio import atomic_path
from vcfnet.io.annotations import coords_problem
from vcfnet.labels import CLASSES, LEVELS

COLUMNS: tuple[str, ...] = ("roi_id", "image", "patient_id", "site", "cohort", "exam_date", "level",
                            "label", "x0", "y0", "x1", "y1", "age", "sex", "width", "height", "source")
COHORTS: tuple[str, ...] = ("development", "external", "prospective")
SEXES: tuple[str, ...] = ("F", "M", "")
_REQUIRED_TEXT = ("roi_id", "image", "patient_id", "site", "cohort", "label")
_NUMERIC = ("x0", "y0", "x1", "y1", "width", "height")


def empty_study() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in COLUMNS})


def _dtype(column: str) -> str:
    if column in _NUMERIC:
        return "float64"
    if column == "age":
        return "float64"
    return "object"


def validate_study(df: pd.DataFrame, source: str | Path = "study table") -> pd.DataFrame:
    """Check a Study table; return it with normalised dtypes.

    Raises ``InputError`` naming the file, the row (1-based data row, as a spreadsheet shows it after
    the header) and the field for the first problem found.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(source, f"missing column(s) {', '.join(missing)}; a Study table has {', '.join(COLUMNS)}")
    df = df.copy()
    for col in COLUMNS:
        if _dtype(col) == "object":
            df[col] = df[col].fillna("").astype(str)
    for col in _REQUIRED_TEXT:
        blank = np.flatnonzero(df[col].str.strip() == "")
        if len(blank):
            raise InputError(source, "is empty", row=int(blank[0]) + 1, field=col)
    _check_choice(df, "label", CLASSES, source)
    _check_choice(df, "cohort", COHORTS, source)
    _check_choice(df, "sex", SEXES, source)
    _check_choice(df, "level", LEVELS + ("",), source)
    for col in _NUMERIC + ("age",):
        values = pd.to_numeric(df[col], errors="coerce")
        blank = df[col].isna() | df[col].astype(str).str.strip().isin(["", "nan", "None", "<NA>"])
        # age may be unknown (blank); box coordinates and image size may not
        bad = np.flatnonzero(values.isna() & (~blank if col == "age" else True))
        if len(bad):
            raise InputError(source, f"'{df[col].iloc[bad[0]]}' is not a number", row=int(bad[0]) + 1, field=col)
        df[col] = values.astype("float64")
    _check_boxes(df, source)
    dup = df["roi_id"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(source, f"duplicate roi_id '{df['roi_id'].iloc[i]}'", row=i + 1, field="roi_id")
    return df[list(COLUMNS)].reset_index(drop=True)


def _check_choice(df: pd.DataFrame, col: str, allowed: tuple[str, ...], source) -> None:
    bad = np.flatnonzero(~df[col].isin(allowed))
    if len(bad):
        shown = ", ".join(a for a in allowed if a) + (" or empty" if "" in allowed else "")
        raise InputError(source, f"'{df[col].iloc[bad[0]]}' is not allowed (expected {shown})",
                         row=int(bad[0]) + 1, field=col)


def _check_boxes(df: pd.DataFrame, source) -> None:
    """Every box through the one box check (``io.annotations.coords_problem``); the first bad row is named."""
    x0, y0, x1, y1 = (df[c].to_numpy(dtype=float) for c in ("x0", "y0", "x1", "y1"))
    w, h = df["width"].to_numpy(dtype=float), df["height"].to_numpy(dtype=float)
    for i, box in enumerate(zip(x0, y0, x1, y1)):
        problem = coords_problem(*box, _whole(w[i]), _whole(h[i]))
        if problem:
            raise InputError(source, f"box ({x0[i]:g}, {y0[i]:g}, {x1[i]:g}, {y1[i]:g}): {problem}",
                             row=i + 1, field="x0,y0,x1,y1")


def _whole(v: float) -> float | int:
    return int(v) if v == v and float(v).is_integer() else v


def load_study(path: str | Path) -> pd.DataFrame:
    """Read and validate a Study table (``.csv`` or ``.parquet``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such Study table (run `vcfnet ingest` first)")
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # a table the parser cannot read is a user error
        raise InputError(path, f"cannot be read as a table: {exc}") from None
    return validate_study(df, path)


def save_study(df: pd.DataFrame, path: str | Path) -> None:
    """Validate and write a Study table atomically (CSV or Parquet by suffix)."""
    path = Path(path)
    df = validate_study(df, path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            tmp.write_bytes(study_csv(df))


def study_csv(df: pd.DataFrame) -> bytes:
    """The bytes ``save_study`` writes for a (validated) table as CSV: what ``table_sha256`` hashes."""
    return df.to_csv(index=False).encode("utf-8")


def table_sha256(path: str | Path) -> str:
    """SHA-256 of a Study table file: the crop cache and the splits name the table they belong to."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
