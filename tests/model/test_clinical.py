"""Clinical encoding with missing values, the logistic stacker, and its fit on the validation split only."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vcfnet.errors import VcfnetError
from vcfnet.model.clinical import encode, fit_encoding, parse_columns
from vcfnet.model.stacker import fit_stacker, group_folds, select_and_fit, stacker_proba


def _encoding():
    return fit_encoding(pd.DataFrame({"age": [50.0, 70.0, 90.0, np.nan], "sex": ["F", "M", "F", ""]}),
                        ["age", "sex"])


def test_encoding_records_ranges_levels_and_missing_counts():
    enc = _encoding()
    age, sex = enc.columns
    assert (age.kind, age.low, age.high, age.mean, age.n_missing) == ("numeric", 50, 90, 70, 1)
    assert age.sd == pytest.approx(20.0)
    assert (sex.kind, sex.levels, sex.n_missing) == ("categorical", ["F", "M"], 1)
    assert enc.feature_names() == ["age", "age_missing", "sex=M", "sex_missing"]


def test_missing_and_out_of_range_values_get_the_indicator_never_a_silent_zero():
    enc = _encoding()
    x, notes = encode(enc, [{"age": 80, "sex": "M"}, {"age": None, "sex": ""}, {"age": 120, "sex": "X"},
                            {"age": "067Y", "sex": "F"}, {}])
    np.testing.assert_allclose(x, [[0.5, 0, 1, 0], [0, 1, 0, 1], [0, 1, 0, 1], [-0.15, 0, 0, 0], [0, 1, 0, 1]])
    assert notes[0] == [] and notes[3] == []
    assert notes[1] == ["age missing: treated as missing", "sex missing: treated as missing"]
    assert "age 120 is outside the training range 50-90: treated as missing" in notes[2]
    assert "sex 'X' is not one of F, M: treated as missing" in notes[2]
    # a missing age is not the mean age: the indicator tells the two apart
    mean_age, _ = encode(enc, [{"age": 70, "sex": "F"}])
    assert not np.array_equal(mean_age[0], x[1])


def test_column_names_and_bad_columns():
    assert parse_columns("age, sex,malignancy") == ["age", "sex", "malignancy"]
    assert parse_columns("") == ["age", "sex"]
    with pytest.raises(VcfnetError, match="named twice"):
        parse_columns("age,age")
    with pytest.raises(VcfnetError, match="not in the study table"):
        fit_encoding(pd.DataFrame({"age": [1.0]}), ["age", "malignancy"])
    with pytest.raises(VcfnetError, match="no row of the training data has a value"):
        fit_encoding(pd.DataFrame({"age": [np.nan, np.nan]}), ["age"])


def test_stacker_with_no_clinical_signal_stays_the_image_model_and_learns_a_real_one():
    rng = np.random.default_rng(0)
    n = 600
    sex = rng.integers(0, 2, n).astype(float)
    y = np.where(rng.random(n) < 0.5, 2 * sex.astype(int), rng.integers(0, 3, n))   # sex carries class 2 vs 0
    logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[y]
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    x = np.c_[sex, np.zeros(n)]
    params = fit_stacker(logp, x, y, l2=1.0)
    w = np.asarray(params["w"])
    assert w[2, 0] - w[0, 0] > 1.0                                     # men -> class 2, women -> class 0
    nll = lambda p: -np.mean(np.log(p[np.arange(n), y]))  # noqa: E731
    assert nll(stacker_proba(params, logp, x)) < nll(np.exp(logp)) - 0.05
    # an empty feature column (all missing indicators 0) gets no weight; strong l2 -> the image model itself
    assert np.allclose(w[:, 1], 0, atol=1e-6)
    flat = fit_stacker(logp, x, y, l2=1e6)
    np.testing.assert_allclose(stacker_proba(flat, logp, x), np.exp(logp), atol=1e-3)


def test_group_folds_keep_each_patient_in_one_fold_and_cv_is_out_of_fold():
    groups = ["p1", "p1", "p2", "p3", "p3", "p4", "p5", "p6"]
    folds = group_folds(groups, 3)
    for g in set(groups):
        assert len({f for f, h in zip(folds, groups) if h == g}) == 1
    rng = np.random.default_rng(1)
    logp = np.log(rng.dirichlet([1, 1, 1], size=8))
    params, oof, cv = select_and_fit(logp, rng.normal(size=(8, 2)), rng.integers(0, 3, 8), groups, n_classes=3)
    assert oof.shape == (8, 3) and np.allclose(oof.sum(1), 1) and set(cv) == {"nll_by_l2", "oof_nll", "image_nll"}


def test_inputs_with_nan_are_refused():
    with pytest.raises(VcfnetError, match="NaN"):
        fit_stacker(np.zeros((2, 3)), np.array([[np.nan], [0.0]]), [0, 1])


def _study(make, root, test_age: float, test_sex: str, flip_val: bool = False):
    n_train, n_val, n_test = 12, 12, 6
    n = n_train + n_val + n_test
    ages = [60.0 + (i % 7) * 4 for i in range(n)]
    sexes = ["M" if (i // 2) % 2 else "F" for i in range(n)]
    if flip_val:
        sexes[n_train:n_train + n_val] = ["F" if s == "M" else "M" for s in sexes[n_train:n_train + n_val]]
    ages[n_train + n_val:] = [test_age] * n_test
    sexes[n_train + n_val:] = [test_sex] * n_test
    return make(root, n_train=n_train, n_val=n_val, n_test=n_test, classes=(0, 1, 2),
                            ages=ages, sexes=sexes)


def test_stacker_is_fitted_on_the_validation_split_only(tmp_path, fast_config, make_tiny_study):
    """Changing every test row's age and sex leaves the fitted stacker identical; changing the val rows
    does not (so the test would fail if test rows leaked into the fit)."""
    from vcfnet.model.calibrate import calibrate_checkpoint
    from vcfnet.model.train import fit

    first = _study(make_tiny_study, tmp_path / "a", test_age=61.0, test_sex="F")
    best = fit(first, tmp_path / "run", fast_config)
    fitted = calibrate_checkpoint(best, first, clinical=["age", "sex"])["clinical"]
    card = json.loads((best / "model.json").read_text())
    assert card["clinical"]["params"] == fitted["params"] and card["clinical"]["split"] == "val"
    assert card["clinical"]["n_vertebrae"] == 12 and set(card["referral"]) == {"image", "clinical"}
    age = card["clinical"]["encoding"]["columns"][0]
    assert (age["low"], age["high"]) == (60.0, 84.0)        # the train + val rows, not the test rows' 61
    assert card["referral"]["clinical"]["confidence"].endswith("out-of-fold on the val split")

    other = _study(make_tiny_study, tmp_path / "b", test_age=83.0, test_sex="M")     # same crops, other test clinical rows
    fitted_b = calibrate_checkpoint(best, other, clinical=["age", "sex"])["clinical"]
    assert fitted_b["params"] == fitted["params"] and fitted_b["encoding"] == fitted["encoding"]

    flipped = _study(make_tiny_study, tmp_path / "c", test_age=61.0, test_sex="F", flip_val=True)
    fitted_c = calibrate_checkpoint(best, flipped, clinical=["age", "sex"])["clinical"]
    assert fitted_c["params"] != fitted["params"]


def test_late_fusion_starts_as_the_image_network_and_reads_the_missing_indicators():
    import torch

    from vcfnet.model.engine import predict_logits, train_one_epoch
    from vcfnet.model.fusion import LateFusion
    from vcfnet.model.network import build_model

    torch.manual_seed(0)
    image = build_model("resnet18", weights=None)
    image.input_size = 32
    model = LateFusion(image, 4)
    crops = np.random.default_rng(0).integers(0, 255, size=(8, 1, 32, 32), dtype=np.uint8)
    x, _ = encode(_encoding(), [{"age": 80, "sex": "M"}, {"age": None, "sex": ""}] * 4)
    np.testing.assert_allclose(predict_logits(model, crops, extra=x), predict_logits(image, crops), atol=1e-5)
    labels = torch.tensor([0, 2] * 4)          # class follows the missing indicators: the head must use them
    image.requires_grad_(False)                 # only the fused head learns here: fast, and the point of the test
    opt = torch.optim.Adam(model.clinical.parameters(), lr=0.5)
    for _ in range(8):
        train_one_epoch(model, torch.nn.CrossEntropyLoss(), opt, torch.from_numpy(crops), labels, torch.arange(8),
                        batch_size=8, device=torch.device("cpu"), input_size=32, channels_last=False,
                        extra=torch.tensor(x, dtype=torch.float32))
    w = model.clinical.weight.detach().numpy()
    assert w[2, 1] - w[0, 1] > 0.5 and w[2, 3] - w[0, 3] > 0.5      # age_missing, sex_missing -> class 2
    assert (predict_logits(model, crops, extra=x).argmax(1) == labels.numpy()).all()
