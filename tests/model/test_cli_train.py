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
    assert card.training_config["epochs"] == 1 and model.input_size == 32


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


def test_every_config_field_is_a_train_flag():
    """The flags are made from TrainConfig: a field added to the config is a flag without more code."""
    import typer.main

    from vcfnet.cli import app
    from vcfnet.model.config import TrainConfig

    command = typer.main.get_command(app).commands["train"]
    names = {p.name for p in command.params}
    assert names == set(TrainConfig.model_fields) | {"study", "out", "config"}
    flags = {o for p in command.params for o in p.opts + p.secondary_opts}
    assert {"--momentum", "--label-smoothing", "--lr-schedule", "--no-hflip", "--vflip", "--rotation",
            "--no-channels-last", "--compile", "--eval-batch-size", "--loss", "--threads"} <= flags


def test_fields_once_yaml_only_are_set_by_flags_and_saved(tiny_study, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(tiny_study), "--out", str(run), "--epochs", "1", "--batch-size", "4",
                 "--input-size", "32", "--weights", "none", "--amp", "fp32", "--threads", "1",
                 "--optimizer", "sgd", "--momentum", "0.5", "--label-smoothing", "0.1", "--lr-schedule",
                 "cosine", "--no-hflip", "--no-vflip", "--rotation", "0", "--no-channels-last",
                 "--eval-batch-size", "8"]) == 0
    saved = load_config(run / "config.yaml")
    assert (saved.momentum, saved.label_smoothing, saved.lr_schedule, saved.eval_batch_size) == (0.5, 0.1,
                                                                                              "cosine", 8)
    assert (saved.hflip, saved.vflip, saved.channels_last, saved.rotation, saved.num_threads) == (
        False, False, False, 0.0, 1)


def test_bad_values_name_the_flag_or_key_and_what_is_allowed(tiny_study, tmp_path, capsys):
    def one_line(args):
        assert main(["train", str(tiny_study), "--out", str(tmp_path / "r")] + args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err and "validation error" not in err, err
        return err

    assert "--epochs 0 is not allowed: must be greater than or equal to 1" in one_line(["--epochs", "0"])
    err = one_line(["--rotation", "200", "--label-smoothing", "1.5"])
    assert "--rotation 200.0 is not allowed: must be less than or equal to 180" in err
    assert "--label-smoothing 1.5 is not allowed: must be less than 1" in err
    assert "Invalid lr_schedule 'step'. Only constant, cosine are supported." in one_line(["--lr-schedule", "step"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("rotation: 200\nhflip: maybe\n")
    err = one_line(["--config", str(bad)])
    assert err.startswith(f"error: {bad}: ") and "hflip = 'maybe' is not allowed: must be a valid boolean" in err
    assert "rotation = 200 is not allowed" in err and not (tmp_path / "r").exists()
