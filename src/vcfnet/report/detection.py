"""Detection without boxes, per cohort: the detector's numbers and the end-to-end fracture classes beside the
same classifier's answers with the manual (LabelImg) boxes. Numbers come from :mod:`vcfnet.detect.evaluate`
and :mod:`vcfnet.stats`; this module finds each film's cohort and patient and arranges the results.

Each annotated film (``vertebrae.json``) is found in the study by the pseudonym ingest gave its file
(``io.deid.PathPseudonyms`` with the study's key: the same computation as ``vcfnet study trace``), which
gives its patient (the study's pseudonym, for the patient bootstrap), site, split and cohort, and the ROIs of
its fractured bodies. The cohorts are the study's (:func:`vcfnet.study.cohorts.evaluation_parts`): internal
test, each external site, external pooled, prospective; training and validation films are never evaluated
(the detector learns from them). A film the study does not hold (no fractured body, so no LabelImg box) is
left out and counted. Nothing of a film's name or path is written: the output holds numbers, levels and the
study's pseudonymous ids only.

Manual boxes: each annotated fractured body is paired with the study ROI of the same film and level (else the
ROI whose box overlaps it most), and that ROI's ``predicted`` class in the predictions table is the manual
answer, so both results are on exactly the same vertebrae; McNemar's test compares them.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vcfnet.detect.coco import ImageAnnotations, read_coco
from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES

log = logging.getLogger(__name__)

EVALUATED_SPLITS = ("test", "external", "prospective")


@dataclass
class StudyFilm:
    """One annotated film found in the study: its file, annotations, and the study's rows of it."""
    path: Path
    image: ImageAnnotations
    rows: pd.DataFrame

    def first(self, col: str) -> Any:
        return self.rows[col].iloc[0]


def study_films(study_dir: str | Path, coco_files: list[Path]) -> tuple[list[StudyFilm], int]:
    """The films of ``coco_files`` that the study holds (with their rows), and how many it does not."""
    from vcfnet.io.deid import PathPseudonyms
    from vcfnet.study.dataset import load_table
    from vcfnet.study.layout import StudyLayout

    layout = StudyLayout(study_dir)
    if not layout.secret.is_file():
        raise VcfnetError(f"{study_dir}: no secret.key; the films can only be found in a study made by "
                          f"`vcfnet ingest`")
    key = layout.secret.read_bytes()
    table = load_table(study_dir)
    by_image = {k: g for k, g in table.groupby("image")}
    films, missing = [], 0
    for coco in coco_files:
        paths = PathPseudonyms(key, Path(coco).parent.resolve())
        for im in read_coco(coco):
            rows = by_image.get(f"{paths.source_id}/{paths.file(im.file_name)}")
            if rows is None:
                missing += 1
                continue
            films.append(StudyFilm(Path(coco).parent / im.file_name, im, rows.reset_index(drop=True)))
    if missing:
        log.info("%d annotated film(s) are not in the study (no fractured body boxed); left out", missing)
    return films, missing


def _clinical(film: StudyFilm, columns: list[str]) -> dict[str, Any] | None:
    """The film's values of the Predictor's clinical columns (blank where missing); None without any."""
    if not columns:
        return None
    out = {}
    for c in columns:
        v = film.first(c) if c in film.rows.columns else None
        out[c] = None if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else v
    return out


