"""A detector (and a classifier) against annotated films (``vertebrae.json``): detection, levels, landmarks,
height ratios, Genant grades and the end-to-end fracture classes. The one place these numbers are made:
``vcfnet evaluate-detector`` (pooled over the films it is given) and ``vcfnet evaluate`` / the report (per
cohort, :mod:`vcfnet.report.detection`) both call it.

``run_films(detector, films, predictor)`` runs :func:`vcfnet.detect.pipeline.detect_and_classify` on each
film: every detection scoring >= the detector's own threshold is kept for the FROC and AP, and the pipeline
(levels, morphometry, the Predictor on the bodies meeting the inclusion rule) sees those scoring >=
``operating_score``. ``detection_numbers(results)`` then gives, as JSON-ready numbers:

- FROC and sensitivity at 0.125 ... 4 false positives per image (:data:`FP_POINTS`), for every body and for
  the fractured ones (detecting an intact body is then neither a hit nor a false positive); AP@0.5
  (class-agnostic) and mAP@0.5 over the levels the bodies look like;
- for the detections at the operating score matched to a body (IoU >= 0.5): the level accuracy of the count
  from S1 ("uncertain" counts as wrong, and its share is given), on all films and on the films with the usual
  count; how many films with a transitional body (a T13 or L6) the anomaly test flagged, and how many of
  the others it flagged wrongly; the landmark error (mm with PixelSpacing:
  median, mean, 90th percentile), Bland-Altman agreement of two height ratios measured on the detected and
  on the annotated landmarks (the largest height reduction against the neighbours, which sets Genant's grade,
  and the anterior/posterior ratio), and the agreement of the Genant grades (linear and quadratic weighted
  kappa, bootstrap CI over whole patients when the films carry a ``patient``; a 4 x 4 confusion table).

``end_to_end(results)`` counts every annotated fractured body once: matched by a classified detection (its
predicted class counts), ``detected`` but not classified (it did not meet the inclusion rule), or ``missed``;
the last two count as wrong. Classified detections of intact bodies or of nothing are counted apart
(``false_calls``): they are not fractures of the study and do not enter the 3-class accuracy.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.detect.coco import ImageAnnotations, VertebraAnnotation, read_coco
from vcfnet.detect.levels import ANOMALY_REASON, UNCERTAIN
from vcfnet.detect.model import DETECT_LEVELS
from vcfnet.detect.morphometry import Morphometry, measure_spine
from vcfnet.labels import LEVELS
from vcfnet.stats._common import UndefinedMetricWarning, jsonable
from vcfnet.stats.agreement import bland_altman, weighted_kappa_ci
from vcfnet.stats.detection import froc_curve, match_pairs, mean_average_precision, sensitivity_at_fp

FP_POINTS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
GRADES = (0, 1, 2, 3)
MAX_CURVE_POINTS = 300
RATIOS = ("reduction", "ratio_ap")


@dataclass
class FilmResult:
    """One annotated film after the pipeline: its ``bodies`` (all, a transitional T13 / L6 too), every detection
    (``found``), the pipeline's ``findings`` for those at the operating score, and the annotated landmarks'
    morphometry (``truth``, one per body). ``patient`` groups films for the bootstrap; ``clinical`` is what
    the Predictor was given."""
    image: ImageAnnotations
    bodies: list[VertebraAnnotation]
    found: list[Any]
    findings: list[Finding]
    truth: list[Morphometry]
    patient: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """What the evaluation keeps of one body the pipeline returned (not its pixels): the detection, its
    level call, its morphometry and the predicted class (None when not classified)."""
    detection: Any
    level: Any
    morphometry: Morphometry
    predicted: str | None = None

    @classmethod
    def of(cls, answer: Any) -> Finding:
        return cls(answer.detection, answer.level, answer.morphometry,
                   answer.predicted if answer.classified else None)


class _Operating:
    """A detector that keeps all its detections (``found``) and hands the pipeline those >= ``score``."""

    def __init__(self, detector: Any, score: float):
        self.detector, self.score = detector, score
        self.found: list[Any] = []

    def detect(self, pixels):
        self.found = list(self.detector.detect(pixels))
        return [d for d in self.found if d.score >= self.score]


def annotated_films(coco_files: Iterable[Path]) -> list[tuple[Path, ImageAnnotations]]:
    """(image path, its annotations) of every film of every ``vertebrae.json``."""
    return [(Path(f).parent / im.file_name, im) for f in coco_files for im in read_coco(f)]


def run_films(detector: Any, films: Sequence[tuple[Path, ImageAnnotations]], predictor: Any = None, *,
              operating_score: float = 0.5, patients: Sequence[str | None] | None = None,
              clinical: Sequence[dict | None] | None = None) -> list[FilmResult]:
    """The pipeline on every film (see the module docstring); ``patients`` / ``clinical``: one per film."""
    from vcfnet.detect.pipeline import detect_and_classify
    from vcfnet.io import read_radiograph

    out = []
    for i, (path, im) in enumerate(films):
        op = _Operating(detector, operating_score)
        findings = detect_and_classify(read_radiograph(path), op, predictor,
                                       clinical=clinical[i] if clinical is not None else None)
        truth = measure_spine([(vb.level, vb.points) for vb in im.vertebrae], im.spacing)
        out.append(FilmResult(im, list(im.vertebrae), op.found, [Finding.of(f) for f in findings], truth,
                              patients[i] if patients is not None else None))
    return out


def evaluate_detector(detector: Any, coco_files: list[Path], *, operating_score: float = 0.5) -> dict[str, Any]:
    """``detection_numbers`` of ``detector`` on every film of ``coco_files``, pooled; undefined = None."""
    return detection_numbers(run_films(detector, annotated_films(coco_files), operating_score=operating_score),
                             operating_score=operating_score)


def detection_numbers(results: Sequence[FilmResult], *, operating_score: float = 0.5, alpha: float = 0.05,
                      n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Every detection number of the films ``results`` (module docstring), JSON-ready (NaN -> None)."""
    gts = [[vb.box for vb in r.bodies] for r in results]
    dets = [[d.box for d in r.found] for r in results]
    scores = [[d.score for d in r.found] for r in results]
    fractured = [[vb.fracture is not None for vb in r.bodies] for r in results]
    out: dict[str, Any] = {"images": len(results), "bodies": int(sum(map(len, gts))),
                           "fractured_bodies": int(sum(map(sum, fractured))), "operating_score": operating_score,
                           "fp_points": list(FP_POINTS)}
    for name, count in (("all", None), ("fractured", fractured)):
        curve = froc_curve(gts, dets, scores, count=count)
        out[f"froc_{name}"] = _thin({"fp_per_image": curve.fp_per_image.tolist(),
                                     "sensitivity": curve.sensitivity.tolist()})
        out[f"sensitivity_at_fp_{name}"] = {str(fp): sensitivity_at_fp(curve, fp) for fp in FP_POINTS}
        out[f"sensitivity_at_0.5fp_{name}"] = sensitivity_at_fp(curve, 0.5)
    agnostic = [["body"] * len(g) for g in gts]
    out["ap50"] = mean_average_precision(gts, agnostic, dets, [["body"] * len(d) for d in dets], scores)[0]
    # over the levels the detector has classes for: a transitional body is no class it could name
    known = [[vb for vb in r.bodies if vb.level in DETECT_LEVELS] for r in results]
    out["map50_levels"] = mean_average_precision([[vb.box for vb in k] for k in known],
                                                 [[vb.level for vb in k] for k in known], dets,
                                                 [[d.seen for d in r.found] for r in results], scores)[0]
    out.update(_anomaly_flags(results))
    pairs = [p for i, r in enumerate(results) for p in _pairs(r, i)]
    with warnings.catch_warnings():              # a number undefined here (few matches) is written as null
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        out.update(_per_body(pairs, alpha=alpha, n_boot=n_boot, seed=seed))
    return jsonable(out)


