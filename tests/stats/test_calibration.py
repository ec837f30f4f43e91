"""Calibration metrics against loop implementations and constructed cases; temperature recovery."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vcfnet.stats import (
    UndefinedMetricWarning,
    apply_temperature,
    brier_score,
    expected_calibration_error,
    fit_temperature,
    reliability_curve,
)
from vcfnet.stats.calibration import _nll


def random_proba(rng, n=300, k=3):
    z = rng.normal(scale=1.5, size=(n, k))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return rng.integers(0, k, n), p


def test_brier_is_the_mean_summed_squared_error_of_the_one_hot():
    y, p = random_proba(np.random.default_rng(0))
    want = np.mean([sum((p[i, k] - (y[i] == k)) ** 2 for k in range(3)) for i in range(len(y))])
    assert brier_score(y, p) == pytest.approx(want)
    assert brier_score([0, 1, 2], np.eye(3)) == 0.0 and brier_score([1, 2, 0], np.eye(3)) == 2.0


def test_binary_brier_matches_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y, p1 = rng.integers(0, 2, 200), rng.random(200)
    assert brier_score(y, p1) == pytest.approx(skm.brier_score_loss(y, p1))
    assert brier_score(y, np.column_stack([1 - p1, p1])) == pytest.approx(2 * skm.brier_score_loss(y, p1))


def loop_ece(y, p, n_bins):
    """ECE written out: right-closed bins (lo, hi], confidence 0 in the first bin."""
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [i for i in range(len(y)) if (lo < conf[i] <= hi) or (b == 0 and conf[i] == 0)]
        if inside:
            acc = np.mean([pred[i] == y[i] for i in inside])
            total += len(inside) / len(y) * abs(acc - np.mean(conf[inside]))
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_ece_matches_loop(n_bins):
    y, p = random_proba(np.random.default_rng(2))
    assert expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(loop_ece(y, p, n_bins))


def test_ece_of_constructed_cases():
    # Confidence 0.8 on 10 cases of which 8 are right, and 0.6 on 5 with 3 right: perfectly calibrated.
    p = np.array([[0.8, 0.1, 0.1]] * 10 + [[0.2, 0.6, 0.2]] * 5)
    y = np.array([0] * 8 + [2] * 2 + [1] * 3 + [0] * 2)
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)
    # Confidence 0.9, accuracy 0.6: ECE 0.3.
    y_bad = np.array([0] * 6 + [1] * 4)
    assert expected_calibration_error(y_bad, np.array([[0.9, 0.05, 0.05]] * 10)) == pytest.approx(0.3)


def test_reliability_curve_top_label_and_binary():
    p = np.array([[0.8, 0.1, 0.1]] * 10 + [[0.2, 0.6, 0.2]] * 5)
    y = np.array([0] * 8 + [2] * 2 + [1] * 3 + [0] * 2)
    conf, acc, count = reliability_curve(y, p, n_bins=10)
    assert count.tolist() == [0] * 5 + [5, 0, 10, 0, 0]  # 0.6 in (0.5, 0.6], 0.8 in (0.7, 0.8]
    assert conf[5] == pytest.approx(0.6) and acc[5] == pytest.approx(0.6) and acc[7] == pytest.approx(0.8)
    assert np.isnan(conf[0]) and np.isnan(acc[9])
    calib = pytest.importorskip("sklearn.calibration")
    rng = np.random.default_rng(3)
    p1 = rng.random(500)
    yb = (rng.random(500) < p1 ** 2).astype(int)
    conf, acc, count = reliability_curve(yb, p1, n_bins=10)
    frac_pos, mean_pred = calib.calibration_curve(yb, p1, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(conf[count > 0], mean_pred)
    np.testing.assert_allclose(acc[count > 0], frac_pos)
    assert count.sum() == 500


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_temperature_scaling_recovers_a_known_temperature(true_t):
    rng = np.random.default_rng(4)
    calibrated = rng.normal(scale=2.0, size=(6000, 3))
    y = np.argmax(calibrated + rng.gumbel(size=calibrated.shape), axis=1)  # y ~ softmax(calibrated)
    t = fit_temperature(calibrated * true_t, y)
    assert t == pytest.approx(true_t, rel=0.05)
    nll = _nll(calibrated * true_t, y, t)
    assert nll <= _nll(calibrated * true_t, y, t * 1.02) and nll <= _nll(calibrated * true_t, y, t / 1.02)
    fixed = apply_temperature(calibrated * true_t, t)
    raw = apply_temperature(calibrated * true_t, 1.0)
    assert expected_calibration_error(y, fixed) < expected_calibration_error(y, raw)


def test_apply_temperature_is_a_softmax():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]])
    p = apply_temperature(z, 2.0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], np.exp([0.5, 1.0, 1.5]) / np.exp([0.5, 1.0, 1.5]).sum())
    np.testing.assert_allclose(p[1], 1 / 3) and np.testing.assert_allclose(p[2], [1, 0, 0], atol=1e-200)
    assert np.all(np.isfinite(p))


def test_no_finite_temperature_warns_and_gives_nan():
    z = np.array([[5.0, 0.0], [0.0, 5.0]] * 10)
    with pytest.warns(UndefinedMetricWarning, match="T -> 0"):
        assert math.isnan(fit_temperature(z, [0, 1] * 10))  # all correct: NLL falls for ever as T -> 0
    assert _nll(z, np.array([0, 1] * 10), 1.0) < _nll(z, np.array([0, 1] * 10), 2.0)
    with pytest.warns(UndefinedMetricWarning, match="infinity"):
        assert math.isnan(fit_temperature(z, [1, 0] * 10))  # logits point the wrong way
    # One mistake among many correct cases: a finite optimum exists again.
    y = np.array([0, 1] * 10)
    y[0] = 1
    t = fit_temperature(z, y)
    assert 0.1 < t < 10 and _nll(z, y, t) < min(_nll(z, y, t * 1.05), _nll(z, y, t / 1.05))


def test_empty_input_warns_and_gives_nan():
    for f in (brier_score, expected_calibration_error):
        with pytest.warns(UndefinedMetricWarning):
            assert math.isnan(f(np.zeros(0, int), np.zeros((0, 3))))
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(fit_temperature(np.zeros((0, 3)), np.zeros(0, int)))


@pytest.mark.parametrize("call,match", [
    (lambda: brier_score([0, 1], [[0.5, 0.5]]), "1 rows but y_true has 2"),
    (lambda: brier_score([0, 3], [[0.5, 0.5], [1, 0]]), "class index 3"),
    (lambda: expected_calibration_error([0], [[0.5, 0.5]], n_bins=0), "n_bins"),
    (lambda: reliability_curve([0, 1], [0.2, 1.2]), r"\[0, 1\]"),
    (lambda: fit_temperature([[1.0, np.nan]], [0]), "NaN"),
    (lambda: fit_temperature([1.0, 2.0], [0, 1]), "2-D"),
    (lambda: fit_temperature([[1.0, 2.0]], [0, 1]), "1 rows but y_true has 2"),
    (lambda: apply_temperature([[1.0, 2.0]], 0.0), "temperature must be"),
    (lambda: apply_temperature([[1.0, 2.0]], float("nan")), "temperature must be"),
])
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
