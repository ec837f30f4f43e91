"""Resumable training state without pickle: ``RUN/state/state.safetensors`` + ``RUN/state/state.json``.

Tensors (model weights and buffers, optimizer moments, RNG states) go to safetensors; the scalar
parts (epoch, optimizer hyper-parameters and step counts, history, best score, config) go to JSON.
The folder changes as one unit (``atomicdir.replace_dir``): both files are written into a new
folder that is swapped in whole, so a kill at any moment leaves the previous complete state or the
new one, never a mix. The JSON also names the SHA-256 of the tensors it belongs to
(``checkpoint.tensors_sha256``), so an edited or damaged file is refused instead of resumed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vcfnet.errors import VcfnetError
from vcfnet.fileio import file_sha256, kill_point, write_json
from vcfnet.model.atomicdir import replace_dir
from vcfnet.model.checkpoint import HASH_KIND, tensors_sha256

TENSORS = "state.safetensors"
META = "state.json"


def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, entries in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entries)
    # JSON turned tuples (Adam's betas) into lists; give the optimizer back what it saved
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _match_memory_format(optimizer: torch.optim.Optimizer) -> None:
    """Give moment buffers their parameter's layout (channels_last); safetensors stored them plain,
    and fused kernels read both with the parameter's strides."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                    optimizer.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def save_state(state_dir: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               *, epoch: int, extra: dict[str, Any]) -> None:
    """Save everything needed to continue after ``epoch`` (1-based count of finished epochs)."""
    from safetensors.torch import save_file

    state_dir = Path(state_dir)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(opt_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {"epoch": epoch, "optimizer": opt_meta, "extra": extra, "tensors_sha256": tensors_sha256(tensors),
            "hash": HASH_KIND}
    with replace_dir(state_dir) as new:
        save_file(tensors, str(new / TENSORS), metadata={"epoch": str(epoch)})
        kill_point("save_state:after_tensors")
        write_json(new / META, meta)


def has_state(state_dir: str | Path) -> bool:
    return (Path(state_dir) / META).is_file()


def read_state_meta(state_dir: str | Path) -> dict[str, Any]:
    path = Path(state_dir) / META
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VcfnetError(f"{path}: cannot resume from this training state ({exc})") from None


def load_state(state_dir: str | Path, model: torch.nn.Module,
               optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, optimizer and RNG in place; return ``{"epoch": ..., "extra": ...}``."""
    from safetensors.torch import load_file

    state_dir = Path(state_dir)
    try:
        meta = read_state_meta(state_dir)
        if meta.get("hash") != HASH_KIND and file_sha256(state_dir / TENSORS) != meta["tensors_sha256"]:
            raise ValueError(f"{TENSORS} does not belong to {META} (interrupted write or edited file)")
        tensors = load_file(str(state_dir / TENSORS), device="cpu")
        if meta.get("hash") == HASH_KIND and tensors_sha256(tensors) != meta["tensors_sha256"]:
            raise ValueError(f"{TENSORS} does not belong to {META} (edited or damaged file)")
    except (OSError, ValueError, KeyError) as exc:
        raise VcfnetError(f"{state_dir}: cannot resume from this training state ({exc}); "
                          f"start again without --resume in a new --out folder") from None
    except Exception as exc:  # safetensors' own error type for a damaged file
        raise VcfnetError(f"{state_dir}: cannot resume from this damaged training state ({exc})") from None
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_unflatten_optimizer(tensors, meta["optimizer"]))
    _match_memory_format(optimizer)
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return {"epoch": int(meta["epoch"]), "extra": meta["extra"]}
