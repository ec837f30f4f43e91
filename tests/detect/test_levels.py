"""Levels counted from the S1 anchor; "uncertain" without an anchor, above a gap, on an anomaly."""
from __future__ import annotations

import numpy as np
import pytest

from vcfnet.detect.levels import TEMPER, UNCERTAIN, anomaly_posterior, assign_levels
from vcfnet.detect.model import DETECT_LEVELS

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


def probs(levels_and_p):
    """Probability rows over DETECT_LEVELS: (level, p) puts p on it and the rest evenly on the others."""
    out = []
    for level, p in levels_and_p:
        row = np.full(len(DETECT_LEVELS), (1 - p) / (len(DETECT_LEVELS) - 1))
        row[DETECT_LEVELS.index(level)] = p
        out.append(row.tolist())
    return out


def test_unsure_looks_at_the_top_keep_the_count_a_sure_l6_does_not():
    # T10 and T11 look alike: two top bodies each guessed a level too high with p 0.6 keep the count
    truth = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"]
    guesses = [("T11", 0.6), ("T12", 0.6)] + [(lv, 0.99) for lv in truth[2:]]
    calls = assign_levels(boxes(9), [g for g, _ in guesses], probs(guesses), DETECT_LEVELS)
    assert [c.level for c in calls] == truth
    assert [c.agrees for c in calls[:2]] == [False, False]
    # one of them sure of it (p 0.99) is one body: still counted; both sure is what a T13 would look like
    one = [("T11", 0.5), ("T12", 0.99)] + guesses[2:]
    assert anomaly_posterior(truth[:-1], _tempered(one[:-1])) < 0.5
    both = [("T11", 0.99), ("T12", 0.99)] + guesses[2:]
    assert anomaly_posterior(truth[:-1], _tempered(both[:-1])) > 0.5
    # a lumbarised S1 (an L6 that looks like S1) with every body above agreeing with it is an anomaly
    l6 = [(lv, 0.97) for lv in ["T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1", "S1"]]
    calls = assign_levels(boxes(9), [g for g, _ in l6], probs(l6), DETECT_LEVELS)
    assert [c.level for c in calls] == [UNCERTAIN] * 8 + ["S1"] and "transitional" in calls[0].reason


def _tempered(guesses):
    rows = probs(guesses)
    return [{lv: (1 - TEMPER) * v + TEMPER / len(DETECT_LEVELS) for lv, v in zip(DETECT_LEVELS, r)} for r in rows]


def test_the_anomaly_posterior_by_hand():
    # one body, counted L5, certain it is S1 (tempered: 1 - t + t / 9 against t / 9)
    t = TEMPER
    like = [{lv: (1 - t if lv == "S1" else 0.0) + t / 9 for lv in DETECT_LEVELS}]
    llr = np.log((1 - t + t / 9) / (t / 9))
    odds = np.exp(llr) * (0.04 / 16) / 0.96 + 1 * (0.04 / 16) / 0.96     # shift +1 (to S1) and -1 (to L4: ratio 1)
    assert anomaly_posterior(["L5"], like) == pytest.approx(odds / (1 + odds), rel=1e-9)
    prior = 2 * (0.04 / 16) / 0.96                # a body with no guess: the two hypotheses keep their prior
    assert anomaly_posterior(["L5"], [None]) == pytest.approx(prior / (1 + prior), rel=1e-9)
    assert anomaly_posterior([], []) == 0.0
