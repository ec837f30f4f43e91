"""The ``Radiograph`` every reader returns (DICOM in ``io.radiograph``, PNG/JPEG/TIFF in ``io.image``),
in a module of its own so that both readers import it and neither imports the other's caller."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Radiograph:
    """A radiograph ready for cropping.

    Attributes:
        pixels: (H, W) float32 in [0, 1]; bright = more attenuation (bone bright).
        meta: de-identified metadata only: format, modality, pixel_spacing ([row, col] mm or None),
            pixel_spacing_source, body_part, photometric, bits_stored, manufacturer, study_date
            ('YYYY-MM-DD' or ''), patient_age (years or None), patient_sex ('F', 'M' or ''),
            patient_key (keyed pseudonym or None). Never a patient name, ID, birth date or accession.
        source: the path the caller gave.
    """

    pixels: np.ndarray
    meta: dict = field(default_factory=dict)
    source: str = ""


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (decoders put newlines in theirs), else its type's name."""
    return " ".join(str(exc).split()) or type(exc).__name__
