"""Vertebral levels counted up from the sacrum, and "uncertain" where the count cannot be trusted.

The anchor is S1, the most reliable landmark on a lateral lumbar film (the lowest body the detector calls
S1). Bodies are ordered by the height of their box centres; going up from the anchor they are L5, L4,
... T1, whatever the detector's own per-body level guess says, so one body cut by the image edge or
mislabelled by its appearance does not shift the others. The count is "uncertain":

- for every body, when no S1 is found (nothing to count from), and for bodies below the anchor;
- above a gap: two consecutive centres more than ``GAP_FACTOR`` times the median spacing apart (a
  body was missed, so everything above is off by one);
- for every body above the anchor when the bodies' look says the count is off: an enumeration anomaly (a
  transitional L6 or a T13, a lumbarised or sacralised segment), where which body is the extra one cannot
  be told from the film. The test weighs the detector's level probabilities (``seen_probs``; a bare guess
  counts as a confident one): each hypothesis "the bodies above position j are all one level off (up or
  down)" is set against "the count is right", with the anomaly's prior share ``ANOMALY_PRIOR`` spread
  over ``HYPOTHESES`` of them, and the count is called uncertain when the anomaly's posterior passes one half.
  Each body's probabilities are first mixed with ``TEMPER`` of a uniform guess, so no single body can
  decide it. One body, or a run of bodies at the top that look a level off while the bodies under them
  agree with the count, stays counted (``agrees`` False).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcfnet.labels import LEVELS

UNCERTAIN = "uncertain"
ANCHOR = "S1"
GAP_FACTOR = 1.7
ANOMALY_PRIOR = 0.04      # the share of films with a transitional vertebra (several per cent of patients)
HYPOTHESES = 16           # the prior is spread over: 2 shifts x 8 places (T10..L5 on a lumbar film)
TEMPER = 0.2              # each body's level probabilities are mixed with this much of a uniform guess
ANOMALY_REASON = "the count from S1 and the bodies' look disagree (transitional vertebra?)"
_ABOVE_ANCHOR = LEVELS[:LEVELS.index(ANCHOR)]          # T1 .. L5, top to bottom


@dataclass(frozen=True)
class LevelCall:
    """A body's level: ``level`` (counted, or "uncertain"), ``counted`` (None without an anchor),
    ``seen`` (the detector's guess), ``agrees`` (seen == counted, None if either is missing), ``reason``."""
    level: str
    counted: str | None
    seen: str | None
    agrees: bool | None
    reason: str


def assign_levels(boxes: Sequence[Sequence[float]], seen: Sequence[str | None],
                  probs: Sequence[Sequence[float] | None] | None = None,
                  classes: Sequence[str] | None = None) -> list[LevelCall]:
    """Levels of the bodies ``boxes`` ((x0, y0, x1, y1) each) with the detector's guesses ``seen`` and,
    where it gives them, the probabilities ``probs`` of each of ``classes`` (the detector's levels);
    returned in the order given."""
    if len(boxes) != len(seen) or (probs is not None and len(probs) != len(seen)):
        raise ValueError(f"{len(boxes)} boxes but {len(seen)} level guesses"
                         + (f" and {len(probs)} probability rows" if probs is not None else ""))
    n = len(boxes)
    if n == 0:
        return []
    cy = np.array([(b[1] + b[3]) / 2 for b in boxes], dtype=float)
    order = list(np.argsort(cy, kind="stable"))                  # top to bottom
    anchors = [k for k, i in enumerate(order) if seen[i] == ANCHOR]
    calls: list[LevelCall | None] = [None] * n
    if not anchors:
        for i in range(n):
            calls[i] = LevelCall(UNCERTAIN, None, seen[i], None, "no S1 found to count from")
        return [c for c in calls if c is not None]
    a = anchors[-1]
    counted = _count(a, len(order))
    uncertain_from = _uncertain_from(order, cy, a, counted, _likelihoods(order, seen, probs, classes))
    for k, i in enumerate(order):
        c = counted[k]
        agrees = None if c is None or seen[i] is None else seen[i] == c
        if k > a:
            calls[i] = LevelCall(UNCERTAIN, None, seen[i], None, "below the S1 anchor")
        elif k < uncertain_from[0]:
            calls[i] = LevelCall(UNCERTAIN, c, seen[i], agrees, uncertain_from[1])
        else:
            calls[i] = LevelCall(c or UNCERTAIN, c, seen[i], agrees,
                                 "counted from S1" if c else "above T1: cannot count so far")
    return [c for c in calls if c is not None]


def _count(anchor: int, n: int) -> list[str | None]:
    """Counted levels by position (top to bottom): the anchor S1, then L5, L4, ... upward."""
    out: list[str | None] = [None] * n
    out[anchor] = ANCHOR
    for k in range(anchor - 1, -1, -1):
        up = anchor - k                      # 1 -> L5
        out[k] = _ABOVE_ANCHOR[-up] if up <= len(_ABOVE_ANCHOR) else None
    return out


def _uncertain_from(order: list[int], cy: np.ndarray, a: int, counted: list[str | None],
                    like: list[dict[str, float] | None]) -> tuple[int, str]:
    """(position k, reason): bodies at positions < k (above it) are uncertain; k = 0 when none is."""
    cut, reason = 0, ""
    ys = cy[order[:a + 1]]
    steps = np.diff(ys)
    if len(steps) >= 2:
        median = float(np.median(steps))
        for k in range(len(steps) - 1, -1, -1):     # the lowest gap decides
            if steps[k] > GAP_FACTOR * median:
                cut, reason = k + 1, "above a gap where a body may be missed"
                break
    if anomaly_posterior(counted[:a], like[:a]) > 0.5:
        # which body is the extra (or missing) one cannot be told: no level above S1 is safe
        return a, ANOMALY_REASON
    return cut, reason


def anomaly_posterior(counted: Sequence[str | None], like: Sequence[dict[str, float] | None]) -> float:
    """P(the bodies above some position are all one level off the count | their look), top to bottom;
    ``like``: each body's tempered level probabilities (None: no guess)."""
    terms = []                                        # per body: log-likelihood ratio for a shift of -1, +1
    for c, q in zip(counted, like):
        row = [0.0, 0.0]
        if c is not None and q is not None and c in q:
            for n, s in enumerate((-1, 1)):
                k = LEVELS.index(c) + s
                if 0 <= k < len(LEVELS) and LEVELS[k] in q:
                    row[n] = float(np.log(q[LEVELS[k]]) - np.log(q[c]))
        terms.append(row)
    if not terms:
        return 0.0
    llr = np.cumsum(np.array(terms), axis=0)        # row j: the bodies at positions 0..j shifted
    log_prior = np.log(ANOMALY_PRIOR / HYPOTHESES) - np.log(1 - ANOMALY_PRIOR)
    log_odds = np.logaddexp.reduce(llr.ravel() + log_prior)
    return float(1 / (1 + np.exp(-log_odds)))


def _likelihoods(order: list[int], seen: Sequence[str | None], probs: Sequence[Sequence[float] | None] | None,
                 classes: Sequence[str] | None) -> list[dict[str, float] | None]:
    """Tempered level probabilities of the bodies in ``order``: the detector's where given, else its bare
    guess taken as certain; None for a body with no guess (its look says nothing)."""
    out: list[dict[str, float] | None] = []
    for i in order:
        p = probs[i] if probs is not None else None
        if p is not None and classes is not None:
            if len(p) != len(classes):
                raise ValueError(f"{len(p)} level probabilities for {len(classes)} classes")
            dist = dict(zip(classes, (float(v) for v in p)))
        elif (guess := seen[i]) is not None:
            dist = {lv: float(lv == guess) for lv in classes or LEVELS}
            dist.setdefault(guess, 1.0)
        else:
            out.append(None)
            continue
        total = sum(dist.values()) or 1.0
        out.append({lv: (1 - TEMPER) * v / total + TEMPER / len(dist) for lv, v in dist.items()})
    return out
