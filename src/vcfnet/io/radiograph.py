"""Read a radiograph (DICOM, PNG, JPEG, TIFF) into a float image in [0, 1], bone bright.

DICOM pipeline, in the order the standard defines (PS3.4 N.2.1): stored values -> Modality LUT
(rescale) -> VOI LUT or window (first of several; none: the BitsStored range) -> MONOCHROME1 inversion.
Inverting before the VOI step, as the original study's converter did, maps the window onto the wrong
values. Everything stays in float64 until the final float32 array.

A stored window that leaves (almost) no contrast (real archives carry windows that miss every pixel
value) is detected and replaced, with a warning, by the image's own 0.5-99.5 percentile range.

Headers are checked before anything is allocated from them: an image larger than ``MAX_PIXELS`` is
refused before decoding, and a data set in the Deflated Explicit VR Little Endian syntax is inflated
here, in chunks, up to what its header announces (``MAX_INFLATED_BYTES`` at most), instead of by
pydicom in one call (a 0.5 MB file of deflated zeros would otherwise cost over 1 GB).
"""
from __future__ import annotations

import contextlib
import io
import logging
import threading
import zlib
from pathlib import Path

import numpy as np

from vcfnet.errors import InputError
from vcfnet.io.deid import PatientKeys, safe_dicom_meta
from vcfnet.io.image import UnidentifiedImage, read_image_file
from vcfnet.io.radiograph_data import Radiograph
from vcfnet.io.radiograph_data import one_line as _one_line

log = logging.getLogger(__name__)

#: A window saturating more than this share of pixels at one end leaves no usable contrast.
SATURATED_SHARE = 0.99
#: Percentile range used when the stored window is useless.
FALLBACK_PERCENTILES = (0.5, 99.5)
_MIN_SPREAD = 1.0 / 255.0  # 99% of pixels within one 8-bit grey level: no contrast either
#: Largest image accepted (Rows x Columns): 8192 x 8192 is a 43 cm detector at 0.05 mm pixels.
MAX_PIXELS = 8192 * 8192
#: Room for the non-pixel elements of a data set (overlays, private tags, icons).
HEADER_ALLOWANCE = 16 << 20
#: Most bytes a deflated data set may inflate to: the largest image at 16 bits plus the header room.
MAX_INFLATED_BYTES = 2 * MAX_PIXELS + HEADER_ALLOWANCE
_CHUNK = 1 << 20            # compressed bytes read, and inflated bytes produced, per step
_PROBE = 256 << 10          # inflated bytes parsed to learn the image size the header announces
_DEFLATED = "1.2.840.10008.1.2.1.99"


def read_radiograph(path: str | Path, *, pseudonymizer: PatientKeys | None = None) -> Radiograph:
    """Read a DICOM (detected by content, not extension) or an image file Pillow can open.

    Raises ``InputError`` naming ``path`` for anything unreadable: missing file, broken compressed
    stream, truncated image, colour or multi-frame DICOM.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    if _has_dicom_preamble(path):
        return _read_dicom(path, pseudonymizer, force=False)
    try:
        return read_image_file(path)
    except UnidentifiedImage:
        pass
    # Not an image Pillow knows: maybe a DICOM written without the 128-byte preamble.
    if _looks_like_preambleless_dicom(path):
        return _read_dicom(path, pseudonymizer, force=True)
    raise InputError(path, "not a DICOM file (no 'DICM' marker) nor an image format Pillow can read "
                           "(PNG, JPEG, TIFF)")


def _has_dicom_preamble(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def _looks_like_preambleless_dicom(path: Path) -> bool:
    """A preamble-less DICOM starts with a group 0x0002 or 0x0008 element (little endian)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    return len(head) == 8 and head[1] == 0 and head[0] in (0x02, 0x08) and head[3] == 0


