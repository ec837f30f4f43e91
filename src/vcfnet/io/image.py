"""Non-DICOM radiographs (PNG, JPEG, TIFF) through Pillow, as float [0, 1] grey, bone bright.

Integer images are scaled by their type's range (8 bit / 255, 16 bit / 65535), not by their own
min/max, so a crop keeps the grey levels it was exported with. Colour images whose channels are
equal (the real crops are RGBA with R = G = B) keep the first channel exactly; true colour becomes
ITU-R 601 luminance. EXIF orientation is deliberately ignored: LabelImg draws boxes on the stored
pixel grid, and the boxes must stay on the vertebrae.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vcfnet.errors import InputError
from vcfnet.io.radiograph_data import Radiograph
from vcfnet.io.radiograph_data import one_line as _one_line

log = logging.getLogger(__name__)

UnidentifiedImage = UnidentifiedImageError
_LUMA = np.array([0.299, 0.587, 0.114])
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def read_image_file(path: str | Path) -> Radiograph:
    """Read an image file into a ``Radiograph``; ``UnidentifiedImage`` if Pillow does not know it."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()  # Pillow decodes lazily: force it here so truncation surfaces now
            fmt, mode = im.format or "", im.mode
            pixels, bits = _to_unit(im, path)
    except UnidentifiedImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(path, f"cannot decode the {_fmt(path)} image ({_one_line(exc)}); "
                               "the file may be truncated or corrupt") from None
    meta = {
        "format": fmt, "image_mode": mode, "modality": "", "pixel_spacing": None,
        "pixel_spacing_source": "", "body_part": "", "photometric": "", "bits_stored": bits,
        "manufacturer": "", "study_date": "", "patient_age": None, "patient_sex": "", "patient_key": None,
    }
    return Radiograph(pixels=pixels, meta=meta, source=str(path))


def _fmt(path: Path) -> str:
    return path.suffix.lstrip(".").upper() or "image"


def _to_unit(im: Image.Image, path: Path) -> tuple[np.ndarray, int]:
    """(H, W) float32 in [0, 1] and the bit depth it was scaled from."""
    mode = im.mode
    if mode in _SIXTEEN_BIT:
        return (np.asarray(im).astype(np.float64) / 65535.0).astype(np.float32), 16
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise InputError(path, f"32-bit integer image with values {arr.min()}..{arr.max()}: "
                                   "expected 8- or 16-bit grey levels")
        return (arr.astype(np.float64) / 65535.0).astype(np.float32), 16
    if mode in ("1", "LA"):
        im, mode = im.convert("L"), "L"
    elif mode in ("P", "PA"):
        im, mode = im.convert("RGBA"), "RGBA"
    if mode == "L":
        return (np.asarray(im).astype(np.float32) / 255.0), 8
    if mode in ("RGB", "RGBA", "RGBX"):
        rgb = np.asarray(im)[..., :3]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            return rgb[..., 0].astype(np.float32) / 255.0, 8
        log.debug("%s: colour image, converted to luminance", path)
        return (rgb.astype(np.float64) @ _LUMA / 255.0).astype(np.float32), 8
    raise InputError(path, f"unsupported image mode '{mode}' (supported: L, I;16, I, RGB, RGBA, LA, P, 1)")
