"""JSON errors: every failure the service reports has the body ``{"error": {"code", "message"}}``.

User mistakes raise :class:`APIError` with a 4xx status and a message that says what was expected.
Anything else is a bug: it is logged with its traceback under the request id and answered with a
500 that reveals nothing about the input.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("vcfnet.service")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
          422: "invalid_input", 429: "rate_limited", 500: "internal_error", 503: "busy", 504: "timeout"}
#: Messages quote user text (a class name, a JSON value); past this many characters it is cut.
MAX_MESSAGE_CHARS = 400


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters not shown)"


class APIError(Exception):
    """A 4xx/5xx answer with a stable ``code`` and a human ``message``."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, message: str, *, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code or _CODES.get(status, "error"), bounded(message)), status_code=status,
                        headers=headers)


#: OpenAPI description of the error responses each endpoint may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"example": error_body(_CODES[status], text)}}}
    for status, text in [
        (400, "Unreadable upload (e.g. a broken DICOM) or malformed form"),
        (401, "Missing or invalid API token (Authorization: Bearer ...)"),
        (403, "Signed-in page request without its X-CSRF-Token header"),
        (413, "Upload or image larger than the configured limit"),
        (415, "Not a radiograph (expected DICOM, PNG, JPEG or TIFF) or not multipart/form-data"),
        (422, "Invalid boxes (outside the image, zero area, bad JSON), naming the box"),
        (429, "Rate limit per token exceeded; see Retry-After"),
        (503, "The inference threads are still finishing requests that timed out; see Retry-After"),
        (504, "The request took longer than the configured timeout"),
    ]}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return error_response(exc.status, exc.message, code=exc.code, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()[:5]]
        return error_response(422, "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        return internal_error(request, exc)


def internal_error(request: Request, exc: BaseException) -> JSONResponse:
    """A bug: logged once with its traceback under the request id, answered with a bare 500."""
    rid = getattr(request.state, "request_id", "-")
    log.error("request %s failed with an internal error", rid, exc_info=exc)
    return error_response(500, f"internal error (request id {rid}); the input was not the cause "
                               f"the service could identify")
