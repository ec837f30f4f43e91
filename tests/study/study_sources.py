"""Tiny sources made in tmp_path: PNG and DICOM radiographs with LabelImg boxes (fixtures: conftest.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IDENTIFIERS = {"PatientName": "Zebedee^Quixotic", "PatientID": "ZQ-99173", "PatientBirthDate": "19310217",
               "AccessionNumber": "ACX55501"}


def radiograph_array(h=120, w=90, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(20, 60, (h, w)).astype(np.uint8)
    img[30:60, 20:70] = 200  # a bright "vertebra"
    return img


def write_dicom(path: Path, pixels: np.ndarray, *, photometric="MONOCHROME2", identifiers=IDENTIFIERS,
                sex="F", age="071Y", date="20210305") -> Path:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.StudyDate, ds.PatientSex, ds.PatientAge = "DX", date, sex, age
    for k, v in identifiers.items():
        setattr(ds, k, v)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_voc_pair(folder: Path, stem: str, boxes, *, fmt="png", seed=0, **dicom_kw) -> Path:
    from vcfnet.io import Box, write_voc

    pixels = radiograph_array(seed=seed)
    image = folder / f"{stem}.{'dcm' if fmt == 'dicom' else 'png'}"
    if fmt == "dicom":
        write_dicom(image, pixels, **dicom_kw)
    else:
        Image.fromarray(pixels).save(image)
    h, w = pixels.shape
    write_voc(folder / f"{stem}.xml", image.name, w, h, [Box(*b) for b in boxes])
    return image
