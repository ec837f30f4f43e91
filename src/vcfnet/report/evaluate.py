"""Evaluate a predictions table per cohort: Table 2, confusion matrices, ROC curves, calibration.

Every number comes from ``vcfnet.stats``; this module only selects cohorts, calls the metrics and
arranges their results. Nothing here fits anything on a test cohort.

    >>> result = evaluate_predictions(pd.read_csv("predictions.csv"), alpha=0.05)
    >>> result.table2()[["cohort", "n_patients", "accuracy", "macro_auc"]]
    >>> write_evaluation(result, "eval")   # metrics.json, table2.csv, confusion_*.csv, figures/

``metrics.json`` holds, per cohort, the dictionaries the figures are drawn from (see
:func:`evaluate_cohort`), and the external-versus-internal comparisons (:mod:`.compare`).
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vcfnet.labels import CLASSES
from vcfnet.report.cohorts import Cohort, select_cohorts, validate_predictions
from vcfnet.report.compare import compare_to_internal

log = logging.getLogger(__name__)

N_CALIBRATION_BINS = 10


@dataclass
class EvaluationResult:
    """Per-cohort metrics (JSON-ready dicts), comparisons, and the settings that produced them."""

    cohorts: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    settings: dict[str, Any]
    table1: pd.DataFrame | None = None
    source: dict[str, Any] = field(default_factory=dict)
    detection: dict[str, Any] | None = None     # detection without boxes, per cohort (report.detection)

    def cohort(self, key: str) -> dict[str, Any]:
        for c in self.cohorts:
            if c["key"] == key:
                return c
        raise KeyError(f"no cohort '{key}' (have {', '.join(c['key'] for c in self.cohorts)})")

    def table2(self) -> pd.DataFrame:
        """Table 2, one row per cohort, numbers only (estimate, ci_low, ci_high columns)."""
        return pd.DataFrame([_table2_row(c) for c in self.cohorts])

    def to_dict(self) -> dict[str, Any]:
        from vcfnet.stats._common import jsonable

        out = {"settings": self.settings, "source": self.source, "cohorts": self.cohorts,
               "comparisons": self.comparisons}
        if self.detection is not None:
            out["detection"] = self.detection
        return jsonable(out)


def evaluate_predictions(predictions_df: pd.DataFrame, *, study_table: pd.DataFrame | None = None,
                         alpha: float = 0.05, cluster_bootstrap: bool = False, n_boot: int = 2000,
                         seed: int = 0) -> EvaluationResult:
    """Evaluate every cohort present in a predictions table.

    ``study_table`` (from ``vcfnet.study.dataset.load_table``) supplies ``split``/``collaboration``
    when the predictions lack them, checks roi ids and labels against the study, and gives Table 1.
    ``cluster_bootstrap`` replaces DeLong AUC intervals by a bootstrap resampling whole patients.
    """
    table = validate_predictions(predictions_df, study_table=study_table)
    settings = {"alpha": alpha, "auc_method": "bootstrap" if cluster_bootstrap else "delong",
                "cluster_bootstrap": bool(cluster_bootstrap), "n_boot": n_boot if cluster_bootstrap else None,
                "seed": seed, "calibration_bins": N_CALIBRATION_BINS, "classes": list(CLASSES)}
    cohorts = [evaluate_cohort(c, alpha=alpha, cluster_bootstrap=cluster_bootstrap, n_boot=n_boot,
                               seed=seed) for c in select_cohorts(table)]
    table1 = None
    if study_table is not None:
        from vcfnet.study.summary import study_summary
        table1 = study_summary(study_table)
    return EvaluationResult(cohorts=cohorts, comparisons=compare_to_internal(cohorts, alpha=alpha),
                            settings=settings, table1=table1,
                            source={"n_rows": int(len(table)), "n_rows_evaluated": _n_evaluated(table)})


def _n_evaluated(table: pd.DataFrame) -> int:
    return int((table["split"].isin(["test", "external", "prospective"]) | (table["collaboration"] == 1)).sum())


def evaluate_cohort(cohort: Cohort, *, alpha: float = 0.05, cluster_bootstrap: bool = False,
                    n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """All numbers of one cohort as a JSON-ready dict.

    Keys: ``key, name, kind, n_patients, n_vertebrae, alpha, class_counts, accuracy`` (proportion
    dict), ``classes[cls]`` (``auc`` AUC dict; ``sensitivity``, ``specificity``, ``ppv``, ``npv``
    proportion dicts; ``f1``, ``support``), ``macro_auc``, ``macro``, ``confusion`` (``counts``,
    ``normalized``, rows = truth), ``roc[cls]`` (``fpr``, ``tpr``), ``calibration`` (``brier``,
    ``ece``, ``reliability``), ``not_estimable`` (reasons), ``stats`` (the full stats report),
    ``selective`` (risk-coverage, AURC, referral per model) and ``clinical_comparison`` (image+clinical
    vs image-only, paired; null for an image-only predictions table): see :mod:`vcfnet.report.clinical`.
    """
    from vcfnet.report.clinical import clinical_sections
    from vcfnet.stats import classification_metrics

    y, proba = cohort.y_true(), cohort.proba()
    counts = {cls: int((y == k).sum()) for k, cls in enumerate(CLASSES)}
    notes = _degenerate_notes(cohort, counts)
    groups = cohort.table["patient_id"].to_numpy() if cluster_bootstrap else None
    kwargs = {"n_boot": n_boot, "seed": seed} if cluster_bootstrap else {}
    absent = [cls for cls, n in counts.items() if n in (0, cohort.n_vertebrae)]
    with _warnings_named(cohort.name, already_said=absent):
        report = classification_metrics(y, proba, classes=CLASSES, alpha=alpha, groups=groups,
                                         auc_method="bootstrap" if cluster_bootstrap else "delong", **kwargs)
        calibrated = calibration(y, proba, alpha=alpha)
        sections = clinical_sections(cohort.table, y, proba, alpha=alpha, seed=seed)
    out = {"key": cohort.key, "name": cohort.name, "kind": cohort.kind, "n_patients": cohort.n_patients,
           "n_vertebrae": cohort.n_vertebrae, "alpha": alpha, "class_counts": counts}
    out.update(summarise_report(report))
    out["roc"] = roc_curves(y, proba, counts)
    out["calibration"] = calibrated
    out["not_estimable"] = notes
    out.update(sections)
    return out


@contextlib.contextmanager
def _warnings_named(cohort_name: str, *, already_said: list[str]):
    """Re-issue the statistics' warnings once each, prefixed with the cohort they are about; those about
    a class the cohort's own note already explains (no cases / only cases) are not repeated."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for w in caught:
        text = str(w.message)
        explained = already_said and text.startswith(("the AUC is undefined", "classes ["))
        if explained or any(f"'{cls}'" in text for cls in already_said) or text in seen:
            continue
        seen.add(text)
        warnings.warn(f"{cohort_name}: {text}", w.category, stacklevel=4)


