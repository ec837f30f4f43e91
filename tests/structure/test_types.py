"""src/vcfnet passes mypy with the settings in pyproject.toml ([tool.mypy]): part of the test command, so
CI and every developer run the same type check. mypy's cache (.mypy_cache) makes every run after the first
take seconds."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _mypy() -> list[str]:
    beside = Path(sys.executable).with_name("mypy")     # the venv's, installed by the test extra
    found = str(beside) if beside.is_file() else shutil.which("mypy")
    assert found, "mypy is missing: install the test extra (pip install -e '.[test]')"
    return [found]


def test_mypy_is_clean_on_the_package():
    # no paths: mypy checks the files [tool.mypy] names, with its settings
    run = subprocess.run([*_mypy(), "--no-pretty"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
