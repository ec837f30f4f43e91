"""``/api/v1/pacs``: the diagnosis page and a PACS (DICOMweb), behind the service's authentication.

    GET  /api/v1/pacs/config                                           configured? which PACS
    GET  /api/v1/pacs/studies?patient_id=&accession=&date=&modality=   QIDO-RS study search
    GET  /api/v1/pacs/studies/{study}/images                           the study's DX/CR images
    GET  /api/v1/pacs/image?study=&series=&sop=                        WADO-RS: the DICOM file itself
    POST /api/v1/pacs/send  {study, series, sop, boxes, levels, gradcam}
                            predict (the service's Predictor), STOW-RS SR + GSPS + SC into the study

Nothing is sent to the PACS unless the user asks (``send``). The PACS URL and credentials come from
the settings (``pacs_url``, ``pacs_username``, ``pacs_password``); answers name studies by UID, date,
description and modality only (no patient name or ID reaches the page or a log line). Every PACS
call and prediction runs in the inference pool, within the request timeout; an image is looked up by
QIDO first (a DX/CR radiograph within ``MAX_PIXELS``) and retrieved into a private 0700 folder removed
when the request ends.
"""
from __future__ import annotations

import re
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from vcfnet.errors import VcfnetError
from vcfnet.service.auth import authorize
from vcfnet.service.errors import ERROR_RESPONSES, APIError
from vcfnet.service.inputs import parse_clinical
from vcfnet.service.jobs import with_timeout
from vcfnet.service.uploads import private_dir

router = APIRouter(prefix="/api/v1/pacs", tags=["pacs"], dependencies=[Depends(authorize)],
                   responses=ERROR_RESPONSES)
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_DATE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")


class SendRequest(BaseModel):
    study: str = Field(max_length=64, description="StudyInstanceUID")
    series: str = Field(max_length=64, description="SeriesInstanceUID")
    sop: str = Field(max_length=64, description="SOPInstanceUID of the radiograph")
    boxes: list[list[float]] = Field(min_length=1, description="[[x0, y0, x1, y1], ...] pixel edges")
    levels: list[str | None] = Field(default_factory=list, description="a level (L1, T12, ...) or null per box")
    gradcam: bool = False
    age: str | None = Field(default=None, max_length=20, description="the page's age field (blank: the header's)")
    sex: str | None = Field(default=None, max_length=20, description="the page's sex field, F or M (blank: the header's)")


def _pacs(request: Request):
    from vcfnet.dicom.dicomweb import Pacs

    s = request.app.state.vcf.settings
    if not s.pacs_url:
        raise APIError(404, "no PACS configured (set pacs_url, VCFNET_PACS_URL, in the service settings)")
    return Pacs(s.pacs_url, username=s.pacs_username, password=s.pacs_password, timeout_s=s.pacs_timeout_s)


def _uid(value: str, name: str) -> str:
    if not (0 < len(value) <= 64 and _UID.match(value)):
        raise APIError(422, f"{name}: expected a DICOM UID (digits and dots, at most 64 characters)")
    return value


async def _run(request: Request, fn, *args):
    """``fn(*args)`` in the inference pool within the request timeout; a PACS without the image is 404,
    other PACS failures 502, a bad input 422."""
    from vcfnet.dicom.dicomweb import PacsError, PacsNotFound

    state = request.app.state.vcf

    def guarded():
        try:
            return fn(*args)
        except PacsNotFound as exc:
            raise APIError(404, str(exc)) from None
        except PacsError as exc:
            raise APIError(502, str(exc)) from None
        except VcfnetError as exc:
            raise APIError(422, str(exc)) from None
    return await with_timeout(request, state.run(guarded))


@router.get("/config", summary="Whether a PACS is configured, and which (no credentials)")
async def config(request: Request):
    from vcfnet.dicom.dicomweb import display_url

    url = request.app.state.vcf.settings.pacs_url
    return {"configured": bool(url), "name": display_url(url) if url else ""}


