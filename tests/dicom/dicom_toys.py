"""Helpers for the DICOM tests (fixtures: conftest.py), imported by this unique name.

``dciodvfy_report`` runs dicom3tools' validator and parses its lines; ``start_orthanc`` runs a real
Orthanc (Debian's package) with the DICOMweb plugin on free loopback ports and a temporary storage.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ORTHANC = Path("/usr/sbin/Orthanc")
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
ORTHANC_AET = "ORTHANC"


def require_binary(path: Path | str | None, what: str) -> Path:
    """``path`` if it exists; else skip naming the package (fail under CI, which installs it)."""
    found = Path(path) if path and Path(path).exists() else None
    if found is None:
        message = f"{what} not installed (apt-get install {what})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; .ci/run installs it")
        pytest.skip(message)
    return found


def dciodvfy_report(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings): the ``Error -`` and ``Warning -`` lines dciodvfy prints for ``path``."""
    exe = require_binary(shutil.which("dciodvfy"), "dicom3tools")
    run = subprocess.run([str(exe), str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    errors = [ln for ln in lines if ln.startswith("Error")]
    warnings = [ln for ln in lines if ln.startswith("Warning")]
    return errors, warnings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Orthanc:
    """A running Orthanc: its REST root, DICOMweb root, DICOM port and process."""

    url: str
    dicomweb: str
    dicom_port: int
    aet: str
    process: subprocess.Popen
    folder: Path
    log: Any = None

    def get(self, path: str):
        import httpx

        response = httpx.get(self.url + path, timeout=30)
        response.raise_for_status()
        return response.json()


def orthanc_config(folder: Path, http_port: int, dicom_port: int, modalities: dict | None = None) -> dict:
    """The Orthanc configuration the tests use (the README's sample is the same, ports aside)."""
    return {"Name": "vcfnet-test", "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "storage"), "HttpPort": http_port, "DicomPort": dicom_port,
            "DicomAet": ORTHANC_AET, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
            "Plugins": [str(DICOMWEB_PLUGIN)], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "DicomModalities": modalities or {}, "SaveJobs": False, "HttpThreadsCount": 8,
            "DicomAlwaysAllowStore": True, "DicomCheckCalledAet": False}


def start_orthanc(folder: Path, modalities: dict | None = None) -> Orthanc:
    """Start Orthanc on free loopback ports; wait until its REST API answers (or fail with its log)."""

    exe = require_binary(ORTHANC, "orthanc")
    require_binary(DICOMWEB_PLUGIN, "orthanc-dicomweb")
    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = free_port(), free_port()
    config = folder / "orthanc.json"
    config.write_text(json.dumps(orthanc_config(folder, http_port, dicom_port, modalities), indent=2))
    log = open(folder / "orthanc.log", "wb")
    proc = subprocess.Popen([str(exe), str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    wait_until_up(proc, url + "/system", folder / "orthanc.log", "Orthanc", 60)
    return Orthanc(url=url, dicomweb=url + "/dicom-web", dicom_port=dicom_port, aet=ORTHANC_AET, process=proc,
                   folder=folder, log=log)


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, what: str, seconds: float) -> None:
    """Poll ``url`` until it answers 200; fail with the end of ``log`` if ``proc`` exits or time runs out."""
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"{what} did not answer within {seconds:g} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop_orthanc(orthanc: Orthanc) -> None:
    orthanc.process.terminate()
    try:
        orthanc.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        orthanc.process.kill()
        orthanc.process.wait(timeout=10)
    if orthanc.log is not None:
        orthanc.log.close()


def upload(orthanc: Orthanc, path: Path) -> dict:
    """Store a DICOM file in Orthanc through its REST API (``POST /instances``)."""
    import httpx

    response = httpx.post(orthanc.url + "/instances", content=path.read_bytes(), timeout=60)
    response.raise_for_status()
    return response.json()


def find_instances(orthanc: Orthanc, study_uid: str) -> list[dict]:
    """Every instance Orthanc holds in a study: its REST id and main tags (``/tools/find``)."""
    import httpx

    response = httpx.post(orthanc.url + "/tools/find", json={"Level": "Instance", "Expand": True,
                                                             "Query": {"StudyInstanceUID": study_uid}}, timeout=30)
    response.raise_for_status()
    return response.json()


def download(orthanc: Orthanc, instance_id: str):
    """The stored file of an Orthanc instance, read with pydicom."""
    import io

    import httpx
    import pydicom

    response = httpx.get(f"{orthanc.url}/instances/{instance_id}/file", timeout=30)
    response.raise_for_status()
    return pydicom.dcmread(io.BytesIO(response.content))


def results_in(orthanc: Orthanc, study_uid: str) -> dict[str, list]:
    """The vcfnet results Orthanc holds in a study, read back: {"SR": [...], "PR": [...], "OT": [...]}."""
    out: dict[str, list] = {"SR": [], "PR": [], "OT": []}
    for item in find_instances(orthanc, study_uid):
        ds = download(orthanc, item["ID"])
        if ds.Modality in out and ds.get("Manufacturer") == "vcfnet":
            out[ds.Modality].append(ds)
    return out


def boxes_by_uid(films, folder: Path) -> Path:
    """A boxes folder for ``films``: each film's LabelImg XML copied to ``<SOPInstanceUID>.xml``."""
    import pydicom

    folder.mkdir(parents=True, exist_ok=True)
    for film in films:
        uid = pydicom.dcmread(film, stop_before_pixels=True).SOPInstanceUID
        shutil.copy(film.with_suffix(".xml"), folder / f"{uid}.xml")
    return folder


def box_outline(box) -> list[float]:
    x0, y0, x1, y1 = box
    return [x0, y0, x1, y0, x1, y1, x0, y1, x0, y0]


def content_items(ds, code_value: str) -> list:
    """Every SR content item (depth first) whose concept name has ``code_value``."""
    found = []
    for item in ds.get("ContentSequence", []):
        if item.get("ConceptNameCodeSequence") and item.ConceptNameCodeSequence[0].CodeValue == code_value:
            found.append(item)
        found += content_items(item, code_value)
    return found


def check_stored(orthanc: Orthanc, film: Path, predictor) -> dict[str, list]:
    """Read vcfnet's SR, GSPS and SC of ``film`` back from Orthanc and check them field by field against
    the film, its LabelImg boxes and levels, and the Predictor's own answer; returns them."""
    import numpy as np
    import pydicom

    from vcfnet.dicom import codes
    from vcfnet.io import read_voc

    source = pydicom.dcmread(film, stop_before_pixels=True)
    voc = read_voc(film.with_suffix(".xml"))
    boxes = [(b.x0, b.y0, b.x1, b.y1) for b in voc.boxes]
    stored = results_in(orthanc, str(source.StudyInstanceUID))
    assert [len(stored[k]) for k in ("SR", "PR", "OT")] == [1, 1, 1]
    sr, gsps, sc = stored["SR"][0], stored["PR"][0], stored["OT"][0]
    for ds in (sr, gsps, sc):
        assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.PatientID == source.PatientID
        assert ds.SeriesInstanceUID != source.SeriesInstanceUID
    groups = content_items(sr, "125007")
    assert len(groups) == len(boxes)
    for group, box, b, answer in zip(groups, boxes, voc.boxes, predictor.predict(str(film), boxes)):
        assert content_items(group, "121071")[0].ConceptCodeSequence[0].CodeValue == codes.FINDING.value
        assert content_items(group, "363698007")[0].ConceptCodeSequence[0].CodeValue == \
            codes.level_code(b.level).value
        assert content_items(group, "fracture-class")[0].ConceptCodeSequence[0].CodeValue == \
            codes.CLASS_CODES[answer.predicted].value
        assert content_items(group, "refer")[0].ConceptCodeSequence[0].CodeValue == \
            (codes.YES if answer.refer else codes.NO).value
        for cls, p in answer.probabilities.items():
            value = float(content_items(group, f"p-{cls}")[0].MeasuredValueSequence[0].NumericValue)
            assert abs(value - p) < 1e-6
        [region] = content_items(group, "111030")
        assert np.allclose([float(v) for v in region.GraphicData], box_outline(box))
        assert region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    annotation = gsps.GraphicAnnotationSequence[0]
    assert gsps.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == \
        source.SOPInstanceUID
    assert [np.allclose([float(v) for v in g.GraphicData], box_outline(box))
            for g, box in zip(annotation.GraphicObjectSequence, boxes)] == [True] * len(boxes)
    assert [t.UnformattedTextValue.split()[0] for t in annotation.TextObjectSequence] == \
        [b.level for b in voc.boxes]
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    rgb = sc.pixel_array
    assert rgb.shape == (source.Rows, source.Columns, 3)
    x0, y0, x1, y1 = (int(v) for v in boxes[0])
    assert tuple(rgb[(y0 + y1) // 2, x0]) == (255, 230, 0)
    return stored
