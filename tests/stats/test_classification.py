"""One-vs-rest report: hand-counted toy case, scikit-learn as oracle on random data, degenerate cohorts."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from vcfnet.labels import CLASSES
from vcfnet.stats import (
    UndefinedMetricWarning,
    classification_metrics,
    confusion_matrix,
    proportion_ci,
    roc_auc,
    roc_auc_ci,
)

Y = [0, 0, 0, 1, 1, 2, 2, 2]
P = [[.7, .2, .1], [.4, .5, .1], [.6, .1, .3], [.3, .6, .1], [.2, .7, .1], [.1, .2, .7], [.5, .1, .4],
     [.2, .2, .6]]


def toy_report():
    with pytest.warns(UndefinedMetricWarning, match="zero width"):  # pathological is separated perfectly
        return classification_metrics(Y, P)


def test_hand_counted_toy_case():
    r = toy_report()  # predictions: 0 1 0 1 1 2 0 2
    assert r.classes == CLASSES and r.n == 8
    assert r.confusion.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert (r.accuracy.k, r.accuracy.n) == (6, 8) and r.accuracy == proportion_ci(6, 8)
    acute = r.per_class["acute"]  # TP 2, FN 1, FP 1, TN 4
    assert (acute.sensitivity.k, acute.sensitivity.n) == (2, 3)
    assert (acute.specificity.k, acute.specificity.n) == (4, 5)
    assert (acute.ppv.k, acute.ppv.n, acute.npv.k, acute.npv.n) == (2, 3, 4, 5)
    assert acute.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 1)) and acute.support == 3
    chronic = r.per_class["chronic"]  # TP 2, FN 0, FP 1, TN 5
    assert (chronic.sensitivity.estimate, chronic.ppv.estimate, chronic.specificity.k) == (1.0, 2 / 3, 5)
    assert r.macro.sensitivity == pytest.approx(np.mean([2 / 3, 1.0, 2 / 3]))
    np.testing.assert_allclose(r.confusion_normalised.sum(axis=1), 1.0)
    np.testing.assert_allclose(r.confusion_normalised[0], [2 / 3, 1 / 3, 0])


def test_against_sklearn_on_random_data():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    logits = 1.5 * np.eye(3)[y] + rng.normal(size=(500, 3))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    r = classification_metrics(y, p)
    pred = p.argmax(axis=1)
    np.testing.assert_array_equal(r.confusion, skm.confusion_matrix(y, pred, labels=[0, 1, 2]))
    np.testing.assert_allclose(r.confusion_normalised, skm.confusion_matrix(y, pred, normalize="true"))
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=np.nan)
    for c, name in enumerate(CLASSES):
        m = r.per_class[name]
        assert m.ppv.estimate == pytest.approx(prec[c]) and m.sensitivity.estimate == pytest.approx(rec[c])
        assert m.f1 == pytest.approx(f1[c]) and m.support == sup[c]
        assert m.specificity.estimate == pytest.approx(np.mean(pred[y != c] != c))
        assert m.npv.estimate == pytest.approx(np.mean(y[pred != c] != c))
        assert m.auc.auc == pytest.approx(skm.roc_auc_score(y == c, p[:, c]))
        assert m.auc == roc_auc_ci((y == c).astype(int), p[:, c])
    assert r.accuracy.estimate == pytest.approx(skm.accuracy_score(y, pred))
    assert r.macro.auc == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert r.macro.f1 == pytest.approx(skm.f1_score(y, pred, average="macro"))


def test_cohort_without_a_class_gives_nan_not_a_smaller_average():
    y = [0, 0, 1, 1, 0, 1]
    p = [[.6, .3, .1], [.5, .4, .1], [.2, .7, .1], [.1, .8, .1], [.3, .6, .1], [.4, .5, .1]]
    with pytest.warns(UndefinedMetricWarning):
        r = classification_metrics(y, p)
    path = r.per_class["pathological"]
    assert path.support == 0 and math.isnan(path.auc.auc) and math.isnan(path.sensitivity.estimate)
    assert path.specificity.estimate == 1.0  # never predicted: specificity is defined and perfect
    assert math.isnan(r.macro.auc) and math.isnan(r.macro.sensitivity)
    assert np.all(np.isnan(r.confusion_normalised[2])) and r.confusion[2].sum() == 0
    text = json.dumps(r.to_dict(), allow_nan=False)  # NaN -> null, so strict JSON works
    assert '"sensitivity": {"estimate": null' in text


def test_empty_cohort_warns_and_returns_nan_report():
    with pytest.warns(UndefinedMetricWarning):
        r = classification_metrics(np.zeros(0, int), np.zeros((0, 3)))
    assert r.n == 0 and math.isnan(r.accuracy.estimate) and r.confusion.sum() == 0


def test_rows_and_frame_for_csv():
    r = toy_report()
    rows = r.to_rows()
    assert rows[0] == {"scope": "overall", "metric": "accuracy", "estimate": 0.75, "ci_low": r.accuracy.ci_low,
                       "ci_high": r.accuracy.ci_high, "k": 6, "n": 8}
    assert {(x["scope"], x["metric"]) for x in rows} >= {("acute", "auc"), ("pathological", "npv"), ("macro", "f1")}
    assert len(rows) == 1 + 3 * 7 + 4
    frame = r.to_frame()
    assert list(frame.columns) == ["scope", "metric", "estimate", "ci_low", "ci_high", "k", "n"]
    assert len(frame) == len(rows)
    json.dumps(rows, allow_nan=False)


def test_patient_bootstrap_for_auc_intervals():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 90)
    p = rng.dirichlet([1, 1, 1], 90)
    r = classification_metrics(y, p, groups=np.arange(90) // 3, auc_method="bootstrap", n_boot=200)
    assert all(m.auc.n_groups == 30 and m.auc.method == "bootstrap" for m in r.per_class.values())
    with pytest.raises(ValueError, match="need method='bootstrap'"):
        classification_metrics(y, p, groups=np.arange(90) // 3)


def test_custom_class_names_and_two_classes():
    with pytest.warns(UndefinedMetricWarning, match="at least 2 positives and 2 negatives"):
        r = classification_metrics([0, 1, 1], [[.9, .1], [.2, .8], [.6, .4]], classes=("benign", "malignant"))
    assert set(r.per_class) == {"benign", "malignant"} and r.confusion.tolist() == [[1, 0], [1, 1]]
    assert r.per_class["malignant"].auc.auc == roc_auc([0, 1, 1], [.1, .8, .4])


@pytest.mark.parametrize("y,p,match", [
    ([0, 1], [[.5, .5, 0]], "1 rows but y_true has 2"),
    ([0, 1], [[.5, .5], [.5, .5]], "2 columns; expected 3"),
    ([0, 3], [[1, 0, 0], [1, 0, 0]], "class index 3"),
    ([0, 1], [[.5, .4, 0], [1, 0, 0]], "row 0 sums to 0.9"),
    ([0, 1], [[1.5, -.5, 0], [1, 0, 0]], r"lie in \[0, 1\]"),
    ([0, 1], [[np.nan, .5, .5], [1, 0, 0]], "NaN"),
    ([0.5, 1], [[1, 0, 0], [1, 0, 0]], "integer class indices"),
])
def test_bad_input_raises(y, p, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(y, p)


def test_confusion_matrix_function():
    assert confusion_matrix([2, 2, 0], [2, 0, 0], 3).tolist() == [[1, 0, 0], [0, 0, 0], [1, 0, 1]]
    with pytest.warns(UndefinedMetricWarning, match=r"classes \[1\]"):
        norm = confusion_matrix([2, 2, 0], [2, 0, 0], 3, normalise=True)
    assert norm[2].tolist() == [0.5, 0.0, 0.5] and np.all(np.isnan(norm[1]))
    with pytest.raises(ValueError, match="must match"):
        confusion_matrix([0, 1], [0], 3)
    with pytest.raises(ValueError, match="n_classes"):
        confusion_matrix([0, 1], [0, 1], 1)
