"""The reader study's analysis: readers unaided and aided, per reader, per tier, the model on the same
cases, and the multi-reader multi-case (MRMC) comparison of aided against unaided reading.

    >>> from vcfnet.readers.reads import read_reads_csv
    >>> from vcfnet.study.dataset import load_table
    >>> from vcfnet.report.cohorts import load_predictions
    >>> study = load_table("STUDY")
    >>> result = analyze_reads(read_reads_csv("reads.csv"), study, load_predictions("predictions.csv",
    ...                        study_table=study))
    >>> result["mrmc"]["or"]["auc"]["acute"]["p_value"]

The result is one JSON-ready dict (what ``readers.json`` holds; :mod:`vcfnet.report.readers` writes it
with Table 3 and Figure 6). Truth and patient come from the Study table, the model's probabilities
from the predictions table, joined by ``roi_id``; nothing about the truth is in the reads.

Units of independence (docs/READER-ANALYSIS.md):

* per reader (AUC with DeLong CI, sensitivity / specificity / accuracy with Wilson CIs, McNemar,
  paired DeLong): the vertebra, as those methods assume; vertebrae of one patient are correlated,
  so these intervals are somewhat optimistic;
* MRMC (Obuchowski-Rockette with Hillis's denominator degrees of freedom, and DBM beside it; the
  model against the unaided readers): readers and **patients** are random: the covariances are
  computed with whole patients as the unit (``cluster = patient``), because several vertebrae come
  from one radiograph.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd

from vcfnet.errors import InputError
from vcfnet.labels import CLASSES, clip
from vcfnet.readers.metrics import model_metrics, reader_change, session_metrics
from vcfnet.readers.reads import CONFIDENCE_COLUMNS, SESSIONS, TIERS

log = logging.getLogger(__name__)

ANALYSIS_VERSION = 1
MODEL_COLUMNS: tuple[str, ...] = tuple(f"p_{c}" for c in CLASSES)


def reader_cases(reads: pd.DataFrame, study_table: pd.DataFrame, predictions: pd.DataFrame, *,
                 reads_source: str = "reads table", predictions_source: str = "predictions table") -> pd.DataFrame:
    """The cases of the study, one row per ``roi_id`` read: ``roi_id, patient_id, label, truth`` (class
    index) and the model's ``p_*``, in a fixed (sorted) order.

    Every read's ``roi_id`` must be in the Study table and in the predictions, and the design must be
    fully crossed (every reader reads every case in both sessions); otherwise ``InputError`` naming
    the reads table, row and field.
    """
    known = set(study_table["roi_id"].astype(str))
    predicted = set(predictions["roi_id"].astype(str))
    for i, roi in enumerate(reads["roi_id"]):
        if roi not in known:
            raise InputError(reads_source, f"roi_id '{clip(roi)}' is not in the study's Study table "
                                           "(reads must name the study's vertebrae)", row=i + 1, field="roi_id")
        if roi not in predicted:
            raise InputError(reads_source, f"roi_id '{clip(roi)}' has no row in {predictions_source} "
                                           "(predict every case of the reader study)", row=i + 1, field="roi_id")
    _check_crossed(reads, reads_source)
    ids = sorted(set(reads["roi_id"]))
    study = study_table.assign(roi_id=study_table["roi_id"].astype(str)).set_index("roi_id")
    preds = predictions.assign(roi_id=predictions["roi_id"].astype(str)).set_index("roi_id")
    cases = pd.DataFrame({"roi_id": ids,
                          "patient_id": study.loc[ids, "patient_id"].astype(str).to_numpy(),
                          "label": study.loc[ids, "label"].astype(str).to_numpy()})
    cases["truth"] = cases["label"].map(CLASSES.index).astype(int)
    for col in MODEL_COLUMNS:
        cases[col] = preds.loc[ids, col].to_numpy(dtype=float)
    return cases


def _check_crossed(reads: pd.DataFrame, source: str) -> None:
    if reads.empty:
        raise InputError(source, "has no reads")
    everything = set(reads["roi_id"])
    for (reader, session), g in reads.groupby(["reader", "session"], sort=True):
        missing = sorted(everything - set(g["roi_id"]))
        if missing:
            raise InputError(source, f"reader '{clip(reader)}' did not read {len(missing)} of the "
                                     f"{len(everything)} cases {session} (first: '{clip(missing[0])}'); the "
                                     "analysis needs every reader to read every case in both sessions")
    for reader, g in reads.groupby("reader", sort=True):
        absent = [s for s in SESSIONS if s not in set(g["session"])]
        if absent:
            raise InputError(source, f"reader '{clip(reader)}' has no {absent[0]} reads; the analysis compares "
                                     "each reader's unaided and aided reads")


def _reader_arrays(reads: pd.DataFrame, cases: pd.DataFrame, reader: str, session: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, 3) in 0-1, answers (N,)) of one reader and session, in ``cases`` order."""
    g = reads[(reads["reader"] == reader) & (reads["session"] == session)].set_index("roi_id").loc[cases["roi_id"]]
    return g[list(CONFIDENCE_COLUMNS)].to_numpy(dtype=float) / 100.0, g["answer"].map(CLASSES.index).to_numpy()


