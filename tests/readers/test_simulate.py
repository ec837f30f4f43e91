"""Simulated readers: seeded, valid reads, and the aided reads move toward the model and improve."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from vcfnet.errors import InputError
from vcfnet.labels import CLASSES
from vcfnet.readers.reads import validate_reads
from vcfnet.readers.simulate import DEFAULT_TIERS, simulate_reads
from vcfnet.stats import roc_auc


def model_cases(n_per_class=(40, 30, 10), signal=2.0, seed=3) -> pd.DataFrame:
    """Cases with a model of known quality: logits = signal * one-hot + N(0, 1), softmaxed."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), n_per_class)
    z = signal * np.eye(3)[truth] + rng.normal(size=(truth.size, 3))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return pd.DataFrame({"roi_id": [f"v{i:03d}" for i in range(truth.size)],
                         "label": [CLASSES[k] for k in truth],
                         **{f"p_{c}": p[:, k] for k, c in enumerate(CLASSES)}})


def test_same_seed_same_reads_other_seed_other_reads():
    cases = model_cases()
    a, b = simulate_reads(cases, seed=5), simulate_reads(cases, seed=5)
    pd.testing.assert_frame_equal(a, b)
    c = simulate_reads(cases, seed=6)
    assert not a["p_acute"].equals(c["p_acute"])


def test_reads_pass_the_contract_and_say_simulated():
    cases = model_cases()
    reads = simulate_reads(cases, readers_per_tier=3, seed=0)
    pd.testing.assert_frame_equal(validate_reads(reads), reads)
    assert (reads["simulated"] == 1).all()
    assert reads.groupby("tier")["reader"].nunique().to_dict() == {"competent": 3, "expert": 3, "trainee": 3}
    assert set(reads["reader"]) >= {"sim-trainee-1", "sim-expert-3"}
    for _, g in reads.groupby(["reader", "session"]):
        # every case once, positions a permutation, one seed per reader and session
        assert sorted(g["roi_id"]) == sorted(cases["roi_id"])
        assert sorted(g["position"]) == list(range(1, len(cases) + 1))
        assert g["seed"].nunique() == 1
        assert (g["seconds"] >= 3).all()
    orders = reads.groupby(["reader", "session"])["seed"].first()
    assert orders.nunique() == len(orders)           # each reader x session has its own order
    # whole-number confidences summing to exactly 100; answer = a largest confidence
    conf = reads[[f"p_{c}" for c in CLASSES]].to_numpy()
    assert (conf == np.round(conf)).all() and (conf.sum(axis=1) == 100).all()


def test_aided_reads_move_toward_the_model_and_improve_in_expectation():
    cases = model_cases()
    truth = cases["label"].map(CLASSES.index).to_numpy()
    model = cases[[f"p_{c}" for c in CLASSES]].to_numpy() * 100
    gains = {t.tier: [] for t in DEFAULT_TIERS}
    unaided_auc = {t.tier: [] for t in DEFAULT_TIERS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # nothing undefined here
        for seed in range(4):
            reads = simulate_reads(cases, readers_per_tier=2, seed=seed)
            for (_, tier), g in reads.groupby(["reader", "tier"]):
                per = {s: g[g["session"] == s].set_index("roi_id").loc[cases["roi_id"]] for s in ("unaided", "aided")}
                conf = {s: per[s][[f"p_{c}" for c in CLASSES]].to_numpy() for s in per}
                # closer to the model's probabilities after seeing them
                assert np.abs(conf["aided"] - model).mean() < np.abs(conf["unaided"] - model).mean()
                auc = {s: np.mean([roc_auc((truth == k).astype(int), conf[s][:, k]) for k in range(3)]) for s in conf}
                gains[tier].append(auc["aided"] - auc["unaided"])
                unaided_auc[tier].append(auc["unaided"])
    for tier in gains:
        assert np.mean(gains[tier]) > 0, (tier, gains[tier])
    # skill orders the tiers, and the trainees gain most
    means = {t: np.mean(v) for t, v in unaided_auc.items()}
    assert means["trainee"] < means["competent"] < means["expert"]
    assert np.mean(gains["trainee"]) > np.mean(gains["expert"])


def test_bad_cases_are_refused_by_name():
    cases = model_cases((2, 2, 2))
    with pytest.raises(InputError, match="missing column.*p_chronic"):
        simulate_reads(cases.drop(columns="p_chronic"))
    with pytest.raises(InputError, match="row 2, field 'label'.*'fresh'"):
        simulate_reads(cases.assign(label=["acute", "fresh", "chronic", "chronic", "acute", "acute"]))
    with pytest.raises(InputError, match="no cases"):
        simulate_reads(cases.iloc[:0])
    with pytest.raises(InputError, match="readers per tier"):
        simulate_reads(cases, readers_per_tier=0)
