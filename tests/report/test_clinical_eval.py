"""The image-only vs image+clinical comparison is paired on the same vertebrae; referral numbers by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vcfnet.labels import CLASSES
from vcfnet.report.clinical import comparison, headline, selective, sensitivity_at_specificity
from vcfnet.stats import delong_test, mcnemar_test


def _two_models(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    image = rng.dirichlet([1, 1, 1], size=n)
    image[np.arange(n), y] += 0.4
    image /= image.sum(1, keepdims=True)
    clinical = image.copy()
    clinical[y == 2, 2] += 0.3                 # the clinical model helps the pathological class
    clinical /= clinical.sum(1, keepdims=True)
    return y, image, clinical


def test_per_class_auc_test_is_the_paired_delong_on_the_same_rows():
    y, image, clinical = _two_models()
    comp = comparison(y, clinical, image)
    for k, cls in enumerate(CLASSES):
        expected = delong_test((y == k).astype(int), clinical[:, k], image[:, k]).to_dict()
        assert comp["auc"][cls] == expected
    # pairing matters: the same scores with the image model's rows shuffled give another test
    perm = np.random.default_rng(1).permutation(len(y))
    unpaired = comparison(y, clinical, image[perm])
    assert unpaired["auc"]["pathological"]["se"] != comp["auc"]["pathological"]["se"]
    assert comp["accuracy"]["mcnemar"] == mcnemar_test(clinical.argmax(1) == y, image.argmax(1) == y).to_dict()


def test_pathological_sensitivity_at_the_image_models_specificity_by_hand():
    y = np.array([2, 2, 2, 0, 0, 0, 1, 1])
    image = np.array([[.2, .2, .6], [.5, .2, .3], [.6, .1, .3],      # image argmax: 2, 0, 0 (sens 1/3)
                      [.7, .2, .1], [.3, .3, .4], [.8, .1, .1],      # negatives: one called 2 -> spec 4/5
                      [.2, .7, .1], [.1, .8, .1]])
    clinical = image.copy()
    clinical[:, 2] = [.9, .8, .2, .1, .3, .1, .1, .1]               # p_path: positives .9 .8 .2
    clinical[:, :2] = (1 - clinical[:, 2:]) / 2
    s = sensitivity_at_specificity(y, clinical, image)
    assert s["image_specificity"] == pytest.approx(0.8) and s["n_pos"] == 3
    # clinical p_path: positives .9 .8 .2, negatives .1 .3 .1 .1 .1; thresholds from the top: .8 (spec 1,
    # sens 2/3), .3 (spec .8, sens 2/3), .2 (spec .8, sens 1), .1 (spec 0: below the image's .8, stop)
    assert s["clinical"]["threshold"] == pytest.approx(0.2) and s["clinical"]["sensitivity"]["estimate"] == 1.0
    # image: p_path positives .6 .3 .3, negatives .1 .4 .1 .1 .1 -> at .3 flags .4 only (spec .8): sens 1.0
    assert s["image"]["sensitivity"]["estimate"] == 1.0 and s["image_argmax_sensitivity"] == pytest.approx(1 / 3)


def test_selective_reads_the_refer_column_and_both_models():
    y, image, clinical = _two_models(30)
    refer = (clinical.max(1) < np.quantile(clinical.max(1), 0.2)).astype(int)
    table = pd.DataFrame({"patient_id": [f"p{i // 2}" for i in range(30)], "refer": refer, "model": "image+clinical",
                          "image_refer": 0, **{f"image_p_{c}": image[:, k] for k, c in enumerate(CLASSES)}})
    sel = selective(table, y, clinical)
    assert set(sel["models"]) == {"image+clinical", "image"}
    ref = sel["models"]["image+clinical"]["referral"]
    assert ref["n_referred"] == int(refer.sum()) and ref["n"] == 30
    answered = refer == 0
    assert ref["answered_accuracy"]["k"] == int((clinical.argmax(1) == y)[answered].sum())
    assert sel["models"]["image"]["referral"]["n_referred"] == 0
    head = headline([{"key": "test", "n_vertebrae": 30, "selective": sel,
                      "clinical_comparison": comparison(y, clinical, image)}])["test"]
    assert head["referral"]["image+clinical"]["refer_rate"] == pytest.approx(refer.mean())
    assert head["auc"]["pathological"]["clinical"] > head["auc"]["pathological"]["image"]
