"""Simulated readers: a reads table from a generative model of radiologists of three skill levels.

Nothing here is a person or a result about people. The demo uses it so that the reader-study analysis
and the report section run end to end; every row it writes carries ``simulated = 1`` and every table,
figure and export made from it says "simulated".

The model, per reader ``r`` (skill ``s_r``, aid weight ``w_r``) and case ``i`` with true class ``y_i``:

* unaided evidence ``e_ri = s_r * onehot(y_i) + N(0, 1)`` per class (one draw per class), and the
  unaided confidences ``q_ri = softmax(e_ri)``: a skilled reader's evidence stands further above the
  noise;
* aided, the reader re-reads (``e_ri + N(0, reread_noise)``, the same reader looking again) and
  blends in the model's probabilities ``m_i``: ``a_ri = (1 - w_r) * softmax(e_ri + noise) + w_r * m_i``.
  The weight rises as skill falls (a trainee leans on the model more than an expert), so where the
  model is better than a reader the aided reads move toward it and improve;
* confidences are rounded to whole numbers summing to 100 (largest remainders); the answer is the first
  class with the largest confidence;
* each reader reads every case once per session, in a case order drawn from its own seed (stored in
  the ``seed`` column, ``position`` = place in that order); reading time is log-normal around the
  tier's median, a little faster aided and later in a session.

Defaults put the unaided readers roughly where the study found them (trainee AUCs about 0.55-0.65,
experts higher) when the model is as good as the study's (AUCs about 0.75-0.8); see
docs/READER-ANALYSIS.md.

    >>> import pandas as pd
    >>> cases = pd.DataFrame({"roi_id": ["a", "b", "c"], "label": ["acute", "chronic", "pathological"],
    ...                       "p_acute": [.7, .2, .1], "p_chronic": [.2, .7, .2], "p_pathological": [.1, .1, .7]})
    >>> reads = simulate_reads(cases, readers_per_tier=1, seed=0)
    >>> len(reads), sorted(reads["session"].unique()), int(reads["simulated"].min())
    (18, ['aided', 'unaided'], 1)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcfnet.errors import InputError
from vcfnet.labels import CLASSES
from vcfnet.readers.reads import CONFIDENCE_COLUMNS, validate_reads


@dataclass(frozen=True)
class TierModel:
    """How simulated readers of one tier read: skill (evidence per unit noise), the weight they give
    the model's probabilities when aided, and their median reading time in seconds (unaided)."""

    tier: str
    skill: float
    aid_weight: float
    median_seconds: float


#: Trainee: barely above chance alone, leans on the model; expert: good alone, leans on it least.
DEFAULT_TIERS: tuple[TierModel, ...] = (
    TierModel("trainee", skill=0.3, aid_weight=0.65, median_seconds=40.0),
    TierModel("competent", skill=0.75, aid_weight=0.5, median_seconds=28.0),
    TierModel("expert", skill=1.2, aid_weight=0.35, median_seconds=18.0),
)
SKILL_SPREAD = 0.1       # readers of one tier differ: skill * (1 + N(0, SKILL_SPREAD))
REREAD_NOISE = 0.35      # the same reader looking again at the same case
AIDED_TIME_FACTOR = 0.85
TIME_SIGMA = 0.45        # log-normal spread of reading times


def simulate_reads(cases: pd.DataFrame, *, readers_per_tier: int = 2, seed: int = 0,
                   tiers: Sequence[TierModel] = DEFAULT_TIERS) -> pd.DataFrame:
    """A validated reads table (``vcfnet.readers.reads.COLUMNS``, ``simulated = 1``) of
    ``readers_per_tier`` simulated readers per tier reading every case unaided and aided.

    ``cases`` needs ``roi_id``, ``label`` (the truth, used only to generate the evidence) and the
    model's ``p_acute, p_chronic, p_pathological`` (0-1, what an aided reader is shown), e.g. the
    collaboration-set rows of a predictions table. Reader ids are ``sim-<tier>-<k>``. The same
    arguments give the same table.
    """
    cases = _checked_cases(cases)
    if not (isinstance(readers_per_tier, int) and readers_per_tier >= 1):
        raise InputError("simulated readers", f"readers per tier must be a whole number >= 1, got {readers_per_tier!r}")
    truth = cases["label"].map(CLASSES.index).to_numpy()
    onehot = np.eye(len(CLASSES))[truth]
    model = cases[[f"p_{c}" for c in CLASSES]].to_numpy(dtype=float)
    frames = []
    for t_index, tm in enumerate(tiers):
        for k in range(readers_per_tier):
            reader_seed = np.random.SeedSequence([seed, t_index, k])
            frames.append(_one_reader(cases, onehot, model, tm, f"sim-{tm.tier}-{k + 1}", reader_seed))
    return validate_reads(pd.concat(frames, ignore_index=True), "simulated reads")


