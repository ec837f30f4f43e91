"""The overlay that works everywhere: a Secondary Capture (highdicom.sc) with the boxes burnt in.

The radiograph as the model saw it (``read_radiograph``: VOI applied, bone bright), in RGB, with each
box outlined and labelled (``L1 acute 81%``) and, when the findings carry Grad-CAM heatmaps, the
heatmap blended inside each crop window (``vcfnet.gradcam.overlay_heatmap``). Burned In Annotation is
YES; the image is derived and says so (Image Type DERIVED\\SECONDARY, the source in the Source Image
Sequence).
"""
from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as dcm_codes

from vcfnet.dicom.findings import Finding, copy_body_part
from vcfnet.dicom.identity import MANUFACTURER, AlgorithmIdentity, contributing_equipment
from vcfnet.gradcam import overlay_heatmap

SERIES_DESCRIPTION = "vcfnet AI overlay (secondary capture)"
BOX_COLOUR = (255, 230, 0)


def burn_in(pixels: np.ndarray, findings: Sequence[Finding]) -> np.ndarray:
    """(H, W, 3) uint8: the grey ``pixels`` ([0, 1], bone bright) with heatmaps, boxes and labels."""
    from PIL import Image, ImageDraw, ImageFont

    grey = np.clip(np.rint(np.asarray(pixels, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    for f in findings:
        if f.heatmap is not None:
            x0, y0, x1, y1 = f.window
            rgb[y0:y1, x0:x1] = overlay_heatmap(pixels, f.window, f.heatmap)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    height, width = grey.shape
    size = max(10, min(height, width) // 40)
    line = max(1, size // 6)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:   # Pillow < 10.1
        font = ImageFont.load_default()
    for f in findings:
        bx0, by0, bx1, by1 = f.box
        draw.rectangle([bx0, by0, bx1 - 1, by1 - 1], outline=BOX_COLOUR, width=line)
        draw.text((bx0, max(0.0, by0 - size - 2)), f.label, fill=BOX_COLOUR, font=font)
    return np.asarray(image)


def build_sc(source: Dataset, pixels: np.ndarray, findings: Sequence[Finding], identity: AlgorithmIdentity, *,
             series_uid: str, sop_uid: str, series_number: int = 992, instance_number: int = 1) -> hd.sc.SCImage:
    """The secondary capture of ``findings`` burnt into the ``source`` radiograph's ``pixels``."""
    rgb = burn_in(pixels, findings)
    spacing = source.get("PixelSpacing") or source.get("ImagerPixelSpacing")
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=rgb, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", series_instance_uid=series_uid, series_number=series_number,
        sop_instance_uid=sop_uid, instance_number=instance_number, manufacturer=MANUFACTURER,
        pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing else None,  # type: ignore[arg-type]
        patient_orientation=("A", "F"), transfer_syntax_uid="1.2.840.10008.1.2.1",
        contributing_equipment=[contributing_equipment(identity)])
    # highdicom wants an orientation to build the object; the result keeps the source's own, or none
    # (type 2: empty = unknown) rather than one nobody measured
    sc.PatientOrientation = source.get("PatientOrientation", "") or ""  # type: ignore[assignment]
    sc.SeriesDescription = SERIES_DESCRIPTION
    sc.BurnedInAnnotation = "YES"
    copy_body_part(source, sc)
    sc.ImageType = ["DERIVED", "SECONDARY"]
    sc.DerivationDescription = f"{identity.name}: boxes, labels" + (
        " and Grad-CAM heatmaps" if any(f.heatmap is not None for f in findings) else "")
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    purpose = hd.sr.CodedConcept(*_code(dcm_codes.DCM.SourceImageForImageProcessingOperation))
    item.PurposeOfReferenceCodeSequence = [purpose]
    sc.SourceImageSequence = [item]
    return sc


def _code(code) -> tuple[str, str, str]:
    return code.value, code.scheme_designator, code.meaning
