"""Vectorised bootstrap of the AUC: stratified by class, or resampling whole patients (clusters).

Every bootstrap replicate is a vector of integer weights over the original cases (how often each
case was drawn). The AUC of a weighted sample is computed for all replicates at once from the cases
sorted by score, ties counting one half, in O(B * N) with no per-replicate sort.

Choices (documented in :func:`vcfnet.stats.roc_auc_ci`):

* without groups: positives and negatives are resampled separately with replacement, keeping their
  counts (pROC's ``stratified=TRUE``), so every replicate has both classes;
* with groups: whole groups (patients) are resampled with replacement, all their cases together, not
  stratified by class (a patient may hold both classes). A replicate that by chance holds one class
  only has no AUC; it is discarded and redrawn, and the number redrawn is reported.
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

_CHUNK_CELLS = 1_000_000  # replicates x cases per block, to bound memory (~8 MB per float64 array)
_MAX_DRAW_FACTOR = 50  # give up when valid cluster replicates are rarer than 1 in 50


def weighted_aucs(y_score: np.ndarray, y_true: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of each weighted sample: ``weights`` is (B, N) case counts; returns (B,) AUCs.

    With all weights 1 this is the ordinary AUC (share of positive/negative pairs ranked correctly,
    ties 1/2). Rows with no positive or no negative weight give NaN.
    """
    order = np.argsort(y_score, kind="mergesort")
    s = y_score[order]
    pos = y_true[order] == 1
    w = np.asarray(weights, dtype=float)[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # first case of each distinct score
    wp = np.add.reduceat(np.where(pos, w, 0.0), starts, axis=1)  # positive weight per distinct score
    wn = np.add.reduceat(np.where(pos, 0.0, w), starts, axis=1)
    neg_below = np.cumsum(wn, axis=1) - 0.5 * wn  # negatives strictly below + half of the ties
    total = wp.sum(axis=1) * wn.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (wp * neg_below).sum(axis=1) / total, np.nan)


def _resample_counts(rng: np.random.Generator, n_items: int, n_rep: int) -> np.ndarray:
    """(n_rep, n_items) counts of each item in ``n_rep`` samples of size ``n_items`` with replacement."""
    draws = rng.integers(0, n_items, size=(n_rep, n_items)) + n_items * np.arange(n_rep)[:, None]
    return np.bincount(draws.ravel(), minlength=n_rep * n_items).reshape(n_rep, n_items)


def _stratified_weights(rngs: tuple[np.random.Generator, np.random.Generator], y_true: np.ndarray,
                        n_rep: int) -> np.ndarray:
    """Weights of ``n_rep`` replicates resampled within each class, negatives from ``rngs[0]`` and
    positives from ``rngs[1]``: one stream per class, so blocks of replicates draw what one block would."""
    w = np.zeros((n_rep, y_true.size))
    for label, rng in zip((0, 1), rngs):
        idx = np.flatnonzero(y_true == label)
        w[:, idx] = _resample_counts(rng, idx.size, n_rep)
    return w


def _cluster_weights(rng: np.random.Generator, codes: np.ndarray, n_groups: int, n_rep: int) -> np.ndarray:
    return _resample_counts(rng, n_groups, n_rep)[:, codes]


def bootstrap_aucs(y_true: np.ndarray, y_score: np.ndarray, *, n_boot: int, seed: int,
                   groups: np.ndarray | None = None) -> tuple[np.ndarray, int, int | None]:
    """Draw ``n_boot`` bootstrap AUCs; returns ``(aucs, n_redrawn, n_groups)``.

    ``y_true`` must hold both classes. With ``groups`` (one label per case), whole groups are
    resampled and replicates with one class only are redrawn; if fewer than one replicate in
    ``_MAX_DRAW_FACTOR`` is usable, the returned array is shorter than ``n_boot`` (the caller warns).
    """
    rng = np.random.default_rng(seed)
    n = y_true.size
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(n, 1)))
    if groups is None:
        negatives, positives = (np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2))
        per_class = (negatives, positives)
        parts = [weighted_aucs(y_score, y_true, _stratified_weights(per_class, y_true, min(chunk, n_boot - i)))
                 for i in range(0, n_boot, chunk)]
        return np.concatenate(parts), 0, None
    _, codes = np.unique(groups, return_inverse=True)
    n_groups = int(codes.max()) + 1
    kept: list[np.ndarray] = []
    n_kept = n_drawn = 0
    while n_kept < n_boot and n_drawn < _MAX_DRAW_FACTOR * n_boot:
        size = min(chunk, n_boot - n_kept)
        aucs = weighted_aucs(y_score, y_true, _cluster_weights(rng, codes, n_groups, size))
        n_drawn += size
        aucs = aucs[np.isfinite(aucs)]  # NaN = a replicate with one class only
        kept.append(aucs)
        n_kept += aucs.size
    aucs = np.concatenate(kept)[:n_boot]
    n_redrawn = n_drawn - n_kept
    if n_redrawn:
        log.info("cluster bootstrap: %d of %d replicates held one class only and were redrawn",
                 n_redrawn, n_drawn)
    return aucs, n_redrawn, n_groups
