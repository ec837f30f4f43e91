"""Reading radiographs and annotations, and de-identification.

``read_radiograph`` turns a DICOM or image file into float pixels in [0, 1] (bone bright) plus
de-identified metadata; ``read_voc``/``read_yolo``/``parse_crop_filename`` read the boxes and labels;
``Pseudonymizer`` and ``load_or_create_key`` make keyed patient pseudonyms.
"""
from vcfnet.io.annotations import (
    Box,
    CropName,
    VocAnnotation,
    parse_crop_filename,
    parse_object_name,
    read_voc,
    read_yolo,
    write_voc,
)
from vcfnet.io.deid import Pseudonymizer, load_or_create_key, safe_dicom_meta
from vcfnet.io.radiograph import Radiograph, read_radiograph

__all__ = [
    "Box", "CropName", "VocAnnotation", "parse_crop_filename", "parse_object_name", "read_voc",
    "read_yolo", "write_voc", "Pseudonymizer", "load_or_create_key", "safe_dicom_meta", "Radiograph",
    "read_radiograph",
]
