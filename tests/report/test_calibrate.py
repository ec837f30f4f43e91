"""Temperature scaling: fitted on the validation split only, stored in the model card."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _write_tiny_study(root: Path, **kwargs) -> Path:
    # the model tests' tiny study (real Study table, crop cache, splits), reused rather than copied
    spec = importlib.util.spec_from_file_location("_model_conftest", REPO / "tests" / "model" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_study(root, **kwargs)


@pytest.fixture
def study_and_checkpoint(tmp_path):
    import torch

    from vcfnet.model.checkpoint import save_checkpoint
    from vcfnet.model.network import build_model

    study = _write_tiny_study(tmp_path / "study", n_train=4, n_val=9, n_test=3, classes=(0, 1, 2))
    torch.manual_seed(0)
    model = build_model("resnet18")
    model.input_size = 32
    ckpt = save_checkpoint(tmp_path / "ckpt", model, {"data": {"fingerprint": "sha256:x"}})
    return study, ckpt


def test_temperature_fitted_on_validation_only_and_stored(study_and_checkpoint, monkeypatch):
    import vcfnet.study.dataset as dataset
    from vcfnet.model.checkpoint import load_checkpoint
    from vcfnet.model.engine import predict_logits
    from vcfnet.report.calibrate import calibrate_checkpoint
    from vcfnet.stats import fit_temperature

    study, ckpt = study_and_checkpoint
    before = json.loads((ckpt / "model.json").read_text())
    asked = []
    real = dataset.load_cropset

    def spy(study_dir, **kw):  # records which split is read; returns the real crops
        asked.append(kw)
        return real(study_dir, **kw)

    monkeypatch.setattr(dataset, "load_cropset", spy)
    t = calibrate_checkpoint(ckpt, study)
    assert asked == [{"split": "val"}]
    after = json.loads((ckpt / "model.json").read_text())
    assert after["temperature"] == t and t > 0
    assert after["calibration"]["split"] == "val" and after["calibration"]["n_vertebrae"] == 9
    assert {k: v for k, v in after.items() if k not in ("temperature", "calibration")} == \
        {k: v for k, v in before.items() if k != "temperature"}
    # the same number by hand: fit on the validation logits of the same weights
    model, _ = load_checkpoint(ckpt)
    val = real(study, split="val")
    assert t == pytest.approx(fit_temperature(predict_logits(model, val.crops), val.labels), rel=1e-6)
    load_checkpoint(ckpt)  # the card still matches its weights


def test_no_validation_split_is_a_clear_error(tmp_path, study_and_checkpoint):
    from vcfnet.errors import VcfnetError
    from vcfnet.report.calibrate import calibrate_checkpoint

    _, ckpt = study_and_checkpoint
    study = _write_tiny_study(tmp_path / "noval", n_train=4, n_val=0, n_test=3, classes=(0, 1, 2))
    before = (ckpt / "model.json").read_bytes()
    with pytest.raises(VcfnetError, match="no 'val' vertebrae"):
        calibrate_checkpoint(ckpt, study)
    assert (ckpt / "model.json").read_bytes() == before


def test_predictor_output_flows_through_evaluate_and_report(study_and_checkpoint, tmp_path):
    """The real chain: calibrated checkpoint -> Predictor -> `vcfnet evaluate --study` -> `vcfnet report`."""
    from vcfnet.cli import main
    from vcfnet.predict import Predictor
    from vcfnet.report.calibrate import calibrate_checkpoint

    study, ckpt = study_and_checkpoint
    t = calibrate_checkpoint(ckpt, study)
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
    assert "Development: internal test" in html and "sha256:x" in html
