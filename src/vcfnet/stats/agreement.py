"""Agreement between two raters on an ordinal scale: Cohen's kappa, unweighted or weighted.

``kappa = 1 - sum(W * O) / sum(W * E)`` with ``O`` the observed joint proportions, ``E`` the product of
the two raters' marginals and the disagreement weights ``W``: ``|i - j|`` (linear), ``(i - j)^2``
(quadratic) or ``i != j`` (unweighted), over the category order ``labels`` (default: the sorted union of
both ratings). Equal to scikit-learn's ``cohen_kappa_score(y1, y2, weights=...)``. The interval is a
percentile bootstrap, of cases or, with ``groups``, of whole groups (patients: one film holds several
vertebrae); replicates where kappa is undefined (one category only) are dropped and counted.

Bland-Altman agreement of two measurements of one quantity (:func:`bland_altman`): the bias is the mean
difference ``d = a - b``, the 95 % limits of agreement are ``bias -/+ z * s`` (``s`` the standard deviation
of ``d``, ``z`` = 1.96 for alpha 0.05), and their ``1 - alpha`` intervals are Bland and Altman's (Lancet
1986; Stat Methods Med Res 1999): ``bias +/- t * s / sqrt(n)`` and ``limit +/- t * s * sqrt(3 / n)``, ``t``
the ``1 - alpha / 2`` quantile of Student's t with ``n - 1`` degrees of freedom.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, warn_undefined

WEIGHTS = (None, "linear", "quadratic")


@dataclass(frozen=True)
class KappaResult(ResultMixin):
    """``estimate`` with a ``1 - alpha`` percentile bootstrap interval over ``n_boot`` replicates."""
    estimate: float
    ci_low: float
    ci_high: float
    weights: str | None
    n: int
    n_boot: int
    n_undefined: int
    alpha: float = 0.05


@dataclass(frozen=True)
class BlandAltmanResult(ResultMixin):
    """Bias (mean of ``a - b``), its SD, the limits of agreement and their intervals; ``n`` pairs."""
    bias: float
    bias_ci_low: float
    bias_ci_high: float
    sd: float
    loa_low: float
    loa_low_ci_low: float
    loa_low_ci_high: float
    loa_high: float
    loa_high_ci_low: float
    loa_high_ci_high: float
    n: int
    alpha: float = 0.05


def bland_altman(a, b, *, alpha: float = 0.05) -> BlandAltmanResult:
    """Bland-Altman bias and limits of agreement of paired measurements ``a``, ``b`` (NaN pairs dropped;
    NaN results with a warning below two pairs).

    >>> r = bland_altman([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 3.0])
    >>> round(r.bias, 3), round(r.sd, 3), round(r.loa_low, 3), round(r.loa_high, 3)
    (0.75, 0.5, -0.23, 1.73)
    """
    from scipy.stats import norm, t

    alpha = check_alpha(alpha)
    x, y = np.asarray(a, dtype=float).reshape(-1), np.asarray(b, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"a and b need one value each per case; got {x.size} and {y.size}")
    d = (x - y)[np.isfinite(x) & np.isfinite(y)]
    n = int(d.size)
    if n < 2:
        warn_undefined(f"Bland-Altman limits undefined: {n} pair(s) with both measurements")
        nan = float("nan")
        return BlandAltmanResult(float(d.mean()) if n else nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, n, alpha)
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    z, q = float(norm.ppf(1 - alpha / 2)), float(t.ppf(1 - alpha / 2, n - 1))
    se_bias, se_loa = sd / float(np.sqrt(n)), sd * float(np.sqrt(3.0 / n))
    low, high = bias - z * sd, bias + z * sd
    return BlandAltmanResult(bias, bias - q * se_bias, bias + q * se_bias, sd,
                             low, low - q * se_loa, low + q * se_loa, high, high - q * se_loa, high + q * se_loa,
                             n, alpha)


def weighted_kappa(y1, y2, *, weights: str | None = "linear", labels: Sequence | None = None) -> float:
    """Cohen's kappa of two raters' ratings ``y1``, ``y2`` (NaN with a warning when undefined).

    >>> round(weighted_kappa([0, 0, 0, 1], [0, 0, 1, 1], weights=None), 3)
    0.5
    >>> round(weighted_kappa([0, 1, 2, 3], [0, 1, 3, 3], weights="quadratic"), 3)
    0.917
    """
    a, b, k = _codes(y1, y2, labels)
    if a.size == 0:
        warn_undefined("kappa undefined: no ratings")
        return float("nan")
    value = _kappas(a, b, k, _weights(weights, k), np.ones((1, a.size)))[0]
    if not np.isfinite(value):
        warn_undefined("kappa undefined: both raters used one and the same category only")
    return float(value)


def weighted_kappa_ci(y1, y2, *, weights: str | None = "linear", labels: Sequence | None = None,
                      groups=None, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> KappaResult:
    """Kappa with a percentile bootstrap interval (cases, or whole ``groups`` when given).

    >>> r = weighted_kappa_ci([0, 1, 2, 3] * 10, [0, 1, 3, 3] * 10, weights="linear", n_boot=200)
    >>> round(r.estimate, 3), r.ci_low < r.estimate < r.ci_high
    (0.818, True)
    """
    alpha = check_alpha(alpha)
    a, b, k = _codes(y1, y2, labels)
    estimate = weighted_kappa(y1, y2, weights=weights, labels=labels)
    if a.size == 0 or not np.isfinite(estimate):
        return KappaResult(estimate, float("nan"), float("nan"), weights, int(a.size), 0, 0, alpha)
    rng = np.random.default_rng(seed)
    if groups is None:
        codes, n_units = np.arange(a.size), a.size
    else:
        g = np.asarray(groups)
        if g.shape != a.shape:
            raise ValueError(f"groups has {g.size} values but there are {a.size} ratings; they must match")
        _, codes = np.unique(g, return_inverse=True)
        n_units = int(codes.max()) + 1
    draws = rng.integers(0, n_units, size=(n_boot, n_units)) + n_units * np.arange(n_boot)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_boot * n_units).reshape(n_boot, n_units)[:, codes]
    reps = _kappas(a, b, k, _weights(weights, k), counts)
    ok = reps[np.isfinite(reps)]
    lo, hi = (np.quantile(ok, [alpha / 2, 1 - alpha / 2]) if ok.size else (np.nan, np.nan))
    return KappaResult(estimate, float(lo), float(hi), weights, int(a.size), n_boot, int(n_boot - ok.size), alpha)


def _codes(y1, y2, labels: Sequence | None) -> tuple[np.ndarray, np.ndarray, int]:
    r1, r2 = np.asarray(y1), np.asarray(y2)
    if r1.ndim != 1 or r1.shape != r2.shape:
        raise ValueError(f"y1 and y2 must be 1-D with one rating each per case; got shapes {r1.shape}, {r2.shape}")
    cats = list(labels) if labels is not None else sorted(set(r1.tolist()) | set(r2.tolist()))
    index = {c: i for i, c in enumerate(cats)}
    unknown = [v for v in (*r1.tolist(), *r2.tolist()) if v not in index]
    if unknown:
        raise ValueError(f"rating {unknown[0]!r} is not one of the labels {cats}")
    return (np.array([index[v] for v in r1.tolist()], dtype=np.int64),
            np.array([index[v] for v in r2.tolist()], dtype=np.int64), len(cats))


def _weights(weights: str | None, k: int) -> np.ndarray:
    if weights not in WEIGHTS:
        raise ValueError(f"Invalid weights {weights!r}. Only None, 'linear' and 'quadratic' are supported.")
    d = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    return (d > 0).astype(float) if weights is None else d if weights == "linear" else d ** 2


def _kappas(a: np.ndarray, b: np.ndarray, k: int, w: np.ndarray, case_weights: np.ndarray) -> np.ndarray:
    """Kappa of each row of ``case_weights`` ((R, n) how often each case is counted): (R,)."""
    cells = np.eye(k * k)[a * k + b]                       # (n, k*k): each case's (rater 1, rater 2) cell
    joint = (case_weights @ cells).reshape(-1, k, k)       # (R, k, k) counts per replicate
    total = joint.sum(axis=(1, 2))
    expected = np.einsum("ri,rj->rij", joint.sum(axis=2), joint.sum(axis=1)) / np.maximum(total, 1)[:, None, None]
    observed_w = (joint * w).sum(axis=(1, 2))
    expected_w = (expected * w).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected_w > 0, 1 - observed_w / expected_w, np.nan)
