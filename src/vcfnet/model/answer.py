"""From the image model's logits (and clinical values) to the answer a user gets: probabilities,
which model gave them, and whether to refer, with the reason in words.

    >>> a = answer(card, logits)                          # the image model (softmax(logits / T))
    >>> a = answer(card, logits, clinical=rows)           # the image+clinical stacker, when the card has one
    >>> a.proba, a.refer, a.reasons[0]

``clinical=None`` means "no clinical values were given": the image model answers. Given rows (even
with blanks) go through the card's encoding, whose missing indicators carry what is missing or out of
the training range; ``notes[i]`` says so for row ``i``. The referral rule of the answering model
(``card.referral["clinical"]`` or ``["image"]``) decides ``refer``. Numbers only: no torch.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

IMAGE = "image"
IMAGE_CLINICAL = "image+clinical"
NO_RULE = "no referral rule in the model card (`vcfnet calibrate` fits one on the validation split)"


@dataclass
class Answers:
    """(N, C) ``proba`` of the answering ``model``; ``image_proba`` the image model's own."""

    proba: np.ndarray
    image_proba: np.ndarray
    model: str
    confidence: np.ndarray
    refer: np.ndarray
    reasons: list[str]
    notes: list[list[str]]
    image_refer: np.ndarray          # the image model's own referral (its rule), for comparisons


def rule_text(rule: Any) -> str:
    if rule.rule == "refer_fraction":
        return f"refers the {rule.value:.0%} least certain of {rule.n} validation vertebrae"
    return f"keeps answered accuracy >= {rule.value:g} on {rule.n} validation vertebrae"


def referral_reason(refer: bool, confidence: float, rule: Any | None) -> str:
    if rule is None:
        return NO_RULE
    if rule.threshold > 1:
        return (f"refer: this model never reached accuracy {rule.value:g} on the validation split "
                f"(threshold unreachable), so every case goes to a specialist")
    if refer:
        return (f"refer: confidence {confidence:.2f} is below the threshold {rule.threshold:.2f} (the rule "
                f"{rule_text(rule)}); a specialist should read this vertebra")
    return f"answer: confidence {confidence:.2f} >= threshold {rule.threshold:.2f} ({rule_text(rule)})"


def answer(card, logits: np.ndarray, clinical: Sequence[Mapping[str, Any]] | Any | None = None) -> Answers:
    """Probabilities and referral for image logits (N, C) and, optionally, one clinical row per logit row."""
    from vcfnet.model.clinical import encode
    from vcfnet.model.stacker import stacker_proba
    from vcfnet.stats.calibration import apply_temperature

    logits = np.asarray(logits, dtype=np.float64)
    image = apply_temperature(logits, 1.0 if card.temperature is None else float(card.temperature))
    n = len(image)
    notes: list[list[str]] = [[] for _ in range(n)]
    if clinical is not None and card.clinical is not None:
        features, notes = encode(card.clinical.encoding, clinical)
        if len(features) != n:
            raise ValueError(f"{len(features)} clinical rows for {n} vertebrae")
        proba = stacker_proba(card.clinical.params, np.log(np.clip(image, 1e-12, 1.0)), features)
        model = IMAGE_CLINICAL
    else:
        proba, model = image, IMAGE
    rules = card.referral or {}
    rule = rules.get("clinical" if model == IMAGE_CLINICAL else "image")
    confidence = proba.max(axis=1) if n else np.zeros(0)
    refer = _refer(confidence, rule)
    reasons = [referral_reason(bool(r), float(c), rule) for r, c in zip(refer, confidence)]
    image_refer = _refer(image.max(axis=1) if n else np.zeros(0), rules.get("image"))
    return Answers(proba, image, model, confidence, refer, reasons, notes, image_refer)


def _refer(confidence: np.ndarray, rule: Any | None) -> np.ndarray:
    if rule is None:
        return np.zeros(len(confidence), dtype=bool)
    return np.asarray(confidence < rule.threshold, dtype=bool)
