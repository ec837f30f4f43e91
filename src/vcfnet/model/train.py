"""``fit``: train on a study's ``train`` split, select on its ``val`` split, write checkpoints.

    RUN/config.yaml     the resolved TrainConfig
    RUN/log.csv         epoch, train_loss, train_acc, val_loss, val_acc, lr, img_per_s, seconds
    RUN/best/           checkpoint of the best validation epoch (``select``: val_loss or val_acc)
    RUN/last/           checkpoint of the last epoch
    RUN/state/          model + optimizer + RNG after the last finished epoch (for ``resume``)

The test split is never read. All randomness of an epoch (sample order, augmentation) comes from
generators seeded with (seed, epoch, rank), so an interrupted run resumed from ``RUN/state`` ends
with the same weights as an uninterrupted one. Works alone or as one process of a ``torchrun`` DDP
job (rank 0 writes every file).

``_fit`` reads top to bottom like torchvision's ``main``: prepare the run folder, load the data,
build model / optimizer / loss into one ``Training``, restore ``Progress`` when resuming, then per
epoch ``run_epoch`` -> ``Progress.record`` -> ``save_epoch``. Checkpoint cards come from
``training_card`` (schema: ``vcfnet.model.card``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vcfnet.errors import VcfnetError
from vcfnet.fileio import kill_point
from vcfnet.labels import CLASSES
from vcfnet.model import distributed as ddp
from vcfnet.model.card import ModelCard, TrainingData, TrainingRun, Validation, describe
from vcfnet.model.checkpoint import save_checkpoint
from vcfnet.model.config import TrainConfig, save_config
from vcfnet.model.engine import evaluate, resolve_amp, resolve_device, train_one_epoch
from vcfnet.model.state import has_state, load_state, read_state_meta, save_state

log = logging.getLogger(__name__)
LOG_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "img_per_s", "seconds")
# fields that may differ between an interrupted run and its resumption
_RESUMABLE_CHANGES = {"resume", "epochs", "num_threads", "device", "compile", "calibrate", "clinical",
                      "clinical_columns", "refer_fraction", "target_accuracy"}


@dataclass
class Data:
    train_crops: np.ndarray
    train_labels: np.ndarray
    val_crops: np.ndarray
    val_labels: np.ndarray
    info: dict[str, Any]


def load_data(study_dir: str | Path) -> Data:
    """The train and val splits with the card's data description (never the test split)."""
    from vcfnet.study.cache import read_cache
    from vcfnet.study.dataset import load_cropset

    train = load_cropset(study_dir, split="train")
    val = load_cropset(study_dir, split="val")
    if len(train) == 0:
        raise VcfnetError(f"{study_dir}: the study has no ROI in the train split; nothing to train on")
    cache = read_cache(study_dir)
    h = hashlib.sha256()
    for split, part in (("train", train), ("val", val)):
        for roi, crop_hash in zip(part.roi_ids, np.asarray(cache.hashes)[cache.index_of(part.roi_ids)]):
            h.update(f"{split}:{roi}:{crop_hash}\n".encode())
    info = {"fingerprint": "sha256:" + h.hexdigest(), "crop_size": cache.size, "crop_margin": cache.margin,
            "n_train": len(train), "n_val": len(val),
            "train_class_counts": _counts(train.labels), "val_class_counts": _counts(val.labels)}
    return Data(train.crops, train.labels, val.crops, val.labels, info)


def _counts(labels: np.ndarray) -> dict[str, int]:
    return {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)}


