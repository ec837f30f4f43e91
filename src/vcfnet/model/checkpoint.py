"""Checkpoints: ``model.safetensors`` (weights, never pickled) + ``model.json`` (the model card).

    >>> ckpt = save_checkpoint("run/best", model, card)        # -> Path("run/best")
    >>> model, card = load_checkpoint("run/best")               # eval mode, on "cpu"

The folder changes as one unit: both files are written into a new folder that replaces the old one
whole (``atomicdir.replace_dir``), so a kill never leaves new weights beside an old card; the card records the SHA-256 of the weights (``tensors_sha256``: every tensor's name,
dtype, shape and bytes in name order, not the file, whose header metadata safetensors writes in a
varying order), so a card proves which weights it describes, two runs that reproduce each other
carry the same hash, and a truncated or swapped weights file is refused on load. Cards written
before vcfnet hashed tensors hold the file's SHA-256 and no ``weights_hash``: they are verified
against the file.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from pathlib import Path
from typing import Any, Mapping

import torch

from vcfnet.errors import VcfnetError
from vcfnet.fileio import write_json
from vcfnet.labels import CLASSES
from vcfnet.preprocess import DEFAULT_SIZE, PREPROCESSING_VERSION

WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "model.json"
#: ``weights_hash`` of the cards written now; cards without the field hold a file hash ("file").
HASH_KIND = "tensors-v1"
HASH_KINDS = ("file", HASH_KIND)
INTENDED_USE = (
    "Research use only; not a medical device and not for clinical decisions. Classifies an already "
    "boxed fractured vertebra on a lateral spine radiograph as acute, chronic or pathological. It does "
    "not detect fractures. Weak on pathological fractures (about 8% of the development data); "
    "validate on local data before any study use.")


def software_versions() -> dict[str, str]:
    import torchvision

    import vcfnet
    return {"vcfnet": vcfnet.__version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "python": platform.python_version()}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def complete_card(model: torch.nn.Module, card: dict[str, Any]) -> dict[str, Any]:
    """The card with every field the loader and consumers rely on filled in."""
    from vcfnet.model.network import NORMALISATION

    full = {
        "architecture": model.arch, "classes": list(CLASSES), "num_classes": model.num_classes,
        "input_size": model.input_size or DEFAULT_SIZE, "channels": 1, "normalisation": NORMALISATION,
        "preprocessing_version": PREPROCESSING_VERSION, "intended_use": INTENDED_USE,
        "temperature": None, "software": software_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    full.update(card)
    return full


def save_checkpoint(out_dir: str | Path, model: torch.nn.Module, card: dict[str, Any]) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/model.json``; return ``out_dir``."""
    from safetensors.torch import save_file

    from vcfnet.model.network import unwrap

    from vcfnet.model.atomicdir import kill_point, replace_dir

    model = unwrap(model)
    out_dir = Path(out_dir)
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in (WEIGHTS_FILE, CARD_FILE)) \
        if out_dir.is_dir() else []
    if foreign:   # the folder is replaced whole: never take a user's other files with it
        raise VcfnetError(f"{out_dir}: holds files other than a checkpoint ({', '.join(foreign[:3])}); "
                          f"save the checkpoint into its own folder")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    full = complete_card(model, card)
    full["weights_sha256"], full["weights_hash"] = tensors_sha256(tensors), HASH_KIND
    with replace_dir(out_dir) as new:
        save_file(tensors, str(new / WEIGHTS_FILE), metadata={"format": "pt", "architecture": model.arch})
        kill_point("save_checkpoint:after_weights")
        write_json(new / CARD_FILE, full)
    return out_dir


def read_card(path_or_dir: str | Path) -> tuple[dict[str, Any], Path]:
    """The card of a checkpoint (directory, ``model.json`` or ``model.safetensors``) and its directory."""
    path = Path(path_or_dir)
    folder = path if path.is_dir() else path.parent
    card_path = folder / CARD_FILE
    if not card_path.is_file():
        raise VcfnetError(f"{path}: not a checkpoint (no {CARD_FILE} in {folder}); a checkpoint is a "
                          f"folder written by `vcfnet train`, e.g. RUN/best")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise VcfnetError(f"{card_path}: not a valid model card ({exc})") from None
    missing = [k for k in ("architecture", "classes", "input_size", "preprocessing_version") if k not in card]
    if not isinstance(card, dict) or missing:
        raise VcfnetError(f"{card_path}: model card lacks {', '.join(missing) or 'its fields'}")
    return card, folder


def check_card(card: dict[str, Any], card_path: Path) -> None:
    if str(card["preprocessing_version"]) != PREPROCESSING_VERSION:
        raise VcfnetError(
            f"{card_path}: this checkpoint was trained on crops made with preprocessing version "
            f"{card['preprocessing_version']}, but this vcfnet makes version {PREPROCESSING_VERSION}; "
            f"its predictions would be wrong. Retrain on a re-ingested study, or use the vcfnet "
            f"version that made it ({card.get('software', {}).get('vcfnet', 'unknown')})")
    if list(card["classes"]) != list(CLASSES):
        raise VcfnetError(f"{card_path}: classes {card['classes']} differ from this vcfnet's {list(CLASSES)}")


def _hash_kind(card: dict[str, Any], card_path: Path) -> str:
    kind = str(card.get("weights_hash", "file"))
    if kind not in HASH_KINDS:
        raise VcfnetError(f"{card_path}: weights_hash '{kind}' is unknown to this vcfnet (known: "
                          f"{', '.join(HASH_KINDS)}); load it with the newer vcfnet that wrote it")
    return kind


def _mismatch(weights: Path) -> VcfnetError:
    return VcfnetError(f"{weights}: does not match its model card (SHA-256 differs); the file is "
                       f"corrupt or was replaced")


def load_checkpoint(path_or_dir: str | Path, *, device: str | torch.device = "cpu"):
    """Rebuild the model a card describes and load its weights; returns ``(model, card)`` in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from vcfnet.model.network import build_model

    card, folder = read_card(path_or_dir)
    check_card(card, folder / CARD_FILE)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise VcfnetError(f"{folder}: no {WEIGHTS_FILE} beside {CARD_FILE}")
    kind = _hash_kind(card, folder / CARD_FILE)
    expected = card.get("weights_sha256")
    if expected and kind == "file" and file_sha256(weights) != expected:
        raise _mismatch(weights)
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise VcfnetError(f"{weights}: not a valid safetensors file ({exc}); the file is corrupt or was "
                          f"replaced") from None
    if expected and kind == HASH_KIND and tensors_sha256(state) != expected:
        raise _mismatch(weights)
    model = build_model(card["architecture"], num_classes=int(card.get("num_classes", len(CLASSES))))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise VcfnetError(f"{weights}: weights do not fit a {card['architecture']} ({str(exc)[:300]})") from None
    model.input_size = int(card["input_size"])
    # channels_last: oneDNN's fast convolution layout (1.3x single-image, 1.7x batch float32 inference here)
    return model.to(device, memory_format=torch.channels_last).eval(), card
