"""Ground truth of every drawn vertebral body: its box, level and six morphometry landmarks.

The landmarks come from the same outline curves the body was drawn with (``vertebra.endplate_curves`` and
``vertebra.wall_curves`` evaluated with the ``Outline`` the renderer drew), so they use no random draw and
the images stay exactly as they were. The six points, in the order of ``KEYPOINTS``, lie on the upper
and the lower endplate: anterior and posterior ``CORNER_INSET_MM`` inside the walls (the corners are
rounded; a reader puts the corner points where the endplate's straight part ends), middle halfway
between the walls.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfnet.detect.coco import KEYPOINTS
from vcfnet.synth.vertebra import Outline, Vertebra, endplate_curves, wall_curves

__all__ = ["KEYPOINTS", "LEVELS", "VertebraTruth", "truth"]

CORNER_INSET_MM = 1.5
#: the levels written to the annotations, top to bottom: the bodies the detector learns, S1 (the counting
#: anchor) and the transitional T13 and L6 of an enumeration anomaly (``phantom.TRANSITIONAL``)
LEVELS = ("T10", "T11", "T12", "T13", "L1", "L2", "L3", "L4", "L5", "L6", "S1")


@dataclass(frozen=True)
class VertebraTruth:
    """One drawn body in image pixels (after the site's left-right flip); ``label`` its fracture class."""
    level: str
    box: tuple[float, float, float, float]         # x0, y0, x1, y1: the body's outline, pixel edges
    points: tuple[tuple[float, float], ...]        # six (x, y) in KEYPOINTS order, continuous pixels
    truncated: bool                                # the image edge cuts the body
    label: str | None


def frame_points(vb: Vertebra, ol: Outline) -> np.ndarray:
    """The six landmarks in the body's own frame: (6, 2) array of (u, v), mm."""
    out: list[tuple[float, float]] = []
    for upper in (True, False):
        v = 0.0
        for _ in range(4):                        # the wall depends on v, the endplate on u: iterate
            front, back = (float(w[0]) for w in wall_curves(vb, ol, np.array([v], np.float32)))
            us = np.array([front + CORNER_INSET_MM, (front + back) / 2, back - CORNER_INSET_MM], np.float32)
            _, top, bot = endplate_curves(vb, ol, us)
            curve = top if upper else bot
            v = float(curve[0])                   # the anterior point's height sets the wall
        out.extend((float(u), float(c)) for u, c in zip(us, curve))
    return np.array(out)


def image_points(vb: Vertebra, ol: Outline, spacing: float) -> np.ndarray:
    """The six landmarks in pixels of the unflipped image (continuous; pixel i spans [i, i + 1))."""
    uv = frame_points(vb, ol)
    c, sn = np.cos(vb.angle), np.sin(vb.angle)
    x = vb.cx + uv[:, 0] * c + uv[:, 1] * sn
    y = vb.cy - uv[:, 0] * sn + uv[:, 1] * c
    return np.stack([x, y], axis=1) / spacing


def truth(vb: Vertebra, ol: Outline, box: tuple[float, float, float, float], spacing: float,
          shape: tuple[int, int], flip: bool, label: str | None) -> VertebraTruth:
    """``vb``'s ground truth; ``flip``: the site shows anterior on the right (the image is mirrored)."""
    rows, cols = shape
    pts = image_points(vb, ol, spacing)
    x0, y0, x1, y1 = box
    if flip:
        pts[:, 0] = cols - pts[:, 0]
        x0, x1 = cols - x1, cols - x0
    truncated = x0 <= 0 or y0 <= 0 or x1 >= cols or y1 >= rows
    return VertebraTruth(vb.level, (x0, y0, x1, y1), tuple((float(x), float(y)) for x, y in pts),
                         bool(truncated), label)
