"""What a request uploads, checked before the model sees it: the image kind, its size, its boxes.

Content is judged by bytes, never by the client's file name or Content-Type. Messages never contain
the server-side temp path or the client's file name; images are named "image 1", "image 2", ...
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfnet.errors import InputError
from vcfnet.io.annotations import coords_problem
from vcfnet.service.errors import APIError

EXPECTED_IMAGE = "a lateral spine radiograph as DICOM (with the 'DICM' preamble), PNG, JPEG or TIFF"
#: Metadata keys a response may carry; everything else in ``Radiograph.meta`` stays on the server.
#: Free-text fields (Manufacturer, ...) are never echoed; coded ones only when they hold a known code.
PUBLIC_META = ("format", "modality", "photometric", "bits_stored", "pixel_spacing", "body_part")
_CODES = {
    "format": {"dicom", "png", "jpeg", "tiff"},
    "modality": {"DX", "CR", "RG", "DR", "RF", "XA", "CT", "MR", "OT", "SC"},
    "photometric": {"MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422"},
    "body_part": {"SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "TLSPINE", "LSSPINE", "CTSPINE", "COCCYX",
                  "SACRUM", "CHEST", "ABDOMEN", "PELVIS", "WHOLEBODY"},     # DICOM PS3.16 Annex L terms
}
#: DICOM keywords whose values are scrubbed from any message derived from an uploaded file.
_IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "OtherPatientIDs",
                "OtherPatientNames", "ReferringPhysicianName", "InstitutionName", "StudyID",
                "PerformingPhysicianName", "OperatorsName", "PatientAddress", "PatientMotherBirthName")


@dataclass
class ImageInfo:
    kind: str                  # dicom | png | jpeg | tiff
    width: int
    height: int
    identifiers: list[str] = field(default_factory=list)

    def scrub(self, text: str) -> str:
        """``text`` with every identifying header value replaced by ``[removed]``."""
        for value in sorted(self.identifiers, key=len, reverse=True):
            text = re.sub(re.escape(value), "[removed]", text, flags=re.IGNORECASE)
        return text


@dataclass
class BoxSpec:
    box: tuple[float, float, float, float]
    annotation: dict[str, str] | None = None   # class/level written in an uploaded LabelImg file


def sniff_kind(head: bytes) -> str | None:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    return None


def _describe(head: bytes) -> str:
    stripped = head.lstrip()
    if stripped.startswith(b"<"):
        return "XML or HTML text"
    if stripped[:1] in (b"{", b"["):
        return "JSON text"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if not head:
        return "an empty file"
    return "an unknown format"


def inspect_image(path: Path, name: str, *, max_megapixels: float) -> ImageInfo:
    """Kind and size from the header only; 415 for a non-image, 400 for an unreadable header, 413 if huge."""
    with open(path, "rb") as fh:
        head = fh.read(132)
    kind = sniff_kind(head)
    if kind is None:
        raise APIError(415, f"{name}: expected {EXPECTED_IMAGE}; the upload looks like {_describe(head)}")
    info = _dicom_header(path, name) if kind == "dicom" else _pillow_header(path, name, kind)
    if info.width < 1 or info.height < 1:
        raise APIError(400, f"{name}: the {kind.upper()} header gives an empty image ({info.width}x{info.height})")
    megapixels = info.width * info.height / 1e6
    if megapixels > max_megapixels:
        raise APIError(413, f"{name}: {info.width}x{info.height} pixels ({megapixels:.0f} MP) exceeds the "
                            f"limit of {max_megapixels:g} MP (setting max_image_megapixels)")
    return info


def _pillow_header(path: Path, name: str, kind: str) -> ImageInfo:
    from PIL import Image

    try:
        with Image.open(path) as im:
            width, height = im.size
    except Image.DecompressionBombError:
        raise APIError(413, f"{name}: the {kind.upper()} header declares more pixels than Pillow will decode "
                            f"(over {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} MP)") from None
    except Exception:   # Pillow raises many types for a damaged header; all mean "unreadable"
        raise APIError(400, f"{name}: the {kind.upper()} header cannot be read (truncated or corrupt "
                            f"file); expected {EXPECTED_IMAGE}") from None
    return ImageInfo(kind, int(width), int(height))


def _dicom_header(path: Path, name: str) -> ImageInfo:

    try:
        ds = _read_header(path)
        rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    except InputError as exc:      # e.g. a deflated data set that inflates past its bound
        raise APIError(400, f"{name}: {exc.problem}") from None
    except Exception:   # pydicom raises many types for a damaged header
        raise APIError(400, f"{name}: the DICOM header cannot be read (truncated or corrupt file); "
                            f"expected {EXPECTED_IMAGE}") from None
    identifiers = []
    for keyword in _IDENTIFYING:
        try:
            value = ds.get(keyword)
        except Exception:   # a malformed element value: nothing to scrub from it
            continue
        values = value if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
        for v in values:
            text = str(v or "").strip()
            if len(text) >= 3:
                identifiers.append(text)
                identifiers.extend(p for p in re.split(r"[\^ ]+", text) if len(p) >= 3)
    return ImageInfo("dicom", cols, rows, identifiers)


def _read_header(path: Path):
    """The data set without pixels; a deflated one is inflated within bounds by ``vcfnet.io``.

    pydicom inflates a Deflated Explicit VR Little Endian stream whole, even with
    ``stop_before_pixels``: a 0.5 MB upload would cost a gigabyte here.
    """
    from vcfnet.io.radiograph import read_dicom_dataset

    return read_dicom_dataset(path, stop_before_pixels=True)


def decode_image(path: Path, name: str, info: ImageInfo):
    """The ``Radiograph`` (via ``vcfnet.io.read_radiograph``); 400 naming the problem when it fails."""
    from vcfnet.io import read_radiograph

    try:
        radiograph = read_radiograph(path)
    except InputError as exc:
        raise APIError(400, f"{name}: {info.scrub(exc.problem)}") from None
    except Exception as exc:   # a decoder failing on user bytes is the input's problem, not a server bug
        raise APIError(400, f"{name}: cannot decode the {info.kind.upper()} image "
                            f"({type(exc).__name__}); expected {EXPECTED_IMAGE}") from None
    if radiograph.pixels.shape != (info.height, info.width):
        info.height, info.width = radiograph.pixels.shape
    return radiograph


def public_meta(meta: dict) -> dict[str, Any]:
    """The de-identified metadata a response may show: known codes, a bit depth, a pixel spacing."""
    out: dict[str, Any] = {}
    for key, value in ((k, meta[k]) for k in PUBLIC_META if k in meta):
        if key in _CODES:
            text = str(value).strip().upper() if key != "format" else str(value)
            if text in _CODES[key]:
                out[key] = text
        elif key == "bits_stored" and isinstance(value, int) and 1 <= value <= 32:
            out[key] = value
        elif key == "pixel_spacing" and _spacing(value):
            out[key] = [float(v) for v in value]
    return out


def _spacing(value: Any) -> bool:
    try:
        return len(value) == 2 and all(0 < float(v) < 1e3 for v in value)
    except (TypeError, ValueError):
        return False


# ---- boxes ------------------------------------------------------------------------------------

def parse_boxes_json(text: str, name: str) -> list[BoxSpec]:
    """``[[x0, y0, x1, y1], ...]`` or ``[{"x0":..,"y0":..,"x1":..,"y1":..}, ...]`` -> boxes."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise APIError(422, f"{name}: boxes are not valid JSON ({str(exc)[:120]}); expected "
                            f"[[x0, y0, x1, y1], ...] in pixels") from None
    if isinstance(data, dict) and "boxes" in data:
        data = data["boxes"]
    if not isinstance(data, list):
        raise APIError(422, f"{name}: boxes must be a JSON list of [x0, y0, x1, y1], got {type(data).__name__}")
    return [BoxSpec(_one_box(item, f"{name}, box {i}")) for i, item in enumerate(data, start=1)]


