"""A detector against annotated films (``vertebrae.json``): detection, levels, landmarks, Genant grades.

``evaluate_detector(detector, coco_files)`` runs ``detector.detect`` on every film and returns, as JSON-ready
numbers: FROC and sensitivity at 0.5 false positives per image, for every body and for the fractured ones
(detecting an intact body is then neither a hit nor a false positive); AP@0.5 (class-agnostic) and mAP@0.5
over the levels the bodies look like; and, for the detections scoring >= ``operating_score`` matched to a
body (IoU >= 0.5): the level accuracy of the count from S1 ("uncertain" counts as wrong, and its share is
given), the landmark error in mm, and the linear weighted kappa of the Genant grades measured on the
detected and on the annotated landmarks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.detect.coco import read_coco
from vcfnet.detect.levels import UNCERTAIN, assign_levels
from vcfnet.detect.model import DETECT_LEVELS
from vcfnet.detect.morphometry import measure_spine
from vcfnet.stats._common import jsonable
from vcfnet.stats.agreement import weighted_kappa
from vcfnet.stats.detection import froc_curve, match_pairs, mean_average_precision, sensitivity_at_fp


def evaluate_detector(detector: Any, coco_files: list[Path], *, operating_score: float = 0.5) -> dict[str, Any]:
    """Numbers of ``detector`` on the films of ``coco_files`` (see the module docstring); an undefined
    number (nothing matched) is None."""
    from vcfnet.io import read_radiograph

    gts, gt_levels, fractured, dets, det_levels, scores = [], [], [], [], [], []
    pairs: list[dict[str, Any]] = []
    for f in coco_files:
        for im in read_coco(f):
            bodies = [vb for vb in im.vertebrae if vb.level in DETECT_LEVELS]
            found = detector.detect(read_radiograph(f.parent / im.file_name).pixels)
            gts.append([vb.box for vb in bodies])
            gt_levels.append([vb.level for vb in bodies])
            fractured.append([vb.fracture is not None for vb in bodies])
            dets.append([d.box for d in found])
            det_levels.append([d.seen for d in found])
            scores.append([d.score for d in found])
            pairs += _pairs(im, bodies, [d for d in found if d.score >= operating_score])
    out: dict[str, Any] = {"images": len(gts), "bodies": int(sum(map(len, gts))),
                           "fractured_bodies": int(sum(map(sum, fractured))), "operating_score": operating_score}
    for name, count in (("all", None), ("fractured", fractured)):
        curve = froc_curve(gts, dets, scores, count=count)
        out[f"froc_{name}"] = {"fp_per_image": curve.fp_per_image.tolist(), "sensitivity": curve.sensitivity.tolist()}
        out[f"sensitivity_at_0.5fp_{name}"] = sensitivity_at_fp(curve, 0.5)
    agnostic = [["body"] * len(g) for g in gts]
    out["ap50"] = mean_average_precision(gts, agnostic, dets, [["body"] * len(d) for d in dets], scores)[0]
    out["map50_levels"] = mean_average_precision(gts, gt_levels, dets, det_levels, scores)[0]
    out.update(_per_body(pairs))
    return jsonable(out)                     # NaN (undefined) -> None: strict JSON


def _pairs(im, bodies, found) -> list[dict[str, Any]]:
    """Matched (annotated body, detection) pairs of one film with their levels, points and grades."""
    calls = assign_levels([d.box for d in found], [d.seen for d in found])
    named = [(c.level if c.level != UNCERTAIN else d.seen, d.points) for d, c in zip(found, calls)]
    measured = measure_spine(named, im.spacing)
    truth = measure_spine([(vb.level, vb.points) for vb in im.vertebrae], im.spacing)
    grade_of = {id(vb): m.grade for vb, m in zip(im.vertebrae, truth)}
    match = match_pairs([vb.box for vb in bodies], [d.box for d in found], [d.score for d in found])
    sy, sx = im.spacing or (1.0, 1.0)
    out = []
    for k, j in enumerate(match):
        if j < 0:
            continue
        vb, d = bodies[j], found[k]
        err = [float(np.hypot((p[0] - q[0]) * sx, (p[1] - q[1]) * sy))
               for p, q in zip(vb.points, d.points) if p is not None]
        out.append({"level_true": vb.level, "level": calls[k].level, "errors": err,
                    "grade_true": grade_of[id(vb)], "grade": measured[k].grade, "mm": im.spacing is not None})
    return out


def _per_body(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    errors = [e for p in pairs for e in p["errors"]]
    graded = [(p["grade_true"], p["grade"]) for p in pairs if p["grade_true"] is not None and p["grade"] is not None]
    return {
        "matched_bodies": len(pairs),
        "level_accuracy": float(np.mean([p["level"] == p["level_true"] for p in pairs])) if pairs else float("nan"),
        "level_uncertain_share": float(np.mean([p["level"] == UNCERTAIN for p in pairs])) if pairs else float("nan"),
        "landmark_error_median": float(np.median(errors)) if errors else float("nan"),
        "landmark_error_mean": float(np.mean(errors)) if errors else float("nan"),
        "landmark_error_unit": "mm" if pairs and all(p["mm"] for p in pairs) else "px",
        "genant_kappa_linear": (weighted_kappa([g[0] for g in graded], [g[1] for g in graded], weights="linear",
                                               labels=[0, 1, 2, 3]) if graded else float("nan")),
        "genant_pairs": len(graded),
    }
