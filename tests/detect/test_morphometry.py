"""Morphometry and Genant grading on hand-made geometries with exact expected answers."""
from __future__ import annotations

import math

import pytest

from vcfnet.detect.morphometry import body_heights, fracture_shape, genant_grade, measure_spine, meets_inclusion

SPACING = (0.2, 0.2)        # mm per pixel (row, column)


def body(ha: float, hm: float, hp: float, top: float = 0.0, depth: float = 35.0):
    """Six points (px) of a body with anterior / middle / posterior heights in mm, anterior on the left."""
    px = 1 / SPACING[0]
    d = depth * px
    return ((0.0, top), (d / 2, top), (d, top), (0.0, top + ha * px), (d / 2, top + hm * px), (d, top + hp * px))


def spine(middle, levels=("T12", "L1", "L2", "L3", "S1")):
    """Normal 25 mm bodies around ``middle`` (the L1 body's heights), 40 mm apart, S1 last."""
    shapes = [(25, 25, 25), middle, (25, 25, 25), (25, 25, 25), (10, 10, 10)]
    return [(lv, body(*h, top=i * 200.0)) for i, (lv, h) in enumerate(zip(levels, shapes))]


@pytest.mark.parametrize("reduction,grade", [(0.0, 0), (0.1999, 0), (0.20, 1), (0.2499, 1), (0.25, 2),
                                             (0.40, 2), (0.4001, 3), (0.9, 3), (-0.3, 0), (1 - 20 / 25, 1)])
def test_genant_grade_thresholds(reduction, grade):
    assert genant_grade(reduction) == grade


@pytest.mark.parametrize("middle,grade,shape,included", [
    ((25, 25, 25), 0, "normal", False),
    ((20.25, 25, 25), 0, "normal", True),      # 19 %, but 4.75 mm lost: the study's 4 mm rule includes it
    ((21.5, 25, 25), 0, "normal", False),      # 14 %, 3.5 mm: neither
    ((20.0, 24.0, 25), 1, "wedge", True),      # anterior 20 % exactly
    ((19.5, 25, 25), 1, "wedge", True),        # anterior 22 %
    ((25, 17.5, 25), 2, "biconcave", True),    # middle 30 %
    ((16.25, 20, 23), 2, "wedge", True),       # anterior 35 %, posterior 8 %
    ((13.75, 13.75, 14.25), 3, "crush", True),  # all about 45 %
    ((12.5, 15, 20), 3, "wedge", True),        # anterior 50 %, posterior 20 % < 3/4 of 50 %
])
def test_grade_shape_and_inclusion_of_the_middle_body(middle, grade, shape, included):
    m = measure_spine(spine(middle), SPACING)[1]
    assert m.level == "L1" and m.unit == "mm" and m.references == ("T12", "L2")
    assert m.expected == pytest.approx((25, 25, 25))
    assert m.heights == pytest.approx(middle)
    assert (m.grade, m.shape, m.included) == (grade, shape, included)
    assert m.loss_mm == pytest.approx(25 - min(middle))
    assert m.ratio_ap == pytest.approx(middle[0] / middle[2])


def test_expected_height_skips_a_fractured_neighbour_and_never_uses_s1():
    bodies = [("T12", body(24, 24, 24, 0)), ("L1", body(14, 14, 14.5, 200)), ("L2", body(20, 26, 26, 400)),
              ("L3", body(26, 26, 26, 600)), ("L4", body(27, 27, 27, 800)), ("L5", body(28, 26, 25, 1000)),
              ("S1", body(30, 30, 30, 1200))]
    out = {m.level: m for m in measure_spine(bodies, SPACING)}
    # L2's upper neighbour L1 is crushed: the next one out (T12) stands in, so expected = mean(T12, L3)
    assert out["L2"].references == ("T12", "L3")
    assert out["L2"].expected == pytest.approx((25, 25, 25))
    assert out["L2"].reduction[0] == pytest.approx(0.2) and out["L2"].grade == 1
    assert out["L1"].references == ("T12", "L3") and out["L1"].grade == 3 and out["L1"].shape == "crush"
    # L5 has no reference below (S1 is never one): L4 alone
    assert out["L5"].references == ("L4",) and out["L5"].expected == pytest.approx((27, 27, 27))
    assert out["S1"].references == ("L5",)


def test_without_spacing_heights_are_pixels_and_only_the_ratio_rule_applies():
    m = measure_spine(spine((20.25, 25, 25)), None)[1]
    assert m.unit == "px" and m.heights[0] == pytest.approx(101.25) and m.loss_mm is None
    assert m.grade == 0 and m.included is False      # 19 %: the 4 mm rule needs PixelSpacing


def test_missing_points_give_nan_and_no_grade():
    pts = list(body(25, 25, 25))
    pts[3] = None
    h = body_heights(pts, SPACING)
    assert math.isnan(h[0]) and h[1:] == pytest.approx((25, 25))
    bodies = spine((25, 25, 25))
    bodies[1] = ("L1", tuple(pts))
    out = measure_spine(bodies, SPACING)
    assert out[1].grade is None and out[1].included is None and out[1].to_dict()["heights"][0] is None
    assert out[0].references == ("L2",)        # the unmeasurable L1 is no reference either
    assert measure_spine([("L1", body(25, 25, 25))], SPACING)[0].grade is None   # no neighbour at all


def test_shape_and_inclusion_helpers():
    assert fracture_shape((0.3, 0.1, 0.0)) == "wedge"
    assert fracture_shape((0.1, 0.3, 0.0)) == "biconcave"
    assert fracture_shape((0.3, 0.3, 0.3)) == "crush"
    assert fracture_shape((0.0, 0.0, 0.0)) == "normal"
    assert meets_inclusion(0.2, None) and meets_inclusion(0.1, 4.0) and not meets_inclusion(0.19, 3.9)
