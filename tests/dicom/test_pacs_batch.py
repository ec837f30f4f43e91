"""``vcfnet pacs analyze`` against a real Orthanc: studies by UID and by QIDO query, boxes from LabelImg
XML by SOP Instance UID, SR + GSPS + SC stored back (STOW-RS) and read back from Orthanc; resumable."""
from __future__ import annotations

import json

import pydicom
import pytest
from dicom_toys import boxes_by_uid, check_stored, find_instances, results_in, upload

from vcfnet.cli import main


@pytest.fixture(scope="module")
def loaded(orthanc, synth_study, tmp_path_factory):
    """Three synthetic films in Orthanc (three studies); boxes for two of them."""
    films = [sorted(synth_study.glob(f"site{s}-*/*.dcm"))[1] for s in (1, 2, 4)]
    for film in films:
        upload(orthanc, film)
    boxes = boxes_by_uid(films[:2], tmp_path_factory.mktemp("boxes"))
    return films, boxes


def study_of(film):
    return str(pydicom.dcmread(film, stop_before_pixels=True).StudyInstanceUID)


def test_analyze_by_uid_then_by_query_resumes(orthanc, loaded, checkpoint, predictor, tmp_path, capsys):
    films, boxes = loaded
    out = tmp_path / "run"
    base = ["pacs", "analyze", str(checkpoint), "--pacs", orthanc.dicomweb, "--boxes", str(boxes), "--out", str(out)]
    assert main(base + ["--study", study_of(films[0])]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [v["status"] for v in manifest["images"].values()] == ["done"]
    first = dict(manifest["images"])
    # the query finds all three studies: the first is skipped (done), the third has no boxes
    assert main(base + ["--query", "StudyDescription=XR*"]) == 0
    assert "3 studies: 2 images done, 1 without boxes, 0 failed" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: v for k, v in manifest["images"].items() if k in first} == first
    assert sorted(v["status"] for v in manifest["images"].values()) == ["done", "done", "no-boxes"]
    for film in films[:2]:
        stored = check_stored(orthanc, film, predictor)
        uid = pydicom.dcmread(film, stop_before_pixels=True).SOPInstanceUID
        assert manifest["images"][uid]["results"] == {"sr": stored["SR"][0].SOPInstanceUID,
                                                      "gsps": stored["PR"][0].SOPInstanceUID,
                                                      "sc": stored["OT"][0].SOPInstanceUID}
    assert results_in(orthanc, study_of(films[2])) == {"SR": [], "PR": [], "OT": []}
    # a third run stores nothing new (all done or still without boxes)
    before = len(find_instances(orthanc, study_of(films[0])))
    assert main(base + ["--study", study_of(films[0])]) == 0
    assert len(find_instances(orthanc, study_of(films[0]))) == before == 4


def test_no_store_writes_results_and_names_no_patient(orthanc, loaded, checkpoint, tmp_path):
    films, boxes = loaded
    out = tmp_path / "dry"
    assert main(["pacs", "analyze", str(checkpoint), "--pacs", orthanc.dicomweb, "--boxes", str(boxes),
                 "--out", str(out), "--study", study_of(films[1]), "--no-store"]) == 0
    written = sorted((out / "results").glob("*.dcm"))
    assert [p.name.split("-")[0] for p in written] == ["gsps", "sc", "sr"]
    source = pydicom.dcmread(films[1], stop_before_pixels=True)
    text = (out / "manifest.json").read_text() + " ".join(p.name for p in written)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber"):
        assert str(source.get(keyword)) not in text


def test_bad_input_is_one_line(orthanc, loaded, checkpoint, tmp_path, capsys):
    films, boxes = loaded
    base = ["pacs", "analyze", str(checkpoint), "--pacs", orthanc.dicomweb, "--out", str(tmp_path / "x")]
    assert main(base + ["--boxes", str(tmp_path / "missing"), "--study", "1.2.3"]) == 2
    assert "boxes folder does not exist" in capsys.readouterr().err
    assert main(base + ["--boxes", str(boxes), "--query", "nonsense"]) == 2
    assert "expected KEYWORD=VALUE" in capsys.readouterr().err
    assert main(["pacs", "analyze", str(checkpoint), "--pacs", "http://127.0.0.1:9/dicom-web", "--boxes",
                 str(boxes), "--study", "1.2.3", "--out", str(tmp_path / "y")]) == 2
    assert "PACS http://127.0.0.1:9/dicom-web: instance search failed" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    uid = pydicom.dcmread(films[0], stop_before_pixels=True).SOPInstanceUID
    (broken / f"{uid}.xml").write_text("<annotation><filename>x</filename><object><name>Acute-L1</name>"
                                       "</object></annotation>")
    assert main(base + ["--boxes", str(broken), "--study", study_of(films[0])]) == 0
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["images"][uid]["status"] == "failed" and "bndbox" in manifest["images"][uid]["reason"]