def analyze_reads(reads: pd.DataFrame, study_table: pd.DataFrame, predictions: pd.DataFrame, *,
                  alpha: float = 0.05, covariance: str = "jackknife", mrmc: bool = True,
                  reads_source: str = "reads table", predictions_source: str = "predictions table") -> dict[str, Any]:
    """Every number of the reader study as one JSON-ready dict (see the module docstring).

    ``reads``: a validated reads table (:func:`vcfnet.readers.reads.read_reads_csv`); ``study_table``:
    :func:`vcfnet.study.dataset.load_table`; ``predictions``: a validated predictions table.
    ``covariance`` (``jackknife`` or ``delong``) is the Obuchowski-Rockette covariance method;
    ``mrmc=False`` leaves the MRMC part out (``"mrmc": None``).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cases = reader_cases(reads, study_table, predictions, reads_source=reads_source,
                             predictions_source=predictions_source)
        truth = cases["truth"].to_numpy()
        model_proba = cases[list(MODEL_COLUMNS)].to_numpy(dtype=float)
        readers = _per_reader(reads, cases, alpha)
        result: dict[str, Any] = {
            "version": ANALYSIS_VERSION, "alpha": alpha, "classes": list(CLASSES),
            "simulated": bool(reads["simulated"].astype(int).eq(1).all()),
            "any_simulated": bool(reads["simulated"].astype(int).eq(1).any()),
            "n_cases": int(len(cases)), "n_patients": int(cases["patient_id"].nunique()),
            "n_readers": len(readers),
            "class_counts": {c: int((truth == i).sum()) for i, c in enumerate(CLASSES)},
            "readers": readers, "tiers": _per_tier(readers),
            "model": model_metrics(truth, model_proba, alpha=alpha),
            "model_roc": _model_roc(truth, model_proba),
            "source": {"reads": reads_source, "predictions": predictions_source},
        }
        result["mrmc"] = mrmc_analysis(reads, cases, alpha=alpha, covariance=covariance) if mrmc else None
    result["notes"] = _notes(caught)
    return result


def _per_reader(reads: pd.DataFrame, cases: pd.DataFrame, alpha: float) -> list[dict[str, Any]]:
    truth = cases["truth"].to_numpy()
    tier_of = reads.groupby("reader")["tier"].first()
    order = sorted(tier_of.index, key=lambda r: (TIERS.index(tier_of[r]), r))
    out = []
    for reader in order:
        arrays = {s: _reader_arrays(reads, cases, reader, s) for s in SESSIONS}
        mine = reads[reads["reader"] == reader]
        sessions = {}
        for s in SESSIONS:
            m = session_metrics(truth, *arrays[s], alpha=alpha, who=f"reader '{reader}' {s}")
            secs = pd.to_numeric(mine.loc[mine["session"] == s, "seconds"], errors="coerce")
            m["median_seconds"] = float(secs.median()) if secs.notna().any() else None
            sessions[s] = m
        change = reader_change(truth, arrays["unaided"][0], arrays["aided"][0], arrays["unaided"][1],
                               arrays["aided"][1], alpha=alpha, who=f"reader '{reader}'")
        out.append({"reader": reader, "tier": str(tier_of[reader]),
                    "simulated": bool(mine["simulated"].astype(int).eq(1).all()),
                    "sessions": sessions, "change": change})
    return out


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals and len(vals) == len(values) else None


def _per_tier(readers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per tier (and all readers): the mean of the readers' accuracy and per-class AUC per session."""
    groups = [(t, [r for r in readers if r["tier"] == t]) for t in TIERS] + [("all", readers)]
    out = []
    for tier, rs in groups:
        if not rs:
            continue
        sessions = {s: {"accuracy": _mean([r["sessions"][s]["accuracy"]["estimate"] for r in rs]),
                        "auc": {c: _mean([r["sessions"][s]["classes"][c]["auc"]["auc"] for r in rs]) for c in CLASSES}}
                    for s in SESSIONS}
        out.append({"tier": tier, "n_readers": len(rs), "readers": [r["reader"] for r in rs], "sessions": sessions})
    return out


def _model_roc(truth: np.ndarray, proba: np.ndarray) -> dict[str, dict[str, list]]:
    from vcfnet.stats import roc_curve

    out = {}
    for c, name in enumerate(CLASSES):
        fpr, tpr, _ = roc_curve((truth == c).astype(int), proba[:, c])
        out[name] = {"fpr": [None if np.isnan(v) else float(v) for v in fpr],
                     "tpr": [None if np.isnan(v) else float(v) for v in tpr]}
    return out


