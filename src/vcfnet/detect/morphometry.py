"""Vertebral morphometry from six landmarks: heights, height loss against the neighbours, Genant grade,
shape and the study's inclusion rule.

Points are (x, y) image pixels in ``coco.KEYPOINTS`` order (upper anterior, middle, posterior; lower
anterior, middle, posterior). Heights are the distances between the matching upper and lower points, in
mm when the PixelSpacing (row, column) is known, else in pixels. A body's expected heights are the mean
of the matching heights of its nearest measurable neighbours above and below (S1 is never a reference:
the sacrum is shaped otherwise; a neighbour that is itself graded >= 1 is skipped for the next one out,
and the grading is repeated until the set of references no longer changes). Height reduction = 1 - measured / expected, per height; the largest sets the grade:

    grade 0: < 20 %   grade 1: 20 % up to 25 %   grade 2: 25 % up to 40 % (inclusive)   grade 3: > 40 %

(Genant et al., J Bone Miner Res 1993). Shape, for grade >= 1: ``crush`` when the posterior height is
reduced at least 3/4 as much as the most reduced height (the whole body is lower), else ``wedge`` when
the anterior height is the most reduced, else ``biconcave`` (the middle). The study's inclusion rule: a
reduction of at least 20 % or a loss of at least 4 mm (expected minus measured, any height; needs
PixelSpacing).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

NAMES = ("anterior", "middle", "posterior")
INCLUSION_RATIO = 0.20
INCLUSION_MM = 4.0
CRUSH_SHARE = 0.75
NOT_A_REFERENCE = ("S1",)

Points = Sequence[tuple[float, float] | None]


@dataclass(frozen=True)
class Morphometry:
    """One body's measurements; heights in ``unit`` ("mm" or "px"); NaN / None where not measurable."""
    level: str
    unit: str
    heights: tuple[float, float, float]          # anterior, middle, posterior
    expected: tuple[float, float, float]         # from the neighbours (NaN without one)
    reduction: tuple[float, float, float]        # 1 - measured / expected
    loss_mm: float | None                        # largest expected - measured, mm (None without spacing)
    ratio_ap: float                              # anterior / posterior height (wedge index)
    ratio_mp: float                              # middle / posterior height (biconcavity index)
    grade: int | None                            # Genant 0..3; None when not measurable
    shape: str | None                            # normal, wedge, biconcave, crush
    included: bool | None                        # the study's inclusion rule (>= 20 % or >= 4 mm)
    references: tuple[str, ...]                  # the neighbours' levels

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: _json(v) for k, v in d.items()}


def _json(v):
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 4)
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    return v


def genant_grade(reduction: float) -> int:
    """Genant's semi-quantitative grade of a height reduction (a fraction; < 0 counts as 0), rounded to
    1e-9 first so that 1 - 20/25 is 20 % (grade 1), not 19.999... %."""
    if not math.isfinite(reduction):
        raise ValueError(f"reduction must be a finite fraction, got {reduction}")
    reduction = round(reduction, 9)
    if reduction < 0.20:
        return 0
    if reduction < 0.25:
        return 1
    return 2 if reduction <= 0.40 else 3


def fracture_shape(reduction: Sequence[float]) -> str:
    """``wedge`` / ``biconcave`` / ``crush`` from the (anterior, middle, posterior) reductions."""
    a, m, p = (max(0.0, float(r)) for r in reduction)
    top = max(a, m, p)
    if top <= 0:
        return "normal"
    if p >= CRUSH_SHARE * top:
        return "crush"
    return "wedge" if a >= m else "biconcave"


def meets_inclusion(reduction: float, loss_mm: float | None) -> bool:
    """The study's rule: height loss >= 20 % or >= 4 mm (the mm part only when the loss is known)."""
    return round(reduction, 9) >= INCLUSION_RATIO or (loss_mm is not None and round(loss_mm, 9) >= INCLUSION_MM)


def body_heights(points: Points, spacing: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """Anterior, middle and posterior heights (mm with ``spacing`` (row, column), else px); NaN for a
    height whose points are missing."""
    sy, sx = spacing if spacing is not None else (1.0, 1.0)
    out = []
    for k in range(3):
        up, low = points[k], points[k + 3]
        if up is None or low is None:
            out.append(math.nan)
        else:
            out.append(math.hypot((low[0] - up[0]) * sx, (low[1] - up[1]) * sy))
    return out[0], out[1], out[2]


def measure_spine(bodies: Sequence[tuple[str, Points]],
                  spacing: tuple[float, float] | None = None) -> list[Morphometry]:
    """Measure every body of one radiograph; ``bodies``: (level, six points) from top to bottom."""
    heights = np.array([body_heights(pts, spacing) for _, pts in bodies], dtype=float).reshape(-1, 3)
    levels = [lv for lv, _ in bodies]
    measurable = [bool(np.all(np.isfinite(h))) and lv not in NOT_A_REFERENCE for lv, h in zip(levels, heights)]
    usable = measurable
    for _ in range(len(bodies)):     # a fractured neighbour lowers the expectation: drop it and look again
        grades = [_grade_of(heights[i], _expected(heights, usable, i)[0]) for i in range(len(bodies))]
        again = [m and g == 0 for m, g in zip(measurable, grades)]
        if again == usable:
            break
        usable = again
    return [_measure(levels, heights, usable, i, spacing) for i in range(len(bodies))]


def _expected(heights: np.ndarray, usable: list[bool], i: int) -> tuple[np.ndarray, list[int]]:
    """Mean heights of the nearest usable body above and the nearest below (NaN without either)."""
    refs = []
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(usable) and not usable[j]:
            j += step
        if 0 <= j < len(usable):
            refs.append(j)
    if not refs:
        return np.full(3, np.nan), []
    return heights[refs].mean(axis=0), refs


def _grade_of(h: np.ndarray, expected: np.ndarray) -> int | None:
    red = 1 - h / expected
    return genant_grade(float(np.max(red))) if np.all(np.isfinite(red)) else None


def _measure(levels: list[str], heights: np.ndarray, usable: list[bool], i: int,
             spacing: tuple[float, float] | None) -> Morphometry:
    h = heights[i]
    expected, refs = _expected(heights, usable, i)
    red = 1 - h / expected
    grade = shape = included = None
    loss_mm = None
    if np.all(np.isfinite(red)):
        top = float(np.max(red))
        grade = genant_grade(top)
        shape = "normal" if grade == 0 else fracture_shape(red)
        loss_mm = float(np.max(expected - h)) if spacing is not None else None
        included = meets_inclusion(top, loss_mm)
    return Morphometry(levels[i], "mm" if spacing is not None else "px", _tuple(h), _tuple(expected),
                       _tuple(red), loss_mm, float(h[0] / h[2]), float(h[1] / h[2]), grade, shape,
                       included, tuple(levels[j] for j in refs))


def _tuple(a: np.ndarray) -> tuple[float, float, float]:
    return float(a[0]), float(a[1]), float(a[2])