def class_weights(labels: np.ndarray, num_classes: int = len(CLASSES)) -> torch.Tensor:
    """Inverse-frequency weights n / (k * count_c) (scikit-learn's "balanced"); absent classes get 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def epoch_order(labels: np.ndarray, config: TrainConfig, epoch: int) -> torch.Tensor:
    """Sample order of an epoch: a permutation, or weighted draws with replacement for ``sampler``."""
    g = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    n = len(labels)
    if config.class_balance == "sampler":
        per_sample = class_weights(labels)[torch.as_tensor(labels)].double()
        return torch.multinomial(per_sample, n, replacement=True, generator=g)
    return torch.randperm(n, generator=g)


def lr_at(config: TrainConfig, epoch: int) -> float:
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / config.epochs))
    return config.lr


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    # fused kernels: one pass over all 11M ResNet-18 parameters instead of a loop (6x faster on CPU)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                           fused=True)


def make_criterion(config: TrainConfig, labels: np.ndarray, device: torch.device) -> torch.nn.Module:
    weight = class_weights(labels).to(device) if config.class_balance == "weighted_loss" else None
    return torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=config.label_smoothing)


def setup_model(config: TrainConfig, device: torch.device, info: ddp.DistInfo):
    """Seeded model on ``device`` (channels_last, DDP-wrapped when distributed). Returns (model, raw)."""
    from vcfnet.model.network import build_model

    torch.manual_seed(config.seed)
    raw = build_model(config.arch, weights=config.weights)
    raw.input_size = config.input_size
    raw = raw.to(device,  # type: ignore[call-overload]  # torch types memory_format= only alone; .to takes both
                 memory_format=torch.channels_last if config.channels_last else torch.preserve_format)
    model = raw
    if info.active:
        from torch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        model = torch.compile(model)
    return model, raw


def _check_resume(saved: dict[str, Any], config: TrainConfig, info: ddp.DistInfo, run: Path) -> None:
    now = config.to_dict()
    changed = sorted(k for k in now if k not in _RESUMABLE_CHANGES and saved["config"].get(k) != now[k])
    if changed:
        raise VcfnetError(f"{run}: cannot resume with different settings ({', '.join(changed)}); the "
                          f"interrupted run used {json.dumps({k: saved['config'].get(k) for k in changed})}")
    if saved["world_size"] != info.world_size:
        raise VcfnetError(f"{run}: the interrupted run used {saved['world_size']} processes; resume it "
                          f"with the same number (got {info.world_size})")


def _prepare_run(run: Path, config: TrainConfig, info: ddp.DistInfo) -> bool:
    """Refuse to overwrite a finished or started run unless resuming; return whether to resume."""
    if config.resume and info.is_main:
        _recover(run)
    ddp.barrier(info)
    resume = config.resume and has_state(run / "state")
    if config.resume and not resume:
        log.warning("%s: nothing to resume (no state/); starting from scratch", run)
    if not config.resume and (has_state(run / "state") or (run / "best").exists()):
        raise VcfnetError(f"{run}: already holds a training run; pass --resume to continue it or "
                          f"choose another --out folder")
    if info.is_main:
        run.mkdir(parents=True, exist_ok=True)
        save_config(config, run / "config.yaml")
    return resume


def _recover(run: Path) -> None:
    """Put back what a kill between the two renames of a folder swap left aside (see atomicdir)."""
    from vcfnet.model.atomicdir import recover_dir

    if recover_dir(run / "state"):
        log.warning("%s: the last save was interrupted; resuming from the previous complete training state", run)
    for name in ("best", "last"):
        if recover_dir(run / name):
            log.info("%s: restored the previous %s/ (its replacement was interrupted)", run, name)


def write_log(path: Path, history: list[dict[str, Any]]) -> None:
    from vcfnet.fileio import atomic_open

    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(LOG_COLUMNS) + "\n")
        for row in history:
            fh.write(",".join(_fmt(row[c]) for c in LOG_COLUMNS) + "\n")


def _fmt(v: Any) -> str:
    return str(v) if isinstance(v, int) else f"{v:.6g}"


def training_card(run: Training, row: dict[str, Any], selected_by: str) -> ModelCard:
    """The card of the weights ``run.raw`` holds after the epoch of ``row`` (see ``vcfnet.model.card``)."""
    config, info = run.config, run.data.info
    balance = {"none": "none (as in the study)",
               "weighted_loss": "cross-entropy weighted n/(k*count) per class on the train split",
               "sampler": "weighted random sampling with replacement, 1/count per class"}[config.class_balance]
    return describe(
        run.raw, input_size=config.input_size, crop_size=info["crop_size"], crop_margin=info["crop_margin"],
        training_config=config.to_dict(),
        data=TrainingData(**{k: info[k] for k in ("fingerprint", "n_train", "n_val", "train_class_counts",
                                                  "val_class_counts")}),
        class_balance=balance, selected_by=selected_by,
        validation=Validation(epoch=row["epoch"], loss=row["val_loss"], accuracy=row["val_acc"],
                              n=info["n_val"]),
        training=run.env.card())


@dataclass
class Environment:
    """Where and how this process trains: device, precision, its share of the batch, its rank."""

    info: ddp.DistInfo
    device: torch.device
    amp_dtype: torch.dtype | None
    batch_per_process: int
    channels_last: bool

    @classmethod
    def resolve(cls, config: TrainConfig, device: torch.device, info: ddp.DistInfo) -> Environment:
        per = max(1, config.batch_size // info.world_size)
        if per * info.world_size != config.batch_size:
            log.warning("batch %d is not divisible by %d processes; using %d per process",
                        config.batch_size, info.world_size, per)
        return cls(info, device, resolve_amp(config.amp, device), per, config.channels_last)

    def card(self) -> TrainingRun:
        return TrainingRun(device=str(self.device), world_size=self.info.world_size,
                           batch_per_process=self.batch_per_process,
                           amp="bf16" if self.amp_dtype is not None else "fp32", channels_last=self.channels_last)


@dataclass
class Training:
    """The objects one run builds once: data, model (``raw`` unwrapped from DDP/compile), optimizer, loss."""

    config: TrainConfig
    data: Data
    env: Environment
    model: torch.nn.Module
    raw: torch.nn.Module
    optimizer: torch.optim.Optimizer
    criterion: torch.nn.Module
    crops: torch.Tensor       # uint8 train crops; on a GPU they live on the device
    labels: torch.Tensor


@dataclass
class Progress:
    """What a run has done so far, and what ``RUN/state`` restores: epochs, their log rows, best score."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: float | None = None

    def record(self, row: dict[str, Any], select: str) -> bool:
        """Add an epoch's row; return whether it is the best so far (lower ``_score`` is better)."""
        self.epoch = row["epoch"]
        self.history.append(row)
        score = _score(row, select)
        if math.isnan(score) or (self.best is not None and score >= self.best):
            return False
        self.best = score
        return True


