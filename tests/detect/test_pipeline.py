"""detect -> levels -> morphometry -> classify, on a synthetic film, through a real (toy) Predictor.

The detector here answers with the film's ground truth (``vertebrae.json``), so every other stage is
checked against known answers: the levels counted from S1, the morphometry of the ground-truth
landmarks, and the Predictor's own answers for exactly the bodies that meet the inclusion rule."""
from __future__ import annotations

import numpy as np
import pytest

from detector_toys import GroundTruthDetector, synthetic_film
from vcfnet.detect.coco import FILENAME, read_coco
from vcfnet.detect.infer import Detection
from vcfnet.detect.model import points_from_box
from vcfnet.detect.morphometry import measure_spine
from vcfnet.detect.pipeline import detect_and_classify
from vcfnet.errors import VcfnetError
from vcfnet.io import read_radiograph
from vcfnet.labels import CLASSES
from vcfnet.preprocess import PREPROCESSING_VERSION


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return synthetic_film(tmp_path_factory)


@pytest.fixture(scope="module")
def predictor():
    import torch

    from vcfnet.model.network import build_model
    from vcfnet.predict import Predictor

    torch.manual_seed(0)
    card = {"classes": list(CLASSES), "input_size": 64, "crop_size": 64, "crop_margin": 0.1,
            "temperature": None, "preprocessing_version": PREPROCESSING_VERSION}
    return Predictor.from_model(build_model("resnet18", weights=None), card)


def test_every_body_gets_its_level_morphometry_and_the_included_ones_the_predictors_answer(film, predictor):
    path, im = film
    detector = GroundTruthDetector(im)
    findings = detect_and_classify(path, detector, predictor)
    assert [f.level.level for f in findings] == [vb.level for vb in im.vertebrae]
    given = detector.detect(read_radiograph(path).pixels)
    expected = measure_spine([(d.seen, d.points) for d in given], im.spacing)
    assert [f.morphometry.grade for f in findings] == [m.grade for m in expected]
    assert all(f.morphometry.unit == "mm" for f in findings)           # PixelSpacing from the DICOM header
    chosen = [f for f in findings if f.morphometry.included]
    assert chosen and all(f.classified == bool(f.morphometry.included) for f in findings)
    assert all(f.refer_reason.startswith("measured only") and not f.probabilities for f in findings if not f.classified)
    # the collapsed bodies of this film meet the rule (a drawn loss can be as small as 12 %, below it), and
    # the answers are the Predictor's own
    assert any(vb.fracture for vb, f in zip(im.vertebrae, findings) if f.morphometry.included)
    direct = predictor.predict(read_radiograph(path), [f.box for f in chosen])
    for f, d in zip(chosen, direct):
        assert f.probabilities == pytest.approx(d.probabilities) and f.window == d.window
    row = chosen[0].to_dict()
    assert set(row["probabilities"]) == set(CLASSES) and row["level"] == chosen[0].level.level
    assert row["morphometry"]["grade"] == chosen[0].morphometry.grade and len(row["points"]) == 6


def test_without_a_predictor_it_measures_only_and_bad_options_are_one_line(film):
    path, im = film
    findings = detect_and_classify(path, GroundTruthDetector(im), None, classify="all")
    assert not any(f.classified for f in findings) and len(findings) == len(im.vertebrae)
    pixels = read_radiograph(path).pixels
    no_spacing = detect_and_classify(pixels, GroundTruthDetector(im))
    assert all(f.morphometry.unit == "px" for f in no_spacing)
    with pytest.raises(VcfnetError, match="Invalid classify"):
        detect_and_classify(np.zeros((4, 4), np.float32), GroundTruthDetector(im), classify="some")



def test_landmarks_past_the_edge_are_not_measured(film, predictor):
    """A body the detector's landmarks put partly outside the film (cut by the edge) is not graded and not
    classified as meeting the rule; its neighbours are measured against the others."""
    path, im = film
    pixels = read_radiograph(path).pixels
    truth = GroundTruthDetector(im).detect(pixels)

    class CutTop:
        def detect(self, px):
            top = truth[0]
            x0, y0, x1, y1 = top.box
            moved = tuple((x, y - y1 - 5.0) if k < 3 else (x, y) for k, (x, y) in enumerate(top.points))
            return [Detection((x0, 0.0, x1, y1), top.score, top.seen, moved, top.points_from), *truth[1:]]

    cut = detect_and_classify(path, CutTop(), predictor)
    whole = detect_and_classify(path, GroundTruthDetector(im), predictor)
    assert cut[0].morphometry.grade is None and cut[0].morphometry.included is None
    assert "could not be measured" in cut[0].refer_reason
    assert cut[0].detection.points[0][1] < 0                       # the detection itself keeps what it said
    assert [f.morphometry.grade for f in cut[2:]] == [f.morphometry.grade for f in whole[2:]]


class ReplayDetector:
    """Answers film after film with the annotated bodies, each shifted ``dx`` pixels to the right; a landmark
    the annotation does not have (a body cut by the film's edge) it puts past that edge, as a perfect detector
    would, so the body is not measured, as on the annotation."""

    def __init__(self, images, dx=0.0):
        self.queue, self.dx = list(images), dx

    def detect(self, pixels):
        im = self.queue.pop(0)
        assert pixels.shape == (im.height, im.width)
        out = []
        for vb in im.vertebrae:
            x0, y0, x1, y1 = vb.box
            pts = tuple(p if p is not None else (q[0], -10.0 if q[1] < im.height / 2 else im.height + 10.0)
                        for p, q in zip(vb.points, points_from_box(vb.box)))
            out.append(Detection((x0 + self.dx, y0, x1 + self.dx, y1), 0.9, vb.level,
                                 tuple((x + self.dx, y) for x, y in pts), "keypoints"))
        return out


@pytest.mark.parametrize("dx", [0.0, 2.0])
def test_evaluation_of_a_perfect_and_a_shifted_detector(film, dx):
    from vcfnet.detect.evaluate import evaluate_detector

    path, _ = film
    coco = path.parent / FILENAME
    images = read_coco(coco)
    r = evaluate_detector(ReplayDetector(images, dx), [coco])
    assert r["images"] == len(images) and r["matched_bodies"] == r["bodies"] > 50
    assert r["sensitivity_at_0.5fp_all"] == 1.0 and r["sensitivity_at_0.5fp_fractured"] == 1.0
    assert r["ap50"] == 1.0 and r["map50_levels"] == 1.0 and r["level_accuracy"] == 1.0
    assert r["landmark_error_unit"] == "mm"
    assert r["landmark_error_median"] == pytest.approx(dx * images[0].spacing[1])
    if dx == 0:
        assert r["genant_kappa_linear"] == 1.0 and r["genant_pairs"] > 50