def _notes(caught) -> list[str]:
    """Undefined numbers, said once each (the statistics warn; the report lists them)."""
    seen: list[str] = []
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.append(text)
            log.warning("%s", text)
    return seen


def long_ratings(reads: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """The reads as the MRMC long table: one row per reader x case x modality (= session) with the
    case's patient, its true class and, per class, the reader's confidence (``score_<class>``, 0-1) and
    whether the answer was right (``correct``)."""
    joined = reads.merge(cases[["roi_id", "patient_id", "truth"]], on="roi_id", how="inner")
    out = pd.DataFrame({"reader": joined["reader"], "case": joined["roi_id"], "patient": joined["patient_id"],
                        "modality": joined["session"], "truth_class": joined["truth"],
                        "correct": (joined["answer"].map(CLASSES.index) == joined["truth"]).astype(int)})
    for c, name in enumerate(CLASSES):
        out[f"truth_{name}"] = (joined["truth"] == c).astype(int)
        out[f"score_{name}"] = joined[f"p_{name}"].to_numpy(dtype=float) / 100.0
    return out.sort_values(["reader", "modality", "case"], kind="mergesort").reset_index(drop=True)


def _guarded(what: str, fn, *args, **kwargs) -> dict[str, Any]:
    """A statistics call's ``to_dict()``, or ``{"error": why}`` when the design cannot give it (e.g. a
    class without cases, one reader): the rest of the analysis still stands. Warnings are prefixed
    with ``what``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kwargs).to_dict()
        except ValueError as exc:
            out = {"error": str(exc)}
    for w in caught:
        warnings.warn(f"{what}: {w.message}", w.category, stacklevel=2)
    if "error" in out:
        warnings.warn(f"{what} not analysed: {out['error']}", UserWarning, stacklevel=2)
    return out


def mrmc_analysis(reads: pd.DataFrame, cases: pd.DataFrame, *, alpha: float = 0.05,
                  covariance: str = "jackknife") -> dict[str, Any]:
    """Aided versus unaided, random readers and random cases, patients as the unit of independence
    (``cluster = patient``), per class AUC and for 3-class accuracy:

    * ``or``: Obuchowski-Rockette with Hillis's df (``covariance``); ``or_delong``: the same with
      DeLong's (clustered) covariances beside the jackknife, AUC only;
    * ``dbm``: Dorfman-Berbaum-Metz with Hillis's df (patient pseudovalues);
    * ``model_vs_readers``: the model as a fixed reader against the unaided readers' mean.
    """
    from vcfnet.stats import model_vs_readers, mrmc_dbm, mrmc_or

    long = long_ratings(reads, cases)
    common: dict[str, Any] = dict(reader="reader", case="case", modality="modality", cluster="patient", alpha=alpha)
    crossed = dict(common, modalities=list(SESSIONS))
    out: dict[str, Any] = {"unit": "patient", "covariance": covariance, "modalities": list(SESSIONS),
                           "or": {}, "or_delong": {}, "dbm": {}, "model_vs_readers": {}}
    truth = cases["truth"].to_numpy()
    for name in CLASSES:
        auc_args = dict(truth=f"truth_{name}", score=f"score_{name}", fom="auc")
        out["or"][name] = _guarded(f"MRMC AUC '{name}'", mrmc_or, long, covariance=covariance, **crossed, **auc_args)
        if covariance != "delong":
            out["or_delong"][name] = _guarded(f"MRMC AUC '{name}' (DeLong covariances)", mrmc_or, long,
                                              covariance="delong", **crossed, **auc_args)
        out["dbm"][name] = _guarded(f"DBM AUC '{name}'", mrmc_dbm, long, **crossed, **auc_args)
        model = dict(zip(cases["roi_id"], cases[f"p_{name}"]))
        out["model_vs_readers"][name] = _guarded(f"model vs readers AUC '{name}'", model_vs_readers, long, model,
                                                 in_modality="unaided", covariance=covariance, **common, **auc_args)
    acc_args = dict(score="correct", fom="accuracy")
    out["or"]["accuracy"] = _guarded("MRMC accuracy", mrmc_or, long, covariance="jackknife", **crossed, **acc_args)
    out["dbm"]["accuracy"] = _guarded("DBM accuracy", mrmc_dbm, long, **crossed, **acc_args)
    model_right = cases[list(MODEL_COLUMNS)].to_numpy().argmax(axis=1) == truth
    out["model_vs_readers"]["accuracy"] = _guarded(
        "model vs readers accuracy", model_vs_readers, long, dict(zip(cases["roi_id"], model_right.astype(int))),
        in_modality="unaided", covariance="jackknife", **common, **acc_args)
    return out
