"""What the Predictor accepts: a radiograph's pixels (from a path, a ``Radiograph`` or an array) with its
PixelSpacing, and boxes checked against the image. Shared by ``vcfnet.predict`` and ``vcfnet.detect.pipeline``
(which the Predictor calls without boxes), so both read an image by the same rule."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.errors import VcfnetError
from vcfnet.io.annotations import coords_problem

Box = tuple[float, float, float, float]


def read_image(image: Any) -> tuple[np.ndarray, str, tuple[float, float] | None]:
    """(H, W) float32 pixels in [0, 1], a name for error messages, and the (row, column) PixelSpacing in mm
    (None when the radiograph has none, or for an array), from a path, ``Radiograph`` or array."""
    if isinstance(image, (str, Path)):
        from vcfnet.io import read_radiograph

        source = str(image)
        image = read_radiograph(image)
    else:
        source = "radiograph" if hasattr(image, "pixels") else "image array"
    if not hasattr(image, "pixels"):
        return _check_pixels(image, source), source, None
    meta = getattr(image, "meta", None) or {}
    spacing = None
    if meta.get("pixel_spacing"):
        row, col = meta["pixel_spacing"]
        spacing = (float(row), float(col))
    return _check_pixels(image.pixels, source), source, spacing


def load_pixels(image: Any) -> tuple[np.ndarray, str]:
    """(H, W) float32 pixels in [0, 1] and a name for error messages, from a path, Radiograph or array."""
    pixels, source, _ = read_image(image)
    return pixels, source


def _check_pixels(pixels: Any, source: str) -> np.ndarray:
    arr = np.asarray(pixels)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise VcfnetError(f"{source}: expected a 2-D grey image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise VcfnetError(f"{source}: expected float pixels in [0, 1] (or uint8), got {arr.dtype}; "
                          f"read files with vcfnet.io.read_radiograph")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
        raise VcfnetError(f"{source}: pixel values must be finite and within [0, 1]")
    return arr


def check_box(box: Sequence[float], shape: tuple[int, int], source: str, index: int) -> Box:
    """A box as four floats; a clear error when it is malformed, empty or outside the image."""
    rows, cols = shape
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise VcfnetError(f"{source}: box {index + 1} {box!r} is not four numbers x0,y0,x1,y1") from None
    problem = coords_problem(x0, y0, x1, y1, cols, rows)
    if problem:
        raise VcfnetError(f"{source}: box {index + 1} ({x0:g}, {y0:g}, {x1:g}, {y1:g}): {problem}")
    return (x0, y0, x1, y1)
