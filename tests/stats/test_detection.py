"""Detection statistics against a hand-computed example: matching, FROC, sensitivity at 0.5 FP/image, AP."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from vcfnet.stats import UndefinedMetricWarning
from vcfnet.stats.detection import (
    average_precision,
    box_iou,
    froc_curve,
    match_detections,
    mean_average_precision,
    sensitivity_at_fp,
)

# image 1: two bodies, a hit on each (IoU 1 and 90/110) and a false positive elsewhere;
# image 2: one body, a poor detection (IoU 50/150 < 0.5) scored highest, then a hit
GT = [[(0, 0, 10, 10), (20, 0, 30, 10)], [(0, 0, 10, 10)]]
DET = [[(0, 0, 10, 10), (21, 0, 31, 10), (50, 50, 60, 60)], [(5, 0, 15, 10), (0, 0, 10, 10)]]
SCORES = [[0.9, 0.8, 0.7], [0.95, 0.4]]


def test_iou_by_hand():
    assert box_iou([(21, 0, 31, 10)], [(20, 0, 30, 10)])[0, 0] == pytest.approx(90 / 110)
    assert box_iou([(5, 0, 15, 10)], [(0, 0, 10, 10)])[0, 0] == pytest.approx(50 / 150)
    assert box_iou([(0, 0, 1, 1)], [(2, 2, 3, 3)])[0, 0] == 0


def test_froc_points_by_hand():
    # by decreasing score: .95 FP, .9 hit, .8 hit, .7 FP, .4 hit; 3 bodies, 2 images
    c = froc_curve(GT, DET, SCORES)
    assert c.thresholds[1:].tolist() == [0.95, 0.9, 0.8, 0.7, 0.4]
    assert c.fp_per_image.tolist() == [0, 0.5, 0.5, 0.5, 1.0, 1.0]
    assert c.sensitivity == pytest.approx([0, 0, 1 / 3, 2 / 3, 2 / 3, 1])
    assert sensitivity_at_fp(c, 0.5) == pytest.approx(2 / 3)
    assert sensitivity_at_fp(c, 1.0) == 1.0 and sensitivity_at_fp(c, 0.0) == 0.0


def test_average_precision_by_hand():
    # precision 0/1, 1/2, 2/3, 2/4, 3/5 at recall 0, 1/3, 2/3, 2/3, 1: envelope 2/3, 2/3, 3/5
    assert average_precision(GT, DET, SCORES) == pytest.approx((2 / 3 + 2 / 3 + 3 / 5) / 3)
    assert average_precision(GT, GT, [[1, 1], [1]]) == 1.0


def test_duplicates_are_false_positives_and_uncounted_bodies_neither():
    m = match_detections([[(0, 0, 10, 10)]], [[(0, 0, 10, 10), (0, 0, 10, 9)]], [[0.9, 0.8]])
    assert m.hit.tolist() == [True, False] and m.false_positive.tolist() == [False, True]
    # only the fractured body (second) counts: detecting the first is no hit and no false positive
    c = froc_curve(GT, DET, SCORES, count=[[False, True], [False]])
    assert c.n_positive == 1
    assert c.sensitivity.tolist() == [0, 0, 0, 1, 1, 1] and c.fp_per_image.tolist() == [0, 0.5, 0.5, 0.5, 1, 1]


def test_mean_average_precision_per_label():
    labels = [["L1", "L2"], ["L1"]]
    det_labels = [["L1", "L2", "L2"], ["L1", "L1"]]
    m, per = mean_average_precision(GT, labels, DET, det_labels, SCORES)
    # L2: one box, its hit scored .8 above the false positive .7: AP 1. L1: .95 FP, .9 hit, .4 hit:
    # precision 0, 1/2, 2/3 at recall 0, 1/2, 1; the envelope is 2/3 at both recalls: AP 2/3
    assert per == pytest.approx({"L1": 2 / 3, "L2": 1.0})
    assert m == pytest.approx((per["L1"] + 1.0) / 2)


def test_docstring_examples_run():
    import doctest

    import vcfnet.stats.agreement as agreement
    import vcfnet.stats.detection as detection
    for module in (detection, agreement):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted >= 4 and result.failed == 0


def test_degenerate_input_warns_and_gives_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UndefinedMetricWarning):
            froc_curve([[]], [[(0, 0, 1, 1)]], [[0.5]])
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(average_precision([[]], [[]], [[]]))
    with pytest.raises(ValueError, match="one entry per image"):
        froc_curve(GT, DET[:1], SCORES)