def _score(row: dict[str, Any], select: str) -> float:
    """Lower is better."""
    return row["val_loss"] if select == "val_loss" else -row["val_acc"]


def run_epoch(run: Training, epoch: int) -> dict[str, Any]:
    """Train one epoch (this process's shard), evaluate on val, reduce across processes: a log row."""
    config, env = run.config, run.env
    lr = lr_at(config, epoch)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    order = ddp.shard_train(epoch_order(run.data.train_labels, config, epoch), env.info)
    aug = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch + 7919 * (env.info.rank + 1))
    t = train_one_epoch(run.model, run.criterion, run.optimizer, run.crops, run.labels, order,
                        batch_size=env.batch_per_process, device=env.device, amp_dtype=env.amp_dtype,
                        input_size=config.input_size, generator=aug, channels_last=config.channels_last,
                        augment={"hflip": config.hflip, "vflip": config.vflip, "rotation": config.rotation})
    sums = torch.tensor([t["loss_sum"], t["correct"], t["n"], t["seconds"]], dtype=torch.float64,
                        device=env.device)
    loss_sum, correct, n, secs = ddp.all_reduce_sum(sums).cpu().tolist()
    ddp.sync_buffers(run.raw, env.info)   # BatchNorm statistics differ per process after training
    shard = ddp.shard_eval(len(run.data.val_labels), env.info).numpy()
    v = evaluate(run.raw, run.data.val_crops[shard], run.data.val_labels[shard],
                 batch_size=config.eval_batch_size, device=env.device, amp_dtype=env.amp_dtype)
    seconds = secs / env.info.world_size
    return {"epoch": epoch + 1, "train_loss": loss_sum / n, "train_acc": correct / n,
            "val_loss": v["loss"], "val_acc": v["accuracy"], "lr": lr,
            "img_per_s": n / seconds if seconds else float("nan"), "seconds": seconds}


