"""benchmarks/bench_synth.py: the old generator really comes from the old tree, and a bad tree is refused."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_synth.py"


def test_a_folder_without_a_generator_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode != 0 and "not a vcfnet checkout" in done.stderr


@pytest.mark.slow
def test_old_and_new_generators_are_timed_from_their_own_trees(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(ROOT / "src", old / "src")      # a copy of this checkout stands in for a worktree
    done = subprocess.run([sys.executable, str(SCRIPT), str(old), "--scale", "0.001", "--repeats", "1",
                           "--workers", "1"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("old ") and "ratio new / old" in done.stdout
