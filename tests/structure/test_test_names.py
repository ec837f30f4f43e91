"""Test modules need unique basenames: the test folders are not packages, so pytest imports each file by
its basename and a second ``test_x.py`` elsewhere stops the whole suite at collection."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_and_helper_has_a_unique_basename():
    names = Counter(p.name for p in TESTS.rglob("*.py") if p.name not in ("conftest.py", "__init__.py"))
    assert [n for n, k in names.items() if k > 1] == []
