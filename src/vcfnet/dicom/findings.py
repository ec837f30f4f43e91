"""One finding per boxed vertebra: the Predictor's answer plus the vertebral level beside the box.

``Finding`` is what the SR, the presentation state and the secondary capture are written from;
``findings_from`` pairs ``Predictor.predict`` results with the levels the boxes came with (LabelImg
names such as ``Acute-L1`` carry one; a box drawn on the page may carry none).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vcfnet.errors import VcfnetError

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Finding:
    """A boxed vertebra and the model's answer: ``box`` (x0, y0, x1, y1) pixel edges on the source
    image, ``level`` ('L1', 'T12', ... or None), class ``probabilities`` and the ``predicted`` class;
    ``heatmap`` (S, S) in [0, 1] over the integer crop ``window`` when Grad-CAM was asked for; ``refer``
    the card's referral decision and ``model`` the model that answered ("image" or "image+clinical")."""

    box: Box
    level: str | None
    probabilities: dict[str, float]
    predicted: str
    window: tuple[int, int, int, int] = (0, 0, 0, 0)
    heatmap: np.ndarray | None = None
    refer: bool = False
    model: str = "image"

    @property
    def label(self) -> str:
        """Short text for overlays: ``L1 acute 81%`` (``... REFER`` when the referral rule refers it)."""
        where = f"{self.level} " if self.level else ""
        return f"{where}{self.predicted} {100 * self.probabilities[self.predicted]:.0f}%" + (
            " REFER" if self.refer else "")


def findings_from(predictions: Sequence, levels: Sequence[str | None]) -> list[Finding]:
    """``Finding``s from ``BoxPrediction``s (``vcfnet.predict``) and one level (or None) per box."""
    if len(predictions) != len(levels):
        raise VcfnetError(f"{len(predictions)} predictions but {len(levels)} levels: give one level (or "
                          f"none) per box")
    return [Finding(box=tuple(float(v) for v in p.box), level=lv, probabilities=dict(p.probabilities),  # type: ignore[arg-type]
                    predicted=p.predicted, window=tuple(int(v) for v in p.window),  # type: ignore[arg-type]
                    heatmap=p.heatmap, refer=bool(getattr(p, "refer", False)),
                    model=str(getattr(p, "model", "image")))
            for p, lv in zip(predictions, levels)]


def box_outline(box: Box) -> np.ndarray:
    """The closed polyline (5 points, column/row) of a box, in DICOM image coordinates: (0, 0) is
    the top-left corner of the top-left pixel (PS3.3 C.18.6.1.1), the same edges the box gives."""
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float32)


#: Body Part Examined values of unpaired parts: a result about one carries no Laterality.
UNPAIRED_PARTS = frozenset({"SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "SACRUM", "COCCYX", "CHEST",
                            "THORAX", "ABDOMEN", "PELVIS", "SKULL", "HEAD", "NECK", "WHOLEBODY"})


def copy_body_part(source, target) -> None:
    """The source's Body Part Examined and laterality on a result. Laterality (General Series, type 2C)
    is required for a paired part: R or L from the source's Laterality or Image Laterality, else
    present and empty (unknown); an unpaired part (the lumbar spine) carries none."""
    part = str(source.get("BodyPartExamined", "") or "").strip().upper()
    if part:
        target.BodyPartExamined = part
    side = next((str(source.get(k, "") or "").strip() for k in ("Laterality", "ImageLaterality")
                 if str(source.get(k, "") or "").strip() in ("R", "L")), "")
    if side or part not in UNPAIRED_PARTS:
        target.Laterality = side
