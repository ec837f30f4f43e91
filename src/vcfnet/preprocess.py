"""The one preprocessing step from radiograph to model input, shared by ingest and the Predictor.

A crop is made the same way everywhere (crop cache at ingest, Predictor at diagnosis time), so a
model sees identical pixels in training and in use. Any change to this file that changes the pixels
must bump ``PREPROCESSING_VERSION``: checkpoints record it and refuse to run on a different one.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

PREPROCESSING_VERSION = "1"
DEFAULT_SIZE = 224


def box_with_margin(box: tuple[float, float, float, float], shape: tuple[int, int],
                    margin: float = 0.0) -> tuple[int, int, int, int]:
    """Integer crop window for ``box`` = (x0, y0, x1, y1) grown by ``margin`` x box size per side.

    Coordinates are pixel edges (x1, y1 exclusive), clipped to the image of ``shape`` = (rows, cols).
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    rows, cols = shape
    ix0 = int(np.floor(max(0.0, x0 - dx)))
    iy0 = int(np.floor(max(0.0, y0 - dy)))
    ix1 = int(np.ceil(min(float(cols), x1 + dx)))
    iy1 = int(np.ceil(min(float(rows), y1 + dy)))
    if ix1 <= ix0 or iy1 <= iy0:
        raise ValueError(f"box {tuple(box)} is empty or outside an image of {cols}x{rows} pixels")
    return ix0, iy0, ix1, iy1


def crop_roi(pixels: np.ndarray, box: tuple[float, float, float, float] | None = None, *,
             size: int = DEFAULT_SIZE, margin: float = 0.0) -> np.ndarray:
    """Crop ``box`` from a radiograph and resize it to ``size`` x ``size`` uint8.

    Args:
        pixels: (H, W) float array in [0, 1], bone bright (``Radiograph.pixels``).
        box: (x0, y0, x1, y1) in pixels; ``None`` takes the whole image (a ready crop).
        size: output side in pixels; the box is stretched to a square, as in the original study.
        margin: context added around the box, as a fraction of its width/height on each side.

    Returns:
        (size, size) uint8 array. The resize runs in float32 (PIL bilinear, antialiased when shrinking)
        and only the final result is quantised to 8 bits.
    """
    if pixels.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {pixels.shape}")
    if box is None:
        box = (0, 0, pixels.shape[1], pixels.shape[0])
    x0, y0, x1, y1 = box_with_margin(box, pixels.shape, margin)
    crop = np.ascontiguousarray(pixels[y0:y1, x0:x1], dtype=np.float32)
    resized = np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR))
    return np.clip(np.rint(resized * 255.0), 0, 255).astype(np.uint8)
