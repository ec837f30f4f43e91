"""Shared pieces of ``vcfnet.stats``: the warning class, input validation, JSON-ready results.

Validation errors are ``ValueError`` with a message that says what was given and what is allowed,
as scikit-learn does; degenerate but valid input (one class only, no cases) is not an error: the
metric warns with :class:`UndefinedMetricWarning` and returns NaN.
"""
from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for this input (e.g. one class only); its value is NaN."""


def warn_undefined(message: str) -> None:
    """Warn that a metric is undefined; ``stacklevel`` points at the caller of the public function."""
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def check_binary_labels(y_true, name: str = "y_true") -> np.ndarray:
    """Return ``y_true`` as a 1-D int array of 0/1; ``ValueError`` for anything else."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.dtype == bool:
        return y.astype(np.int64)
    if y.size and not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name} must hold 0/1 (or booleans), got dtype {y.dtype}")
    if y.size and np.any(np.isnan(y.astype(float))):
        raise ValueError(f"{name} contains NaN; labels must be 0 or 1")
    bad = np.setdiff1d(np.unique(y), [0, 1])
    if bad.size:
        raise ValueError(f"{name} must hold only 0 and 1, found {bad[:5].tolist()}")
    return y.astype(np.int64)


def check_scores(y_score, n: int, name: str = "y_score") -> np.ndarray:
    """Return scores as a 1-D float array of length ``n`` without NaN."""
    s = np.asarray(y_score, dtype=float)
    if s.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {s.shape}")
    if s.shape[0] != n:
        raise ValueError(f"{name} has {s.shape[0]} values but y_true has {n}; they must match")
    if np.any(np.isnan(s)):
        raise ValueError(f"{name} contains NaN at index {int(np.flatnonzero(np.isnan(s))[0])}")
    return s


def check_class_labels(y_true, n_classes: int, name: str = "y_true") -> np.ndarray:
    """Return integer class indices in ``[0, n_classes)`` as a 1-D int array."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}")
    if y.size == 0:
        return y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class indices 0..{n_classes - 1}, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise ValueError(f"{name} holds class index {bad.item()!r}; allowed are 0..{n_classes - 1}")
    return y.astype(np.int64)


def check_proba(proba, n: int, n_classes: int | None = None, name: str = "proba") -> np.ndarray:
    """Return an (n, K) float array of probabilities in [0, 1] whose rows sum to 1 (tolerance 1e-3)."""
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"{name} must be 2-D (cases x classes), got shape {p.shape}")
    if p.shape[0] != n:
        raise ValueError(f"{name} has {p.shape[0]} rows but y_true has {n}; they must match")
    if n_classes is not None and p.shape[1] != n_classes:
        raise ValueError(f"{name} has {p.shape[1]} columns; expected {n_classes} (one per class)")
    if p.size and not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or infinite values (row {int(np.argwhere(~np.isfinite(p))[0, 0])})")
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1]; found values from {p.min():g} to {p.max():g}")
    if p.size and np.any(np.abs(p.sum(axis=1) - 1.0) > 1e-3):
        row = int(np.flatnonzero(np.abs(p.sum(axis=1) - 1.0) > 1e-3)[0])
        raise ValueError(f"{name} rows must sum to 1; row {row} sums to {p[row].sum():g}")
    return p


def jsonable(value):
    """Turn results into JSON-ready values: NaN/inf -> None, numpy -> Python, dataclasses -> dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class ResultMixin:
    """``to_dict()`` for result dataclasses: JSON-ready, NaN as ``None``."""

    def to_dict(self) -> dict:
        return jsonable(self)
