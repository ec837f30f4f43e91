"""Sample size and power for a two-modality MRMC study from a pilot's Obuchowski-Rockette components.

Hillis, Obuchowski & Berbaum (2011), "Power estimation for multireader ROC methods: an updated and unified
approach" (Acad Radiol 18:129-142), eq. 10, and Hillis & Schartz (2018, J Med Imaging 5:045503), as RJafroc
``SsPowerGivenJK`` / ``SsSampleSizeKGivenJ`` (method "OR"). The pilot's case-level components (``var_error,
cov1, cov2, cov3``) scale with ``n_cases_pilot / n_cases``; ``var_tr`` (truncated at 0) does not. For a
difference ``effect`` between the two modalities' mean figures of merit, with ``r`` readers and ``c`` cases:

* random readers and cases: ``den = var_tr + (c*/c)(var_error - cov1 + (r - 1) max(cov2 - cov3, 0))``,
  ``ddf = den^2 / ((var_tr + (c*/c)(var_error - cov1 - max(cov2 - cov3, 0)))^2 / (r - 1))``,
  noncentrality ``lambda = r effect^2 / (2 den)``, power ``P(F(1, ddf, lambda) > F_{1-alpha}(1, ddf))``;
* fixed readers (random cases): ``den`` without ``var_tr``, chi-square(1) test;
* fixed cases (random readers): ``den = var_tr + (c*/c)(var_error - cov1 - max(cov2 - cov3, 0))``, F(1, r - 1).

"Cases" are the pilot's unit of independence: patients when the pilot was analysed with ``cluster=``
(:meth:`ORResult.components` then reports ``n_cases_pilot`` = the number of clusters).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from vcfnet.stats._common import ResultMixin, check_alpha

ANALYSES = ("random", "fixed_readers", "fixed_cases")
_COMPONENTS = ("var_tr", "var_error", "cov1", "cov2", "cov3", "n_cases_pilot")


@dataclass(frozen=True)
class PowerResult(ResultMixin):
    """Power of the two-modality test for ``n_readers`` x ``n_cases`` (``df_den`` inf for fixed readers)."""

    power: float
    n_readers: int
    n_cases: int
    effect: float
    ncp: float
    df_den: float
    critical_value: float
    analysis: str
    alpha: float


@dataclass(frozen=True)
class SampleSizeResult(ResultMixin):
    """Smallest ``n_cases`` reaching ``target_power`` for each reader count (``None``: not within ``max_cases``)."""

    effect: float
    target_power: float
    analysis: str
    alpha: float
    rows: list[PowerResult] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)


def _components(pilot, overrides: dict) -> dict[str, float]:
    comp: dict = {}
    if pilot is not None:
        comp.update(pilot.components() if hasattr(pilot, "components") else dict(pilot))
    comp.update({k: v for k, v in overrides.items() if v is not None})
    missing = [k for k in _COMPONENTS if comp.get(k) is None]
    if missing:
        raise ValueError(f"power needs the pilot's OR components {list(_COMPONENTS)}; missing {missing} "
                         "(pass pilot=an ORResult, or the values as keywords)")
    out = {k: float(comp[k]) for k in _COMPONENTS}
    if not all(math.isfinite(v) for v in out.values()):
        raise ValueError(f"pilot components must be finite numbers, got {out}")
    if out["n_cases_pilot"] < 2:
        raise ValueError(f"n_cases_pilot must be >= 2, got {out['n_cases_pilot']:g}")
    return out


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


def mrmc_power(n_readers: int, n_cases: int, effect: float, *, pilot=None, var_tr: float | None = None,
               var_error: float | None = None, cov1: float | None = None, cov2: float | None = None,
               cov3: float | None = None, n_cases_pilot: float | None = None, analysis: str = "random",
               alpha: float = 0.05) -> PowerResult:
    """Power to detect a difference ``effect`` in mean FOM with ``n_readers`` readers and ``n_cases`` cases.

    Components from ``pilot`` (an :class:`ORResult` or a dict like ``ORResult.components()``) or keywords
    (keywords win). ``analysis``: ``"random"`` (readers and cases), ``"fixed_readers"``, ``"fixed_cases"``.

    Van Dyke pilot (OR-DBM MRMC jackknife components, 114 cases), 10 readers, 165 cases, effect 0.0438:

    >>> p = mrmc_power(10, 165, 0.043800322, var_tr=0.00020040252, var_error=0.00080228827, cov1=0.00034661371,
    ...                cov2=0.00034407483, cov3=0.00023902837, n_cases_pilot=114)
    >>> round(p.power, 4)
    0.8054
    """
    from scipy import stats as st

    alpha = check_alpha(alpha)
    if analysis not in ANALYSES:
        raise ValueError(f"Invalid analysis {analysis!r}. Only {', '.join(map(repr, ANALYSES))} are supported.")
    r = _check_count(n_readers, "n_readers", 2)
    c = _check_count(n_cases, "n_cases", 2)
    if not (isinstance(effect, (int, float)) and math.isfinite(effect)):
        raise ValueError(f"effect must be a finite number (difference in mean figure of merit), got {effect!r}")
    k = _components(pilot, dict(var_tr=var_tr, var_error=var_error, cov1=cov1, cov2=cov2, cov3=cov3,
                                n_cases_pilot=n_cases_pilot))
    scale = k["n_cases_pilot"] / c
    vtr = max(k["var_tr"], 0.0)
    d23 = max(k["cov2"] - k["cov3"], 0.0)
    if analysis == "random":
        den = vtr + scale * (k["var_error"] - k["cov1"] + (r - 1) * d23)
        ms_tr = vtr + scale * (k["var_error"] - k["cov1"] - d23)
        ddf = den ** 2 / (ms_tr ** 2 / (r - 1)) if ms_tr > 0 else float("inf")
    elif analysis == "fixed_readers":
        den = scale * (k["var_error"] - k["cov1"] + (r - 1) * d23)
        ddf = float("inf")
    else:
        den = vtr + scale * (k["var_error"] - k["cov1"] - d23)
        ddf = float(r - 1)
    if not den > 0:
        raise ValueError(f"the pilot components give a non-positive variance for the difference ({den:g}); "
                         "check var_error >= cov1")
    ncp = r * effect ** 2 / (2 * den)
    if math.isinf(ddf):
        crit = float(st.chi2.ppf(1 - alpha, 1))
        power = float(st.ncx2.sf(crit, 1, ncp)) if ncp > 0 else float(st.chi2.sf(crit, 1))
    else:
        crit = float(st.f.ppf(1 - alpha, 1, ddf))
        # scipy's ncf is wrong at ncp = 0 (sf = -0.95 for alpha 0.05), where the central F is exact
        power = float(st.ncf.sf(crit, 1, ddf, ncp)) if ncp > 0 else float(st.f.sf(crit, 1, ddf))
    return PowerResult(power, r, c, float(effect), float(ncp), float(ddf), crit, analysis, alpha)


def mrmc_sample_size(effect: float, *, pilot=None, n_readers=range(3, 16), target_power: float = 0.8,
                     max_cases: int = 5000, analysis: str = "random", alpha: float = 0.05,
                     **components) -> SampleSizeResult:
    """For each reader count, the fewest cases giving power >= ``target_power`` (the readers x cases grid).

    Components as for :func:`mrmc_power`. Power rises with the number of cases, so the search is a
    bisection between 2 and ``max_cases``; reader counts that cannot reach the target within ``max_cases``
    (the reader variance ``var_tr`` alone can cap the power) are listed in ``unreachable``.

    >>> s = mrmc_sample_size(0.043800322, n_readers=[10], var_tr=0.00020040252, var_error=0.00080228827,
    ...                      cov1=0.00034661371, cov2=0.00034407483, cov3=0.00023902837, n_cases_pilot=114)
    >>> [(row.n_readers, row.n_cases, round(row.power, 4)) for row in s.rows]
    [(10, 163, 0.8016)]
    """
    if not (isinstance(target_power, (int, float)) and 0 < target_power < 1):
        raise ValueError(f"target_power must be strictly between 0 and 1, got {target_power!r}")
    max_cases = _check_count(max_cases, "max_cases", 3)
    unknown = set(components) - set(_COMPONENTS)
    if unknown:
        raise ValueError(f"unknown component(s) {sorted(unknown)}; allowed are {list(_COMPONENTS)}")
    rows, unreachable = [], []
    for r in n_readers:
        def power(c: int, r: int = r) -> PowerResult:
            return mrmc_power(r, c, effect, pilot=pilot, analysis=analysis, alpha=alpha, **components)

        top = power(max_cases)
        if top.power < target_power:
            unreachable.append(int(r))
            continue
        lo, hi = 2, max_cases  # power(lo) may already suffice
        if power(lo).power >= target_power:
            rows.append(power(lo))
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if power(mid).power >= target_power:
                hi = mid
            else:
                lo = mid
        rows.append(power(hi))
    return SampleSizeResult(float(effect), float(target_power), analysis, check_alpha(alpha), rows, unreachable)
