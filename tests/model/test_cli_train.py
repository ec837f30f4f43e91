"""`vcfnet train` and `vcfnet bench train` through the real CLI entry point."""
import subprocess
import sys

import numpy as np
import pytest
import yaml

from vcfnet.cli import main
from vcfnet.model.checkpoint import load_checkpoint
from vcfnet.model.config import load_config


def test_train_from_yaml_with_flag_overrides(tiny_study, tmp_path, capsys):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"epochs": 5, "batch_size": 4, "input_size": 32, "weights": "none",
                                   "amp": "fp32", "num_threads": 1, "rotation": 0.0}))
    run = tmp_path / "run"
    assert main(["train", str(tiny_study), "--out", str(run), "--config", str(cfg), "--epochs", "1",
                 "--lr", "0.001"]) == 0
    resolved = load_config(run / "config.yaml")
    assert (resolved.epochs, resolved.lr, resolved.batch_size, resolved.rotation) == (1, 0.001, 4, 0.0)
    assert resolved.weights is None
    model, card = load_checkpoint(run / "best")
    assert card["training_config"]["epochs"] == 1 and model.input_size == 32


def test_bad_options_exit_2_with_one_line(tiny_study, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochz: 3\n")
    assert main(["train", str(tiny_study), "--out", str(tmp_path / "r"), "--config", str(bad)]) == 2
    assert "unknown training option(s) epochz" in capsys.readouterr().err
    assert main(["train", str(tiny_study), "--out", str(tmp_path / "r"), "--optimizer", "lbfgs"]) == 2
    assert "Invalid optimizer 'lbfgs'. Only adam, adamw, sgd are supported." in capsys.readouterr().err
    assert main(["train", str(tmp_path / "nostudy"), "--out", str(tmp_path / "r2")]) == 2
    assert "is this a study directory" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_train_runs_both_loops_on_real_crops(sample_crops, tmp_path):
    """Times the seed loop and the project's loop on 32 real crops; checks the report, not the speed."""
    doc = tmp_path / "BENCH.md"
    done = subprocess.run([sys.executable, "-m", "vcfnet.cli", "bench", "train", "--crops",
                           str(sample_crops / "train"), "--images", "32", "--epochs", "2", "--device", "cpu",
                           "--doc", str(doc)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = doc.read_text()
    assert "Ratio project / seed" in text and "Inference (`predict_proba`" in text
    ratio = float(text.split("Ratio project / seed: ")[1].split("x")[0])
    assert np.isfinite(ratio) and ratio > 0


def test_input_sizes_the_network_cannot_take_are_refused_in_one_line(tiny_study, tmp_path, capsys):
    from vcfnet.errors import VcfnetError
    from vcfnet.model.config import TrainConfig

    for size in ("1", "31", "1025"):
        assert main(["train", str(tiny_study), "--out", str(tmp_path / f"r{size}"), "--input-size", size,
                     "--weights", "none"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert f"--input-size {size}" in err and "32..1024" in err and "resnet18" in err, err
        assert not (tmp_path / f"r{size}").exists()
    with pytest.raises(VcfnetError, match="input_size.*outside 32..1024 for densenet121"):
        TrainConfig(arch="densenet121", input_size=16)
    assert TrainConfig(input_size=32).input_size == 32 and TrainConfig(input_size=1024).input_size == 1024