def _degenerate_notes(cohort: Cohort, counts: dict[str, int]) -> list[str]:
    """Say (and warn) which per-class numbers cannot be estimated in this cohort."""
    notes = []
    for cls, n in counts.items():
        if n == 0:
            notes.append(f"{cohort.name}: no {cls} vertebrae, so the {cls} AUC and sensitivity are not estimable")
        elif n == cohort.n_vertebrae:
            notes.append(f"{cohort.name}: only {cls} vertebrae, so AUCs and specificities are not estimable")
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return notes


def roc_curves(y: np.ndarray, proba: np.ndarray, counts: dict[str, int]) -> dict[str, dict]:
    """One-vs-rest ROC curve per class (empty lists where a class or its complement is absent)."""
    from vcfnet.stats import roc_curve

    curves: dict[str, Any] = {}
    for k, cls in enumerate(CLASSES):
        if counts[cls] == 0 or counts[cls] == len(y):
            curves[cls] = {"fpr": [], "tpr": []}
            continue
        fpr, tpr, _ = roc_curve((y == k).astype(int), proba[:, k])
        curves[cls] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    return curves


def calibration(y: np.ndarray, proba: np.ndarray, *, alpha: float = 0.05,
                n_bins: int = N_CALIBRATION_BINS) -> dict[str, Any]:
    """Brier score, ECE and the reliability curve with a Wilson interval per non-empty bin."""
    from vcfnet.stats import brier_score, expected_calibration_error, proportion_ci, reliability_curve

    conf, acc, count = (np.asarray(a, dtype=float) for a in reliability_curve(y, proba, n_bins=n_bins))
    lows, highs = [], []
    for a, n in zip(acc, count):
        if n > 0 and np.isfinite(a):
            ci = proportion_ci(int(round(a * n)), int(n), method="wilson", alpha=alpha)
            lows.append(ci.ci_low)
            highs.append(ci.ci_high)
        else:
            lows.append(float("nan"))
            highs.append(float("nan"))
    return {"brier": float(brier_score(y, proba)),
            "ece": float(expected_calibration_error(y, proba, n_bins=n_bins)), "n_bins": n_bins,
            "reliability": {"confidence": conf.tolist(), "accuracy": acc.tolist(),
                            "count": count.astype(int).tolist(), "ci_low": lows, "ci_high": highs,
                            "bin_edges": np.linspace(0, 1, n_bins + 1).tolist()}}


