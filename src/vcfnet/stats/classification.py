"""Multiclass (one-vs-rest) performance report: accuracy, per-class AUC / sensitivity / specificity /
PPV / NPV / F1 with confidence intervals, macro averages and the confusion matrix.

The predicted class is the argmax of the probabilities (first class on exact ties). For class c,
"positive" means truth == c and the AUC ranks cases by ``proba[:, c]``. Sensitivity, specificity,
PPV, NPV and accuracy get Wilson intervals, which treat cases as independent; only the AUC interval
honours ``groups`` (patient bootstrap). A macro average is NaN when any class's value is undefined
(e.g. a cohort without pathological fractures), rather than an average over fewer classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfnet.labels import CLASSES
from vcfnet.stats._common import ResultMixin, check_alpha, check_class_labels, check_proba, jsonable, warn_undefined
from vcfnet.stats.proportions import ProportionResult, proportion_ci
from vcfnet.stats.roc import AUCResult, roc_auc_ci


@dataclass(frozen=True)
class ClassMetrics(ResultMixin):
    """One-vs-rest metrics of one class; ``support`` = number of cases truly of this class."""

    auc: AUCResult
    sensitivity: ProportionResult
    specificity: ProportionResult
    ppv: ProportionResult
    npv: ProportionResult
    f1: float
    support: int


@dataclass(frozen=True)
class MacroAverages(ResultMixin):
    """Unweighted means over classes (NaN if any class's value is NaN)."""

    auc: float
    sensitivity: float
    specificity: float
    f1: float


@dataclass(frozen=True)
class MulticlassReport(ResultMixin):
    """Result of :func:`classification_metrics`.

    ``confusion``: counts, rows = truth, columns = prediction, in ``classes`` order.
    ``confusion_normalised``: each row divided by its total (rows sum to 1; NaN row for a class
    without cases).
    """

    classes: tuple[str, ...]
    n: int
    accuracy: ProportionResult
    per_class: dict[str, ClassMetrics]
    macro: MacroAverages
    confusion: np.ndarray
    confusion_normalised: np.ndarray

    def to_rows(self) -> list[dict]:
        """Long-format rows ``scope, metric, estimate, ci_low, ci_high, k, n`` (CSV-ready, NaN -> None).

        ``scope`` is ``"overall"``, a class name or ``"macro"``; AUC rows carry ``n`` = cases used.
        """
        def row(scope, metric, est, lo=None, hi=None, k=None, n=None):
            return jsonable({"scope": scope, "metric": metric, "estimate": est, "ci_low": lo,
                             "ci_high": hi, "k": k, "n": n})

        a = self.accuracy
        rows = [row("overall", "accuracy", a.estimate, a.ci_low, a.ci_high, a.k, a.n)]
        for name, m in self.per_class.items():
            rows.append(row(name, "auc", m.auc.auc, m.auc.ci_low, m.auc.ci_high, None, m.auc.n_pos + m.auc.n_neg))
            for metric in ("sensitivity", "specificity", "ppv", "npv"):
                p = getattr(m, metric)
                rows.append(row(name, metric, p.estimate, p.ci_low, p.ci_high, p.k, p.n))
            rows.append(row(name, "f1", m.f1))
            rows.append(row(name, "support", m.support))
        for metric in ("auc", "sensitivity", "specificity", "f1"):
            rows.append(row("macro", metric, getattr(self.macro, metric)))
        return rows

    def to_frame(self):
        """:meth:`to_rows` as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.to_rows())


def confusion_matrix(y_true, y_pred, n_classes: int, *, normalise: bool = False) -> np.ndarray:
    """Confusion matrix, rows = truth, columns = prediction: counts, or row shares with ``normalise``.

    A class without cases has a NaN row when normalised (with a warning).

    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    >>> confusion_matrix([0, 0, 1], [0, 1, 1], 3, normalise=True).tolist()
    [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [nan, nan, nan]]
    """
    if not (isinstance(n_classes, (int, np.integer)) and n_classes >= 2):
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    t = check_class_labels(y_true, n_classes, "y_true")
    p = check_class_labels(y_pred, n_classes, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} cases but y_pred has {p.size}; they must match")
    counts = np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    if not normalise:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    if np.any(totals == 0):
        warn_undefined(f"classes {np.flatnonzero(totals[:, 0] == 0).tolist()} have no cases: their "
                       "normalised confusion rows are NaN")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)


def _f1(tp: int, fp: int, fn: int, name: str) -> float:
    if 2 * tp + fp + fn == 0:
        warn_undefined(f"F1 of class '{name}' is undefined (no cases and no predictions); returning NaN")
        return float("nan")
    return 2 * tp / (2 * tp + fp + fn)


def _class_metrics(c: int, name: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray, *, alpha: float,
                   groups, auc_method: str, n_boot: int, seed: int) -> ClassMetrics:
    truth, called = y == c, pred == c
    tp, fp = int(np.sum(truth & called)), int(np.sum(~truth & called))
    fn, tn = int(np.sum(truth & ~called)), int(np.sum(~truth & ~called))
    auc = roc_auc_ci(truth.astype(int), proba[:, c], method=auc_method, alpha=alpha, groups=groups,
                     n_boot=n_boot, seed=seed)
    return ClassMetrics(
        auc=auc,
        sensitivity=proportion_ci(tp, tp + fn, alpha=alpha, name=f"sensitivity of class '{name}' (no {name} cases)"),
        specificity=proportion_ci(tn, tn + fp, alpha=alpha, name=f"specificity of class '{name}' (only {name} cases)"),
        ppv=proportion_ci(tp, tp + fp, alpha=alpha, name=f"PPV of class '{name}' (nothing predicted {name})"),
        npv=proportion_ci(tn, tn + fn, alpha=alpha, name=f"NPV of class '{name}' (everything predicted {name})"),
        f1=_f1(tp, fp, fn, name),
        support=int(truth.sum()),
    )


def classification_metrics(y_true, proba, *, classes=CLASSES, alpha: float = 0.05, groups=None,
                           auc_method: str = "delong", n_boot: int = 2000, seed: int = 0) -> MulticlassReport:
    """One-vs-rest report for class indices ``y_true`` (N,) and probabilities ``proba`` (N, K).

    ``classes`` names the K columns (default :data:`vcfnet.labels.CLASSES`). AUC intervals use
    ``auc_method`` (see :func:`vcfnet.stats.roc_auc_ci`); ``groups`` (patient ids) requires
    ``auc_method="bootstrap"`` and resamples whole patients. Other intervals are Wilson intervals.

    >>> y = [0, 0, 1, 1, 2, 2]
    >>> proba = [[.8, .1, .1], [.45, .15, .4], [.2, .7, .1], [.6, .3, .1], [.3, .3, .4], [.2, .35, .45]]
    >>> r = classification_metrics(y, proba)
    >>> r.accuracy.estimate, r.per_class["chronic"].sensitivity.estimate, r.per_class["acute"].ppv.k
    (0.8333333333333334, 0.5, 2)
    >>> r.confusion.tolist()
    [[2, 0, 0], [1, 1, 0], [0, 0, 2]]
    """
    alpha = check_alpha(alpha)
    classes = tuple(classes)
    y = check_class_labels(y_true, len(classes))
    p = check_proba(proba, y.size, len(classes))
    pred = np.argmax(p, axis=1) if y.size else np.zeros(0, dtype=np.int64)
    acc = proportion_ci(int(np.sum(pred == y)), int(y.size), alpha=alpha, name="accuracy")
    per_class = {name: _class_metrics(c, name, y, pred, p, alpha=alpha, groups=groups, auc_method=auc_method,
                                      n_boot=n_boot, seed=seed)
                 for c, name in enumerate(classes)}
    ms = list(per_class.values())
    macro = MacroAverages(
        auc=float(np.mean([m.auc.auc for m in ms])),
        sensitivity=float(np.mean([m.sensitivity.estimate for m in ms])),
        specificity=float(np.mean([m.specificity.estimate for m in ms])),
        f1=float(np.mean([m.f1 for m in ms])),
    )
    counts = confusion_matrix(y, pred, len(classes))
    normalised = confusion_matrix(y, pred, len(classes), normalise=True)
    return MulticlassReport(classes, int(y.size), acc, per_class, macro, counts, normalised)
