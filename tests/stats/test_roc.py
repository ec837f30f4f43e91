"""ROC/AUC/DeLong held against brute-force oracles written from the definitions (O(n^2) pair loops)."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import norm

from vcfnet.stats import UndefinedMetricWarning, delong_test, roc_auc, roc_auc_ci, roc_curve


def psi(x: float, y: float) -> float:
    """Kernel of the Mann-Whitney AUC: positive above negative 1, tie 1/2."""
    return 1.0 if x > y else 0.5 if x == y else 0.0


def brute_placements(y, s):
    xs = [v for v, t in zip(s, y) if t == 1]
    ys = [v for v, t in zip(s, y) if t == 0]
    v10 = [sum(psi(x, w) for w in ys) / len(ys) for x in xs]
    v01 = [sum(psi(x, w) for x in xs) / len(xs) for w in ys]
    auc = sum(psi(x, w) for x in xs for w in ys) / (len(xs) * len(ys))
    return auc, np.array(v10), np.array(v01)


def brute_delong_cov(y, sa, sb):
    """DeLong (1988) covariance of two AUCs from the placement values, loop by loop."""
    aa, a10, a01 = brute_placements(y, sa)
    ab, b10, b01 = brute_placements(y, sb)
    m, n = len(a10), len(a01)
    s10 = sum((a10[i] - aa) * (b10[i] - ab) for i in range(m)) / (m - 1)
    s01 = sum((a01[j] - aa) * (b01[j] - ab) for j in range(n)) / (n - 1)
    return aa, ab, s10 / m + s01 / n


def random_case(rng, n_max=40, tie_levels=6):
    n = int(rng.integers(4, n_max))
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    y[2:4] = [0, 1]  # at least 2 of each class, so DeLong's variance exists
    s = rng.integers(0, tie_levels, n).astype(float) + 0.3 * y  # many ties, some signal
    return y, s


@pytest.mark.parametrize("seed", range(20))
def test_auc_equals_share_of_correctly_ordered_pairs(seed):
    y, s = random_case(np.random.default_rng(seed))
    assert roc_auc(y, s) == pytest.approx(brute_placements(y, s)[0], abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_delong_variance_matches_definition(seed):
    y, s = random_case(np.random.default_rng(100 + seed))
    auc, _, var = brute_delong_cov(y, s, s)
    r = roc_auc_ci(y, s)
    assert r.auc == pytest.approx(auc, abs=1e-12)
    assert r.se == pytest.approx(math.sqrt(var), rel=1e-9)
    half = norm.ppf(0.975) * math.sqrt(var)
    assert r.ci_low == pytest.approx(max(0.0, auc - half), abs=1e-9)
    assert r.ci_high == pytest.approx(min(1.0, auc + half), abs=1e-9)
    assert (r.n_pos, r.n_neg, r.method) == (int(y.sum()), int((y == 0).sum()), "delong")


@pytest.mark.parametrize("seed", range(15))
def test_paired_delong_matches_definition(seed):
    rng = np.random.default_rng(200 + seed)
    y, sa = random_case(rng)
    sb = rng.integers(0, 4, y.size) + 0.5 * y * rng.random(y.size)
    aa, ab, cov_ab = brute_delong_cov(y, sa, sb)
    var = brute_delong_cov(y, sa, sa)[2] + brute_delong_cov(y, sb, sb)[2] - 2 * cov_ab
    t = delong_test(y, sa, sb, alpha=0.1)
    assert (t.auc_a, t.auc_b, t.diff) == pytest.approx((aa, ab, aa - ab), abs=1e-12)
    assert t.se == pytest.approx(math.sqrt(var), rel=1e-9)
    assert t.z == pytest.approx((aa - ab) / math.sqrt(var), rel=1e-9)
    assert t.p_value == pytest.approx(2 * norm.sf(abs(t.z)), rel=1e-9)
    assert (t.ci_low, t.ci_high) == pytest.approx((t.diff - norm.ppf(0.95) * t.se, t.diff + norm.ppf(0.95) * t.se))


def test_delong_test_is_antisymmetric_and_detects_a_real_difference():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 400)
    good, poor = y * 2.0 + rng.normal(size=400), y * 0.3 + rng.normal(size=400)
    ab, ba = delong_test(y, good, poor), delong_test(y, poor, good)
    assert ab.diff == pytest.approx(-ba.diff) and ab.p_value == pytest.approx(ba.p_value)
    assert ab.diff > 0.2 and ab.p_value < 1e-6 and ab.ci_low > 0


@pytest.mark.parametrize("seed", range(10))
def test_roc_curve_points_follow_the_definition(seed):
    y, s = random_case(np.random.default_rng(300 + seed))
    fpr, tpr, thr = roc_curve(y, s)
    assert thr[0] == np.inf and np.all(np.diff(thr) < 0)
    assert set(thr[1:]) == set(s)
    for f, t, c in zip(fpr, tpr, thr):
        assert t == pytest.approx(np.mean(s[y == 1] >= c)) and f == pytest.approx(np.mean(s[y == 0] >= c))
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
    assert area == pytest.approx(roc_auc(y, s))  # trapezoid area = pair AUC with ties


def test_roc_curve_matches_sklearn_without_dropping_points():
    skm = pytest.importorskip("sklearn.metrics")
    y, s = random_case(np.random.default_rng(9), n_max=200)
    for ours, theirs in zip(roc_curve(y, s), skm.roc_curve(y, s, drop_intermediate=False)):
        np.testing.assert_allclose(ours, theirs)


def test_exact_toy_cases():
    assert roc_auc([0, 0, 1, 1], [1, 2, 3, 4]) == 1.0
    assert roc_auc([0, 0, 1, 1], [4, 3, 2, 1]) == 0.0  # no automatic direction flip
    assert roc_auc([True, False, True], [0.5, 0.5, 0.5]) == 0.5  # booleans accepted, all pairs tied
    assert roc_auc([0, 1, 0, 1], [1, 2, 2, 3]) == pytest.approx(7 / 8)  # one tied pair of four
    with pytest.warns(UndefinedMetricWarning, match="zero width"):
        r = roc_auc_ci([0, 0, 0, 1, 1, 1], [1, 2, 3, 4, 5, 6])
    assert (r.auc, r.se, r.ci_low, r.ci_high) == (1.0, 0.0, 1.0, 1.0)  # as pROC


def test_constant_scores_give_half_and_no_interval():
    with pytest.warns(UndefinedMetricWarning, match="all scores are equal"):
        r = roc_auc_ci([0, 1, 0, 1], [0.3] * 4)
    assert r.auc == 0.5 and math.isnan(r.se) and math.isnan(r.ci_low) and math.isnan(r.ci_high)
    with pytest.warns(UndefinedMetricWarning, match="all scores are equal"):
        b = roc_auc_ci([0, 1, 0, 1], [0.3] * 4, method="bootstrap", n_boot=50)
    assert b.auc == 0.5 and math.isnan(b.ci_low)


@pytest.mark.parametrize("y,s", [([1, 1, 1], [0.1, 0.2, 0.3]), ([0, 0], [0.1, 0.2]), ([], [])])
def test_one_class_or_empty_warns_and_gives_nan(y, s):
    with pytest.warns(UndefinedMetricWarning, match="needs both classes"):
        assert math.isnan(roc_auc(y, s))
    for method in ("delong", "bootstrap"):
        with pytest.warns(UndefinedMetricWarning):
            r = roc_auc_ci(y, s, method=method)
        assert all(math.isnan(v) for v in (r.auc, r.se, r.ci_low, r.ci_high))
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(delong_test(y, s, s).p_value)
    with pytest.warns(UndefinedMetricWarning):
        fpr, tpr, _ = roc_curve(y, s)
    assert np.all(np.isnan(fpr)) or np.all(np.isnan(tpr))


def test_single_positive_has_auc_but_no_delong_variance():
    with pytest.warns(UndefinedMetricWarning, match="at least 2 positives"):
        r = roc_auc_ci([0, 0, 0, 1], [0.1, 0.5, 0.3, 0.4])
    assert r.auc == pytest.approx(2 / 3) and math.isnan(r.se) and math.isnan(r.ci_low)


def test_identical_scores_in_paired_test_warn_instead_of_inventing_a_p_value():
    y, s = random_case(np.random.default_rng(3))
    with pytest.warns(UndefinedMetricWarning, match="is 0"):
        t = delong_test(y, s, s)
    assert t.diff == 0.0 and math.isnan(t.z) and math.isnan(t.p_value) and math.isnan(t.ci_low)


@pytest.mark.parametrize("call,match", [
    (lambda: roc_auc([0, 2, 1], [1, 2, 3]), "only 0 and 1"),
    (lambda: roc_auc([0, 1, 1], [1, 2]), "has 2 values but y_true has 3"),
    (lambda: roc_auc([0, 1], [0.1, float("nan")]), "NaN at index 1"),
    (lambda: roc_auc([[0, 1]], [[0.1, 0.2]]), "must be 1-D"),
    (lambda: roc_auc(["a", "b"], [0.1, 0.2]), "0/1"),
    (lambda: roc_auc_ci([0, 1], [1, 2], method="wald"), "Invalid method 'wald'"),
    (lambda: roc_auc_ci([0, 1], [1, 2], groups=[1, 2]), "need method='bootstrap'"),
    (lambda: roc_auc_ci([0, 1], [1, 2], alpha=1.5), "alpha must be"),
    (lambda: roc_auc_ci([0, 1], [1, 2], method="bootstrap", n_boot=1), "n_boot must be"),
    (lambda: roc_auc_ci([0, 1], [1, 2], method="bootstrap", groups=[1]), "one group per case"),
    (lambda: roc_auc_ci([0, 1], [1, 2], method="bootstrap", groups=[1.0, np.nan]), "groups contains NaN"),
    (lambda: roc_auc_ci([0, 1], [1, 2], method="bootstrap", groups=["p1", None]), "groups contains None"),
    (lambda: delong_test([0, 1], [1, 2], [1, 2, 3]), "y_score_b has 3 values"),
])
def test_bad_input_raises_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_results_are_json_ready():
    with pytest.warns(UndefinedMetricWarning):
        d = roc_auc_ci([0, 1, 0, 1], [0.3] * 4).to_dict()
    assert d["auc"] == 0.5 and d["se"] is None and d["method"] == "delong"
    assert set(d) >= {"auc", "se", "ci_low", "ci_high", "method", "n_pos", "n_neg"}


def test_alpha_widens_and_narrows_the_interval():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 120)
    s = y + rng.normal(size=120)
    widths = [(r.ci_high - r.ci_low) for r in (roc_auc_ci(y, s, alpha=a) for a in (0.01, 0.05, 0.2))]
    assert widths[0] > widths[1] > widths[2]
    assert widths[1] == pytest.approx(2 * norm.ppf(0.975) * roc_auc_ci(y, s).se)


def test_brute_force_oracle_itself_on_a_hand_count():
    # 2 positives (3, 1) x 2 negatives (1, 0): pairs (3,1)=1, (3,0)=1, (1,1)=1/2, (1,0)=1 -> 3.5/4
    assert brute_placements([1, 1, 0, 0], [3, 1, 1, 0])[0] == 3.5 / 4
    assert list(itertools.chain(brute_placements([1, 1, 0, 0], [3, 1, 1, 0])[1])) == [1.0, 0.75]
