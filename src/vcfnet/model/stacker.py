"""The image+clinical model: a multinomial logistic stacker on the image model's calibrated log
probabilities and the encoded clinical columns, fitted on the validation split only.

    >>> params = fit_stacker(image_logp, features, y)          # (N, C), (N, F), (N,) of the val split
    >>> proba = stacker_proba(params, image_logp, features)    # (N, C), rows sum to 1

    score_c = b_c + sum_j A[c, j] * image_logp_j + sum_f W[c, f] * feature_f,   p = softmax(score)

The penalty is ``l2 / 2 * (||A - I||^2 + ||W||^2 + ||b||^2)``: with no data the stacker *is* the
image model (A = identity, W = 0, b = 0), and the clinical weights shrink toward "no effect" (a class
absent from the validation split cannot drive its intercept to minus infinity). ``l2`` is chosen
among ``L2_GRID`` by patient-grouped cross-validation on the same validation rows, whose out-of-fold
probabilities also fit the referral threshold (so that threshold is not fitted on in-sample
probabilities). Numbers only: numpy and scipy, no torch.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)

L2_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)
N_FOLDS = 5


def _softmax(scores: np.ndarray) -> np.ndarray:
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _unpack(theta: np.ndarray, c: int, f: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = theta[:c * c].reshape(c, c)
    w = theta[c * c:c * c + c * f].reshape(c, f)
    return a, w, theta[c * c + c * f:]


def _objective(theta, logp, x, onehot, l2):
    c, f = logp.shape[1], x.shape[1]
    a, w, b = _unpack(theta, c, f)
    scores = logp @ a.T + x @ w.T + b
    z = scores - scores.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    nll = float(-(z * onehot).sum() + lse.sum())
    resid = _softmax(scores) - onehot                     # d nll / d scores
    da = resid.T @ logp + l2 * (a - np.eye(c))
    dw = resid.T @ x + l2 * w
    db = resid.sum(axis=0) + l2 * b
    penalty = 0.5 * l2 * (float(((a - np.eye(c)) ** 2).sum()) + float((w ** 2).sum()) + float((b ** 2).sum()))
    return nll + penalty, np.concatenate([da.ravel(), dw.ravel(), db])


def fit_stacker(image_logp, features, y, *, l2: float = 1.0, n_classes: int | None = None) -> dict[str, Any]:
    """Fit the stacker; returns ``{"a": C x C, "w": C x F, "b": C, "l2": l2}`` as nested lists."""
    from scipy.optimize import minimize

    logp, x, y = _check(image_logp, features, y)
    c = n_classes or logp.shape[1]
    onehot = np.eye(c)[y]
    theta0 = np.concatenate([np.eye(c).ravel(), np.zeros(c * x.shape[1]), np.zeros(c)])
    res = minimize(_objective, theta0, args=(logp, x, onehot, float(l2)), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000})
    if not res.success:
        log.warning("stacker fit: %s (after %d iterations); using the last iterate", res.message, res.nit)
    a, w, b = _unpack(res.x, c, x.shape[1])
    return {"a": a.tolist(), "w": w.tolist(), "b": b.tolist(), "l2": float(l2)}


def stacker_proba(params: dict[str, Any], image_logp, features) -> np.ndarray:
    """Probabilities (N, C) of the stacker ``params`` (from :func:`fit_stacker`)."""
    logp = np.asarray(image_logp, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64).reshape(len(logp), -1)
    a, w, b = (np.asarray(params[k], dtype=np.float64) for k in ("a", "w", "b"))
    if w.shape[1] != x.shape[1] or a.shape[1] != logp.shape[1]:
        raise VcfnetError(f"the stacker takes {a.shape[1]} image and {w.shape[1]} clinical features, "
                          f"got {logp.shape[1]} and {x.shape[1]}")
    return _softmax(logp @ a.T + x @ w.T + b)


def _check(image_logp, features, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logp = np.asarray(image_logp, dtype=np.float64)
    x = np.asarray(features, dtype=np.float64).reshape(len(logp), -1)
    y = np.asarray(y, dtype=np.int64)
    if not (len(logp) == len(x) == len(y)) or len(y) == 0:
        raise VcfnetError(f"the stacker needs as many rows of image scores ({len(logp)}), clinical features "
                          f"({len(x)}) and labels ({len(y)}), at least one")
    if not (np.isfinite(logp).all() and np.isfinite(x).all()):
        raise VcfnetError("the stacker's inputs hold NaN or infinite values (missing values must be encoded)")
    return logp, x, y


def group_folds(groups, n_folds: int = N_FOLDS) -> np.ndarray:
    """A fold number per row, whole groups (patients) per fold, in a fixed order of the group names."""
    names = np.asarray([str(g) for g in groups])
    unique = sorted(set(names.tolist()))
    k = max(2, min(n_folds, len(unique)))
    order = {g: i % k for i, g in enumerate(unique)}
    return np.asarray([order[g] for g in names.tolist()], dtype=np.int64)


def cross_fitted(image_logp, features, y, groups, *, l2: float, n_classes: int) -> np.ndarray:
    """Out-of-fold stacker probabilities (each patient predicted by a stacker that never saw it)."""
    logp, x, y = _check(image_logp, features, y)
    folds = group_folds(groups)
    out = np.zeros((len(y), n_classes))
    for k in np.unique(folds):
        held = folds == k
        params = fit_stacker(logp[~held], x[~held], y[~held], l2=l2, n_classes=n_classes)
        out[held] = stacker_proba(params, logp[held], x[held])
    return out


def _nll(proba: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0))))


def select_and_fit(image_logp, features, y, groups, *, n_classes: int) -> tuple[dict[str, Any], np.ndarray, dict]:
    """Choose ``l2`` by grouped cross-validation (out-of-fold NLL), refit on every row.

    Returns the params, the out-of-fold probabilities at the chosen ``l2`` and the CV figures
    (``nll_by_l2``, ``oof_nll``, ``image_nll``: the image model's own NLL on the same rows).
    """
    logp, x, y = _check(image_logp, features, y)
    if len(set(str(g) for g in groups)) < 2:
        raise VcfnetError("the stacker needs validation vertebrae of at least two patients")
    scores, oofs = {}, {}
    for l2 in L2_GRID:
        oofs[l2] = cross_fitted(logp, x, y, groups, l2=l2, n_classes=n_classes)
        scores[l2] = _nll(oofs[l2], y)
    best = min(L2_GRID, key=lambda v: (scores[v], -v))
    params = fit_stacker(logp, x, y, l2=best, n_classes=n_classes)
    figures = {"nll_by_l2": {str(k): v for k, v in scores.items()}, "oof_nll": scores[best],
               "image_nll": _nll(_softmax(logp), y)}
    return params, oofs[best], figures
