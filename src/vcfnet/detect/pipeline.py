"""One radiograph without boxes: detect every body, name its level, measure it, classify the fractured.

``detect_and_classify(image, detector, predictor)`` runs the detector (anything with
``detect(pixels) -> list[Detection]``, e.g. ``detect.infer.Detector``), counts levels from S1
(``detect.levels``), measures each body (``detect.morphometry``, in mm when the radiograph has a
PixelSpacing) and sends the bodies that meet the study's inclusion rule (>= 20 % or >= 4 mm height loss)
to ``predictor.predict(pixels, boxes=...)`` (the ``Predictor``, so the answers are the ones every other
consumer gets). Which bodies are classified can be widened with ``classify="all"`` or turned off with
``"none"`` (proposals only). ``Predictor.predict(image)`` without boxes calls this with its own detector.

Every body comes back as a ``BoxPrediction`` (``vcfnet.predict_outputs``) carrying its ``detection``,
``level`` and ``morphometry``; the bodies not classified have no probabilities (``classified`` False) and
say why in ``refer_reason``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from vcfnet.detect.levels import UNCERTAIN, assign_levels
from vcfnet.detect.model import DETECT_LEVELS
from vcfnet.detect.morphometry import INCLUSION_MM, INCLUSION_RATIO, Morphometry, measure_spine
from vcfnet.errors import VcfnetError
from vcfnet.predict_inputs import read_image
from vcfnet.predict_outputs import DETECTION_COLUMNS, BoxPrediction

CLASSIFY = ("included", "all", "none")


def check_classify(classify: str) -> str:
    if classify not in CLASSIFY:
        raise VcfnetError(f"Invalid classify '{classify}'. Only {', '.join(CLASSIFY)} are supported.")
    return classify


def detect_and_classify(image: Any, detector: Any, predictor: Any = None, *, classify: str = "included",
                        gradcam: bool = False, clinical: dict | None = None) -> list[BoxPrediction]:
    """Every body the detector finds in ``image`` (path, ``Radiograph`` or (H, W) array in [0, 1]), top to
    bottom, measured, and classified by ``predictor`` per ``classify``; ``predictor`` None measures only."""
    check_classify(classify)
    pixels, _, spacing = read_image(image)
    found = detector.detect(pixels)
    calls = assign_levels([d.box for d in found], [d.seen for d in found],
                          [getattr(d, "seen_probs", None) for d in found], DETECT_LEVELS)
    # morphometry needs the anchor's name (S1 is never a reference) even where the count is uncertain
    morph = measure_spine([(c.level if c.level != UNCERTAIN else d.seen, _on_film(d.points, pixels.shape))
                           for d, c in zip(found, calls)], spacing)
    boxes = [_inside(d.box, pixels.shape) for d in found]
    chosen = [i for i, m in enumerate(morph) if classify == "all" or (classify == "included" and m.included)]
    answers: dict[int, BoxPrediction] = {}
    if predictor is not None and chosen:
        got = predictor.predict(pixels, [boxes[i] for i in chosen], gradcam=gradcam, clinical=clinical)
        answers = dict(zip(chosen, got))
    out = []
    for i, (d, c, m) in enumerate(zip(found, calls, morph)):
        base = answers.get(i) or BoxPrediction(
            box=boxes[i], probabilities={}, predicted="", window=tuple(round(v) for v in boxes[i]),  # type: ignore[arg-type]
            pixels=pixels, refer_reason=_not_classified(m, classify, predictor is not None), model="")
        out.append(dataclasses.replace(base, detection=d, level=c, morphometry=m))
    return out


def _not_classified(m: Morphometry, classify: str, has_predictor: bool) -> str:
    if not has_predictor or classify == "none":
        return "measured only: no classification asked for"
    if m.included is None:
        return "measured only: its height loss could not be measured (landmarks outside the image or no neighbour)"
    return (f"measured only: below the study's inclusion rule (height loss under {INCLUSION_RATIO:.0%} and "
            f"under {INCLUSION_MM:g} mm)")


def _on_film(points, shape: tuple[int, int]) -> list[tuple[float, float] | None]:
    """The landmarks on the film; one the detector placed outside it (a body cut by the edge) is not
    measured (None), as the annotations leave such a point unlabelled: heights need both of a pair."""
    rows, cols = shape
    return [(x, y) if 0 <= x < cols and 0 <= y < rows else None for x, y in points]


def _inside(box, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """A detected box clipped to the image (a body cut by the edge is boxed up to the edge)."""
    rows, cols = shape
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = min(max(x0, 0.0), cols - 1.0), min(max(x1, 1.0), float(cols))
    y0, y1 = min(max(y0, 0.0), rows - 1.0), min(max(y1, 1.0), float(rows))
    return x0, y0, max(x1, x0 + 1.0), max(y1, y0 + 1.0)


CSV_COLUMNS = ("index", "x0", "y0", "x1", "y1", *DETECTION_COLUMNS, "predicted", "p_acute", "p_chronic",
               "p_pathological")


def write_findings(path: str | Path, findings: list[BoxPrediction]) -> None:
    """``.json`` (every field of ``BoxPrediction.to_dict``) or ``.csv`` (one row per body), atomically."""
    import csv

    from vcfnet.fileio import atomic_open, write_json

    path = Path(path)
    if path.suffix.lower() == ".json":
        write_json(path, {"bodies": [f.to_dict() for f in findings]})
        return
    if path.suffix.lower() != ".csv":
        raise VcfnetError(f"{path}: the findings are written as .json or .csv, not '{path.suffix}'")
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for i, f in enumerate(findings):
            row = f.detection_row()
            writer.writerow([i + 1, *(round(v, 2) for v in f.box), *(row[c] for c in DETECTION_COLUMNS), f.predicted,
                             *(f.probabilities.get(c, "") for c in ("acute", "chronic", "pathological"))])
