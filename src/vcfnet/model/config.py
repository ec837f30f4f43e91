"""Training configuration: one dataclass, read from and written to YAML.

The defaults are the original study's protocol (25 epochs, Adam lr 2e-4, weight decay 5e-4,
batch 128, cross-entropy, ImageNet weights, 224 px, h/v flips, rotation +-15 degrees, no class
balancing). The resolved configuration is saved as ``config.yaml`` beside every training run.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vcfnet.errors import VcfnetError
from vcfnet.fileio import write_text

CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("adam", "adamw", "sgd"),
    "loss": ("cross_entropy",),
    "class_balance": ("none", "weighted_loss", "sampler"),
    "amp": ("auto", "bf16", "fp32"),
    "select": ("val_loss", "val_acc"),
    "lr_schedule": ("constant", "cosine"),
}


@dataclass
class TrainConfig:
    epochs: int = 25
    lr: float = 2e-4
    weight_decay: float = 5e-4
    batch_size: int = 128          # global: split across DDP processes
    optimizer: str = "adam"
    momentum: float = 0.9          # sgd only
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    lr_schedule: str = "constant"
    arch: str = "resnet18"
    weights: str | None = "imagenet"   # imagenet | none | path of a torchvision state dict
    input_size: int = 224
    hflip: bool = True
    vflip: bool = True
    rotation: float = 15.0
    class_balance: str = "none"
    amp: str = "auto"
    channels_last: bool = True
    compile: bool = False
    seed: int = 0
    num_threads: int | None = None
    device: str = "auto"
    resume: bool = False
    select: str = "val_loss"
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise VcfnetError(f"Invalid {name} '{value}'. Only {', '.join(allowed)} are supported.")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "input_size": self.input_size,
                    "eval_batch_size": self.eval_batch_size}
        for name, value in positive.items():
            if int(value) < 1:
                raise VcfnetError(f"{name} must be at least 1, got {value}")
        self._check_input_size()
        if self.lr <= 0 or self.weight_decay < 0 or not 0 <= self.rotation <= 180:
            raise VcfnetError(f"lr must be > 0, weight_decay >= 0 and rotation in [0, 180]; got lr={self.lr}, "
                              f"weight_decay={self.weight_decay}, rotation={self.rotation}")
        if self.weights is not None and str(self.weights).lower() == "none":
            self.weights = None

    def _check_input_size(self) -> None:
        from vcfnet.model.network import MAX_INPUT_SIZE, OUTPUT_STRIDE

        low = OUTPUT_STRIDE.get(self.arch)
        if low is not None and not low <= int(self.input_size) <= MAX_INPUT_SIZE:
            raise VcfnetError(f"--input-size {self.input_size} (input_size) is outside {low}..{MAX_INPUT_SIZE} "
                              f"for {self.arch}: it downsamples by {low}, so a smaller input leaves its "
                              f"last layers less than one cell")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with the given fields changed (``None`` values mean "not given" and are ignored)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return from_dict({**self.to_dict(), **given}, source="options")


def from_dict(data: dict[str, Any], *, source: str = "config") -> TrainConfig:
    known = {f.name: f for f in fields(TrainConfig)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise VcfnetError(f"{source}: unknown training option(s) {', '.join(unknown)} "
                          f"(known: {', '.join(known)})")
    clean = {}
    for key, value in data.items():
        clean[key] = _coerce(known[key], value, source)
    return TrainConfig(**clean)


def _coerce(field: dataclasses.Field, value: Any, source: str) -> Any:
    kind = str(field.type)
    if value is None:
        return None
    try:
        if kind.startswith("bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "yes", "1")
            return bool(value)
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise VcfnetError(f"{source}: option {field.name} = {value!r} is not a valid {kind}") from None


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
