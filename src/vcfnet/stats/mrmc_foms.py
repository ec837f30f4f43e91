"""MRMC designs: the checked ratings table, reader x modality figures of merit and their covariances.

* :func:`prepare_ratings` -- a long table (one row per reader x case x modality) to a fully crossed
  :class:`MRMCData`, or ``ValueError`` naming the row and field.
* :func:`jackknife_foms` / :func:`jackknife_cov` -- leave-one-case (or cluster) -out figures of merit and
  the jackknife covariance.
* :func:`delong_cov` -- DeLong's covariance of the AUCs, clustered as Obuchowski (1997) with ``cluster``.

The AUC and DeLong's structural components are :mod:`vcfnet.stats.roc`'s (one AUC in the package).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfnet.stats._common import warn_undefined
from vcfnet.stats.roc import _delong_cov, _placements

FOMS = ("auc", "accuracy")


# ----------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class MRMCData:
    """A checked, fully crossed MRMC design: ``scores[i, j, k]`` = modality i, reader j, case k.

    ``groups[k]`` is case k's cluster index (``0..n_clusters-1``; every case its own cluster when no
    ``cluster`` column is given); ``truth`` is ``None`` for ``fom="accuracy"``.
    """

    modalities: list[str]
    readers: list[str]
    cases: list[str]
    scores: np.ndarray
    truth: np.ndarray | None
    groups: np.ndarray
    n_clusters: int
    clustered: bool


def _labels(values) -> list[str]:
    return [str(v) for v in values]


def prepare_ratings(ratings, *, reader: str = "reader", case: str = "case", modality: str = "modality",
                    truth: str = "truth", score: str = "score", cluster: str | None = None,
                    fom: str = "auc", modalities=None, min_modalities: int = 2) -> MRMCData:
    """Check a long ratings table and turn it into a :class:`MRMCData` (``ValueError`` when malformed).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"reader": ["a"] * 4 + ["b"] * 4, "case": [1, 2, 3, 4] * 2, "modality": "x",
    ...                   "truth": [0, 0, 1, 1] * 2, "score": [1, 2, 3, 4, 2, 1, 4, 3]})
    >>> d = prepare_ratings(t, min_modalities=1)
    >>> d.scores.shape, d.readers, d.n_clusters
    ((1, 2, 4), ['a', 'b'], 4)
    """
    import pandas as pd

    if fom not in FOMS:
        raise ValueError(f"Invalid fom {fom!r}. Only {', '.join(map(repr, FOMS))} are supported.")
    if not isinstance(ratings, pd.DataFrame):
        raise ValueError(f"ratings must be a pandas DataFrame (one row per reader x case x modality), "
                         f"got {type(ratings).__name__}")
    needed = [reader, case, modality, score] + ([truth] if fom == "auc" else []) + ([cluster] if cluster else [])
    missing = [c for c in needed if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings has no column {missing[0]!r}; columns are {list(map(str, ratings.columns))}")
    if len(ratings) == 0:
        raise ValueError("ratings has no rows")
    for col in [reader, case, modality] + ([cluster] if cluster else []):
        bad = ratings[col].isna().to_numpy()
        if bad.any():
            raise ValueError(f"ratings row {int(np.flatnonzero(bad)[0])}: column {col!r} is empty; "
                             f"every row needs a {col}")
    s = pd.to_numeric(ratings[score], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(s)):
        row = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"ratings row {row}: {score!r} is {_plain(ratings[score].iloc[row])!r}; "
                         "a finite number is expected")
    if fom == "accuracy" and not np.all((s == 0) | (s == 1)):
        row = int(np.flatnonzero((s != 0) & (s != 1))[0])
        raise ValueError(f"ratings row {row}: fom='accuracy' needs {score!r} to be 0 (wrong) or 1 (correct), "
                         f"got {s[row]:g}")
    dup = ratings.duplicated([modality, reader, case]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        r = ratings.iloc[row]
        raise ValueError(f"ratings row {row}: {modality}={_plain(r[modality])!r}, {reader}={_plain(r[reader])!r}, "
                         f"{case}={_plain(r[case])!r} appears more than once; one score per reader x case x modality")
    mod_all = sorted(pd.unique(ratings[modality]), key=str)
    if modalities is not None:
        modalities = list(modalities)
        known = {str(m): m for m in mod_all}
        unknown = [m for m in modalities if str(m) not in known]
        if unknown:
            raise ValueError(f"modality {unknown[0]!r} is not in column {modality!r} (found {_labels(mod_all)})")
        if len(set(map(str, modalities))) != len(modalities):
            raise ValueError(f"modalities must be distinct, got {modalities!r}")
        mod_all = [known[str(m)] for m in modalities]
        keep = ratings[modality].astype(str).isin(set(map(str, modalities))).to_numpy()
        ratings, s = ratings[keep], s[keep]
    readers = sorted(pd.unique(ratings[reader]), key=str)
    cases = sorted(pd.unique(ratings[case]), key=str)
    t, r, n = len(mod_all), len(readers), len(cases)
    if t < min_modalities:
        raise ValueError(f"MRMC comparison needs at least {min_modalities} modalities; column {modality!r} "
                         f"has {t} ({_labels(mod_all)})")
    if r < 2:
        raise ValueError(f"MRMC analysis needs at least 2 readers; column {reader!r} has {r} ({_labels(readers)})")
    if len(ratings) != t * r * n:
        full = pd.MultiIndex.from_product([mod_all, readers, cases])
        have = pd.MultiIndex.from_frame(ratings[[modality, reader, case]])
        gap = full.difference(have)[0]
        raise ValueError(f"the design is not fully crossed: no score for {modality}={_plain(gap[0])!r}, "
                         f"{reader}={_plain(gap[1])!r}, {case}={_plain(gap[2])!r} ({len(ratings)} rows, expected {t} x {r} x {n} = {t * r * n}); "
                         "every reader must read every case in every modality")
    mi = pd.Index(mod_all).get_indexer(ratings[modality])
    ri = pd.Index(readers).get_indexer(ratings[reader])
    ci = pd.Index(cases).get_indexer(ratings[case])
    scores = np.empty((t, r, n))
    scores[mi, ri, ci] = s
    y = None
    if fom == "auc":
        y = _case_values(ratings, truth, case, ci, n, numeric=True)
        if np.unique(y).size < 2:
            raise ValueError(f"column {truth!r} holds only {int(y[0])}s; the AUC needs positive and negative cases")
    if cluster:
        g_per_case = _case_values(ratings, cluster, case, ci, n, numeric=False)
        codes, uniq = pd.factorize(pd.Series(g_per_case, dtype=object).astype(str), sort=True)
        groups, n_clusters = codes.astype(np.int64), len(uniq)
    else:
        groups, n_clusters = np.arange(n), n
    return MRMCData(_labels(mod_all), _labels(readers), _labels(cases), scores, y, groups, n_clusters, bool(cluster))


def _plain(v):
    """numpy scalars as plain Python values, for messages (``2`` rather than ``np.int64(2)``)."""
    v = v.item() if isinstance(v, np.generic) else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _case_values(ratings, col: str, case: str, ci: np.ndarray, n: int, *, numeric: bool) -> np.ndarray:
    """The one value of ``col`` each case has (truth, cluster); ``ValueError`` when a case has two."""
    values = ratings[col].to_numpy()
    if numeric:
        import pandas as pd

        v = pd.to_numeric(ratings[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isin(v, [0.0, 1.0])
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"ratings row {row}: {col!r} is {_plain(values[row])!r}; "
                             "truth must be 0 (negative) or 1 (positive)")
        values = v
    first = np.full(n, -1)
    order = np.arange(len(ci))
    first[ci[::-1]] = order[::-1]
    per_case = values[first]
    clash = per_case[ci] != values
    if np.any(clash):
        row = int(np.flatnonzero(clash)[0])
        raise ValueError(f"ratings row {row}: case {_plain(ratings[case].iloc[row])!r} has {col}="
                         f"{_plain(values[row])!r} here but {_plain(per_case[ci[row]])!r} in row {int(first[ci[row]])}; "
                         f"a case has one {col}")
    return per_case.astype(np.int64) if numeric else per_case


# --------------------------------------------------------------------------------- figures of merit


def _foms(data: MRMCData) -> np.ndarray:
    """Figure of merit per modality x reader: AUC (Wilcoxon, ties 1/2) or mean score (accuracy)."""
    t, r, n = data.scores.shape
    if data.truth is None:
        return data.scores.mean(axis=2)
    aucs, _, _ = _placements(data.truth, data.scores.reshape(t * r, n))
    return aucs.reshape(t, r)


def _warn_constant(data: MRMCData) -> None:
    const = np.all(data.scores == data.scores[:, :, :1], axis=2)
    if const.any():
        i, j = np.argwhere(const)[0]
        warn_undefined(f"reader {data.readers[j]!r} gave every case the same score in modality "
                       f"{data.modalities[i]!r}: that figure of merit has no case-sampling variance "
                       f"({int(const.sum())} reader x modality cell(s) like this)")


def jackknife_foms(data: MRMCData) -> np.ndarray:
    """Leave-one-cluster-out figures of merit, shape ``(n_clusters, t, r)``.

    AUC: with ``Psi`` = sum over positive/negative pairs of the Mann-Whitney kernel (1, 1/2, 0), row
    sums ``n * v10_i`` and column sums ``m * v01_j`` (DeLong's structural components), leaving out a
    cluster with positives ``P`` and negatives ``N`` gives ``(Psi - sum_P n v10 - sum_N m v01 +
    sum_{P x N} kernel) / ((m - |P|)(n - |N|))`` exactly, in O(N log N) plus the within-cluster pairs.
    """
    t, r, n = data.scores.shape
    x = data.scores.reshape(t * r, n)
    g, n_g = data.groups, data.n_clusters
    if data.truth is None:
        size = np.bincount(g, minlength=n_g).astype(float)
        if np.any(size == n):
            raise ValueError("the jackknife needs at least 2 clusters; every case is in one")
        sums = np.stack([np.bincount(g, weights=row, minlength=n_g) for row in x], axis=1)
        out = (x.sum(axis=1)[None, :] - sums) / (n - size)[:, None]
        return out.reshape(n_g, t, r)
    y = data.truth
    pos = y == 1
    m, nn = int(pos.sum()), int((~pos).sum())
    aucs, v10, v01 = _placements(y, x)
    m_g = np.bincount(g[pos], minlength=n_g)
    n_g_neg = np.bincount(g[~pos], minlength=n_g)
    if np.any(m_g == m) or np.any(n_g_neg == nn):
        which = int(np.flatnonzero((m_g == m) | (n_g_neg == nn))[0])
        raise ValueError(f"cluster {which} holds every {'positive' if m_g[which] == m else 'negative'} case: "
                         "leaving it out leaves no AUC; the jackknife needs both classes in at least 2 clusters")
    psi = aucs * m * nn
    row_part = np.stack([np.bincount(g[pos], weights=nn * v, minlength=n_g) for v in v10], axis=1)
    col_part = np.stack([np.bincount(g[~pos], weights=m * v, minlength=n_g) for v in v01], axis=1)
    cross = np.zeros((n_g, t * r))
    if data.clustered:
        pi, nj = _within_cluster_pairs(g, pos)
        if pi.size:
            a, b = x[:, pi], x[:, nj]
            kern = (a > b) + 0.5 * (a == b)
            for k in range(t * r):
                cross[:, k] = np.bincount(g[pi], weights=kern[k], minlength=n_g)
    out = (psi[None, :] - row_part - col_part + cross) / ((m - m_g) * (nn - n_g_neg))[:, None]
    return out.reshape(n_g, t, r)


def _within_cluster_pairs(g: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices (positive case, negative case) of every pair that shares a cluster."""
    pis, njs = [], []
    order = np.argsort(g, kind="mergesort")
    bounds = np.flatnonzero(np.diff(g[order])) + 1
    for members in np.split(order, bounds):
        p, q = members[pos[members]], members[~pos[members]]
        if p.size and q.size:
            pis.append(np.repeat(p, q.size))
            njs.append(np.tile(q, p.size))
    if not pis:
        return np.array([], int), np.array([], int)
    return np.concatenate(pis), np.concatenate(njs)


def jackknife_cov(jack: np.ndarray) -> np.ndarray:
    """Jackknife covariance ``(G - 1) / G * sum_g (theta_-g - mean)(theta_-g - mean)^T`` of the t*r FOMs."""
    n_g = jack.shape[0]
    flat = jack.reshape(n_g, -1)
    dev = flat - flat.mean(axis=0)
    return (n_g - 1) / n_g * dev.T @ dev


def delong_cov(data: MRMCData) -> np.ndarray:
    """DeLong covariance of the t*r AUCs; with clusters, Obuchowski's (1997) clustered version.

    Per cluster ``g``: ``A_g = sum_{positives in g} v10 - m_g * auc`` and ``B_g = sum_{negatives in g}
    v01 - n_g * auc``; ``S10 = I10 / ((I10 - 1) m) sum A A^T``, ``S01 = I01 / ((I01 - 1) n) sum B B^T``,
    ``S11 = I / (I - 1) sum A B^T`` and ``cov = S10 / m + S01 / n + (S11 + S11^T) / (m n)``, where I10 / I01
    count the clusters with a positive / a negative and I all clusters. One case per cluster gives
    DeLong's ``S10 / m + S01 / n`` exactly.
    """
    if data.truth is None:
        raise ValueError("covariance='delong' is for fom='auc'; use covariance='jackknife' for accuracy")
    t, r, n = data.scores.shape
    y = data.truth
    aucs, v10, v01 = _placements(y, data.scores.reshape(t * r, n))
    if not data.clustered:
        return _delong_cov(v10, v01)
    pos = y == 1
    m, nn, g, n_g = int(pos.sum()), int((~pos).sum()), data.groups, data.n_clusters
    m_g = np.bincount(g[pos], minlength=n_g)
    n_gn = np.bincount(g[~pos], minlength=n_g)
    a = np.stack([np.bincount(g[pos], weights=v, minlength=n_g) for v in v10], axis=1) - m_g[:, None] * aucs
    b = np.stack([np.bincount(g[~pos], weights=v, minlength=n_g) for v in v01], axis=1) - n_gn[:, None] * aucs
    i10, i01 = int((m_g > 0).sum()), int((n_gn > 0).sum())
    if i10 < 2 or i01 < 2:
        raise ValueError("clustered DeLong needs positives in at least 2 clusters and negatives in at least 2")
    s10 = i10 / ((i10 - 1) * m) * a.T @ a
    s01 = i01 / ((i01 - 1) * nn) * b.T @ b
    s11 = n_g / (n_g - 1) * a.T @ b
    return s10 / m + s01 / nn + (s11 + s11.T) / (m * nn)
