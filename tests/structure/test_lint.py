"""The whole tree passes ruff with the rules in pyproject.toml ([tool.ruff]): part of the test command,
so CI and every developer run the same lint."""
from __future__ import annotations

from dev_tools import run_tool


def test_ruff_is_clean_on_the_whole_tree():
    run = run_tool("ruff", "check", "--no-cache", "--output-format", "concise", "src", "tests", "benchmarks",
                   timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
