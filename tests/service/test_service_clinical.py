"""The service's age/sex fields (form first, then the DICOM header), refer + reason in every box answer."""
from __future__ import annotations

import json

import numpy as np
import pytest

ENCODING = {"columns": [{"name": "age", "kind": "numeric", "low": 50, "high": 90, "mean": 70, "sd": 10},
                        {"name": "sex", "kind": "categorical", "levels": ["F", "M"]}]}
PARAMS = {"a": np.eye(3).tolist(), "w": [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 3.0, 0]], "b": [0, 0, 0], "l2": 1.0}
RULE = {"rule": "refer_fraction", "value": 0.1, "threshold": 1.01, "confidence": "top-class probability",
        "split": "val", "n": 20, "refer_rate": 0.1, "answered_accuracy": 0.9}
BOX = [[80, 100, 170, 180]]


@pytest.fixture
def clinical_client(checkpoint, predictor, tmp_path):
    from fastapi.testclient import TestClient

    from vcfnet.predict import Predictor
    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    card = {**predictor.card, "referral": {"image": RULE, "clinical": RULE},
            "clinical": {"design": "stacker", "encoding": ENCODING, "image_inputs": "log softmax", "params": PARAMS,
                         "split": "val", "n_vertebrae": 20, "n_patients": 15}}
    mine = Predictor.from_model(predictor.model, card)
    return TestClient(create_app(Settings(checkpoint=checkpoint, upload_dir=tmp_path / "up"), predictor=mine))


@pytest.fixture
def dicom(media):
    def make(age="071Y", sex="M"):
        return media.dicom(identifiers={**media.identifiers, "PatientAge": age, "PatientSex": sex})
    return make


def _predict(client, image, **fields):
    return client.post("/api/v1/predict", files={"image": ("x.dcm", image, "application/dicom")},
                       data={"boxes": json.dumps(BOX), **fields})


def test_header_age_and_sex_prefill_and_feed_the_clinical_model(clinical_client, dicom):
    shown = clinical_client.post("/api/v1/display", files={"image": ("x.dcm", dicom(), "application/dicom")})
    assert shown.status_code == 200 and shown.json()["clinical"] == {"age": 71.0, "sex": "M"}
    r = _predict(clinical_client, dicom())
    assert r.status_code == 200, r.text
    image = r.json()["image"]
    assert image["clinical"]["source"] == {"age": "dicom header", "sex": "dicom header"} and image["clinical"]["used"]
    box = image["boxes"][0]
    assert box["model"] == "image+clinical" and box["refer"] is True     # threshold 1.01: every box is referred
    assert box["refer_reason"].startswith("refer:") and box["probabilities"]["pathological"] > \
        box["image_probabilities"]["pathological"]                           # a man: pathological up


def test_form_fields_override_the_header_and_bad_values_are_422(clinical_client, dicom):
    r = _predict(clinical_client, dicom(), age="60", sex="F")
    image = r.json()["image"]
    assert image["clinical"]["source"] == {"age": "form", "sex": "form"} and image["clinical"]["sex"] == "F"
    box = image["boxes"][0]
    assert box["probabilities"] == pytest.approx(box["image_probabilities"], abs=1e-9)   # F: the reference level
    out_of_range = _predict(clinical_client, dicom(), age="120").json()["image"]["boxes"][0]
    assert out_of_range["clinical_notes"] == ["age 120 is outside the training range 50-90: treated as missing"]
    for field, value in (("age", "old"), ("age", "-3"), ("sex", "X")):
        bad = _predict(clinical_client, dicom(), **{field: value})
        assert bad.status_code == 422 and f"{field} '" in bad.json()["error"]["message"]


def test_no_values_at_all_means_the_image_model(clinical_client, media):
    r = clinical_client.post("/api/v1/predict", files={"image": ("a.png", media.png(), "image/png")},
                             data={"boxes": json.dumps(BOX), "age": "", "sex": ""})
    image = r.json()["image"]
    assert not image["clinical"]["used"] and image["boxes"][0]["model"] == "image"


def test_an_image_only_checkpoint_still_says_refer(client, media):
    r = client.post("/api/v1/predict", files={"image": ("a.png", media.png(), "image/png")},
                    data={"boxes": json.dumps(BOX), "age": "70", "sex": "M"})
    box = r.json()["image"]["boxes"][0]
    assert box["refer"] is False and "no referral rule" in box["refer_reason"] and box["model"] == "image"
