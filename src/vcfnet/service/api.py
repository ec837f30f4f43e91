"""JSON API ``/api/v1``: predict (one image, or a batch), proposals (a detector's boxes, levels and Genant
grades), model card, display image, report files.

Bodies are multipart/form-data read by ``vcfnet.service.uploads`` (streamed into a private temp
directory with a byte limit), so their schemas are declared for OpenAPI by hand below.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from vcfnet.service import diagnose as work
from vcfnet.service.auth import authorize
from vcfnet.service.errors import ERROR_RESPONSES, APIError
from vcfnet.service.jobs import with_timeout
from vcfnet.service.schemas import (
    AnnotationResponse,
    BatchResponse,
    DisplayResponse,
    PredictResponse,
    ProposeResponse,
    ReportRequest,
)
from vcfnet.service.uploads import Form, private_dir, read_multipart

router = APIRouter(prefix="/api/v1", tags=["diagnosis"], dependencies=[Depends(authorize)],
                   responses=ERROR_RESPONSES)


def _multipart(properties: dict, required: list[str]) -> dict:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": required}}}}}


_IMAGE = {"type": "string", "format": "binary", "description": "DICOM, PNG, JPEG or TIFF radiograph"}
_BOXES = {"type": "string", "description": "JSON [[x0, y0, x1, y1], ...] in radiograph pixels",
          "example": "[[120, 340, 260, 450]]"}
_XML = {"type": "string", "format": "binary", "description": "LabelImg Pascal VOC XML (instead of boxes)"}
_AGE = {"type": "string", "description": "patient age in years for the image+clinical model (blank: the "
                                         "DICOM header's PatientAge, else unknown)"}
_SEX = {"type": "string", "description": "F or M for the image+clinical model (blank: the DICOM header's "
                                         "PatientSex, else unknown)"}
_GRADCAM = {"type": "boolean", "default": False, "description": "add a Grad-CAM overlay PNG per box"}


def _flag(form: Form, name: str) -> bool:
    value = (form.value(name) or "false").strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        raise APIError(422, f"form field '{name}' must be true or false, got '{value[:20]}'")
    return value in ("1", "true", "yes", "on")


def _one(form: Form, field: str, what: str):
    files = form.files.get(field, [])
    if len(files) != 1:
        raise APIError(422, f"expected exactly one file in form field '{field}' ({what}), got {len(files)}")
    return files[0]


async def _receive(request: Request, run):
    """Stream the upload into a private dir and run ``run(form)`` in the pool, all within the timeout."""
    state = request.app.state.vcf
    settings = state.settings

    async def body():
        async with private_dir(settings.upload_dir, keep=settings.keep_uploads,
                               request_id=request.state.request_id) as folder:
            form = await read_multipart(request, folder, max_bytes=int(settings.max_upload_mb * 2 ** 20))
            return await state.run(run, form)
    return await with_timeout(request, body())


def _envelope(request: Request, start: float) -> dict:
    state = request.app.state.vcf
    return {"request_id": request.state.request_id, "model": state.model,
            "classes": list(state.predictor.classes), "limits": state.limits,
            "timing_ms": round((time.perf_counter() - start) * 1000, 1)}


@router.post("/predict", response_model=PredictResponse, summary="Classify the boxed vertebrae of one radiograph",
             openapi_extra=_multipart({"image": _IMAGE, "boxes": _BOXES, "annotation": _XML,
                                       "gradcam": _GRADCAM, "age": _AGE, "sex": _SEX}, ["image"]))
async def predict(request: Request):
    state, start = request.app.state.vcf, time.perf_counter()
    s = state.settings

    def run(form: Form):
        xml = form.files.get("annotation")
        job = work.ImageJob(1, _one(form, "image", "the radiograph").path, form.value("boxes"),
                            _one(form, "annotation", "LabelImg XML").path if xml else None,
                            age=form.value("age"), sex=form.value("sex"))
        return work.diagnose(state.predictor, job, gradcam=_flag(form, "gradcam"),
                             max_megapixels=s.max_image_megapixels, max_boxes=s.max_boxes)
    image = await _receive(request, run)
    return {**_envelope(request, start), "image": image}


@router.post("/predict/batch", response_model=BatchResponse, summary="Classify the boxes of several radiographs",
             openapi_extra=_multipart({
                 "image": {"type": "array", "items": _IMAGE, "description": "the radiographs, in order"},
                 "boxes": {"type": "string", "description": "JSON list with one box list per image: "
                           "[[[x0, y0, x1, y1], ...], ...]"},
                 "annotation": {"type": "array", "items": _XML, "description": "one LabelImg XML per image, "
                                "in the same order (instead of boxes)"},
                 "gradcam": _GRADCAM}, ["image"]))
async def predict_batch(request: Request):
    state, start = request.app.state.vcf, time.perf_counter()
    s = state.settings

    def run(form: Form):
        jobs = _batch_jobs(form, s.max_batch_images)
        gradcam = _flag(form, "gradcam")
        return [work.diagnose(state.predictor, job, gradcam=gradcam, max_megapixels=s.max_image_megapixels,
                              max_boxes=s.max_boxes) for job in jobs]
    images = await _receive(request, run)
    return {**_envelope(request, start), "images": images}


def _batch_jobs(form: Form, max_images: int) -> list[work.ImageJob]:
    import json

    images = form.files.get("image", [])
    if not images:
        raise APIError(422, "no images: send one or more files in form field 'image'")
    if len(images) > max_images:
        raise APIError(422, f"{len(images)} images, more than the limit of {max_images} (setting max_batch_images)")
    xmls = form.files.get("annotation", [])
    if xmls:
        if len(xmls) != len(images):
            raise APIError(422, f"{len(images)} images but {len(xmls)} annotation files; send one per image")
        return [work.ImageJob(i, f.path, boxes_xml=x.path) for i, (f, x) in enumerate(zip(images, xmls), start=1)]
    text = form.value("boxes")
    try:
        per_image = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        raise APIError(422, "boxes are not valid JSON; expected one box list per image: "
                            "[[[x0, y0, x1, y1], ...], ...]") from None
    if not isinstance(per_image, list) or len(per_image) != len(images):
        got = f"{len(per_image)} box lists" if isinstance(per_image, list) else "no box lists"
        raise APIError(422, f"{len(images)} images but {got}; send 'boxes' as one box list per image")
    return [work.ImageJob(i, f.path, boxes_json=json.dumps(b)) for i, (f, b) in enumerate(zip(images, per_image), start=1)]


@router.post("/propose", response_model=ProposeResponse,
             summary="Every vertebra the detector finds: box, level, heights and Genant grade (not classified)",
             openapi_extra=_multipart({"image": _IMAGE}, ["image"]),
             responses={404: {"description": "The service was started without a detector (vcfnet serve --detector)"}})
async def propose(request: Request):
    state, start = request.app.state.vcf, time.perf_counter()
    s = state.settings

    def run(form: Form):
        job = work.ImageJob(1, _one(form, "image", "the radiograph").path)
        return work.propose(state.predictor, job, max_megapixels=s.max_image_megapixels, max_boxes=s.max_boxes)
    found = await _receive(request, run)
    return {"request_id": request.state.request_id, **found,
            "timing_ms": round((time.perf_counter() - start) * 1000, 1)}


@router.post("/display", response_model=DisplayResponse, summary="De-identified display image of a radiograph",
             openapi_extra=_multipart({"image": _IMAGE}, ["image"]))
async def display(request: Request):
    s = request.app.state.vcf.settings

    def run(form: Form):
        job = work.ImageJob(1, _one(form, "image", "the radiograph").path)
        return work.display(job, max_megapixels=s.max_image_megapixels)
    return await _receive(request, run)


# the route name (its operationId) shadows __future__.annotations, harmlessly
@router.post("/annotations", response_model=AnnotationResponse, summary="Boxes from a LabelImg XML file",  # type: ignore[no-redef]
             openapi_extra=_multipart({"annotation": _XML}, ["annotation"]))
async def annotations(request: Request):
    return await _receive(request, lambda form: work.annotation_boxes(
        _one(form, "annotation", "LabelImg XML").path))


@router.get("/model", summary="The model card (training data, metrics, intended use and limits)")
async def model_card(request: Request):
    state = request.app.state.vcf
    return {"model": state.model, "limits": state.limits, "card": state.predictor.card}


@router.post("/report", summary="A predict or batch response as CSV or a one-page HTML report",
             response_class=Response, responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": ReportRequest.model_json_schema(ref_template="#/components/schemas/{model}")}}}})
async def report(request: Request, format: str = "html"):
    """Validated and rendered in a worker thread: a large report must not stall the event loop."""
    from starlette.concurrency import run_in_threadpool

    if format not in ("html", "csv"):
        raise APIError(422, f"format must be html or csv, got '{format[:20]}'")
    body = await with_timeout(request, _read_body(request))
    state = request.app.state.vcf
    limits = {"max_boxes": state.settings.max_boxes, "max_batch_images": state.settings.max_batch_images}
    return await run_in_threadpool(_render_report, body, format, limits, state.templates.env)


def _render_report(body: bytes, format: str, limits: dict, templates) -> Response:
    from pydantic import ValidationError

    from vcfnet.service.report import report_csv, report_html

    try:
        data = ReportRequest.model_validate_json(body, context=limits)
    except ValidationError as exc:
        first: Mapping[str, Any] = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise APIError(422, f"not a predict response: {where}: {first.get('msg', 'invalid')}") from None
    if format == "csv":
        return PlainTextResponse(report_csv(data), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="vcfnet-results.csv"'})
    return Response(report_html(data, templates), media_type="text/html", headers={
        "Content-Disposition": 'attachment; filename="vcfnet-report.html"',
        "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


async def _read_body(request: Request) -> bytes:
    limit = int(request.app.state.vcf.settings.max_upload_mb * 2 ** 20)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"body larger than the limit of {limit / 2 ** 20:g} MB (setting max_upload_mb)")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise APIError(413, f"body larger than the limit of {limit / 2 ** 20:g} MB (setting max_upload_mb)")
        chunks.append(chunk)
    return b"".join(chunks)
