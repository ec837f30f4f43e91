"""Selective prediction: answer when confident, refer otherwise.

* :func:`risk_coverage_curve` -- answering the most confident ``k`` cases for every ``k``: coverage
  ``k / n`` and the accuracy of what is answered (risk = 1 - accuracy); ties in confidence enter
  together, so every point is a threshold one could actually set.
* :func:`aurc` -- the area under the risk-coverage curve (Geifman & El-Yaniv 2017: the mean risk over
  the ``n`` coverage steps, ties sharing their step), with a bootstrap interval over patients.
* :func:`fit_referral_threshold` -- the threshold on confidence, fitted on (validation) cases, for a
  rule ``refer_fraction`` ("refer the 10% least certain") or ``target_accuracy`` ("keep accuracy
  >= 0.9 on what is answered"). A case is referred when its confidence is *below* the threshold.
* :func:`referral_summary` -- at a threshold: referral rate, accuracy of the answered part (Wilson
  intervals), and both per true class.

Confidence is the top-class probability (``proba.max(1)``) unless given. Numbers only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, warn_undefined

RULES = ("refer_fraction", "target_accuracy")


@dataclass(frozen=True)
class RiskCoverage(ResultMixin):
    """One point per distinct confidence (most confident first): answer every case with
    confidence >= ``threshold``; ``coverage`` the share answered, ``accuracy`` theirs, ``n_answered``."""

    threshold: list[float]
    coverage: list[float]
    accuracy: list[float]
    n_answered: list[int]
    n: int


@dataclass(frozen=True)
class ReferralThreshold(ResultMixin):
    rule: str
    value: float
    threshold: float          # refer when confidence < threshold
    n: int
    refer_rate: float         # achieved on the fitting cases
    answered_accuracy: float
    reachable: bool = True    # False when no threshold meets a target accuracy (everything referred)


def _inputs(y_true, proba, confidence) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y_true).astype(np.int64).ravel()
    if p.ndim != 2 or p.shape[0] != y.size:
        raise ValueError(f"proba must be (n, C) with n = {y.size} rows, got {p.shape}")
    conf = p.max(axis=1) if confidence is None else np.asarray(confidence, dtype=np.float64).ravel()
    if conf.size != y.size or not np.isfinite(conf).all():
        raise ValueError("confidence must be finite, one value per case")
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    return conf, correct


def risk_coverage_curve(y_true, proba, *, confidence=None) -> RiskCoverage:
    """The risk-coverage (accuracy-coverage) curve; empty lists for no cases.

    >>> r = risk_coverage_curve([0, 1, 1], [[.9, .1], [.8, .2], [.3, .7]])
    >>> r.coverage, r.accuracy
    ([0.3333333333333333, 0.6666666666666666, 1.0], [1.0, 0.5, 0.6666666666666666])
    """
    conf, correct = _inputs(y_true, proba, confidence)
    n = conf.size
    if n == 0:
        return RiskCoverage([], [], [], [], 0)
    order = np.argsort(-conf, kind="stable")
    c_sorted, ok = conf[order], np.cumsum(correct[order])
    last = np.r_[np.flatnonzero(np.diff(c_sorted) != 0), n - 1]    # end of each tie block
    k = last + 1
    return RiskCoverage(threshold=c_sorted[last].tolist(), coverage=(k / n).tolist(),
                        accuracy=(ok[last] / k).tolist(), n_answered=k.astype(int).tolist(), n=n)


def _aurc_value(conf: np.ndarray, correct: np.ndarray) -> float:
    n = conf.size
    order = np.argsort(-conf, kind="stable")
    c_sorted, ok = conf[order], np.cumsum(correct[order])
    last = np.r_[np.flatnonzero(np.diff(c_sorted) != 0), n - 1]
    k = last + 1
    steps = np.diff(np.r_[0, k])                       # a tie block of m cases counts m steps
    return float(np.sum(steps * (1.0 - ok[last] / k)) / n)


def aurc(y_true, proba, *, confidence=None, groups=None, n_boot: int = 1000, seed: int = 0,
         alpha: float = 0.05) -> dict[str, Any]:
    """Area under the risk-coverage curve (lower is better) and a percentile bootstrap interval
    resampling ``groups`` (patients) or, without them, cases. NaN with a warning for no cases.

    >>> round(aurc([0, 1, 1], [[.9, .1], [.8, .2], [.3, .7]], n_boot=0)["aurc"], 4)
    0.2778
    """
    alpha = check_alpha(alpha)
    conf, correct = _inputs(y_true, proba, confidence)
    nan = float("nan")
    if conf.size == 0:
        warn_undefined("the AURC is undefined without cases")
        return {"aurc": nan, "ci_low": nan, "ci_high": nan, "n": 0, "n_boot": n_boot}
    value = _aurc_value(conf, correct)
    if n_boot <= 0:
        return {"aurc": value, "ci_low": nan, "ci_high": nan, "n": int(conf.size), "n_boot": 0}
    rng = np.random.default_rng(seed)
    codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)[1] if groups is not None \
        else np.arange(conf.size)
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    reps = []
    for _ in range(n_boot):
        idx = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        reps.append(_aurc_value(conf[idx], correct[idx]))
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return {"aurc": value, "ci_low": float(low), "ci_high": float(high), "n": int(conf.size), "n_boot": n_boot,
            "unit": "patient" if groups is not None else "vertebra"}


def fit_referral_threshold(y_true, proba, *, rule: str = "refer_fraction", value: float = 0.1,
                           confidence=None) -> ReferralThreshold:
    """The confidence threshold for ``rule`` on these cases (meant: the validation split).

    ``refer_fraction``: halfway between the ``k``-th and ``(k+1)``-th least confident case,
    ``k = round(value * n)``, so exactly ``k`` are referred when confidences are distinct (tied cases
    are referred or answered together).
    ``target_accuracy``: the lowest threshold (most answered) whose answered accuracy is >= ``value``;
    when none reaches it every case is referred (``reachable`` False, with a warning).

    >>> t = fit_referral_threshold([0, 1, 1, 0], [[.9, .1], [.8, .2], [.3, .7], [.45, .55]], value=0.5)
    >>> t.threshold, t.refer_rate
    (0.75, 0.5)
    """
    if rule not in RULES:
        raise ValueError(f"Invalid referral rule '{rule}'. Only {', '.join(RULES)} are supported.")
    conf, correct = _inputs(y_true, proba, confidence)
    n = conf.size
    if n == 0:
        raise ValueError("a referral threshold needs at least one case")
    if rule == "refer_fraction":
        if not 0 <= value < 1:
            raise ValueError(f"refer_fraction must be in [0, 1), got {value}")
        k, low = int(round(value * n)), np.sort(conf)
        if k == 0:
            threshold = -math.inf
        elif k < n:
            threshold = float((low[k - 1] + low[k]) / 2)
        else:
            threshold = float(np.nextafter(low[-1], math.inf))
        reachable = True
    else:
        if not 0 < value <= 1:
            raise ValueError(f"target_accuracy must be in (0, 1], got {value}")
        curve = risk_coverage_curve(y_true, proba, confidence=confidence)
        ok = [t for t, a in zip(curve.threshold, curve.accuracy) if a >= value]
        reachable = bool(ok)
        if not reachable:
            warn_undefined(f"no threshold keeps the answered accuracy >= {value}; every case is referred")
        threshold = min(ok) if ok else math.inf
    answered = conf >= threshold
    acc = float(correct[answered].mean()) if answered.any() else float("nan")
    return ReferralThreshold(rule, float(value), float(threshold), int(n), float(1 - answered.mean()), acc,
                             reachable)


def referral_summary(y_true, proba, threshold: float, *, refer=None, classes=None,
                     alpha: float = 0.05) -> dict[str, Any]:
    """Referral at ``threshold`` (or the given boolean ``refer`` per case): overall and per true class,
    ``refer_rate`` and ``answered_accuracy`` as Wilson proportion dicts, counts beside them.

    >>> s = referral_summary([0, 1, 1], [[.9, .1], [.8, .2], [.3, .7]], 0.85, classes=["a", "b"])
    >>> s["n_referred"], s["answered_accuracy"]["k"], s["per_class"]["b"]["n_referred"]
    (2, 1, 2)
    """
    from vcfnet.stats.proportions import proportion_ci

    conf, correct = _inputs(y_true, proba, None)
    y = np.asarray(y_true).astype(np.int64).ravel()
    referred = conf < threshold if refer is None else np.asarray(refer).astype(bool).ravel()
    names = list(classes) if classes is not None else [str(k) for k in range(np.asarray(proba).shape[1])]

    def part(mask: np.ndarray) -> dict[str, Any]:
        n, k = int(mask.sum()), int((mask & referred).sum())
        answered = mask & ~referred
        out = {"n": n, "n_referred": k,
               "refer_rate": proportion_ci(k, n, alpha=alpha).to_dict() if n else None,
               "answered_accuracy": proportion_ci(int(correct[answered].sum()), int(answered.sum()),
                                                  alpha=alpha).to_dict() if answered.any() else None,
               "accuracy_all": float(correct[mask].mean()) if n else None}
        return out

    return {"threshold": float(threshold), **part(np.ones(y.size, dtype=bool)),
            "per_class": {name: part(y == k) for k, name in enumerate(names)}}


def coverage_points(y_true, proba, *, coverages=(0.5, 0.6, 0.7, 0.8, 0.9, 1.0), alpha: float = 0.05,
                    confidence=None) -> list[dict[str, Any]]:
    """Answered accuracy with a Wilson interval when answering the most confident share ``c`` of the
    cases (the first curve point reaching ``c``), for each ``c``: the curve's CIs in a table.

    >>> [(p["coverage"], p["k"], p["n"]) for p in coverage_points([0, 1, 1], [[.9, .1], [.8, .2], [.3, .7]],
    ...                                                            coverages=(0.5, 1.0))]
    [(0.6666666666666666, 1, 2), (1.0, 2, 3)]
    """
    from vcfnet.stats.proportions import proportion_ci

    curve = risk_coverage_curve(y_true, proba, confidence=confidence)
    rows = []
    for c in coverages:
        i = next((j for j, v in enumerate(curve.coverage) if v >= c - 1e-12), None)
        if i is None:
            continue
        k = curve.n_answered[i]
        ci = proportion_ci(int(round(curve.accuracy[i] * k)), k, alpha=alpha).to_dict()
        rows.append({"target": c, "coverage": curve.coverage[i], "threshold": curve.threshold[i], **ci})
    return rows