def _one_box(item: Any, where: str) -> tuple[float, float, float, float]:
    if isinstance(item, dict):
        item = [item.get(k) for k in ("x0", "y0", "x1", "y1")]
    if not isinstance(item, list) or len(item) != 4 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in item):
        raise APIError(422, f"{where}: expected four numbers [x0, y0, x1, y1] (pixels), got "
                            f"{json.dumps(item)[:80]}")
    try:
        return tuple(float(v) for v in item)  # type: ignore[return-value]
    except OverflowError:   # an integer with hundreds of digits
        raise APIError(422, f"{where}: a coordinate is too large to be a pixel position; expected "
                            f"[x0, y0, x1, y1] in pixels of the image") from None


def parse_boxes_xml(path: Path, name: str) -> list[BoxSpec]:
    """Boxes from an uploaded LabelImg Pascal VOC file, read by ``vcfnet.io.read_voc``.

    Its XML goes through vcfnet's one hardened parser (``vcfnet.io.xmlsafe``: defusedxml, DTDs and
    entities refused inside the parser, so in every encoding); the size is checked here first.
    """
    from vcfnet.io import read_voc
    from vcfnet.io.xmlsafe import MAX_XML_BYTES

    if path.stat().st_size > MAX_XML_BYTES:
        raise APIError(413, f"{name}: LabelImg XML larger than {MAX_XML_BYTES // 1024} kB")
    try:
        voc = read_voc(path)
    except InputError as exc:
        raise APIError(422 if exc.field else 400, f"{name}: {exc.problem}") from None
    except Exception as exc:   # the XML parser on hostile bytes: still the input's problem
        raise APIError(400, f"{name}: cannot read the LabelImg XML ({type(exc).__name__})") from None
    return [BoxSpec((b.x0, b.y0, b.x1, b.y1), {"label": b.label, "level": b.level}) for b in voc.boxes]


