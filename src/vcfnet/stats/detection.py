"""Detection statistics: matching, FROC, sensitivity at a fixed number of false positives per image, AP.

Input, per image: ground-truth boxes ``(n, 4)`` and detections ``(m, 4)`` with scores ``(m,)``, boxes as
``x0, y0, x1, y1`` (pixel edges). Optionally ``count`` per image: a boolean per ground-truth box saying
whether it counts for the sensitivity (e.g. the fractured bodies only); every ground-truth box still
takes part in matching, so a detection of a body that does not count is neither a hit nor a false
positive.

Matching rule (PASCAL VOC / COCO style): within each image, detections are taken in decreasing score;
each is matched to the not yet matched ground-truth box with which it has the highest IoU, if that IoU
is >= ``iou_threshold`` (default 0.5); otherwise, or if every box it overlaps enough is taken, it is a
false positive (so a duplicate detection of a body is a false positive). The matches are made once with
all detections; thresholds then select detections by score (a detection matched at the full set stays
matched at any threshold that keeps it, since higher-scoring detections are matched first).

FROC: at each distinct score threshold, sensitivity (hits / counted ground-truth boxes) against false
positives per image (false positives / images). Sensitivity at ``fp`` false positives per image: the
highest sensitivity of an operating point whose false-positive rate is <= ``fp`` (no interpolation).
Average precision: the area under the precision envelope (precision at recall r = the highest precision
at any recall >= r), all points, as PASCAL VOC from 2010 and COCO before its 101-point sampling.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcfnet.stats._common import ResultMixin, warn_undefined


@dataclass(frozen=True)
class Matches(ResultMixin):
    """All detections of all images, sorted by decreasing score: ``hit`` (matched a counted box),
    ``false_positive`` (matched nothing), plus the number of counted boxes and of images."""
    scores: np.ndarray
    hit: np.ndarray
    false_positive: np.ndarray
    n_positive: int
    n_images: int


@dataclass(frozen=True)
class FROCCurve(ResultMixin):
    """Operating points, from the strictest threshold down: ``fp_per_image``, ``sensitivity``, ``thresholds``."""
    fp_per_image: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray
    n_positive: int
    n_images: int


def box_iou(a, b) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of boxes ``x0, y0, x1, y1``.

    >>> box_iou([(0, 0, 10, 10)], [(5, 0, 15, 10), (0, 0, 10, 10)]).round(3).tolist()
    [[0.333, 1.0]]
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_detections(gt_boxes: Sequence, det_boxes: Sequence, det_scores: Sequence, *,
                     count: Sequence | None = None, iou_threshold: float = 0.5) -> Matches:
    """Match detections to ground truth image by image (rule in the module docstring).

    >>> m = match_detections([[(0, 0, 10, 10)]], [[(0, 0, 10, 10), (1, 0, 10, 10)]], [[0.9, 0.8]])
    >>> m.hit.tolist(), m.false_positive.tolist()        # the duplicate is a false positive
    ([True, False], [False, True])
    """
    if not len(gt_boxes) == len(det_boxes) == len(det_scores):
        raise ValueError(f"gt_boxes, det_boxes and det_scores need one entry per image; got "
                         f"{len(gt_boxes)}, {len(det_boxes)}, {len(det_scores)}")
    if count is not None and len(count) != len(gt_boxes):
        raise ValueError(f"count needs one entry per image; got {len(count)} for {len(gt_boxes)} images")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    scores, hits, fps, n_pos = [], [], [], 0
    for i, (gt, det, sc) in enumerate(zip(gt_boxes, det_boxes, det_scores)):
        gt = np.asarray(gt, dtype=float).reshape(-1, 4)
        det = np.asarray(det, dtype=float).reshape(-1, 4)
        sc = np.asarray(sc, dtype=float).reshape(-1)
        if len(sc) != len(det):
            raise ValueError(f"image {i}: {len(det)} detections but {len(sc)} scores")
        counted = np.ones(len(gt), bool) if count is None else np.asarray(count[i], bool).reshape(-1)
        if len(counted) != len(gt):
            raise ValueError(f"image {i}: count has {len(counted)} flags for {len(gt)} ground-truth boxes")
        n_pos += int(counted.sum())
        hit, fp = _match_image(gt, det, sc, counted, iou_threshold)
        scores.append(sc)
        hits.append(hit)
        fps.append(fp)
    s = np.concatenate(scores) if scores else np.zeros(0)
    order = np.argsort(-s, kind="stable")
    hit = np.concatenate(hits)[order] if hits else np.zeros(0, bool)
    fp = np.concatenate(fps)[order] if fps else np.zeros(0, bool)
    return Matches(s[order], hit, fp, n_pos, len(gt_boxes))


def _match_image(gt: np.ndarray, det: np.ndarray, sc: np.ndarray, counted: np.ndarray,
                 thr: float) -> tuple[np.ndarray, np.ndarray]:
    match = match_pairs(gt, det, sc, iou_threshold=thr)
    hit = np.array([m >= 0 and bool(counted[m]) for m in match], dtype=bool)
    return hit, match < 0


def match_pairs(gt, det, scores, *, iou_threshold: float = 0.5) -> np.ndarray:
    """For one image: the index of the ground-truth box each detection is matched to, -1 for none.

    >>> match_pairs([(0, 0, 10, 10)], [(0, 0, 10, 10), (1, 0, 10, 10)], [0.8, 0.9]).tolist()
    [-1, 0]
    """
    gt = np.asarray(gt, dtype=float).reshape(-1, 4)
    det = np.asarray(det, dtype=float).reshape(-1, 4)
    iou = box_iou(det, gt)
    taken = np.zeros(len(gt), bool)
    match = np.full(len(det), -1, dtype=np.int64)
    for d in np.argsort(-np.asarray(scores, dtype=float).reshape(-1), kind="stable"):
        cand = np.where(taken, -1.0, iou[d])
        if len(cand) and cand.max() >= iou_threshold:
            match[d] = int(np.argmax(cand))
            taken[match[d]] = True
    return match


def froc_curve(gt_boxes: Sequence, det_boxes: Sequence, det_scores: Sequence, *,
               count: Sequence | None = None, iou_threshold: float = 0.5) -> FROCCurve:
    """FROC operating points; NaN sensitivity (with a warning) when no box counts.

    >>> c = froc_curve([[(0, 0, 10, 10)], [(0, 0, 10, 10)]],
    ...                [[(0, 0, 10, 10), (50, 50, 60, 60)], [(0, 0, 10, 10)]], [[0.9, 0.8], [0.7]])
    >>> c.fp_per_image.tolist(), c.sensitivity.tolist()
    ([0.0, 0.0, 0.5, 0.5], [0.0, 0.5, 0.5, 1.0])
    """
    m = match_detections(gt_boxes, det_boxes, det_scores, count=count, iou_threshold=iou_threshold)
    return _froc(m)


def _froc(m: Matches) -> FROCCurve:
    if m.n_images == 0:
        warn_undefined("FROC undefined: no images")
    if m.n_positive == 0:
        warn_undefined("FROC sensitivity undefined: no ground-truth box counts")
    tp, fp = np.cumsum(m.hit), np.cumsum(m.false_positive)
    last = np.flatnonzero(np.r_[m.scores[1:] != m.scores[:-1], True]) if len(m.scores) else np.zeros(0, int)
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = np.r_[0.0, tp[last] / m.n_positive] if m.n_positive else np.full(len(last) + 1, np.nan)
        fppi = np.r_[0.0, fp[last] / m.n_images] if m.n_images else np.full(len(last) + 1, np.nan)
    return FROCCurve(fppi, sens, np.r_[np.inf, m.scores[last]], m.n_positive, m.n_images)


def sensitivity_at_fp(curve: FROCCurve, fp_per_image: float = 0.5) -> float:
    """The highest sensitivity at <= ``fp_per_image`` false positives per image (NaN if undefined).

    >>> c = froc_curve([[(0, 0, 10, 10)], [(0, 0, 10, 10)]],
    ...                [[(0, 0, 10, 10), (50, 50, 60, 60)], [(0, 0, 10, 10)]], [[0.9, 0.8], [0.7]])
    >>> sensitivity_at_fp(c, 0.0), sensitivity_at_fp(c, 0.5)
    (0.5, 1.0)
    """
    ok = curve.fp_per_image <= fp_per_image + 1e-12
    if not np.any(ok) or np.all(np.isnan(curve.sensitivity[ok])):
        return float("nan")
    return float(np.nanmax(curve.sensitivity[ok]))


def average_precision(gt_boxes: Sequence, det_boxes: Sequence, det_scores: Sequence, *,
                      iou_threshold: float = 0.5) -> float:
    """All-point average precision at ``iou_threshold`` (NaN with a warning without ground truth).

    >>> average_precision([[(0, 0, 10, 10), (20, 0, 30, 10)]], [[(50, 0, 60, 10), (0, 0, 10, 10)]], [[0.9, 0.5]])
    0.25
    """
    m = match_detections(gt_boxes, det_boxes, det_scores, iou_threshold=iou_threshold)
    if m.n_positive == 0:
        warn_undefined("average precision undefined: no ground-truth boxes")
        return float("nan")
    tp, fp = np.cumsum(m.hit), np.cumsum(m.false_positive)
    recall = np.r_[0.0, tp / m.n_positive]
    precision = np.r_[1.0, tp / np.maximum(tp + fp, 1)]
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * envelope[1:]))


def mean_average_precision(gt_boxes: Sequence, gt_labels: Sequence, det_boxes: Sequence,
                           det_labels: Sequence, det_scores: Sequence, *, iou_threshold: float = 0.5
                           ) -> tuple[float, dict[str, float]]:
    """mAP: the mean over the labels that have ground truth of each label's AP (detections of a label
    matched only to boxes of that label); returns ``(mAP, {label: AP})``.

    >>> mean_average_precision([[(0, 0, 10, 10), (0, 20, 10, 30)]], [["L1", "L2"]],
    ...                        [[(0, 0, 10, 10), (0, 20, 10, 30)]], [["L1", "L1"]], [[0.9, 0.8]])
    (0.5, {'L1': 1.0, 'L2': 0.0})
    """
    labels = sorted({str(lab) for per in gt_labels for lab in per})
    per_label = {}
    for lab in labels:
        gts = [np.asarray(b, float).reshape(-1, 4)[np.asarray(ls).astype(str) == lab]
               for b, ls in zip(gt_boxes, gt_labels)]
        sel = [np.asarray(ls).astype(str) == lab for ls in det_labels]
        dets = [np.asarray(b, float).reshape(-1, 4)[s] for b, s in zip(det_boxes, sel)]
        scs = [np.asarray(c, float).reshape(-1)[s] for c, s in zip(det_scores, sel)]
        per_label[lab] = average_precision(gts, dets, scs, iou_threshold=iou_threshold)
    if not labels:
        warn_undefined("mean average precision undefined: no ground-truth boxes")
        return float("nan"), {}
    return float(np.mean(list(per_label.values()))), per_label
