"""Grad-CAM on the grey-input VCFNet: it must point at the evidence, not just have the right shape."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from predict_toys import TOY_BOXES, S, blob_crops, toy_pixels

from vcfnet.errors import VcfnetError
from vcfnet.gradcam import GradCamExplainer, colorize, overlay_heatmap
from vcfnet.model.network import build_model, target_layer
from vcfnet.predict import Predictor


def _share_in_blob_half(heat: np.ndarray, side: np.ndarray) -> np.ndarray:
    left = heat[:, :, : S // 2].sum(axis=(1, 2))
    right = heat[:, :, S // 2:].sum(axis=(1, 2))
    return np.where(side == 0, left, right) / (left + right + 1e-12)


def test_heatmap_concentrates_on_the_blob_half(blob_model):
    model, card = blob_model
    crops, labels, side = blob_crops(48, seed=1)
    blob = labels == 0
    predictor = Predictor.from_model(model, card)
    assert (predictor.predict_crops(crops).argmax(1) == labels).mean() >= 0.95   # the model learnt it
    heat = predictor.explain(crops[blob], [0] * int(blob.sum()))
    assert heat.shape == (blob.sum(), S, S) and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    share = _share_in_blob_half(heat, side[blob])
    assert (share > 0.5).all(), np.round(share, 3)          # every map favours the blob's half
    assert np.median(share) > 0.62, np.round(share, 3)

    # control: the same check on an untrained network does not pass, so it measures something
    untrained = Predictor.from_model(build_model("resnet18", weights=None).eval(), card)
    control = _share_in_blob_half(untrained.explain(crops[blob], [0] * int(blob.sum())), side[blob])
    assert np.median(control) < np.median(share) - 0.1


def test_gradcam_through_predict_on_a_radiograph(blob_model):
    model, card = blob_model
    results = Predictor.from_model(model, card).predict(toy_pixels(), TOY_BOXES, gradcam=True)
    assert [r.predicted for r in results] == ["acute", "chronic", "acute"]
    first, third = results[0].heatmap, results[2].heatmap      # blob: left half, right half
    assert first[:, : S // 2].sum() > first[:, S // 2:].sum()
    assert third[:, S // 2:].sum() > third[:, : S // 2].sum()
    rgb = results[0].overlay()
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    full = results[0].overlay(full_image=True)
    assert full.shape == (200, 240, 3)
    x0, y0, x1, y1 = results[0].window
    outside = full.copy()
    outside[y0:y1, x0:x1] = 0
    assert (outside[..., 0] == outside[..., 1]).all()          # grey outside the box, colour inside
    assert not (full[y0:y1, x0:x1, 0] == full[y0:y1, x0:x1, 2]).all()


def test_no_heatmap_unless_asked(blob_model):
    model, card = blob_model
    [r] = Predictor.from_model(model, card).predict(toy_pixels(), [TOY_BOXES[0]])
    assert r.heatmap is None
    with pytest.raises(VcfnetError, match="gradcam=True"):
        r.overlay()


def test_explainer_leaves_the_served_model_untouched(blob_model):
    """Frozen parameters still give maps; no hooks or grads are left on the shared model."""
    model, card = blob_model
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        crops, labels, _ = blob_crops(12, seed=2)
        crops = crops[labels == 0][:4]                      # crops with a blob: evidence for class 0
        heat = GradCamExplainer(model)(crops, [0] * len(crops))
        assert heat.shape == (len(crops), S, S) and len(crops) >= 2 and (heat.max(axis=(1, 2)) > 0.99).all()
        layer = target_layer(model)
        assert not layer._forward_hooks and not layer._backward_hooks
        assert all(p.grad is None and not p.requires_grad for p in model.parameters())
    finally:
        for p in model.parameters():
            p.requires_grad_(True)


def test_concurrent_predictions_and_gradcam_match_serial(blob_model):
    model, card = blob_model
    predictor = Predictor.from_model(model, card)
    crops, _, _ = blob_crops(6, seed=3)
    expected_p = predictor.predict_crops(crops)
    expected_h = predictor.explain(crops, [0] * 6)
    got, errors = [], []

    def work(k: int) -> None:
        try:
            if k % 2:
                got.append(("p", predictor.predict_crops(crops)))
            else:
                got.append(("h", predictor.explain(crops, [0] * 6)))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for kind, value in got:
        np.testing.assert_allclose(value, expected_p if kind == "p" else expected_h, atol=1e-5)


def test_colormap_and_overlay_geometry():
    rgb = colorize(np.array([[0.0, 1.0]]))
    assert rgb.shape == (1, 2, 3) and rgb[0, 0].sum() < 30 and rgb[0, 1].sum() > 400   # inferno: dark -> bright
    pixels = np.full((10, 20), 0.5, dtype=np.float32)
    out = overlay_heatmap(pixels, (4, 2, 12, 8), np.ones((3, 3), np.float32), alpha=1.0)
    assert out.shape == (6, 8, 3)
    assert (out == colorize(np.ones((1, 1)))[0, 0]).all()
