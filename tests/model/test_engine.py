"""The inference/evaluation engine against direct computations."""
import numpy as np
import pytest
import torch

from vcfnet.model.engine import evaluate, predict_logits, predict_proba, resolve_amp
from vcfnet.model.network import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(weights=None).eval()


@pytest.fixture(scope="module")
def crops():
    return np.random.default_rng(1).integers(0, 256, (7, 1, 32, 32), dtype=np.uint8)


def test_logits_match_a_direct_forward_and_do_not_depend_on_batch_size(model, crops):
    with torch.no_grad():
        direct = model(torch.from_numpy(crops).float() / 255).numpy()
    np.testing.assert_allclose(predict_logits(model, crops, batch_size=3), direct, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(predict_logits(model, crops, batch_size=3),
                               predict_logits(model, torch.from_numpy(crops), batch_size=256), rtol=1e-5, atol=1e-5)


def test_proba_is_softmax_of_logits_with_temperature(model, crops):
    logits = predict_logits(model, crops).astype(np.float64)
    p = predict_proba(model, crops)
    assert p.dtype == np.float64 and p.shape == (7, 3)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p, torch.softmax(torch.from_numpy(logits), 1).numpy(), rtol=1e-10)
    np.testing.assert_allclose(predict_proba(model, crops, temperature=2.0),
                               torch.softmax(torch.from_numpy(logits / 2.0), 1).numpy(), rtol=1e-10)


def test_proba_follows_the_rule_the_temperature_is_fitted_under(model, crops):
    """One softmax-with-temperature rule: the engine's is stats.apply_temperature, whose NLL
    (stats.calibration._nll) is what fit_temperature minimises."""
    from vcfnet.stats import apply_temperature
    from vcfnet.stats.calibration import _nll

    logits = predict_logits(model, crops).astype(np.float64)
    y = np.arange(len(crops)) % 3
    for t in (None, 0.5, 2.0):
        p = predict_proba(model, crops, temperature=t)
        np.testing.assert_array_equal(p, apply_temperature(logits, 1.0 if t is None else t))
        assert -np.log(p[np.arange(len(y)), y]).mean() == pytest.approx(_nll(logits, y, t or 1.0), rel=1e-12)


def test_keeps_training_mode_and_resizes_to_input_size(model, crops):
    model.train()
    predict_proba(model, crops[:2])
    assert model.training
    model.eval()
    model.input_size = 16
    try:
        small = torch.nn.functional.interpolate(torch.from_numpy(crops).float() / 255, size=(16, 16),
                                                mode="bilinear", antialias=True)
        with torch.no_grad():
            np.testing.assert_allclose(predict_logits(model, crops), model(small).numpy(), rtol=1e-5, atol=1e-5)
    finally:
        model.input_size = None


def test_evaluate_against_manual_cross_entropy(model, crops):
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    logits = predict_logits(model, crops).astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -logp[np.arange(7), labels].mean()
    out = evaluate(model, crops, labels)
    assert out["n"] == 7
    assert out["loss"] == pytest.approx(expected, rel=1e-9)
    assert out["accuracy"] == pytest.approx(np.mean(logits.argmax(1) == labels))


def test_empty_input_and_amp_choices(model):
    empty = np.zeros((0, 1, 32, 32), dtype=np.uint8)
    assert predict_proba(model, empty).shape == (0, 3)
    assert np.isnan(evaluate(model, empty, np.zeros(0, dtype=np.int64))["loss"])
    cpu = torch.device("cpu")
    assert resolve_amp("fp32", cpu) is None and resolve_amp("bf16", cpu) is torch.bfloat16


def test_bf16_inference_is_close_to_fp32(model, crops):
    p32 = predict_proba(model, crops)
    p16 = predict_proba(model, crops, amp_dtype=torch.bfloat16)
    np.testing.assert_allclose(p16, p32, atol=0.05)
