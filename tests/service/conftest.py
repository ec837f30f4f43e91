"""Fixtures for the service tests: a tiny real checkpoint, images, a DICOM with made-up identifiers,
an app factory and a real uvicorn server on a free loopback port."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

#: Made-up patient identifiers; none of them may ever appear in a response, a log line or a file.
IDENTIFIERS = {"PatientName": "Quixotica^Zyxwvutson", "PatientID": "PID-98765-XQ",
               "PatientBirthDate": "19230417", "AccessionNumber": "ACC55501ZZ"}
SECRET_WORDS = ("Quixotica", "Zyxwvutson", "PID-98765-XQ", "19230417", "ACC55501ZZ")


def phantom(height: int = 320, width: int = 240, seed: int = 0) -> np.ndarray:
    """A smooth grey test image (uint8) with a bright block where a vertebra would be."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = 60 + 40 * np.sin(xx / 17.0) + 30 * np.cos(yy / 23.0) + rng.normal(0, 6, (height, width))
    img[100:180, 80:170] += 80
    return np.clip(img, 0, 255).astype(np.uint8)


def png_bytes(array: np.ndarray | None = None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(phantom() if array is None else array).save(buf, format="PNG")
    return buf.getvalue()


def dicom_bytes(rows: int = 320, cols: int = 240, identifiers: dict | None = None) -> bytes:
    """An uncompressed 12-bit MONOCHROME2 DX DICOM carrying ``identifiers`` in its header."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    for key, value in (identifiers or IDENTIFIERS).items():
        setattr(ds, key, value)
    ds.Modality, ds.BodyPartExamined, ds.StudyDate = "DX", "LSPINE", "20240102"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, cols, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (phantom(rows, cols).astype(np.uint16) * 16).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """The best/ checkpoint that real training (``vcfnet.model.train.fit``, one epoch at toy size: 64 px
    crops, random init) made of a tiny study, so the card the service shows is one training writes."""
    import importlib.util

    from vcfnet.model.config import TrainConfig
    from vcfnet.model.train import fit

    # the model tests' tiny study (real Study table, crop cache, splits); conftest modules are not importable
    spec = importlib.util.spec_from_file_location("_model_conftest", Path(__file__).parents[1] / "model" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("ckpt")
    study = module.write_tiny_study(root / "study", size=64)
    config = TrainConfig(epochs=1, batch_size=4, weights=None, input_size=64, amp="fp32", device="cpu",
                         seed=0, num_threads=1)
    return fit(study, root / "run", config)


@pytest.fixture(scope="session")
def predictor(checkpoint):
    from vcfnet.predict import Predictor

    return Predictor(checkpoint)


@pytest.fixture
def make_client(checkpoint, predictor, tmp_path):
    """``make_client(**settings)`` -> a TestClient on a fresh app sharing the session's Predictor."""
    from fastapi.testclient import TestClient

    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    def make(**overrides):
        overrides.setdefault("upload_dir", tmp_path / "uploads")
        app = create_app(Settings(checkpoint=checkpoint, **overrides), predictor=predictor)
        return TestClient(app)
    return make


@pytest.fixture
def client(make_client):
    return make_client()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(checkpoint, tmp_path_factory):
    """``vcfnet serve`` as a real uvicorn process on a free loopback port; yields (url, log_path)."""
    import httpx

    folder = tmp_path_factory.mktemp("live")
    log_path = folder / "server.log"
    port = free_port()
    (folder / "tmp").mkdir()          # the server's own temporary folder: it must be empty after a SIGTERM
    env = {**os.environ, "VCFNET_UPLOAD_DIR": str(folder / "uploads"), "TMPDIR": str(folder / "tmp")}
    cmd = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())",
           "serve", "--checkpoint", str(checkpoint), "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer within 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, log_path, folder / "uploads"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    left = [p.name for p in (folder / "tmp").iterdir()]
    assert proc.returncode == 128 + 15 and not left, (proc.returncode, left)   # its state folder removed

def predict_files(image: bytes, boxes=None, *, name: str = "radiograph.png", gradcam: bool = False):
    """``files`` and ``data`` for ``client.post('/api/v1/predict', ...)``."""
    data = {"boxes": json.dumps(boxes if boxes is not None else [[80, 100, 170, 180]])}
    if gradcam:
        data["gradcam"] = "true"
    return {"image": (name, image, "application/octet-stream")}, data


@pytest.fixture(scope="session")
def media():
    """The helpers above, for test modules (conftest modules are not importable by name)."""
    import types

    return types.SimpleNamespace(phantom=phantom, png=png_bytes, dicom=dicom_bytes, files=predict_files,
                                 identifiers=IDENTIFIERS, secret_words=SECRET_WORDS)
