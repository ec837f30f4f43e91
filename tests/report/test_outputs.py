"""The evaluation folder, the HTML report and the two commands, end to end on simulated predictions."""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from vcfnet.labels import CLASSES
from vcfnet.tools.simulate import simulate_predictions, simulate_study_table

SMALL_DESIGN = (("train", "site1", "development", 5, 2.0), ("test", "site1", "development", 20, 2.0),
                ("external", "site2", "external", 15, 1.5), ("prospective", "site1", "prospective", 10, 2.0))


@pytest.fixture(scope="module")
def predictions_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("preds") / "predictions.csv"
    simulate_predictions(SMALL_DESIGN, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory, predictions_csv) -> Path:
    from vcfnet.cli import main

    out = tmp_path_factory.mktemp("eval") / "eval"
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["evaluate", str(predictions_csv), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def report_html(eval_dir, tmp_path_factory) -> Path:
    from vcfnet.cli import main

    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(eval_dir), "--out", str(out)]) == 0
    return out


def test_every_output_file_is_written_and_json_has_no_nan(eval_dir):
    keys = ["test", "external-site2", "prospective", "collaboration"]
    expected = {"metrics.json", "table2.csv", "comparison.csv"} | {f"confusion_{k}.csv" for k in keys}
    expected |= {f"figures/{kind}_{k}.{ext}" for kind in ("roc", "confusion", "reliability", "risk_coverage")
                 for k in keys for ext in ("png", "svg")} | {"figures/forest.png", "figures/forest.svg"}
    written = {str(p.relative_to(eval_dir)) for p in eval_dir.rglob("*") if p.is_file()}
    assert written == expected  # and no leftover temporary files
    text = (eval_dir / "metrics.json").read_text()
    assert not re.search(r"\bNaN\b|Infinity", text)
    metrics = json.loads(text)
    assert [c["key"] for c in metrics["cohorts"]] == keys
    assert set(metrics["files"]) == expected - {"metrics.json"}
    t2 = pd.read_csv(eval_dir / "table2.csv")
    assert t2["cohort"].tolist() == keys
    for c in metrics["cohorts"]:
        row = t2.set_index("cohort").loc[c["key"]]
        assert row["accuracy"] == pytest.approx(c["accuracy"]["estimate"])
        assert row["n_vertebrae"] == c["n_vertebrae"]
    conf = pd.read_csv(eval_dir / "confusion_test.csv")
    assert conf["true_class"].tolist() == list(CLASSES)
    counts = conf[[f"n_predicted_{c}" for c in CLASSES]].to_numpy()
    assert counts.tolist() == metrics["cohorts"][0]["confusion"]["counts"]


def test_figures_are_real_images(eval_dir):
    from PIL import Image

    with Image.open(eval_dir / "figures" / "roc_test.png") as im:
        assert im.width > 600 and im.height > 600
    svg = (eval_dir / "figures" / "roc_test.svg").read_text()
    assert "<svg" in svg and "Internal test" in svg and "AUC" in svg


def test_report_is_self_contained_and_complete(report_html, eval_dir):
    html = report_html.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "Table 1" in html and "Table 2" in html and "Table 3" in html
    for c in json.loads((eval_dir / "metrics.json").read_text())["cohorts"]:
        assert c["name"] in html
        assert f"{c['n_patients']} patients, {c['n_vertebrae']} vertebrae" in html
    imgs = re.findall(r"<img [^>]*>", html)
    assert len(imgs) == 4 * 3 + 1 + 4           # + a risk-coverage figure per cohort (referral section)
    assert all('src="data:image/png;base64,' in i and re.search(r'alt="[^"]{20,}"', i) for i in imgs)
    assert "not a medical device" in html and "<th scope=" in html


def test_report_with_study_and_checkpoint_shows_table1_synthetic_banner_and_card(eval_dir, tmp_path):
    from vcfnet.report.html import render_report

    card = {"architecture": "resnet18", "classes": list(CLASSES), "input_size": 224,
            "preprocessing_version": "1", "temperature": 1.7, "intended_use": "Research only <b>test</b>",
            "data": {"fingerprint": "sha256:abc123", "n_train": 10, "n_val": 4,
                     "train_class_counts": {"acute": 10}, "val_class_counts": {"acute": 4}},
            "history": [{"epoch": 1}]}
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "model.json").write_text(json.dumps(card))
    html = render_report(eval_dir, checkpoint=tmp_path / "ckpt", synthetic=True)
    assert "Synthetic data." in html and "sha256:abc123" in html and "T = 1.7" in html
    assert "does not record where it was fitted" in html
    assert "Research only &lt;b&gt;test&lt;/b&gt;" in html  # card text is escaped
    assert "epoch" not in html  # training history is left to the checkpoint
    assert "Table 1 is not available" in html


