"""Keyed pseudonyms, the study key file and the allow-listed DICOM metadata."""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
import threading

import pytest
from pydicom.dataset import Dataset

from vcfnet.errors import InputError
from vcfnet.io import Pseudonymizer, load_or_create_key
from vcfnet.io.deid import parse_age, safe_dicom_meta


def test_pseudonym_is_hmac_sha256_prefix():
    key = bytes(range(32))
    expected = "P-" + hmac.new(key, b"12345", hashlib.sha256).hexdigest()[:16]
    assert Pseudonymizer(key).patient("12345") == expected
    assert Pseudonymizer(key).patient("12345  ") == expected  # DICOM space padding is not identity


def test_pseudonym_deterministic_per_key_and_different_across_keys():
    a, b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    assert a.patient("MRN-1") == Pseudonymizer(b"a" * 32).patient("MRN-1")
    assert a.patient("MRN-1") != b.patient("MRN-1")
    assert a.patient("MRN-1") != a.patient("MRN-2")
    assert "a" * 32 not in repr(a)
    with pytest.raises(ValueError):
        a.patient("   ")
    with pytest.raises(ValueError):
        Pseudonymizer(b"short")


def test_key_file_created_once_with_mode_0600(tmp_path):
    path = tmp_path / "study" / "secret.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and path.read_bytes() == key
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]
    assert load_or_create_key(tmp_path / "other.key") != key


def test_concurrent_creation_yields_one_key(tmp_path):
    path = tmp_path / "secret.key"
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(load_or_create_key(path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and keys[0] == path.read_bytes()


def test_bad_key_file(tmp_path):
    path = tmp_path / "secret.key"
    path.write_bytes(b"too short")
    with pytest.raises(InputError, match="secret.key.*32 bytes"):
        load_or_create_key(path)


@pytest.mark.parametrize("text, years", [("067Y", 67.0), ("018M", 1.5), ("052W", 0.9966),
                                         ("000D", 0.0), ("67", None), ("", None), ("abcY", None)])
def test_parse_age(text, years):
    assert parse_age(text) == years


def test_safe_dicom_meta_allow_list():
    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "X-778899", "19300101"
    ds.AccessionNumber, ds.OtherPatientIDs = "ACC-1", "OTHER-1"
    ds.Modality, ds.BodyPartExamined, ds.Manufacturer = "CR", "LSPINE", "Acme"
    ds.PhotometricInterpretation, ds.BitsStored = "MONOCHROME1", 12
    ds.ImagerPixelSpacing, ds.StudyDate, ds.PatientAge, ds.PatientSex = [0.15, 0.15], "20210105", "071Y", "M"
    meta = safe_dicom_meta(ds, Pseudonymizer(b"k" * 32))
    assert meta == {
        "format": "DICOM", "modality": "CR", "pixel_spacing": [0.15, 0.15],
        "pixel_spacing_source": "ImagerPixelSpacing", "body_part": "LSPINE", "photometric": "MONOCHROME1",
        "bits_stored": 12, "manufacturer": "Acme", "study_date": "2021-01-05", "patient_age": 71.0,
        "patient_sex": "M", "patient_key": Pseudonymizer(b"k" * 32).patient("X-778899"),
    }
    for value in ("Doe", "X-778899", "19300101", "ACC-1", "OTHER-1"):
        assert value not in repr(meta)
    del ds.PatientID
    assert safe_dicom_meta(ds, Pseudonymizer(b"k" * 32))["patient_key"] is None


def test_path_pseudonyms_are_keyed_and_redact_every_name_of_the_source(tmp_path, caplog):
    import logging

    from vcfnet.io.deid import PathPseudonyms, redacting_logs

    root = tmp_path / "SMITH^JOHN_PID-7777123"
    (root / "day 2").mkdir(parents=True)
    (root / "day 2" / "DOE_JANE 8888123.dcm").write_bytes(b"x")
    a, b = PathPseudonyms(b"a" * 32, root), PathPseudonyms(b"b" * 32, root)
    assert a.file("x.dcm") == PathPseudonyms(b"a" * 32, root).file("x.dcm") != b.file("x.dcm")
    assert a.source_id != b.source_id and "SMITH" not in a.source_id + a.file("x.dcm")
    assert a.of_path(root / "day 2" / "DOE_JANE 8888123.dcm") == a.file("day 2/DOE_JANE 8888123.dcm")
    text = a.redact(f"{root}/day 2/DOE_JANE 8888123.dcm: names image 'DOE_JANE.png' (nor DOE_JANE 8888123.*)")
    for needle in ("SMITH", "7777123", "8888123", str(tmp_path)):
        assert needle not in text
    assert "names image" in text                               # the reason itself survives
    caplog.set_level(logging.INFO)
    with redacting_logs(a):
        logging.getLogger("vcfnet.anywhere").warning("%s: bad", root / "day 2" / "DOE_JANE 8888123.dcm")
        try:
            raise ValueError(f"{root}/x.dcm: DOE_JANE broke")
        except ValueError:
            logging.getLogger("vcfnet.anywhere").exception("failed")
    logging.getLogger("vcfnet.anywhere").warning("after: %s", "SMITH")   # only while ingesting
    assert "8888123" not in caplog.records[0].getMessage() and "SMITH" in caplog.records[2].getMessage()
    assert "ValueError" in caplog.text and "DOE_JANE" not in caplog.text and "7777123" not in caplog.text
