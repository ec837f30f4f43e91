"""Films at the detector's input scale, and random training views of them with their annotations moved along.

``scaled_film`` resizes a film (area-averaged) so its short side is ``short_side`` (the long side at most
``max_side``); ``Annotated.scaled`` moves boxes and landmarks with it. ``random_view`` draws one affine
warp per view (scale, small rotation, left-right flip, a shift that may cut bodies at the edge), resamples
the film into a fixed-size view (bilinear, zeros outside), applies it to every box and landmark, and
changes contrast, gamma and noise. Coordinates are continuous pixels (pixel i spans [i, i + 1)), so a
landmark moved by the warp lands on the same anatomical pixel (``tests/detect/test_augment.py``).
A body whose box keeps less than ``MIN_KEPT`` of its area inside the view is dropped; landmarks that leave
the view become invisible; boxes are the warped corners' enclosing box, clipped to the view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MIN_KEPT = 0.3


@dataclass(frozen=True)
class Augment:
    """Ranges of the random view (``none()``: the identity, for tests and timing)."""
    scale: tuple[float, float] = (0.8, 1.25)
    rotate_deg: float = 6.0
    flip: float = 0.5
    shift: float = 0.15            # of the film's size, each way
    gamma: tuple[float, float] = (0.7, 1.4)
    contrast: tuple[float, float] = (0.8, 1.25)
    noise: float = 0.03            # largest Gaussian noise sigma

    @staticmethod
    def none() -> Augment:
        return Augment(scale=(1.0, 1.0), rotate_deg=0.0, flip=0.0, shift=0.0, gamma=(1.0, 1.0),
                       contrast=(1.0, 1.0), noise=0.0)


@dataclass
class Annotated:
    """A film with its bodies: boxes (N, 4) x0 y0 x1 y1, labels (N,), points (N, 6, 2), visible (N, 6), and
    each body's weight in the landmark loss (N,; None: all 1)."""
    pixels: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    visible: np.ndarray
    weight: np.ndarray | None = None

    def scaled(self, sx: float, sy: float, pixels: np.ndarray) -> Annotated:
        s = np.array([sx, sy, sx, sy], np.float32)
        return Annotated(pixels, self.boxes * s, self.labels, self.points * np.array([sx, sy], np.float32),
                         self.visible, self.weight)


def scaled_size(rows: int, cols: int, short_side: int, max_side: int) -> tuple[int, int]:
    s = min(short_side / min(rows, cols), max_side / max(rows, cols))
    return max(1, round(rows * s)), max(1, round(cols * s))


def scaled_film(pixels: np.ndarray, short_side: int, max_side: int) -> tuple[np.ndarray, float, float]:
    """(H, W) -> the film at the input scale (float32) and the x and y factors applied."""
    rows, cols = pixels.shape
    size = scaled_size(rows, cols, short_side, max_side)
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
    out = F.interpolate(t, size=size, mode="area")[0, 0].numpy()
    return out, size[1] / cols, size[0] / rows


def pad_to(pixels: np.ndarray, multiple: int = 32) -> np.ndarray:
    """Zero-pad right and bottom to multiples of ``multiple`` (coordinates unchanged)."""
    rows, cols = pixels.shape
    r, c = -(-rows // multiple) * multiple, -(-cols // multiple) * multiple
    return np.pad(pixels, ((0, r - rows), (0, c - cols)))


def view_matrix(shape: tuple[int, int], out: tuple[int, int], rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """3 x 3 map from film pixels to view pixels: flip about the film's centre, scale and rotate about a
    shifted film point, which lands at the view's centre."""
    rows, cols = shape
    s = math.exp(rng.uniform(math.log(aug.scale[0]), math.log(aug.scale[1])))
    a = math.radians(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
    flip = rng.random() < aug.flip
    cx = cols / 2 + rng.uniform(-aug.shift, aug.shift) * cols
    cy = rows / 2 + rng.uniform(-aug.shift, aug.shift) * rows
    m_flip = np.array([[-1, 0, cols], [0, 1, 0], [0, 0, 1]], float) if flip else np.eye(3)
    if flip:
        cx = cols - cx
    to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], float)
    rot = np.array([[s * math.cos(a), -s * math.sin(a), 0], [s * math.sin(a), s * math.cos(a), 0], [0, 0, 1]])
    to_view = np.array([[1, 0, out[1] / 2], [0, 1, out[0] / 2], [0, 0, 1]], float)
    return to_view @ rot @ to_origin @ m_flip


def warp(pixels: np.ndarray, matrix: np.ndarray, out: tuple[int, int]) -> np.ndarray:
    """Resample ``pixels`` into an ``out`` (rows, cols) view through ``matrix`` (film -> view), bilinear."""
    rows, cols = pixels.shape
    inv = np.linalg.inv(matrix)
    yy, xx = np.mgrid[0:out[0], 0:out[1]].astype(np.float64) + 0.5
    sx = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
    sy = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
    grid = torch.from_numpy(np.stack([2 * sx / cols - 1, 2 * sy / rows - 1], -1).astype(np.float32))[None]
    t = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None, None]
    return F.grid_sample(t, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0, 0].numpy()


def move(film: Annotated, matrix: np.ndarray, out: tuple[int, int]) -> Annotated:
    """The annotations through ``matrix``, clipped to the view; bodies mostly outside it dropped."""
    rows, cols = out

    def apply(p: np.ndarray) -> np.ndarray:
        return p @ matrix[:2, :2].T + matrix[:2, 2]

    n = len(film.boxes)
    x0, y0, x1, y1 = (film.boxes[:, i] for i in range(4))
    corners = apply(np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x0, y1], -1),
                              np.stack([x1, y1], -1)], 1).reshape(-1, 2)).reshape(n, 4, 2)
    full = np.concatenate([corners.min(1), corners.max(1)], -1)
    clipped = np.clip(full, 0, [cols, rows, cols, rows])
    area = lambda b: np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)  # noqa: E731
    keep = area(clipped) >= MIN_KEPT * np.maximum(area(full), 1e-6)
    points = apply(film.points.reshape(-1, 2)).reshape(n, -1, 2)
    inside = (points[..., 0] >= 0) & (points[..., 0] < cols) & (points[..., 1] >= 0) & (points[..., 1] < rows)
    return Annotated(film.pixels, clipped[keep].astype(np.float32), film.labels[keep],
                     points[keep].astype(np.float32), (film.visible & inside)[keep],
                     film.weight[keep] if film.weight is not None else None)


def photometric(pixels: np.ndarray, rng: np.random.Generator, aug: Augment) -> np.ndarray:
    """Contrast about the mean, gamma, Gaussian noise; clipped to [0, 1]."""
    c = rng.uniform(*aug.contrast)
    g = math.exp(rng.uniform(math.log(aug.gamma[0]), math.log(aug.gamma[1])))
    sigma = rng.uniform(0, aug.noise)
    mean = float(pixels.mean())
    out = np.clip((pixels - mean) * c + mean, 0, 1) ** g
    if sigma > 0:
        out = out + rng.normal(0, sigma, out.shape).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def random_view(film: Annotated, out: tuple[int, int], rng: np.random.Generator, aug: Augment = Augment()) -> Annotated:
    """One augmented ``out`` (rows, cols) view of ``film`` with its annotations."""
    matrix = view_matrix(film.pixels.shape, out, rng, aug)
    moved = move(film, matrix, out)
    moved.pixels = photometric(warp(film.pixels, matrix, out), rng, aug)
    return moved
