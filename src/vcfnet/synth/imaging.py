"""Numpy image helpers for the phantom, and the acquisition chain of a site.

Everything is vectorised numpy on float32: separable Gaussian blur (scipy's correlate1d), bilinear
resampling by index arithmetic, low-frequency noise made small and enlarged. Large blurs run on a
downsampled copy, so one radiograph costs tens of milliseconds.
"""
from __future__ import annotations

import numpy as np

from vcfnet.synth.sites import SiteProfile


def blur(img: np.ndarray, sigma: float | tuple[float, float]) -> np.ndarray:
    """Separable Gaussian blur with reflected borders; ``sigma`` in pixels, (rows, cols) or one value."""
    sy, sx = (sigma, sigma) if isinstance(sigma, (int, float, np.number)) else sigma
    out = img.astype(np.float32, copy=False)
    for axis, s in ((0, sy), (1, sx)):
        if s > 0.2:
            out = _blur_axis(out, float(s), axis)
    return out


def _blur_axis(img: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    from scipy.ndimage import correlate1d

    r = max(1, int(np.ceil(2.2 * sigma)))
    w = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    w /= w.sum()
    # "mirror" is numpy's "reflect" (the edge pixel is not repeated); a kernel wider than the axis: edge pixels
    return correlate1d(img, w, axis=axis, mode="mirror" if img.shape[axis] > r else "nearest", output=np.float32)


def resize(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (align-corners) of a 2-D array to ``shape``: columns first, then whole rows."""
    out = small.astype(np.float32, copy=False)
    for axis in (1, 0):
        n, m = shape[axis], out.shape[axis]
        pos = np.linspace(0.0, m - 1.0, n, dtype=np.float32)
        i0 = np.minimum(pos.astype(np.int64), max(m - 2, 0))
        f = pos - i0
        i1 = np.minimum(i0 + 1, m - 1)
        if axis == 0:
            out = out[i0] * (1 - f)[:, None] + out[i1] * f[:, None]
        else:
            out = out[:, i0] * (1 - f) + out[:, i1] * f
    return out


def upsample(small: np.ndarray, f: int, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear enlargement by the integer factor ``f`` (pixel centres aligned), cropped to ``shape``.

    Each output phase is a fixed blend of two neighbours, so this is pure broadcasting, no gathers.
    """
    out = small.astype(np.float32, copy=False)
    for axis in (1, 0):
        p = np.pad(out, [(1, 1) if a == axis else (0, 0) for a in range(2)], mode="edge")
        take = (lambda a, b, p=p: p[a:p.shape[0] - 2 + a]) if axis == 0 else (lambda a, b, p=p: p[:, a:p.shape[1] - 2 + a])
        left, mid, right = take(0, 0), take(1, 0), take(2, 0)
        phases = []
        for k in range(f):
            d = np.float32((k + 0.5) / f - 0.5)
            phases.append(mid * (1 + d) - left * d if d < 0 else mid * (1 - d) + right * d)
        out = np.stack(phases, axis=axis + 1)
        out = out.reshape(-1, out.shape[2]) if axis == 0 else out.reshape(out.shape[0], -1)
    return np.ascontiguousarray(out[:shape[0], :shape[1]])


def sample(grid: np.ndarray, gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``grid`` at fractional indices (gy, gx), clamped to the grid."""
    h, w = grid.shape
    gy = np.clip(gy, 0, h - 1.001)
    gx = np.clip(gx, 0, w - 1.001)
    y0 = gy.astype(np.int64)
    x0 = gx.astype(np.int64)
    fy = (gy - y0).astype(np.float32)
    fx = (gx - x0).astype(np.float32)
    top = grid[y0, x0] * (1 - fx) + grid[y0, x0 + 1] * fx
    bot = grid[y0 + 1, x0] * (1 - fx) + grid[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float, smooth: float = 0.6) -> np.ndarray:
    """Zero-mean, unit-std noise with features about ``cell`` pixels wide, on ``shape``.

    ``smooth``: blur of the coarse grid in cells (higher: rounder, less grid-like blobs).
    """
    sh = (max(2, int(shape[0] / cell) + 2), max(2, int(shape[1] / cell) + 2))
    small = blur(rng.standard_normal(sh, dtype=np.float32), smooth)
    out = resize(small, shape)
    return (out - out.mean()) / (out.std() + 1e-6)


def soft_ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float,
                 angle: float = 0.0) -> np.ndarray:
    """Projected thickness of an ellipsoid, 0..1: sqrt(1 - r^2) inside, 0 outside."""
    c, s = np.cos(angle), np.sin(angle)
    dy, dx = yy - cy, xx - cx
    u = (dx * c - dy * s) / rx
    v = (dx * s + dy * c) / ry
    return np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None)).astype(np.float32)


#: Attenuation (log units) of the path behind the lumbar spine, where the exposure is set (AEC chamber).
REF_MU = 3.2
#: Kernel (Gaussian sigma, mm) of the fine-detail band the processing boosts.
DETAIL_MM = 0.5


def shrink(img: np.ndarray, f: int) -> np.ndarray:
    """Box-average by the integer factor ``f`` (edges padded), the inverse of ``upsample``."""
    if f <= 1:
        return img.astype(np.float32, copy=False)
    h, w = img.shape
    hh, ww = -(-h // f) * f, -(-w // f) * f
    p = np.pad(img, ((0, hh - h), (0, ww - w)), mode="edge")
    return p.reshape(hh // f, f, ww // f, f).mean(axis=(1, 3), dtype=np.float32)


def acquire(mu: np.ndarray, rng: np.random.Generator, site: SiteProfile, spacing: float,
            roi: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Image formation at ``site``: attenuation line integrals ``mu`` -> processed image in [0, 1], bone bright.

    1. primary fluence ``exp(-mu)`` with the heel effect (intensity falling towards the anode end; the
       anode is at the head, the cathode's stronger beam over the thicker pelvis, as radiographers set it);
    2. scatter: a broad (30 mm) blur of the fluence leaving the body, ``site.scatter`` times the primary;
    3. quantum noise: Poisson statistics of ``site.quanta`` effective photons per mm^2 where the
       automatic exposure control measures (behind the spine), so a pixel's noise follows its area and
       its exposure whatever the patient's size; then the detector's blur (MTF), which
       shapes signal and quantum noise alike (the noise power falls with frequency as MTF^2), plus white
       electronic read-out noise;
    4. the vendor's processing on the log exposure: dynamic range compression (20 mm), unsharp masking
       (2.5 mm), a fine-detail boost (0.5 mm), a histogram window over the body's tissue centred on
       the lumbar spine and a soft S-shaped tone curve.

    ``roi`` (rows y0:y1, columns x0:x1): the lumbar spine, where the AEC chamber measures and the
    histogram analysis centres the window (the whole body when None).
    """
    h, w = mu.shape
    ref = np.float32(np.exp(-REF_MU))
    towards_feet = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    primary = np.exp(-mu) * (1 + np.float32(site.heel) * towards_feet)
    fb = max(1, int(round(2.0 / spacing)))               # broad operations on a ~2 mm grid
    small = shrink(np.minimum(primary, 4 * ref), fb)      # air beside the body does not scatter
    scatter = np.float32(site.scatter) * blur(small, 30.0 / (spacing * fb))
    signal = primary + upsample(scatter, fb, (h, w))
    body = mu > np.float32(TISSUE * REF_MU)
    y0, y1, x0, x1 = roi if roi is not None else (0, h, 0, w)
    spine = np.zeros_like(body)
    spine[y0:y1, x0:x1] = body[y0:y1, x0:x1]
    # automatic exposure control: the exposure ends when the chamber behind the spine has its dose
    aec = np.float32(_median(signal, spine if spine.any() else body, float(ref)))
    per_pixel = np.float32(site.quanta * spacing * spacing)   # photons per pixel at the AEC exposure
    quantum = _noise(rng, (h, w)) * np.sqrt(signal * (aec / per_pixel))
    det = blur(signal + quantum, site.blur_mm / spacing)
    # read-out noise belongs to the detector's own pixels: a film made at a coarser resolution averages
    # (1 / resolution)^2 of them per pixel, so its read-out noise is that much weaker
    binned = min(1.0, site.spacing_mm / spacing)
    det += _noise(rng, (h, w)) * np.float32(site.electronic * binned * aec)
    log_e = -np.log(np.maximum(det, aec * np.float32(0.02)) / aec)
    return _process(log_e, body, spine if spine.any() else body, site, spacing, fb)


def _median(img: np.ndarray, mask: np.ndarray, default: float) -> float:
    """Median of ``img`` over ``mask`` (on every 4th pixel); ``default`` where the mask is (nearly) empty."""
    sub = img[::4, ::4][mask[::4, ::4]]
    return float(np.median(sub)) if sub.size >= 16 else default


def _process(img: np.ndarray, body_mask: np.ndarray, spine: np.ndarray, site: SiteProfile, spacing: float,
             fb: int) -> np.ndarray:
    """Vendor processing of the log exposure (bone high): range compression, unsharp mask, window, tone curve.

    Range compression flattens the body's broad brightness (so thick and thin parts of the torso both
    land mid-grey, as multi-scale processing does) but leaves the air behind the back dark.
    """
    h, w = img.shape
    fm = max(1, int(round(0.6 / spacing)))                 # the 2.5 mm unsharp kernel on a ~0.6 mm grid
    mid = upsample(blur(shrink(img, fm), 2.5 / (spacing * fm)), fm, (h, w))
    broad = blur(shrink(img, fb), 20.0 / (spacing * fb))
    body = broad[shrink(body_mask.astype(np.float32), fb) > 0.5]
    level = float(np.median(body)) if body.size else float(np.median(broad))
    floor = float(np.percentile(body, 5)) if body.size else level
    flat = np.maximum(broad, np.float32(floor)) - np.float32(level)
    out = img + np.float32(site.edge_enhance) * (img - mid) - np.float32(site.range_compression) * upsample(flat, fb, (h, w))
    if site.detail > 0:
        out += np.float32(site.detail) * (img - blur(img, DETAIL_MM / spacing))
    lo, hi = _window(out, body_mask)
    centre = _median(out, spine, (lo + hi) / 2)            # the lumbar spine lands mid-grey
    half = max(hi - lo, 1e-6) / (2 * site.contrast)
    x = (out - np.float32(centre)) / np.float32(half)
    t = np.float32(0.5) + np.float32(0.5) * np.tanh(x * np.float32(0.9))
    return t if site.gamma == 1.0 else (t ** np.float32(site.gamma))


#: Attenuation (fraction of ``REF_MU``) above which a pixel is body, not air (the processing's segmentation).
TISSUE = 0.45


def _window(img: np.ndarray, body_mask: np.ndarray) -> tuple[float, float]:
    """Histogram analysis of the processing: the body's tissue (not the air behind the back) spans the
    window's width (1st to 99.5th percentile)."""
    tissue = img[::4, ::4][body_mask[::4, ::4]]
    if tissue.size < 16:
        tissue = img[::4, ::4].ravel()
    k = [int(0.01 * tissue.size), int(0.995 * tissue.size)]
    lo, hi = np.partition(tissue, k)[k]
    return float(lo), float(hi)


def _noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Zero-mean unit-variance white noise (uniform: cheap, and Gaussian once the detector blurs it)."""
    return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) * np.float32(np.sqrt(12.0))
