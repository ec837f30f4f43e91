"""Multi-reader multi-case (MRMC) analysis: Obuchowski-Rockette with Hillis's degrees of freedom.

Input is a long table, one row per reader x case x modality, with the case's truth (0/1) and the
reader's score (higher = more likely positive). Every reader reads every case in every modality
(a fully crossed, "factorial" design); anything else is refused with ``ValueError``.

* :func:`mrmc_or` -- Obuchowski & Rockette (1995) ANOVA of the reader x modality figures of merit
  with Hillis (2007) denominator degrees of freedom (the "ORH" analysis of OR-DBM MRMC, RJafroc
  ``StSignificanceTesting(method="OR")`` and MRMCaov ``mrmc``). The covariances of the figures of
  merit come from the case jackknife (``covariance="jackknife"``) or DeLong's structural components
  (``covariance="delong"``, AUC only). ``cluster=`` names a column whose groups (patients) are the unit
  of independence: the jackknife leaves out a whole cluster, and DeLong's components are summed per
  cluster (Obuchowski 1997).
* The ratings table, the figures of merit and their jackknife / DeLong covariances are
  :mod:`vcfnet.stats.mrmc_foms`'s; DBM is :mod:`vcfnet.stats.dbm`, the model vs the readers
  :mod:`vcfnet.stats.mrmc_model`, power :mod:`vcfnet.stats.mrmc_plan`.

Formulas, references and the validation against OR-DBM MRMC / MRMCaov on the Van Dyke data are in
``docs/MRMC.md``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vcfnet.stats._common import ResultMixin, check_alpha, warn_undefined
from vcfnet.stats.mrmc_foms import (
    FOMS,
    MRMCData,
    _foms,
    _warn_constant,
    delong_cov,
    jackknife_cov,
    jackknife_foms,
    prepare_ratings,
)

COVARIANCES = ("jackknife", "delong")
__all__ = ["COVARIANCES", "FOMS", "FixedFactorTest", "MRMCData", "ORResult", "SingleModality", "delong_cov",
           "hillis_test", "jackknife_cov", "jackknife_foms", "mrmc_or", "or_analysis", "or_anova", "prepare_ratings"]


# ------------------------------------------------------------------------------------ OR analysis


@dataclass(frozen=True)
class SingleModality(ResultMixin):
    """One modality on its own (OR-DBM MRMC part (c)): mean FOM with a ``1 - alpha`` interval (clipped to [0, 1]).

    Random readers and cases: ``se = sqrt((ms_r + r * max(cov2, 0)) / r)``, Hillis's
    ``df = (ms_r + r max(cov2, 0))^2 / (ms_r^2 / (r - 1))``, t interval. Fixed readers (``*_fixed``):
    ``se = sqrt((var_error + (r - 1) max(cov2, 0)) / r)``, normal interval.
    """

    estimate: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    ms_r: float
    var_error: float
    cov2: float
    se_fixed: float
    ci_low_fixed: float
    ci_high_fixed: float


@dataclass(frozen=True)
class FixedFactorTest(ResultMixin):
    """The same comparison with one factor fixed (OR-DBM MRMC analyses 2 and 3).

    ``"fixed_readers"`` (random cases): chi-square ``(t - 1) MS(T) / (var_error - cov1 + (r - 1)
    max(cov2 - cov3, 0))`` on ``t - 1`` df, normal interval. ``"fixed_cases"`` (random readers):
    ``F = MS(T) / MS(TR)`` on ``(t - 1, (t - 1)(r - 1))`` df, t interval (a paired t test for 2 modalities).
    """

    kind: str
    statistic: float
    df_num: float
    df_den: float
    p_value: float
    se_diff: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class ORResult(ResultMixin):
    """Obuchowski-Rockette-Hillis MRMC comparison of modalities, random readers and random cases.

    ``auc[m]`` is modality m's figure of merit averaged over readers (the AUC, or the accuracy for
    ``fom="accuracy"``), ``reader_auc[m][reader]`` each reader's. ``diff`` is ``modalities[1] -
    modalities[0]`` with its standard error, Hillis's ``df_den`` and a ``1 - alpha`` t interval; ``f_stat``
    tests all modalities equal on ``(df_num, df_den)`` = ``(t - 1, ddf_H)``. ``ms_t, ms_r, ms_tr`` are the
    modality x reader ANOVA mean squares of the FOMs; ``var_r, var_tr`` the OR reader and
    modality x reader variance components; ``var_error, cov1`` (same reader, other modality), ``cov2``
    (same modality, other reader), ``cov3`` (other both) the FOM error covariances (from the jackknife or
    DeLong). ``single[m]``: each modality alone; ``fixed_readers`` / ``fixed_cases``: the comparison with
    that factor fixed. ``n_clusters`` is the unit of independence count (``= n_cases`` unless ``cluster``).
    """

    modalities: list[str]
    readers: list[str]
    fom: str
    covariance: str
    cluster: str | None
    n_cases: int
    n_positive: int | None
    n_negative: int | None
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
    ms_t: float
    ms_r: float
    ms_tr: float
    var_r: float
    var_tr: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    single: dict[str, SingleModality] = field(default_factory=dict)
    fixed_readers: FixedFactorTest | None = None
    fixed_cases: FixedFactorTest | None = None
    alpha: float = 0.05

    def components(self) -> dict[str, float]:
        """The OR components a power calculation needs (:func:`vcfnet.stats.mrmc_power`).

        ``n_cases_pilot`` is the number of independent units the covariances were estimated from:
        ``n_clusters`` (patients when ``cluster`` was given, else cases).
        """
        return dict(var_r=self.var_r, var_tr=self.var_tr, var_error=self.var_error,
                    cov1=self.cov1, cov2=self.cov2, cov3=self.cov3, n_cases_pilot=self.n_clusters)


def _cov_summary(cov: np.ndarray, t: int, r: int) -> tuple[float, float, float, float]:
    """``(var_error, cov1, cov2, cov3)``: means of the diagonal, same reader / same modality / neither."""
    c = cov.reshape(t, r, t, r)
    same_t = np.eye(t, dtype=bool)[:, None, :, None]
    same_r = np.eye(r, dtype=bool)[None, :, None, :]
    nan = float("nan")

    def mean(mask):
        mask = np.broadcast_to(mask, c.shape)
        return float(c[mask].mean()) if mask.any() else nan

    return mean(same_t & same_r), mean(~same_t & same_r), mean(same_t & ~same_r), mean(~same_t & ~same_r)


def _t_ci(est: float, se: float, df: float, alpha: float) -> tuple[float, float]:
    from scipy import stats as st

    if not (math.isfinite(se) and math.isfinite(df) and df > 0):
        return float("nan"), float("nan")
    half = float(st.t.ppf(1 - alpha / 2, df)) * se
    return est - half, est + half


def _clip01(v: float) -> float:
    """Figures of merit lie in [0, 1]; so do their single-modality intervals (as MRMCaov and roc.py clip)."""
    return min(1.0, max(0.0, v)) if math.isfinite(v) else v


def or_anova(theta: np.ndarray) -> tuple[float, float, float]:
    """``(MS(T), MS(R), MS(TR))`` of a modality x reader table of figures of merit."""
    t, r = theta.shape
    mt, mr, mm = theta.mean(axis=1), theta.mean(axis=0), theta.mean()
    ms_t = r * float(((mt - mm) ** 2).sum()) / (t - 1) if t > 1 else float("nan")
    ms_r = t * float(((mr - mm) ** 2).sum()) / (r - 1)
    resid = theta - mt[:, None] - mr[None, :] + mm
    ms_tr = float((resid ** 2).sum()) / ((t - 1) * (r - 1)) if t > 1 else float("nan")
    return ms_t, ms_r, ms_tr


def hillis_test(ms_t: float, ms_tr: float, cov2: float, cov3: float, t: int, r: int) -> tuple[float, float, float, float]:
    """ORH random-readers random-cases F test: ``(F, df_num, ddf_H, denominator)``.

    ``den = MS(TR) + r max(cov2 - cov3, 0)``, ``F = MS(T) / den``, Hillis (2007)
    ``ddf_H = den^2 / (MS(TR)^2 / ((t - 1)(r - 1)))``.

    >>> f, df1, df2, den = hillis_test(0.00479617, 0.00055103, 0.00034407, 0.00023903, 2, 5)
    >>> round(f, 2), df1, round(df2, 2)
    (4.46, 1, 15.26)
    """
    den = ms_tr + r * max(cov2 - cov3, 0.0)
    df1 = t - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        f = ms_t / den if den > 0 else float("nan")
        ddf = den ** 2 / (ms_tr ** 2 / ((t - 1) * (r - 1))) if ms_tr > 0 else float("inf")
    return float(f), df1, float(ddf), float(den)


def _f_sf(f: float, df1: float, df2: float) -> float:
    from scipy import stats as st

    if not math.isfinite(f):
        return float("nan")
    return float(st.chi2.sf(f * df1, df1)) if math.isinf(df2) else float(st.f.sf(f, df1, df2))


def or_analysis(theta: np.ndarray, cov: np.ndarray, alpha: float) -> dict[str, Any]:
    """The OR / Hillis analysis of FOMs ``theta`` (t x r) with FOM covariance ``cov`` (tr x tr).

    Returns the fields of :class:`ORResult` that depend only on these two (modalities/readers by index).
    """
    from scipy import stats as st

    t, r = theta.shape
    nan = float("nan")
    ms_t, ms_r, ms_tr = or_anova(theta)
    var_e, cov1, cov2, cov3 = _cov_summary(cov, t, r)
    f, df1, ddf, den = hillis_test(ms_t, ms_tr, cov2, cov3, t, r)
    if not den > 0:
        warn_undefined("the OR denominator MS(TR) + r max(cov2 - cov3, 0) is 0: the readers' figures of merit "
                       "do not vary; F, p-value and CI are NaN")
    diff = float(theta[1].mean() - theta[0].mean())
    se = math.sqrt(2.0 / r * den) if den > 0 else nan
    lo, hi = _t_ci(diff, se, ddf, alpha)
    single = []
    for i in range(t):
        ms_ri = float(theta[i].var(ddof=1))
        c = cov.reshape(t, r, t, r)[i, :, i, :]
        var_ei = float(np.diag(c).mean())
        cov2_i = float((c.sum() - np.trace(c)) / (r * (r - 1)))
        den_i = ms_ri + r * max(cov2_i, 0.0)
        se_i = math.sqrt(den_i / r)
        df_i = den_i ** 2 / (ms_ri ** 2 / (r - 1)) if ms_ri > 0 else float("inf")
        est = float(theta[i].mean())
        lo_i, hi_i = _t_ci(est, se_i, df_i, alpha) if se_i > 0 else (nan, nan)
        se_fi = math.sqrt(max(var_ei + (r - 1) * max(cov2_i, 0.0), 0.0) / r)
        z = float(st.norm.ppf(1 - alpha / 2))
        single.append(SingleModality(est, se_i, df_i, _clip01(lo_i), _clip01(hi_i), ms_ri, var_ei, cov2_i,
                                     se_fi, _clip01(est - z * se_fi), _clip01(est + z * se_fi)))
    # Fixed readers, random cases (OR-DBM MRMC analysis 2).
    den_fr = var_e - cov1 + (r - 1) * max(cov2 - cov3, 0.0)
    z = float(st.norm.ppf(1 - alpha / 2))
    if den_fr > 0:
        chi = (t - 1) * ms_t / den_fr
        se_fr = math.sqrt(2.0 / r * den_fr)
        fixed_readers = FixedFactorTest("fixed_readers", chi, t - 1, float("inf"), float(st.chi2.sf(chi, t - 1)),
                                        se_fr, diff - z * se_fr, diff + z * se_fr)
    else:
        fixed_readers = FixedFactorTest("fixed_readers", nan, t - 1, float("inf"), nan, nan, nan, nan)
    # Random readers, fixed cases (analysis 3): conventional modality x reader ANOVA.
    df_fc = (t - 1) * (r - 1)
    if ms_tr > 0:
        f_fc = ms_t / ms_tr
        se_fc = math.sqrt(2.0 / r * ms_tr)
        fixed_cases = FixedFactorTest("fixed_cases", f_fc, t - 1, df_fc, float(st.f.sf(f_fc, t - 1, df_fc)),
                                      se_fc, *_t_ci(diff, se_fc, df_fc, alpha))
    else:
        fixed_cases = FixedFactorTest("fixed_cases", nan, t - 1, df_fc, nan, nan, nan, nan)
    return dict(
        diff=diff, se_diff=se, t_stat=diff / se if se > 0 else nan, f_stat=f, df_num=df1, df_den=ddf,
        p_value=_f_sf(f, df1, ddf), ci_low=lo, ci_high=hi, ms_t=ms_t, ms_r=ms_r, ms_tr=ms_tr,
        var_r=(ms_r - ms_tr) / t - cov1 + cov3, var_tr=ms_tr - var_e + cov1 + cov2 - cov3,
        var_error=var_e, cov1=cov1, cov2=cov2, cov3=cov3, single=single,
        fixed_readers=fixed_readers, fixed_cases=fixed_cases,
    )


def _check_covariance(covariance: str, fom: str) -> None:
    if covariance not in COVARIANCES:
        raise ValueError(f"Invalid covariance {covariance!r}. Only {', '.join(map(repr, COVARIANCES))} are supported.")
    if covariance == "delong" and fom != "auc":
        raise ValueError("covariance='delong' is for fom='auc'; use covariance='jackknife' for accuracy")


def mrmc_or(ratings, *, reader: str = "reader", case: str = "case", modality: str = "modality",
            truth: str = "truth", score: str = "score", covariance: str = "jackknife", cluster: str | None = None,
            fom: str = "auc", alpha: float = 0.05, modalities=None) -> ORResult:
    """Obuchowski-Rockette MRMC comparison of modalities with Hillis's df (random readers, random cases).

    ``ratings``: a pandas DataFrame with one row per reader x case x modality; the column names are
    given by ``reader, case, modality, truth, score``. ``truth`` is the case's 0/1 label (the same in
    every row of that case); a higher ``score`` means more likely positive. ``modalities`` fixes the order
    (``diff = modalities[1] - modalities[0]``; default: sorted, as strings) and may select a subset.

    * ``fom="auc"``: the trapezoidal (Wilcoxon) AUC per reader x modality. ``fom="accuracy"``: the mean
      of ``score``, which must then be 0/1 (1 = the reader's answer was correct; any number of classes);
      ``truth`` is not used.
    * ``covariance="jackknife"`` (the usual ORH) or ``"delong"`` (AUC only).
    * ``cluster``: a column of cluster ids (e.g. ``"patient"``), one per case; the jackknife leaves out a
      whole cluster and DeLong's components are clustered (Obuchowski 1997).

    >>> import pandas as pd
    >>> truth = [0, 0, 0, 1, 1, 1]
    >>> scores = {("A", "r1"): [1, 2, 4, 3, 5, 6], ("A", "r2"): [2, 1, 3, 4, 3, 5], ("A", "r3"): [1, 3, 2, 2, 4, 5],
    ...           ("B", "r1"): [1, 2, 3, 4, 5, 6], ("B", "r2"): [1, 3, 2, 5, 2, 6], ("B", "r3"): [2, 1, 3, 4, 6, 5]}
    >>> t = pd.DataFrame([(m, r, c, truth[c], s[c]) for (m, r), s in scores.items() for c in range(6)],
    ...                  columns=["modality", "reader", "case", "truth", "score"])
    >>> res = mrmc_or(t)
    >>> {m: round(a, 4) for m, a in res.auc.items()}, round(res.diff, 4), res.df_num, round(res.p_value, 3)
    ({'A': 0.8889, 'B': 0.9444}, 0.0556, 1, 0.7)
    """
    alpha = check_alpha(alpha)
    _check_covariance(covariance, fom)
    data = prepare_ratings(ratings, reader=reader, case=case, modality=modality, truth=truth, score=score,
                           cluster=cluster, fom=fom, modalities=modalities)
    return _or_result(data, covariance=covariance, cluster=cluster, fom=fom, alpha=alpha)


def _or_result(data: MRMCData, *, covariance: str, cluster: str | None, fom: str, alpha: float) -> ORResult:
    _warn_constant(data)
    theta = _foms(data)
    cov = jackknife_cov(jackknife_foms(data)) if covariance == "jackknife" else delong_cov(data)
    parts = or_analysis(theta, cov, alpha)
    mods, rdrs = data.modalities, data.readers
    single = {mods[i]: s for i, s in enumerate(parts.pop("single"))}
    n_pos = int(data.truth.sum()) if data.truth is not None else None
    n_neg = len(data.cases) - n_pos if n_pos is not None else None
    return ORResult(
        modalities=mods, readers=rdrs, fom=fom, covariance=covariance, cluster=cluster,
        n_cases=len(data.cases), n_positive=n_pos, n_negative=n_neg, n_clusters=data.n_clusters,
        auc={m: float(theta[i].mean()) for i, m in enumerate(mods)},
        reader_auc={m: {rd: float(theta[i, j]) for j, rd in enumerate(rdrs)} for i, m in enumerate(mods)},
        single=single, alpha=alpha, **parts,
    )
