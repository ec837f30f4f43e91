"""Binary ROC analysis: ROC curve, AUC, DeLong and bootstrap confidence intervals, paired DeLong test.

Conventions (as scikit-learn): ``y_true`` holds 0/1 (1 = the positive class), a higher ``y_score``
means "more likely positive"; the direction is never flipped automatically (pROC's
``direction="<"``). The AUC is the share of positive/negative pairs ranked correctly, ties counting
one half (the Mann-Whitney statistic).

DeLong's variance uses the placement values (structural components) computed with midranks in
O(N log N) (Sun & Xu 2014, "Fast implementation of DeLong's algorithm"), with the ``n - 1``
denominators pROC uses; the interval is ``auc +- z * se`` clipped to [0, 1] (pROC ``ci.auc``).

Degenerate input: no positives or no negatives -> ``UndefinedMetricWarning`` and NaN. Constant
scores -> AUC 0.5 (every pair is a tie, so this is exact), but a sampling variance of 0 would claim
certainty the data cannot give: ``se`` and the CI are NaN with a warning (pROC reports 0.5-0.5).
A single positive or negative leaves DeLong's variance undefined (NaN, warning). Complete separation
gives a DeLong variance of 0 and a zero-width interval, as in pROC, with a warning.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, check_binary_labels, check_scores, warn_undefined

METHODS = ("delong", "bootstrap")


@dataclass(frozen=True)
class AUCResult(ResultMixin):
    """AUC with standard error and a ``1 - alpha`` confidence interval.

    ``method`` is ``"delong"`` or ``"bootstrap"``; for the bootstrap ``n_boot`` replicates were used,
    ``n_groups`` is the number of patients (clusters) resampled (``None``: cases resampled, stratified by
    class) and ``n_redrawn`` counts cluster replicates redrawn because they held one class only.
    """

    auc: float
    se: float
    ci_low: float
    ci_high: float
    method: str
    n_pos: int
    n_neg: int
    alpha: float = 0.05
    n_boot: int | None = None
    n_groups: int | None = None
    n_redrawn: int = 0


@dataclass(frozen=True)
class DeLongTestResult(ResultMixin):
    """Paired DeLong test of ``auc_a - auc_b`` on the same cases (pROC ``roc.test(paired=TRUE)``)."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    alpha: float = 0.05


def _checked(y_true, *scores) -> tuple[np.ndarray, list[np.ndarray]]:
    y = check_binary_labels(y_true)
    names = ["y_score"] if len(scores) == 1 else ["y_score_a", "y_score_b"]
    return y, [check_scores(s, y.size, name) for s, name in zip(scores, names)]


def _class_counts_ok(y: np.ndarray, what: str) -> bool:
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        found = "no cases" if y.size == 0 else f"only {'positives' if n_pos else 'negatives'}"
        warn_undefined(f"{what} is undefined: y_true holds {found}; it needs both classes. Returning NaN.")
        return False
    return True


def roc_curve(y_true, y_score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve at every distinct score: ``(fpr, tpr, thresholds)``, starting at (0, 0).

    A case is called positive when ``y_score >= threshold``; ``thresholds[0]`` is ``inf``
    (nothing called positive), as in ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.
    One class only: warning, and the undefined rate is NaN.

    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist(), thr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0], [inf, 0.8, 0.4, 0.35, 0.1])
    """
    y, (s,) = _checked(y_true, y_score)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1] if s.size else np.array([], int)
    tps = np.r_[0, np.cumsum(y_sorted)[last]]
    fps = np.r_[0, last + 1 - tps[1:]]
    _class_counts_ok(y, "the ROC curve")  # warns; the undefined rate becomes NaN below
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] else np.full(tps.shape, np.nan)
    return fpr.astype(float), tpr.astype(float), np.r_[np.inf, s_sorted[last]]


def _placements(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong placement values for k score rows: ``(auc (k,), v10 (k, m), v01 (k, n))``.

    ``v10[i]`` = share of negatives scored below positive i (ties 1/2); ``v01[j]`` = share of positives
    scored above negative j. Midranks make this O(N log N) (Sun & Xu 2014).
    """
    from scipy.stats import rankdata

    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    tz = rankdata(scores, axis=1)
    tx = rankdata(scores[:, pos], axis=1)
    ty = rankdata(scores[:, ~pos], axis=1)
    aucs = (tz[:, pos].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, pos] - tx) / n
    v01 = 1.0 - (tz[:, ~pos] - ty) / m
    return aucs, v10, v01


