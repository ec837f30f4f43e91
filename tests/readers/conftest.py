"""Fixtures for the reader-study tests: a store on a tiny case list, and a real tiny study made by
``vcfnet synth`` + ``vcfnet ingest`` with a one-epoch checkpoint (as the service tests make theirs)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
CLI = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())"]


def cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """``vcfnet ARGS`` in a fresh process (what a user runs)."""
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"vcfnet {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_store(tmp_path: Path, *, kind: str = "crossover", washout: float = 0.0, n: int = 4, seed: int = 5):
    from vcfnet.readers.design import Design
    from vcfnet.readers.store import ReaderStore

    store = ReaderStore(f"sqlite:///{tmp_path / 'readers.sqlite3'}")
    store.initialise(study={"n_cases": n}, design=Design(kind, washout, seed),
                     cases=[(f"v{i}", f"m{i}") for i in range(n)], model={"version": "test"}, now=T0)
    return store


def answer(cls: str = "acute", p=(70, 20, 10)) -> dict:
    return {"answer": cls, "p_acute": p[0], "p_chronic": p[1], "p_pathological": p[2]}


@pytest.fixture(scope="session")
def toy_study(tmp_path_factory):
    """(synthetic folder, study, checkpoint): 41 synthetic radiographs, 13 collaboration-set vertebrae."""
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.train import fit

    root = tmp_path_factory.mktemp("toy")
    cli("synth", str(root / "syn"), "--scale", "0.01", "--resolution", "0.3", "--workers", "1")
    cli("ingest", str(root / "syn" / "manifest.json"), "--manifest", "--study", str(root / "study"),
        "--size", "64", "--margin", "0.1", "--workers", "1")
    spec = importlib.util.spec_from_file_location("_model_conftest_readers",
                                                  Path(__file__).parents[1] / "model" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tiny = module.write_tiny_study(root / "tiny", size=64)
    config = TrainConfig(epochs=1, batch_size=4, weights=None, input_size=64, amp="fp32", device="cpu",
                         seed=0, num_threads=1)
    checkpoint = fit(tiny, root / "run", config)
    return root / "syn", root / "study", checkpoint
