"""Uploads: streamed into a private per-request directory, byte-counted, deleted after use.

    >>> async with private_dir(settings) as folder:
    ...     form = await read_multipart(request, folder, max_bytes=settings.max_upload_mb * 2**20)

Files are stored as ``upload-<n>`` inside a ``mkdtemp`` directory (mode 0700): the client's file
name (which may carry a patient's name) is never used, logged or echoed.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from vcfnet.service.errors import APIError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger("vcfnet.service")

MAX_FIELD_BYTES = 1 << 20
MAX_PARTS = 128


@dataclass
class UploadedFile:
    field: str
    path: Path
    size: int


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[UploadedFile]] = field(default_factory=dict)
    total_bytes: int = 0

    def value(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


@contextlib.asynccontextmanager
async def private_dir(parent: Path | None, *, keep: bool, request_id: str) -> AsyncIterator[Path]:
    """A fresh 0700 directory for one request's uploads; removed afterwards unless ``keep``."""
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix=f"vcfnet-{request_id}-", dir=parent))
    try:
        yield folder
    finally:
        if keep:
            log.info("request %s: uploads kept in %s", request_id, folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _too_large(max_bytes: int) -> APIError:
    return APIError(413, f"upload larger than the limit of {max_bytes / 2 ** 20:g} MB "
                         f"(setting max_upload_mb)")


class _Collector:
    """python-multipart callbacks: form fields into memory (bounded), files onto disk."""

    def __init__(self, folder: Path, form: Form):
        self.folder, self.form = folder, form
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name: str | None = None
        self.is_file = False
        self.buffer = bytearray()
        self.sink: BinaryIO | None = None
        self.size = 0
        self.parts = 0

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_val, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_done, "on_part_data": self.data,
                "on_part_end": self.part_end}

    def part_begin(self):
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise APIError(400, f"too many form parts (at most {MAX_PARTS})")
        self.headers, self.name, self.is_file, self.size = {}, None, False, 0
        self.buffer = bytearray()

    def header_field(self, data, start, end):
        self.header_name += data[start:end]

    def header_val(self, data, start, end):
        self.header_value += data[start:end]

    def header_end(self):
        self.headers[self.header_name.strip().lower()] = self.header_value.strip()
        self.header_name, self.header_value = b"", b""

    def headers_done(self):
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise APIError(400, "a form part has no name (Content-Disposition: form-data; name=...)")
        self.name = options[b"name"].decode("utf-8", "replace")
        self.is_file = b"filename" in options
        if self.is_file:
            n = sum(len(v) for v in self.form.files.values())
            self.sink = open(self.folder / f"upload-{n}", "wb")

    def data(self, data, start, end):
        chunk = data[start:end]
        self.size += len(chunk)
        if self.is_file:
            assert self.sink is not None  # headers_done opened it: python-multipart ends the headers first
            self.sink.write(chunk)
        else:
            if self.size > MAX_FIELD_BYTES:
                raise APIError(413, f"form field '{self.name}' larger than {MAX_FIELD_BYTES // 1024} kB")
            self.buffer += chunk

    def part_end(self):
        assert self.name is not None  # set by headers_done, which python-multipart calls before any part end
        if self.is_file:
            assert self.sink is not None
            path = Path(self.sink.name)
            self.sink.close()
            self.sink = None
            self.form.files.setdefault(self.name, []).append(UploadedFile(self.name, path, self.size))
        else:
            try:
                text = self.buffer.decode("utf-8")
            except UnicodeDecodeError:
                raise APIError(400, f"form field '{self.name}' is not UTF-8 text") from None
            self.form.fields.setdefault(self.name, []).append(text)

    def close(self):
        if self.sink is not None:
            self.sink.close()


def _boundary(request: Request) -> bytes:
    ctype, options = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not options.get(b"boundary"):
        raise APIError(415, "expected a multipart/form-data upload (an image file field plus boxes), got "
                            f"Content-Type '{request.headers.get('content-type', 'none')}'")
    return options[b"boundary"]


async def read_multipart(request: Request, folder: Path, *, max_bytes: int) -> Form:
    """Stream the request body through the multipart parser; 413 as soon as it passes ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise APIError(400, "invalid Content-Length header")
        if int(declared) > max_bytes:
            raise _too_large(max_bytes)
    boundary = _boundary(request)
    form = Form()
    collector = _Collector(folder, form)
    parser = MultipartParser(boundary, collector.callbacks())
    try:
        async for chunk in request.stream():
            form.total_bytes += len(chunk)
            if form.total_bytes > max_bytes:
                raise _too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except APIError:
        raise
    except Exception as exc:   # python-multipart raises several types on malformed bodies
        if type(exc).__module__.startswith("python_multipart") or isinstance(exc, ValueError):
            raise APIError(400, f"malformed multipart/form-data body ({type(exc).__name__})") from None
        raise
    finally:
        collector.close()
    if collector.sink is not None or (collector.parts and collector.name is None):
        raise APIError(400, "malformed multipart/form-data body (a part was cut off)")
    return form