def summarise_report(report) -> dict[str, Any]:
    """The fields of a ``vcfnet.stats`` ``MulticlassReport`` that tables and figures use.

    The macro AUC is the stats module's unweighted mean of the class AUCs; it has no interval of its
    own. ``macro_auc["se_bound"]`` = mean of the class standard errors is an upper bound of its
    standard error (the class AUCs are positively correlated at most perfectly), used only for the
    conservative cohort comparison in :mod:`vcfnet.report.compare`.
    """
    d = report.to_dict()
    classes = {cls: {k: d["per_class"][cls].get(k) for k in
                     ("auc", "sensitivity", "specificity", "ppv", "npv", "f1", "support")}
               for cls in CLASSES}
    ses = [classes[cls]["auc"].get("se") for cls in CLASSES]
    bound = float(np.mean(ses)) if all(s is not None for s in ses) else None
    macro_auc = {"auc": d["macro"]["auc"], "se_bound": bound,
                 "method": "unweighted mean of the one-vs-rest AUCs"}
    return {"accuracy": d["accuracy"], "classes": classes, "macro_auc": macro_auc, "macro": d["macro"],
            "confusion": {"counts": d["confusion"], "normalized": d["confusion_normalised"]}, "stats": d}


def _table2_row(c: dict[str, Any]) -> dict[str, Any]:
    row = {"cohort": c["key"], "name": c["name"], "n_patients": c["n_patients"],
           "n_vertebrae": c["n_vertebrae"]}
    row.update(_triple("accuracy", c["accuracy"], "estimate"))
    row["macro_auc"] = _num(c["macro_auc"]["auc"])
    for cls in CLASSES:
        m = c["classes"][cls]
        row.update(_triple(f"auc_{cls}", m["auc"], "auc"))
        row.update(_triple(f"sensitivity_{cls}", m["sensitivity"], "estimate"))
        row.update(_triple(f"specificity_{cls}", m["specificity"], "estimate"))
    return row


def _triple(name: str, d: dict | None, key: str) -> dict[str, float]:
    d = d or {}
    return {name: _num(d.get(key)), f"{name}_ci_low": _num(d.get("ci_low")),
            f"{name}_ci_high": _num(d.get("ci_high"))}


def _num(x) -> float:
    return float("nan") if x is None else float(x)
