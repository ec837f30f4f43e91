"""One radiograph without boxes: detect every body, name its level, measure it, classify the fractured.

``detect_and_classify(image, detector, predictor)`` runs the detector (anything with
``detect(pixels) -> list[Detection]``, e.g. ``detect.infer.Detector``), counts levels from S1
(``detect.levels``), measures each body (``detect.morphometry``, in mm when the radiograph has a
PixelSpacing) and sends the bodies that meet the study's inclusion rule (>= 20 % or >= 4 mm height loss)
to ``predictor.predict(pixels, boxes=...)`` (the ``Predictor``, so the answers are the ones every other
consumer gets). Which bodies are classified can be widened with ``classify="all"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.detect.levels import UNCERTAIN, LevelCall, assign_levels
from vcfnet.detect.morphometry import Morphometry, measure_spine
from vcfnet.errors import VcfnetError

CLASSIFY = ("included", "all", "none")


@dataclass
class BodyFinding:
    """One detected body: the detection, its level, its morphometry and, if classified, the
    Predictor's answer (``prediction``: a ``predict.BoxPrediction``)."""
    detection: Any
    level: LevelCall
    morphometry: Morphometry
    prediction: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = {**self.detection.to_dict(), "level": self.level.level, "level_counted": self.level.counted,
               "level_reason": self.level.reason, "morphometry": self.morphometry.to_dict()}
        if self.prediction is not None:
            p = self.prediction
            out.update(probabilities=dict(p.probabilities), predicted=p.predicted, refer=bool(p.refer),
                       refer_reason=p.refer_reason)
        return out


def detect_and_classify(image: Any, detector: Any, predictor: Any = None, *, classify: str = "included",
                        gradcam: bool = False, clinical: dict | None = None) -> list[BodyFinding]:
    """Findings for every body the detector finds in ``image`` (path, ``Radiograph`` or (H, W) array in
    [0, 1]), top to bottom; ``predictor`` None measures without classifying."""
    if classify not in CLASSIFY:
        raise VcfnetError(f"Invalid classify '{classify}'. Only {', '.join(CLASSIFY)} are supported.")
    pixels, spacing = _pixels_and_spacing(image)
    found = detector.detect(pixels)
    calls = assign_levels([d.box for d in found], [d.seen for d in found])
    # morphometry needs the anchor's name (S1 is never a reference) even where the count is uncertain
    named = [(c.level if c.level != UNCERTAIN else d.seen, d.points) for d, c in zip(found, calls)]
    morph = measure_spine(named, spacing)
    findings = [BodyFinding(d, c, m) for d, c, m in zip(found, calls, morph)]
    chosen = [f for f in findings if classify == "all" or (classify == "included" and f.morphometry.included)]
    if predictor is not None and chosen:
        answers = predictor.predict(pixels, [_inside(f.detection.box, pixels.shape) for f in chosen],
                                    gradcam=gradcam, clinical=clinical)
        for f, a in zip(chosen, answers):
            f.prediction = a
    return findings


def _pixels_and_spacing(image: Any) -> tuple[np.ndarray, tuple[float, float] | None]:
    from vcfnet.predict import load_pixels

    if isinstance(image, (str, Path)):
        from vcfnet.io import read_radiograph

        image = read_radiograph(image)
    spacing = None
    meta = getattr(image, "meta", None) or {}
    if meta.get("pixel_spacing"):
        row, col = meta["pixel_spacing"]
        spacing = (float(row), float(col))
    return load_pixels(image)[0], spacing


def _inside(box, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """A detected box clipped to the image (a body cut by the edge is boxed up to the edge)."""
    rows, cols = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = min(max(x0, 0.0), cols - 1.0), min(max(x1, 1.0), float(cols))
    y0, y1 = min(max(y0, 0.0), rows - 1.0), min(max(y1, 1.0), float(rows))
    return x0, y0, max(x1, x0 + 1.0), max(y1, y0 + 1.0)


CSV_COLUMNS = ("index", "level", "level_counted", "seen_level", "score", "x0", "y0", "x1", "y1", "unit",
               "height_anterior", "height_middle", "height_posterior", "reduction", "loss_mm", "grade", "shape",
               "included", "predicted", "p_acute", "p_chronic", "p_pathological")


def write_findings(path: str | Path, findings: list[BodyFinding]) -> None:
    """``.json`` (every field of ``BodyFinding.to_dict``) or ``.csv`` (one row per body), atomically."""
    import csv

    from vcfnet.fileio import atomic_open, write_json

    path = Path(path)
    rows = [f.to_dict() for f in findings]
    if path.suffix.lower() == ".json":
        write_json(path, {"bodies": rows})
        return
    if path.suffix.lower() != ".csv":
        raise VcfnetError(f"{path}: the findings are written as .json or .csv, not '{path.suffix}'")
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for i, r in enumerate(rows):
            m = r["morphometry"]
            probs = r.get("probabilities") or {}
            red = [x for x in m["reduction"] if x is not None]
            writer.writerow([i + 1, r["level"], r["level_counted"] or "", r["seen_level"], r["score"], *r["box"],
                             m["unit"], *m["heights"], max(red) if red else "", m["loss_mm"], m["grade"], m["shape"],
                             m["included"], r.get("predicted", ""), *(probs.get(c, "") for c in
                                                                       ("acute", "chronic", "pathological"))])
