"""Fixtures for the DICOM results tests: synthetic DICOM radiographs (``vcfnet.synth``), a Predictor
on a tiny real checkpoint, and a real Orthanc per test module (helpers in dicom_toys.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
from dicom_toys import start_orthanc, stop_orthanc


@pytest.fixture(scope="session")
def synth_study(tmp_path_factory) -> Path:
    """A tiny ``vcfnet synth`` study (DICOM, made-up identifiers, LabelImg XML beside each film)."""
    from vcfnet.synth.generate import generate_study

    out = tmp_path_factory.mktemp("synth") / "study"
    generate_study(out, scale=0.005, seed=0, fmt="dicom", workers=1, resolution=0.3)
    return out


@pytest.fixture(scope="session")
def films(synth_study) -> list[Path]:
    """Three synthetic DICOM films of different sites (MONOCHROME1 and MONOCHROME2, DX and CR)."""
    picks = [sorted(synth_study.glob(f"site{s}-*/*.dcm"))[0] for s in (1, 2, 3)]
    return picks


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A real checkpoint (weights + card) of a tiny random-init ResNet-18 on 64 px crops."""
    import torch

    from vcfnet.labels import CLASSES
    from vcfnet.model.checkpoint import save_checkpoint
    from vcfnet.model.network import build_model
    from vcfnet.preprocess import PREPROCESSING_VERSION

    torch.manual_seed(0)
    model = build_model("resnet18", weights=None)
    model.input_size = 64
    card = {"classes": list(CLASSES), "input_size": 64, "crop_size": 64, "crop_margin": 0.1,
            "temperature": None, "preprocessing_version": PREPROCESSING_VERSION}
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best", model.eval(), card)


@pytest.fixture(scope="session")
def predictor(checkpoint):
    from vcfnet.predict import Predictor

    return Predictor(checkpoint)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    """A real Orthanc with the DICOMweb plugin on free loopback ports, one per test module."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    stop_orthanc(server)
