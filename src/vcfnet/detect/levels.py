"""Vertebral levels counted up from the sacrum, and "uncertain" where the count cannot be trusted.

The anchor is S1, the most reliable landmark on a lateral lumbar film (the lowest body the detector calls
S1). Bodies are ordered by the height of their box centres; going up from the anchor they are L5, L4,
... T1, whatever the detector's own per-body level guess says, so one body cut by the image edge or
mislabelled by its appearance does not shift the others. The count is "uncertain":

- for every body, when no S1 is found (nothing to count from), and for bodies below the anchor;
- above a gap: two consecutive centres more than ``GAP_FACTOR`` times the median spacing apart (a
  body was missed, so everything above is off by one);
- for every body above the anchor when ``RUN`` or more consecutive bodies' guessed levels differ from the
  counted ones by the same offset: an enumeration anomaly (a transitional L6 or a T13, a lumbarised or
  sacralised segment), and which body is the extra one cannot be told from the film. One lone
  disagreement is noted (``agrees`` False) but keeps the count.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcfnet.labels import LEVELS

UNCERTAIN = "uncertain"
ANCHOR = "S1"
GAP_FACTOR = 1.7
RUN = 2
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


def assign_levels(boxes: Sequence[Sequence[float]], seen: Sequence[str | None]) -> list[LevelCall]:
    """Levels of the bodies ``boxes`` ((x0, y0, x1, y1) each) with the detector's guesses ``seen``;
    returned in the order given."""
    if len(boxes) != len(seen):
        raise ValueError(f"{len(boxes)} boxes but {len(seen)} level guesses")
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
    uncertain_from = _uncertain_from(order, cy, a, counted, seen)
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
                    seen: Sequence[str | None]) -> tuple[int, str]:
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
    offsets = [_offset(seen[order[k]], counted[k]) for k in range(a + 1)]
    for k in range(a, RUN - 2, -1):                 # a run of RUN equal non-zero offsets ending at k
        run = offsets[k - RUN + 1:k + 1]
        if run[0] not in (None, 0) and all(o == run[0] for o in run):
            # which body is the extra (or missing) one cannot be told: no level above S1 is safe
            return a, "the count from S1 and the bodies' look disagree (transitional vertebra?)"
    return cut, reason


def _offset(seen: str | None, counted: str | None) -> int | None:
    if seen is None or counted is None or seen not in LEVELS or counted not in LEVELS:
        return None
    return LEVELS.index(seen) - LEVELS.index(counted)
