"""Run a developer tool of the test extra (ruff, mypy) from the venv that runs the tests."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_tool(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``name args...`` in the repository root: the venv's copy beside ``sys.executable``, else PATH's."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.is_file() else shutil.which(name)
    assert found, f"{name} is missing: install the test extra (pip install -e '.[test]')"
    return subprocess.run([found, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
