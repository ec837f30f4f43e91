"""Augmented training views keep boxes and landmarks on the anatomy they mark: a synthetic film with a
bright blob at each landmark, warped, has the blob where the moved landmark says; bodies cut by the view's
edge keep their box clipped and lose the landmarks outside it."""
from __future__ import annotations

import numpy as np
import pytest

from vcfnet.detect.augment import Annotated, Augment, pad_to, random_view, scaled_film

GEOMETRIC = Augment(scale=(0.8, 1.25), rotate_deg=8.0, flip=0.5, shift=0.1, gamma=(1.0, 1.0),
                    contrast=(1.0, 1.0), noise=0.0)


def _film() -> Annotated:
    rows, cols = 240, 180
    yy, xx = np.mgrid[0:rows, 0:cols] + 0.5                      # pixel centres
    points = np.array([[[60, 80], [80, 78], [100, 82], [62, 120], [81, 121], [101, 118]]], np.float32)
    pixels = np.zeros((rows, cols), np.float32)
    for x, y in points[0]:
        pixels += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0 ** 2))
    return Annotated(np.clip(pixels, 0, 1), np.array([[55, 75, 106, 125]], np.float32), np.array([3]), points,
                     np.ones((1, 6), bool))


def _centroid(pixels: np.ndarray, x: float, y: float, r: int = 5) -> tuple[float, float]:
    x0, y0 = int(x) - r, int(y) - r
    win = pixels[max(y0, 0):y0 + 2 * r + 1, max(x0, 0):x0 + 2 * r + 1]
    yy, xx = np.mgrid[max(y0, 0):max(y0, 0) + win.shape[0], max(x0, 0):max(x0, 0) + win.shape[1]] + 0.5
    w = win ** 2
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())


@pytest.mark.parametrize("seed", range(6))
def test_a_moved_landmark_lands_on_its_blob(seed):
    film = _film()
    view = random_view(film, (256, 192), np.random.default_rng(seed), GEOMETRIC)
    assert len(view.boxes) == 1 and view.visible.all()
    for x, y in view.points[0]:
        cx, cy = _centroid(view.pixels, x, y)
        assert abs(cx - x) < 0.35 and abs(cy - y) < 0.35, (seed, x, y, cx, cy)
    b = view.boxes[0]
    assert (b[0] <= view.points[0, :, 0]).all() and (view.points[0, :, 0] <= b[2]).all()
    assert (b[1] <= view.points[0, :, 1]).all() and (view.points[0, :, 1] <= b[3]).all()


def test_identity_view_keeps_everything_and_a_flip_mirrors():
    film = _film()
    same = random_view(film, film.pixels.shape, np.random.default_rng(0), Augment.none())
    np.testing.assert_allclose(same.pixels, film.pixels, atol=1e-5)
    np.testing.assert_allclose(same.points, film.points, atol=1e-4)
    flipped = random_view(film, film.pixels.shape, np.random.default_rng(0), Augment(**{
        **Augment.none().__dict__, "flip": 1.0}))
    np.testing.assert_allclose(flipped.points[0, :, 0], 180 - film.points[0, :, 0], atol=1e-4)
    np.testing.assert_allclose(flipped.pixels, film.pixels[:, ::-1], atol=1e-5)
    np.testing.assert_allclose(flipped.boxes[0], [180 - 106, 75, 180 - 55, 125], atol=1e-4)


def test_a_body_cut_by_the_edge_is_clipped_or_dropped():
    film = _film()
    # no random change: a view of R rows is centred on the film's row 120; the body spans rows 75..125
    cut = Augment.none()
    view = random_view(film, (100, 180), np.random.default_rng(0), cut)   # film rows 70..170 -> whole body
    assert len(view.boxes) == 1 and view.visible.all()
    view = random_view(film, (40, 180), np.random.default_rng(0), cut)    # film rows 100..140: lower half
    assert len(view.boxes) == 1
    np.testing.assert_allclose(view.boxes[0], [55, 0, 106, 25], atol=1e-4)
    assert view.visible[0].tolist() == [False, False, False, True, True, True]
    view = random_view(film, (10, 180), np.random.default_rng(0), cut)    # rows 115..125: a fifth: dropped
    assert len(view.boxes) == 0 and view.points.shape == (0, 6, 2)


def test_photometric_changes_stay_in_range_and_scaling_keeps_coordinates():
    film = _film()
    view = random_view(film, (256, 192), np.random.default_rng(1), Augment())
    assert view.pixels.dtype == np.float32 and 0 <= view.pixels.min() and view.pixels.max() <= 1
    scaled, sx, sy = scaled_film(np.ones((1000, 800), np.float32), 256, 512)
    assert scaled.shape == (320, 256) and sx == pytest.approx(256 / 800) and sy == pytest.approx(320 / 1000)
    assert pad_to(np.ones((250, 190))).shape == (256, 192)
