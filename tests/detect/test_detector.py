"""The detector end to end at toy size: `vcfnet train-detector` on a synthetic study's vertebrae.json
(one batch), `vcfnet detect` on one of its films, the outputs' format, a damaged or old detector refused,
and a training run killed after a saved state and continued gives the uninterrupted run's detector."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vcfnet.cli import main
from vcfnet.detect.infer import Detector
from vcfnet.detect.model import ARCHS, DETECT_LEVELS
from vcfnet.detect.train import DetectorConfig, coco_files_of, train_detector
from vcfnet.errors import VcfnetError
from vcfnet.fileio import KILL_ENV
from vcfnet.synth.generate import generate_study


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    generate_study(root / "study", scale=0.004, seed=7, fmt="png", workers=2, resolution=0.1)
    code = main(["train-detector", str(root / "study" / "site4-external"), "--out", str(root / "detector"),
                 "--max-iterations", "1", "--batch-size", "1", "--min-size", "128", "--max-size", "256"])
    assert code == 0
    return root


def test_train_then_detect_writes_boxes_levels_and_morphometry(trained, capsys):
    card = json.loads((trained / "detector" / "detector.json").read_text())
    assert card["arch"] == ARCHS[0] == "centernet" and card["keypoints"] is True
    assert card["format"] == "vcfnet-detector-2"
    assert card["training"]["iterations"] == 1 and card["data"][0]["folder"] == "site4-external"
    film = sorted((trained / "study" / "site4-external").glob("*.png"))[0]
    out = trained / "findings.json"
    assert main(["detect", str(trained / "detector"), str(film), "--score-threshold", "0", "--out", str(out)]) == 0
    bodies = json.loads(out.read_text())["bodies"]
    assert bodies, "an untrained detector still proposes boxes at threshold 0"
    for b in bodies:
        x0, y0, x1, y1 = b["box"]
        assert 0 <= x0 < x1 <= 188 + 1e-3 and 0 <= y0 < y1 <= 231 + 1e-3      # the film is 188 x 231
        assert b["seen_level"] in DETECT_LEVELS and len(b["points"]) == 6 and b["points_from"] == "keypoints"
        assert b["morphometry"]["unit"] == "px"                                 # a PNG has no PixelSpacing
        assert b["level"] == "uncertain" or b["level"] in DETECT_LEVELS
    assert [b["box"][1] + b["box"][3] for b in bodies] == sorted(b["box"][1] + b["box"][3] for b in bodies)
    table = trained / "findings.csv"
    assert main(["detect", str(trained / "detector"), str(film), "--score-threshold", "0", "--out", str(table)]) == 0
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(bodies) and rows[0]["seen_level"] == bodies[0]["seen_level"]


def test_evaluate_detector_writes_every_number(trained, capsys):
    metrics = trained / "detection.json"
    assert main(["evaluate-detector", str(trained / "detector"), str(trained / "study" / "site4-external"),
                 "--out", str(metrics)]) == 0
    r = json.loads(metrics.read_text())
    assert r["images"] == len(list((trained / "study" / "site4-external").glob("*.png")))
    assert r["bodies"] > 40 and 0 <= r["froc_fractured"]["sensitivity"][-1] <= 1
    assert "sensitivity_at_0.5fp_fractured" in capsys.readouterr().out


def test_a_damaged_detector_is_refused_in_one_line(trained, tmp_path, capsys):
    copy = tmp_path / "detector"
    copy.mkdir()
    for name in ("detector.json", "detector.safetensors"):
        (copy / name).write_bytes((trained / "detector" / name).read_bytes())
    card = json.loads((copy / "detector.json").read_text())
    card["weights_sha256"] = "0" * 64
    (copy / "detector.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="do not match the hash"):
        Detector(copy)
    card["format"] = "vcfnet-detector-1"
    (copy / "detector.json").write_text(json.dumps(card))
    with pytest.raises(VcfnetError, match="older vcfnet"):
        Detector(copy)
    card["format"], card["arch"] = "vcfnet-detector-2", "yolo"
    (copy / "detector.json").write_text(json.dumps(card))
    film = sorted((trained / "study" / "site4-external").glob("*.png"))[0]
    assert main(["detect", str(copy), str(film)]) == 2
    err = capsys.readouterr().err
    assert "field 'arch'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["train-detector", str(tmp_path / "nothing"), "--out", str(tmp_path / "d")]) == 2
    assert "neither a vertebrae.json" in capsys.readouterr().err
    assert not Path(tmp_path / "d").exists()


TOY = ["--min-size", "64", "--max-size", "128", "--batch-size", "2", "--seed", "3"]


def test_a_killed_training_run_continues_to_the_same_detector(trained, tmp_path):
    source = trained / "study" / "site4-external"
    config = DetectorConfig(max_iterations=4, batch_size=2, min_size=64, max_size=128, seed=3, save_minutes=0)
    straight = train_detector(coco_files_of([source]), tmp_path / "straight", config)
    env = {**os.environ, KILL_ENV: "detector-state@2"}            # SIGKILL right after the 2nd saved state
    killed = subprocess.run([str(Path(sys.executable).parent / "vcfnet"), "train-detector", str(source), "--out",
                             str(tmp_path / "resumed"), "--max-iterations", "4", "--save-minutes", "0", *TOY],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (tmp_path / "resumed.training" / "state.json").is_file() and not (tmp_path / "resumed").exists()
    assert json.loads((tmp_path / "resumed.training" / "state.json").read_text())["extra"]["progress"]["done"] == 2
    other = DetectorConfig(max_iterations=4, batch_size=2, min_size=64, max_size=128, seed=4, save_minutes=0)
    with pytest.raises(VcfnetError, match="other settings"):
        train_detector(coco_files_of([source]), tmp_path / "resumed", other)
    resumed = train_detector(coco_files_of([source]), tmp_path / "resumed", config)
    assert resumed["training"]["iterations"] == 4 and not (tmp_path / "resumed.training").exists()
    assert resumed["weights_sha256"] == straight["weights_sha256"]
