"""The Predictor without boxes: with a detector it finds, levels, measures and classifies every body
(``detect.pipeline`` through ``Predictor.predict``), and ``vcfnet predict --detector`` writes it.

A detector answering with the film's ground truth checks the chain against known answers (levels,
morphometry, the same probabilities as the manual-box path); a real one-batch detector checks the
command end to end."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from detector_toys import GroundTruthDetector, synthetic_film, tiny_detector, tiny_detector_film
from vcfnet.cli import main
from vcfnet.detect.morphometry import measure_spine
from vcfnet.errors import VcfnetError
from vcfnet.io import read_radiograph
from vcfnet.predict import Predictor
from vcfnet.predict_outputs import DETECTION_COLUMNS


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return synthetic_film(tmp_path_factory)


def test_no_boxes_with_a_detector_finds_measures_and_classifies_the_included(film, blob_model):
    path, im = film
    p = Predictor.from_model(*blob_model, detector=GroundTruthDetector(im))
    bodies = p.predict(path, gradcam=True)
    assert [b.level.level for b in bodies] == [vb.level for vb in im.vertebrae]      # counted from S1
    truth = measure_spine([(vb.level, b.detection.points) for vb, b in zip(im.vertebrae, bodies)], im.spacing)
    assert [b.morphometry.grade for b in bodies] == [m.grade for m in truth]
    assert all(b.morphometry.unit == "mm" for b in bodies)                          # the DICOM's PixelSpacing
    included = [b for b in bodies if b.morphometry.included]
    assert included and all(b.classified == bool(b.morphometry.included) for b in bodies)
    assert any(vb.fracture for vb, b in zip(im.vertebrae, bodies) if b.morphometry.included)
    # the answers are exactly those of the same boxes given by hand
    by_hand = p.predict(path, [b.box for b in included], gradcam=True)
    for b, h in zip(included, by_hand):
        assert b.probabilities == pytest.approx(h.probabilities) and b.window == h.window
        np.testing.assert_allclose(b.heatmap, h.heatmap, atol=1e-6)
        assert h.detection is None and h.morphometry is None                     # boxes: as before
    others = [b for b in bodies if not b.classified]
    assert others and all(b.heatmap is None and b.predicted == "" and not b.refer for b in others)
    assert all(b.refer_reason.startswith("measured only") for b in others)
    row = included[0].to_dict()
    assert row["score"] == 1.0 and row["level"] == included[0].level.level and row["classified"] is True
    assert row["morphometry"]["grade"] == included[0].morphometry.grade and len(row["points"]) == 6
    assert set(included[0].detection_row()) == set(DETECTION_COLUMNS)


def test_classify_all_none_and_the_whole_image_crop_without_a_detector(film, blob_model):
    path, im = film
    p = Predictor.from_model(*blob_model, detector=GroundTruthDetector(im), classify="all")
    assert all(b.classified for b in p.predict(path))
    assert not any(b.classified for b in p.predict(path, classify="none"))
    pixels = read_radiograph(path).pixels
    [whole] = Predictor.from_model(*blob_model).predict(pixels)             # no detector: one ready crop
    assert whole.box == (0.0, 0.0, float(pixels.shape[1]), float(pixels.shape[0])) and whole.detection is None
    with pytest.raises(VcfnetError, match="Invalid classify"):
        Predictor.from_model(*blob_model, detector=GroundTruthDetector(im), classify="fractured")
    with pytest.raises(VcfnetError, match="detector folder or an object with detect"):
        Predictor.from_model(*blob_model, detector=42)


def test_vcfnet_predict_with_a_detector_writes_every_body(blob_checkpoint, tmp_path_factory, tmp_path, capsys):
    detector = tiny_detector(tmp_path_factory)
    png = tiny_detector_film(detector)
    out = tmp_path / "bodies.json"
    args = ["predict", str(blob_checkpoint), str(png), "--detector", str(detector), "--score-threshold", "0",
            "--classify", "all"]
    assert main([*args, "--out", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert rows and "measured only" not in capsys.readouterr().out
    from vcfnet.detect.infer import Detector

    direct = Predictor(blob_checkpoint, detector=Detector(detector, score_threshold=0.0), classify="all").predict(png)
    assert len(rows) == len(direct) and [r["box"] for r in rows] == list(range(1, len(rows) + 1))
    for r, d in zip(rows, direct):
        assert [r[k] for k in ("x0", "y0", "x1", "y1")] == pytest.approx(list(d.box))
        assert r["level"] == d.level.level and r["score"] == pytest.approx(d.detection.score, abs=1e-4)
        assert r["grade"] == ("" if d.morphometry.grade is None else d.morphometry.grade)
        assert r["p_acute"] == pytest.approx(d.probabilities["acute"]) and r["classified"] is True
        assert r["unit"] == "px"                                                 # a PNG has no PixelSpacing
    table = tmp_path / "bodies.csv"
    assert main([*args[:-2], "--out", str(table)]) == 0                        # default: the included only
    lines = list(csv.DictReader(table.open()))
    assert len(lines) == len(rows) and set(DETECTION_COLUMNS) <= set(lines[0])
    for line in lines:
        assert (line["classified"] == "True") == (line["included"] == "True")
        assert (line["p_acute"] != "") == (line["classified"] == "True")


def test_no_boxes_and_no_detector_says_what_is_missing(blob_checkpoint, tmp_path_factory, tmp_path, capsys):
    png = tmp_path / "film.png"
    from PIL import Image

    Image.fromarray(np.zeros((40, 30), np.uint8)).save(png)
    assert main(["predict", str(blob_checkpoint), str(png), "--out", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert "film.png: no boxes to classify" in err and "--detector" in err and "vcfnet train-detector" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o.json").exists()
    assert main(["predict", str(blob_checkpoint), str(png), "--box", "1,1,9,9", "--detector", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
