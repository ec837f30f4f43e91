"""Checkpoints: ``model.safetensors`` (weights, never pickled) + ``model.json`` (the model card).

    >>> ckpt = save_checkpoint("run/best", model, card)        # -> Path("run/best")
    >>> model, card = load_checkpoint("run/best")               # eval mode, on "cpu"; card: ModelCard

The card's schema, its one writer and its one reader live in ``vcfnet.model.card``.

The folder changes as one unit: both files are written into a new folder that replaces the old one
whole (``atomicdir.replace_dir``), so a kill never leaves new weights beside an old card; the card records the SHA-256 of the weights (``tensors_sha256``: every tensor's name,
dtype, shape and bytes in name order, not the file, whose header metadata safetensors writes in a
varying order), so a card proves which weights it describes, two runs that reproduce each other
carry the same hash, and a truncated or swapped weights file is refused on load. Cards written
before vcfnet hashed tensors hold the file's SHA-256 and no ``weights_hash``: they are verified
against the file.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vcfnet.errors import VcfnetError
from vcfnet.fileio import file_sha256
from vcfnet.labels import CLASSES
from vcfnet.model.card import CARD_FILE, INTENDED_USE, ModelCard, as_card, read_card, write_card
from vcfnet.preprocess import PREPROCESSING_VERSION

__all__ = ["CARD_FILE", "INTENDED_USE", "ModelCard", "WEIGHTS_FILE", "check_card", "file_sha256",
           "load_checkpoint", "read_card", "save_checkpoint", "tensors_sha256"]
WEIGHTS_FILE = "model.safetensors"
#: ``weights_hash`` of the cards written now; cards without the field hold a file hash ("file").
HASH_KIND = "tensors-v1"
HASH_KINDS = ("file", HASH_KIND)


def tensors_sha256(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 of a state dict: for each tensor in name order, its name, dtype, shape and raw bytes.

    Independent of the file the tensors came from (header order, metadata, alignment) and of their
    memory layout; any change of a value, a dtype or a shape changes it.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{len(name)}:{name}|{str(t.dtype).removeprefix('torch.')}|{list(t.shape)}|{t.nbytes}|"
                 .encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())  # type: ignore[arg-type]  # ndarray is a buffer; numpy types __buffer__ only for 3.12+
    return h.hexdigest()


def save_checkpoint(out_dir: str | Path, model: torch.nn.Module, card: ModelCard | Mapping[str, Any]) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/model.json``; return ``out_dir``.

    ``card``: a ``ModelCard`` (``card.describe``), or training-side fields as a dict, which
    ``describe`` completes from ``model``. The weights' hash is filled in here.
    """
    from safetensors.torch import save_file

    from vcfnet.fileio import kill_point
    from vcfnet.model.atomicdir import replace_dir
    from vcfnet.model.network import unwrap

    model = unwrap(model)
    out_dir = Path(out_dir)
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in (WEIGHTS_FILE, CARD_FILE)) \
        if out_dir.is_dir() else []
    if foreign:   # the folder is replaced whole: never take a user's other files with it
        raise VcfnetError(f"{out_dir}: holds files other than a checkpoint ({', '.join(foreign[:3])}); "
                          f"save the checkpoint into its own folder")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    full = as_card(card if isinstance(card, ModelCard) else dict(card), model)
    full = full.with_fields(weights_sha256=tensors_sha256(tensors), weights_hash=HASH_KIND)
    with replace_dir(out_dir) as new:
        save_file(tensors, str(new / WEIGHTS_FILE), metadata={"format": "pt", "architecture": model.arch})
        kill_point("save_checkpoint:after_weights")
        write_card(new, full)
    return out_dir


def check_card(card: ModelCard, card_path: Path) -> None:
    """Refuse a card this vcfnet cannot serve (other preprocessing, other classes)."""
    if card.preprocessing_version != PREPROCESSING_VERSION:
        raise VcfnetError(
            f"{card_path}: this checkpoint was trained on crops made with preprocessing version "
            f"{card.preprocessing_version}, but this vcfnet makes version {PREPROCESSING_VERSION}; "
            f"its predictions would be wrong. Retrain on a re-ingested study, or use the vcfnet "
            f"version that made it ({card.software.get('vcfnet', 'unknown')})")
    if list(card.classes) != list(CLASSES):
        raise VcfnetError(f"{card_path}: classes {card.classes} differ from this vcfnet's {list(CLASSES)}")


def _hash_kind(card: ModelCard, card_path: Path) -> str:
    kind = card.weights_hash
    if kind not in HASH_KINDS:
        raise VcfnetError(f"{card_path}: weights_hash '{kind}' is unknown to this vcfnet (known: "
                          f"{', '.join(HASH_KINDS)}); load it with the newer vcfnet that wrote it")
    return kind


def _mismatch(weights: Path) -> VcfnetError:
    return VcfnetError(f"{weights}: does not match its model card (SHA-256 differs); the file is "
                       f"corrupt or was replaced")


def load_checkpoint(path_or_dir: str | Path, *, device: str | torch.device = "cpu"):
    """Rebuild the model a card describes and load its weights; returns ``(model, ModelCard)`` in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from vcfnet.model.network import build_model

    card, folder = read_card(path_or_dir)
    check_card(card, folder / CARD_FILE)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise VcfnetError(f"{folder}: no {WEIGHTS_FILE} beside {CARD_FILE}")
    kind = _hash_kind(card, folder / CARD_FILE)
    expected = card.weights_sha256
    if expected and kind == "file" and file_sha256(weights) != expected:
        raise _mismatch(weights)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise VcfnetError(f"{weights}: not a valid safetensors file ({exc}); the file is corrupt or was "
                          f"replaced") from None
    if expected and kind == HASH_KIND and tensors_sha256(state) != expected:
        raise _mismatch(weights)
    model = build_model(card.architecture, num_classes=card.num_classes)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise VcfnetError(f"{weights}: weights do not fit a {card.architecture} ({str(exc)[:300]})") from None
    model.input_size = card.input_size
    # channels_last: oneDNN's fast convolution layout (1.3x single-image, 1.7x batch float32 inference here)
    # torch types memory_format= only alone, but Module.to takes it beside a device
    return model.to(device, memory_format=torch.channels_last).eval(), card  # type: ignore[call-overload]
