"""The predictions table and the evaluation cohorts cut from it.

A predictions table (written by ``vcfnet predict``) has one row per vertebra ROI::

    roi_id, cohort, site, patient_id, label, p_acute, p_chronic, p_pathological, predicted,
    split, collaboration[, confidence, refer, refer_reason, model[, image_p_acute, image_p_chronic,
    image_p_pathological, image_predicted, image_refer]]

(the bracketed columns come from a checkpoint with a referral rule and an image+clinical model; the
evaluation of referral and of image-only vs image+clinical reads them, :mod:`vcfnet.report.clinical`)

The evaluation cohorts are, in this order: the internal test set (``split == "test"``), each external
site (``split == "external"``), all external sites pooled, the prospective cohort and the
collaboration set (``collaboration == 1``); the list is defined once, in :mod:`vcfnet.study.cohorts`,
for Table 1 and Table 2. Training and validation rows are never evaluated.

    >>> table = load_predictions("predictions.csv")
    >>> [c.key for c in select_cohorts(table)]
    ['test', 'external-site2', 'external-site3', 'external', 'prospective', 'collaboration']
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import InputError, VcfnetError
from vcfnet.labels import CLASSES
from vcfnet.study.cohorts import evaluation_parts
from vcfnet.study.dataset import SPLITS

log = logging.getLogger(__name__)

PROBA_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASSES)
REQUIRED: tuple[str, ...] = ("roi_id", "site", "patient_id", "label") + PROBA_COLUMNS
#: Rows whose probabilities sum further than this from 1 are rejected (rounding in a CSV is ~1e-6).
PROBA_SUM_TOL = 1e-3


@dataclass(frozen=True)
class Cohort:
    """One evaluation cohort: ``key`` names files, ``name`` is what a reader sees."""

    key: str
    name: str
    kind: str            # internal | external-site | external | prospective | collaboration
    table: pd.DataFrame  # the predictions rows of this cohort

    @property
    def n_vertebrae(self) -> int:
        return len(self.table)

    @property
    def n_patients(self) -> int:
        return int(self.table["patient_id"].nunique())

    def y_true(self) -> np.ndarray:
        """(N,) int64 class index into ``CLASSES``."""
        return self.table["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=np.int64)

    def proba(self) -> np.ndarray:
        """(N, 3) float64 probabilities in ``CLASSES`` order."""
        return self.table[list(PROBA_COLUMNS)].to_numpy(dtype=np.float64)


def load_predictions(path: str | Path, *, study_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Read and validate a predictions CSV; errors name the file, row and field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such predictions table (write one with `vcfnet predict`)")
    try:
        df = pd.read_csv(path, dtype={"roi_id": str, "patient_id": str, "site": str, "cohort": str})
    except Exception as exc:  # the parser's message is the useful part
        raise InputError(path, f"cannot be read as a CSV table: {exc}") from None
    return validate_predictions(df, path, study_table=study_table)


def validate_predictions(df: pd.DataFrame, source: str | Path = "predictions table", *,
                         study_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Check a predictions table; join ``split``/``collaboration`` from the Study table if absent."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(source, f"missing column(s) {', '.join(missing)}; a predictions table has "
                                 f"{', '.join(REQUIRED + ('predicted', 'split', 'collaboration'))}")
    if df.empty:
        raise InputError(source, "has no rows")
    df = df.copy()
    for col in ("roi_id", "site", "patient_id", "label"):
        df[col] = df[col].fillna("").astype(str).str.strip()
        _check(df[col] == "", source, col, "is empty")
    _check(~df["label"].isin(CLASSES), source, "label", "is not one of " + ", ".join(CLASSES), df)
    dup = df["roi_id"].duplicated()
    _check(dup, source, "roi_id", "is a duplicate roi_id", df)
    _check_probabilities(df, source)
    df = _join_study(df, source, study_table)
    _check(~df["split"].isin(SPLITS), source, "split", "is not one of " + ", ".join(SPLITS), df)
    collab = pd.to_numeric(df["collaboration"], errors="coerce")
    _check(~collab.isin([0, 1]), source, "collaboration", "is not 0 or 1", df)
    df["collaboration"] = collab.astype(int)
    _check_predicted(df, source)
    return df.reset_index(drop=True)


def _check(mask, source, field: str, problem: str, df: pd.DataFrame | None = None) -> None:
    bad = np.flatnonzero(np.asarray(mask))
    if len(bad):
        i = int(bad[0])
        shown = f"'{df[field].iloc[i]}' " if df is not None else ""
        raise InputError(source, f"{shown}{problem}", row=i + 1, field=field)


def _check_probabilities(df: pd.DataFrame, source) -> None:
    for col in PROBA_COLUMNS:
        values = pd.to_numeric(df[col], errors="coerce")
        _check(values.isna() | (values < 0) | (values > 1), source, col,
               "is not a probability between 0 and 1", df)
        df[col] = values.astype("float64")
    total = df[list(PROBA_COLUMNS)].sum(axis=1)
    bad = np.flatnonzero((total - 1).abs() > PROBA_SUM_TOL)
    if len(bad):
        i = int(bad[0])
        raise InputError(source, f"probabilities sum to {total.iloc[i]:.4f}, not 1",
                         row=i + 1, field=",".join(PROBA_COLUMNS))


def _check_predicted(df: pd.DataFrame, source) -> None:
    argmax = np.asarray(CLASSES)[df[list(PROBA_COLUMNS)].to_numpy().argmax(axis=1)]
    if "predicted" not in df.columns:
        df["predicted"] = argmax
        return
    df["predicted"] = df["predicted"].fillna("").astype(str).str.strip()
    _check(~df["predicted"].isin(CLASSES), source, "predicted", "is not one of " + ", ".join(CLASSES), df)
    differ = int((df["predicted"].to_numpy() != argmax).sum())
    if differ:
        # Metrics are computed from the probabilities (argmax), so say when the column disagrees.
        log.warning("%s: 'predicted' differs from the most probable class in %d row(s); metrics use "
                    "the probabilities", source, differ)


def _join_study(df: pd.DataFrame, source, study: pd.DataFrame | None) -> pd.DataFrame:
    """Take ``split``/``collaboration`` from the Study table where the predictions lack them."""
    need = [c for c in ("split", "collaboration") if c not in df.columns]
    if study is None:
        if need:
            raise InputError(source, f"has no column(s) {', '.join(need)}; add them or pass --study "
                                     f"so they can be joined from the study directory")
        return df
    known = study.set_index("roi_id")
    unknown = ~df["roi_id"].isin(known.index)
    _check(unknown, source, "roi_id", "is not in the study's Study table", df)
    study_label = known.loc[df["roi_id"], "label"].to_numpy()
    _check(study_label != df["label"].to_numpy(), source, "label",
           "differs from the label in the study's Study table", df)
    for col in need:
        df[col] = known.loc[df["roi_id"], col].to_numpy()
    return df


def select_cohorts(table: pd.DataFrame) -> list[Cohort]:
    """The evaluation cohorts present in ``table``, in reporting order (the one list,
    :func:`vcfnet.study.cohorts.evaluation_parts`); empty ones are left out."""
    parts = evaluation_parts(table)
    for p in parts:
        if not len(p.rows):
            log.info("no rows for cohort '%s'; it is left out", p.name)
    cohorts = [Cohort(p.key, p.name, p.kind, p.rows.reset_index(drop=True)) for p in parts if len(p.rows)]
    if not cohorts:
        raise VcfnetError("the predictions table has no test, external, prospective or collaboration "
                          "rows to evaluate (only training/validation rows)")
    return cohorts
