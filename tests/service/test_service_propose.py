"""Proposals: a service started with a detector answers POST /api/v1/propose with every body (box, level,
morphometry, whether it meets the inclusion rule), bounded by max_boxes; the accepted boxes classify
through the existing predict path; without a detector the endpoint says how to start one."""
from __future__ import annotations

from pathlib import Path

import pytest

from detector_toys import GroundTruthDetector, synthetic_film, tiny_detector, tiny_detector_film
from vcfnet.cli import main
from vcfnet.detect.morphometry import measure_spine


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return synthetic_film(tmp_path_factory)


@pytest.fixture
def propose_client(checkpoint, film, tmp_path):
    from fastapi.testclient import TestClient

    from vcfnet.predict import Predictor
    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    def make(**overrides):
        predictor = Predictor(checkpoint, detector=GroundTruthDetector(film[1]))
        return TestClient(create_app(Settings(checkpoint=checkpoint, upload_dir=tmp_path / "up", **overrides),
                                     predictor=predictor)), predictor
    return make


def _upload(path: Path):
    return {"image": ("film.dcm", path.read_bytes(), "application/dicom")}


def test_propose_returns_every_body_measured_and_the_accepted_boxes_classify_as_drawn(propose_client, film):
    import json

    path, im = film
    client, predictor = propose_client()
    r = client.post("/api/v1/propose", files=_upload(path))
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["found"] == len(im.vertebrae) and (d["width"], d["height"]) == (im.width, im.height)
    assert [b["level"] for b in d["bodies"]] == [vb.level for vb in im.vertebrae]
    truth = measure_spine([(vb.level, b["points"]) for vb, b in zip(im.vertebrae, d["bodies"])], im.spacing)
    assert [b["morphometry"]["grade"] for b in d["bodies"]] == [m.grade for m in truth]
    assert [b["proposed"] for b in d["bodies"]] == [m.included is True for m in truth]
    assert all(b["morphometry"]["unit"] == "mm" for b in d["bodies"])
    assert "probabilities" not in d["bodies"][0]                                # proposals are not classified
    accepted = [b["box"] for b in d["bodies"] if b["proposed"]]
    assert accepted
    answer = client.post("/api/v1/predict", files=_upload(path), data={"boxes": json.dumps(accepted)}).json()
    direct = predictor.predict(path, accepted)
    for got, want in zip(answer["image"]["boxes"], direct):
        assert got["probabilities"] == pytest.approx(want.probabilities)
    assert client.post("/api/v1/propose", files={"image": ("x.png", b"not an image", "image/png")}).status_code == 415


def test_proposals_are_bounded_by_max_boxes_and_a_service_without_a_detector_says_how(propose_client, film, client):
    path, im = film
    bounded, _ = propose_client(max_boxes=2)
    d = bounded.post("/api/v1/propose", files=_upload(path)).json()
    assert d["found"] == len(im.vertebrae) and len(d["bodies"]) == 2 and [b["index"] for b in d["bodies"]] == [1, 2]
    r = client.post("/api/v1/propose", files=_upload(path))
    assert r.status_code == 404 and "vcfnet serve --detector" in r.json()["error"]["message"]
    assert "Propose boxes" not in client.get("/").text and "detector only" not in client.get("/").text
    assert "/api/v1/propose" in client.get("/openapi.json").text


def test_a_service_started_with_a_detector_folder_proposes(checkpoint, tmp_path_factory, tmp_path, capsys):
    from fastapi.testclient import TestClient

    from vcfnet.detect.model import DETECT_LEVELS
    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings, load_settings

    detector = tiny_detector(tmp_path_factory)
    settings = load_settings(None, env={"VCFNET_DETECTOR_SCORE_THRESHOLD": "0"}, checkpoint=checkpoint,
                             detector=detector, upload_dir=tmp_path / "up")
    client = TestClient(create_app(settings))                        # loads the checkpoint and the detector
    page = client.get("/").text
    assert "Propose boxes" in page and "detector only proposes boxes" in page
    film = tiny_detector_film(detector)
    d = client.post("/api/v1/propose", files={"image": ("f.png", film.read_bytes(), "image/png")}).json()
    assert d["found"] >= len(d["bodies"]) > 0 and len(d["bodies"]) <= settings.max_boxes
    assert all(b["level"] == "uncertain" or b["level"] in DETECT_LEVELS for b in d["bodies"])
    with pytest.raises(Exception, match="detector_score_threshold must be within 0..1"):
        Settings(checkpoint=checkpoint, detector_score_threshold=1.5).check()
    assert main(["serve", "--checkpoint", str(checkpoint), "--detector", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "is not a folder; make one with `vcfnet train-detector`" in err and len(err.strip().splitlines()) == 1
