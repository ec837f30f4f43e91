"""Dorfman-Berbaum-Metz MRMC analysis: ANOVA of jackknife pseudovalues with Hillis's denominator df.

:func:`mrmc_dbm` -- DBM (Dorfman, Berbaum & Metz 1992) mixed-model ANOVA of jackknife pseudovalues with
Hillis's (2008) denominator and df. Pseudovalues are normalized (their mean over cases is the figure of
merit, as OR-DBM MRMC and RJafroc do), and then random-readers random-cases DBM equals ORH with
jackknife covariances exactly (Hillis et al. 2005; tested). See ``docs/MRMC.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, warn_undefined
from vcfnet.stats.mrmc import _clip01, _f_sf, _t_ci
from vcfnet.stats.mrmc_foms import MRMCData, _foms, _warn_constant, jackknife_foms, prepare_ratings


@dataclass(frozen=True)
class DBMSingle(ResultMixin):
    """One modality alone by DBM: ``se = sqrt((MS(R) + max(MS(C) - MS(RC), 0)) / (r c))``, Hillis df."""

    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class DBMResult(ResultMixin):
    """DBM analysis, random readers and random cases; the same core fields as :class:`ORResult`.

    ``ms`` holds the pseudovalue ANOVA mean squares (``"T", "R", "C", "TR", "TC", "RC", "TRC"``); ``var_*``
    are the DBM variance components (``var_error`` = Var(T*R*C) + Var(error)). ``c`` in the formulas is
    ``n_clusters`` (the jackknife unit).
    """

    modalities: list[str]
    readers: list[str]
    fom: str
    cluster: str | None
    n_cases: int
    n_clusters: int
    auc: dict[str, float]
    reader_auc: dict[str, dict[str, float]]
    diff: float
    se_diff: float
    t_stat: float
    f_stat: float
    df_num: float
    df_den: float
    p_value: float
    ci_low: float
    ci_high: float
    ms: dict[str, float]
    var_r: float
    var_c: float
    var_tr: float
    var_tc: float
    var_rc: float
    var_error: float
    single: dict[str, DBMSingle]
    alpha: float = 0.05


def pseudovalues(data: MRMCData) -> np.ndarray:
    """Normalized jackknife pseudovalues, shape ``(t, r, c)``: ``c theta - (c - 1) theta_(-k)``, shifted so
    that their mean over the c clusters is ``theta`` (Hillis, Berbaum & Metz 2008)."""
    jack = np.moveaxis(jackknife_foms(data), 0, -1)  # (t, r, c)
    c = jack.shape[-1]
    theta = _foms(data)
    y = c * theta[..., None] - (c - 1) * jack
    return y + (theta - y.mean(axis=-1))[..., None]


def dbm_anova(y: np.ndarray) -> dict[str, float]:
    """Mean squares of the modality x reader x case ANOVA (one observation per cell)."""
    t, r, c = y.shape
    m = y.mean()
    mt, mr, mc = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=(0, 1))
    mtr, mtc, mrc = y.mean(axis=2), y.mean(axis=1), y.mean(axis=0)
    ss = {
        "T": r * c * ((mt - m) ** 2).sum(), "R": t * c * ((mr - m) ** 2).sum(), "C": t * r * ((mc - m) ** 2).sum(),
        "TR": c * ((mtr - mt[:, None] - mr[None, :] + m) ** 2).sum(),
        "TC": r * ((mtc - mt[:, None] - mc[None, :] + m) ** 2).sum(),
        "RC": t * ((mrc - mr[:, None] - mc[None, :] + m) ** 2).sum(),
    }
    resid = (y - mtr[:, :, None] - mtc[:, None, :] - mrc[None, :, :]
             + mt[:, None, None] + mr[None, :, None] + mc[None, None, :] - m)
    ss["TRC"] = (resid ** 2).sum()
    df = {"T": t - 1, "R": r - 1, "C": c - 1, "TR": (t - 1) * (r - 1), "TC": (t - 1) * (c - 1),
          "RC": (r - 1) * (c - 1), "TRC": (t - 1) * (r - 1) * (c - 1)}
    return {k: float(ss[k] / df[k]) if df[k] > 0 else float("nan") for k in ss}


def mrmc_dbm(ratings, *, reader: str = "reader", case: str = "case", modality: str = "modality",
             truth: str = "truth", score: str = "score", cluster: str | None = None, fom: str = "auc",
             alpha: float = 0.05, modalities=None) -> DBMResult:
    """Dorfman-Berbaum-Metz analysis with Hillis's ddf (random readers, random cases); arguments as :func:`mrmc_or`.

    ``F = MS(T) / (MS(TR) + max(MS(TC) - MS(TRC), 0))`` on ``(t - 1, ddf_H)``, ``ddf_H = den^2 /
    (MS(TR)^2 / ((t - 1)(r - 1)))``; the difference ``modalities[1] - modalities[0]`` has
    ``se = sqrt(2 den / (r c))``. With ``cluster`` the pseudovalues are per cluster.

    >>> import pandas as pd
    >>> truth = [0, 0, 0, 1, 1, 1]
    >>> scores = {("A", "r1"): [1, 2, 4, 3, 5, 6], ("A", "r2"): [2, 1, 3, 4, 3, 5], ("A", "r3"): [1, 3, 2, 2, 4, 5],
    ...           ("B", "r1"): [1, 2, 3, 4, 5, 6], ("B", "r2"): [1, 3, 2, 5, 2, 6], ("B", "r3"): [2, 1, 3, 4, 6, 5]}
    >>> t = pd.DataFrame([(m, r, c, truth[c], s[c]) for (m, r), s in scores.items() for c in range(6)],
    ...                  columns=["modality", "reader", "case", "truth", "score"])
    >>> d = mrmc_dbm(t)
    >>> round(d.diff, 4), round(d.p_value, 3)   # the same as mrmc_or(t)
    (0.0556, 0.7)
    """
    alpha = check_alpha(alpha)
    data = prepare_ratings(ratings, reader=reader, case=case, modality=modality, truth=truth, score=score,
                           cluster=cluster, fom=fom, modalities=modalities)
    _warn_constant(data)
    theta = _foms(data)
    y = pseudovalues(data)
    t, r, c = y.shape
    ms = dbm_anova(y)
    nan = float("nan")
    den = ms["TR"] + max(ms["TC"] - ms["TRC"], 0.0)
    df1 = t - 1
    if den > 0:
        f = ms["T"] / den
        ddf = den ** 2 / (ms["TR"] ** 2 / ((t - 1) * (r - 1))) if ms["TR"] > 0 else float("inf")
        se = math.sqrt(2.0 * den / (r * c))
    else:
        warn_undefined("the DBM denominator MS(TR) + max(MS(TC) - MS(TRC), 0) is 0; F, p-value and CI are NaN")
        f, ddf, se = nan, nan, nan
    diff = float(theta[1].mean() - theta[0].mean())
    lo, hi = _t_ci(diff, se, ddf, alpha)
    single = {}
    for i, mod in enumerate(data.modalities):
        ms_i = dbm_anova(y[i:i + 1])  # T, TR, TC, TRC are undefined with one modality; R, C, RC are its own
        den_i = ms_i["R"] + max(ms_i["C"] - ms_i["RC"], 0.0)
        se_i = math.sqrt(den_i / (r * c))
        df_i = den_i ** 2 / (ms_i["R"] ** 2 / (r - 1)) if ms_i["R"] > 0 else float("inf")
        est = float(theta[i].mean())
        lo_i, hi_i = _t_ci(est, se_i, df_i, alpha) if se_i > 0 else (nan, nan)
        single[mod] = DBMSingle(est, se_i, df_i, _clip01(lo_i), _clip01(hi_i))
    return DBMResult(
        modalities=data.modalities, readers=data.readers, fom=fom, cluster=cluster, n_cases=len(data.cases),
        n_clusters=data.n_clusters,
        auc={m: float(theta[i].mean()) for i, m in enumerate(data.modalities)},
        reader_auc={m: {rd: float(theta[i, j]) for j, rd in enumerate(data.readers)}
                    for i, m in enumerate(data.modalities)},
        diff=diff, se_diff=se, t_stat=diff / se if se > 0 else nan, f_stat=f, df_num=df1, df_den=ddf,
        p_value=_f_sf(f, df1, ddf), ci_low=lo, ci_high=hi, ms=ms,
        var_r=(ms["R"] - ms["TR"] - ms["RC"] + ms["TRC"]) / (t * c),
        var_c=(ms["C"] - ms["TC"] - ms["RC"] + ms["TRC"]) / (t * r),
        var_tr=(ms["TR"] - ms["TRC"]) / c, var_tc=(ms["TC"] - ms["TRC"]) / r, var_rc=(ms["RC"] - ms["TRC"]) / t,
        var_error=ms["TRC"], single=single, alpha=alpha,
    )
