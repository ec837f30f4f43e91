"""Hand-made annotated films with hand-made detections and answers, for the detection evaluation tests."""
from __future__ import annotations

from vcfnet.detect.coco import ImageAnnotations, VertebraAnnotation
from vcfnet.detect.evaluate import FilmResult, Finding
from vcfnet.detect.infer import Detection
from vcfnet.detect.levels import LevelCall
from vcfnet.detect.morphometry import measure_spine

LEVELS = ("L1", "L2", "L3", "L4", "L5", "S1")
TRUTH = {"L1": "acute", "L2": None, "L3": "chronic", "L4": "pathological", "L5": "acute", "S1": None}


def points(x0, y0, x1, y1):
    xm = (x0 + x1) / 2
    return ((x0, y0), (xm, y0), (x1, y0), (x0, y1), (xm, y1), (x1, y1))


def box(i):
    return (10.0, 10.0 + 30 * i, 50.0, 35.0 + 30 * i)        # 40 x 25 px bodies, 5 px discs


def film(detected: dict[str, str | None], extra: list[tuple[tuple[float, float, float, float], str]] = (),
         patient: str = "p1") -> FilmResult:
    """Six annotated bodies L1..S1; ``detected``: level -> predicted class (None: detected, not classified);
    a level not in it is missed; ``extra``: detections of nothing, with their predicted class."""
    bodies = [VertebraAnnotation(lv, box(i), points(*box(i)), fracture=TRUTH[lv]) for i, lv in enumerate(LEVELS)]
    im = ImageAnnotations("film.png", 200, 400, (0.5, 0.5), bodies)
    found, predicted = [], []
    for i, lv in enumerate(LEVELS):
        if lv in detected:
            found.append(Detection(box(i), 0.9, lv, points(*box(i)), "keypoints"))
            predicted.append(detected[lv])
    for b, cls in extra:
        found.append(Detection(b, 0.8, "T12", points(*b), "keypoints"))
        predicted.append(cls)
    morph = measure_spine([(d.seen, d.points) for d in found], im.spacing)
    findings = [Finding(d, LevelCall(d.seen, d.seen, d.seen, True, "counted"), m, p)
                for d, m, p in zip(found, morph, predicted)]
    truth = measure_spine([(vb.level, vb.points) for vb in bodies], im.spacing)
    return FilmResult(im, bodies, found, findings, truth, patient=patient)
