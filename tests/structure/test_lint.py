"""The whole tree passes ruff with the rules in pyproject.toml ([tool.ruff]): part of the test command,
so CI and every developer run the same lint."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")     # the venv's, installed by the test extra
    found = str(beside) if beside.is_file() else shutil.which("ruff")
    assert found, "ruff is missing: install the test extra (pip install -e '.[test]')"
    return [found]


def test_ruff_is_clean_on_the_whole_tree():
    run = subprocess.run([*_ruff(), "check", "--no-cache", "--output-format", "concise", "src", "tests", "benchmarks"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
