"""Calibration: Brier score, expected calibration error, reliability curve, temperature scaling.

Shapes: ``y_true`` (N,) class indices; ``proba`` (N, K) probabilities (rows sum to 1) or, for a
binary problem, (N,) probabilities of class 1; ``logits`` (N, K). Pure numpy/scipy.

Temperature scaling (Guo et al. 2017) divides the logits by one scalar T > 0 fitted by minimising
the negative log-likelihood on a validation split. Fit it on validation data only, never on a test
cohort, and store T with the checkpoint's card.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from vcfnet.stats._common import check_class_labels, check_proba, warn_undefined

log = logging.getLogger(__name__)

_LOG_T_BOUNDS = (math.log(1e-3), math.log(1e3))


def _as_proba(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(y, P)`` with P (N, K); a 1-D binary ``proba`` becomes ``[1 - p, p]``."""
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D class indices, got shape {y.shape}")
    p = check_proba(p, y.size)
    return check_class_labels(y, p.shape[1]), p


def brier_score(y_true, proba) -> float:
    """Brier score: mean over cases of the sum over classes of ``(p_k - [y == k])^2``.

    Multiclass (N, K) input gives Brier's original score, between 0 (perfect) and 2; a 1-D binary
    ``proba`` (probability of class 1) gives the usual binary score ``mean((p - y)^2)``, between 0
    and 1 (half the two-column score). No cases: warning and NaN.

    >>> brier_score([0, 1], [[1.0, 0.0], [0.5, 0.5]])
    0.25
    >>> round(brier_score([0, 1, 1], [0.2, 0.9, 0.6]), 6)
    0.07
    """
    y, p = _as_proba(y_true, proba)
    if y.size == 0:
        warn_undefined("Brier score of 0 cases is undefined; returning NaN")
        return float("nan")
    if np.asarray(proba).ndim == 1:
        return float(np.mean((p[:, 1] - y) ** 2))
    return float(np.mean(np.sum((p - np.eye(p.shape[1])[y]) ** 2, axis=1)))


def _top_label_bins(y: np.ndarray, p: np.ndarray, n_bins: int):
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    # Right-closed equal-width bins (lo, hi]; confidence 0 falls into the first bin.
    idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return mean_conf, mean_acc, count


def expected_calibration_error(y_true, proba, *, n_bins: int = 15) -> float:
    """Top-label ECE: ``sum_b (n_b / N) * |accuracy_b - confidence_b|`` over ``n_bins`` equal-width
    bins of the top probability (the confidence of the predicted class). No cases: warning, NaN.

    >>> y = [0, 0, 0, 1]          # 4 cases predicted class 0 with confidence 0.75; 3 are right
    >>> expected_calibration_error(y, [[0.75, 0.25]] * 4)
    0.0
    """
    y, p = _as_proba(y_true, proba)
    if y.size == 0:
        warn_undefined("ECE of 0 cases is undefined; returning NaN")
        return float("nan")
    conf, acc, count = _top_label_bins(y, p, n_bins)
    used = count > 0
    return float(np.sum(count[used] / y.size * np.abs(acc[used] - conf[used])))