@router.get("/studies", summary="Search the PACS for studies (QIDO-RS)")
async def studies(request: Request, patient_id: str = "", accession: str = "", date: str = "",
                  modality: str = "", limit: int = 50):
    if not _DATE.match(date.strip()):
        raise APIError(422, "date: expected YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    filters = {k: v.strip()[:64] for k, v in (("PatientID", patient_id), ("AccessionNumber", accession),
                                              ("StudyDate", date), ("ModalitiesInStudy", modality)) if v.strip()}
    pacs = _pacs(request)
    found = await _run(request, lambda: pacs.search_studies(filters, limit=max(1, min(limit, 200))))
    return {"studies": [{"study": str(ds.StudyInstanceUID), "date": str(ds.get("StudyDate", "") or ""),
                         "description": str(ds.get("StudyDescription", "") or ""),
                         "modalities": _modalities(ds),
                         "instances": int(ds.get("NumberOfStudyRelatedInstances", 0) or 0)} for ds in found]}


@router.get("/studies/{study}/images", summary="The study's DX/CR radiographs")
async def images(request: Request, study: str):
    pacs = _pacs(request)
    found = await _run(request, pacs.radiographs, _uid(study, "study"))
    return {"images": [{"study": i.study_uid, "series": i.series_uid, "sop": i.sop_uid, "rows": i.rows,
                        "columns": i.columns} for i in found]}


def _target(pacs, study: str, series: str, sop: str):
    """The image to retrieve, as the PACS describes it (QIDO): a DX/CR radiograph within the size bounds."""
    _uid(series, "series")
    return pacs.radiograph(_uid(study, "study"), _uid(sop, "sop"))


def _modalities(ds) -> list[str]:
    value = ds.get("ModalitiesInStudy") or []
    return [str(value)] if isinstance(value, str) else [str(m) for m in value]


@router.get("/image", summary="One radiograph from the PACS as a DICOM file (WADO-RS)")
async def image(request: Request, study: str, series: str, sop: str):
    pacs, s = _pacs(request), request.app.state.vcf.settings
    async with private_dir(s.upload_dir, keep=False, request_id=request.state.request_id) as folder:
        path = await _run(request, lambda: pacs.retrieve(_target(pacs, study, series, sop), folder))
        if path.stat().st_size > s.max_upload_mb * 2 ** 20:
            raise APIError(413, f"the PACS image is larger than max_upload_mb ({s.max_upload_mb:g} MB)")
        data = path.read_bytes()
    return Response(data, media_type="application/dicom", headers={"Cache-Control": "no-store"})


@router.post("/send", summary="Predict a PACS radiograph's boxes and store SR + overlays into its study (STOW-RS)")
async def send(request: Request, body: SendRequest):
    state, start = request.app.state.vcf, time.perf_counter()
    s = state.settings
    if len(body.boxes) > s.max_boxes:
        raise APIError(422, f"boxes: at most {s.max_boxes} per image (setting max_boxes), got {len(body.boxes)}")
    levels = list(body.levels) or [None] * len(body.boxes)
    if len(levels) != len(body.boxes):
        raise APIError(422, f"levels: one per box ({len(body.boxes)}), got {len(levels)}")
    given = parse_clinical(body.age, body.sex, "send")    # what the user saw and edited on the page
    pacs = _pacs(request)

    def work(folder):
        from vcfnet.dicom.results import analyze_file

        path = pacs.retrieve(_target(pacs, body.study, body.series, body.sop), folder)
        try:
            results = analyze_file(state.predictor, path, [tuple(b) for b in body.boxes],  # type: ignore[misc]
                                   [lv or None for lv in levels],
                                   gradcam=body.gradcam, clinical=given)
        except VcfnetError as exc:
            raise VcfnetError(str(exc).replace(str(path), "PACS image")) from None
        pacs.store(results.datasets)
        return results
    async with private_dir(s.upload_dir, keep=False, request_id=request.state.request_id) as folder:
        results = await _run(request, work, folder)
    return {"stored": {"sr": str(results.sr.SOPInstanceUID), "gsps": str(results.gsps.SOPInstanceUID),
                       "sc": str(results.sc.SOPInstanceUID)},
            "study": body.study, "boxes": [f.label for f in results.findings],
            "timing_ms": round((time.perf_counter() - start) * 1000, 1)}
