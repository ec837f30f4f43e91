"""Wilson / Clopper-Pearson intervals against their formulas, McNemar against the binomial by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, chi2, norm

from vcfnet.stats import UndefinedMetricWarning, mcnemar_test, proportion_ci


def wilson(k, n, alpha=0.05):
    """Wilson (1927) score interval, written out."""
    z, p = norm.ppf(1 - alpha / 2), k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_wilson_published_example():
    r = proportion_ci(8, 10)
    assert (r.estimate, r.k, r.n, r.method) == (0.8, 8, 10, "wilson")
    assert r.ci_low == pytest.approx(0.4902, abs=1e-4) and r.ci_high == pytest.approx(0.9433, abs=1e-4)


@pytest.mark.parametrize("k,n", [(0, 1), (1, 1), (0, 10), (3, 7), (50, 51), (17, 263), (81, 263)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_matches_formula(k, n, alpha):
    r = proportion_ci(k, n, alpha=alpha)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson(k, n, alpha), abs=1e-12)


@pytest.mark.parametrize("k,n", [(1, 10), (5, 10), (9, 10), (30, 200)])
def test_clopper_pearson_matches_beta_quantiles(k, n):
    r = proportion_ci(k, n, method="clopper-pearson")
    assert r.ci_low == pytest.approx(beta.ppf(0.025, k, n - k + 1), abs=1e-10)
    assert r.ci_high == pytest.approx(beta.ppf(0.975, k + 1, n - k), abs=1e-10)


def test_clopper_pearson_edges_are_exact():
    r = proportion_ci(0, 10, method="clopper-pearson")
    assert r.ci_low == 0.0 and r.ci_high == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert round(r.ci_high, 4) == 0.3085
    full = proportion_ci(10, 10, method="clopper-pearson")
    assert full.ci_high == 1.0 and full.ci_low == pytest.approx(0.025 ** (1 / 10), abs=1e-12)


def test_no_cases_warns_and_gives_nan():
    with pytest.warns(UndefinedMetricWarning):
        r = proportion_ci(0, 0)
    assert math.isnan(r.estimate) and math.isnan(r.ci_low) and r.to_dict()["ci_high"] is None


@pytest.mark.parametrize("k,n,kwargs,match", [
    (5, 4, {}, "cannot exceed"), (-1, 4, {}, ">= 0"), (1.5, 4, {}, "whole number"), (True, 4, {}, "whole number"),
    (1, 4, {"method": "wald"}, "Invalid method 'wald'"), (1, 4, {"alpha": 0}, "alpha"),
])
def test_bad_counts_raise(k, n, kwargs, match):
    with pytest.raises(ValueError, match=match):
        proportion_ci(k, n, **kwargs)


def paired(b, c, both=5, neither=3):
    a = [1] * both + [1] * b + [0] * c + [0] * neither
    bb = [1] * both + [0] * b + [1] * c + [0] * neither
    return np.array(a), np.array(bb)


def exact_p(b, c):
    n, k = b + c, min(b, c)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


@pytest.mark.parametrize("b,c", [(4, 1), (0, 6), (7, 7), (12, 3), (1, 0)])
def test_exact_mcnemar_is_the_two_sided_binomial(b, c):
    r = mcnemar_test(*paired(b, c))
    assert (r.b, r.c, r.exact) == (b, c, True)
    assert r.statistic == min(b, c) and r.p_value == pytest.approx(exact_p(b, c), rel=1e-12)


@pytest.mark.parametrize("b,c", [(20, 10), (40, 25)])
def test_chi_square_mcnemar_with_continuity_correction(b, c):
    r = mcnemar_test(*paired(b, c))
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    assert r.exact is False and r.statistic == pytest.approx(stat) and r.p_value == pytest.approx(chi2.sf(stat, 1))


def test_exact_switches_off_at_25_discordant_pairs_unless_forced():
    assert mcnemar_test(*paired(14, 10)).exact is True
    assert mcnemar_test(*paired(15, 10)).exact is False
    forced = mcnemar_test(*paired(15, 10), exact=True)
    assert forced.exact is True and forced.p_value == pytest.approx(exact_p(15, 10))


def test_no_discordant_pairs():
    assert mcnemar_test(*paired(0, 0)).p_value == 1.0  # exact: no evidence of a difference
    with pytest.warns(UndefinedMetricWarning):
        r = mcnemar_test(*paired(0, 0), exact=False)  # statsmodels would say statistic inf, p 0
    assert math.isnan(r.statistic) and math.isnan(r.p_value)
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(mcnemar_test([], []).p_value)


def test_mcnemar_accepts_booleans_and_rejects_bad_input():
    r = mcnemar_test([True, True, False], [False, True, True])
    assert (r.b, r.c) == (1, 1)
    with pytest.raises(ValueError, match="paired"):
        mcnemar_test([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="booleans or 0/1"):
        mcnemar_test([1, 2], [1, 0])
