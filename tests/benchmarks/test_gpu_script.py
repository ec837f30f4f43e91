"""benchmarks/gpu.py: the whole GPU run at toy size on the CPU (--dry-run), and its section writer."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"
OTHER = "# Benchmarks\n\nintro\n\n## Training\n\nold training figures\n"


@pytest.fixture(scope="module")
def gpu():
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_bench"] = module       # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["gpu_bench"]


def test_the_gpu_section_is_replaced_and_nothing_else(gpu, tmp_path):
    doc = tmp_path / "B.md"
    doc.write_text(OTHER + "\n## GPU\n\nstale figures\n\n## Service\n\nservice figures\n")
    gpu.replace_section(doc, "## GPU\n\nnew figures\n")
    text = doc.read_text()
    assert "stale" not in text and text.count("## GPU") == 1 and "new figures" in text
    assert text.startswith(OTHER) and text.endswith("## GPU\n\nnew figures\n\n## Service\n\nservice figures\n")
    fresh = tmp_path / "fresh.md"
    fresh.write_text(OTHER)
    gpu.replace_section(fresh, "## GPU\n\nfirst\n")
    assert fresh.read_text() == OTHER + "\n## GPU\n\nfirst\n"


def test_figures_are_held_against_their_targets(gpu):
    results = {"bench_train": {"figures": {"project": {"train_img_per_s": 9000.0},
                                           "seed": {"train_img_per_s": 3000.0}}},
               "model_alone": {"figures": {"img_per_s": 12000.0}},
               "inference": {"figures": {"eager": {"img_per_s": 20000.0}, "compiled": {"img_per_s": 31000.0}}}}
    got = {name: (value, gpu.verdict(name, value, target)) for name, value, target in gpu.figures(results)}
    assert got["training end to end, images/s"] == (9000.0, "met")
    assert got["training, share of the model-alone rate"] == (0.75, "MISSED")
    assert got["project / seed"][0] == 3.0
    assert got["batch inference, best, images/s"] == (31000.0, "met")
    assert gpu.figures({})[0][1] is None


def test_dry_run_runs_every_step_and_writes_the_section(tmp_path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(OTHER)
    done = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(tmp_path / "work"),
                           "--doc", str(doc)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "work" / "gpu.json").read_text())
    assert list(results) == ["gpu_tests", "bench_train", "model_alone", "protocol", "ddp", "inference"]
    assert all(r["ok"] for r in results.values())
    assert set(results["inference"]["figures"]) == {"eager", "compiled"}
    assert results["bench_train"]["figures"]["project"]["images"] == 6
    assert "target   >= 8,000" in done.stdout and "target  >= 30,000" in done.stdout
    text = doc.read_text()
    assert text.startswith(OTHER) and "## GPU" in text and "DRY RUN" in text
    assert "| inference | ok |" in text and "| ddp | ok |" in text


def test_a_run_split_over_calls_keeps_the_earlier_steps(gpu, tmp_path):
    import torch

    threads = torch.get_num_threads()
    doc, work = tmp_path / "B.md", tmp_path / "work"
    try:
        assert gpu.main(["--dry-run", "--out", str(work), "--doc", str(doc), "--steps", "model_alone"]) == 0
        assert gpu.main(["--dry-run", "--out", str(work), "--doc", str(doc), "--steps", "inference"]) == 0
    finally:
        torch.set_num_threads(threads)
    results = json.loads((work / "gpu.json").read_text())
    assert list(results) == ["model_alone", "inference"] and all(r["ok"] for r in results.values())
    text = doc.read_text()
    assert "| model_alone | ok |" in text and "| inference | ok |" in text and text.count("## GPU") == 1
