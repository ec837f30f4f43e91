"""Training configuration: one pydantic model, read from and written to YAML, and the source of the
``vcfnet train`` flags (one flag per field, see ``vcfnet.commands.train``).

The defaults are the original study's protocol (25 epochs, Adam lr 2e-4, weight decay 5e-4,
batch 128, cross-entropy, ImageNet weights, 224 px, h/v flips, rotation +-15 degrees, no class
balancing). The resolved configuration is saved as ``config.yaml`` beside every training run.
Bad values raise :class:`VcfnetError` with one line naming the option (as a flag when the values came
from the command line, as a YAML key otherwise) and what is allowed.
"""
from __future__ import annotations

import contextvars
import typing
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vcfnet.errors import VcfnetError
from vcfnet.fileio import write_text

#: Field -> flag where the flag is not ``--field-name`` (kept from before the flags were derived).
FLAG_NAMES: dict[str, str] = {"num_threads": "--threads"}
#: Where the values being validated came from: "options" (flags), a YAML path, or "config" (code).
_SOURCE: contextvars.ContextVar[str] = contextvars.ContextVar("train_config_source", default="config")


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(25, ge=1, description="Epochs (study: 25).")
    lr: float = Field(2e-4, gt=0, description="Learning rate (study: 2e-4).")
    weight_decay: float = Field(5e-4, ge=0, description="Weight decay (study: 5e-4).")
    batch_size: int = Field(128, ge=1, description="Global batch size, split across DDP processes (study: 128).")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="Optimizer (study: adam).")
    momentum: float = Field(0.9, ge=0, description="SGD momentum (sgd only).")
    loss: Literal["cross_entropy"] = Field("cross_entropy", description="Loss (study: cross_entropy).")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing of the loss.")
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="Learning-rate schedule.")
    arch: str = Field("resnet18", description="Backbone: resnet18 (study), resnet34, resnet50, densenet121, "
                      "efficientnet_b0.")
    weights: Optional[str] = Field("imagenet", description="imagenet (study), none, or a torchvision state "
                                   "dict path.")
    input_size: int = Field(224, ge=1, description="Model input side in pixels (study: 224).")
    hflip: bool = Field(True, description="Random horizontal flips (study: on).")
    vflip: bool = Field(True, description="Random vertical flips (study: on).")
    rotation: float = Field(15.0, ge=0, le=180, description="Random rotation, +- degrees (study: 15).")
    class_balance: Literal["none", "weighted_loss", "sampler"] = Field("none", description="Class balancing "
                                                                       "(study: none).")
    amp: Literal["auto", "bf16", "fp32"] = Field("auto", description="auto (bf16 where the hardware does it), "
                                                 "bf16 or fp32.")
    channels_last: bool = Field(True, description="channels_last memory format.")
    compile: bool = Field(False, description="torch.compile the network (inductor; no gain for CPU training, see "
                          "docs/BENCHMARKS.md).")
    seed: int = Field(0, description="Random seed.")
    num_threads: Optional[int] = Field(None, ge=1, description="CPU threads for torch.")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    resume: bool = Field(False, description="Continue the interrupted run in --out from its state/.")
    select: Literal["val_loss", "val_acc"] = Field("val_loss", description="Model selection for best/.")
    eval_batch_size: int = Field(256, ge=1, description="Batch size of evaluation passes.")
    calibrate: bool = Field(False, description="After training, fit a temperature and the referral threshold "
                            "on the val split (as `vcfnet calibrate`).")
    clinical: bool = Field(False, description="After training, also fit the image+clinical model (a "
                           "multinomial logistic stacker on the image model's calibrated outputs and the "
                           "clinical columns, val split only; implies calibrate).")
    clinical_columns: str = Field("age,sex", description="Study-table columns the image+clinical model reads, "
                                  "comma-separated.")
    refer_fraction: float = Field(0.1, ge=0, lt=1, description="Referral rule: refer this share of the least "
                                  "certain validation vertebrae.")
    target_accuracy: Optional[float] = Field(None, gt=0, le=1, description="Referral rule instead: the lowest "
                                             "threshold keeping validation accuracy on answered vertebrae >= this.")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise VcfnetError(describe(exc, source=_SOURCE.get())) from None

    @field_validator("weights")
    @classmethod
    def _none_means_random(cls, value: Optional[str]) -> Optional[str]:
        return None if value is not None and value.lower() == "none" else value

    @model_validator(mode="after")
    def _check_input_size(self) -> TrainConfig:
        from vcfnet.model.network import MAX_INPUT_SIZE, OUTPUT_STRIDE

        low = OUTPUT_STRIDE.get(self.arch)
        if low is not None and not low <= int(self.input_size) <= MAX_INPUT_SIZE:
            raise VcfnetError(f"--input-size {self.input_size} (input_size) is outside {low}..{MAX_INPUT_SIZE} "
                              f"for {self.arch}: it downsamples by {low}, so a smaller input leaves its "
                              f"last layers less than one cell")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with the given fields changed (``None`` values mean "not given" and are ignored)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return from_dict({**self.to_dict(), **given}, source="options")


def choices(name: str) -> tuple[str, ...]:
    """The allowed values of a ``Literal`` field, else ``()``."""
    annotation = TrainConfig.model_fields[name].annotation
    return tuple(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else ()


def flag(name: str) -> str:
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def describe(exc: ValidationError, *, source: str) -> str:
    """One line per problem (joined with '; '): the option, the value given, what is allowed."""
    parts = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "config"
        label = flag(name) if source == "options" else name
        given = err.get("input")
        if err["type"] == "literal_error":
            parts.append(f"Invalid {name} '{given}'. Only {', '.join(choices(name))} are supported.")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown training option {name}")
        else:
            kind = _kind(name)
            shown = f"{label} {given}" if source == "options" else f"{label} = {given!r}"
            parts.append(f"{shown} is not allowed: {err['msg'].replace('Input should be', 'must be')}"
                         + (f" ({kind})" if kind else ""))
    prefix = "" if source in ("config", "options") else f"{source}: "
    return prefix + "; ".join(parts)


def _kind(name: str) -> str:
    field = TrainConfig.model_fields.get(name)
    if field is None:
        return ""
    args = [a for a in typing.get_args(field.annotation) if a is not type(None)] or [field.annotation]
    return getattr(args[0], "__name__", "")


def from_dict(data: dict[str, Any], *, source: str = "config") -> TrainConfig:
    known = list(TrainConfig.model_fields)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise VcfnetError(f"{source}: unknown training option(s) {', '.join(unknown)} "
                          f"(known: {', '.join(known)})")
    token = _SOURCE.set(source)
    try:
        return TrainConfig(**data)
    finally:
        _SOURCE.reset(token)


def load_config(path: str | Path) -> TrainConfig:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise VcfnetError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise VcfnetError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise VcfnetError(f"{path}: expected a mapping of option: value, got {type(data).__name__}")
    return from_dict(data, source=str(path))


def save_config(config: TrainConfig, path: str | Path) -> None:
    import yaml

    write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
