"""The examples in the stats docstrings run and give the outputs they show."""
from __future__ import annotations

import doctest
import importlib
import warnings

import pytest

import vcfnet.stats as stats

MODULES = ["roc", "proportions", "classification", "calibration"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"vcfnet.stats.{name}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 2, f"{name} has too few examples"
    assert result.failed == 0
    # Only the example that demonstrates a class without cases may warn.
    assert all("have no cases" in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_every_public_function_has_an_example():
    for name in stats.__all__:
        obj = getattr(stats, name)
        if callable(obj) and not isinstance(obj, type):
            assert ">>>" in (obj.__doc__ or ""), f"{name} has no runnable example"
