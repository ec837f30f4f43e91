"""Numpy image helpers for the phantom, and the acquisition chain of a site.

Everything is vectorised numpy on float32: separable Gaussian blur by shifted sums, bilinear
resampling by index arithmetic, low-frequency noise made small and enlarged. Large blurs run on a
downsampled copy, so one radiograph costs tens of milliseconds.
"""
from __future__ import annotations

import numpy as np

from vcfnet.study.synth_sites import SiteProfile


def blur(img: np.ndarray, sigma: float | tuple[float, float]) -> np.ndarray:
    """Separable Gaussian blur with reflected borders; ``sigma`` in pixels, (rows, cols) or one value."""
    sy, sx = (sigma, sigma) if np.isscalar(sigma) else sigma
    out = img.astype(np.float32, copy=False)
    for axis, s in ((0, sy), (1, sx)):
        if s > 0.2:
            out = _blur_axis(out, float(s), axis)
    return out


def _blur_axis(img: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    r = max(1, int(np.ceil(2.5 * sigma)))
    w = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    w /= w.sum()
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(img, pad, mode="reflect" if img.shape[axis] > r else "edge")
    n = img.shape[axis]
    out = np.zeros_like(img, dtype=np.float32)
    for k, wk in enumerate(w):
        out += wk * (p[k:k + n] if axis == 0 else p[:, k:k + n])
    return out


def resize(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (align-corners) of a 2-D array to ``shape``, separably."""
    out = small.astype(np.float32, copy=False)
    for axis, n in enumerate(shape):
        m = out.shape[axis]
        pos = np.linspace(0.0, m - 1.0, n, dtype=np.float32)
        i0 = np.minimum(pos.astype(np.int64), max(m - 2, 0))
        f = pos - i0
        i1 = np.minimum(i0 + 1, m - 1)
        if axis == 0:
            out = out[i0] * (1 - f)[:, None] + out[i1] * f[:, None]
        else:
            out = out[:, i0] * (1 - f) + out[:, i1] * f
    return out


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


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Zero-mean, unit-std noise with features about ``cell`` pixels wide, on ``shape``."""
    sh = (max(2, int(shape[0] / cell) + 2), max(2, int(shape[1] / cell) + 2))
    small = blur(rng.standard_normal(sh, dtype=np.float32), 0.6)
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


def acquire(mu: np.ndarray, rng: np.random.Generator, site: SiteProfile, spacing: float) -> np.ndarray:
    """Site imaging chain: attenuation (log units) -> processed image in [0, 1], bone bright.

    Quantum noise grows where fewer photons arrive (more attenuation); the detector blurs signal and
    noise together; the vendor's unsharp mask lifts edges; a per-image histogram window and the
    site's tone curve give the displayed grey levels.
    """
    noise_sd = site.noise * np.exp(0.5 * (mu - 2.5)).astype(np.float32)
    img = mu + noise_sd * rng.standard_normal(mu.shape, dtype=np.float32)
    img = blur(img, site.blur_mm / spacing)
    if site.edge_enhance > 0:
        img = img + site.edge_enhance * (img - _lowpass(img, 6.0 / spacing))
    img = img + 0.004 * rng.standard_normal(mu.shape, dtype=np.float32)  # electronic noise
    lo, hi = np.percentile(img[::3, ::3], [0.5, 99.8])
    t = np.clip((img - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return (t ** site.gamma).astype(np.float32)


def _lowpass(img: np.ndarray, sigma: float) -> np.ndarray:
    """Wide Gaussian blur, computed on a 4x smaller copy."""
    f = 4
    h, w = img.shape
    hh, ww = h // f * f, w // f * f
    small = img[:hh, :ww].reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))
    return resize(blur(small, sigma / f), (h, w))
