"""Weighted kappa equals scikit-learn's cohen_kappa_score; its bootstrap interval behaves."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from vcfnet.stats import UndefinedMetricWarning
from vcfnet.stats.agreement import weighted_kappa, weighted_kappa_ci


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_equals_sklearn(weights):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, 300)
    b = np.clip(a + rng.integers(-1, 2, 300) * (rng.random(300) < 0.4), 0, 3)
    assert weighted_kappa(a, b, weights=weights) == pytest.approx(cohen_kappa_score(a, b, weights=weights))
    assert weighted_kappa(a[:7], b[:7], weights=weights) == pytest.approx(
        cohen_kappa_score(a[:7], b[:7], weights=weights))


def test_by_hand_and_labels_order():
    # grades 0/1 on 4 cases, one disagreement: p_o = 3/4, p_e = (3/4*1/2 + 1/4*1/2) = 1/2 -> 0.5
    assert weighted_kappa([0, 0, 0, 1], [0, 0, 1, 1], weights=None) == pytest.approx(0.5)
    # a category nobody used still sets the distances: 0 vs 3 is further than 0 vs 1
    near = weighted_kappa([0, 1, 0, 1], [0, 1, 1, 0], weights="linear", labels=[0, 1, 2, 3])
    assert near == pytest.approx(cohen_kappa_score([0, 1, 0, 1], [0, 1, 1, 0], weights="linear", labels=[0, 1, 2, 3]))
    with pytest.raises(ValueError, match="not one of the labels"):
        weighted_kappa([0, 5], [0, 1], labels=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="Invalid weights"):
        weighted_kappa([0, 1], [0, 1], weights="cubic")


def test_interval_covers_the_estimate_and_groups_widen_it():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 4, 200))
    r = weighted_kappa_ci(a, b, weights="quadratic", n_boot=500, seed=1)
    assert r.ci_low < r.estimate < r.ci_high and r.n == 200 and r.n_undefined == 0
    # ten cases per patient, all alike within a patient: fewer independent units, a wider interval
    g = np.repeat(np.arange(20), 10)
    a2, b2 = np.repeat(a[:20], 10), np.repeat(b[:20], 10)
    wide = weighted_kappa_ci(a2, b2, weights="quadratic", groups=g, n_boot=500, seed=1)
    narrow = weighted_kappa_ci(a2, b2, weights="quadratic", n_boot=500, seed=1)
    assert wide.estimate == narrow.estimate
    assert wide.ci_high - wide.ci_low > 1.5 * (narrow.ci_high - narrow.ci_low)
    assert r.to_dict()["weights"] == "quadratic"


def test_undefined_kappa_warns_and_is_nan():
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(weighted_kappa([1, 1, 1], [1, 1, 1]))
    with pytest.warns(UndefinedMetricWarning):
        r = weighted_kappa_ci([], [])
    assert np.isnan(r.estimate) and np.isnan(r.ci_low)
