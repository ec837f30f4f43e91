"""read_radiograph on the real DICOMs in ../shared/data/dicom and on tiny files made in tmp_path."""
from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from vcfnet.errors import InputError
from vcfnet.io import Pseudonymizer, Radiograph, read_radiograph


def make_dicom(path, pixels, *, photometric="MONOCHROME2", bits=8, preamble=True, **elements):
    """Write an uncompressed single-sample DICOM with ``pixels`` as stored values."""
    pixels = np.asarray(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 1 if pixels.ndim == 2 else pixels.shape[-1]
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if bits <= 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits - 1, 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.PixelData = pixels.astype(np.uint8 if bits <= 8 else np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=preamble)
    return path


def raw_correlation(path, radiograph: Radiograph) -> float:
    stored = pydicom.dcmread(path).pixel_array.astype(np.float64)
    return float(np.corrcoef(stored.ravel(), radiograph.pixels.ravel())[0, 1])


def check_unit_image(r: Radiograph) -> None:
    assert r.pixels.ndim == 2 and r.pixels.dtype == np.float32
    assert 0.0 <= r.pixels.min() and r.pixels.max() <= 1.0


# --- real DICOMs -------------------------------------------------------------------------------

def test_monochrome1_dx_comes_out_bone_bright(dicom_dir):
    path = dicom_dir / "dx_image.dcm"
    r = read_radiograph(path)
    check_unit_image(r)
    assert r.meta["photometric"] == "MONOCHROME1" and r.pixels.shape == (169, 211)
    assert raw_correlation(path, r) < -0.99  # high stored value = dark on MONOCHROME1
    assert r.pixels.std() > 0.1


def test_monochrome1_jpeg2000_full_size(dicom_dir):
    path = dicom_dir / "966_fixed.dcm"
    r = read_radiograph(path)
    check_unit_image(r)
    assert r.pixels.shape == (2128, 2000)
    assert raw_correlation(path, r) < -0.99
    assert r.meta["bits_stored"] == 12 and r.meta["pixel_spacing"] == [0.16, 0.16]


def test_monochrome2_increases_with_stored_value(dicom_dir):
    path = dicom_dir / "RG2_JPLL.dcm"
    assert raw_correlation(path, read_radiograph(path)) > 0.99


def test_broken_jpeg2000_names_the_file(dicom_dir, caplog):
    with caplog.at_level(logging.WARNING), pytest.raises(InputError) as info:
        read_radiograph(dicom_dir / "966.dcm")
    message = str(info.value)
    assert "966.dcm" in message and "decode" in message and "JPEG 2000" in message
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)


def test_lossless_transfer_syntaxes_agree_and_lossy_is_close(dicom_dir):
    jpll = read_radiograph(dicom_dir / "RG2_JPLL.dcm").pixels
    jlsl = read_radiograph(dicom_dir / "RG2_JLSL.dcm").pixels
    jply = read_radiograph(dicom_dir / "RG2_JPLY.dcm").pixels
    assert np.array_equal(jpll, jlsl)
    assert jply.shape == jpll.shape
    assert np.mean(np.abs(jply - jpll)) < 0.02
    assert np.corrcoef(jply.ravel(), jpll.ravel())[0, 1] > 0.99


def test_16bit_window_without_contrast_falls_back_with_warning(dicom_dir, caplog):
    path = dicom_dir / "JPEG2KLossless_1s_1f_u_16_16.dcm"
    with caplog.at_level(logging.WARNING, logger="vcfnet"):
        r = read_radiograph(path)
    check_unit_image(r)
    assert 0.05 < r.pixels.std()
    assert np.mean(r.pixels >= 1.0) < 0.5 and np.mean(r.pixels <= 0.0) < 0.5
    assert raw_correlation(path, r) > 0.9
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert any(path.name in m and "window (centre 2725, width 5310)" in m for m in warnings), warnings


# --- tiny DICOMs made here ----------------------------------------------------------------------

STORED = np.array([[0, 50, 60, 100], [149, 150, 200, 255]])


