"""Research export: de-identified copies (PS3.15 Basic Profile) that still reference each other, keep
no identifier of the source in any byte, and stay valid (dciodvfy 0 errors)."""
from __future__ import annotations

import pydicom
import pytest
from dicom_toys import content_items, dciodvfy_report

from vcfnet.cli import main
from vcfnet.dicom.results import analyze_file, write_results
from vcfnet.io import read_voc


@pytest.fixture(scope="module")
def exported(films, predictor, tmp_path_factory):
    film = films[1]
    voc = read_voc(film.with_suffix(".xml"))
    results = analyze_file(predictor, film, [(b.x0, b.y0, b.x1, b.y1) for b in voc.boxes],
                           [b.level for b in voc.boxes])
    folder = tmp_path_factory.mktemp("export")
    write_results(results, folder / "results")
    key = folder / "study.key"
    assert main(["pacs", "export", str(folder / "results"), str(film), "--out", str(folder / "research"),
                 "--key", str(key)]) == 0
    return film, folder, key


def test_copies_keep_no_identifier_and_reference_each_other(exported):
    film, folder, _key = exported
    source = pydicom.dcmread(film)
    copies = {ds.Modality: ds for ds in map(pydicom.dcmread, sorted((folder / "research").glob("*.dcm")))}
    assert sorted(copies) == sorted(["OT", "PR", "SR", source.Modality])
    secrets = [str(source.get(k)) for k in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                                            "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                                            "InstitutionName", "ReferringPhysicianName")]
    for path in (folder / "research").glob("*.dcm"):
        data = path.read_bytes()
        assert [s for s in secrets if s.encode() in data] == [], path.name
    image = copies[source.Modality]
    for ds in copies.values():
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.PatientID == image.PatientID and ds.PatientID.startswith("P-")
        assert ds.StudyInstanceUID == image.StudyInstanceUID and ds.StudyInstanceUID.startswith("2.25.")
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    [region] = content_items(copies["SR"], "111030")[:1]
    assert region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == image.SOPInstanceUID
    assert copies["PR"].ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == \
        image.SOPInstanceUID
    assert copies["OT"].SourceImageSequence[0].ReferencedSOPInstanceUID == image.SOPInstanceUID
    # the findings survive: codes, probabilities and the box are not identifiers
    assert len(content_items(copies["SR"], "p-acute")) == len(read_voc(film.with_suffix(".xml")).boxes)
    for modality in ("SR", "PR", "OT"):
        path = folder / "research" / f"{copies[modality].SOPInstanceUID}.dcm"
        errors, _ = dciodvfy_report(path)
        assert errors == [], f"{modality}: {errors}"


def test_same_key_same_uids_other_key_other_uids(exported, tmp_path):
    film, folder, key = exported
    first = {p.name for p in (folder / "research").glob("*.dcm")}
    assert main(["pacs", "export", str(folder / "results"), str(film), "--out", str(tmp_path / "again"),
                 "--key", str(key)]) == 0
    assert {p.name for p in (tmp_path / "again").glob("*.dcm")} == first
    assert main(["pacs", "export", str(folder / "results"), str(film), "--out", str(tmp_path / "other"),
                 "--key", str(tmp_path / "other.key")]) == 0
    assert not first & {p.name for p in (tmp_path / "other").glob("*.dcm")}


def test_burned_in_source_is_refused(films, tmp_path, capsys):
    ds = pydicom.dcmread(films[0])
    ds.BurnedInAnnotation = "YES"
    path = tmp_path / "burned.dcm"
    ds.save_as(path)
    assert main(["pacs", "export", str(path), "--out", str(tmp_path / "o"), "--key", str(tmp_path / "k")]) == 2
    assert "Burned In Annotation is YES" in capsys.readouterr().err