def evaluate_detection(detector: Any, predictor: Any, study_dir: str | Path, coco_files: list[Path],
                       predictions: pd.DataFrame, *, operating_score: float = 0.5, alpha: float = 0.05,
                       n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The ``detection`` part of ``metrics.json``: settings, ``pooled`` and one entry per cohort."""
    from vcfnet.detect.evaluate import detection_numbers, run_films
    from vcfnet.study.cohorts import evaluation_parts

    films, missing = study_films(study_dir, coco_files)
    films = [f for f in films if f.first("split") in EVALUATED_SPLITS]
    if not films:
        raise VcfnetError("no annotated film of the test, external or prospective cohorts is in the study")
    columns = list(getattr(predictor, "clinical_columns", []) or [])
    results = run_films(detector, [(f.path, f.image) for f in films], predictor, operating_score=operating_score,
                        patients=[str(f.first("patient_id")) for f in films],
                        clinical=[_clinical(f, columns) for f in films])
    frame = pd.DataFrame({c: [f.first(c) for f in films] for c in ("split", "site", "cohort", "patient_id")})
    manual = predictions.set_index("roi_id")["predicted"].astype(str).to_dict()
    kw: dict[str, Any] = {"operating_score": operating_score, "alpha": alpha, "n_boot": n_boot, "seed": seed}
    cohorts = []
    for part in evaluation_parts(frame):
        idx = list(part.rows.index)
        if not idx:
            continue
        sub = [results[i] for i in idx]
        cohorts.append({"key": part.key, "name": part.name, "kind": part.kind, "n_films": len(idx),
                        "n_patients": int(part.rows["patient_id"].nunique()), **detection_numbers(sub, **kw),
                        "end_to_end": _end_to_end(sub, [films[i] for i in idx], manual, alpha=alpha)})
    return {"settings": {"operating_score": operating_score, "alpha": alpha, "n_boot": n_boot, "seed": seed,
                         "detector": _detector_summary(detector), "films_not_in_study": missing},
            "pooled": {"key": "pooled", "name": "All evaluated films", "n_films": len(films),
                       **detection_numbers(results, **kw)},
            "cohorts": cohorts}


def detection_from_folders(detector_dir: str | Path, checkpoint: str | Path | None, study_dir: str | Path,
                           annotations: list[Path], predictions: pd.DataFrame, *, device: str = "cpu",
                           **options) -> dict[str, Any]:
    """:func:`evaluate_detection` with the detector of ``vcfnet train-detector``, the classifier checkpoint
    (None: the checkpoint named by the predictions' card is not known, so one must be given) and the
    ``vertebrae.json`` files found under ``annotations`` (files, folders, or a ``vcfnet synth`` folder)."""
    from vcfnet.detect.infer import Detector
    from vcfnet.detect.train import coco_files_of
    from vcfnet.predict import Predictor

    if checkpoint is None:
        raise VcfnetError("--detector needs --checkpoint (the classifier of the end-to-end result)")
    return evaluate_detection(Detector(detector_dir, device=device, score_threshold=0.05),
                              Predictor(checkpoint, device=device), study_dir, coco_files_of(list(annotations)),
                              predictions, **options)


def _detector_summary(detector: Any) -> dict[str, Any]:
    card = getattr(detector, "card", None) or {}
    t = card.get("training") or {}
    return {"arch": card.get("arch"), "min_size": card.get("min_size"), "iterations": t.get("iterations"),
            "images": t.get("images")}


def _roi_of(body: dict[str, Any], film: StudyFilm) -> str | None:
    """The study ROI of an annotated fractured body: same level, else the most overlapping box."""
    rows = film.rows
    same = rows[rows["level"].astype(str) == body["level"]]
    if len(same) == 1:
        return str(same["roi_id"].iloc[0])
    from vcfnet.stats.detection import box_iou

    iou = box_iou([body["box"]], rows[["x0", "y0", "x1", "y1"]].to_numpy(float))[0]
    return str(rows["roi_id"].iloc[int(np.argmax(iou))]) if iou.size and iou.max() > 0.3 else None


def _end_to_end(results, films: list[StudyFilm], manual: dict[str, str], *, alpha: float) -> dict[str, Any]:
    from vcfnet.detect.evaluate import end_to_end

    e2e = end_to_end(results)
    bodies = e2e["bodies"]
    for b in bodies:
        roi = _roi_of(b, films[b["film"]])
        b["manual"] = manual.get(roi) if roi is not None else None
    return {**summarise_end_to_end(bodies, alpha=alpha), "false_calls": e2e["false_calls"],
            "false_calls_per_image": e2e["false_calls"] / max(e2e["images"], 1)}


def summarise_end_to_end(bodies: list[dict[str, Any]], *, alpha: float = 0.05) -> dict[str, Any]:
    """Accuracy and per-class sensitivity of the automatic answers (a missed or unclassified fracture is
    wrong) and of the manual-box answers on the same bodies, with Wilson intervals and McNemar's test."""
    from vcfnet.stats import mcnemar_test, proportion_ci
    from vcfnet.stats._common import jsonable

    truth = [b["truth"] for b in bodies]
    auto = np.array([b["predicted"] == b["truth"] for b in bodies], dtype=bool)
    paired = [b for b in bodies if b.get("manual") is not None]
    out: dict[str, Any] = {"n": len(bodies), "outcomes": {k: sum(b["outcome"] == k for b in bodies)
                                                          for k in ("classified", "detected", "missed")},
                           "n_manual": len(paired)}
    out["automatic"] = _class_result(auto, truth, alpha, proportion_ci)
    if paired:
        man = np.array([b["manual"] == b["truth"] for b in paired], dtype=bool)
        out["manual"] = _class_result(man, [b["truth"] for b in paired], alpha, proportion_ci)
        auto_p = np.array([b["predicted"] == b["truth"] for b in paired], dtype=bool)
        out["mcnemar"] = mcnemar_test(auto_p, man).to_dict()
    else:
        out["manual"], out["mcnemar"] = None, None
    return jsonable(out)


def _class_result(right: np.ndarray, truth: list[str], alpha: float, proportion_ci) -> dict[str, Any]:
    t = np.asarray(truth, dtype=object)
    res: dict[str, Any] = {"accuracy": proportion_ci(int(right.sum()), int(right.size), alpha=alpha,
                                                     name="end-to-end accuracy").to_dict() if right.size else None}
    res["sensitivity"] = {cls: proportion_ci(int(right[t == cls].sum()), int((t == cls).sum()), alpha=alpha,
                                             name=f"{cls} sensitivity").to_dict() if (t == cls).any() else None
                          for cls in CLASSES}
    return res


def headline(detection: dict[str, Any] | None) -> dict[str, Any]:
    """Per cohort: sensitivity for fractured bodies at 0.5 FP/image, level accuracy, landmark error (median)
    and the end-to-end accuracy beside the manual boxes' (``demo.json``)."""
    out: dict[str, Any] = {}
    for c in (detection or {}).get("cohorts", []):
        e = c["end_to_end"]
        out[c["key"]] = {"films": c["n_films"], "fractured_bodies": c["fractured_bodies"],
                         "sensitivity_at_0.5fp_fractured": c["sensitivity_at_0.5fp_fractured"],
                         "level_accuracy": c["level_accuracy"], "landmark_error_median": c["landmark_error_median"],
                         "landmark_error_unit": c["landmark_error_unit"],
                         "end_to_end_accuracy": (e["automatic"]["accuracy"] or {}).get("estimate"),
                         "manual_accuracy": ((e["manual"] or {}).get("accuracy") or {}).get("estimate")}
    return out
