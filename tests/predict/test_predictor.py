"""The Predictor on paths, Radiographs and arrays; boxes; errors; temperature; checkpoint round trip."""
from __future__ import annotations

import numpy as np
import pytest
from predict_toys import TOY_BOXES, S, blob_crops, toy_pixels, write_toy_radiograph

from vcfnet.errors import VcfnetError
from vcfnet.io import read_radiograph
from vcfnet.labels import CLASSES
from vcfnet.model.engine import predict_logits
from vcfnet.predict import BoxPrediction, Predictor
from vcfnet.preprocess import crop_roi


def _probs(results: list[BoxPrediction]) -> np.ndarray:
    return np.array([[r.probabilities[c] for c in CLASSES] for r in results])


def test_path_radiograph_and_array_give_the_same_answers(blob_checkpoint, tmp_path):
    png, _ = write_toy_radiograph(tmp_path)
    predictor = Predictor(blob_checkpoint)
    assert predictor.classes == CLASSES and predictor.input_size == S and predictor.card["input_size"] == S
    by_path = predictor.predict(png, TOY_BOXES)
    by_str = predictor.predict(str(png), TOY_BOXES)
    by_radiograph = predictor.predict(read_radiograph(png), TOY_BOXES)
    by_array = predictor.predict(toy_pixels(), TOY_BOXES)
    for other in (by_str, by_radiograph, by_array):
        np.testing.assert_array_equal(_probs(other), _probs(by_path))
    # the geometry matters: blob boxes read 'acute', the empty box 'chronic'
    assert [r.predicted for r in by_path] == ["acute", "chronic", "acute"]
    assert [r.box for r in by_path] == TOY_BOXES
    np.testing.assert_allclose(_probs(by_path).sum(axis=1), 1.0, atol=1e-9)


def test_each_box_is_predicted_from_its_own_crop(blob_checkpoint):
    predictor = Predictor(blob_checkpoint)
    pixels = toy_pixels()
    together = _probs(predictor.predict(pixels, TOY_BOXES))
    reversed_ = _probs(predictor.predict(pixels, TOY_BOXES[::-1]))[::-1]
    crops = np.stack([crop_roi(pixels, b, size=S) for b in TOY_BOXES])[:, None]
    np.testing.assert_allclose(together, predictor.predict_crops(crops), atol=1e-6)
    np.testing.assert_allclose(together, reversed_, atol=1e-6)


def test_whole_image_is_a_ready_crop_when_no_boxes(blob_model):
    model, card = blob_model
    predictor = Predictor.from_model(model, card)
    crops, labels, _ = blob_crops(2, seed=5)
    [r] = predictor.predict(crops[0, 0].astype(np.float32) / 255.0)
    assert r.box == (0.0, 0.0, float(S), float(S)) and r.window == (0, 0, S, S)
    np.testing.assert_allclose(_probs([r]), predictor.predict_crops(crops[:1]), atol=1e-6)
    [r8] = predictor.predict(crops[0, 0])          # uint8 arrays are read as /255
    np.testing.assert_allclose(_probs([r8]), _probs([r]), atol=1e-7)


@pytest.mark.parametrize("box, message", [
    ((200.0, 150.0, 260.0, 190.0), "outside the 240x200 image"),
    ((-1.0, 0.0, 30.0, 30.0), "outside"),
    ((50.0, 50.0, 50.0, 80.0), "empty"),
    ((1.0, 2.0, 3.0), "not four numbers"),
    (("a", 2, 3, 4), "not four numbers"),
])
def test_bad_box_is_a_clear_error(blob_model, box, message):
    predictor = Predictor.from_model(*blob_model)
    with pytest.raises(VcfnetError, match=message) as info:
        predictor.predict(toy_pixels(), [TOY_BOXES[0], box])
    assert "box 2" in str(info.value)


def test_bad_images_are_clear_errors(blob_model, tmp_path):
    predictor = Predictor.from_model(*blob_model)
    with pytest.raises(VcfnetError, match=r"within \[0, 1\]"):
        predictor.predict(np.full((80, 80), 2.0, np.float32))
    with pytest.raises(VcfnetError, match="2-D grey image"):
        predictor.predict(np.zeros((8, 8, 3), np.float32))
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    with pytest.raises(VcfnetError, match="broken.png"):
        predictor.predict(bad, [TOY_BOXES[0]])
    with pytest.raises(VcfnetError, match="crops must be"):
        predictor.predict_crops(np.zeros((2, 1, 32, 32), np.float32))


def test_temperature_divides_the_logits(blob_model):
    model, card = blob_model
    crops, _, _ = blob_crops(8, seed=6)
    logits = predict_logits(model, crops).astype(np.float64)
    scaled = Predictor.from_model(model, {**card, "temperature": 2.5}).predict_crops(crops)
    z = logits / 2.5
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(scaled, expected, rtol=1e-6)
    plain = Predictor.from_model(model, card).predict_crops(crops)
    assert not np.allclose(plain, scaled, atol=1e-3)                  # the temperature did something
    with pytest.raises(VcfnetError, match="temperature"):
        Predictor.from_model(model, {**card, "temperature": -1})


def test_checkpoint_round_trip_gives_identical_probabilities(blob_model, blob_checkpoint):
    crops, _, _ = blob_crops(8, seed=7)
    in_memory = Predictor.from_model(*blob_model).predict_crops(crops)
    np.testing.assert_allclose(Predictor(blob_checkpoint).predict_crops(crops), in_memory, atol=1e-6)
    assert Predictor(blob_checkpoint / "model.json").input_size == S


def test_not_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(VcfnetError, match="not a checkpoint"):
        Predictor(tmp_path)


def test_to_dict_is_json_ready(blob_model):
    import json

    [r] = Predictor.from_model(*blob_model).predict(toy_pixels(), [TOY_BOXES[0]])
    data = json.loads(json.dumps(r.to_dict()))
    assert data["box"] == list(TOY_BOXES[0]) and data["predicted"] == "acute"
    assert set(data["probabilities"]) == set(CLASSES)