def _read_dicom(path: Path, pseudonymizer: PatientKeys | None, *, force: bool) -> Radiograph:
    try:
        ds = read_dicom_dataset(path, force=force)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for a damaged header
        raise InputError(path, f"cannot read the DICOM header ({type(exc).__name__}: {exc})") from None
    try:
        _check_greyscale_single_frame(path, ds)
    except (TypeError, ValueError) as exc:  # e.g. SamplesPerPixel 'abc'
        raise InputError(path, f"invalid image header value ({_one_line(exc)})") from None
    if force:
        _infer_transfer_syntax(ds)
    try:
        with _quiet_decoder_tracebacks():
            stored = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - decoder plugins raise RuntimeError, ValueError, ...
        raise InputError(path, f"cannot decode the pixel data ({_transfer_syntax(ds)}): "
                               f"{_one_line(exc)}") from None
    if stored.ndim != 2:
        raise InputError(path, f"expected one greyscale frame, decoded an array of shape {stored.shape}")
    try:
        pixels = dicom_to_unit(stored, ds, source=str(path))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # malformed rescale/LUT elements
        raise InputError(path, f"invalid Modality/VOI LUT header values ({_one_line(exc)})") from None
    return Radiograph(pixels=pixels, meta=safe_dicom_meta(ds, pseudonymizer), source=str(path))


def read_dicom_dataset(path: str | Path, *, force: bool = False, stop_before_pixels: bool = False):
    """``pydicom.dcmread``, except that a deflated data set is inflated here within bounds (pydicom
    inflates the whole stream, even with ``stop_before_pixels``). The one DICOM header reader of vcfnet:
    ``read_radiograph`` and the service's upload checks both use it."""
    import pydicom
    from pydicom.filereader import _read_file_meta_info, read_preamble

    with open(path, "rb") as fh:
        preamble = read_preamble(fh, force)
        meta = _read_file_meta_info(fh)
        if str(meta.get("TransferSyntaxUID", "")).strip() != _DEFLATED:
            return pydicom.dcmread(path, force=force, stop_before_pixels=stop_before_pixels)
        buffer = _explicit_head(preamble, meta)
        _inflate_into(buffer, fh, Path(path))
    buffer.seek(0)
    return pydicom.dcmread(buffer, force=force, stop_before_pixels=stop_before_pixels)


