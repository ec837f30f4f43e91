"""Proportions with confidence intervals (Wilson, Clopper-Pearson) and McNemar's paired test.

Both wrap statsmodels (``proportion_confint``, ``contingency_tables.mcnemar``) rather than
re-deriving the formulas; this module adds validation, the degenerate cases and result records.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, warn_undefined

#: Our method names -> statsmodels' names (statsmodels calls Clopper-Pearson "beta").
_PROPORTION_METHODS = {"wilson": "wilson", "clopper-pearson": "beta"}
_EXACT_BELOW = 25  # exact=None: exact binomial test when fewer discordant pairs than this


@dataclass(frozen=True)
class ProportionResult(ResultMixin):
    """``k`` of ``n``: ``estimate = k / n`` with a ``1 - alpha`` interval by ``method``."""

    estimate: float
    ci_low: float
    ci_high: float
    k: int
    n: int
    method: str
    alpha: float = 0.05


@dataclass(frozen=True)
class McNemarResult(ResultMixin):
    """McNemar's test on paired correctness. ``b``: A right and B wrong; ``c``: A wrong and B right.

    ``exact=True``: ``statistic = min(b, c)`` and the two-sided binomial p-value; otherwise the
    chi-square statistic with continuity correction, ``(|b - c| - 1)^2 / (b + c)``.
    """

    statistic: float
    p_value: float
    b: int
    c: int
    exact: bool


def _count(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if not (isinstance(value, (float, np.floating)) and float(value).is_integer()):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return int(value)


def proportion_ci(k, n, *, method: str = "wilson", alpha: float = 0.05, name: str = "proportion") -> ProportionResult:
    """``k`` successes in ``n`` trials with a ``1 - alpha`` confidence interval.

    ``method`` is ``"wilson"`` (score interval, the default) or ``"clopper-pearson"`` (exact, from
    the beta distribution). ``n = 0`` has no proportion: warning (naming ``name``) and NaN.

    >>> r = proportion_ci(8, 10)
    >>> r.estimate, round(r.ci_low, 4), round(r.ci_high, 4)
    (0.8, 0.4902, 0.9433)
    >>> round(proportion_ci(0, 10, method="clopper-pearson").ci_high, 4)
    0.3085
    """
    alpha = check_alpha(alpha)
    if method not in _PROPORTION_METHODS:
        raise ValueError(f"Invalid method {method!r}. Only 'wilson' and 'clopper-pearson' are supported.")
    k, n = _count(k, "k"), _count(n, "n")
    if k > n:
        raise ValueError(f"k ({k}) cannot exceed n ({n})")
    if n == 0:
        warn_undefined(f"{name} is undefined (0 cases); returning NaN")
        nan = float("nan")
        return ProportionResult(nan, nan, nan, k, n, method, alpha)
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=alpha, method=_PROPORTION_METHODS[method])
    # statsmodels' beta interval is NaN at k = 0 / k = n on some versions; the exact bounds are 0 / 1.
    lo = 0.0 if k == 0 else float(lo)
    hi = 1.0 if k == n else float(hi)
    return ProportionResult(k / n, lo, hi, k, n, method, alpha)


def _correctness(values, name: str) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one entry per case), got shape {a.shape}")
    if a.dtype != bool:
        if a.size and (not np.issubdtype(a.dtype, np.number) or np.setdiff1d(np.unique(a), [0, 1]).size):
            raise ValueError(f"{name} must hold booleans or 0/1 (was the reader right on this case?)")
        a = a.astype(bool)
    return a


def mcnemar_test(correct_a, correct_b, *, exact: bool | None = None) -> McNemarResult:
    """McNemar's test: do A and B differ in accuracy on the same cases?

    ``correct_a`` and ``correct_b`` say per case whether A and B were right. ``exact=None`` uses the
    exact binomial test when ``b + c < 25`` and the continuity-corrected chi-square otherwise. With no
    discordant pairs the exact p-value is 1; the chi-square is undefined (warning, NaN).

    >>> r = mcnemar_test([1, 1, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 1, 0, 1, 1])
    >>> r.b, r.c, r.exact, round(r.p_value, 4)
    (4, 1, True, 0.375)
    """
    a, b_arr = _correctness(correct_a, "correct_a"), _correctness(correct_b, "correct_b")
    if a.shape != b_arr.shape:
        raise ValueError(f"correct_a has {a.size} cases but correct_b has {b_arr.size}; they must be paired")
    b, c = int(np.sum(a & ~b_arr)), int(np.sum(~a & b_arr))
    use_exact = (b + c < _EXACT_BELOW) if exact is None else bool(exact)
    if a.size == 0 or (b + c == 0 and not use_exact):
        warn_undefined("McNemar's test is undefined without cases or (chi-square) without discordant "
                       "pairs; returning NaN")
        return McNemarResult(float("nan"), float("nan"), b, c, use_exact)
    from statsmodels.stats.contingency_tables import mcnemar

    table = np.array([[np.sum(a & b_arr), b], [c, np.sum(~a & ~b_arr)]])
    res = mcnemar(table, exact=use_exact, correction=True)
    return McNemarResult(float(res.statistic), float(min(1.0, res.pvalue)), b, c, use_exact)