def _matches(r: FilmResult) -> np.ndarray:
    """Index of the annotated body each operating detection (finding) is matched to, -1 for none."""
    return match_pairs([vb.box for vb in r.bodies], [f.detection.box for f in r.findings],
                       [f.detection.score for f in r.findings])


def _pairs(r: FilmResult, film: int) -> list[dict[str, Any]]:
    """Matched (annotated body, finding) pairs of one film with their levels, points, ratios and grades."""
    sy, sx = r.image.spacing or (1.0, 1.0)
    out = []
    for k, j in enumerate(_matches(r)):
        if j < 0:
            continue
        vb, f, t = r.bodies[j], r.findings[k], r.truth[j]
        m = f.morphometry
        err = [float(np.hypot((p[0] - q[0]) * sx, (p[1] - q[1]) * sy))
               for p, q in zip(vb.points, f.detection.points) if p is not None]
        out.append({"level_true": vb.level, "level": f.level.level, "errors": err, "film": film,
                    "usual_count": not _transitional(r),
                    "group": r.patient if r.patient is not None else f"film-{film}",
                    "grade_true": t.grade, "grade": m.grade, "mm": r.image.spacing is not None,
                    "reduction": (_max(m.reduction), _max(t.reduction)), "ratio_ap": (m.ratio_ap, t.ratio_ap)})
    return out


def _max(values) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(max(finite)) if finite else float("nan")


