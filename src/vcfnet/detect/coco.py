"""Vertebra annotations as COCO keypoints JSON (``vertebrae.json``): the detection contract.

One file per source folder, beside the LabelImg XML of the fractured vertebrae. One category,
``vertebral_body``, with the six morphometry landmarks of ``KEYPOINTS``; the level is an attribute of
each annotation (``"level": "L1"``), not a category: a detector finds bodies, and the level comes from
counting (``detect.levels``), so the level must stay a label that can be "uncertain". Each annotation::

    {"id", "image_id", "category_id": 1, "bbox": [x, y, w, h], "area", "iscrowd": 0,
     "keypoints": [x1, y1, v1, ... x6, y6, v6], "num_keypoints",
     "level": "T10".."L5" | "S1" | "T13" | "L6", "truncated": bool, "fracture": "acute" | ... | null}

Coordinates are image pixels (pixel i spans [i, i + 1)); keypoint visibility follows COCO: 2 = in the
image, 0 = not labelled (outside the image: x = y = 0). Each image may carry
``pixel_spacing_mm: [row, column]`` for millimetre heights. Reading checks the size before parsing
and every field, naming the file and the annotation.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfnet.errors import InputError
from vcfnet.fileio import write_json
from vcfnet.labels import CLASSES, LEVELS, clip

FORMAT = "vcfnet-vertebrae-1"
FILENAME = "vertebrae.json"
CATEGORY = "vertebral_body"
KEYPOINTS = ("upper_anterior", "upper_middle", "upper_posterior",
             "lower_anterior", "lower_middle", "lower_posterior")
SKELETON = [[1, 2], [2, 3], [4, 5], [5, 6], [1, 4], [3, 6]]
#: levels an annotation may name: the study's, and the transitional T13 / L6 of enumeration anomalies
ANNOTATION_LEVELS = (*LEVELS, "T13", "L6")
MAX_COCO_BYTES = 64 << 20
MAX_ANNOTATIONS = 200_000


@dataclass(frozen=True)
class VertebraAnnotation:
    """One vertebral body: level, box (x0, y0, x1, y1), six points ((x, y) or None when not labelled)."""
    level: str
    box: tuple[float, float, float, float]
    points: tuple[tuple[float, float] | None, ...]
    truncated: bool = False
    fracture: str | None = None


@dataclass
class ImageAnnotations:
    """The bodies of one radiograph; ``spacing``: PixelSpacing (row, column) in mm, if known."""
    file_name: str
    width: int
    height: int
    spacing: tuple[float, float] | None = None
    vertebrae: list[VertebraAnnotation] = field(default_factory=list)


def to_coco(images: list[ImageAnnotations], description: str = "vertebral bodies") -> dict[str, Any]:
    """The COCO keypoints document of ``images`` (ids from 1, in the order given)."""
    out_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, im in enumerate(images, start=1):
        entry: dict[str, Any] = {"id": image_id, "file_name": im.file_name, "width": im.width, "height": im.height}
        if im.spacing is not None:
            entry["pixel_spacing_mm"] = [float(im.spacing[0]), float(im.spacing[1])]
        out_images.append(entry)
        for vb in im.vertebrae:
            annotations.append(_annotation(len(annotations) + 1, image_id, vb))
    return {"info": {"description": description, "format": FORMAT},
            "images": out_images, "annotations": annotations,
            "categories": [{"id": 1, "name": CATEGORY, "supercategory": "spine",
                            "keypoints": list(KEYPOINTS), "skeleton": SKELETON}]}


def _annotation(ann_id: int, image_id: int, vb: VertebraAnnotation) -> dict[str, Any]:
    x0, y0, x1, y1 = (round(float(c), 2) for c in vb.box)
    kps: list[float] = []
    for p in vb.points:
        kps += [0.0, 0.0, 0] if p is None else [round(float(p[0]), 2), round(float(p[1]), 2), 2]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
            "area": round((x1 - x0) * (y1 - y0), 2), "iscrowd": 0, "keypoints": kps,
            "num_keypoints": sum(p is not None for p in vb.points), "level": vb.level,
            "truncated": bool(vb.truncated), "fracture": vb.fracture}


def write_coco(path: str | Path, images: list[ImageAnnotations], description: str = "vertebral bodies") -> None:
    """Write ``images`` as COCO keypoints JSON, atomically."""
    write_json(path, to_coco(images, description))


def read_coco(path: str | Path, *, max_bytes: int = MAX_COCO_BYTES) -> list[ImageAnnotations]:
    """Read a ``vertebrae.json``; one ``InputError`` line naming file, annotation and field if bad."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from exc
    if size > max_bytes:
        raise InputError(path, f"{size} bytes; vertebra annotations are at most {max_bytes} bytes")
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not JSON ({clip(exc, 80)})") from exc
    except RecursionError as exc:
        raise InputError(path, "not JSON this reader accepts (nested too deeply)") from exc
    return parse_coco(doc, path)


