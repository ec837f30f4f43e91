"""DBM (vcfnet.stats.dbm), the model vs the readers (mrmc_model) and MRMC power / sample size (mrmc_plan)."""
from __future__ import annotations

import doctest
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from test_mrmc import _auc_pairs, _toy, load_vandyke

from vcfnet.stats import (
    UndefinedMetricWarning,
    model_vs_readers,
    mrmc_dbm,
    mrmc_or,
    mrmc_power,
    mrmc_sample_size,
)


@pytest.fixture(scope="module")
def vandyke(shared_data) -> pd.DataFrame:
    return load_vandyke(shared_data)


# --------------------------------------------------------------------------------------------- DBM


def test_dbm_matches_or_dbm_mrmc_on_vandyke(vandyke):
    """DBM variance components as printed by OR-DBM MRMC 2.51 (RJafroc ``inst/Iowa/VanDyke.txt``, commit
    44b0e39ebb0adda0d28d675850cbcf97d4d85d3f), and the RRRC test equal to its ORH analysis 1."""
    d = mrmc_dbm(vandyke, modality="treatment", score="rating")
    assert (d.var_r, d.var_c, d.var_tr, d.var_tc, d.var_rc, d.var_error) == pytest.approx(
        (0.00153500, 0.02724923, 0.00020040, 0.01197530, 0.01226473, 0.03997160), abs=1e-8)
    assert round(d.f_stat, 2) == 4.46 and round(d.df_den, 2) == 15.26 and round(d.p_value, 4) == 0.0517
    assert (d.ci_low, d.ci_high) == pytest.approx((-0.00036, 0.08796), abs=5e-6)
    assert (d.single["0"].ci_low, d.single["0"].ci_high) == pytest.approx((0.82522360, 0.96885048), abs=1e-8)
    assert (d.single["1"].ci_low, d.single["1"].ci_high) == pytest.approx((0.89413783, 0.98753689), abs=1e-8)


