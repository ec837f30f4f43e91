"""Training the vertebra detector from COCO keypoints files (``vertebrae.json``, e.g. ``vcfnet synth``'s).

``train_detector`` reads each file's images beside it (DICOM or PNG through ``vcfnet.io``) once, keeps them
in memory at the detector's input scale (``detect.augment.scaled_film``; at most ``cache_mb``, beyond that
films are re-read each time), trains with AdamW (linear warm-up, cosine decay over the planned batches or
minutes) on augmented views (``detect.augment.random_view``: scale, rotation, flip, shifts that cut bodies
at the edge, contrast, gamma, noise) for ``epochs`` (or ``max_iterations`` batches, or ``max_minutes``), and
writes ``OUT/detector.safetensors`` + ``OUT/detector.json`` as one folder (``model.atomicdir``).

A kill at any moment loses at most the last ``save_minutes`` of work: the training state is saved
atomically beside the folder (``detect.state``, ``OUT.training/``) and a new run with the same settings
continues from it (it is removed once the detector is written). Data order and augmentation are drawn
from (seed, epoch, batch), so an interrupted run continued gives the same detector as an uninterrupted one
(budgets in minutes excepted: where they stop depends on the machine). A body whose level the detector has
no class for (a transitional T13 / L6) is still a body to find: the centre-point net learns its box and
landmarks with no level target (the R-CNNs, whose classes are the levels, leave it out).
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vcfnet.detect import augment as aug
from vcfnet.detect.coco import FILENAME, ImageAnnotations, read_coco
from vcfnet.detect.model import ARCHS, DETECT_LEVELS, NO_LEVEL, build_detector, has_keypoints, train_loss
from vcfnet.detect.state import Progress, load_state, remove_state, save_state, state_dir
from vcfnet.errors import VcfnetError
from vcfnet.fileio import file_sha256, kill_point, write_json

log = logging.getLogger(__name__)

WEIGHTS = "detector.safetensors"
CARD = "detector.json"
FORMAT = "vcfnet-detector-2"
#: a fractured body's weight in the landmark loss: about one body in nine is fractured, and without it the
#: landmarks regress to an intact body's shape, so collapse is measured too small (docs/DETECTION.md)
FRACTURED_WEIGHT = 5.0
#: settings that may change between an interrupted run and its continuation
BUDGET_FIELDS = ("epochs", "max_iterations", "max_minutes", "save_minutes", "device")


@dataclass(frozen=True)
class DetectorConfig:
    arch: str = ARCHS[0]
    epochs: int = 200
    max_iterations: int | None = None      # stop after this many batches (tests, timing)
    max_minutes: float | None = None       # stop after the batch that passes this much training time
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    min_size: int = 256                    # short side of the film at the detector's input scale
    max_size: int = 512                    # its long side at most
    augment: bool = True
    pretrained_backbone: bool = False      # R-CNN only: torchvision's ImageNet MobileNetV3
    seed: int = 0
    save_minutes: float = 1.0              # save the training state this often
    cache_mb: int = 1024                   # films kept in memory at the input scale, at most
    device: str = "cpu"


@dataclass(frozen=True)
class Sample:
    image: Path
    annotations: ImageAnnotations


def coco_files_of(paths: Sequence[str | Path]) -> list[Path]:
    """``vertebrae.json`` files from what a user names: the files themselves, folders holding one, or a
    ``vcfnet synth`` folder (its manifest lists one per source)."""
    out: list[Path] = []
    for given in map(Path, paths):
        if given.is_file():
            out.append(given)
        elif (given / FILENAME).is_file():
            out.append(given / FILENAME)
        elif (given / "manifest.json").is_file():
            manifest = given / "manifest.json"
            if manifest.stat().st_size > 1 << 20:
                raise VcfnetError(f"{manifest}: larger than 1 MiB; not a vcfnet synth manifest")
            try:
                sources = json.loads(manifest.read_text(encoding="utf-8")).get("sources", [])
                named = [given / s["vertebrae"] for s in sources if isinstance(s, dict) and s.get("vertebrae")]
            except (ValueError, UnicodeDecodeError, AttributeError, TypeError) as exc:
                raise VcfnetError(f"{manifest}: not a readable vcfnet synth manifest ({exc})") from exc
            if not named:
                raise VcfnetError(f"{manifest}: lists no {FILENAME}; made by an older `vcfnet synth`? Re-run it")
            out += named
        else:
            raise VcfnetError(f"{given}: neither a {FILENAME}, nor a folder holding one, nor a vcfnet synth folder")
    return out


def load_samples(coco_files: list[Path]) -> list[Sample]:
    """Every image of every file that has at least one body the detector has a class for."""
    out = []
    for f in coco_files:
        for im in read_coco(f):
            path = f.parent / im.file_name
            if not path.is_file():
                raise VcfnetError(f"{f}: names image {im.file_name}, which is not beside it")
            if any(vb.level in DETECT_LEVELS for vb in im.vertebrae):
                out.append(Sample(path, im))
    if not out:
        raise VcfnetError(f"no annotated vertebral bodies in {', '.join(map(str, coco_files))}")
    return out


def annotated(pixels: np.ndarray, im: ImageAnnotations) -> aug.Annotated:
    """A film and all its bodies, as arrays (invisible points at 0, 0); label -1 for a level the detector
    has no class for (``NO_LEVEL``)."""
    bodies = list(im.vertebrae)
    points = np.zeros((len(bodies), 6, 2), np.float32)
    visible = np.zeros((len(bodies), 6), bool)
    for i, vb in enumerate(bodies):
        for k, p in enumerate(vb.points):
            if p is not None:
                points[i, k], visible[i, k] = p, True
    return aug.Annotated(pixels, np.array([vb.box for vb in bodies], np.float32).reshape(-1, 4),
                         np.array([DETECT_LEVELS.index(vb.level) if vb.level in DETECT_LEVELS else NO_LEVEL
                                   for vb in bodies], np.int64), points, visible,
                         np.array([FRACTURED_WEIGHT if vb.fracture is not None else 1.0 for vb in bodies], np.float32))


class FilmCache:
    """Films at the input scale with their annotations, read once; at most ``limit_bytes`` held (float16)."""

    def __init__(self, samples: list[Sample], config: DetectorConfig):
        self.samples, self.config = samples, config
        self.limit, self.used = config.cache_mb << 20, 0
        self.held: dict[int, tuple[np.ndarray, aug.Annotated]] = {}

    def get(self, i: int) -> aug.Annotated:
        if i in self.held:
            pixels, film = self.held[i]
            return replace(film, pixels=pixels.astype(np.float32))
        from vcfnet.io import read_radiograph

        s = self.samples[i]
        pixels, sx, sy = aug.scaled_film(read_radiograph(s.image).pixels, self.config.min_size, self.config.max_size)
        half = pixels.astype(np.float16)             # what a cached film holds, so the first use sees the same
        film = annotated(half, s.annotations).scaled(sx, sy, half)
        if self.used + half.nbytes <= self.limit:
            self.held[i], self.used = (half, film), self.used + half.nbytes
        return replace(film, pixels=half.astype(np.float32))


def view_shape(config: DetectorConfig) -> tuple[int, int]:
    """The training views' (rows, columns): the input scale's short side, a quarter more rows."""
    cols = -(-config.min_size // 32) * 32
    return -(-int(config.min_size * 1.25) // 32) * 32, cols


def train_detector(coco_files: Sequence[str | Path], out_dir: str | Path, config: DetectorConfig = DetectorConfig()
                   ) -> dict[str, Any]:
    """Train (or continue an interrupted run) and save a detector; returns its card (also ``OUT/detector.json``)."""
    files = [Path(f) for f in coco_files]
    samples = load_samples(files)
    data = [{"file": f.name, "folder": f.parent.name, "sha256": file_sha256(f)} for f in files]
    torch.manual_seed(config.seed)
    model = build_detector(config.arch, min_size=config.min_size, max_size=config.max_size,
                           pretrained_backbone=config.pretrained_backbone).to(config.device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                            weight_decay=config.weight_decay)
    key = {"settings": {k: v for k, v in asdict(config).items() if k not in BUDGET_FIELDS}, "data": data}
    folder = state_dir(out_dir)
    progress = load_state(folder, key, model, opt) or Progress()
    _run(model, opt, FilmCache(samples, config), config, progress, lambda: save_state(folder, key, model, opt, progress))
    t = progress
    card = {"format": FORMAT, "arch": config.arch, "levels": list(DETECT_LEVELS),
            "keypoints": has_keypoints(config.arch), "min_size": config.min_size, "max_size": config.max_size,
            "training": {**asdict(config), "iterations": t.done, "images": len(samples),
                         "training_seconds": round(t.seconds, 1),
                         "final_loss": float(np.mean(t.losses[-20:])) if t.losses else None,
                         "seconds_per_batch_median": float(np.median(t.times)) if t.times else None,
                         "cache": "films held in memory at the input scale (float16), at most cache_mb"},
            "data": data}
    card = save_detector(out_dir, model, card)
    remove_state(folder)
    return card


def _run(model, opt, cache: FilmCache, config: DetectorConfig, p: Progress, save) -> None:
    """The batches from ``p`` on; ``save()`` every ``save_minutes`` of training."""
    n = len(cache.samples)
    per_epoch = -(-n // config.batch_size)
    planned = per_epoch * config.epochs if config.max_iterations is None else min(config.max_iterations,
                                                                                   per_epoch * config.epochs)
    last_save = p.seconds
    while p.epoch < config.epochs and not _out_of_budget(config, p):
        order = np.random.default_rng([config.seed, p.epoch]).permutation(n)
        while p.batch < per_epoch and not _out_of_budget(config, p):
            rng = np.random.default_rng([config.seed, p.epoch, p.batch, 1])
            chosen = order[p.batch * config.batch_size:(p.batch + 1) * config.batch_size]
            views = [_view(cache.get(int(i)), config, rng) for i in chosen]
            progress = p.done / planned
            if config.max_minutes:
                progress = max(progress, p.seconds / (60 * config.max_minutes))
            for group in opt.param_groups:
                group["lr"] = config.lr * _schedule(p.done, progress, planned)
            t0 = time.perf_counter()
            loss = train_step(model, opt, views, config)
            p.times.append(time.perf_counter() - t0)
            p.seconds += p.times[-1]
            p.losses.append(loss)
            p.done, p.batch = p.done + 1, p.batch + 1
            if p.seconds - last_save >= 60 * config.save_minutes:
                save()
                last_save = p.seconds
                kill_point("detector-state")
        if p.batch >= per_epoch:
            log.info("epoch %d: %d batches, mean loss %.3f", p.epoch + 1, p.done, float(np.mean(p.losses[-per_epoch:])))
            p.epoch, p.batch = p.epoch + 1, 0


def _schedule(done: int, progress: float, planned: int) -> float:
    """Linear warm-up over the first 5 % of the planned batches (at most 50), then cosine to 5 %."""
    warm = max(1, min(50, planned // 20))
    if done < warm:
        return (done + 1) / warm
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _view(film: aug.Annotated, config: DetectorConfig, rng: np.random.Generator) -> aug.Annotated:
    return aug.random_view(film, view_shape(config), rng, aug.Augment() if config.augment else aug.Augment.none())


def _out_of_budget(config: DetectorConfig, p: Progress) -> bool:
    return ((config.max_iterations is not None and p.done >= config.max_iterations)
            or (config.max_minutes is not None and p.seconds >= 60 * config.max_minutes))


def train_step(model, opt, views: list[aug.Annotated], config: DetectorConfig) -> float:
    """One optimiser step on ``views``; returns the summed loss."""
    model.train()
    losses = train_loss(config.arch, model, views, config.device)
    total = torch.stack(list(losses.values())).sum()
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    return float(total.detach())


def save_detector(out_dir: str | Path, model, card: dict[str, Any]) -> dict[str, Any]:
    """``OUT/detector.safetensors`` + ``OUT/detector.json`` (with the tensors' hash), as one folder; the card."""
    from safetensors.torch import save_file

    from vcfnet.model.atomicdir import replace_dir
    from vcfnet.model.checkpoint import tensors_sha256

    out = Path(out_dir)
    if out.is_dir() and any(p.name not in (WEIGHTS, CARD) for p in out.iterdir()):
        raise VcfnetError(f"{out}: holds files other than a detector; save it into its own folder")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    card = {**card, "weights_sha256": tensors_sha256(tensors)}
    with replace_dir(out) as new:
        save_file(tensors, str(new / WEIGHTS), metadata={"format": FORMAT, "architecture": card["arch"]})
        write_json(new / CARD, card)
    return card

