"""Temperature scaling (``vcfnet calibrate``): fitted on the validation split only, stored in the card
of a checkpoint that real training made."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _write_tiny_study(root: Path, **kwargs) -> Path:
    # the tiny study of conftest.py (conftest modules are not importable by name)
    spec = importlib.util.spec_from_file_location("_model_conftest", HERE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_study(root, **kwargs)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny three-class study and the best/ checkpoint that ``vcfnet.model.train.fit`` made of it."""
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.train import fit

    root = tmp_path_factory.mktemp("calibrate")
    study = _write_tiny_study(root / "study", n_train=4, n_val=9, n_test=3, classes=(0, 1, 2))
    config = TrainConfig(epochs=2, batch_size=4, weights=None, input_size=32, amp="fp32", device="cpu",
                         lr=1e-3, seed=0, num_threads=1)
    return study, fit(study, root / "run", config)


@pytest.fixture
def study_and_checkpoint(trained, tmp_path):
    study, best = trained
    return study, Path(shutil.copytree(best, tmp_path / "ckpt"))


def test_temperature_fitted_on_validation_only_and_stored(study_and_checkpoint, monkeypatch):
    from vcfnet.model.calibrate import calibrate_checkpoint
    from vcfnet.model.checkpoint import load_checkpoint
    from vcfnet.model.engine import predict_logits
    from vcfnet.stats import fit_temperature
    from vcfnet.study import dataset

    study, ckpt = study_and_checkpoint
    before = json.loads((ckpt / "model.json").read_text())
    asked = []
    real = dataset.load_cropset

    def spy(study_dir, **kw):  # records which split is read; returns the real crops
        asked.append(kw)
        return real(study_dir, **kw)

    monkeypatch.setattr(dataset, "load_cropset", spy)
    t = calibrate_checkpoint(ckpt, study)["temperature"]
    assert asked == [{"split": "val"}]
    after = json.loads((ckpt / "model.json").read_text())
    assert after["temperature"] == t and t > 0
    assert after["calibration"]["split"] == "val" and after["calibration"]["n_vertebrae"] == 9
    assert {k: v for k, v in after.items() if k not in ("temperature", "calibration", "referral")} == \
        {k: v for k, v in before.items() if k not in ("temperature", "calibration", "referral")}
    # the same number by hand: fit on the validation logits of the same weights
    model, _ = load_checkpoint(ckpt)
    val = real(study, split="val")
    assert t == pytest.approx(fit_temperature(predict_logits(model, val.crops), val.labels), rel=1e-6)
    load_checkpoint(ckpt)  # the card still matches its weights


def test_no_validation_split_is_a_clear_error(tmp_path, study_and_checkpoint):
    from vcfnet.errors import VcfnetError
    from vcfnet.model.calibrate import calibrate_checkpoint

    _, ckpt = study_and_checkpoint
    study = _write_tiny_study(tmp_path / "noval", n_train=4, n_val=0, n_test=3, classes=(0, 1, 2))
    before = (ckpt / "model.json").read_bytes()
    with pytest.raises(VcfnetError, match="no 'val' vertebrae"):
        calibrate_checkpoint(ckpt, study)
    assert (ckpt / "model.json").read_bytes() == before


def test_predictor_output_flows_through_evaluate_and_report(study_and_checkpoint, tmp_path):
    """The real chain: calibrated checkpoint -> Predictor -> `vcfnet evaluate --study` -> `vcfnet report`."""
    from vcfnet.cli import main
    from vcfnet.model.calibrate import calibrate_checkpoint
    from vcfnet.predict import Predictor

    study, ckpt = study_and_checkpoint
    t = calibrate_checkpoint(ckpt, study)["temperature"]
    preds = Predictor(ckpt).predict_study(study)
    preds.to_csv(tmp_path / "predictions.csv", index=False)
    assert main(["evaluate", str(tmp_path / "predictions.csv"), "--study", str(study), "--out",
                 str(tmp_path / "eval"), "--no-figures"]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    (test,) = metrics["cohorts"]  # the tiny study has only train / val / test
    assert (test["key"], test["n_vertebrae"]) == ("test", 3)
    correct = int((preds.loc[preds["split"] == "test", "predicted"] ==
                   preds.loc[preds["split"] == "test", "label"]).sum())
    assert test["accuracy"]["k"] == correct
    assert main(["report", str(tmp_path / "eval"), "--study", str(study), "--checkpoint", str(ckpt),
                 "--out", str(tmp_path / "report.html")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert f"T = {t:.3g}, fitted on the val split (9 patients, 9 vertebrae)" in html
    card = json.loads((ckpt / "model.json").read_text())
    assert "Development: internal test" in html and card["data"]["fingerprint"] in html
    assert card["selected_by"] in html and card["training"]["device"] in html  # the card training wrote
    assert "<dt>validation</dt>" in html and "<dt>training config</dt>" in html


def test_calibrate_command_end_to_end(study_and_checkpoint, capsys):
    """`vcfnet calibrate RUN/best --study S` writes T through the card's writer; the Predictor uses it."""
    import numpy as np

    from vcfnet.cli import main
    from vcfnet.model.card import read_card
    from vcfnet.model.engine import predict_logits
    from vcfnet.predict import Predictor
    from vcfnet.stats import apply_temperature
    from vcfnet.study.dataset import load_cropset

    study, ckpt = study_and_checkpoint
    weights = (ckpt / "model.safetensors").read_bytes()
    assert Predictor(ckpt).temperature is None
    assert main(["calibrate", str(ckpt), "--study", str(study)]) == 0
    card, _ = read_card(ckpt)
    assert card.temperature > 0 and card.calibration.split == "val" and card.card_version == 3
    assert f"T = {card.temperature:.4g}" in capsys.readouterr().out
    assert (ckpt / "model.safetensors").read_bytes() == weights   # weights untouched, hash still proves them
    assert sorted(p.name for p in ckpt.iterdir()) == ["model.json", "model.safetensors"]  # no temp file left
    predictor = Predictor(ckpt)
    test = load_cropset(study, split="test")
    expected = apply_temperature(predict_logits(predictor.model, test.crops), card.temperature)
    np.testing.assert_allclose(predictor.predict_crops(np.asarray(test.crops)), expected, rtol=1e-9)


def test_calibrate_command_refuses_a_broken_card_in_one_line(study_and_checkpoint, capsys):
    from vcfnet.cli import main

    study, ckpt = study_and_checkpoint
    card = json.loads((ckpt / "model.json").read_text())
    card["input_size"] = "large"
    (ckpt / "model.json").write_text(json.dumps(card))
    assert main(["calibrate", str(ckpt), "--study", str(study)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(ckpt / "model.json") in err and "'input_size'" in err
