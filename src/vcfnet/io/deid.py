"""De-identification: keyed patient pseudonyms and the only DICOM header fields the system keeps.

Patient identity becomes ``P-`` + 16 hex digits of HMAC-SHA256(study key, PatientID). The key is a
per-study secret (``load_or_create_key``); without it a pseudonym cannot be traced back to a patient
by hashing candidate IDs, and the same patient gets the same pseudonym across every source of a study.

``safe_dicom_meta`` is an allow-list: it reads a handful of technical fields and the PatientID (only
to pseudonymise it, from the raw bytes so that pydicom's value validation can never echo it into a
log). It never reads patient name, birth date or accession number. The one place that does read them
is the service's scrub list (``vcfnet.service.inputs``), and only to remove them from any message about
an upload. Folder and file names are identifiers too: ``PathPseudonyms`` names sources and files by
keyed pseudonyms (``src-...``, ``F-...``) and ``redacting_logs`` removes their real names from every log
line written during an ingest.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from vcfnet.errors import InputError

log = logging.getLogger(__name__)

KEY_BYTES = 32
_PATIENT_ID_TAG = 0x00100020
_AGE_RE = re.compile(r"^(\d{1,3})([DWMY])$")
_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


class PatientKeys(Protocol):
    """What reading an image needs of a pseudonymizer: a patient key for a raw PatientID
    (``Pseudonymizer``, or the study's per-site wrapper around one)."""

    def patient(self, raw_id: str) -> str: ...


class Pseudonymizer:
    """Keyed pseudonyms for patient identifiers. The key never appears in ``repr``."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or len(key) < 16:
            raise ValueError("a pseudonymisation key must be at least 16 bytes (use load_or_create_key)")
        self._key = bytes(key)

    def patient(self, raw_id: str) -> str:
        """``'P-'`` + the first 16 hex digits of HMAC-SHA256(key, raw_id stripped of padding)."""
        text = str(raw_id).strip(" \x00")
        if not text:
            raise ValueError("cannot pseudonymise an empty patient identifier")
        digest = hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return "P-" + digest[:16]

    def site_patient(self, site: str, raw_id: str) -> str:
        """The study's patient pseudonym: scoped by site, because the same raw ID at two hospitals is two
        people. The one rule for every patient pseudonym of a study (DICOM PatientID, metadata.csv, an
        image that is its own patient)."""
        return self.patient(f"{site}|{raw_id}")

    def token(self, *parts: str) -> str:
        """64 hex digits of HMAC-SHA256(key, parts joined by NUL): a keyed pseudonym of anything."""
        return hmac.new(self._key, "\0".join(parts).encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<hidden>)"


_TOKEN = re.compile(r"[^/\\'\"`\s:;,.*()<>\[\]{}|=]+")
_NOT_NAMES = {"dcm", "dicom", "png", "jpg", "jpeg", "tif", "tiff", "xml", "txt", "csv"}


class PathPseudonyms:
    """Keyed pseudonyms for one source folder and its files, and redaction of their names from text."""

    def __init__(self, key: bytes, root: str | Path, *, given: str | Path | None = None):
        self._pseudo, self.root = Pseudonymizer(key), Path(root)
        self.source_id = "src-" + self._pseudo.token("source", str(self.root))[:12]
        self._given = str(given) if given is not None else None
        self._names: set[str] | None = None

    def file(self, rel: str) -> str:
        """The pseudonym of the file at ``rel`` (posix, relative to the root)."""
        return "F-" + self._pseudo.token("file", self.source_id, rel)[:16]

    def of_path(self, path: str | Path) -> str:
        """The pseudonym of a file given by its path (a path outside the source is redacted)."""
        try:
            return self.file(Path(path).relative_to(self.root).as_posix())
        except ValueError:
            return self.redact(str(path))

    def redact(self, text: str) -> str:
        """``text`` with the source's path and every name (and part of a name) under it replaced."""
        for prefix in filter(None, (str(self.root), self._given)):
            text = text.replace(prefix, "<source>")
        names = self._known_names()
        return _TOKEN.sub(lambda m: "…" if m.group(0) in names else m.group(0), text)

    def _known_names(self) -> set[str]:
        if self._names is None:
            parts = [*self.root.parts, *(Path(self._given).parts if self._given else ())]
            try:
                parts += [q for p in self.root.rglob("*") for q in p.relative_to(self.root).parts]
            except OSError:
                pass
            self._names = {t for p in set(parts) for t in _TOKEN.findall(p)
                           if len(t) >= 3 and t.lower() not in _NOT_NAMES} - {"source"}
        return self._names


class _RedactFilter(logging.Filter):
    def __init__(self, paths: PathPseudonyms):
        super().__init__()
        self._paths = paths

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record must not escape unredacted, nor raise here
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = self._paths.redact(message), None
        if record.exc_info and not record.exc_text:   # a traceback's messages name files too
            record.exc_text = self._paths.redact(logging.Formatter().formatException(record.exc_info))
        return True


@contextlib.contextmanager
def redacting_logs(paths: PathPseudonyms) -> Iterator[None]:
    """Every log line handled meanwhile (any module, forked workers too) has the source's names redacted."""
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    flt = _RedactFilter(paths)
    for h in handlers:
        if h is not None:
            h.addFilter(flt)
    try:
        yield
    finally:
        for h in handlers:
            if h is not None:
                h.removeFilter(flt)


def load_or_create_key(path: str | Path) -> bytes:
    """Read the study's secret key from ``path``, creating it (32 random bytes, mode 0600) if absent.

    Creation is atomic and race-free: the key is written to a private temporary file and hard-linked
    into place, so two processes starting together end up sharing whichever key landed first.
    """
    path = Path(path)
    if not path.exists():
        _create_key(path)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the study key: {exc.strerror}") from None
    if len(key) != KEY_BYTES:
        raise InputError(path, f"study key file must hold exactly {KEY_BYTES} bytes, found {len(key)}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        log.warning("%s: study key is readable by other users (mode %o); chmod 600 it", path, mode)
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the key first: keep theirs
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


def safe_dicom_meta(ds: Any, pseudonymizer: PatientKeys | None) -> dict:
    """The de-identified metadata of a pydicom ``Dataset`` (see ``Radiograph.meta`` for the keys).

    ``patient_key`` is ``None`` without a pseudonymizer or when the file has no PatientID (an empty
    ID must not merge unrelated patients under one pseudonym).
    """
    spacing, spacing_source = _pixel_spacing(ds)
    raw_id = _raw_patient_id(ds)
    return {
        "format": "DICOM",
        "modality": _text(ds, "Modality"),
        "pixel_spacing": spacing,
        "pixel_spacing_source": spacing_source,
        "body_part": _text(ds, "BodyPartExamined"),
        "photometric": _text(ds, "PhotometricInterpretation"),
        "bits_stored": _int_or_none(ds.get("BitsStored")),
        "manufacturer": _text(ds, "Manufacturer"),
        "study_date": _iso_date(_text(ds, "StudyDate")),
        "patient_age": parse_age(_text(ds, "PatientAge")),
        "patient_sex": _sex(_text(ds, "PatientSex")),
        "patient_key": pseudonymizer.patient(raw_id) if pseudonymizer and raw_id else None,
    }


def parse_age(text: str) -> float | None:
    """DICOM Age String (``'067Y'``, ``'018M'``, ``'003W'``, ``'010D'``) -> years; ``None`` if invalid."""
    m = _AGE_RE.match(text.strip().upper())
    if not m:
        return None
    return round(int(m.group(1)) * _AGE_UNIT_YEARS[m.group(2)], 4)


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if not isinstance(value, (str, bytes)) and hasattr(value, "__len__"):
        value = value[0] if len(value) else ""  # multi-valued: keep the first
    return str(value).strip()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _pixel_spacing(ds: Any) -> tuple[list[float] | None, str]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        try:
            spacing = [float(v) for v in value] if value is not None else None
        except (TypeError, ValueError):
            spacing = None
        if spacing and len(spacing) == 2 and all(v > 0 for v in spacing):
            return spacing, keyword
    return None, ""


def _iso_date(text: str) -> str:
    digits = text.replace("-", "").replace(".", "")
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return ""


def _sex(text: str) -> str:
    text = text.upper()
    return text if text in ("F", "M") else ""


def _raw_patient_id(ds: Any) -> str:
    """PatientID decoded from its raw bytes: no pydicom validation, hence no warning that quotes it."""
    if _PATIENT_ID_TAG not in ds:
        return ""
    value = ds.get_item(_PATIENT_ID_TAG).value
    if value is None:
        return ""
    if isinstance(value, bytes):
        from pydicom.charset import convert_encodings, decode_bytes

        try:
            charsets = convert_encodings(ds.get("SpecificCharacterSet", "ISO_IR 6"))
            value = decode_bytes(value, charsets, {0x5C})
        except Exception:  # noqa: BLE001 - any charset trouble: fall back to a byte-faithful decode
            value = value.decode("latin-1")
    return str(value).strip(" \x00")