def test_table1_comes_from_the_study_summary(tmp_path):
    from vcfnet.report.evaluate import evaluate_predictions
    from vcfnet.report.html import render_report
    from vcfnet.report.outputs import write_evaluation
    from vcfnet.study.summary import study_summary

    preds = simulate_predictions(SMALL_DESIGN, seed=1)
    study = simulate_study_table(preds, seed=1)
    study["age"] = 70.0
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        result = evaluate_predictions(preds, study_table=study)
    pd.testing.assert_frame_equal(result.table1, study_summary(study))
    out = write_evaluation(result, tmp_path / "eval", figures=False)
    t1 = pd.read_csv(out / "table1.csv")
    assert t1["patients"].tolist() == study_summary(study)["patients"].tolist()
    html = render_report(out)
    assert "Table 1. Patients" in html and "70.0" in html and "Development: internal test" in html


def test_cli_bad_table_exits_2_and_writes_nothing(tmp_path, capsys):
    from vcfnet.cli import main

    bad = tmp_path / "bad.csv"
    df = simulate_predictions(SMALL_DESIGN, seed=0)
    df["p_acute"] = df["p_acute"].astype(object)
    df.loc[7, "p_acute"] = "high"
    df.to_csv(bad, index=False)
    assert main(["evaluate", str(bad), "--out", str(tmp_path / "eval")]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, row 8, field 'p_acute'" in err and "Traceback" not in err
    assert not (tmp_path / "eval").exists()
    assert main(["report", str(tmp_path / "nothing")]) == 2


@pytest.mark.browser
def test_report_renders_in_chromium(report_html, tmp_path):
    from vcfnet.tools.screenshot import CHROMIUM, LAPTOP, LAUNCH_ARGS, open_report

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} missing under CI")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            refused = open_report(page, report_html)
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.complete ? e.naturalWidth : 0)")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            headings = page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
            page.screenshot(path=str(tmp_path / "shot.png"), full_page=True)
        finally:
            browser.close()
    assert refused == []
    assert len(widths) == 17 and all(w > 0 for w in widths)
    assert overflow <= 0  # nothing wider than a laptop screen
    assert "Performance by cohort (Table 2)" in headings
    assert (tmp_path / "shot.png").stat().st_size > 50_000


def test_synthetic_study_detected_from_the_generators_manifest(tmp_path):
    from vcfnet.report.html import study_is_synthetic

    source = tmp_path / "synth" / "site1-development"
    source.mkdir(parents=True)
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "sources.json").write_text(json.dumps({"a": {"path": str(source), "kind": "voc"}}))
    assert not study_is_synthetic(tmp_path / "study")
    (tmp_path / "synth" / "manifest.json").write_text(json.dumps({"generator": "vcfnet 0.1.0 synth"}))
    assert study_is_synthetic(tmp_path / "study")
    assert not study_is_synthetic(tmp_path / "nowhere")


def test_synthetic_study_detected_from_the_ingest_marker_not_the_working_folder(tmp_path, monkeypatch):
    """New studies name no source folder (paths are pseudonymised): ingest's ``synthetic`` marker
    decides, and a generator manifest in the current folder must not make a study synthetic."""
    from vcfnet.report.html import study_is_synthetic

    (tmp_path / "study").mkdir()
    sources = tmp_path / "study" / "sources.json"
    sources.write_text(json.dumps({"src-1": {"kind": "voc", "files": {}}}))
    (tmp_path / "manifest.json").write_text(json.dumps({"generator": "vcfnet 0.1.0 synth"}))
    monkeypatch.chdir(tmp_path)
    assert not study_is_synthetic(tmp_path / "study")
    sources.write_text(json.dumps({"src-1": {"kind": "voc", "files": {}, "synthetic": True}}))
    assert study_is_synthetic(tmp_path / "study")