def _transitional(r: FilmResult) -> bool:
    """Whether the film has a body beyond the usual count (a T13 or an L6: a level outside ``LEVELS``)."""
    return any(vb.level not in LEVELS for vb in r.bodies)


def _anomaly_flags(results: Sequence[FilmResult]) -> dict[str, int]:
    """Films with a transitional body and how many of them the anomaly test flagged (any body's level
    uncertain for that reason); the same for the films with the usual count (false alarms)."""
    flagged = [any(f.level.reason == ANOMALY_REASON for f in r.findings) for r in results]
    odd = [_transitional(r) for r in results]
    return {"transitional_films": int(sum(odd)), "transitional_films_flagged": int(sum(f and o for f, o in zip(flagged, odd))),
            "usual_films": int(len(odd) - sum(odd)),
            "usual_films_flagged": int(sum(f and not o for f, o in zip(flagged, odd)))}


def _per_body(pairs: list[dict[str, Any]], *, alpha: float, n_boot: int, seed: int) -> dict[str, Any]:
    errors = np.array([e for p in pairs for e in p["errors"]])
    usual = [p for p in pairs if p["usual_count"]]
    graded = [p for p in pairs if p["grade_true"] is not None and p["grade"] is not None]
    out: dict[str, Any] = {
        "matched_bodies": len(pairs),
        "level_accuracy": float(np.mean([p["level"] == p["level_true"] for p in pairs])) if pairs else float("nan"),
        "level_uncertain_share": float(np.mean([p["level"] == UNCERTAIN for p in pairs])) if pairs else float("nan"),
        "level_accuracy_usual_count": (float(np.mean([p["level"] == p["level_true"] for p in usual]))
                                       if usual else float("nan")),
        "landmark_error_unit": "mm" if pairs and all(p["mm"] for p in pairs) else "px",
        "landmark_points": int(errors.size), "genant_pairs": len(graded)}
    for name, fn in (("median", np.median), ("mean", np.mean), ("p90", lambda e: np.quantile(e, 0.9))):
        out[f"landmark_error_{name}"] = float(fn(errors)) if errors.size else float("nan")
    out["bland_altman"] = {k: bland_altman([p[k][0] for p in pairs], [p[k][1] for p in pairs], alpha=alpha).to_dict()
                           for k in RATIOS}
    out["bland_altman_points"] = {k: [[round(p[k][0], 4), round(p[k][1], 4)] for p in pairs
                                      if np.isfinite(p[k][0]) and np.isfinite(p[k][1])] for k in RATIOS}
    truth, measured, groups = ([p["grade_true"] for p in graded], [p["grade"] for p in graded],
                               [p["group"] for p in graded])
    for w in ("linear", "quadratic"):
        k = weighted_kappa_ci(truth, measured, weights=w, labels=list(GRADES), groups=groups, n_boot=n_boot,
                              alpha=alpha, seed=seed) if graded else None
        out[f"genant_kappa_{w}"] = k.estimate if k else float("nan")
        out[f"genant_kappa_{w}_ci"] = [k.ci_low, k.ci_high] if k else [float("nan"), float("nan")]
    confusion = np.zeros((len(GRADES), len(GRADES)), dtype=int)
    for p in graded:
        confusion[p["grade_true"], p["grade"]] += 1
    out["genant_confusion"] = confusion.tolist()          # rows: grade on the annotated landmarks
    return out


def end_to_end(results: Sequence[FilmResult]) -> dict[str, Any]:
    """Every annotated fractured body with its outcome (module docstring), and the false fracture calls."""
    bodies, false_calls = [], 0
    for i, r in enumerate(results):
        match = _matches(r)
        by_body = {int(j): k for k, j in enumerate(match) if j >= 0}
        for k, j in enumerate(match):
            if r.findings[k].predicted is not None and (j < 0 or r.bodies[j].fracture is None):
                false_calls += 1
        for j, vb in enumerate(r.bodies):
            if vb.fracture is None:
                continue
            hit = by_body.get(j)
            pred = r.findings[hit].predicted if hit is not None else None
            outcome = "missed" if hit is None else "detected" if pred is None else "classified"
            bodies.append({"film": i, "level": vb.level, "box": list(vb.box), "truth": vb.fracture,
                           "outcome": outcome, "predicted": pred})
    return {"bodies": bodies, "false_calls": false_calls, "images": len(results)}


def _thin(curve: dict[str, list]) -> dict[str, list]:
    n = len(curve["fp_per_image"])
    if n <= MAX_CURVE_POINTS:
        return curve
    keep = np.unique(np.r_[np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(int), n - 1])
    return {k: [v[i] for i in keep] for k, v in curve.items()}
