"""Writing one synthetic radiograph: DICOM (pydicom, uncompressed) or PNG, plus its LabelImg XML.

DICOM files carry MADE-UP patient identifiers (name, ID, birth date, accession number) so that
de-identification has something to remove; file names are pseudonymous (``s2-000042.dcm``).
Stored values follow the site: bits stored, MONOCHROME1 (high stored value = dark: bone low) or
MONOCHROME2, a Modality LUT (rescale), and a window (VOI) that frames the image, so a correct
reader (rescale -> window -> MONOCHROME1 inversion) shows bone bright.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vcfnet.fileio import atomic_path
from vcfnet.synth.plan import ImageSpec
from vcfnet.synth.sites import SiteProfile

DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"     # Digital X-Ray Image Storage - For Presentation
CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"       # Computed Radiography Image Storage


def to_stored(image: np.ndarray, site: SiteProfile) -> tuple[np.ndarray, float, float]:
    """Bone-bright [0, 1] image -> (stored integers, window centre, window width) of ``site``.

    The window is in Modality LUT (rescaled) units and spans the whole stored range: the site's
    processing has already set the tone curve (``For Presentation``), so a reader must show it as it is.
    """
    top = (1 << site.bits_stored) - 1
    value = np.rint(np.clip(image, 0.0, 1.0) * top)
    stored = top - value if site.photometric == "MONOCHROME1" else value
    stored = stored.astype(np.uint8 if site.bits_allocated == 8 else np.uint16)
    slope, intercept = site.rescale
    lo, hi = np.array([0.0, top], dtype=np.float64) * slope + intercept
    return stored, float(round((lo + hi) / 2)), float(max(round(hi - lo), 2))


def write_png(path: Path, image: np.ndarray, site: SiteProfile) -> None:
    """Bone-bright PNG: 8-bit at an 8-bit site, 16-bit otherwise; written atomically."""
    from PIL import Image

    if site.bits_stored <= 8:
        pil = Image.fromarray(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8), mode="L")
    else:
        pil = Image.fromarray(np.rint(np.clip(image, 0, 1) * 65535).astype(np.uint16))
    with atomic_path(path) as tmp:
        pil.save(tmp, format="PNG")


def write_dicom(path: Path, image: np.ndarray, spec: ImageSpec, site: SiteProfile, spacing: float,
                uid_seed: str) -> None:
    """Write ``image`` as an uncompressed DX/CR DICOM of ``site``; UIDs derive from ``uid_seed``."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    stored, centre, width = to_stored(image, site)
    sop_class = DX_STORAGE if site.modality == "DX" else CR_STORAGE
    sop_uid = generate_uid(entropy_srcs=[uid_seed, spec.source, spec.name, "image"])
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class  # type: ignore[assignment]  # pydicom takes a str; typed as UID
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[uid_seed, spec.source, spec.name, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[uid_seed, spec.source, spec.name, "series"])
    _patient_and_study(ds, spec, site)
    _image_module(ds, site, spacing, centre, width)
    ds.set_pixel_data(stored, site.photometric, site.bits_stored, generate_instance_uid=False)
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def _patient_and_study(ds, spec: ImageSpec, site: SiteProfile) -> None:
    """Made-up identifiers (to be removed by de-identification) and the study description."""
    ds.PatientName = spec.patient_name
    ds.PatientID = spec.patient_id
    ds.PatientBirthDate = spec.birth_date
    ds.PatientSex = spec.sex
    ds.PatientAge = f"{spec.age:03d}Y"
    ds.AccessionNumber = spec.accession
    ds.ReferringPhysicianName = "SYNTH^Referrer"
    ds.InstitutionName = site.institution
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = spec.exam_date
    minutes = int(spec.key[-1] * 7 % 600) + 480
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = f"{minutes // 60:02d}{minutes % 60:02d}00"
    ds.StudyID = spec.name
    ds.StudyDescription = "XR LUMBAR SPINE LATERAL"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Modality = site.modality
    ds.Manufacturer = site.manufacturer
    ds.ManufacturerModelName = site.model
    ds.BodyPartExamined = "LSPINE"
    ds.ViewPosition = "LL"
    ds.PatientOrientation = ["P", "F"] if site.anterior_left else ["A", "F"]
    ds.KVP = site.kvp
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    _anatomy(ds)
    if site.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImageLaterality = "U"                     # the lumbar spine is unpaired
        ds.DetectorType = "SCINTILLATOR"
        ds.PositionerType = "COLUMN"
        ds.AcquisitionContextSequence = []


def _anatomy(ds) -> None:
    """Anatomic Region Sequence: the lumbar spine (SNOMED CT 122496007, CID 4031), as modalities write it."""
    from pydicom.dataset import Dataset

    region = Dataset()
    region.CodeValue, region.CodingSchemeDesignator, region.CodeMeaning = "122496007", "SCT", "Lumbar spine"
    ds.AnatomicRegionSequence = [region]


def _image_module(ds, site: SiteProfile, spacing: float, centre: float, width: float) -> None:
    """Pixel spacing, Modality LUT and VOI LUT (window) of the stored values."""
    ds.PixelSpacing = [round(spacing, 4), round(spacing, 4)]
    ds.ImagerPixelSpacing = [round(spacing, 4), round(spacing, 4)]
    slope, intercept = site.rescale
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "US"
    ds.WindowCenter, ds.WindowWidth = centre, width
    ds.VOILUTFunction = "LINEAR"
    ds.PresentationLUTShape = "INVERSE" if site.photometric == "MONOCHROME1" else "IDENTITY"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    if site.modality == "DX":
        ds.PixelIntensityRelationship = "LOG"
        # +1: lower values = less beam intensity (more attenuation): bone low, as in MONOCHROME1
        ds.PixelIntensityRelationshipSign = 1 if site.photometric == "MONOCHROME1" else -1