def _explicit_head(preamble: bytes | None, meta) -> io.BytesIO:
    """Preamble and file meta of the inflated copy: the same, with Explicit VR Little Endian."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import ExplicitVRLittleEndian

    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_file_meta_info(fp, meta, enforce_standard=False)
    buffer = io.BytesIO()
    buffer.write((preamble or b"\0" * 128) + b"DICM" + fp.getvalue())
    return buffer


def _inflate_into(buffer: io.BytesIO, fh, path: Path) -> None:
    """Inflate the rest of ``fh`` (raw deflate) onto ``buffer``, refusing once it outgrows its bound."""
    start = buffer.tell()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    bound, probed = MAX_INFLATED_BYTES, False
    try:
        while not inflater.eof:
            chunk = inflater.unconsumed_tail or fh.read(_CHUNK)
            if not chunk:
                raise InputError(path, "the deflated data set is truncated (the deflate stream ends early)")
            buffer.write(inflater.decompress(chunk, _CHUNK))
            size = buffer.tell() - start
            if not probed and (size >= _PROBE or inflater.eof):
                bound, probed = _announced_bound(buffer.getbuffer()[start:start + _PROBE]), True
            if size > bound:
                raise InputError(path, f"the deflated data set inflates to more than {bound >> 20} MiB, more "
                                       f"than the image its header announces needs (at most "
                                       f"MAX_INFLATED_BYTES = {MAX_INFLATED_BYTES >> 20} MiB, "
                                       f"vcfnet.io.radiograph); refused")
    except zlib.error as exc:
        raise InputError(path, f"the deflated data set is damaged (zlib: {exc})") from None


def _announced_bound(head: memoryview) -> int:
    """Inflated size the first elements allow: the announced image plus header room, else the maximum."""
    import pydicom

    keywords = ("Rows", "Columns", "BitsAllocated", "SamplesPerPixel", "NumberOfFrames")
    try:
        ds = pydicom.dcmread(io.BytesIO(head), force=True, stop_before_pixels=True,
                             specific_tags=list(keywords))
        rows, columns, bits = int(ds.Rows), int(ds.Columns), int(ds.BitsAllocated)
        samples, frames = int(ds.get("SamplesPerPixel", 1) or 1), int(ds.get("NumberOfFrames", 1) or 1)
    except Exception:  # noqa: BLE001 - a truncated or odd head: the size stays unknown
        return MAX_INFLATED_BYTES
    announced = rows * columns * samples * frames * max(1, (bits + 7) // 8)
    return min(MAX_INFLATED_BYTES, announced + HEADER_ALLOWANCE)


class _DecoderTracebackFilter(logging.Filter):
    """While this thread decodes, pydicom's per-plugin tracebacks go to DEBUG as one line.

    pydicom logs every failing decoder plugin with a full traceback before it raises; the error it
    raises already names each plugin's failure, and becomes our ``InputError``, so the user sees one
    clear message instead of a traceback.
    """

    active = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and getattr(self.active, "on", False):
            log.debug("pydicom decoder: %s", " ".join(record.getMessage().split()))
            return False
        return True


_DECODER_FILTER = _DecoderTracebackFilter()


@contextlib.contextmanager
def _quiet_decoder_tracebacks():
    logger = logging.getLogger("pydicom.pixels.decoders.base")
    if _DECODER_FILTER not in logger.filters:
        logger.addFilter(_DECODER_FILTER)
    _DECODER_FILTER.active.on = True
    try:
        yield
    finally:
        _DECODER_FILTER.active.on = False


def _check_greyscale_single_frame(path: Path, ds) -> None:
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        raise InputError(path, "DICOM file has no pixel data (not an image)")
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise InputError(path, f"colour DICOM (SamplesPerPixel {samples}, PhotometricInterpretation "
                               f"'{photometric}'): only greyscale MONOCHROME1/MONOCHROME2 radiographs "
                               "are supported")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise InputError(path, f"multi-frame DICOM ({frames} frames): expected a single radiograph")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows * columns > MAX_PIXELS:   # refused before a decoder allocates Rows x Columns
        raise InputError(path, f"image of {rows} x {columns} pixels: at most {MAX_PIXELS} pixels are "
                               f"supported (MAX_PIXELS in vcfnet.io.radiograph)")


def _infer_transfer_syntax(ds) -> None:
    """A file without meta header can only be uncompressed: take the encoding pydicom detected."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" not in ds.file_meta:
        implicit, little = ds.original_encoding
        ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit else
                                          ExplicitVRLittleEndian if little else ExplicitVRBigEndian)


def _transfer_syntax(ds) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return f"transfer syntax {uid.name}" if uid is not None else "unknown transfer syntax"


def dicom_to_unit(stored: np.ndarray, ds, *, source: str = "") -> np.ndarray:
    """Stored values -> Modality LUT -> VOI LUT/window -> MONOCHROME1 inversion, as float32 [0, 1].

    Args:
        stored: (H, W) stored pixel values (``ds.pixel_array``).
        ds: the pydicom dataset the values come from.
        source: file name used in the warning when the stored window leaves no contrast.
    """
    from pydicom.pixels import apply_modality_lut

    values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
    try:
        unit, how = _voi_to_unit(values, ds)
        problem = _contrast_problem(unit)
    except ValueError as exc:  # an invalid stored window/LUT: treat it like a useless one
        how, problem = "stored VOI", _one_line(exc)
    if problem:
        log.warning("%s: the %s is unusable (%s); using the image's own %g-%g percentile range instead",
                    source or "DICOM", how, problem, *FALLBACK_PERCENTILES)
        unit = percentile_to_unit(values)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        unit = 1.0 - unit
    return unit.astype(np.float32)


