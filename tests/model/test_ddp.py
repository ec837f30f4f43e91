"""DDP: two gloo processes on the CPU, launched by torchrun, train and write one valid checkpoint."""
import csv
import os
import subprocess
import sys

import pytest

from vcfnet.model.checkpoint import load_checkpoint
from vcfnet.model.engine import evaluate
from vcfnet.model.train import load_data


@pytest.mark.slow
def test_torchrun_two_gloo_processes(tiny_study, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "vcfnet.cli", "train", str(tiny_study), "--out", str(run), "--epochs", "2",
           "--batch-size", "4", "--input-size", "32", "--weights", "none", "--amp", "fp32",
           "--device", "cpu", "--threads", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    model, card = load_checkpoint(run / "best")
    assert card.training.world_size == 2 and card.training.batch_per_process == 2
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert len(rows) == 2
    # the logged validation numbers are over all 6 val ROIs exactly once: recompute them here
    data = load_data(tiny_study)
    last, _ = load_checkpoint(run / "last")
    v = evaluate(last, data.val_crops, data.val_labels)
    assert v["n"] == 6
    assert float(rows[-1]["val_loss"]) == pytest.approx(v["loss"], rel=1e-4)
    assert float(rows[-1]["val_acc"]) == pytest.approx(v["accuracy"])
