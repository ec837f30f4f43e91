"""`vcfnet train --clinical` -> predict -> evaluate -> report end to end at toy size, and the calibrate
and predict flags of the image+clinical model."""
from __future__ import annotations

import json

import pandas as pd

from vcfnet.cli import main


def _study(make, root):
    n = 30
    ages = [55.0 + (i * 7) % 35 for i in range(n)]
    sexes = ["M" if i % 3 == 2 else "F" for i in range(n)]
    ages[3] = float("nan")                        # a missing age in the train split
    return make(root, n_train=12, n_val=12, n_test=6, classes=(0, 1, 2), ages=ages, sexes=sexes)


def test_train_clinical_then_predict_evaluate_report(tmp_path, capsys, make_tiny_study):
    study, run = _study(make_tiny_study, tmp_path / "study"), tmp_path / "run"
    assert main(["train", str(study), "--out", str(run), "--epochs", "3", "--batch-size", "4", "--input-size", "32",
                 "--weights", "none", "--amp", "fp32", "--threads", "1", "--lr", "0.001", "--clinical",
                 "--refer-fraction", "0.25"]) == 0
    card = json.loads((run / "best" / "model.json").read_text())
    assert card["card_version"] == 3 and card["temperature"] > 0
    assert [c["name"] for c in card["clinical"]["encoding"]["columns"]] == ["age", "sex"]
    assert card["clinical"]["encoding"]["columns"][0]["n_missing"] == 1
    assert card["referral"]["image"]["value"] == 0.25 and card["referral"]["image"]["refer_rate"] == 0.25

    preds = tmp_path / "predictions.csv"
    assert main(["predict", str(run / "best"), "--study", str(study), "--out", str(preds)]) == 0
    assert "by the image+clinical model" in capsys.readouterr().out
    table = pd.read_csv(preds)
    assert {"refer", "refer_reason", "model", "image_p_pathological", "image_refer"} <= set(table.columns)
    assert set(table["model"]) == {"image+clinical"}
    assert main(["evaluate", str(preds), "--study", str(study), "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    test = next(c for c in metrics["cohorts"] if c["key"] == "test")
    assert set(test["clinical_comparison"]["auc"]) == {"acute", "chronic", "pathological"}
    assert set(test["selective"]["models"]) == {"image+clinical", "image"}
    assert "figures/risk_coverage_test.png" in metrics["files"]
    assert main(["report", str(tmp_path / "eval"), "--study", str(study), "--checkpoint", str(run / "best"),
                 "--out", str(tmp_path / "report.html")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert 'id="clinical"' in html and "Table 7. Image only versus image + clinical" in html
    assert "training range 55-83" in html and "Table 8. Referral" in html

    image_only = tmp_path / "image-only.csv"
    assert main(["predict", str(run / "best"), "--study", str(study), "--out", str(image_only), "--no-clinical"]) == 0
    assert set(pd.read_csv(image_only)["model"]) == {"image"}


def test_calibrate_fits_the_clinical_model_onto_an_existing_run(tmp_path, capsys, make_tiny_study):
    study, run = _study(make_tiny_study, tmp_path / "study"), tmp_path / "run"
    assert main(["train", str(study), "--out", str(run), "--epochs", "3", "--batch-size", "4", "--input-size", "32",
                 "--weights", "none", "--amp", "fp32", "--threads", "1", "--lr", "0.001"]) == 0
    assert json.loads((run / "best" / "model.json").read_text())["clinical"] is None
    assert main(["calibrate", str(run / "best"), "--study", str(study), "--clinical",
                 "--target-accuracy", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "referral (clinical model)" in out and "image+clinical stacker (age, sex)" in out
    card = json.loads((run / "best" / "model.json").read_text())
    assert card["referral"]["clinical"]["rule"] == "target_accuracy"
    assert main(["calibrate", str(run / "best"), "--study", str(study), "--clinical",
                 "--clinical-columns", "age,malignancy"]) == 2
    assert "malignancy not in the study table" in capsys.readouterr().err
    assert main(["predict", str(run / "best"), "--study", str(study), "--age", "70"]) == 2


def test_a_further_column_from_clinical_csv(tmp_path, capsys, make_tiny_study):
    """--clinical-columns age,sex,malignancy: malignancy comes from STUDY/clinical.csv by patient."""
    from vcfnet.study.dataset import load_table

    study, run = _study(make_tiny_study, tmp_path / "study"), tmp_path / "run"
    table = load_table(study)
    known = table["label"].eq("pathological").map({True: "yes", False: "no"})
    known.iloc[0] = ""                                                     # one unknown
    pd.DataFrame({"patient_id": table["patient_id"], "malignancy": known}).to_csv(study / "clinical.csv", index=False)
    assert main(["train", str(study), "--out", str(run), "--epochs", "3", "--batch-size", "4", "--input-size", "32",
                 "--weights", "none", "--amp", "fp32", "--threads", "1", "--lr", "0.001", "--clinical",
                 "--clinical-columns", "age,sex,malignancy"]) == 0
    columns = json.loads((run / "best" / "model.json").read_text())["clinical"]["encoding"]["columns"]
    assert columns[2] == {"name": "malignancy", "kind": "categorical", "low": None, "high": None, "mean": None,
                          "sd": None, "levels": ["no", "yes"], "n_missing": 1}
    preds = tmp_path / "p.csv"
    assert main(["predict", str(run / "best"), "--study", str(study), "--out", str(preds)]) == 0
    assert set(pd.read_csv(preds)["model"]) == {"image+clinical"}
    (study / "clinical.csv").write_text("patient_id,malignancy\nx,yes\nx,no\n")
    assert main(["predict", str(run / "best"), "--study", str(study), "--out", str(preds)]) == 2
    assert "patient_id 'x' appears twice" in capsys.readouterr().err
