"""torch.compile against eager, training and batch inference, interleaved in one process.

    .venv/bin/python benchmarks/compile_cpu.py [--images 64] [--size 224] [--rounds 3] [--device cpu]

Two copies of the same ResNet-18 (one wrapped in ``torch.compile``, inductor) take turns: one epoch of
``train_one_epoch`` each, then one ``predict_proba`` pass each, ``--rounds`` times after a warm-up
round that pays for compilation. On a shared machine the load moves during the run, so the figure to
read is the per-round ratio (compiled / eager, same minute), not the absolute rates.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch


def _pair(config, dev):
    from vcfnet.model.distributed import DistInfo
    from vcfnet.model.train import make_optimizer, setup_model

    out = {}
    for compiled in (False, True):
        torch.manual_seed(0)
        model, raw = setup_model(config.replace(compile=compiled), dev, DistInfo())
        out[compiled] = (model, make_optimizer(raw.parameters(), config))
    return out


def main() -> None:
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.engine import predict_proba, resolve_amp, resolve_device, train_one_epoch
    from vcfnet.model.train import epoch_order, make_criterion

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    config = TrainConfig(weights=None, batch_size=args.batch, input_size=args.size, device=args.device)
    dev = resolve_device(args.device)
    amp = resolve_amp(config.amp, dev)
    rng = np.random.default_rng(0)
    labels = np.arange(args.images) % 3
    crops = rng.integers(0, 256, (args.images, 1, args.size, args.size), dtype=np.uint8)
    x, y = torch.from_numpy(crops), torch.from_numpy(labels)
    criterion = make_criterion(config, labels, dev)
    models = _pair(config, dev)
    figures: dict[str, list[float]] = {k: [] for k in ("train_eager", "train_compiled", "infer_eager",
                                                       "infer_compiled")}
    load = [os.getloadavg()[0]]
    for rnd in range(args.rounds + 1):       # round 0: warm-up (compilation), not counted
        for compiled, (model, optimizer) in models.items():
            name = "compiled" if compiled else "eager"
            start = time.perf_counter()
            train_one_epoch(model, criterion, optimizer, x, y, epoch_order(labels, config, rnd),
                            batch_size=args.batch, device=dev, amp_dtype=amp, input_size=args.size,
                            augment={"hflip": True, "vflip": True, "rotation": 15.0},
                            generator=torch.Generator().manual_seed(rnd))
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            predict_proba(model, crops, batch_size=args.batch, device=dev, amp_dtype=amp)
            infer_s = time.perf_counter() - start
            if rnd == 0:
                print(f"warm-up {name}: train {train_s:.1f} s, inference {infer_s:.1f} s", flush=True)
                continue
            figures[f"train_{name}"].append(args.images / train_s)
            figures[f"infer_{name}"].append(args.images / infer_s)
        load.append(os.getloadavg()[0])
        if rnd:
            print(f"round {rnd}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in figures.items()) + " img/s",
                  flush=True)
    ratios = {kind: [c / e for c, e in zip(figures[f"{kind}_compiled"], figures[f"{kind}_eager"])]
              for kind in ("train", "infer")}
    summary = {"args": vars(args), "amp": "bf16" if amp else "fp32", "threads": torch.get_num_threads(),
               "torch": torch.__version__, "load_avg_1min": load,
               "median_img_per_s": {k: statistics.median(v) for k, v in figures.items()},
               "ratio_compiled_over_eager": {k: [round(r, 3) for r in v] for k, v in ratios.items()}}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
