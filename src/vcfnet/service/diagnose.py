"""The work behind each endpoint, run in the inference thread pool: check, decode, predict, encode.

Inference goes through ``vcfnet.predict.Predictor`` only; this module turns its ``BoxPrediction``
objects into JSON (probabilities, predicted class, PNGs as base64), makes the display image and, with a
detector, the proposals (every body found: box, level, morphometry; no classification, which runs on the
boxes the user accepts through ``diagnose``).
"""
from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.service.inputs import (
    BoxSpec,
    check_boxes,
    decode_image,
    header_clinical,
    inspect_image,
    parse_boxes_json,
    parse_boxes_xml,
    parse_clinical,
    public_meta,
)
from vcfnet.service.jobs import checkpoint

log = logging.getLogger("vcfnet.service")

DEFAULT_LIMITS = ("Research use only; not a medical device and not for clinical decisions. It classifies "
                  "a fractured vertebra that a reader has boxed as acute, chronic or pathological; it "
                  "does not detect fractures. Weak on pathological fractures (few in its training data).")
DETECTOR_LIMITS = ("Its vertebra detector only proposes boxes, levels and Genant grades: a reader accepts, moves, "
                   "deletes or adds them before anything is classified; the detector's measured accuracy is in "
                   "docs/DETECTION.md.")
DISPLAY_MAX_SIDE = 2048
THUMB_MAX_SIDE = 320


def limits_text(card: dict[str, Any], *, detector: bool = False) -> str:
    """The model's limits as stated next to every answer; always says research use / not a device, and
    with a ``detector`` that its proposals are a reader's to accept."""
    text = str(card.get("intended_use") or "").strip()
    if "medical device" not in text.lower():
        text = f"{DEFAULT_LIMITS} {text}".strip()
    return f"{text} {DETECTOR_LIMITS}" if detector else text


def model_info(card: dict[str, Any]) -> dict[str, Any]:
    """What the service names its model by; ``version``: the first 12 hex digits of the weights' hash."""
    version = str(card.get("weights_sha256") or "")[:12] or "unknown"
    return {"version": version, "architecture": card.get("architecture"),
            "input_size": card.get("input_size"), "created": card.get("created"),
            "classes": list(card.get("classes", []))}


def png_base64(array: np.ndarray, max_side: int | None = None) -> str:
    """(H, W) or (H, W, 3) uint8 -> base64 PNG, shrunk to ``max_side`` when larger."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(array))
    if max_side and max(im.size) > max_side:
        scale = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=3)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _grey_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)


@dataclass
class ImageJob:
    """One uploaded image and where its boxes come from (a JSON string or a LabelImg XML file)."""

    number: int                  # 1-based, for messages ("image 2")
    path: Path
    boxes_json: str | None = None
    boxes_xml: Path | None = None
    age: str | None = None           # form fields; blank or None: the DICOM header's value, if any
    sex: str | None = None

    @property
    def name(self) -> str:
        return f"image {self.number}"


def _boxes(job: ImageJob) -> list[BoxSpec]:
    if job.boxes_xml is not None:
        return parse_boxes_xml(job.boxes_xml, f"{job.name} annotation")
    if job.boxes_json is not None:
        return parse_boxes_json(job.boxes_json, job.name)
    from vcfnet.service.errors import APIError
    raise APIError(422, f"{job.name}: no boxes; send a 'boxes' form field ([[x0, y0, x1, y1], ...] in "
                        f"pixels) or a LabelImg XML file in 'annotation'")


def diagnose(predictor, job: ImageJob, *, gradcam: bool, max_megapixels: float, max_boxes: int) -> dict:
    """Check and decode one image, predict every box; the ``ImageResult`` JSON."""
    checkpoint()                      # a timed-out request's batch stops here, between images
    boxes = _boxes(job)
    info = inspect_image(job.path, job.name, max_megapixels=max_megapixels)
    check_boxes(boxes, job.name, info.width, info.height, max_boxes)
    radiograph = decode_image(job.path, job.name, info)
    check_boxes(boxes, job.name, info.width, info.height, max_boxes)   # decoded size is the truth
    checkpoint()
    clinical, used = clinical_inputs(predictor, job, radiograph.meta)
    predictions = predictor.predict(radiograph, [b.box for b in boxes], gradcam=gradcam, clinical=clinical)
    results = []
    for i, (spec, pred) in enumerate(zip(boxes, predictions), start=1):
        item = {"index": i, "box": [float(v) for v in spec.box], "annotation": spec.annotation,
                "probabilities": {k: float(v) for k, v in pred.probabilities.items()},
                "predicted": pred.predicted, "heatmap_png": None, "crop_png": None,
                "refer": pred.refer, "refer_reason": pred.refer_reason, "model": pred.model,
                "image_probabilities": dict(pred.image_probabilities), "clinical_notes": list(pred.clinical_notes)}
        if gradcam and pred.heatmap is not None:
            x0, y0, x1, y1 = pred.window
            item["crop_png"] = png_base64(_grey_uint8(radiograph.pixels[y0:y1, x0:x1]), THUMB_MAX_SIDE)
            item["heatmap_png"] = png_base64(pred.overlay(), THUMB_MAX_SIDE)
        results.append(item)
    return {"index": job.number, "width": info.width, "height": info.height,
            "meta": public_meta(radiograph.meta), "clinical": used, "boxes": results}


def clinical_inputs(predictor, job: ImageJob, meta: dict) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The clinical values the model gets (form fields first, then the DICOM header) and what the
    response says about them. A model without an image+clinical part, or no value at all, answers
    with the image model (None). The values are never logged."""
    from vcfnet.model.clinical import merge_values

    values, source = merge_values(parse_clinical(job.age, job.sex, job.name), header_clinical(meta))
    source = {k: "form" if v == "given" else v for k, v in source.items()}
    columns = list(getattr(predictor, "clinical_columns", []) or [])
    used = {"age": values.get("age"), "sex": values.get("sex"), "source": source,
            "columns": columns, "used": bool(columns and values)}
    return (values if used["used"] else None), used


