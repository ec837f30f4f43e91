"""The service's PACS API against a real Orthanc: QIDO search, WADO retrieve, and "Send to PACS"
(predict through the service's Predictor, STOW-RS SR + GSPS + SC), read back from Orthanc."""
from __future__ import annotations

import io

import pydicom
import pytest
from dicom_toys import check_stored, results_in, upload

from vcfnet.io import read_voc


@pytest.fixture(scope="module")
def film(orthanc, synth_study):
    path = sorted(synth_study.glob("site3-*/*.dcm"))[3]
    upload(orthanc, path)
    return path


@pytest.fixture
def make_client(checkpoint, predictor, tmp_path):
    from fastapi.testclient import TestClient

    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    def make(**settings):
        settings.setdefault("upload_dir", tmp_path / "uploads")
        return TestClient(create_app(Settings(checkpoint=checkpoint, **settings), predictor=predictor))
    return make


def test_search_open_send_round_trip(orthanc, film, make_client, predictor):
    client = make_client(pacs_url=orthanc.dicomweb)
    source = pydicom.dcmread(film, stop_before_pixels=True)
    assert client.get("/api/v1/pacs/config").json() == {"configured": True, "name": orthanc.dicomweb}
    found = client.get("/api/v1/pacs/studies", params={"patient_id": str(source.PatientID)})
    assert found.status_code == 200
    [study] = found.json()["studies"]
    assert study["study"] == source.StudyInstanceUID and study["date"] == source.StudyDate
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber"):
        assert str(source.get(keyword)) not in found.text       # the answer names no patient
    [image] = client.get(f"/api/v1/pacs/studies/{study['study']}/images").json()["images"]
    assert (image["sop"], image["rows"], image["columns"]) == (source.SOPInstanceUID, source.Rows, source.Columns)
    got = client.get("/api/v1/pacs/image", params={k: image[k] for k in ("study", "series", "sop")})
    assert got.status_code == 200 and got.headers["content-type"] == "application/dicom"
    assert pydicom.dcmread(io.BytesIO(got.content)).SOPInstanceUID == source.SOPInstanceUID
    assert results_in(orthanc, source.StudyInstanceUID) == {"SR": [], "PR": [], "OT": []}   # nothing sent yet
    voc = read_voc(film.with_suffix(".xml"))
    boxes = [[b.x0, b.y0, b.x1, b.y1] for b in voc.boxes]
    sent = client.post("/api/v1/pacs/send", json={**{k: image[k] for k in ("study", "series", "sop")},
                                                  "boxes": boxes, "levels": [b.level for b in voc.boxes]})
    assert sent.status_code == 200, sent.text
    stored = check_stored(orthanc, film, predictor)
    assert sent.json()["stored"] == {"sr": stored["SR"][0].SOPInstanceUID, "gsps": stored["PR"][0].SOPInstanceUID,
                                     "sc": stored["OT"][0].SOPInstanceUID}


def test_pacs_errors_are_clear(orthanc, film, make_client, monkeypatch):
    bare = make_client()
    assert bare.get("/api/v1/pacs/config").json() == {"configured": False, "name": ""}
    assert bare.get("/api/v1/pacs/studies").status_code == 404
    client = make_client(pacs_url=orthanc.dicomweb)
    bad = client.get("/api/v1/pacs/studies/1.2.abc/images")
    assert bad.status_code == 422 and "expected a DICOM UID" in bad.json()["error"]["message"]
    assert client.get("/api/v1/pacs/studies", params={"date": "yesterday"}).status_code == 422
    down = make_client(pacs_url="http://127.0.0.1:9/dicom-web")
    answer = down.get("/api/v1/pacs/studies")
    assert answer.status_code == 502 and "PACS http://127.0.0.1:9/dicom-web" in answer.json()["error"]["message"]
    missing = client.post("/api/v1/pacs/send", json={"study": "1.2.3", "series": "1.2.4", "sop": "1.2.5",
                                                     "boxes": [[0, 0, 10, 10]]})
    assert missing.status_code == 404 and "no DX/CR radiograph" in missing.json()["error"]["message"]
    # a radiograph whose QIDO size exceeds MAX_PIXELS is refused before anything is retrieved
    import vcfnet.dicom.dicomweb as dw

    source = pydicom.dcmread(film, stop_before_pixels=True)
    params = {"study": source.StudyInstanceUID, "series": source.SeriesInstanceUID, "sop": source.SOPInstanceUID}
    monkeypatch.setattr(dw, "MAX_PIXELS", source.Rows * source.Columns - 1)
    big = client.get("/api/v1/pacs/image", params=params)
    monkeypatch.undo()
    assert big.status_code == 502 and "exceeds MAX_PIXELS" in big.json()["error"]["message"]
    assert client.get("/api/v1/pacs/image", params=params).status_code == 200
    levels = client.post("/api/v1/pacs/send", json={"study": "1.2.3", "series": "1.2.4", "sop": "1.2.5",
                                                    "boxes": [[0, 0, 10, 10]], "levels": ["L1", "L2"]})
    assert levels.status_code == 422
    age = client.post("/api/v1/pacs/send", json={"study": "1.2.3", "series": "1.2.4", "sop": "1.2.5",
                                                 "boxes": [[0, 0, 10, 10]], "age": "old"})
    assert age.status_code == 422 and "age 'old'" in age.json()["error"]["message"]
