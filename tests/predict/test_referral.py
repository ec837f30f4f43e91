"""The Predictor's referral decision and its image+clinical answers (card fields made by hand)."""
from __future__ import annotations

import numpy as np
from predict_toys import TOY_BOXES, blob_crops, toy_pixels

from vcfnet.model.engine import predict_logits
from vcfnet.predict import Predictor

ENCODING = {"columns": [{"name": "age", "kind": "numeric", "low": 50, "high": 90, "mean": 70, "sd": 10},
                        {"name": "sex", "kind": "categorical", "levels": ["F", "M"]}]}
# image inputs: identity; clinical weights: a man pushes class 2 (pathological) up by 3
PARAMS = {"a": np.eye(3).tolist(), "w": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 3.0, 0]], "b": [0, 0, 0], "l2": 1.0}


def _rule(threshold: float) -> dict:
    return {"rule": "refer_fraction", "value": 0.25, "threshold": threshold, "confidence": "top-class probability",
            "split": "val", "n": 40, "refer_rate": 0.25, "answered_accuracy": 0.9}


def _predictor(blob_model, threshold: float) -> Predictor:
    model, card = blob_model
    return Predictor.from_model(model, {**card, "referral": {"image": _rule(threshold), "clinical": _rule(threshold)},
                                        "clinical": {"design": "stacker", "encoding": ENCODING,
                                                     "image_inputs": "log softmax", "params": PARAMS, "split": "val",
                                                     "n_vertebrae": 40, "n_patients": 30}})


def test_refer_exactly_below_the_threshold_with_the_reason(blob_model):
    model, _ = blob_model
    crops, _, _ = blob_crops(12, seed=3)
    conf = Predictor.from_model(*blob_model).predict_crops(crops).max(1)
    threshold = float(np.median(conf))
    answers = _predictor(blob_model, threshold).answer_crops(crops)
    assert answers.model == "image"
    np.testing.assert_array_equal(answers.refer, conf < threshold)
    for r, c, reason in zip(answers.refer, conf, answers.reasons):
        assert reason.startswith("refer:" if r else "answer:") and f"{c:.2f}" in reason
        assert "refers the 25% least certain of 40 validation vertebrae" in reason


def test_no_rule_means_no_referral_and_says_so(blob_model):
    crops, _, _ = blob_crops(3, seed=4)
    answers = Predictor.from_model(*blob_model).answer_crops(crops)
    assert not answers.refer.any() and all("no referral rule" in r for r in answers.reasons)


def test_clinical_values_move_the_answer_and_missing_ones_are_said(blob_model):
    model, _ = blob_model
    p = _predictor(blob_model, 0.0)
    crops, _, _ = blob_crops(4, seed=5)
    logits = predict_logits(model, crops).astype(np.float64)
    image = np.exp(logits - logits.max(1, keepdims=True))
    image /= image.sum(1, keepdims=True)
    men = p.answer_crops(crops, [{"age": 70, "sex": "M"}] * 4)
    women = p.answer_crops(crops, [{"age": 70, "sex": "F"}] * 4)
    assert men.model == "image+clinical" and np.all(men.proba[:, 2] > women.proba[:, 2])
    np.testing.assert_allclose(women.proba, image, rtol=1e-9)          # the reference level adds nothing
    np.testing.assert_allclose(men.image_proba, image, rtol=1e-9)
    odd = p.answer_crops(crops[:1], [{"age": 130, "sex": ""}])
    assert odd.notes[0] == ["age 130 is outside the training range 50-90: treated as missing",
                            "sex missing: treated as missing"]


def test_predict_on_a_radiograph_carries_refer_and_clinical(blob_model):
    p = _predictor(blob_model, 1.1)                  # above every confidence: every box is referred
    [a, b] = p.predict(toy_pixels(), TOY_BOXES[:2], clinical={"age": 75, "sex": "M"})
    assert a.refer and b.refer and a.model == "image+clinical" and set(a.image_probabilities) == set(a.probabilities)
    d = a.to_dict()
    assert d["refer"] is True and d["refer_reason"].startswith("refer:") and d["clinical_notes"] == []
    [c] = p.predict(toy_pixels(), TOY_BOXES[:1])
    assert c.model == "image"


def test_threshold_zero_never_refers(blob_model):
    crops, _, _ = blob_crops(5, seed=7)
    assert not _predictor(blob_model, 0.0).answer_crops(crops).refer.any()
