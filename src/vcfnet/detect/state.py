"""The detector's training state, saved so that a kill at any moment loses at most the batches since the
last save: ``OUT.training/`` beside the detector folder, written whole (``model.atomicdir.replace_dir``).

    OUT.training/state.safetensors   model tensors ("model.*"), AdamW moments ("opt.<i>.<key>"), torch RNG
    OUT.training/state.json          format, the run's key (settings and data hashes), progress, optimiser
                                     hyper-parameters

No pickles: tensors in safetensors, everything else JSON. A run finds the state of an interrupted run with
the same key and continues from it; data order and augmentation are drawn from (seed, epoch, batch), so
the continued run computes what the uninterrupted one would have.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from vcfnet.errors import VcfnetError
from vcfnet.fileio import write_json

log = logging.getLogger(__name__)

STATE_FORMAT = "vcfnet-detector-state-1"
TENSORS = "state.safetensors"
META = "state.json"


@dataclass
class Progress:
    """Where training stands: the next (epoch, batch), batches done, training seconds, losses and times."""
    epoch: int = 0
    batch: int = 0
    done: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)


def state_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    return out.parent / f"{out.name}.training"


def save_state(folder: Path, key: dict[str, Any], model: torch.nn.Module, opt: torch.optim.Optimizer,
               progress: Progress) -> None:
    from safetensors.torch import save_file

    from vcfnet.model.atomicdir import replace_dir

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    scalars: dict[str, dict[str, float]] = {}
    for i, st in opt_state["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"opt.{i}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(i), {})[name] = float(value)
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"format": STATE_FORMAT, "key": key, "progress": asdict(progress), "opt_scalars": scalars,
            "param_groups": opt_state["param_groups"]}
    with replace_dir(folder) as new:
        save_file(tensors, str(new / TENSORS))
        write_json(new / META, meta)


def load_state(folder: Path, key: dict[str, Any], model: torch.nn.Module, opt: torch.optim.Optimizer
               ) -> Progress | None:
    """The saved progress (model and optimiser restored in place), or None when there is no state; a state
    made with other settings or data is an error naming the folder."""
    from safetensors.torch import load_file

    from vcfnet.model.atomicdir import recover_dir

    recover_dir(folder)
    if not (folder / META).is_file():
        return None
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / TENSORS))
    except (OSError, ValueError) as exc:
        raise VcfnetError(f"{folder}: an unreadable training state ({exc}); delete it to start over") from exc
    if meta.get("format") != STATE_FORMAT or meta.get("key") != json.loads(json.dumps(key)):
        raise VcfnetError(f"{folder}: the training state of a run with other settings or data; delete it to "
                          "start over, or train with the same settings to continue it")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    for i, scalars in meta["opt_scalars"].items():
        for name, value in scalars.items():
            state.setdefault(int(i), {})[name] = torch.tensor(value)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    progress = Progress(**meta["progress"])
    log.info("continuing the interrupted training in %s from batch %d", folder, progress.done)
    return progress


def remove_state(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
