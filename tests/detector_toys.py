"""Helpers for the tests of the Predictor without boxes (``Predictor(..., detector=...)``), the service's
proposals and the pipeline: a synthetic film with its ground truth, a detector that answers with that
ground truth (so every later stage is checked against known answers), and a real one-batch detector.

``import detector_toys`` from any test module: pytest puts tests/ (the folder of the top conftest.py) on
sys.path."""
from __future__ import annotations

from pathlib import Path

from vcfnet.detect.coco import FILENAME, read_coco
from vcfnet.detect.infer import Detection
from vcfnet.detect.model import points_from_box

HERE = Path(__file__).resolve().parent


class GroundTruthDetector:
    """Answers with the annotated bodies of one film (``detect.coco.ImageAnnotations``), as a perfect
    detector would; refuses pixels of another size."""

    def __init__(self, image, score: float = 1.0):
        self.image, self.score = image, score

    def detect(self, pixels):
        assert pixels.shape == (self.image.height, self.image.width)
        return [Detection(vb.box, self.score, vb.level,
                          tuple(p if p is not None else q for p, q in zip(vb.points, points_from_box(vb.box))),
                          "keypoints") for vb in self.image.vertebrae]


def synthetic_film(tmp_path_factory):
    """(path, ImageAnnotations) of the DICOM film with the most fractured bodies of a tiny synthetic study
    (``generate_study(scale=0.004, seed=7, resolution=0.3)``), made once per test session."""
    from vcfnet.synth.generate import generate_study

    out = tmp_path_factory.getbasetemp() / "synthetic-film" / "study"
    if not (out / "site1-development" / FILENAME).is_file():
        generate_study(out, scale=0.004, seed=7, fmt="dicom", workers=1, resolution=0.3)
    images = read_coco(out / "site1-development" / FILENAME)
    im = max(images, key=lambda i: sum(v.fracture is not None for v in i.vertebrae))
    return out / "site1-development" / im.file_name, im


def tiny_detector(tmp_path_factory) -> Path:
    """A detector folder from `vcfnet train-detector` (one batch of one 188 x 231 px film at 128 px),
    trained once per test session and shared by the modules that ask for it."""
    from vcfnet.cli import main
    from vcfnet.synth.generate import generate_study

    root = tmp_path_factory.getbasetemp() / "tiny-detector"
    if (root / "detector" / "detector.json").is_file():
        return root / "detector"
    generate_study(root / "study", scale=0.004, seed=7, fmt="png", workers=1, resolution=0.1)
    code = main(["train-detector", str(root / "study" / "site4-external"), "--out", str(root / "detector"),
                 "--max-iterations", "1", "--batch-size", "1", "--min-size", "128", "--max-size", "256"])
    assert code == 0
    return root / "detector"


def tiny_detector_film(detector: Path) -> Path:
    """A film of the study the tiny detector was trained on (PNG, no PixelSpacing)."""
    return sorted((detector.parent / "study" / "site4-external").glob("*.png"))[0]

