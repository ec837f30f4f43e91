"""src/vcfnet passes mypy with the settings in pyproject.toml ([tool.mypy]): part of the test command, so
CI and every developer run the same type check. mypy's cache (.mypy_cache) makes every run after the first
take seconds."""
from __future__ import annotations

from dev_tools import run_tool


def test_mypy_is_clean_on_the_package():
    # no paths: mypy checks the files [tool.mypy] names, with its settings
    run = run_tool("mypy", "--no-pretty")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
