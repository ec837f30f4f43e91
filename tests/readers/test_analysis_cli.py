"""``vcfnet readers analyze`` end to end at toy size: a real study folder, a predictions CSV and a reads
CSV in, the analysis folder out; bad input is one line naming file, row and field, and writes nothing."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vcfnet.cli import main
from vcfnet.labels import CLASSES


def write_inputs(root, n_patients=12, seed=0):
    """A study folder (Study table + splits, all collaboration), a predictions CSV, a simulated reads CSV."""
    from vcfnet.fileio import atomic_open
    from vcfnet.readers.reads import reads_csv
    from vcfnet.readers.simulate import simulate_reads
    from vcfnet.study.layout import StudyLayout
    from vcfnet.study.schema import save_study

    rng = np.random.default_rng(seed)
    patients = np.repeat([f"p{i:02d}" for i in range(n_patients)], 2)
    truth = np.array([i % 3 for i in range(len(patients))])
    n = len(truth)
    roi = [f"r{i:03d}" for i in range(n)]
    study = pd.DataFrame({
        "roi_id": roi, "image": [f"img{i // 2}.png" for i in range(n)], "patient_id": patients, "site": "site2",
        "cohort": "external", "exam_date": "", "level": ["L1", "L2"] * (n // 2), "label": [CLASSES[k] for k in truth],
        "x0": 0.0, "y0": 0.0, "x1": 10.0, "y1": 10.0, "age": 70.0, "sex": "F", "width": 64.0, "height": 64.0,
        "source": "toy"})
    layout = StudyLayout(root / "study")
    layout.root.mkdir(parents=True)
    save_study(study, layout.study_table)
    pd.DataFrame({"roi_id": roi, "split": "external", "collaboration": 1}).to_csv(layout.splits, index=False)
    z = 1.8 * np.eye(3)[truth] + rng.normal(size=(n, 3))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    preds = study[["roi_id", "cohort", "site", "patient_id", "label"]].assign(
        **{f"p_{c}": p[:, k] for k, c in enumerate(CLASSES)})
    preds.to_csv(root / "predictions.csv", index=False)
    reads = simulate_reads(preds, readers_per_tier=1, seed=seed)
    with atomic_open(root / "reads.csv", "wb") as fh:
        fh.write(reads_csv(reads))
    return layout.root, root / "predictions.csv", root / "reads.csv"


def _run(capsys, *args):
    code = main(["readers", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_analyze_writes_the_folder_and_prints_the_readers(tmp_path, capsys):
    study, preds, reads = write_inputs(tmp_path)
    out = tmp_path / "eval" / "readers"
    code, stdout, err = _run(capsys, "analyze", "--reads", reads, "--study", study, "--predictions", preds, "--out", out)
    assert code == 0, err
    assert "3 simulated readers, 24 vertebrae, 12 patients" in stdout
    assert "sim-trainee-1" in stdout and "MRMC 3-class accuracy" in stdout
    data = json.loads((out / "readers.json").read_text())
    assert data["mrmc"]["or"]["acute"]["n_clusters"] == 12          # patients are the unit
    assert data["source"] == {"reads": "reads.csv", "predictions": "predictions.csv", "study": "study"}
    assert (out / "table3.csv").is_file() and (out / "figures" / "figure6_acute.png").is_file()
    pd.testing.assert_frame_equal(pd.read_csv(out / "reads.csv"), pd.read_csv(reads))


def test_a_read_of_an_unknown_vertebra_is_one_line_and_nothing_is_written(tmp_path, capsys):
    study, preds, reads = write_inputs(tmp_path)
    table = pd.read_csv(reads, dtype=str, keep_default_na=False)
    table.loc[4, "roi_id"] = "nope"
    table.to_csv(reads, index=False)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "analyze", "--reads", reads, "--study", study, "--predictions", preds, "--out", out)
    assert code == 2
    assert f"{reads}, row 5, field 'roi_id': roi_id 'nope' is not in the study's Study table" in err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("option, value, message", [("--alpha", "0.7", "--alpha 0.7"),
                                                    ("--covariance", "bootstrap", "covariance 'bootstrap'")])
def test_bad_options_are_refused(tmp_path, capsys, option, value, message):
    study, preds, reads = write_inputs(tmp_path)
    code, _, err = _run(capsys, "analyze", "--reads", reads, "--study", study, "--predictions", preds,
                        "--out", tmp_path / "o", option, value)
    assert code == 2 and message in err and not (tmp_path / "o").exists()


def test_plan_from_a_finished_analysis_and_from_a_pilot_reads_table(tmp_path, capsys):
    from vcfnet.stats import mrmc_sample_size

    study, preds, reads = write_inputs(tmp_path, n_patients=15)
    out = tmp_path / "readers"
    assert _run(capsys, "analyze", "--reads", reads, "--study", study, "--predictions", preds, "--out", out,
                "--no-figures")[0] == 0
    code, stdout, err = _run(capsys, "plan", "--from", out, "--effect", "0.2", "--readers", "4,8",
                             "--fom", "chronic", "--fom", "accuracy")
    assert code == 0, err
    assert "effect 0.2, power 0.8" in stdout and "(simulated readers)" in stdout
    plan = json.loads((out / "plan.json").read_text())
    r = json.loads((out / "readers.json").read_text())["mrmc"]["or"]["chronic"]
    # the pilot's unit is the patient (15 patients of 2 vertebrae), so the planned cases are patients
    assert r["n_clusters"] == 15 and plan["unit"] == "patient" and plan["foms"]["chronic"]["n_cases_pilot"] == 15
    direct = mrmc_sample_size(0.2, n_readers=[4, 8], n_cases_pilot=15,
                              **{k: r[k] for k in ("var_tr", "var_error", "cov1", "cov2", "cov3")}).to_dict()
    rows = plan["foms"]["chronic"]["rows"]
    assert [row["n_readers"] for row in rows] == [8]                 # 4 readers cannot reach it
    assert [row["n_patients"] for row in rows] == [x["n_cases"] for x in direct["rows"]]
    assert [row["n_vertebrae"] for row in rows] == [2 * x["n_cases"] for x in direct["rows"]]
    assert plan["foms"]["chronic"]["unreachable"] == direct["unreachable"]
    assert rows and f"{rows[0]['n_patients']} pat. (~{rows[0]['n_vertebrae']} v.)" in stdout
    assert set(plan["foms"]) == {"chronic", "accuracy"}
    # the same plan from the pilot reads table itself
    code, _, err = _run(capsys, "plan", "--from", reads, "--study", study, "--predictions", preds, "--effect", "0.2",
                        "--readers", "4,8", "--fom", "chronic", "--out", tmp_path / "p.json")
    assert code == 0, err
    again = json.loads((tmp_path / "p.json").read_text())
    assert again["foms"]["chronic"]["rows"] == plan["foms"]["chronic"]["rows"]
    code, _, err = _run(capsys, "plan", "--from", reads, "--effect", "0.2")
    assert code == 2 and "needs --study and --predictions" in err
    code, _, err = _run(capsys, "plan", "--from", out, "--readers", "x")
    assert code == 2 and "--readers 'x'" in err


def test_analyze_takes_the_reading_apps_export(tmp_path, capsys):
    """import -> export -> analyze through the CLI: the reading app's OUT/reads.csv is what analyze reads."""
    from readers_toys import T0

    from vcfnet.readers.design import Design
    from vcfnet.readers.manage import Layout, db_url
    from vcfnet.readers.store import ReaderStore

    study, preds, reads = write_inputs(tmp_path, n_patients=9)
    rois = sorted(pd.read_csv(preds, dtype=str)["roi_id"])
    rs = tmp_path / "rs"
    rs.mkdir()
    store = ReaderStore(db_url(rs))
    store.initialise(study={"n_cases": len(rois)}, design=Design("sequential", 0.0, 1),
                     cases=[(roi, f"m{i}") for i, roi in enumerate(rois)], model={"version": "toy"}, now=T0)
    store.close()
    assert Layout(rs).db.is_file()
    code, stdout, err = _run(capsys, "import", rs, reads)
    assert code == 0 and "imported 108 read(s)" in stdout, err
    assert _run(capsys, "export", rs, tmp_path / "export")[0] == 0
    exported = tmp_path / "export" / "reads.csv"
    out = tmp_path / "eval" / "readers"
    code, stdout, err = _run(capsys, "analyze", "--reads", exported, "--study", study, "--predictions", preds,
                             "--out", out, "--no-figures")
    assert code == 0, err
    assert "3 simulated readers, 18 vertebrae, 9 patients" in stdout
    direct = tmp_path / "direct"
    assert _run(capsys, "analyze", "--reads", reads, "--study", study, "--predictions", preds, "--out", direct,
                "--no-figures")[0] == 0
    via_app, made = (json.loads((d / "readers.json").read_text()) for d in (out, direct))
    assert via_app["source"]["reads"] == "reads.csv"
    for key in ("readers", "tiers", "model", "mrmc"):        # the export loses nothing the analysis uses
        assert via_app[key] == made[key], key
