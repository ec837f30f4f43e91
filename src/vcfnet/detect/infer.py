"""Running a trained vertebra detector: ``Detector(folder).detect(pixels)`` -> bodies with box, score,
the level they look like and six landmarks (from the keypoint head, or read off the box)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.detect.model import ARCHS, DETECT_LEVELS, build_detector, has_keypoints, points_from_box, run_detector
from vcfnet.detect.train import CARD, FORMAT, WEIGHTS
from vcfnet.errors import VcfnetError

MAX_CARD_BYTES = 1 << 20
MAX_OVERLAP = 0.3          # IoU above which a lower-scoring box is taken for the same body (``_distinct``)


@dataclass(frozen=True)
class Detection:
    """One detected body (image pixels): box (x0, y0, x1, y1), score, the level it looks like, six points
    and where they came from (``keypoints`` or ``box``); ``seen_probs``: the probability of each of
    ``DETECT_LEVELS`` (None where the detector gives only its best guess), which ``detect.levels`` weighs."""
    box: tuple[float, float, float, float]
    score: float
    seen: str
    points: tuple[tuple[float, float], ...]
    points_from: str
    seen_probs: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 2) for v in self.box], "score": round(self.score, 4), "seen_level": self.seen,
                "points": [[round(x, 2), round(y, 2)] for x, y in self.points], "points_from": self.points_from}


class Detector:
    """A detector folder (``detector.json`` + ``detector.safetensors``), loaded once."""

    def __init__(self, folder: str | Path, *, device: str = "cpu", score_threshold: float = 0.3):
        from safetensors.torch import load_file

        from vcfnet.model.checkpoint import tensors_sha256

        folder = Path(folder)
        self.card = read_detector_card(folder / CARD)
        weights = folder / WEIGHTS
        if not weights.is_file():
            raise VcfnetError(f"{folder}: no {WEIGHTS}; is this a folder made by `vcfnet train-detector`?")
        tensors = load_file(str(weights))
        if tensors_sha256(tensors) != self.card["weights_sha256"]:
            raise VcfnetError(f"{weights}: its tensors do not match the hash in {CARD} (changed or damaged)")
        self.model = build_detector(self.card["arch"], min_size=self.card["min_size"], max_size=self.card["max_size"])
        self.model.load_state_dict(tensors)
        self.model.eval().to(device)
        self.device, self.score_threshold = device, score_threshold

    def detect(self, pixels: np.ndarray) -> list[Detection]:
        """Bodies in ``pixels`` ((H, W) grey in [0, 1]) scoring >= ``score_threshold``, top to bottom."""
        c = self.card
        out = run_detector(c["arch"], self.model, pixels, c["min_size"], c["max_size"], self.device)
        boxes, scores, labels, kps, probs = (out["boxes"], out["scores"], out["levels"], out["points"],
                                             out["level_probs"])
        assert boxes is not None and scores is not None and labels is not None
        rows, cols = pixels.shape[:2]
        boxes = np.clip(boxes, 0, [cols, rows, cols, rows])          # a body cut by the edge: boxed to it
        keep = (scores >= self.score_threshold) & (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        found = []
        for i in _distinct(boxes, scores, np.flatnonzero(keep)):
            box = tuple(float(v) for v in boxes[i])
            pts = kps[i] if kps is not None else points_from_box(box)
            found.append(Detection(box, float(scores[i]), DETECT_LEVELS[int(labels[i])],  # type: ignore[arg-type]
                                   tuple((float(x), float(y)) for x, y in pts),
                                   "keypoints" if kps is not None else "box",
                                   tuple(float(p) for p in probs[i]) if probs is not None else None))
        return sorted(found, key=lambda d: d.box[1] + d.box[3])


def _distinct(boxes: np.ndarray, scores: np.ndarray, candidates: np.ndarray) -> list[int]:
    """``candidates`` less those overlapping a better-scoring one by more than ``MAX_OVERLAP`` (IoU, any level):
    two vertebral bodies' boxes overlap little (at most 0.20 IoU on the synthetic films), so a second box
    there is the same body found twice, which would also shift the count of levels."""
    import torch
    from torchvision.ops import nms

    if len(candidates) == 0:
        return []
    kept = nms(torch.as_tensor(boxes[candidates], dtype=torch.float32),
               torch.as_tensor(scores[candidates], dtype=torch.float32), MAX_OVERLAP)
    return sorted(int(candidates[k]) for k in kept)


def read_detector_card(path: Path) -> dict[str, Any]:
    """The detector's card, size-bounded and checked; one line naming file and field if bad."""
    if not path.is_file():
        raise VcfnetError(f"{path}: no detector card; is this a folder made by `vcfnet train-detector`?")
    if path.stat().st_size > MAX_CARD_BYTES:
        raise VcfnetError(f"{path}: larger than {MAX_CARD_BYTES} bytes; not a detector card")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VcfnetError(f"{path}: not JSON ({exc})") from exc
    if isinstance(card, dict) and card.get("format") == "vcfnet-detector-1":
        raise VcfnetError(f"{path}: a detector of an older vcfnet (format vcfnet-detector-1); train it again "
                          "with `vcfnet train-detector`")
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise VcfnetError(f"{path}: field 'format' must be '{FORMAT}'")
    if card.get("arch") not in ARCHS:
        raise VcfnetError(f"{path}: field 'arch' must be one of {', '.join(ARCHS)}")
    if card.get("levels") != list(DETECT_LEVELS):
        raise VcfnetError(f"{path}: field 'levels' must be {list(DETECT_LEVELS)}")
    for key in ("min_size", "max_size"):
        if not isinstance(card.get(key), int) or not 32 <= card[key] <= 8192:
            raise VcfnetError(f"{path}: field '{key}' must be an integer 32..8192")
    if not isinstance(card.get("weights_sha256"), str):
        raise VcfnetError(f"{path}: field 'weights_sha256' missing")
    if has_keypoints(card["arch"]) != card.get("keypoints"):
        raise VcfnetError(f"{path}: field 'keypoints' does not match the architecture")
    return card