def _contrast_problem(unit: np.ndarray) -> str:
    """Why a [0, 1] image has no usable contrast, or '' if it has some."""
    step = max(1, int(np.ceil(np.sqrt(unit.size / 250_000))))  # ~250k pixels tell saturation well enough
    sample = unit[::step, ::step]
    low, high = np.mean(sample <= 0.0), np.mean(sample >= 1.0)
    if max(low, high) > SATURATED_SHARE:
        return f"{100 * max(low, high):.1f}% of pixels at {'black' if low > high else 'white'}"
    lo, hi = np.percentile(sample, FALLBACK_PERCENTILES)
    if hi - lo < _MIN_SPREAD:
        return "99% of pixels within one 8-bit grey level"
    return ""


def _voi_to_unit(values: np.ndarray, ds) -> tuple[np.ndarray, str]:
    """Apply the first VOI LUT, else the first window, else the BitsStored range; map to [0, 1]."""
    if ds.get("VOILUTSequence"):
        from pydicom.pixels import apply_voi

        item = ds.VOILUTSequence[0]
        first, n_entries = int(item.LUTDescriptor[1]), int(item.LUTDescriptor[0]) or 2**16
        lut = np.asarray(apply_voi(np.arange(first, first + n_entries), ds, index=0), dtype=np.float64)
        # Many archives declare 16-bit LUT entries but fill 12: scale by the bits actually used.
        top = min(2.0 ** int(item.LUTDescriptor[2]), 2.0 ** max(1, int(lut.max()).bit_length())) - 1
        integral = np.rint(values).astype(np.int64)
        return np.clip(apply_voi(integral, ds, index=0) / top, 0.0, 1.0), "VOI LUT"
    if "WindowCenter" in ds and "WindowWidth" in ds:
        centre, width = _first(ds.WindowCenter), _first(ds.WindowWidth)
        function = str(ds.get("VOILUTFunction", "LINEAR")).strip().upper() or "LINEAR"
        return window_to_unit(values, centre, width, function), f"window (centre {centre:g}, width {width:g})"
    lo, hi = _modality_range(ds)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0), f"BitsStored range ({lo:g}..{hi:g})"


def _first(value) -> float:
    if not isinstance(value, (str, bytes)) and hasattr(value, "__len__"):
        value = value[0]
    return float(value)


def window_to_unit(values: np.ndarray, centre: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM window (PS3.3 C.11.2.1.2 and C.11.2.1.3) with output range [0, 1].

    LINEAR uses the standard's ``c - 0.5`` / ``w - 1`` convention; LINEAR_EXACT and SIGMOID as defined.
    """
    if function == "SIGMOID":
        if width <= 0:
            raise ValueError(f"SIGMOID window width must be > 0, got {width:g}")
        return 1.0 / (1.0 + np.exp(-4.0 * (values - centre) / width))
    if function == "LINEAR":
        if width < 1:
            raise ValueError(f"LINEAR window width must be >= 1, got {width:g}")
        centre, width = centre - 0.5, width - 1.0
        if width == 0:  # width 1: a threshold at the centre
            return (values > centre).astype(np.float64)
    elif function == "LINEAR_EXACT":
        if width <= 0:
            raise ValueError(f"LINEAR_EXACT window width must be > 0, got {width:g}")
    else:
        raise ValueError(f"unsupported VOI LUT Function '{function}' (LINEAR, LINEAR_EXACT, SIGMOID)")
    return np.clip((values - centre) / width + 0.5, 0.0, 1.0)


def _modality_range(ds) -> tuple[float, float]:
    """The range of Modality LUT output values that BitsStored allows."""
    if ds.get("ModalityLUTSequence"):
        return 0.0, 2.0 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 0:
        lo, hi = 0.0, 2.0**bits - 1
    else:
        lo, hi = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    ends = sorted((lo * slope + intercept, hi * slope + intercept))
    return ends[0], ends[1]


def percentile_to_unit(values: np.ndarray, percentiles: tuple[float, float] = FALLBACK_PERCENTILES) -> np.ndarray:
    """Map the image's own percentile range to [0, 1] (min..max if that range is empty)."""
    lo, hi = np.percentile(values, percentiles)
    if hi <= lo:
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros_like(values, dtype=np.float64)
    return np.clip((values - lo) / (hi - lo), 0.0, 1.0)
