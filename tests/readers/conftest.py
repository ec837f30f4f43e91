"""Fixtures for the reader-study tests: a real tiny study made by ``vcfnet synth`` + ``vcfnet ingest`` with a
one-epoch checkpoint (as the service tests make theirs). Helpers live in readers_toys.py."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from readers_toys import cli


@pytest.fixture(scope="session")
def toy_study(tmp_path_factory):
    """(synthetic folder, study, checkpoint): 41 synthetic radiographs, 13 collaboration-set vertebrae."""
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.train import fit

    root = tmp_path_factory.mktemp("toy")
    cli("synth", str(root / "syn"), "--scale", "0.01", "--resolution", "0.5", "--workers", "1")
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