def parse_coco(doc: Any, source: str | Path) -> list[ImageAnnotations]:
    """Validate a parsed COCO keypoints document and return its images in file order."""
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
            or not isinstance(doc.get("annotations"), list):
        raise InputError(source, "expected a COCO object with 'images' and 'annotations' lists")
    if len(doc["annotations"]) > MAX_ANNOTATIONS:
        raise InputError(source, f"{len(doc['annotations'])} annotations; at most {MAX_ANNOTATIONS}")
    _check_categories(doc.get("categories"), source)
    images: dict[int, ImageAnnotations] = {}
    for i, im in enumerate(doc["images"]):
        image_id, parsed = _image(im, source, i)
        if image_id in images:
            raise InputError(source, f"duplicate image id {image_id}", row=f"images[{i}]", field="id")
        images[image_id] = parsed
    for i, ann in enumerate(doc["annotations"]):
        image_id, vb = _vertebra(ann, source, i)
        if image_id not in images:
            raise InputError(source, f"names image id {image_id}, which 'images' lacks",
                             row=f"annotations[{i}]", field="image_id")
        images[image_id].vertebrae.append(vb)
    return list(images.values())


def _check_categories(categories: Any, source: str | Path) -> None:
    if not isinstance(categories, list) or not categories:
        raise InputError(source, "expected a 'categories' list", field="categories")
    cat = categories[0]
    if not isinstance(cat, dict) or cat.get("id") != 1 or list(cat.get("keypoints") or []) != list(KEYPOINTS):
        raise InputError(source, f"expected category 1 '{CATEGORY}' with keypoints {', '.join(KEYPOINTS)}",
                         field="categories")


def _image(im: Any, source: str | Path, i: int) -> tuple[int, ImageAnnotations]:
    row = f"images[{i}]"
    if not isinstance(im, dict):
        raise InputError(source, "expected an object", row=row)
    image_id = _int(im.get("id"), source, row, "id")
    name = im.get("file_name")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or len(name) > 255:
        raise InputError(source, "expected a file name without folders", row=row, field="file_name")
    width, height = _int(im.get("width"), source, row, "width"), _int(im.get("height"), source, row, "height")
    if not (0 < width <= 65535 and 0 < height <= 65535):
        raise InputError(source, f"image size {width} x {height} out of 1..65535", row=row, field="width")
    spacing = im.get("pixel_spacing_mm")
    if spacing is not None:
        if not (isinstance(spacing, list) and len(spacing) == 2 and all(_positive(s) for s in spacing)):
            raise InputError(source, "expected [row, column] millimetres > 0", row=row, field="pixel_spacing_mm")
        spacing = (float(spacing[0]), float(spacing[1]))
    return image_id, ImageAnnotations(name, width, height, spacing)


def _vertebra(ann: Any, source: str | Path, i: int) -> tuple[int, VertebraAnnotation]:
    row = f"annotations[{i}]"
    if not isinstance(ann, dict):
        raise InputError(source, "expected an object", row=row)
    image_id = _int(ann.get("image_id"), source, row, "image_id")
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_finite(c) for c in bbox)) or bbox[2] <= 0 or bbox[3] <= 0:
        raise InputError(source, "expected [x, y, width, height] with width, height > 0", row=row, field="bbox")
    level = ann.get("level")
    if level not in ANNOTATION_LEVELS:
        raise InputError(source, f"level '{clip(level)}' is not one of {', '.join(ANNOTATION_LEVELS)}",
                         row=row, field="level")
    fracture = ann.get("fracture")
    if fracture is not None and fracture not in CLASSES:
        raise InputError(source, f"fracture '{clip(fracture)}' is not null or one of {', '.join(CLASSES)}",
                         row=row, field="fracture")
    x, y, w, h = (float(c) for c in bbox)
    return image_id, VertebraAnnotation(level, (x, y, x + w, y + h), _points(ann.get("keypoints"), source, row),
                                        bool(ann.get("truncated", False)), fracture)


def _points(kps: Any, source: str | Path, row: str) -> tuple[tuple[float, float] | None, ...]:
    n = len(KEYPOINTS)
    if not (isinstance(kps, list) and len(kps) == 3 * n and all(_finite(c) for c in kps)):
        raise InputError(source, f"expected {3 * n} numbers (x, y, visibility for {n} points)", row=row,
                         field="keypoints")
    out: list[tuple[float, float] | None] = []
    for k in range(n):
        x, y, v = kps[3 * k: 3 * k + 3]
        if v not in (0, 1, 2):
            raise InputError(source, f"visibility of {KEYPOINTS[k]} must be 0, 1 or 2, got {clip(v)}",
                             row=row, field="keypoints")
        out.append(None if v == 0 else (float(x), float(y)))
    return tuple(out)


def _int(value: Any, source: str | Path, row: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(source, f"expected an integer, got {clip(value)}", row=row, field=name)
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _finite(value) and value > 0