def test_voi_window_is_applied_before_monochrome1_inversion(tmp_path):
    # LINEAR window c=100, w=100: y = (x - 99.5) / 99 + 0.5, clipped; x <= 50 -> 0, x > 149 -> 1.
    path = make_dicom(tmp_path / "m1.dcm", STORED, photometric="MONOCHROME1",
                      WindowCenter=100, WindowWidth=100)
    windowed = np.array([[0, 0, 0.5 - 39.5 / 99, 0.5 + 0.5 / 99], [1, 1, 1, 1]])
    expected = 1.0 - windowed
    got = read_radiograph(path).pixels
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # The original converter's order (invert stored values, then window) gives another image.
    inverted_first = np.clip((255 - STORED - 99.5) / 99 + 0.5, 0, 1)
    assert not np.allclose(got, inverted_first, atol=0.05)


def test_rescale_is_applied_before_the_window(tmp_path):
    # Modality LUT: v = 2x - 10; window c=190, w=101 on v: y = (v - 189.5) / 100 + 0.5.
    path = make_dicom(tmp_path / "m2.dcm", STORED, RescaleSlope=2, RescaleIntercept=-10,
                      WindowCenter=190, WindowWidth=101)
    v = 2.0 * STORED - 10
    expected = np.clip((v - 189.5) / 100 + 0.5, 0, 1)
    np.testing.assert_allclose(read_radiograph(path).pixels, expected, atol=1e-6)


def test_voi_lut_sequence_is_preferred_to_the_window(tmp_path):
    item = Dataset()
    item.add_new(0x00283002, "US", [256, 0, 16])  # LUT Descriptor: 16-bit entries declared ...
    item.add_new(0x00283006, "OW", (16 * np.arange(256, dtype="<u2")).tobytes())  # ... 12 bits used
    path = make_dicom(tmp_path / "lut.dcm", STORED, VOILUTSequence=[item], WindowCenter=0, WindowWidth=1)
    np.testing.assert_allclose(read_radiograph(path).pixels, STORED * 16 / 4095.0, atol=1e-6)


def test_no_window_uses_bits_stored_range(tmp_path):
    stored = np.array([[0, 1000], [2048, 4095]])
    path = make_dicom(tmp_path / "nowin.dcm", stored, bits=12)
    np.testing.assert_allclose(read_radiograph(path).pixels, stored / 4095.0, atol=1e-6)


def test_detected_by_content_not_extension(tmp_path):
    path = make_dicom(tmp_path / "image.png", STORED, WindowCenter=128, WindowWidth=256)
    assert read_radiograph(path).meta["format"] == "DICOM"
    bare = make_dicom(tmp_path / "bare", STORED, preamble=False, WindowCenter=128, WindowWidth=256)
    assert bare.read_bytes()[128:132] != b"DICM"
    assert read_radiograph(bare).meta["format"] == "DICOM"
    # No preamble and no meta header either (implicit VR): the encoding is inferred.
    ds = pydicom.dcmread(bare, force=True)
    del ds.file_meta
    pydicom.dcmwrite(tmp_path / "raw", ds, implicit_vr=True, little_endian=True)
    expected = read_radiograph(bare).pixels
    np.testing.assert_array_equal(read_radiograph(tmp_path / "raw").pixels, expected)


def test_dicom_without_pixels_is_refused(tmp_path):
    path = make_dicom(tmp_path / "nopix.dcm", STORED)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(InputError, match="nopix.dcm.*no pixel data"):
        read_radiograph(path)


def test_colour_and_multiframe_dicom_are_refused(tmp_path):
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    colour = make_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB", PlanarConfiguration=0)
    with pytest.raises(InputError, match="rgb.dcm.*colour"):
        read_radiograph(colour)
    frames = make_dicom(tmp_path / "multi.dcm", np.zeros((8, 4), dtype=np.uint8), Rows=4,
                        NumberOfFrames=2)
    with pytest.raises(InputError, match="multi.dcm.*multi-frame"):
        read_radiograph(frames)


IDENTIFIERS = {"PatientName": "Zyxwvut^Quenby", "PatientID": "PID-93847561",
               "PatientBirthDate": "19270314", "AccessionNumber": "ACC55512345"}


