"""`vcfnet train` SIGKILLed anywhere, then re-run with --resume, ends with the weights of an
uninterrupted run (issue 8, item 16). Deterministic kill points come from the test hook
``VCFNET_TEST_KILL_AT`` (vcfnet.model.atomicdir.kill_point); one kill comes at a random time."""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from vcfnet.model.checkpoint import load_checkpoint

EPOCHS = 3
TRAIN = ["--epochs", str(EPOCHS), "--batch-size", "4", "--weights", "none", "--input-size", "32",
         "--amp", "fp32", "--device", "cpu", "--threads", "1", "--lr", "0.001"]


def train(study, run, *extra, kill_at=None, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("VCFNET_TEST_KILL_AT", None)
    if kill_at:
        env["VCFNET_TEST_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "vcfnet.cli", "train", str(study), "--out", str(run),
                           *TRAIN, *extra], capture_output=True, text=True, timeout=timeout, env=env)


def outcome(run) -> dict:
    """What a finished run must reproduce: both checkpoints' weight hashes and the log's numbers."""
    for name in ("best", "last"):
        load_checkpoint(run / name)             # whole and verified
    with open(run / "log.csv") as fh:
        log = [{k: v for k, v in row.items() if k not in ("img_per_s", "seconds")} for row in csv.DictReader(fh)]
    cards = {n: json.loads((run / n / "model.json").read_text()) for n in ("best", "last")}
    return {"best": cards["best"]["weights_sha256"], "best_epoch": cards["best"]["validation"]["epoch"],
            "last": cards["last"]["weights_sha256"], "log": log}


@pytest.fixture(scope="module")
def reference(shared_tiny_study, tmp_path_factory):
    run = tmp_path_factory.mktemp("reference") / "run"
    started = time.perf_counter()
    done = train(shared_tiny_study, run)
    assert done.returncode == 0, done.stderr[-3000:]
    return outcome(run), time.perf_counter() - started


def kill_then_resume(study, run, kill_at):
    killed = train(study, run, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, (kill_at, killed.returncode, killed.stderr[-2000:])
    resumed = train(study, run, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return outcome(run), resumed.stderr


def test_kill_between_the_state_tensors_and_its_json_resumes_to_the_same_weights(shared_tiny_study, reference,
                                                                                 tmp_path):
    got, _ = kill_then_resume(shared_tiny_study, tmp_path / "run", "save_state:after_tensors@2")
    assert got == reference[0]


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["swap:state@2", "swap:best@1", "swap:last@2",
                                     "save_checkpoint:after_weights@2", "save_epoch:before_state@1"])
def test_kill_at_each_save_point_resumes_to_the_same_weights(shared_tiny_study, reference, tmp_path, kill_at):
    got, stderr = kill_then_resume(shared_tiny_study, tmp_path / "run", kill_at)
    assert got == reference[0]
    if kill_at.startswith("swap:state"):
        assert "previous complete training state" in stderr


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_kill_at_a_random_time_resumes_to_the_same_weights(shared_tiny_study, reference, tmp_path, seed):
    delay = random.Random(seed).uniform(0.3, 1.0) * reference[1]
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("VCFNET_TEST_KILL_AT", None)
    proc = subprocess.Popen([sys.executable, "-m", "vcfnet.cli", "train", str(shared_tiny_study), "--out", str(run),
                             *TRAIN], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    resumed = train(shared_tiny_study, run, "--resume")
    assert resumed.returncode == 0, (delay, resumed.stderr[-3000:])
    assert outcome(run) == reference[0], delay
