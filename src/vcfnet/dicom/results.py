"""Radiograph + Predictor results -> the three DICOM results: SR, GSPS and secondary capture.

    >>> results = analyze_file(predictor, "film.dcm", boxes, levels)      # predicts through Predictor
    >>> paths = write_results(results, "out/")                            # three .dcm files

The results go into the source's study as three new series (SR, presentation state, secondary
capture). Their UIDs derive from the source image's SOP Instance UID and the model-card hash, so
analysing the same image with the same model again gives the same objects (a PACS replaces them
instead of piling up copies), while a retrained model writes new ones.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from vcfnet.dicom.findings import Box, Finding, findings_from
from vcfnet.dicom.gsps import build_gsps
from vcfnet.dicom.identity import AlgorithmIdentity, identity_of
from vcfnet.dicom.sc import build_sc
from vcfnet.dicom.sr import build_sr
from vcfnet.errors import InputError
from vcfnet.fileio import atomic_path

log = logging.getLogger(__name__)
KINDS = ("sr", "gsps", "sc")


@dataclass
class DicomResults:
    """The results of one radiograph: the findings and the three objects written from them."""

    findings: list[Finding]
    sr: Dataset
    gsps: Dataset
    sc: Dataset

    @property
    def datasets(self) -> list[Dataset]:
        return [self.sr, self.gsps, self.sc]


def result_uids(source: Dataset, identity: AlgorithmIdentity, kind: str) -> tuple[str, str]:
    """(series UID, SOP instance UID) of the ``kind`` result of ``source`` by the model ``identity``:
    one series per kind, study and model; one instance per source image."""
    series = generate_uid(entropy_srcs=["vcfnet", kind, str(source.StudyInstanceUID), identity.model_hash])
    instance = generate_uid(entropy_srcs=["vcfnet", kind, str(source.SOPInstanceUID), identity.model_hash])
    return series, instance


def build_results(source: Dataset, pixels: np.ndarray, findings: Sequence[Finding],
                  identity: AlgorithmIdentity, *, instance_number: int = 1) -> DicomResults:
    """SR, GSPS and secondary capture of ``findings`` on ``source`` (header) with its ``pixels``
    ((H, W) float in [0, 1], bone bright, as ``read_radiograph`` returns them)."""
    made: dict[str, Dataset] = {}
    for kind, build in (("sr", build_sr), ("gsps", build_gsps)):
        series, sop = result_uids(source, identity, kind)
        made[kind] = build(source, findings, identity, series_uid=series, sop_uid=sop,
                           instance_number=instance_number)
    series, sop = result_uids(source, identity, "sc")
    made["sc"] = build_sc(source, pixels, findings, identity, series_uid=series, sop_uid=sop,
                          instance_number=instance_number)
    return DicomResults(findings=list(findings), **made)


def analyze_file(predictor, path: str | Path, boxes: Sequence[Box], levels: Sequence[str | None], *,
                 gradcam: bool = False, instance_number: int = 1,
                 clinical: Mapping[str, Any] | None = None) -> DicomResults:
    """Predict ``boxes`` of the DICOM radiograph at ``path`` through ``predictor`` and build its results.

    When the card has an image+clinical model it answers from ``clinical`` (the values a user gave, e.g.
    the page's age and sex fields), each missing one taken from the DICOM header's PatientAge/PatientSex,
    as the diagnosis page's own prediction does."""
    from vcfnet.io import read_radiograph
    from vcfnet.io.radiograph import read_dicom_dataset

    radiograph = read_radiograph(path)
    if radiograph.meta.get("format") != "DICOM":
        raise InputError(path, "not a DICOM file: DICOM results need the source image's DICOM header")
    header = read_dicom_dataset(path, stop_before_pixels=True)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        if not str(header.get(keyword, "")).strip():
            raise InputError(path, f"the DICOM header has no {keyword}: results cannot reference the image",
                             field=keyword)
    predictions = predictor.predict(radiograph, boxes, gradcam=gradcam, clinical=clinical_values(predictor, radiograph, clinical))
    findings = findings_from(predictions, levels)
    log.info("analysed one radiograph: %d box(es)", len(findings))
    return build_results(header, radiograph.pixels, findings, identity_of(predictor.card),
                         instance_number=instance_number)


def clinical_values(predictor, radiograph, given: Mapping[str, Any] | None = None) -> dict | None:
    """For a card with an image+clinical model: the values ``given``, then the DICOM header's age and sex
    (as the page prefills them); else None: the image model answers. Never logged."""
    if not getattr(predictor, "clinical_columns", None):
        return None
    from vcfnet.model.clinical import header_values, merge_values

    values, _ = merge_values(dict(given or {}), header_values(radiograph.meta))
    return values or None


def write_results(results: DicomResults, folder: str | Path) -> list[Path]:
    """Write the three objects into ``folder`` as ``<kind>-<SOP instance UID>.dcm`` (atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, ds in zip(KINDS, results.datasets):
        path = folder / f"{kind}-{ds.SOPInstanceUID}.dcm"
        with atomic_path(path) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        paths.append(path)
    return paths