def propose(predictor, job: ImageJob, *, max_megapixels: float, max_boxes: int) -> dict:
    """The bodies the Predictor's detector finds in one image, top to bottom, measured, not classified
    (``classify="none"``): the ``Proposals`` JSON. At most ``max_boxes`` (the highest scores) are
    returned, as a classification request takes no more; ``proposed`` marks those meeting the study's
    inclusion rule, which the page preselects."""
    from vcfnet.service.errors import APIError

    if getattr(predictor, "detector", None) is None:
        raise APIError(404, "this service has no vertebra detector, so it cannot propose boxes; start it with "
                            "`vcfnet serve --detector DET` (a folder made by `vcfnet train-detector`) or draw the boxes")
    checkpoint()
    info = inspect_image(job.path, job.name, max_megapixels=max_megapixels)
    radiograph = decode_image(job.path, job.name, info)
    checkpoint()
    bodies = predictor.predict(radiograph, classify="none")
    kept = sorted(sorted(range(len(bodies)), key=lambda i: -bodies[i].detection.score)[:max_boxes])
    out = []
    for n, i in enumerate(kept, start=1):
        d = bodies[i].detection_dict()
        out.append({"index": n, "box": [round(float(v), 2) for v in bodies[i].box], "score": d["score"],
                    "level": d["level"], "level_counted": d["level_counted"], "seen_level": d["seen_level"],
                    "level_reason": d["level_reason"], "points": d["points"], "morphometry": d["morphometry"],
                    "proposed": d["morphometry"]["included"] is True})
    return {"width": info.width, "height": info.height, "found": len(bodies), "bodies": out}


def display(job: ImageJob, *, max_megapixels: float) -> dict:
    """A de-identified 8-bit PNG of the radiograph for the page's viewer, shrunk to 2048 px at most."""
    info = inspect_image(job.path, job.name, max_megapixels=max_megapixels)
    radiograph = decode_image(job.path, job.name, info)
    height, width = radiograph.pixels.shape
    scale = min(1.0, DISPLAY_MAX_SIDE / max(height, width))
    return {"width": width, "height": height, "scale": scale, "meta": public_meta(radiograph.meta),
            "clinical": header_clinical(radiograph.meta),
            "png": png_base64(_grey_uint8(radiograph.pixels), DISPLAY_MAX_SIDE)}


def annotation_boxes(path: Path) -> dict:
    """The boxes of an uploaded LabelImg XML file (parsed by ``vcfnet.io.read_voc``)."""
    boxes = parse_boxes_xml(path, "annotation")
    if not boxes:
        from vcfnet.service.errors import APIError
        raise APIError(422, "annotation: the LabelImg file has no <object> boxes")
    return {"boxes": [{"box": list(b.box), "annotation": b.annotation} for b in boxes]}
