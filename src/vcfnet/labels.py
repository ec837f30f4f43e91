"""Class names, class synonyms and vertebral levels: the study's vocabulary, in one place.

The three classes are always in this order; probabilities columns, model outputs and confusion
matrices follow it.
"""
from __future__ import annotations

import re

CLASSES: tuple[str, ...] = ("acute", "chronic", "pathological")

#: Annotation names accepted for each class (case-insensitive). Extend it with ``class_synonyms`` in
#: the ingest config; the original study wrote ``Acute``, ``Chronic`` and ``Pathologic``.
DEFAULT_SYNONYMS: dict[str, str] = {
    "acute": "acute", "fresh": "acute", "new": "acute",
    "chronic": "chronic", "old": "chronic", "healed": "chronic",
    "pathologic": "pathological", "pathological": "pathological", "malignant": "pathological",
    "neoplastic": "pathological", "tumor": "pathological", "tumour": "pathological",
}

#: Vertebral levels in cranio-caudal order (the study's lateral lumbar films show T11..S1).
LEVELS: tuple[str, ...] = tuple([f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)] + ["S1"])

_LEVEL_RE = re.compile(r"^(?P<region>[TLS])?(?P<num>\d{1,2})$", re.IGNORECASE)


def clip(text: object, limit: int = 60) -> str:
    """User text for a message, at most about ``limit`` characters: a 900 kB name must not come back whole."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} characters)"


def normalise_class(name: str, synonyms: dict[str, str] | None = None) -> str:
    """Map an annotation's class name to one of ``CLASSES``.

    Raises ``ValueError`` naming the accepted spellings when the name is unknown.
    """
    table = {k.lower(): v for k, v in (synonyms or DEFAULT_SYNONYMS).items()}
    key = name.strip().lower()
    if key not in table:
        accepted = ", ".join(sorted(table))
        raise ValueError(f"unknown class '{clip(name)}' (accepted: {clip(accepted, 400)})")
    value = table[key]
    if value not in CLASSES:
        raise ValueError(f"synonym table maps '{clip(name)}' to '{clip(value)}', which is not one of {CLASSES}")
    return value


def normalise_level(text: str) -> str:
    """Normalise a vertebral level: ``L1``/``l1`` -> ``L1``, ``T12`` -> ``T12``.

    A bare number follows the original study's file names: 12 -> T12, 11 -> T11, 1..5 -> L1..L5.
    Raises ``ValueError`` for anything else.
    """
    m = _LEVEL_RE.match(text.strip())
    if not m:
        raise ValueError(f"unknown vertebral level '{clip(text)}' (expected e.g. T12, L1..L5, or 12, 1..5)")
    region, num = (m.group("region") or "").upper(), int(m.group("num"))
    if not region:
        if 1 <= num <= 5:
            region = "L"
        elif 6 <= num <= 12:
            region = "T"
        else:
            raise ValueError(f"unknown vertebral level '{clip(text)}' (bare numbers: 1..5 = L1..L5, 6..12 = T6..T12)")
    level = f"{region}{num}"
    if level not in LEVELS:
        raise ValueError(f"unknown vertebral level '{clip(text)}' (expected one of {', '.join(LEVELS)})")
    return level
