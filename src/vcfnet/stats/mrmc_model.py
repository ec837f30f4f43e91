"""The model as a fixed reader against the mean of the readers (random readers, random cases).

:func:`model_vs_readers`: Hillis (2007, section 5.3) single-modality OR analysis of the reader-minus-model
differences, as RJafroc ``StCadVsRad(method = "1T-RRRC")`` (Chakraborty's standalone-CAD-vs-radiologists
analysis); it equals ORH of a two-modality design whose first modality is the model repeated for every
reader (Kooi et al. 2016; tested). See ``docs/MRMC.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, warn_undefined
from vcfnet.stats.mrmc import _check_covariance, _t_ci
from vcfnet.stats.mrmc_foms import (
    MRMCData,
    _foms,
    _warn_constant,
    delong_cov,
    jackknife_cov,
    jackknife_foms,
    prepare_ratings,
)


@dataclass(frozen=True)
class ModelVsReadersResult(ResultMixin):
    """The model (a fixed reader) against the readers' mean FOM in one modality.

    ``diff = model_fom - mean_reader_fom`` (positive: the model does better). Random readers and random
    cases (Hillis 2007 section 5.3 on ``psi_j = reader_j - model``): ``se = sqrt((MS(R)_psi + r max(cov2_psi,
    0)) / r)``, ``df = (MS(R)_psi + r max(cov2_psi, 0))^2 / (MS(R)_psi^2 / (r - 1))``, two-sided t test and
    interval. ``*_fixed_cases``: readers random, cases fixed (a one-sample t test of the ``psi_j``, RJafroc
    ``1T-RRFC``).
    """

    modality: str | None
    readers: list[str]
    fom: str
    covariance: str
    cluster: str | None
    n_cases: int
    n_clusters: int
    model_fom: float
    reader_fom: dict[str, float]
    mean_reader_fom: float
    diff: float
    se: float
    df: float
    t_stat: float
    p_value: float
    ci_low: float
    ci_high: float
    ms_r: float
    var_error: float
    cov2: float
    se_fixed_cases: float
    df_fixed_cases: float
    p_value_fixed_cases: float
    ci_low_fixed_cases: float
    ci_high_fixed_cases: float
    alpha: float = 0.05


def _model_column(model_scores, cases: list[str], case: str, score: str) -> np.ndarray:
    import pandas as pd

    if isinstance(model_scores, pd.DataFrame):
        missing = [c for c in (case, score) if c not in model_scores.columns]
        if missing:
            raise ValueError(f"model_scores has no column {missing[0]!r}; columns are "
                             f"{list(map(str, model_scores.columns))}")
        if model_scores[case].duplicated().any():
            dup = model_scores[case][model_scores[case].duplicated()].iloc[0]
            raise ValueError(f"model_scores has case {dup!r} more than once; one model score per case")
        series = pd.Series(model_scores[score].to_numpy(), index=model_scores[case].astype(str).to_numpy())
    elif isinstance(model_scores, pd.Series):
        series = pd.Series(model_scores.to_numpy(), index=model_scores.index.astype(str))
    elif isinstance(model_scores, dict):
        series = pd.Series(list(model_scores.values()), index=[str(k) for k in model_scores])
    else:
        raise ValueError("model_scores must be a DataFrame (case and score columns), a Series indexed by case, "
                         f"or a dict case -> score; got {type(model_scores).__name__}")
    if series.index.duplicated().any():
        raise ValueError(f"model_scores has case {series.index[series.index.duplicated()][0]!r} more than once")
    absent = [c for c in cases if c not in series.index]
    if absent:
        raise ValueError(f"model_scores has no score for case {absent[0]!r} ({len(absent)} of {len(cases)} "
                         "cases missing); the model must score every case the readers read")
    values = pd.to_numeric(series.loc[cases], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"model_scores for case {cases[int(np.flatnonzero(~np.isfinite(values))[0])]!r} is not a "
                         "finite number")
    return values


def model_vs_readers(ratings, model_scores, *, reader: str = "reader", case: str = "case",
                     modality: str = "modality", truth: str = "truth", score: str = "score",
                     in_modality=None, covariance: str = "jackknife", cluster: str | None = None,
                     fom: str = "auc", alpha: float = 0.05) -> ModelVsReadersResult:
    """Model vs the mean of the readers on the same cases (random readers, random cases; model fixed).

    ``ratings`` as for :func:`mrmc_or`; when it holds several modalities, ``in_modality`` picks the one the
    readers are compared in (e.g. ``"unaided"``); a table without the ``modality`` column is one modality.
    ``model_scores``: the model's score per case (a DataFrame with the ``case`` and ``score`` columns, a
    Series indexed by case, or a dict); for ``fom="accuracy"`` 0/1 correctness like the readers'.

    >>> import pandas as pd
    >>> truth = [0, 0, 0, 1, 1, 1]
    >>> reads = {"r1": [1, 2, 4, 3, 5, 6], "r2": [2, 1, 3, 4, 3, 5], "r3": [1, 3, 2, 2, 4, 5]}
    >>> t = pd.DataFrame([(r, c, truth[c], s[c]) for r, s in reads.items() for c in range(6)],
    ...                  columns=["reader", "case", "truth", "score"])
    >>> res = model_vs_readers(t, {c: v for c, v in enumerate([0.1, 0.3, 0.2, 0.6, 0.4, 0.9])})
    >>> round(res.model_fom, 4), round(res.mean_reader_fom, 4), round(res.diff, 4)
    (1.0, 0.8889, 0.1111)
    """
    import pandas as pd

    alpha = check_alpha(alpha)
    _check_covariance(covariance, fom)
    if not isinstance(ratings, pd.DataFrame):
        raise ValueError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
    table = ratings
    if modality not in table.columns:
        table = table.assign(**{modality: "readers"})
        chosen = None
    else:
        present = sorted({str(v) for v in table[modality].dropna().unique()})
        if in_modality is None:
            if len(present) != 1:
                raise ValueError(f"ratings holds modalities {present}; say which one the readers are compared "
                                 "to the model in with in_modality=")
            chosen = present[0]
        else:
            if str(in_modality) not in present:
                raise ValueError(f"in_modality {in_modality!r} is not in column {modality!r} (found {present})")
            chosen = str(in_modality)
        table = table[table[modality].astype(str) == chosen]
    data = prepare_ratings(table, reader=reader, case=case, modality=modality, truth=truth, score=score,
                           cluster=cluster, fom=fom, min_modalities=1)
    model = _model_column(model_scores, data.cases, case, score)
    if fom == "accuracy" and not np.all((model == 0) | (model == 1)):
        raise ValueError("fom='accuracy' needs model_scores to be 0 (wrong) or 1 (correct)")
    r = len(data.readers)
    both = MRMCData([data.modalities[0]], data.readers + ["<model>"], data.cases,
                    np.concatenate([data.scores, model[None, None, :]], axis=1), data.truth, data.groups,
                    data.n_clusters, data.clustered)
    _warn_constant(both)
    theta = _foms(both)[0]
    contrast = np.hstack([np.eye(r), -np.ones((r, 1))])  # psi_j = reader_j - model
    cov_all = jackknife_cov(jackknife_foms(both)) if covariance == "jackknife" else delong_cov(both)
    cov = contrast @ cov_all @ contrast.T
    psi = contrast @ theta
    nan = float("nan")
    ms_r = float(psi.var(ddof=1))
    var_e = float(np.diag(cov).mean())
    cov2 = float((cov.sum() - np.trace(cov)) / (r * (r - 1)))
    den = ms_r + r * max(cov2, 0.0)
    diff = float(-psi.mean())
    from scipy import stats as st

    if den > 0:
        se = math.sqrt(den / r)
        df = den ** 2 / (ms_r ** 2 / (r - 1)) if ms_r > 0 else float("inf")
        tt = diff / se
        p = float(2 * (st.t.sf(abs(tt), df) if math.isfinite(df) else st.norm.sf(abs(tt))))
        lo, hi = _t_ci(diff, se, df, alpha) if math.isfinite(df) else (nan, nan)
    else:
        warn_undefined("the readers-minus-model differences have no variance; se, p-value and CI are NaN")
        se = df = tt = p = lo = hi = nan
    se_fc = math.sqrt(ms_r / r) if ms_r > 0 else nan
    if ms_r > 0:
        p_fc = float(2 * st.t.sf(abs(diff / se_fc), r - 1))
        lo_fc, hi_fc = _t_ci(diff, se_fc, r - 1, alpha)
    else:
        p_fc = lo_fc = hi_fc = nan
    return ModelVsReadersResult(
        modality=chosen, readers=data.readers, fom=fom, covariance=covariance, cluster=cluster,
        n_cases=len(data.cases), n_clusters=data.n_clusters, model_fom=float(theta[r]),
        reader_fom={rd: float(theta[j]) for j, rd in enumerate(data.readers)},
        mean_reader_fom=float(theta[:r].mean()), diff=diff, se=se, df=df, t_stat=tt, p_value=p,
        ci_low=lo, ci_high=hi, ms_r=ms_r, var_error=var_e, cov2=cov2, se_fixed_cases=se_fc,
        df_fixed_cases=r - 1, p_value_fixed_cases=p_fc, ci_low_fixed_cases=lo_fc, ci_high_fixed_cases=hi_fc,
        alpha=alpha,
    )
