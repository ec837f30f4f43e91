"""Training the vertebra detector from COCO keypoints files (``vertebrae.json``, e.g. ``vcfnet synth``'s).

``train_detector`` reads each file's images beside it (DICOM or PNG through ``vcfnet.io``), trains with
AdamW for ``epochs`` (or ``max_iterations`` batches, or ``max_minutes``), and writes ``OUT/detector.safetensors`` +
``OUT/detector.json`` as one folder (``model.atomicdir``). Bodies whose level the detector has no class
for (a transitional T13 / L6) are left out of its targets. Augmentation: none yet (the sites already
differ in the side the patient faces, contrast and noise).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vcfnet.detect.coco import FILENAME, ImageAnnotations, read_coco
from vcfnet.detect.model import ARCHS, DETECT_LEVELS, build_detector, has_keypoints, to_input
from vcfnet.errors import VcfnetError
from vcfnet.fileio import file_sha256, write_json

log = logging.getLogger(__name__)

WEIGHTS = "detector.safetensors"
CARD = "detector.json"
FORMAT = "vcfnet-detector-1"


@dataclass(frozen=True)
class DetectorConfig:
    arch: str = ARCHS[0]
    epochs: int = 10
    max_iterations: int | None = None      # stop after this many batches (tests, timing)
    max_minutes: float | None = None       # stop after the batch that passes this much training time
    batch_size: int = 2
    lr: float = 1e-4
    weight_decay: float = 1e-4
    min_size: int = 512
    max_size: int = 1024
    pretrained_backbone: bool = False
    seed: int = 0
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


def target_of(im: ImageAnnotations) -> dict[str, torch.Tensor]:
    """torchvision's target dict: boxes (N, 4), labels (N,), keypoints (N, 6, 3) with visibility 0/1."""
    bodies = [vb for vb in im.vertebrae if vb.level in DETECT_LEVELS]
    kps = np.zeros((len(bodies), 6, 3), np.float32)
    for i, vb in enumerate(bodies):
        for k, p in enumerate(vb.points):
            if p is not None:
                kps[i, k] = (p[0], p[1], 1.0)
    return {"boxes": torch.tensor([vb.box for vb in bodies], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([DETECT_LEVELS.index(vb.level) + 1 for vb in bodies], dtype=torch.int64),
            "keypoints": torch.from_numpy(kps)}


def read_pixels(path: Path) -> np.ndarray:
    from vcfnet.io import read_radiograph

    return read_radiograph(path).pixels


def train_detector(coco_files: Sequence[str | Path], out_dir: str | Path, config: DetectorConfig = DetectorConfig()
                   ) -> dict[str, Any]:
    """Train and save a detector; returns its card (also ``OUT/detector.json``)."""
    files = [Path(f) for f in coco_files]
    samples = load_samples(files)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_detector(config.arch, min_size=config.min_size, max_size=config.max_size,
                           pretrained_backbone=config.pretrained_backbone).to(config.device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                            weight_decay=config.weight_decay)
    times: list[float] = []
    losses: list[float] = []
    done = 0
    began = time.perf_counter()
    for epoch in range(config.epochs):
        order = rng.permutation(len(samples))
        for start in range(0, len(order), config.batch_size):
            if _out_of_budget(config, done, time.perf_counter() - began):
                break
            batch = [samples[i] for i in order[start:start + config.batch_size]]
            t0 = time.perf_counter()
            loss = train_step(model, opt, batch, config)
            times.append(time.perf_counter() - t0)
            losses.append(loss)
            done += 1
        log.info("epoch %d: %d batches, mean loss %.3f", epoch + 1, done, float(np.mean(losses[-len(order):])))
        if _out_of_budget(config, done, time.perf_counter() - began):
            break
    card = {"format": FORMAT, "arch": config.arch, "levels": list(DETECT_LEVELS),
            "keypoints": has_keypoints(config.arch), "min_size": config.min_size, "max_size": config.max_size,
            "training": {**asdict(config), "iterations": done, "images": len(samples),
                         "final_loss": losses[-1] if losses else None,
                         "seconds_per_batch_median": float(np.median(times)) if times else None},
            "data": [{"file": f.name, "folder": f.parent.name, "sha256": file_sha256(f)} for f in files]}
    save_detector(out_dir, model, card)
    return card


def _out_of_budget(config: DetectorConfig, done: int, seconds: float) -> bool:
    return ((config.max_iterations is not None and done >= config.max_iterations)
            or (config.max_minutes is not None and seconds >= 60 * config.max_minutes))


def train_step(model, opt, batch: list[Sample], config: DetectorConfig) -> float:
    """One optimiser step on ``batch``; returns the summed loss."""
    model.train()
    images = [to_input(read_pixels(s.image)).to(config.device) for s in batch]
    targets = [{k: v.to(config.device) for k, v in target_of(s.annotations).items()} for s in batch]
    if not has_keypoints(config.arch):
        for t in targets:
            t.pop("keypoints")
    losses = model(images, targets)
    total = sum(losses.values())
    opt.zero_grad(set_to_none=True)
    total.backward()
    opt.step()
    return float(total.detach())


def save_detector(out_dir: str | Path, model, card: dict[str, Any]) -> None:
    """``OUT/detector.safetensors`` + ``OUT/detector.json`` (with the tensors' hash), as one folder."""
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
