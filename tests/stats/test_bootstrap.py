"""Bootstrap AUC: the vectorised weighted AUC against explicit resampled samples, the resampling
schemes (stratified by class; whole patients), redraws, and reproducibility."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vcfnet.stats import UndefinedMetricWarning, roc_auc, roc_auc_ci
from vcfnet.stats import bootstrap as bs


def test_weighted_auc_equals_auc_of_the_expanded_sample():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    y[:2] = [0, 1]
    s = rng.integers(0, 5, 30).astype(float)  # ties
    w = rng.integers(0, 4, size=(25, 30))
    w[:, :2] = 1
    got = bs.weighted_aucs(s, y, w)
    want = [roc_auc(np.repeat(y, row), np.repeat(s, row)) for row in w]
    np.testing.assert_allclose(got, want, atol=1e-12)
    np.testing.assert_allclose(bs.weighted_aucs(s, y, np.ones((1, 30))), [roc_auc(y, s)])


def test_weighted_auc_is_nan_when_a_replicate_lacks_a_class():
    y = np.array([0, 0, 1, 1])
    w = np.array([[1, 1, 0, 0], [0, 0, 2, 1], [1, 0, 0, 1]])
    out = bs.weighted_aucs(np.array([0.1, 0.2, 0.3, 0.4]), y, w)
    assert math.isnan(out[0]) and math.isnan(out[1]) and out[2] == 1.0


def test_stratified_replicates_keep_class_counts_and_cluster_replicates_keep_patients_whole():
    rng = np.random.default_rng(1)
    y = np.array([0] * 7 + [1] * 3)
    w = bs._stratified_weights((rng, rng), y, 200)
    assert np.all(w[:, y == 0].sum(axis=1) == 7) and np.all(w[:, y == 1].sum(axis=1) == 3)
    assert w.std(axis=0).min() > 0  # every case is actually resampled
    codes = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    cw = bs._cluster_weights(rng, codes, 4, 200)
    for g in range(4):
        assert np.all(cw[:, codes == g] == cw[:, codes == g][:, :1])  # same weight within a patient
    assert np.all(cw[:, [0, 3, 5, 6]].sum(axis=1) == 4)  # 4 patients drawn per replicate


def test_bootstrap_interval_is_reproducible_and_agrees_with_delong_on_large_samples():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 600)
    s = y * 1.2 + rng.normal(size=600)
    a = roc_auc_ci(y, s, method="bootstrap", n_boot=1000, seed=5)
    assert a == roc_auc_ci(y, s, method="bootstrap", n_boot=1000, seed=5)
    assert a != roc_auc_ci(y, s, method="bootstrap", n_boot=1000, seed=6)
    d = roc_auc_ci(y, s)
    assert a.auc == d.auc and a.n_boot == 1000 and a.n_groups is None and a.n_redrawn == 0
    assert a.se == pytest.approx(d.se, rel=0.15)
    assert a.ci_low == pytest.approx(d.ci_low, abs=0.015) and a.ci_high == pytest.approx(d.ci_high, abs=0.015)


def test_percentile_interval_and_se_come_from_the_replicates():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 80)
    s = y + rng.normal(size=80)
    r = roc_auc_ci(y, s, method="bootstrap", n_boot=300, seed=4, alpha=0.1)
    aucs, _, _ = bs.bootstrap_aucs(y, s, n_boot=300, seed=4)
    assert (r.ci_low, r.ci_high) == tuple(np.quantile(aucs, [0.05, 0.95]))
    assert r.se == pytest.approx(np.std(aucs, ddof=1))


def test_chunked_bootstrap_equals_one_block(monkeypatch):
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 50)
    s = y + rng.normal(size=50)
    groups = np.arange(50) // 2
    whole = [bs.bootstrap_aucs(y, s, n_boot=40, seed=1, groups=g)[0] for g in (groups, None)]
    monkeypatch.setattr(bs, "_CHUNK_CELLS", 50 * 7)  # 7 replicates per block
    chunked = [bs.bootstrap_aucs(y, s, n_boot=40, seed=1, groups=g)[0] for g in (groups, None)]
    for one, blocks in zip(whole, chunked):    # cluster and stratified: the same replicates, bit for bit
        assert blocks.shape == (40,) and np.all(np.isfinite(blocks))
        np.testing.assert_array_equal(one, blocks)
    assert not np.array_equal(whole[0], whole[1])


def test_cluster_bootstrap_redraws_one_class_replicates_and_counts_them():
    # 3 patients: one with only positives, two with only negatives. A replicate lacks positives with
    # probability (2/3)^3 and negatives with (1/3)^3: a third of the draws must be redrawn.
    y = np.array([1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.4, 0.5, 0.1, 0.3, 0.2])
    groups = np.array(["p1", "p1", "p2", "p2", "p3", "p3"])
    r = roc_auc_ci(y, s, method="bootstrap", groups=groups, n_boot=3000, seed=0)
    assert r.n_groups == 3 and r.n_boot == 3000 and math.isfinite(r.ci_low)
    assert r.n_redrawn / (r.n_redrawn + 3000) == pytest.approx(1 / 3, abs=0.02)


def test_cluster_bootstrap_gives_up_with_a_warning_when_replicates_are_mostly_unusable(monkeypatch):
    monkeypatch.setattr(bs, "_MAX_DRAW_FACTOR", 1)  # one round of draws only
    y = np.array([1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.4, 0.5, 0.1, 0.3, 0.2])
    with pytest.warns(UndefinedMetricWarning, match="replicates held both classes"):
        r = roc_auc_ci(y, s, method="bootstrap", groups=[1, 1, 2, 2, 3, 3], n_boot=500)
    assert r.auc == pytest.approx(7 / 8) and math.isnan(r.se) and math.isnan(r.ci_high)


def test_patients_with_one_case_each_behave_like_unstratified_case_resampling():
    rng = np.random.default_rng(12)
    y = rng.integers(0, 2, 300)
    s = y + rng.normal(size=300)
    c = roc_auc_ci(y, s, method="bootstrap", groups=np.arange(300), n_boot=1500)
    v = roc_auc_ci(y, s, method="bootstrap", n_boot=1500)
    assert c.n_groups == 300 and c.se == pytest.approx(v.se, rel=0.15)