def test_identifiers_never_reach_meta_or_logs(tmp_path, caplog):
    path = make_dicom(tmp_path / "id.dcm", STORED, WindowCenter=128, WindowWidth=256,
                      PatientAge="067Y", PatientSex="F", StudyDate="20190402", **IDENTIFIERS)
    with caplog.at_level(logging.DEBUG):
        r = read_radiograph(path, pseudonymizer=Pseudonymizer(b"k" * 32))
        unkeyed = read_radiograph(path)
    text = repr(r) + repr(r.meta) + repr(unkeyed.meta) + caplog.text
    for value in list(IDENTIFIERS.values()) + ["Zyxwvut", "Quenby", "1927"]:
        assert value not in text
    assert r.meta["patient_key"] == Pseudonymizer(b"k" * 32).patient("PID-93847561")
    assert r.meta["patient_key"].startswith("P-") and unkeyed.meta["patient_key"] is None
    assert (r.meta["patient_age"], r.meta["patient_sex"], r.meta["study_date"]) == (67.0, "F", "2019-04-02")


def test_errors_do_not_quote_identifiers(tmp_path):
    path = make_dicom(tmp_path / "broken.dcm", STORED, **IDENTIFIERS)
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # pixel data shorter than Rows x Columns
    with pytest.raises(InputError) as info:
        read_radiograph(path)
    assert "broken.dcm" in str(info.value)
    assert not any(v in str(info.value) for v in IDENTIFIERS.values())


# --- PNG / JPEG / TIFF --------------------------------------------------------------------------

def test_png_modes_read_to_expected_values(tmp_path):
    grey8 = np.array([[0, 64], [128, 255]], dtype=np.uint8)
    Image.fromarray(grey8, mode="L").save(tmp_path / "l.png")
    np.testing.assert_allclose(read_radiograph(tmp_path / "l.png").pixels, grey8 / 255.0, atol=1e-7)

    grey16 = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    Image.fromarray(grey16).save(tmp_path / "i16.png")
    r16 = read_radiograph(tmp_path / "i16.png")
    np.testing.assert_allclose(r16.pixels, grey16 / 65535.0, atol=1e-7)
    assert r16.meta["bits_stored"] == 16

    rgb = np.stack([grey8] * 3, axis=-1)
    Image.fromarray(rgb, mode="RGB").save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_radiograph(tmp_path / "rgb.png").pixels, grey8 / 255.0, atol=1e-7)

    rgba = np.concatenate([rgb, np.full((2, 2, 1), 255, np.uint8)], axis=-1)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_allclose(read_radiograph(tmp_path / "rgba.png").pixels, grey8 / 255.0, atol=1e-7)

    colour = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    Image.fromarray(colour, mode="RGB").save(tmp_path / "colour.png")
    luma = colour.astype(float) @ np.array([0.299, 0.587, 0.114]) / 255.0
    np.testing.assert_allclose(read_radiograph(tmp_path / "colour.png").pixels, luma, atol=1e-6)


def test_16bit_tiff_big_endian(tmp_path):
    grey16 = np.array([[0, 300], [30000, 65535]], dtype=">u2")
    Image.frombytes("I;16B", (2, 2), grey16.tobytes()).save(tmp_path / "be.tif")
    np.testing.assert_allclose(read_radiograph(tmp_path / "be.tif").pixels,
                               grey16.astype(float) / 65535.0, atol=1e-7)


def test_truncated_png_raises_naming_it(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.png"):
        read_radiograph(tmp_path / "cut.png")


def test_unknown_and_missing_files(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(InputError, match="notes.txt.*not a DICOM"):
        read_radiograph(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="absent.dcm.*not found"):
        read_radiograph(tmp_path / "absent.dcm")


def test_real_rgba_crops_read_as_grey(sample_crops):
    paths = sorted(sample_crops.rglob("*.png"))
    assert len(paths) == 15
    for path in paths:
        r = read_radiograph(path)
        check_unit_image(r)
        with Image.open(path) as im:
            expected = np.asarray(im)[..., 0] / 255.0
        np.testing.assert_allclose(r.pixels, expected, atol=1e-7)
        assert r.pixels.std() > 0.02
