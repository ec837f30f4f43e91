"""Shared test fixtures.

Real data lives in ``../shared/data`` beside the repository (see its README). Tests that need it skip
when it is absent, except under CI (``CI=true``), where its absence fails them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VCFNET_SHARED_DATA", REPO.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real test data missing under CI: {path}")
        pytest.skip(f"real test data not present: {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real crops and real DICOMs."""
    return _require(SHARED_DATA)


@pytest.fixture(scope="session")
def dicom_dir(shared_data) -> Path:
    return _require(shared_data / "dicom")


@pytest.fixture(scope="session")
def sample_crops(shared_data) -> Path:
    """The 15 real crops in the original authors' folder layout (``train/{Acute,Chronic,Pathologic}``)."""
    return _require(shared_data / "vcfnet-samples")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (browser downloads fail here); skips without it, fails under CI."""
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()
