"""Risk-coverage curve, AURC, referral thresholds and summaries against hand-computed cases."""
from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest

from vcfnet.stats import (
    UndefinedMetricWarning,
    aurc,
    coverage_points,
    fit_referral_threshold,
    referral_summary,
    risk_coverage_curve,
)

# five cases, confidences all distinct: .95 right, .9 wrong, .8 right, .6 right, .5 wrong
Y = [0, 0, 1, 1, 0]
P = [[.95, .05], [.1, .9], [.2, .8], [.4, .6], [.5, .5]]     # argmax of the last is 0 (first of a tie)
CONF = [.95, .9, .8, .6, .5]


def test_doctests():
    import vcfnet.stats.selective as mod

    assert doctest.testmod(mod).failed == 0


def test_curve_by_hand():
    # case 5: p = [.5, .5] -> argmax 0 = its label 0, so right; correct = [1, 0, 1, 1, 1]
    r = risk_coverage_curve(Y, P)
    assert r.threshold == [.95, .9, .8, .6, .5]
    assert r.coverage == [.2, .4, .6, .8, 1.0]
    assert r.accuracy == pytest.approx([1, 1 / 2, 2 / 3, 3 / 4, 4 / 5])
    assert r.n_answered == [1, 2, 3, 4, 5] and r.n == 5


def test_ties_enter_together():
    r = risk_coverage_curve([0, 1, 0], [[.7, .3], [.7, .3], [.6, .4]])
    assert r.coverage == pytest.approx([2 / 3, 1.0]) and r.accuracy == pytest.approx([1 / 2, 2 / 3])


def test_aurc_by_hand_and_tied_blocks():
    # risks at k = 1..5: 0, 1/2, 1/3, 1/4, 1/5 -> mean
    assert aurc(Y, P, n_boot=0)["aurc"] == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 5)
    # a tie block of two (risk 1/2) counts two steps: (1/2 + 1/2 + 1/3) / 3
    assert aurc([0, 1, 0], [[.7, .3], [.7, .3], [.6, .4]], n_boot=0)["aurc"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 3) / 3)


def test_aurc_bootstrap_interval_covers_and_is_reproducible():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], size=200)
    y = np.where(rng.random(200) < 0.7, p.argmax(1), rng.integers(0, 3, 200))
    groups = np.repeat(np.arange(100), 2)
    a = aurc(y, p, groups=groups, n_boot=200, seed=1)
    assert a["ci_low"] <= a["aurc"] <= a["ci_high"] and a["unit"] == "patient"
    assert aurc(y, p, groups=groups, n_boot=200, seed=1) == a


def test_no_cases_warns_and_gives_nan():
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(aurc([], np.zeros((0, 3)))["aurc"])
    assert risk_coverage_curve([], np.zeros((0, 3))).coverage == []


def test_refer_fraction_threshold_by_hand():
    t = fit_referral_threshold(Y, P, rule="refer_fraction", value=0.4)   # k = 2: refer .5 and .6
    assert t.threshold == pytest.approx((0.6 + 0.8) / 2)
    assert t.refer_rate == pytest.approx(0.4) and t.answered_accuracy == pytest.approx(2 / 3)
    assert fit_referral_threshold(Y, P, value=0.0).threshold == -math.inf


def test_target_accuracy_threshold_by_hand():
    # answered accuracy by threshold: .95 -> 1, .9 -> 1/2, .8 -> 2/3, .6 -> 3/4, .5 -> 4/5
    t = fit_referral_threshold(Y, P, rule="target_accuracy", value=0.9)      # only .95 keeps >= 0.9
    assert t.threshold == pytest.approx(0.95) and t.refer_rate == pytest.approx(0.8)
    assert t.answered_accuracy == 1.0 and t.reachable
    # the lowest threshold meeting the target wins, even past points that miss it (.9, .8)
    t = fit_referral_threshold([0, 0, 1, 1, 1], P, rule="target_accuracy", value=0.75)   # last case now wrong
    assert t.threshold == pytest.approx(0.6) and t.refer_rate == pytest.approx(0.2)
    t = fit_referral_threshold(Y, P, rule="target_accuracy", value=0.8)     # all five: 4/5
    assert t.threshold == pytest.approx(0.5) and t.refer_rate == 0.0


def test_unreachable_target_refers_everything():
    with pytest.warns(UndefinedMetricWarning):
        t = fit_referral_threshold([1, 1], [[.9, .1], [.8, .2]], rule="target_accuracy", value=0.5)
    assert not t.reachable and t.threshold == math.inf and t.refer_rate == 1.0


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="Invalid referral rule"):
        fit_referral_threshold(Y, P, rule="coin")
    with pytest.raises(ValueError, match="refer_fraction"):
        fit_referral_threshold(Y, P, value=1.0)


def test_referral_summary_per_class_by_hand():
    s = referral_summary(Y, P, 0.7, classes=["a", "b"])      # refer conf < .7: cases 4 (.6) and 5 (.5)
    assert s["n"] == 5 and s["n_referred"] == 2 and s["refer_rate"]["estimate"] == pytest.approx(0.4)
    assert s["answered_accuracy"]["k"] == 2 and s["answered_accuracy"]["n"] == 3
    a, b = s["per_class"]["a"], s["per_class"]["b"]
    assert (a["n"], a["n_referred"], a["answered_accuracy"]["k"], a["answered_accuracy"]["n"]) == (3, 1, 1, 2)
    assert (b["n"], b["n_referred"], b["answered_accuracy"]["k"], b["answered_accuracy"]["n"]) == (2, 1, 1, 1)
    same = referral_summary(Y, P, float("nan"), refer=[0, 0, 0, 1, 1], classes=["a", "b"])
    assert same["per_class"] == s["per_class"]


def test_coverage_points_take_the_first_point_reaching_each_coverage():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pts = coverage_points(Y, P, coverages=(0.5, 1.0))
    assert [p["coverage"] for p in pts] == [0.6, 1.0]
    assert (pts[0]["k"], pts[0]["n"]) == (2, 3) and pts[0]["ci_low"] < 2 / 3 < pts[0]["ci_high"]
