"""``vcfnet demo`` end to end: synthetic study -> ingest -> train -> predict -> evaluate -> simulated readers
-> report."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from vcfnet.cli import main
from vcfnet.predict import IMAGE_COLUMNS, PREDICTION_COLUMNS
from vcfnet.study.dataset import load_table


def _demo(capsys, out, *extra) -> str:
    code = main(["demo", "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-2000:]
    return captured.out


def test_tiny_demo_runs_every_stage_and_reuses_its_work(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ("--scale", "tiny", "--epochs", "1", "--input-size", "64", "--format", "png", "--weights", "none")
    stdout = _demo(capsys, out, *args)
    summary = json.loads((out / "demo.json").read_text())
    study = out / "study-64px"
    predictions = pd.read_csv(out / "predictions.csv")
    assert tuple(predictions.columns) == PREDICTION_COLUMNS + IMAGE_COLUMNS     # the image+clinical model answered
    assert set(predictions["model"]) == {"image+clinical"} and "test" in summary["clinical"]
    assert set(summary["clinical"]["test"]["referral"]) == {"image+clinical", "image"}
    # every ROI of every cohort is predicted once
    assert sorted(predictions["roi_id"]) == sorted(load_table(study)["roi_id"])
    assert set(predictions["cohort"]) == {"development", "external", "prospective"}
    assert {"train", "val", "test", "external", "prospective"} == set(predictions["split"])
    assert (out / "report.html").stat().st_size > 10_000 and (out / "eval" / "metrics.json").is_file()
    assert (out / summary["checkpoint"].split(str(out) + "/")[-1] / "model.json").is_file()
    test = predictions[predictions["split"] == "test"]
    assert f"test-cohort accuracy {(test['predicted'] == test['label']).mean():.3f}" in stdout
    assert "training from scratch" not in stdout          # --weights none was asked for: no note
    # simulated readers read the collaboration set; their analysis is the report's reader section
    from vcfnet.readers.reads import read_reads_csv
    reads = read_reads_csv(out / "readers" / "reads.csv")
    collab = predictions[predictions["collaboration"] == 1]
    assert (reads["simulated"] == 1).all() and set(reads["roi_id"]) == set(collab["roi_id"])
    assert len(reads) == 2 * 3 * 2 * len(collab)                 # 2 readers per tier x 3 tiers x 2 sessions
    analysis = json.loads((out / "eval" / "readers" / "readers.json").read_text())
    assert analysis["simulated"] is True and analysis["n_cases"] == len(collab)
    report = (out / "report.html").read_text()
    assert '<section id="readers">' in report and "Reader study: simulated readers" in report
    assert report.count('alt="ROC curve of the model for') == 3
    assert "[demo] readers done" in stdout
    # detection without boxes: a (one-batch) detector trained on the development films, run on every cohort's films
    assert {"train-detector", "detect"} <= set(summary["timings_s"])
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    det = metrics["detection"]
    assert [c["key"] for c in det["cohorts"]][:1] == ["test"] and "prospective" in summary["detection"]
    assert det["settings"]["detector"]["iterations"] == 1                 # the tiny scale's budget
    test_films = det["cohorts"][0]
    assert test_films["end_to_end"]["n"] == len(test) and test_films["end_to_end"]["n_manual"] == len(test)
    manual = summary["detection"]["test"]["manual_accuracy"]
    assert manual == pytest.approx((test["predicted"] == test["label"]).mean())   # the same vertebrae, boxed
    train_json = json.loads((out / "synthetic" / "site1-development" / "detector-train.json").read_text())
    films = json.loads((out / "synthetic" / "site1-development" / "vertebrae.json").read_text())["images"]
    assert 0 < len(train_json["images"]) < len(films)                    # the internal test films left out
    assert '<section id="detection">' in report and "Table D3. End to end" in report
    assert "[demo] test: detection sensitivity" in stdout
    # `vcfnet evaluate --detector` on one site's films gives that cohort's numbers as the demo did
    detector = next((out / "detectors").iterdir())
    assert main(["evaluate", str(out / "predictions.csv"), "--study", str(study), "--out", str(out / "eval-cli"),
                 "--no-figures", "--detector", str(detector), "--annotations", str(out / "synthetic" / "site2-external"),
                 "--checkpoint", summary["checkpoint"]]) == 0
    assert "external-site2" in capsys.readouterr().out
    cli = json.loads((out / "eval-cli" / "metrics.json").read_text())["detection"]["cohorts"]
    demo_site2 = next(c for c in det["cohorts"] if c["key"] == "external-site2")
    assert [c["key"] for c in cli] == ["external-site2"] and cli[0]["end_to_end"] == demo_site2["end_to_end"]
    assert cli[0]["froc_fractured"] == demo_site2["froc_fractured"]

    again = _demo(capsys, out, *args)
    assert "reusing the synthetic study" in again and "(0 images decoded" in again
    assert "reusing the finished training run" in again
    assert "reusing the trained detector" in again and "reusing the detection results" in again
    pd.testing.assert_frame_equal(pd.read_csv(out / "predictions.csv"), predictions)
    assert read_reads_csv(out / "readers" / "reads.csv").equals(reads)      # seeded: the same reads again


def test_bad_scale_is_a_clear_error(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path / "d"), "--scale", "huge"])
    assert code == 2 and "--scale 'huge'" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_default_demo_learns(tmp_path, capsys):
    """The demo as a user runs it (offline: from scratch) is far above chance on the test cohort."""
    out = tmp_path / "demo"
    _demo(capsys, out)
    accuracy = json.loads((out / "demo.json").read_text())["accuracy"]
    table = pd.read_csv(out / "predictions.csv")
    majority = table[table["split"] == "test"]["label"].value_counts(normalize=True).max()
    # measured: 0.735, 0.800 and 0.760 (majority class ~0.5) in three runs on the 2-core CPU
    assert accuracy["test"] >= 0.65 and accuracy["test"] >= majority + 0.15, (accuracy, majority)
    _assert_no_identifier_left_the_headers(out)


def _assert_no_identifier_left_the_headers(out):
    """The synthetic DICOMs carry made-up names, IDs, birth dates and accession numbers: none of them
    may appear in any file or file name the demo wrote outside the synthetic sources themselves."""
    import pydicom

    needles = set()
    for path in sorted((out / "synthetic").rglob("*.dcm"))[:40]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        needles |= {str(ds.PatientName), str(ds.PatientID), str(ds.PatientBirthDate), str(ds.AccessionNumber)}
    needles = {n.encode() for n in needles if len(n) >= 6}
    assert len(needles) >= 40
    written = [p for p in out.rglob("*") if "synthetic" not in p.relative_to(out).parts]
    for path in written:
        assert not any(n.decode() in path.name for n in needles), path
        if path.is_file() and path.suffix != ".npy":   # raw crop pixels can spell digits by chance
            data = path.read_bytes()
            assert not any(n in data for n in needles), path


def test_the_detector_trains_beside_the_classifier_up_to_the_small_scale_on_fixed_threads(monkeypatch):
    from vcfnet import demo
    from vcfnet.demo import SCALES, DemoConfig, alongside, thread_split

    monkeypatch.setattr(demo, "_cores", lambda: 2)
    assert alongside(DemoConfig()) and alongside(DemoConfig(scale=SCALES["tiny"]))
    assert not alongside(DemoConfig(scale=SCALES["medium"])) and not alongside(DemoConfig(scale=SCALES["full"]))
    assert thread_split(DemoConfig()) == (1, 1)
    monkeypatch.setattr(demo, "_cores", lambda: 16)
    assert thread_split(DemoConfig()) == (8, 8) and thread_split(DemoConfig(threads=12)) == (12, 4)
    monkeypatch.setattr(demo, "_cores", lambda: 1)
    assert not alongside(DemoConfig())


def test_a_failed_detector_process_is_the_demos_error_naming_its_cause(tmp_path):
    """The detector's training process (spawned, as the demo spawns it) fails on a broken vertebrae.json:
    the parent raises one clear error with the child's cause and leaves no result file behind."""
    import multiprocessing

    from vcfnet.demo import DemoConfig, _detector_process, _finish_detector, _PendingDetector
    from vcfnet.detect.train import DetectorConfig
    from vcfnet.errors import VcfnetError

    bad = tmp_path / "vertebrae.json"
    bad.write_text("{not json")
    folder, result = tmp_path / "detectors" / "abc", tmp_path / "detectors" / ".abc.result.json"
    folder.parent.mkdir()
    process = multiprocessing.get_context("spawn").Process(
        target=_detector_process, args=([bad], folder, DetectorConfig(max_iterations=1), 1, result), daemon=True)
    process.start()
    with pytest.raises(VcfnetError) as err:
        _finish_detector(DemoConfig(out=tmp_path), print, _PendingDetector(folder, process, result))
    assert "training the detector failed" in str(err.value) and "vertebrae.json" in str(err.value)
    assert process.exitcode == 1 and not result.exists() and not (folder / "detector.json").exists()
