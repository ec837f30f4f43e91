"""The overlay every viewer can toggle: a Grayscale Softcopy Presentation State (highdicom.pr).

One graphic layer, ``VCFNET``, on the source image: each box as a closed polyline and its label
(``L1 acute 81%``) as text anchored above the box's top-left corner, in image pixel units. The window
and presentation LUT are the source image's own (highdicom copies them), so the radiograph looks as it
did. Viewers that draw SR regions are rare (OHIF does not); a GSPS is what they show.
"""
from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset

import vcfnet
from vcfnet.dicom.findings import Finding, box_outline, copy_body_part
from vcfnet.dicom.identity import MANUFACTURER, AlgorithmIdentity, contributing_equipment

LAYER = "VCFNET"
SERIES_DESCRIPTION = "vcfnet AI overlay (GSPS)"
#: RGB colour of the layer (stored as CIELab; a yellow that reads on grey).
LAYER_COLOUR = (255, 230, 0)


def build_gsps(source: Dataset, findings: Sequence[Finding], identity: AlgorithmIdentity, *,
               series_uid: str, sop_uid: str, series_number: int = 991,
               instance_number: int = 1) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """Boxes and labels of ``findings`` as a presentation state of the ``source`` image."""
    layer = hd.pr.GraphicLayer(layer_name=LAYER, order=1, description="vcfnet boxes and labels",
                               display_color=hd.color.CIELabColor.from_rgb(*LAYER_COLOUR))
    graphics = [hd.pr.GraphicObject(graphic_type=hd.pr.GraphicTypeValues.POLYLINE,
                                    graphic_data=box_outline(f.box), units=hd.pr.AnnotationUnitsValues.PIXEL)
                for f in findings]
    texts = [hd.pr.TextObject(text_value=f.label, units=hd.pr.AnnotationUnitsValues.PIXEL,
                              anchor_point=(f.box[0], max(0.0, f.box[1] - 2.0)), anchor_point_visible=False,
                              text_justification=hd.pr.TextJustificationValues.LEFT)
             for f in findings]
    annotation = hd.pr.GraphicAnnotation(referenced_images=[source], graphic_layer=layer,
                                         graphic_objects=graphics or None, text_objects=texts or None)
    gsps = hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[source], series_instance_uid=series_uid, series_number=series_number,
        sop_instance_uid=sop_uid, instance_number=instance_number, manufacturer=MANUFACTURER,
        manufacturer_model_name=identity.model_name, software_versions=vcfnet.__version__,
        device_serial_number=identity.serial, content_label="VCFNET",
        content_description="vcfnet boxes, levels and labels",
        graphic_annotations=[annotation] if findings else None, graphic_layers=[layer],
        contributing_equipment=[contributing_equipment(identity)], series_description=SERIES_DESCRIPTION)
    copy_body_part(source, gsps)
    return gsps