def check_boxes(boxes: list[BoxSpec], name: str, width: int, height: int, max_boxes: int) -> None:
    """422 naming the first box that is empty, not finite or outside the ``width`` x ``height`` image."""
    if not boxes:
        raise APIError(422, f"{name}: no boxes; draw or send at least one box around a vertebra")
    if len(boxes) > max_boxes:
        raise APIError(422, f"{name}: {len(boxes)} boxes, more than the limit of {max_boxes} (setting max_boxes)")
    for i, spec in enumerate(boxes, start=1):
        x0, y0, x1, y1 = spec.box
        problem = coords_problem(x0, y0, x1, y1, width, height)
        if problem:
            raise APIError(422, f"{name}, box {i} [{x0:g}, {y0:g}, {x1:g}, {y1:g}]: {problem}")


# ---- clinical values (age, sex) --------------------------------------------------------------------

#: Ages the service accepts in a form field (years); the model card says which range it was trained on.
AGE_LIMITS = (0.0, 130.0)
SEX_VALUES = {"F": "F", "M": "M", "FEMALE": "F", "MALE": "M"}


def parse_clinical(age: str | None, sex: str | None, name: str) -> dict[str, Any]:
    """The age and sex a form sent (blank = not given): 422 naming the field when malformed."""
    out: dict[str, Any] = {}
    if age is not None and str(age).strip():
        text = str(age).strip()
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not AGE_LIMITS[0] <= value <= AGE_LIMITS[1]:
            raise APIError(422, f"{name}: age '{text[:20]}' is not a number of years between "
                                f"{AGE_LIMITS[0]:g} and {AGE_LIMITS[1]:g} (leave it blank when unknown)")
        out["age"] = value
    if sex is not None and str(sex).strip():
        text = str(sex).strip().upper()
        if text not in SEX_VALUES:
            raise APIError(422, f"{name}: sex '{str(sex).strip()[:20]}' is not F or M (leave it blank when unknown)")
        out["sex"] = SEX_VALUES[text]
    return out


def header_clinical(meta: dict) -> dict[str, Any]:
    """Age and sex from the radiograph's safe metadata (DICOM PatientAge / PatientSex), when present."""
    from vcfnet.model.clinical import header_values

    return header_values(meta)
