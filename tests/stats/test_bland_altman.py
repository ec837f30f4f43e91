"""Bland-Altman bias and limits of agreement against a case computed by hand."""
from __future__ import annotations

import math

import pytest

from vcfnet.stats._common import UndefinedMetricWarning
from vcfnet.stats.agreement import bland_altman


def test_bland_altman_matches_the_hand_computed_case():
    # d = a - b = 0, 1, 1, 1: mean 0.75; sum of squared deviations 0.5625 + 3 * 0.0625 = 0.75, / 3 -> s = 0.5
    r = bland_altman([1.0, 2.0, 3.0, 4.0, float("nan")], [1.0, 1.0, 2.0, 3.0, 7.0])
    assert r.n == 4 and r.bias == pytest.approx(0.75) and r.sd == pytest.approx(0.5)
    z, t3 = 1.959964, 3.182446                       # normal 0.975 quantile; Student's t, 3 df, 0.975
    assert r.loa_low == pytest.approx(0.75 - z * 0.5, abs=1e-6)
    assert r.loa_high == pytest.approx(0.75 + z * 0.5, abs=1e-6)
    se_bias, se_loa = 0.5 / 2, 0.5 * math.sqrt(3 / 4)
    assert (r.bias_ci_low, r.bias_ci_high) == pytest.approx((0.75 - t3 * se_bias, 0.75 + t3 * se_bias), abs=1e-6)
    assert (r.loa_high_ci_low, r.loa_high_ci_high) == pytest.approx(
        (r.loa_high - t3 * se_loa, r.loa_high + t3 * se_loa), abs=1e-6)
    assert (r.loa_low_ci_low, r.loa_low_ci_high) == pytest.approx(
        (r.loa_low - t3 * se_loa, r.loa_low + t3 * se_loa), abs=1e-6)
    assert r.to_dict()["bias"] == pytest.approx(0.75)


def test_bland_altman_undefined_with_one_pair_and_checks_lengths():
    with pytest.warns(UndefinedMetricWarning):
        r = bland_altman([1.0], [0.5])
    assert r.n == 1 and r.bias == pytest.approx(0.5) and math.isnan(r.loa_high)
    with pytest.raises(ValueError, match="one value each"):
        bland_altman([1.0, 2.0], [1.0])
