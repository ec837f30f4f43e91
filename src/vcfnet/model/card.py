"""The model card (``model.json`` beside ``model.safetensors``): one schema, one writer, one reader.

    >>> card = describe(model, input_size=224, data=TrainingData(...), ...)   # what training knows
    >>> write_card(folder, card)                # the only writer (atomic); save_checkpoint calls it
    >>> card = read_card("run/best")[0]         # the only reader: validated, one clear line if not

Schema, version 3 (``card_version``); every field below is written by ``vcfnet train`` (through
``save_checkpoint``) or ``vcfnet calibrate``:

    card_version            3 (cards written before it existed carry none and read as version 1;
                            versions 1 and 2 lack ``clinical`` and ``referral`` and load unchanged; a
                            vcfnet that reads only version 2 refuses a version 3 card rather than
                            silently ignore its image+clinical model)
    architecture, classes, num_classes, input_size, channels, normalisation, preprocessing_version
    intended_use            research use only, what the model does and does not do
    crop_size, crop_margin  how the study's crop cache cut the boxes the model was trained on
    temperature             null, or T > 0 fitted by ``vcfnet calibrate`` (softmax(logits / T))
    calibration             where T was fitted: method, split ("val"), n_vertebrae, n_patients, fitted
    clinical                null, or the image+clinical stacker (``ClinicalModel``): design, the columns'
                            encoding with their training ranges (``model.clinical``), the fitted
                            parameters and where they were fitted (the val split only)
    referral                null, or per model ("image", "clinical") the referral rule and its
                            threshold on the top-class probability, fitted on the val split
    training_config         the resolved TrainConfig
    data                    fingerprint of the train+val crops, sizes and class counts per split
    class_balance, selected_by
    validation              the epoch the checkpoint holds: epoch, loss, accuracy, n (val split)
    training                device, world_size, batch_per_process, amp, channels_last
    software, created       versions of vcfnet / torch / torchvision / python; UTC time of writing
    weights_sha256, weights_hash   the weights' hash and its kind ("tensors-v1", or "file" on old cards)

Unknown top-level fields (a newer vcfnet's, or added by hand) are kept as they are when the card is
rewritten, but nothing in vcfnet reads them. A card of a newer version is refused with a line saying
which vcfnet reads it.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import platform
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from vcfnet.errors import VcfnetError
from vcfnet.model.clinical import ClinicalEncoding

CARD_FILE = "model.json"
CARD_VERSION = 3
INTENDED_USE = (
    "Research use only; not a medical device and not for clinical decisions. Classifies an already "
    "boxed fractured vertebra on a lateral spine radiograph as acute, chronic or pathological. It does "
    "not detect fractures. Weak on pathological fractures (about 8% of the development data); "
    "validate on local data before any study use.")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class TrainingData(_Part):
    """The crops a model was trained (train) and selected (val) on; the test split is never read."""

    fingerprint: str
    n_train: int
    n_val: int
    train_class_counts: dict[str, int]
    val_class_counts: dict[str, int]


class Validation(_Part):
    """The validation figures of the epoch a checkpoint holds; ``loss`` and ``accuracy`` are null when
    not estimable (no validation split), so the card stays strict JSON (no NaN)."""

    epoch: int
    loss: float | None
    accuracy: float | None
    n: int

    @field_validator("loss", "accuracy", mode="before")
    @classmethod
    def _nan_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, float) and math.isnan(v) else v


class TrainingRun(_Part):
    device: str
    world_size: int
    batch_per_process: int
    amp: str
    channels_last: bool


class Calibration(_Part):
    method: str
    split: str
    n_vertebrae: int
    n_patients: int
    fitted: str


class Referral(_Part):
    """Refer (answer "a specialist should read this") when the top-class probability < ``threshold``."""

    rule: str                   # refer_fraction | target_accuracy
    value: float
    threshold: float            # 0: never refer; above 1: always refer (target unreachable)
    confidence: str             # what the threshold is compared with
    split: str
    n: int
    refer_rate: float           # achieved on the split it was fitted on
    answered_accuracy: float | None
    reachable: bool = True

    @field_validator("answered_accuracy", mode="before")
    @classmethod
    def _nan_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, float) and math.isnan(v) else v


class ClinicalModel(BaseModel):
    """The image+clinical model stored beside the image model (``vcfnet.model.stacker``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    design: str                         # "stacker"
    encoding: ClinicalEncoding
    image_inputs: str                   # what of the image model the stacker reads
    params: dict[str, Any]              # a (C x C), w (C x F), b (C), l2
    split: str
    n_vertebrae: int
    n_patients: int
    cv: dict[str, Any] = {}             # the l2 search and out-of-fold NLLs on the same split
    fitted: str | None = None


class ModelCard(BaseModel):
    """A checkpoint's ``model.json``. Built by ``describe`` (training) or ``read_card`` (loading)."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    card_version: int = CARD_VERSION
    architecture: str
    classes: list[str]
    num_classes: int
    input_size: int
    channels: int = 1
    normalisation: str | None = None
    preprocessing_version: str
    intended_use: str = INTENDED_USE
    crop_size: int | None = None
    crop_margin: float = 0.0
    temperature: float | None = None
    calibration: Calibration | None = None
    clinical: ClinicalModel | None = None
    referral: dict[str, Referral] | None = None
    training_config: dict[str, Any] | None = None
    data: TrainingData | None = None
    class_balance: str | None = None
    selected_by: str | None = None
    validation: Validation | None = None
    training: TrainingRun | None = None
    software: dict[str, str] = {}
    created: str | None = None
    weights_sha256: str | None = None
    weights_hash: str = "file"

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, raw: Any) -> Any:
        """Version 1 (no ``card_version``) has version 2's fields; ``num_classes`` follows ``classes``."""
        if isinstance(raw, dict):
            raw = dict(raw)
            raw.setdefault("card_version", 1)
            if "num_classes" not in raw and isinstance(raw.get("classes"), list):
                raw["num_classes"] = len(raw["classes"])
        return raw

    @field_validator("card_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if not 1 <= v <= CARD_VERSION:
            raise ValueError(f"version {v} is not one this vcfnet reads (1..{CARD_VERSION}); load it with "
                             f"the newer vcfnet that wrote it")
        return v

    @field_validator("temperature")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError(f"must be a positive number or null, got {v!r}")
        return v

    @field_validator("input_size", "num_classes", "channels")
    @classmethod
    def _positive_int(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"must be a positive integer, got {v}")
        return v

    def to_dict(self) -> dict[str, Any]:
        """The card as ``model.json`` holds it (plain JSON types)."""
        return self.model_dump(mode="python")

    def with_fields(self, **fields: Any) -> ModelCard:
        """A validated copy with ``fields`` replaced (e.g. the weights' hash, a fitted temperature)."""
        return ModelCard.model_validate({**self.to_dict(), **fields})


def software_versions() -> dict[str, str]:
    import torch
    import torchvision

    import vcfnet
    return {"vcfnet": vcfnet.__version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "python": platform.python_version()}


def describe(model, **fields: Any) -> ModelCard:
    """The card of ``model`` (architecture, classes, input size, normalisation, preprocessing, versions)
    with the training-side ``fields`` (``crop_size``, ``data``, ``validation``, ...) added."""
    from vcfnet.labels import CLASSES
    from vcfnet.model.network import NORMALISATION
    from vcfnet.preprocess import DEFAULT_SIZE, PREPROCESSING_VERSION

    base = {"card_version": CARD_VERSION, "architecture": model.arch, "classes": list(CLASSES),
            "num_classes": model.num_classes, "input_size": model.input_size or DEFAULT_SIZE, "channels": 1,
            "normalisation": NORMALISATION, "preprocessing_version": PREPROCESSING_VERSION,
            "intended_use": INTENDED_USE, "temperature": None, "software": software_versions(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    return _validated({**base, **{k: _plain(v) for k, v in fields.items()}}, "model card")


def _plain(v: Any) -> Any:
    return v.model_dump(mode="python") if isinstance(v, BaseModel) else v


def as_card(card: ModelCard | dict[str, Any], model=None) -> ModelCard:
    """``card`` as a ModelCard: a ModelCard as is; a dict completed from ``model`` (``describe``)."""
    if isinstance(card, ModelCard):
        return card
    if model is None:
        return _validated(card, "model card")
    return describe(model, **card)


def _validated(raw: Any, where: str) -> ModelCard:
    if not isinstance(raw, dict):
        raise VcfnetError(f"{where}: not a valid model card (a JSON object is expected, got "
                          f"{type(raw).__name__})")
    try:
        return ModelCard.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "card"
        if err["type"] == "missing":
            problem = "is missing"
        else:
            problem = f"{err['msg'].removeprefix('Value error, ')} (got {str(err.get('input'))[:80]!r})"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise VcfnetError(f"{where}: model card field '{field}' {problem}{more}; a checkpoint's card is "
                          f"written by `vcfnet train` (re-train, or restore the original {CARD_FILE})") from None


def read_card(path_or_dir: str | Path) -> tuple[ModelCard, Path]:
    """The validated card of a checkpoint (folder, ``model.json`` or ``model.safetensors``) and its folder."""
    path = Path(path_or_dir)
    folder = path if path.is_dir() else path.parent
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise VcfnetError(f"{path}: not a checkpoint (no {CARD_FILE} in {folder}); a checkpoint is a "
                          f"folder written by `vcfnet train`, e.g. RUN/best")
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VcfnetError(f"{card_path}: not a valid model card ({exc})") from None
    return _validated(raw, str(card_path)), folder


def write_card(folder: str | Path, card: ModelCard) -> Path:
    """Write ``folder/model.json`` atomically (the file appears whole or not at all); return its path."""
    from vcfnet.fileio import write_json

    path = Path(folder) / CARD_FILE
    write_json(path, card.to_dict())
    return path
