"""Numpy image helpers for the phantom, and the acquisition chain of a site.

Everything is vectorised numpy on float32: separable Gaussian blur by shifted sums, bilinear
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
    r = max(1, int(np.ceil(2.2 * sigma)))
    w = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    w /= w.sum()
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    p = np.pad(img, pad, mode="reflect" if img.shape[axis] > r else "edge")
    n = img.shape[axis]
    out = np.zeros_like(img, dtype=np.float32)
    tmp = np.empty_like(out)
    for k, wk in enumerate(w):
        np.multiply(p[k:k + n] if axis == 0 else p[:, k:k + n], wk, out=tmp)
        out += tmp
    return out


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
    img = mu + _noise(rng, mu.shape) * (site.noise * np.exp(0.5 * (mu - 2.5)))
    img = blur(img, site.blur_mm / spacing)
    # unsharp mask (6 mm) and dynamic range compression (25 mm), both from one small copy
    f = 4
    h, w = img.shape
    hh, ww = -(-h // f) * f, -(-w // f) * f
    small = np.pad(img, ((0, hh - h), (0, ww - w)), mode="edge").reshape(hh // f, f, ww // f, f).mean(axis=(1, 3))
    broad = blur(small, 25.0 / spacing / f)
    low = site.edge_enhance * blur(small, 6.0 / spacing / f) + site.range_compression * (broad - broad.mean())
    img = (1 + site.edge_enhance) * img - upsample(low, f, (h, w))
    lo, hi = _window(img)
    t = np.clip((img - lo) / max(float(hi - lo), 1e-6), 0.0, 1.0)
    return t if site.gamma == 1.0 else (t ** np.float32(site.gamma))


def _window(img: np.ndarray) -> tuple[float, float]:
    """Histogram analysis of the processing: body tissue (not the air behind the back) spans 0..1."""
    sub = img[::4, ::4].ravel()
    tissue = sub[sub > 0.5 * np.median(sub)]
    k = [int(0.01 * tissue.size), int(0.998 * tissue.size)]
    lo, hi = np.partition(tissue, k)[k]
    return float(lo), float(hi)


def _noise(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Zero-mean unit-variance white noise (uniform: cheap, and Gaussian once the detector blurs it)."""
    return (rng.random(shape, dtype=np.float32) - np.float32(0.5)) * np.float32(np.sqrt(12.0))
