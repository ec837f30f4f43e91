"""Helpers for the Predictor tests: blob crops for a tiny ResNet-18, toy radiographs (fixtures: conftest.py).

The blob model (64 px crops) answers class 0 ("acute") when a bright disc is in the crop and class 1
("chronic") when there is none; which half of the crop the disc lies in varies, so a working Grad-CAM
must point at that half. Training uses the project's engine (``train_one_epoch``), a few seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vcfnet.labels import CLASSES
from vcfnet.preprocess import PREPROCESSING_VERSION

S = 64                 # crop side of the blob model
BLOB_RADIUS = 6.0
BACKGROUND = 0.35


def blob_crops(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crops (n, 1, S, S) uint8, labels 0 = blob / 1 = none, side 0 = left half / 1 = right half)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:S, 0:S]
    images = rng.normal(BACKGROUND, 0.05, (n, S, S))
    labels = rng.integers(0, 2, n)
    side = rng.integers(0, 2, n)
    for i in np.flatnonzero(labels == 0):
        cx = rng.uniform(8, S / 2 - 8) + side[i] * S / 2
        cy = rng.uniform(8, S - 8)
        images[i][(xx - cx) ** 2 + (yy - cy) ** 2 < BLOB_RADIUS ** 2] = 0.9
    crops = np.rint(np.clip(images, 0, 1) * 255).astype(np.uint8)[:, None]
    return crops, labels.astype(np.int64), side


def blob_card(**extra) -> dict:
    return {"classes": list(CLASSES), "input_size": S, "crop_size": S, "crop_margin": 0.0, "temperature": None,
            "preprocessing_version": PREPROCESSING_VERSION, **extra}


#: Boxes on the toy radiograph (x0, y0, x1, y1), their VOC labels, and where a blob is drawn.
TOY_BOXES = [(20.0, 30.0, 84.0, 94.0), (110.0, 30.0, 174.0, 94.0), (60.0, 110.0, 124.0, 174.0)]
TOY_LABELS = [("acute", "L1"), ("chronic", "L2"), ("acute", "L3")]
TOY_BLOBS = [(36.0, 62.0), None, (108.0, 142.0)]   # centre (x, y) or no blob: left half, none, right half


def toy_pixels(seed: int = 0, height: int = 200, width: int = 240) -> np.ndarray:
    """A grey 'radiograph' (H, W) in [0, 1], quantised to 8 bits, with blobs in boxes 1 and 3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = rng.normal(BACKGROUND, 0.05, (height, width))
    for centre in TOY_BLOBS:
        if centre is not None:
            pixels[(xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 < BLOB_RADIUS ** 2] = 0.9
    return np.rint(np.clip(pixels, 0, 1) * 255).astype(np.float32) / 255.0


def write_toy_radiograph(folder: Path, name: str = "film", seed: int = 0) -> tuple[Path, Path]:
    """Write ``name.png`` (8-bit grey) and its LabelImg ``name.xml``; returns both paths."""
    from PIL import Image

    from vcfnet.io import Box, write_voc

    folder.mkdir(parents=True, exist_ok=True)
    pixels = toy_pixels(seed)
    png = folder / f"{name}.png"
    Image.fromarray(np.rint(pixels * 255).astype(np.uint8)).save(png)
    boxes = [Box(label, level, *box) for (label, level), box in zip(TOY_LABELS, TOY_BOXES)]
    xml = folder / f"{name}.xml"
    write_voc(xml, png.name, pixels.shape[1], pixels.shape[0], boxes)
    return png, xml
