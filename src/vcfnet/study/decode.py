"""Decode one image and crop its boxes: the unit of work that ingest runs in parallel.

Runs in worker processes, so it takes and returns plain picklable values. Nothing from a DICOM
header leaves this function except the de-identified fields of ``Radiograph.meta``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfnet.errors import InputError
from vcfnet.io import Box, Pseudonymizer, read_radiograph, read_yolo
from vcfnet.io.annotations import box_problem
from vcfnet.preprocess import crop_roi
from vcfnet.study.sources import ImageItem


@dataclass
class Decoded:
    rel: str
    crops: np.ndarray          # (k, S, S) uint8, one per box (one for a ready crop)
    boxes: list[Box] | None    # the boxes cropped (YOLO boxes resolved to pixels)
    width: int
    height: int
    meta: dict                 # de-identified: patient_key, age, sex, study_date, modality, ...


def decode_item(item: ImageItem, size: int, margin: float, key: bytes, site: str,
                synonyms: dict | None) -> Decoded:
    """Read ``item``'s image, resolve its boxes and crop them to ``size`` uint8."""
    pseudo = Pseudonymizer(key)
    radiograph = read_radiograph(item.path, pseudonymizer=_SiteScoped(pseudo, site))
    h, w = radiograph.pixels.shape
    boxes = item.boxes
    if item.yolo is not None:
        boxes = read_yolo(item.yolo[0], item.yolo[1], (w, h), synonyms=synonyms)
        if not boxes:
            raise InputError(item.yolo[0], "has no boxes")
    if boxes is None:
        crops = crop_roi(radiograph.pixels, None, size=size, margin=0.0)[None]
    else:
        for i, b in enumerate(boxes):
            problem = box_problem(b, w, h)
            if problem:
                raise InputError(item.annotation or item.path, f"object {i + 1}: {problem}", field="bndbox")
        crops = np.stack([crop_roi(radiograph.pixels, (b.x0, b.y0, b.x1, b.y1), size=size, margin=margin)
                          for b in boxes])
    return Decoded(item.rel, crops, boxes, w, h, dict(radiograph.meta))


class _SiteScoped:
    """Pseudonymise within a site: the same raw ID at two hospitals is two people."""

    def __init__(self, pseudo: Pseudonymizer, site: str):
        self._pseudo, self._site = pseudo, site

    def patient(self, raw_id: str) -> str:
        return self._pseudo.site_patient(self._site, raw_id)
