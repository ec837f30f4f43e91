"""Levels counted from the S1 anchor; "uncertain" without an anchor, above a gap, on an anomaly."""
from __future__ import annotations

from vcfnet.detect.levels import UNCERTAIN, assign_levels

NORMAL = ["T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]


def boxes(n, spacing=40.0, skip=()):
    out, y = [], 10.0
    for i in range(n):
        if i in skip:
            y += spacing
        out.append((100.0, y, 140.0, y + 28.0))
        y += spacing
    return out


def test_counts_up_from_s1_whatever_the_order_and_a_lone_wrong_guess():
    seen = list(NORMAL)
    seen[2] = "L2"                                      # one body mislabelled by its look
    b = boxes(8)
    shuffled = [5, 0, 7, 2, 1, 6, 3, 4]
    calls = assign_levels([b[i] for i in shuffled], [seen[i] for i in shuffled])
    assert [c.level for c in calls] == [NORMAL[i] for i in shuffled]
    wrong = calls[shuffled.index(2)]
    assert wrong.level == "L1" and wrong.seen == "L2" and wrong.agrees is False
    assert all(c.agrees for k, c in enumerate(calls) if shuffled[k] != 2)


def test_a_body_cut_by_the_edge_or_unlabelled_is_still_counted():
    b = boxes(8)
    b[0] = (100.0, 0.0, 140.0, 20.0)                    # cut by the top edge: centre a little higher
    calls = assign_levels(b, [None, None, None, "L2", None, None, None, "S1"])
    assert [c.level for c in calls] == NORMAL
    assert calls[0].agrees is None and calls[3].agrees is True


def test_no_anchor_means_every_level_is_uncertain():
    calls = assign_levels(boxes(7), NORMAL[:7])
    assert {c.level for c in calls} == {UNCERTAIN}
    assert all(c.counted is None and "no S1" in c.reason for c in calls)


def test_above_a_gap_the_count_is_uncertain():
    b = boxes(7, skip=(2,))                             # a body missed between positions 1 and 2
    calls = assign_levels(b, [None] * 6 + ["S1"])
    assert [c.level for c in calls][2:] == ["L1", "L2", "L3", "L4", "L5", "S1"][1:] and len(calls) == 7
    assert [c.level for c in calls[:2]] == [UNCERTAIN, UNCERTAIN]
    assert "gap" in calls[0].reason and calls[0].counted == "T12"


def test_a_transitional_l6_makes_every_level_above_s1_uncertain():
    # six lumbar-looking bodies above S1: the detector, which knows L1..L5, sees the extra one as L5
    seen = ["T12", "L1", "L2", "L3", "L4", "L5", "L5", "S1"]
    calls = assign_levels(boxes(8), seen)
    assert [c.level for c in calls] == [UNCERTAIN] * 7 + ["S1"]
    assert "transitional" in calls[0].reason
    # a T13: thirteen rib-bearing bodies; the bottom four agree, the thoracic ones are off by one
    seen = ["T11", "T12", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    calls = assign_levels(boxes(9), seen)
    assert [c.level for c in calls][:8] == [UNCERTAIN] * 8


def test_bodies_below_the_anchor_and_empty_input():
    calls = assign_levels(boxes(4), [None, None, "S1", "S1"])       # the lowest S1 guess is the anchor
    assert [c.level for c in calls] == ["L3", "L4", "L5", "S1"] and calls[2].agrees is False
    calls = assign_levels(boxes(4), ["L4", "L5", "S1", "S1"])       # ... and two bodies agree on another count
    assert [c.level for c in calls] == [UNCERTAIN] * 3 + ["S1"]
    calls = assign_levels(boxes(3), ["L5", "S1", None])
    assert calls[2].level == UNCERTAIN and "below" in calls[2].reason
    assert assign_levels([], []) == []
