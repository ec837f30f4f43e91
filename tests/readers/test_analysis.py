"""The reader-study analysis on a hand-made reads table whose numbers can be worked out by hand, the
wiring of McNemar / paired DeLong / MRMC (compared with direct calls), and the input checks."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from vcfnet.errors import InputError
from vcfnet.labels import CLASSES
from vcfnet.readers.analysis import analyze_reads, long_ratings, reader_cases
from vcfnet.readers.reads import validate_reads
from vcfnet.stats import delong_test, mcnemar_test, proportion_ci, roc_auc_ci

ROIS = ["v1", "v2", "v3", "v4", "v5", "v6"]
LABELS = ["acute", "acute", "chronic", "chronic", "pathological", "pathological"]
PATIENTS = ["p1", "p2", "p1", "p3", "p2", "p4"]
#: (acute, chronic, pathological) confidences per case, in ROIS order; answer = the named class
READS = {
    ("r1", "trainee", "unaided"): ([(60, 30, 10), (30, 50, 20), (40, 40, 20), (20, 70, 10), (50, 20, 30), (10, 20, 70)],
                                   ["acute", "chronic", "chronic", "chronic", "acute", "pathological"]),
    ("r1", "trainee", "aided"): ([(80, 10, 10), (60, 30, 10), (20, 70, 10), (10, 80, 10), (30, 20, 50), (10, 10, 80)],
                                 ["acute", "acute", "chronic", "chronic", "pathological", "pathological"]),
    ("r2", "expert", "unaided"): ([(70, 20, 10), (40, 35, 25), (30, 60, 10), (45, 50, 5), (20, 30, 50), (34, 33, 33)],
                                  ["acute", "acute", "chronic", "chronic", "pathological", "acute"]),
    ("r2", "expert", "aided"): ([(75, 15, 10), (55, 35, 10), (20, 70, 10), (30, 60, 10), (15, 25, 60), (20, 20, 60)],
                                ["acute", "acute", "chronic", "chronic", "pathological", "pathological"]),
}
MODEL = [(0.7, 0.2, 0.1), (0.5, 0.4, 0.1), (0.2, 0.7, 0.1), (0.3, 0.6, 0.1), (0.2, 0.2, 0.6), (0.4, 0.2, 0.4)]


def hand_reads(simulated: int = 0) -> pd.DataFrame:
    rows = []
    for (reader, tier, session), (conf, answers) in READS.items():
        for i, (roi, c, a) in enumerate(zip(ROIS, conf, answers)):
            rows.append({"reader": reader, "tier": tier, "session": session, "roi_id": roi, "answer": a,
                         "p_acute": c[0], "p_chronic": c[1], "p_pathological": c[2], "position": i + 1,
                         "seconds": 10 + i, "simulated": simulated})
    return validate_reads(pd.DataFrame(rows))


def hand_study() -> pd.DataFrame:
    return pd.DataFrame({"roi_id": ROIS, "patient_id": PATIENTS, "label": LABELS})


def hand_predictions() -> pd.DataFrame:
    p = np.array(MODEL)
    return pd.DataFrame({"roi_id": ROIS, **{f"p_{c}": p[:, k] for k, c in enumerate(CLASSES)}})


def brute_auc(pos, neg) -> float:
    return float(np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg]))


@pytest.fixture(scope="module")
def result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # 6 cases: some MRMC variance terms are degenerate
        return analyze_reads(hand_reads(), hand_study(), hand_predictions())


def test_per_reader_numbers_worked_out_by_hand(result):
    r1, r2 = result["readers"]
    assert (r1["reader"], r1["tier"], r2["reader"], r2["tier"]) == ("r1", "trainee", "r2", "expert")
    u = r1["sessions"]["unaided"]
    # acute: positives v1 (60), v2 (30); negatives 40, 20, 50, 10 -> 4 + 2 of 8 pairs
    assert u["classes"]["acute"]["auc"]["auc"] == pytest.approx(6 / 8)
    assert u["accuracy"]["estimate"] == pytest.approx(4 / 6)             # v2 and v5 wrong
    assert u["accuracy"]["ci_low"] == pytest.approx(proportion_ci(4, 6).ci_low)
    acute = u["classes"]["acute"]
    assert acute["sensitivity"]["k"] == 1 and acute["sensitivity"]["n"] == 2       # v1 yes, v2 no
    assert acute["specificity"]["k"] == 3 and acute["specificity"]["n"] == 4       # v5 called acute
    assert acute["operating_point"] == {"fpr": pytest.approx(0.25), "tpr": pytest.approx(0.5)}
    # the tie at v3 (40/40) is answered chronic: the answer column is used, not the first largest
    assert u["classes"]["chronic"]["sensitivity"]["k"] == 2
    assert r1["sessions"]["aided"]["accuracy"]["estimate"] == 1.0
    assert r2["sessions"]["unaided"]["accuracy"]["estimate"] == pytest.approx(5 / 6)
    assert u["median_seconds"] == pytest.approx(12.5)
    for reader in (r1, r2):                                                 # every AUC against the oracle
        for s in ("unaided", "aided"):
            conf, _ = READS[(reader["reader"], reader["tier"], s)]
            for k, c in enumerate(CLASSES):
                pos = [x[k] for x, lab in zip(conf, LABELS) if lab == c]
                neg = [x[k] for x, lab in zip(conf, LABELS) if lab != c]
                assert reader["sessions"][s]["classes"][c]["auc"]["auc"] == pytest.approx(brute_auc(pos, neg))


@pytest.mark.filterwarnings("ignore::vcfnet.stats.UndefinedMetricWarning")
def test_tiers_model_and_counts(result):
    assert result["n_cases"] == 6 and result["n_patients"] == 4 and result["n_readers"] == 2
    assert result["class_counts"] == {"acute": 2, "chronic": 2, "pathological": 2}
    tiers = {t["tier"]: t for t in result["tiers"]}
    assert set(tiers) == {"trainee", "expert", "all"}
    assert tiers["trainee"]["sessions"]["unaided"]["accuracy"] == pytest.approx(4 / 6)
    assert tiers["all"]["sessions"]["unaided"]["accuracy"] == pytest.approx((4 / 6 + 5 / 6) / 2)
    assert tiers["all"]["sessions"]["aided"]["auc"]["acute"] == pytest.approx(
        np.mean([r["sessions"]["aided"]["classes"]["acute"]["auc"]["auc"] for r in result["readers"]]))
    model = result["model"]
    assert model["accuracy"]["estimate"] == pytest.approx(5 / 6)            # v6: 0.4 / 0.4 -> acute (first)
    truth = np.array([CLASSES.index(x) for x in LABELS])
    p = np.array(MODEL)
    for k, c in enumerate(CLASSES):
        direct = roc_auc_ci((truth == k).astype(int), p[:, k]).to_dict()
        assert model["classes"][c]["auc"] == pytest.approx(direct, nan_ok=True)
    assert result["model_roc"]["acute"]["fpr"][0] == 0.0 and result["model_roc"]["acute"]["tpr"][-1] == 1.0
    assert result["simulated"] is False


@pytest.mark.filterwarnings("ignore::vcfnet.stats.UndefinedMetricWarning")
def test_mcnemar_and_paired_delong_are_the_direct_calls(result):
    truth = np.array([CLASSES.index(x) for x in LABELS])
    for r in result["readers"]:
        (cu, au), (ca, aa) = (READS[(r["reader"], r["tier"], s)] for s in ("unaided", "aided"))
        right_u = np.array([CLASSES.index(a) for a in au]) == truth
        right_a = np.array([CLASSES.index(a) for a in aa]) == truth
        direct = mcnemar_test(right_a, right_u).to_dict()
        got = dict(r["change"]["accuracy"])
        assert got.pop("diff") == pytest.approx(right_a.mean() - right_u.mean())
        assert got == direct
        for k, c in enumerate(CLASSES):
            d = delong_test((truth == k).astype(int), np.array(ca)[:, k] / 100, np.array(cu)[:, k] / 100).to_dict()
            assert r["change"]["auc"][c] == pytest.approx(d, nan_ok=True)
    r1 = result["readers"][0]["change"]["accuracy"]
    assert (r1["b"], r1["c"], r1["exact"]) == (2, 0, True) and r1["p_value"] == pytest.approx(0.5)


def test_mrmc_is_the_direct_call_with_patients_as_the_unit(result):
    from vcfnet.stats.mrmc import mrmc_or

    cases = reader_cases(hand_reads(), hand_study(), hand_predictions())
    long = long_ratings(hand_reads(), cases)
    assert len(long) == 2 * 2 * 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = mrmc_or(long, truth="truth_acute", score="score_acute", cluster="patient",
                         modalities=["unaided", "aided"]).to_dict()
        acc = mrmc_or(long, score="correct", fom="accuracy", cluster="patient",
                      modalities=["unaided", "aided"]).to_dict()
    got = result["mrmc"]["or"]["acute"]
    assert got == direct
    assert got["n_clusters"] == 4 and got["cluster"] == "patient"
    assert got["auc"]["aided"] - got["auc"]["unaided"] == pytest.approx(got["diff"])     # aided minus unaided
    assert result["mrmc"]["or"]["accuracy"] == acc
    assert acc["auc"] == {"unaided": pytest.approx(9 / 12), "aided": 1.0}
    assert result["mrmc"]["unit"] == "patient"


def test_dbm_and_the_model_as_a_fixed_reader_are_the_direct_calls(result):
    from vcfnet.stats import model_vs_readers, mrmc_dbm

    cases = reader_cases(hand_reads(), hand_study(), hand_predictions())
    long = long_ratings(hand_reads(), cases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dbm = mrmc_dbm(long, truth="truth_chronic", score="score_chronic", cluster="patient",
                       modalities=["unaided", "aided"]).to_dict()
        model = model_vs_readers(long, dict(zip(ROIS, np.array(MODEL)[:, 1])), truth="truth_chronic",
                                 score="score_chronic", in_modality="unaided", cluster="patient").to_dict()
    assert result["mrmc"]["dbm"]["chronic"] == dbm
    assert result["mrmc"]["model_vs_readers"]["chronic"] == model
    acc = result["mrmc"]["model_vs_readers"]["accuracy"]
    assert acc["model_fom"] == pytest.approx(5 / 6) and acc["mean_reader_fom"] == pytest.approx(9 / 12)


def test_a_read_of_a_vertebra_outside_the_study_is_refused_by_row():
    reads = hand_reads()
    reads.loc[7, "roi_id"] = "zz9"
    with pytest.raises(InputError, match=r"reads\.csv, row 8, field 'roi_id': roi_id 'zz9' is not in the study"):
        analyze_reads(reads, hand_study(), hand_predictions(), reads_source="reads.csv")


def test_a_case_without_a_prediction_is_refused():
    with pytest.raises(InputError, match=r"row 3, field 'roi_id': roi_id 'v3' has no row in preds\.csv"):
        analyze_reads(hand_reads(), hand_study(), hand_predictions().drop(index=2),
                      predictions_source="preds.csv")


def test_a_design_that_is_not_fully_crossed_is_refused():
    reads = hand_reads()
    gap = reads[~((reads["reader"] == "r2") & (reads["session"] == "aided") & (reads["roi_id"] == "v4"))]
    with pytest.raises(InputError, match="reader 'r2' did not read 1 of the 6 cases aided.*'v4'"):
        analyze_reads(gap, hand_study(), hand_predictions())
    only_unaided = reads[reads["session"] == "unaided"]
    with pytest.raises(InputError, match="reader 'r1' has no aided reads"):
        analyze_reads(only_unaided, hand_study(), hand_predictions())
