"""The Structured Report: a TID 1500 Measurement Report per radiograph, written with highdicom.

One Planar ROI Measurements group (TID 1410) per boxed vertebra: tracking identifier (the level and
box number), the box as an image region (SCOORD POLYLINE on the source image), the finding
(compression fracture of the vertebral column), the level as finding site, the predicted class as a
qualitative evaluation, the referral decision (refer: yes/no), the three class probabilities as
measurements, and the algorithm (TID 4019, with the answering model) on the group and on every measurement. The observer is the algorithm as a device (TID 1004). Codes:
``vcfnet.dicom.codes``.
"""
from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from vcfnet.dicom import codes
from vcfnet.dicom.findings import Finding, box_outline
from vcfnet.dicom.identity import MANUFACTURER, AlgorithmIdentity, algorithm_id, contributing_equipment, device_observer

SERIES_DESCRIPTION = "vcfnet AI results (SR)"


def build_sr(source: Dataset, findings: Sequence[Finding], identity: AlgorithmIdentity, *,
             series_uid: str, sop_uid: str, series_number: int = 990,
             instance_number: int = 1) -> hd.sr.Comprehensive3DSR:
    """The measurement report of ``findings`` on the ``source`` image (its study, a new series)."""
    groups = [_group(source, f, i, algorithm_id(identity, f.model), sop_uid) for i, f in enumerate(findings, start=1)]
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device_observer(identity)),
        procedure_reported=codes.PROCEDURE, imaging_measurements=groups,
        title=dcm_codes.DCM.ImagingMeasurementReport)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[source], content=report, series_instance_uid=series_uid, series_number=series_number,
        sop_instance_uid=sop_uid, instance_number=instance_number, manufacturer=MANUFACTURER,
        is_complete=True, is_final=False, is_verified=False,
        contributing_equipment=[contributing_equipment(identity)])
    sr.SeriesDescription = SERIES_DESCRIPTION
    sr.CodingSchemeIdentificationSequence = [codes.coding_scheme_item()]
    return sr


def _group(source: Dataset, finding: Finding, index: int, algo, sop_uid: str):
    region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                               graphic_data=box_outline(finding.box),
                               source_image=hd.sr.SourceImageForRegion.from_source_image(source))
    name = f"{finding.level or 'vertebra'} box {index}"
    tracking = hd.sr.TrackingIdentifier(uid=_tracking_uid(sop_uid, index), identifier=name)
    measurements = [hd.sr.Measurement(name=codes.PROBABILITY_CODES[c], value=float(p), unit=codes.NO_UNITS,
                                      algorithm_id=algo)
                    for c, p in finding.probabilities.items()]
    evaluations = [hd.sr.QualitativeEvaluation(name=codes.CLASS_NAME, value=codes.CLASS_CODES[finding.predicted]),
                   hd.sr.QualitativeEvaluation(name=codes.REFER_NAME, value=codes.YES if finding.refer else codes.NO)]
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, referenced_region=region, finding_type=codes.FINDING,
        algorithm_id=algo, finding_sites=[hd.sr.FindingSite(codes.level_code(finding.level))],
        measurements=measurements, qualitative_evaluations=evaluations)


def _tracking_uid(sop_uid: str, index: int) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[sop_uid, "finding", str(index)])
