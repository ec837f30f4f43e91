"""Evaluation of predictions tables with exactly known answers."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from vcfnet.errors import InputError, VcfnetError
from vcfnet.labels import CLASSES
from vcfnet.report.cohorts import select_cohorts, validate_predictions
from vcfnet.report.compare import newcombe_difference
from vcfnet.report.evaluate import evaluate_predictions


def table(labels, proba, *, split="test", site="site1", patients=None, collaboration=0):
    """A predictions table from class indices and (N, 3) probabilities."""
    proba = np.asarray(proba, dtype=float)
    n = len(labels)
    return pd.DataFrame({
        "roi_id": [f"{split}-{site}-{i}" for i in range(n)], "cohort": "development", "site": site,
        "patient_id": patients if patients is not None else [f"{site}-p{i}" for i in range(n)],
        "label": [CLASSES[k] for k in labels],
        **{f"p_{c}": proba[:, k] for k, c in enumerate(CLASSES)},
        "predicted": [CLASSES[k] for k in proba.argmax(axis=1)], "split": split, "collaboration": collaboration})


def one_hot_proba(pred, confidence=0.8):
    p = np.full((len(pred), 3), (1 - confidence) / 2)
    p[np.arange(len(pred)), pred] = confidence
    return p


def brute_auc(pos, neg):
    """Share of (positive, negative) pairs ranked correctly, ties 1/2."""
    return np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])


def wilson(k, n, z=1.959963984540054):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_perfect_predictions_give_accuracy_and_auc_one():
    y = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    res = evaluate_predictions(table(y, one_hot_proba(y)))
    (c,) = res.cohorts
    assert c["accuracy"]["estimate"] == 1.0 and c["accuracy"]["k"] == 9
    for cls in CLASSES:
        assert c["classes"][cls]["auc"]["auc"] == 1.0
        assert c["classes"][cls]["sensitivity"]["estimate"] == 1.0
    assert c["confusion"]["counts"] == [[3, 0, 0], [0, 3, 0], [0, 0, 3]]
    assert c["macro_auc"]["auc"] == 1.0


def test_hand_made_three_class_case():
    # truth:     acute x4, chronic x3, pathological x3
    # predicted: acute -> [a, a, a, c], chronic -> [c, c, p], pathological -> [a, p, p]
    y = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    pred = [0, 0, 0, 1, 1, 1, 2, 0, 2, 2]
    conf = [0.9, 0.8, 0.7, 0.6, 0.9, 0.7, 0.5, 0.6, 0.8, 0.9]
    proba = np.array([one_hot_proba([p], c)[0] for p, c in zip(pred, conf)])
    c = evaluate_predictions(table(y, proba)).cohorts[0]
    assert c["confusion"]["counts"] == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    assert c["confusion"]["normalized"][0] == pytest.approx([0.75, 0.25, 0.0])
    acc = c["accuracy"]
    assert (acc["k"], acc["n"], acc["estimate"]) == (7, 10, 0.7)
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx(wilson(7, 10), abs=1e-9)
    acute = c["classes"]["acute"]
    assert acute["sensitivity"]["estimate"] == pytest.approx(3 / 4)
    assert acute["specificity"]["estimate"] == pytest.approx(5 / 6)
    assert (acute["specificity"]["ci_low"], acute["specificity"]["ci_high"]) == pytest.approx(wilson(5, 6))
    y, p = np.array(y), proba[:, 0]
    assert acute["auc"]["auc"] == pytest.approx(brute_auc(p[y == 0], p[y != 0]))
    assert c["n_patients"] == 10 and c["class_counts"] == {"acute": 4, "chronic": 3, "pathological": 3}


def mixed_table(seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for split, site, collab in [("train", "site1", 0), ("val", "site1", 0), ("test", "site1", 0),
                                ("external", "site2", 0), ("external", "site3", 1), ("prospective", "site1", 0)]:
        y = np.tile([0, 1, 2], 4)
        logits = rng.normal(size=(12, 3))
        logits[np.arange(12), y] += 2
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        patients = [f"{split}-{site}-p{i // 2}" for i in range(12)]  # 2 vertebrae per patient
        parts.append(table(y, proba, split=split, site=site, patients=patients, collaboration=collab))
    return pd.concat(parts, ignore_index=True)


def test_cohorts_selected_per_site_pooled_prospective_collaboration():
    cohorts = select_cohorts(validate_predictions(mixed_table()))
    assert [c.key for c in cohorts] == ["test", "external-site2", "external-site3", "external",
                                        "prospective", "collaboration"]
    by_key = {c.key: c for c in cohorts}
    assert by_key["external"].n_vertebrae == 24 and by_key["external"].n_patients == 12
    assert set(by_key["collaboration"].table["site"]) == {"site3"}
    assert all(not c.table["split"].isin(["train", "val"]).any() for c in cohorts)


def test_comparison_is_unpaired_and_newcombe_matches_published_example():
    from vcfnet.stats import proportion_ci

    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 - 48/80, method 10 -> 0.0524 to 0.3339
    a, b = proportion_ci(56, 70).to_dict(), proportion_ci(48, 80).to_dict()
    d = newcombe_difference(a, b)
    assert d["diff"] == pytest.approx(0.2)
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    res = evaluate_predictions(mixed_table())
    comp = {c["cohort"]: c for c in res.comparisons}
    assert set(comp) == {"external-site2", "external-site3", "external", "prospective", "collaboration"}
    ext, test = res.cohort("external"), res.cohort("test")
    auc = comp["external"]["auc"]["acute"]
    se = math.hypot(ext["classes"]["acute"]["auc"]["se"], test["classes"]["acute"]["auc"]["se"])
    assert auc["diff"] == pytest.approx(ext["classes"]["acute"]["auc"]["auc"] - test["classes"]["acute"]["auc"]["auc"])
    assert auc["ci_high"] - auc["ci_low"] == pytest.approx(2 * 1.959963984540054 * se)
    assert comp["external"]["paired"] is False


def test_degenerate_cohort_gives_nan_and_warning_not_a_crash():
    y = [0, 0, 0, 0]
    df = pd.concat([table([0, 1, 2, 0, 1, 2], one_hot_proba([0, 1, 2, 0, 1, 1])),
                    table(y, one_hot_proba([0, 0, 1, 0]), split="prospective")], ignore_index=True)
    with pytest.warns(UserWarning, match="only acute"):
        res = evaluate_predictions(df)
    pro = res.cohort("prospective")
    # cohort dicts are JSON-ready: an undefined number is None (null in metrics.json), never a guess
    assert all(pro["classes"][c]["auc"]["auc"] is None for c in CLASSES)
    assert pro["classes"]["acute"]["sensitivity"]["estimate"] == 0.75
    assert pro["classes"]["acute"]["specificity"]["estimate"] is None
    assert pro["macro_auc"]["auc"] is None and pro["accuracy"]["estimate"] == 0.75
    assert math.isnan(res.table2().set_index("cohort").loc["prospective", "auc_acute"])
    assert pro["roc"]["acute"] == {"fpr": [], "tpr": []}
    comp = res.comparisons[0]
    assert math.isnan(comp["macro_auc"]["diff"]) and not math.isnan(comp["accuracy"]["diff"])
    assert res.to_dict()["cohorts"][1]["classes"]["acute"]["auc"]["auc"] is None


def test_patient_bootstrap_is_used_when_asked():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a healthy table warns about nothing
        res = evaluate_predictions(mixed_table(), cluster_bootstrap=True, n_boot=200)
    auc = res.cohort("test")["classes"]["acute"]["auc"]
    assert auc["method"] == "bootstrap" and auc["n_groups"] == 6
    assert res.settings["auc_method"] == "bootstrap"


@pytest.mark.parametrize("mutate, field, row", [
    (lambda d: d.drop(columns="p_chronic"), None, None),
    (lambda d: d.assign(label=d["label"].where(d.index != 2, "fresh")), "label", 3),
    (lambda d: d.assign(p_acute=d["p_acute"].where(d.index != 4, 0.99)), "p_acute,p_chronic,p_pathological", 5),
    (lambda d: d.assign(split=d["split"].where(d.index != 1, "holdout")), "split", 2),
    (lambda d: pd.concat([d, d.iloc[[0]]], ignore_index=True), "roi_id", 7),
])
def test_bad_tables_name_row_and_field(mutate, field, row):
    y = [0, 1, 2, 0, 1, 2]
    with pytest.raises(InputError) as err:
        validate_predictions(mutate(table(y, one_hot_proba(y))), "preds.csv")
    assert err.value.source == "preds.csv"
    assert (err.value.field, err.value.row) == (field, row)


def test_only_training_rows_is_a_clear_error():
    y = [0, 1, 2]
    with pytest.raises(VcfnetError, match="no test, external"):
        evaluate_predictions(table(y, one_hot_proba(y), split="train"))


def test_split_joined_from_study_table_and_labels_checked():
    y = [0, 1, 2]
    preds = table(y, one_hot_proba(y)).drop(columns=["split", "collaboration"])
    study = pd.DataFrame({"roi_id": preds["roi_id"], "label": preds["label"], "split": "external",
                          "collaboration": [1, 0, 0]})
    out = validate_predictions(preds, study_table=study)
    assert out["split"].tolist() == ["external"] * 3 and out["collaboration"].tolist() == [1, 0, 0]
    study.loc[1, "label"] = "acute"
    with pytest.raises(InputError, match="differs from the label"):
        validate_predictions(preds, study_table=study)


def test_undefined_numbers_are_said_once_naming_the_cohort():
    """A cohort without some class gets its note; the statistics' own warnings name the cohort and do not
    repeat what the note says (the demo used to print a bare 'proportion of 0 cases is undefined')."""
    df = pd.concat([table([0, 1, 2, 0, 1, 2], one_hot_proba([0, 1, 2, 0, 1, 1])),
                    table([0, 1, 0, 1], one_hot_proba([0, 1, 1, 1]), split="prospective")], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_predictions(df)
    texts = [str(w.message) for w in caught]
    assert "Prospective: no pathological vertebrae, so the pathological AUC and sensitivity are not estimable" in texts
    assert all(t.split(":", 1)[0] in ("Internal test", "Prospective") for t in texts), texts
    assert not any("'pathological'" in t for t in texts if t.startswith("Prospective: ") and "not estimable" not in t)
    assert len(texts) == len(set(texts))