def _checked_cases(cases: pd.DataFrame) -> pd.DataFrame:
    need = ["roi_id", "label", *(f"p_{c}" for c in CLASSES)]
    missing = [c for c in need if c not in cases.columns]
    if missing:
        raise InputError("cases to simulate", f"missing column(s) {', '.join(missing)}; need {', '.join(need)}")
    if cases.empty:
        raise InputError("cases to simulate", "no cases (is the collaboration set empty?)")
    bad = ~cases["label"].isin(CLASSES)
    if bad.any():
        raise InputError("cases to simulate", f"label '{cases['label'][bad].iloc[0]}' is not one of "
                         f"{', '.join(CLASSES)}", row=int(np.flatnonzero(bad.to_numpy())[0]) + 1, field="label")
    return cases.reset_index(drop=True)


def _one_reader(cases: pd.DataFrame, onehot: np.ndarray, model: np.ndarray, tm: TierModel, reader: str,
                ss: np.random.SeedSequence) -> pd.DataFrame:
    evidence_ss, unaided_order, aided_order = ss.spawn(3)
    rng = np.random.default_rng(evidence_ss)
    n = len(cases)
    skill = tm.skill * max(0.0, 1.0 + rng.normal(0.0, SKILL_SPREAD))
    evidence = skill * onehot + rng.normal(0.0, 1.0, size=onehot.shape)
    unaided = _softmax(evidence)
    reread = _softmax(evidence + rng.normal(0.0, REREAD_NOISE, size=onehot.shape))
    aided = (1.0 - tm.aid_weight) * reread + tm.aid_weight * model
    rows = []
    for session, proba, order_ss, time_factor in (("unaided", unaided, unaided_order, 1.0),
                                                  ("aided", aided, aided_order, AIDED_TIME_FACTOR)):
        order_seed = int(order_ss.generate_state(1)[0])
        order_rng = np.random.default_rng(order_seed)
        position = np.empty(n, dtype=int)
        position[order_rng.permutation(n)] = np.arange(1, n + 1)
        conf = _percentages(proba)
        # a little faster later in the session (familiarity), never below 3 s
        seconds = tm.median_seconds * time_factor * (1.0 - 0.2 * (position - 1) / max(n - 1, 1))
        seconds = np.maximum(3.0, seconds * np.exp(order_rng.normal(0.0, TIME_SIGMA, size=n)))
        frame = pd.DataFrame({
            "reader": reader, "tier": tm.tier, "session": session, "roi_id": cases["roi_id"].to_numpy(),
            "answer": np.asarray(CLASSES)[conf.argmax(axis=1)],
            **{col: conf[:, j] for j, col in enumerate(CONFIDENCE_COLUMNS)},
            "position": position, "seconds": np.round(seconds, 1), "seed": order_seed,
            "submitted_at": "", "simulated": 1})
        rows.append(frame.sort_values("position", kind="mergesort"))
    return pd.concat(rows, ignore_index=True)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _percentages(proba: np.ndarray) -> np.ndarray:
    """Whole-number percentages summing to exactly 100 per row (largest remainder method)."""
    raw = proba / proba.sum(axis=1, keepdims=True) * 100.0
    floor = np.floor(raw)
    short = (100 - floor.sum(axis=1)).astype(int)
    order = np.argsort(-(raw - floor), axis=1, kind="mergesort")
    for i, k in enumerate(short):
        floor[i, order[i, :k]] += 1
    return floor