def _delong_cov(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    """DeLong covariance matrix of the k AUCs: ``S10 / m + S01 / n`` (sample covariances, ddof 1)."""
    m, n = v10.shape[1], v01.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        s10 = np.atleast_2d(np.cov(v10, ddof=1)) if m > 1 else np.full((len(v10),) * 2, np.nan)
        s01 = np.atleast_2d(np.cov(v01, ddof=1)) if n > 1 else np.full((len(v01),) * 2, np.nan)
    return s10 / m + s01 / n


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve: share of positive/negative pairs ranked correctly, ties 1/2.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> roc_auc([0, 1, 1], [0.5, 0.5, 0.9])   # one tied pair counts 1/2
    0.75
    """
    y, (s,) = _checked(y_true, y_score)
    if not _class_counts_ok(y, "the AUC"):
        return float("nan")
    return float(_placements(y, s[None, :])[0][0])


def _normal_quantile(alpha: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(1.0 - alpha / 2.0))


def roc_auc_ci(y_true, y_score, *, method: str = "delong", alpha: float = 0.05, groups=None,
               n_boot: int = 2000, seed: int = 0) -> AUCResult:
    """AUC with a ``1 - alpha`` confidence interval.

    * ``method="delong"``: DeLong's variance, normal interval clipped to [0, 1] (pROC
      ``ci.auc(method="delong")``). Assumes independent cases, so ``groups`` is refused here.
    * ``method="bootstrap"``: percentile interval of ``n_boot`` bootstrap AUCs (numpy ``quantile``,
      which is R's type 7 as in pROC); ``se`` is their standard deviation. Without ``groups``,
      positives and negatives are resampled separately (pROC's stratified bootstrap). With
      ``groups`` (e.g. patient ids, one per case) whole patients are resampled with replacement, not
      stratified by class; replicates that hold one class only are redrawn and counted in
      ``n_redrawn``. ``seed`` makes the result reproducible.

    >>> r = roc_auc_ci([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.6, 0.4, 0.8, 0.9])
    >>> round(r.auc, 4), round(r.se, 4), round(r.ci_low, 4), round(r.ci_high, 4)
    (0.8889, 0.1571, 0.5809, 1.0)
    >>> b = roc_auc_ci([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.6, 0.4, 0.8, 0.9], method="bootstrap", n_boot=500)
    >>> b.method, b.n_boot, b.ci_high
    ('bootstrap', 500, 1.0)
    """
    alpha = check_alpha(alpha)
    if method not in METHODS:
        raise ValueError(f"Invalid method {method!r}. Only {', '.join(map(repr, METHODS))} are supported.")
    if groups is not None and method == "delong":
        raise ValueError("groups (clustered cases) need method='bootstrap'; DeLong assumes independent cases")
    y, (s,) = _checked(y_true, y_score)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    nan = float("nan")
    base: dict[str, Any] = dict(method=method, n_pos=n_pos, n_neg=n_neg, alpha=alpha)
    if not _class_counts_ok(y, "the AUC"):
        return AUCResult(nan, nan, nan, nan, **base)
    if np.all(s == s[0]):
        warn_undefined("all scores are equal: AUC = 0.5 exactly (every pair tied), but its standard "
                       "error and confidence interval cannot be estimated; returning NaN for them")
        return AUCResult(0.5, nan, nan, nan, **base)
    if method == "bootstrap":
        return _bootstrap_ci(y, s, groups, n_boot, seed, base)
    aucs, v10, v01 = _placements(y, s[None, :])
    auc, var = float(aucs[0]), float(_delong_cov(v10, v01)[0, 0])
    if not math.isfinite(var):
        warn_undefined(f"DeLong's variance needs at least 2 positives and 2 negatives (got {n_pos} and "
                       f"{n_neg}); se and CI are NaN")
        return AUCResult(auc, nan, nan, nan, **base)
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        warn_undefined("DeLong's variance is 0 (complete separation): the interval has zero width")
    half = _normal_quantile(alpha) * se
    return AUCResult(auc, se, max(0.0, auc - half), min(1.0, auc + half), **base)


def _bootstrap_ci(y: np.ndarray, s: np.ndarray, groups, n_boot: int, seed: int, base: dict) -> AUCResult:
    from vcfnet.stats.bootstrap import bootstrap_aucs

    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"groups has shape {groups.shape} but y_true has {y.shape}; one group per case")
        if groups.dtype.kind == "f" and np.any(np.isnan(groups)):
            raise ValueError("groups contains NaN; every case needs a group (patient) id")
        if groups.dtype == object and any(g is None for g in groups):
            raise ValueError("groups contains None; every case needs a group (patient) id")
    auc = float(_placements(y, s[None, :])[0][0])
    aucs, n_redrawn, n_groups = bootstrap_aucs(y, s, n_boot=int(n_boot), seed=seed, groups=groups)
    extra: dict[str, Any] = dict(n_boot=int(n_boot), n_groups=n_groups, n_redrawn=n_redrawn)
    if aucs.size < n_boot:
        warn_undefined(f"cluster bootstrap: only {aucs.size} of {n_boot} replicates held both classes "
                       f"({n_groups} groups); se and CI are NaN")
        return AUCResult(auc, float("nan"), float("nan"), float("nan"), **base, **extra)
    lo, hi = np.quantile(aucs, [base["alpha"] / 2, 1 - base["alpha"] / 2])
    return AUCResult(auc, float(np.std(aucs, ddof=1)), float(lo), float(hi), **base, **extra)


def delong_test(y_true, y_score_a, y_score_b, *, alpha: float = 0.05) -> DeLongTestResult:
    """Paired DeLong test for two scores on the same cases (pROC ``roc.test(method="delong")``).

    ``diff = auc_a - auc_b``; ``se`` from DeLong's covariance; ``z = diff / se``; two-sided
    ``p_value``; ``ci_low, ci_high`` = ``diff -+ z_(1 - alpha/2) * se`` (not clipped). When the
    variance of the difference is 0 (identical scores, or both constant/separating) ``z``,
    ``p_value`` and the CI are NaN with a warning.

    >>> t = delong_test([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.6, 0.4, 0.8, 0.9], [0.2, 0.1, 0.3, 0.4, 0.35, 0.5])
    >>> round(t.auc_a, 4), round(t.auc_b, 4), round(t.diff, 4), round(t.p_value, 4)
    (0.8889, 1.0, -0.1111, 0.4795)
    """
    alpha = check_alpha(alpha)
    y, (a, b) = _checked(y_true, y_score_a, y_score_b)
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    nan = float("nan")
    if not _class_counts_ok(y, "the DeLong test"):
        return DeLongTestResult(nan, nan, nan, nan, nan, nan, nan, nan, n_pos, n_neg, alpha)
    aucs, v10, v01 = _placements(y, np.vstack([a, b]))
    cov = _delong_cov(v10, v01)
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if not math.isfinite(var) or var <= 1e-15:
        why = "needs at least 2 positives and 2 negatives" if not math.isfinite(var) else "is 0"
        warn_undefined(f"the variance of the AUC difference {why}; z, p-value and CI are NaN")
        se = math.sqrt(max(var, 0.0)) if math.isfinite(var) else nan
        return DeLongTestResult(float(aucs[0]), float(aucs[1]), diff, se, nan, nan, nan, nan, n_pos, n_neg, alpha)
    from scipy.special import ndtr

    se = math.sqrt(var)
    z = diff / se
    half = _normal_quantile(alpha) * se
    return DeLongTestResult(float(aucs[0]), float(aucs[1]), diff, se, z, float(2 * ndtr(-abs(z))),
                            diff - half, diff + half, n_pos, n_neg, alpha)
