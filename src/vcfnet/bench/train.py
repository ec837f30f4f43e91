"""Training and inference throughput of the project's engine against the study's seed loop.

Both loops see the same images in the same run: the real crops are replicated into an ImageFolder
tree for the seed loop (which decodes, transforms and normalises every image with PIL each epoch),
and the same files are cropped once with ``vcfnet.preprocess.crop_roi`` into uint8 crops for the
project's loop (``train_one_epoch``: batched on-device augmentation, channels_last, bf16 autocast).
"""
from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)
FOLDER_CLASSES = {"acute": 0, "chronic": 1, "pathologic": 2, "pathological": 2}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def list_images(crops_dir: Path) -> list[tuple[Path, int]]:
    """(file, class index) for every image under ``crops_dir/<Class>/``, sorted."""
    if not crops_dir.is_dir():
        raise VcfnetError(f"crops folder {crops_dir} does not exist (leave --crops out to use synthetic crops)")
    items = []
    for sub in sorted(p for p in crops_dir.iterdir() if p.is_dir()):
        if sub.name.lower() not in FOLDER_CLASSES:
            continue
        items += [(f, FOLDER_CLASSES[sub.name.lower()]) for f in sorted(sub.iterdir())
                  if f.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise VcfnetError(f"{crops_dir}: no images in Acute/Chronic/Pathologic sub-folders")
    return items


def synthetic_crops(folder: Path, *, per_class: int = 5, size: int = 96, seed: int = 0) -> Path:
    """Write ``per_class`` grey PNG crops into ``folder/<Acute|Chronic|Pathologic>/`` and return ``folder``.

    Used when the sample crops (``../shared/data/vcfnet-samples``) are not beside the checkout: a
    throughput benchmark needs images of the right shape, not real anatomy. Class k is noise with a
    bright band in a class-specific place, so the loops see a learnable task.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    band = size // 3
    for k, name in enumerate(("Acute", "Chronic", "Pathologic")):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, size=(size, size), dtype=np.uint8)
            pixels[k * band:(k + 1) * band] += 150
            Image.fromarray(pixels).save(folder / name / f"synthetic-{i:02d}.png")
    return folder


def replicate(items: list[tuple[Path, int]], n: int, image_folder: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Copy the images round-robin into ``image_folder/<class>/`` until there are ``n``, and return
    the same ``n`` images as uint8 crops (N, 1, size, size) with their labels."""
    from PIL import Image

    from vcfnet.preprocess import crop_roi

    crops = {}
    for path, _ in items:
        with Image.open(path) as im:
            crops[path] = crop_roi(np.asarray(im.convert("L"), dtype=np.float32) / 255.0, size=size)
    out, labels = [], []
    for i in range(n):
        path, label = items[i % len(items)]
        dest = image_folder / path.parent.name / f"{i:05d}{path.suffix.lower()}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        out.append(crops[path])
        labels.append(label)
    return np.stack(out)[:, None], np.array(labels, dtype=np.int64)


def check_seed_script(seed_script: Path) -> None:
    """One line naming the missing seed baseline (before any work is done)."""
    if not seed_script.is_file():
        raise VcfnetError(f"seed baseline {seed_script} does not exist: pass --seed-script FILE "
                          f"(the study's loop, shared/bench/seed_pipeline.py) or --skip-seed")


def run_seed(seed_script: Path, image_folder: Path, *, epochs: int, device: str) -> dict[str, Any]:
    """Run the seed loop as its own process; return its JSON result line."""
    check_seed_script(seed_script)
    cmd = [sys.executable, str(seed_script), str(image_folder), "--epochs", str(epochs), "--device", device]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"seed pipeline failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_project(crops: np.ndarray, labels: np.ndarray, *, epochs: int, device: str, amp: str = "auto",
                batch_size: int = 128, input_size: int = 224) -> dict[str, Any]:
    """The project's training loop on in-memory crops (ResNet-18 from scratch, as the seed loop)."""
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.distributed import DistInfo
    from vcfnet.model.engine import resolve_amp, resolve_device, train_one_epoch
    from vcfnet.model.train import epoch_order, make_criterion, make_optimizer, setup_model

    config = TrainConfig(weights=None, batch_size=batch_size, input_size=input_size, amp=amp, device=device)
    dev = resolve_device(device)
    amp_dtype = resolve_amp(amp, dev)
    model, _ = setup_model(config, dev, DistInfo())
    optimizer = make_optimizer(model.parameters(), config)
    criterion = make_criterion(config, labels, dev)
    where = dev if dev.type == "cuda" else torch.device("cpu")
    x, y = torch.from_numpy(crops).to(where), torch.from_numpy(labels).to(where)
    seconds = []
    for epoch in range(epochs):
        out = train_one_epoch(model, criterion, optimizer, x, y, epoch_order(labels, config, epoch),
                              batch_size=batch_size, device=dev, amp_dtype=amp_dtype, input_size=input_size,
                              augment={"hflip": True, "vflip": True, "rotation": 15.0},
                              generator=torch.Generator().manual_seed(epoch))
        seconds.append(out["seconds"])
    later = seconds[1:] or seconds
    steady = sorted(later)[len(later) // 2]
    return {"train_img_per_s": len(labels) / steady, "train_epoch_s": seconds, "images": len(labels),
            "device": str(dev), "amp": "bf16" if amp_dtype is not None else "fp32", "model": model}


def run_inference(model: torch.nn.Module, crops: np.ndarray, *, device: str, amp: str = "auto",
                  repeats: int = 3, batch_size: int = 256, compile: bool = False,
                  backend: str = "inductor") -> dict[str, Any]:
    """Images/s of ``predict_proba`` in batches of ``batch_size`` (median of ``repeats`` passes after a
    warm-up pass, which also pays for ``torch.compile(backend=backend)`` when ``compile`` is set)."""
    from vcfnet.model.engine import predict_proba, resolve_amp, resolve_device

    dev = resolve_device(device)
    amp_dtype = resolve_amp(amp, dev)
    model.eval()
    if compile:
        model = torch.compile(model, backend=backend)  # type: ignore[assignment]  # an OptimizedModule; typed as a callable
    start = time.perf_counter()
    predict_proba(model, crops[:batch_size], batch_size=batch_size, device=dev, amp_dtype=amp_dtype)
    warmup = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_proba(model, crops, batch_size=batch_size, device=dev, amp_dtype=amp_dtype)
        times.append(time.perf_counter() - start)
    return {"img_per_s": len(crops) / sorted(times)[len(times) // 2], "amp": "bf16" if amp_dtype else "fp32",
            "compile": compile, "warmup_s": warmup, "batch_size": batch_size, "images": len(crops)}


def run_model_alone(n: int, *, device: str, amp: str = "auto", batch_size: int = 128, input_size: int = 224,
                    steps: int = 10) -> dict[str, Any]:
    """Images/s of forward + backward + Adam step alone, on one batch of unit-range crops already on the device:
    no augmentation, no indexing, no host work - the bound an end-to-end loop is measured against."""
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.distributed import DistInfo
    from vcfnet.model.engine import autocast, resolve_amp, resolve_device
    from vcfnet.model.train import make_optimizer, setup_model

    config = TrainConfig(weights=None, batch_size=batch_size, input_size=input_size, amp=amp, device=device)
    dev = resolve_device(device)
    amp_dtype = resolve_amp(amp, dev)
    model, _ = setup_model(config, dev, DistInfo())
    optimizer = make_optimizer(model.parameters(), config)
    x = torch.rand(batch_size, 1, input_size, input_size, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 3, (batch_size,), device=dev)
    criterion = torch.nn.CrossEntropyLoss()

    def step() -> None:
        with autocast(dev, amp_dtype):
            loss = criterion(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()
    _sync(dev)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(dev)
    seconds = time.perf_counter() - start
    return {"img_per_s": steps * batch_size / seconds, "amp": "bf16" if amp_dtype else "fp32",
            "batch_size": batch_size, "steps": steps, "images": n}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "load_avg": os.getloadavg()}