def reliability_curve(y_true, proba, *, n_bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reliability diagram data: ``(bin_confidence, bin_accuracy, bin_count)``, one entry per bin.

    Multiclass (N, K): top-label (mean confidence of the predicted class vs share correct).
    Binary 1-D ``proba``: mean predicted probability of class 1 vs share of class 1 (as
    ``sklearn.calibration.calibration_curve``). Equal-width bins (lo, hi]; empty bins give NaN and a
    count of 0, so all arrays have length ``n_bins``.

    >>> conf, acc, count = reliability_curve([0, 1, 1, 1], [0.2, 0.8, 0.9, 0.3], n_bins=2)
    >>> conf.round(6).tolist(), acc.tolist(), count.tolist()
    ([0.25, 0.85], [0.5, 1.0], [2, 2])
    """
    if np.asarray(proba).ndim == 1:
        y, p = _as_proba(y_true, proba)
        # Class-1 probability against class-1 frequency: "correct" means y == 1, "confidence" is p1.
        p1 = p[:, 1]
        return _top_label_bins((y == 1).astype(np.int64), np.column_stack([np.zeros_like(p1), p1]), n_bins)
    y, p = _as_proba(y_true, proba)
    return _top_label_bins(y, p, n_bins)


def _check_logits(logits, y_true) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=float)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be 2-D (cases x classes, >= 2 classes), got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contain NaN or infinite values")
    y = check_class_labels(y_true, z.shape[1])
    if y.size != z.shape[0]:
        raise ValueError(f"logits have {z.shape[0]} rows but y_true has {y.size}; they must match")
    return z, y


def _nll(z: np.ndarray, y: np.ndarray, t: float) -> float:
    from scipy.special import logsumexp

    s = z / t
    return float(np.mean(logsumexp(s, axis=1) - s[np.arange(y.size), y]))


def _no_finite_temperature(z: np.ndarray, y: np.ndarray) -> str | None:
    """Why no finite T > 0 minimises the NLL, or None. The NLL is convex in beta = 1/T with slope
    ``mean(E_softmax(beta z)[z] - z_y)``: always negative when every true-class logit is the strict
    maximum (optimum T -> 0), and non-negative at beta = 0 when the logits do not favour the true
    class on average (optimum T -> infinity)."""
    others = np.where(np.eye(z.shape[1], dtype=bool)[y], -np.inf, z).max(axis=1)
    if np.all(z[np.arange(y.size), y] > others):
        return "every validation case is classified correctly, so the NLL keeps falling as T -> 0"
    if np.mean(z.mean(axis=1) - z[np.arange(y.size), y]) >= 0:
        return "the logits do not favour the true class on average, so the NLL keeps falling as T -> infinity"
    return None


def fit_temperature(logits, y_true) -> float:
    """Temperature T > 0 minimising the NLL of ``softmax(logits / T)``, searched over log T.

    When no finite minimiser exists (validation cases all classified correctly; or logits no better
    than chance) and with no cases, it warns and returns NaN: do not rescale then. The search is
    bounded to [1e-3, 1e3]; a fit at a bound is logged as a warning.

    >>> rng = np.random.default_rng(0)
    >>> true_logits = rng.normal(scale=2.0, size=(4000, 3))
    >>> y = np.argmax(true_logits + rng.gumbel(size=(4000, 3)), axis=1)  # y ~ softmax(true_logits)
    >>> round(fit_temperature(3.0 * true_logits, y), 1)                  # overconfident by 3x
    3.0
    """
    from scipy.optimize import minimize_scalar

    z, y = _check_logits(logits, y_true)
    why = "there are no cases" if y.size == 0 else _no_finite_temperature(z, y)
    if why:
        warn_undefined(f"temperature is undefined: {why}; returning NaN")
        return float("nan")
    res = minimize_scalar(lambda log_t: _nll(z, y, math.exp(log_t)), bounds=_LOG_T_BOUNDS,
                          method="bounded", options={"xatol": 1e-6})
    t = math.exp(res.x)
    if min(abs(res.x - b) for b in _LOG_T_BOUNDS) < 1e-3:
        log.warning("fitted temperature %.3g is at the search bound [%.3g, %.3g]", t,
                    *map(math.exp, _LOG_T_BOUNDS))
    return t


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` row-wise: (N, K) logits -> (N, K) probabilities.

    >>> apply_temperature([[0.0, np.log(3.0)]], 1.0).round(4).tolist()
    [[0.25, 0.75]]
    """
    from scipy.special import softmax

    if not (isinstance(temperature, (int, float, np.floating)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    z = np.asarray(logits, dtype=float)
    if z.ndim != 2:
        raise ValueError(f"logits must be 2-D (cases x classes), got shape {z.shape}")
    return softmax(z / float(temperature), axis=1)
