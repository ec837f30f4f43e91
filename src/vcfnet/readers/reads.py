"""The reads table: one row per reader x case x session, the contract between the reading app, CSV
import/export, the simulated readers and the analysis (DESIGN.md, "Reads table").

Columns, in this order:

``reader``        the reader's id in the study (a short slug, never a person's full name in files)
``tier``          trainee | competent | expert
``session``       unaided | aided
``roi_id``        the vertebra (a Study-table ``roi_id``)
``answer``        acute | chronic | pathological
``p_acute``, ``p_chronic``, ``p_pathological``
                  the reader's confidence per class, 0-100, **summing to 100** (one judgement on the
                  same scale as the model's probabilities, so that an aided reader can start from the
                  model's numbers and move them; the answer is a class with the largest confidence)
``position``      1-based place of the case in this reader's order for this session
``seconds``       reading time of the case (blank when unknown, e.g. imported reads)
``seed``          the seed of this reader's case order for this session (blank when imported)
``submitted_at``  ISO-8601 UTC time the answer was locked (blank when unknown)
``simulated``     1 for simulated readers (the demo), else 0: shown in every table, figure and export

The truth is never in the reads table (readers are blind to it); the analysis joins it from the Study
table by ``roi_id``.

    >>> import pandas as pd
    >>> row = {"reader": "r1", "tier": "expert", "session": "unaided", "roi_id": "v1", "answer": "acute",
    ...        "p_acute": 70, "p_chronic": 20, "p_pathological": 10, "position": 1}
    >>> validate_reads(pd.DataFrame([row]))[["reader", "answer", "p_acute", "simulated"]].to_dict("records")
    [{'reader': 'r1', 'answer': 'acute', 'p_acute': 70.0, 'simulated': 0}]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import InputError
from vcfnet.labels import CLASSES, clip

TIERS: tuple[str, ...] = ("trainee", "competent", "expert")
SESSIONS: tuple[str, ...] = ("unaided", "aided")
CONFIDENCE_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASSES)
COLUMNS: tuple[str, ...] = ("reader", "tier", "session", "roi_id", "answer", *CONFIDENCE_COLUMNS,
                            "position", "seconds", "seed", "submitted_at", "simulated")
#: Columns an imported CSV must have; the others may be absent (they are filled blank / 0).
REQUIRED: tuple[str, ...] = ("reader", "tier", "session", "roi_id", "answer", *CONFIDENCE_COLUMNS)
#: The confidences of one answer may sum to 100 within this (rounding in other tools' exports).
SUM_TOLERANCE = 1.0


def empty_reads() -> pd.DataFrame:
    return validate_reads(pd.DataFrame({c: [] for c in REQUIRED}))


def validate_reads(df: pd.DataFrame, source: str | Path = "reads table") -> pd.DataFrame:
    """Check a reads table; return it with every column of ``COLUMNS``, normalised dtypes.

    Raises ``InputError`` naming the source, the row (1-based data row, as a spreadsheet shows it after
    the header) and the field for the first problem. Checked: required columns, choices (tier, session,
    answer), confidences are numbers in 0..100 summing to 100, the answer has the largest confidence,
    position/seconds/seed are non-negative numbers where given, one row per reader x case x session, one
    tier per reader.
    """
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(source, f"missing column(s) {', '.join(missing)}; a reads table needs "
                                 f"{', '.join(REQUIRED)} (optional: {', '.join(c for c in COLUMNS if c not in REQUIRED)})")
    df = df.copy().reset_index(drop=True)
    for col in ("reader", "tier", "session", "roi_id", "answer", "submitted_at"):
        df[col] = df[col].fillna("").astype(str).str.strip() if col in df.columns else ""
    for col in ("reader", "roi_id"):
        _first(df[col] == "", source, col, lambda v: "is empty")
    df["tier"] = df["tier"].str.lower()
    df["session"] = df["session"].str.lower()
    df["answer"] = df["answer"].str.lower()
    for col, allowed in (("tier", TIERS), ("session", SESSIONS), ("answer", CLASSES)):
        _first(~df[col].isin(allowed), source, col,
               lambda v, allowed=allowed: f"'{clip(v)}' is not allowed (expected {' | '.join(allowed)})", df[col])
    for col in CONFIDENCE_COLUMNS:
        raw = df[col]
        values = pd.to_numeric(raw, errors="coerce")
        _first(values.isna(), source, col, lambda v: f"'{clip(v)}' is not a number (a confidence 0-100)", raw)
        _first((values < 0) | (values > 100), source, col, lambda v: f"{v:g} is outside 0-100", values)
        df[col] = values.astype("float64")
    conf = df[list(CONFIDENCE_COLUMNS)].to_numpy(dtype=float)
    total = conf.sum(axis=1)
    _first(pd.Series(np.abs(total - 100.0) > SUM_TOLERANCE), source, ",".join(CONFIDENCE_COLUMNS),
           lambda v: f"the confidences sum to {v:g}, expected 100", pd.Series(total))
    if len(df):
        chosen = conf[np.arange(len(df)), df["answer"].map(CLASSES.index).to_numpy()]
        _first(pd.Series(chosen < conf.max(axis=1) - 1e-9), source, "answer",
               lambda v: f"'{v}' does not have the largest confidence", df["answer"])
    for col, integer in (("position", True), ("seconds", False), ("seed", True)):
        raw = df[col] if col in df.columns else pd.Series([np.nan] * len(df))
        blank = raw.isna() | raw.astype(str).str.strip().isin(["", "nan", "None", "<NA>"])
        values = pd.to_numeric(raw.where(~blank), errors="coerce")
        _first(values.isna() & ~blank, source, col, lambda v: f"'{clip(v)}' is not a number", raw)
        _first(values < 0, source, col, lambda v: f"{v:g} is negative", values)
        if integer:
            _first(values.notna() & (values != values.round()), source, col, lambda v: f"{v:g} is not a whole number",
                   values)
        df[col] = values.astype("Int64" if integer else "float64")
    sim = df["simulated"] if "simulated" in df.columns else pd.Series([0] * len(df))
    sim = sim.fillna(0).astype(str).str.strip().str.lower().replace({"": "0", "true": "1", "false": "0"})
    _first(~sim.isin(["0", "1"]), source, "simulated", lambda v: f"'{clip(v)}' is not 0 or 1", sim)
    df["simulated"] = sim.astype(int)
    dup = df.duplicated(["reader", "roi_id", "session"], keep="first")
    _first(dup, source, "reader,roi_id,session",
           lambda v: f"a second read of the same case in the same session ({v})",
           df["reader"] + " / " + df["roi_id"] + " / " + df["session"])
    tiers = df.groupby("reader")["tier"].transform("nunique")
    _first(tiers > 1, source, "tier", lambda v: f"reader '{clip(v)}' has more than one tier", df["reader"])
    return df[list(COLUMNS)]


def _first(bad: pd.Series, source, field: str, problem, values: pd.Series | None = None) -> None:
    where = np.flatnonzero(bad.to_numpy(dtype=bool))
    if len(where):
        i = int(where[0])
        shown = (values if values is not None else bad).iloc[i]
        raise InputError(source, problem(shown), row=i + 1, field=field)


def read_reads_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a reads CSV (what ``vcfnet readers export`` writes, or reads made elsewhere)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such reads table")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # a file the parser cannot read is a user error
        raise InputError(path, f"cannot be read as a CSV table: {clip(exc, 200)}") from None
    return validate_reads(df, path)


def reads_csv(df: pd.DataFrame) -> bytes:
    """The bytes of a validated reads table as CSV (export; the analysis reads it back unchanged)."""
    return validate_reads(df).to_csv(index=False).encode("utf-8")
