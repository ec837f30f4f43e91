"""The detector's training state, saved so that a kill at any moment loses at most the batches since the
last save: ``OUT.training/`` beside the detector folder, written whole by the classifier's own
``model.state`` (one place for model + optimiser + RNG in safetensors, the tensors' hash, the atomic folder).

    OUT.training/state.safetensors   model tensors ("model.*"), AdamW moments ("optim.<i>.<key>"), torch RNG
    OUT.training/state.json          the tensors' hash, optimiser hyper-parameters, and under "extra": this
                                     module's format, the run's key (settings and data hashes), progress

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

log = logging.getLogger(__name__)

STATE_FORMAT = "vcfnet-detector-state-2"


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
    from vcfnet.model import state as common

    common.save_state(folder, model, opt, epoch=progress.epoch,
                      extra={"format": STATE_FORMAT, "key": key, "progress": asdict(progress)})


def load_state(folder: Path, key: dict[str, Any], model: torch.nn.Module, opt: torch.optim.Optimizer
               ) -> Progress | None:
    """The saved progress (model and optimiser restored in place), or None when there is no state; a state
    made with other settings or data, or damaged, is an error naming the folder."""
    from vcfnet.model import state as common
    from vcfnet.model.atomicdir import recover_dir

    recover_dir(folder)
    if not common.has_state(folder):
        return None
    try:
        extra = common.read_state_meta(folder).get("extra") or {}
    except VcfnetError as exc:
        raise VcfnetError(f"{folder}: an unreadable training state ({exc}); delete it to start over") from None
    if extra.get("format") != STATE_FORMAT or extra.get("key") != json.loads(json.dumps(key)):
        raise VcfnetError(f"{folder}: the training state of a run with other settings or data; delete it to "
                          "start over, or train with the same settings to continue it")
    try:
        common.load_state(folder, model, opt)
    except VcfnetError as exc:
        raise VcfnetError(f"{folder}: a damaged training state ({exc}); delete it to start over") from None
    progress = Progress(**extra["progress"])
    log.info("continuing the interrupted training in %s from batch %d", folder, progress.done)
    return progress


def remove_state(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