@pytest.mark.parametrize("seed,cluster", [(11, False), (12, False), (13, True)])
def test_dbm_equals_or_jackknife(seed, cluster):
    """Random readers and cases: DBM with normalized pseudovalues and Hillis's ddf is ORH with jackknife
    covariances (Hillis, Obuchowski, Schartz & Berbaum 2005), including with clusters and 3 modalities."""
    table = _toy(seed, n_readers=4, n_mod=3, n_cases=14, n_pos=6)
    kw = {}
    if cluster:
        table = table.assign(patient=table.case.str[1:].astype(int) // 3)
        kw = dict(cluster="patient")
    o, d = mrmc_or(table, **kw), mrmc_dbm(table, **kw)
    for name in ("f_stat", "df_den", "p_value", "diff", "se_diff", "ci_low", "ci_high"):
        assert getattr(d, name) == pytest.approx(getattr(o, name), rel=1e-9), name
    for m in o.modalities:
        assert d.single[m].se == pytest.approx(o.single[m].se, rel=1e-9)
        assert d.single[m].df == pytest.approx(o.single[m].df, rel=1e-9)
    # DBM <-> OR components (Hillis et al. 2005): var_r and var_tr agree, and cov2 - cov3 = var_tc / c
    c = o.n_clusters
    assert d.ms["T"] == pytest.approx(c * o.ms_t, rel=1e-9)
    assert d.ms["TR"] == pytest.approx(c * o.ms_tr, rel=1e-9)
    assert d.var_r == pytest.approx(o.var_r, rel=1e-9, abs=1e-15)
    assert d.var_tr == pytest.approx(o.var_tr, rel=1e-9, abs=1e-15)
    assert d.var_tc / c == pytest.approx(o.cov2 - o.cov3, rel=1e-9, abs=1e-15)


def test_dbm_bad_input():
    table = _toy(14)
    with pytest.raises(ValueError, match="at least 2 readers"):
        mrmc_dbm(table[table.reader == "r0"])
    with pytest.raises(ValueError, match="not fully crossed"):
        mrmc_dbm(table.iloc[1:])


# -------------------------------------------------------------------------------- model vs readers


def _with_model_as_modality(table, model):
    """The 2T-RRRC design of Kooi et al. (2016): the model's scores copied for every reader as modality "A"."""
    rows = [table.assign(modality="B")]
    for rd in table.reader.unique():
        rows.append(pd.DataFrame({"modality": "A", "reader": rd, "case": list(model), "score": list(model.values()),
                                  "truth": table.drop_duplicates("case").set_index("case").loc[list(model), "truth"]
                                  .to_numpy()}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("covariance", ["jackknife", "delong"])
def test_model_vs_readers_equals_two_modality_orh(covariance):
    table = _toy(21, n_readers=4, n_mod=1, n_cases=16, n_pos=7).drop(columns="modality")
    rng = np.random.default_rng(0)
    truth = table.drop_duplicates("case").set_index("case").truth
    model = {c: float(truth[c] + rng.normal(0, 0.8)) for c in truth.index}
    res = model_vs_readers(table, model, covariance=covariance)
    two = mrmc_or(_with_model_as_modality(table, model), covariance=covariance, modalities=["B", "A"])
    # two.diff = model - mean(readers); F = t^2 with the same Hillis ddf
    assert res.diff == pytest.approx(two.diff, rel=1e-12)
    assert res.t_stat ** 2 == pytest.approx(two.f_stat, rel=1e-9)
    assert res.df == pytest.approx(two.df_den, rel=1e-9)
    assert res.p_value == pytest.approx(two.p_value, rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx((two.ci_low, two.ci_high), rel=1e-9)
    # brute-force FOMs
    sub = table.sort_values("case")
    assert res.model_fom == pytest.approx(_auc_pairs(truth.to_numpy(), np.array([model[c] for c in truth.index])))
    for rd in res.readers:
        s = sub[sub.reader == rd]
        assert res.reader_fom[rd] == pytest.approx(_auc_pairs(s.truth.to_numpy(), s.score.to_numpy()))
    # fixed cases: the paired t test of reader minus model (RJafroc 1T-RRFC)
    from scipy import stats as st

    psi = np.array([res.reader_fom[r] - res.model_fom for r in res.readers])
    assert res.p_value_fixed_cases == pytest.approx(st.ttest_1samp(psi, 0.0).pvalue, rel=1e-9)


def test_model_vs_readers_inputs_and_modality_choice(vandyke):
    model = vandyke[(vandyke.treatment == 1) & (vandyke.reader == 0)][["case", "rating"]]
    with pytest.raises(ValueError, match="in_modality"):
        model_vs_readers(vandyke, model, modality="treatment", score="rating")
    res = model_vs_readers(vandyke, model, modality="treatment", score="rating", in_modality=0)
    assert res.modality == "0" and res.mean_reader_fom == pytest.approx(0.89703704, abs=1e-8)
    assert res.model_fom == pytest.approx(0.94782609, abs=1e-8)
    series = model.set_index("case").rating
    again = model_vs_readers(vandyke, series, modality="treatment", score="rating", in_modality=0, cluster=None)
    assert again.p_value == pytest.approx(res.p_value, rel=1e-12)


def test_model_vs_readers_bad_input():
    table = _toy(22, n_mod=1).drop(columns="modality")
    model = {f"c{k}": float(k) for k in range(9)}
    with pytest.raises(ValueError, match="no score for case 'c8'"):
        model_vs_readers(table, {k: v for k, v in model.items() if k != "c8"})
    with pytest.raises(ValueError, match="not a finite number"):
        model_vs_readers(table, {**model, "c3": float("nan")})
    with pytest.raises(ValueError, match="must be a DataFrame"):
        model_vs_readers(table, [1, 2, 3])
    with pytest.raises(ValueError, match="at least 2 readers"):
        model_vs_readers(table[table.reader == "r0"], model)
    with pytest.raises(ValueError, match="model_scores to be 0"):
        model_vs_readers(table.assign(score=1), model, fom="accuracy")


# ---------------------------------------------------------------------------------- power planning

#: OR components of the Van Dyke pilot (jackknife; OR-DBM MRMC / RJafroc print them), 114 cases.
VANDYKE = dict(var_tr=0.00020040252, var_error=0.00080228827, cov1=0.00034661371, cov2=0.00034407483,
               cov3=0.00023902837, n_cases_pilot=114)


@pytest.mark.parametrize("analysis,readers,cases,expect", [
    ("random", 10, 165, 0.80541995), ("fixed_readers", 10, 131, 0.80091813), ("fixed_cases", 10, 53, 0.80496663),
])
def test_power_matches_rjafroc(analysis, readers, cases, expect):
    """RJafroc ``tests/testthat/test-SsSampleSizeRoc.R`` (commit 44b0e39ebb0adda0d28d675850cbcf97d4d85d3f):
    ``SsPowerGivenJK(dataset02, FOM = "Wilcoxon", method = "OR", effectSize = -0.043800322, J, K,
    analysisOption)`` gives these powers (tolerance 1e-8 there). The components are the Van Dyke OR-jackknife
    ones (RJafroc's own example 4A prints them)."""
    p = mrmc_power(readers, cases, -0.043800322, analysis=analysis, **VANDYKE)
    assert p.power == pytest.approx(expect, abs=1e-8)


def test_power_from_pilot_result(vandyke):
    """``SsPowerGivenJK(dataset02, FOM = "Wilcoxon", J = 6, K = 111, method = "OR")$powerRRRC`` = 0.5526116
    (same RJafroc test file; observed effect)."""
    pilot = mrmc_or(vandyke, modality="treatment", score="rating")
    assert pilot.components()["n_cases_pilot"] == 114
    assert mrmc_power(6, 111, pilot.diff, pilot=pilot).power == pytest.approx(0.5526116, abs=5e-8)


def test_sample_size_grid_is_minimal_and_monotone():
    s = mrmc_sample_size(0.05, n_readers=range(3, 11), **VANDYKE)
    assert [r.n_readers for r in s.rows] == list(range(4, 11)) and s.unreachable == [3]
    for row in s.rows:
        assert row.power >= 0.8
        assert mrmc_power(row.n_readers, row.n_cases - 1, 0.05, **VANDYKE).power < 0.8
    cases = [r.n_cases for r in s.rows]
    assert cases == sorted(cases, reverse=True)  # more readers, fewer cases
    # 3 readers cannot reach 80 %: with var_tr fixed the power is capped even with infinite cases
    assert 3 in s.unreachable
    assert s.to_dict()["rows"][0]["n_cases"] == s.rows[0].n_cases


def test_power_bad_input():
    with pytest.raises(ValueError, match="missing \\['cov3'\\]"):
        mrmc_power(5, 100, 0.05, **{k: v for k, v in VANDYKE.items() if k != "cov3"})
    with pytest.raises(ValueError, match="n_readers must be a whole number >= 2"):
        mrmc_power(1, 100, 0.05, **VANDYKE)
    with pytest.raises(ValueError, match="Invalid analysis"):
        mrmc_power(5, 100, 0.05, analysis="both", **VANDYKE)
    with pytest.raises(ValueError, match="non-positive variance"):
        mrmc_power(5, 100, 0.05, **{**VANDYKE, "var_tr": 0.0, "var_error": 0.0001, "cov1": 0.0003, "cov3": 0.00034407483})
    with pytest.raises(ValueError, match="unknown component"):
        mrmc_sample_size(0.05, var_x=1, **VANDYKE)


@pytest.mark.parametrize("analysis", ["random", "fixed_readers", "fixed_cases"])
def test_power_is_alpha_at_zero_effect(analysis):
    assert mrmc_power(5, 100, 0.0, analysis=analysis, **VANDYKE).power == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("name", ["mrmc_foms", "dbm", "mrmc_model", "mrmc_plan"])
def test_docstring_examples(name):
    module = importlib.import_module(f"vcfnet.stats.{name}")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 1 and result.failed == 0
