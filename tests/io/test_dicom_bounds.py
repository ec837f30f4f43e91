"""Hostile DICOMs whose headers announce more memory than the file holds: refused before allocating.

Each file is made here, small on disk; peak memory is measured in a fresh subprocess
(``ru_maxrss``), because the parent's peak already includes the rest of the suite.
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from vcfnet.errors import InputError
from vcfnet.io import read_radiograph

MIB = 1 << 20
STORED = np.arange(64, dtype=np.uint8).reshape(8, 8)


def _dx(rows=8, columns=8, pixel_bytes=None, **elements) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.Modality = "DX"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.PixelData = STORED.tobytes() if pixel_bytes is None else pixel_bytes
    return ds


def _file_head(transfer_syntax) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    fp.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(fp, meta, enforce_standard=True)
    return fp.getvalue()


def _explicit_le(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    return fp.getvalue()


def _private_ob_header(group: int, length: int) -> bytes:
    """Private creator (gggg,0010) plus the header of an OB element (gggg,1000) of ``length`` bytes."""
    creator = b"BOMB"
    return (struct.pack("<HH2sH", group, 0x0010, b"LO", len(creator)) + creator
            + struct.pack("<HH2sHI", group, 0x1000, b"OB", 0, length))


def write_deflate_bomb(path, *, zeros: int = 512 * MIB, group: int = 0x7FE1) -> int:
    """A deflated DICOM: a small DX dataset then a private OB element of ``zeros`` zero bytes.

    Compressed in 1 MiB chunks, so the test never holds the inflated stream. Returns the file size.
    """
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = _explicit_le(_dx())
    if group < 0x0028:   # the element before Rows/Columns: the reader cannot learn the image size first
        first, rest = body.split(b"\x28\x00\x02\x00", 1)
        body, tail = first, b"\x28\x00\x02\x00" + rest
    else:
        tail = b""
    chunk = bytes(MIB)
    with open(path, "wb") as fh:
        fh.write(_file_head(DeflatedExplicitVRLittleEndian))
        fh.write(z.compress(body + _private_ob_header(group, zeros)))
        for _ in range(zeros // MIB):
            fh.write(z.compress(chunk))
        fh.write(z.compress(tail))
        fh.write(z.flush())
    return path.stat().st_size


def write_deflated(path, ds: Dataset) -> None:
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    path.write_bytes(_file_head(DeflatedExplicitVRLittleEndian) + z.compress(_explicit_le(ds)) + z.flush())


def write_encapsulated(path, **elements):
    """JPEG 2000 transfer syntax with one 64-byte fragment, whatever image the header claims."""
    fragment = b"\xff\x4f\xff\x51" + bytes(60)
    items = struct.pack("<HHI", 0xFFFE, 0xE000, 0) + struct.pack("<HHI", 0xFFFE, 0xE000, len(fragment)) + fragment
    ds = _dx(BitsAllocated=16, BitsStored=16, HighBit=15, **elements)
    path.write_bytes(_file_head(JPEG2000Lossless) + _explicit_le(ds)[:-12 - STORED.size]
                     + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + items
                     + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))
    return path


PEAK = """
import json, resource, sys
from vcfnet.errors import InputError
from vcfnet.io import read_radiograph
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_radiograph(sys.argv[1]); outcome = "read"
except InputError as exc:
    outcome = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "peak_mib": (after - before) / 1024}))
"""


def peak_memory(path) -> dict:
    """Extra peak resident memory (MiB) of ``read_radiograph(path)`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_deflate_bomb_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.dcm"
    assert write_deflate_bomb(path) < MIB
    result = peak_memory(path)
    assert "bomb.dcm" in result["outcome"] and "deflate" in result["outcome"].lower(), result
    assert result["peak_mib"] < 64, result


@pytest.mark.slow
def test_deflate_bomb_before_the_image_size_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "early.dcm"
    write_deflate_bomb(path, group=0x0009)
    result = peak_memory(path)
    assert "early.dcm" in result["outcome"] and "deflate" in result["outcome"].lower(), result
    assert result["peak_mib"] < 300, result


def test_ordinary_deflated_dicom_reads_like_the_uncompressed_one(tmp_path):
    ds = _dx(WindowCenter=32, WindowWidth=64)
    write_deflated(tmp_path / "deflated.dcm", ds)
    (tmp_path / "plain.dcm").write_bytes(_file_head(ExplicitVRLittleEndian) + _explicit_le(ds))
    deflated, plain = read_radiograph(tmp_path / "deflated.dcm"), read_radiograph(tmp_path / "plain.dcm")
    np.testing.assert_array_equal(deflated.pixels, plain.pixels)
    assert deflated.meta["modality"] == "DX" and deflated.pixels.shape == (8, 8)


def test_truncated_deflate_stream_names_the_file(tmp_path):
    path = tmp_path / "cut.dcm"
    write_deflated(path, _dx())
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(InputError, match="cut.dcm"):
        read_radiograph(path)


def test_huge_element_length_in_a_tiny_file_is_refused_cheaply(tmp_path):
    path = tmp_path / "length.dcm"
    body = _explicit_le(_dx())[:-12 - STORED.size]   # without its PixelData element
    path.write_bytes(_file_head(ExplicitVRLittleEndian) + body + _private_ob_header(0x7FE1, 0xFFFFFFF0))
    result = peak_memory(path)
    assert "length.dcm" in result["outcome"], result
    assert result["peak_mib"] < 64, result


def test_huge_rows_and_columns_with_tiny_data_are_refused_before_decoding(tmp_path):
    native = tmp_path / "native.dcm"
    native.write_bytes(_file_head(ExplicitVRLittleEndian) + _explicit_le(_dx(rows=60000, columns=60000)))
    result = peak_memory(native)
    assert "native.dcm" in result["outcome"] and "60000" in result["outcome"], result
    assert result["peak_mib"] < 64, result
    # encapsulated: one tiny fragment that claims a 60000 x 60000 16-bit image
    encapsulated = write_encapsulated(tmp_path / "encapsulated.dcm", rows=60000, columns=60000)
    result = peak_memory(encapsulated)
    assert "encapsulated.dcm" in result["outcome"] and "60000" in result["outcome"], result
    assert result["peak_mib"] < 64, result


def test_huge_encapsulated_frame_count_is_refused_before_decoding(tmp_path):
    path = write_encapsulated(tmp_path / "frames.dcm", rows=4096, columns=4096, NumberOfFrames=2**31 - 1)
    result = peak_memory(path)
    assert "frames.dcm" in result["outcome"] and "multi-frame" in result["outcome"], result
    assert result["peak_mib"] < 64, result


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    import vcfnet.io.radiograph as radiograph

    path = tmp_path / "small.dcm"
    path.write_bytes(_file_head(ExplicitVRLittleEndian) + _explicit_le(_dx()))
    assert read_radiograph(path).pixels.shape == (8, 8)
    monkeypatch.setattr(radiograph, "MAX_PIXELS", 63)
    with pytest.raises(InputError, match=r"small.dcm.*8 x 8.*at most 63 pixels"):
        read_radiograph(path)