def save_epoch(out: Path, run: Training, done: Progress, improved: bool) -> None:
    """best/ (when ``improved``), last/, log.csv, then the training state: each folder whole."""
    row, config = done.history[-1], run.config
    if improved:
        save_checkpoint(out / "best", run.raw, training_card(run, row, f"best {config.select}"))
    save_checkpoint(out / "last", run.raw, training_card(run, row, "last epoch"))
    write_log(out / "log.csv", done.history)
    kill_point("save_epoch:before_state")
    save_state(out / "state", run.raw, run.optimizer, epoch=done.epoch,
               extra={"history": done.history, "best": done.best, "config": config.to_dict(),
                      "world_size": run.env.info.world_size})
    log.info("epoch %d/%d train loss %.4f acc %.3f | val loss %.4f acc %.3f | %.1f img/s",
             row["epoch"], config.epochs, row["train_loss"], row["train_acc"], row["val_loss"],
             row["val_acc"], row["img_per_s"])


def fit(study_dir: str | Path, out_dir: str | Path, config: TrainConfig, *, progress: bool = False) -> Path:
    """Train ``config`` on ``study_dir``; return the ``best`` checkpoint directory under ``out_dir``."""
    info = ddp.from_env()
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        device = ddp.init(info, resolve_device(config.device))
        best = _fit(Path(study_dir), Path(out_dir), config, Environment.resolve(config, device, info), progress)
        if info.is_main and (config.calibrate or config.clinical):
            from vcfnet.model.calibrate import after_training
            after_training(best, study_dir, config, device=str(device))
        return best
    finally:
        ddp.shutdown(info)
        torch.set_num_threads(threads)


def _fit(study: Path, out: Path, config: TrainConfig, env: Environment, progress: bool) -> Path:
    resume = _prepare_run(out, config, env.info)
    data = load_data(study)
    model, raw = setup_model(config, env.device, env.info)
    optimizer = make_optimizer(raw.parameters(), config)
    criterion = make_criterion(config, data.train_labels, env.device)
    # on a GPU the whole uint8 train set lives on the device (1,625 crops at 224 px = 82 MB)
    where = env.device if env.device.type == "cuda" else torch.device("cpu")
    run = Training(config, data, env, model, raw, optimizer, criterion,
                   crops=torch.from_numpy(np.ascontiguousarray(data.train_crops)).to(where),
                   labels=torch.tensor(data.train_labels, device=where))
    done = _resume(out, run) if resume else Progress()
    with _ProgressBar(progress and env.info.is_main, config.epochs, done.epoch) as bar:
        for epoch in range(done.epoch, config.epochs):
            row = run_epoch(run, epoch)
            improved = done.record(row, config.select)
            if env.info.is_main:
                save_epoch(out, run, done, improved)
            bar.update(row)
            ddp.barrier(env.info)
    if env.info.is_main and not (out / "best").exists():  # no usable val split: the last epoch stands in
        save_checkpoint(out / "best", raw, training_card(run, done.history[-1], "last epoch (no validation loss)"))
    return out / "best"


def _resume(out: Path, run: Training) -> Progress:
    """Model, optimizer and RNG back as they were after the last saved epoch; its progress."""
    _check_resume(read_state_meta(out / "state")["extra"], run.config, run.env.info, out)  # before touching weights
    saved = load_state(out / "state", run.raw, run.optimizer)
    log.info("%s: resuming after epoch %d of %d", out, saved["epoch"], run.config.epochs)
    return Progress(saved["epoch"], saved["extra"]["history"], saved["extra"]["best"])


class _ProgressBar:
    """A rich progress bar over epochs (a no-op when disabled)."""

    def __init__(self, enabled: bool, epochs: int, start: int):
        self.enabled, self.epochs, self.start = enabled, epochs, start
        self._bar: Any = None       # a rich Progress once entered (imported only then)

    def __enter__(self) -> _ProgressBar:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
            self._bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.description}"))
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.epochs, completed=self.start)
        return self

    def update(self, row: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=(
                f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.3f} | {row['img_per_s']:.0f} img/s"))

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
