"""Two image+clinical designs on the demo's synthetic study, measured in one run (docs/CLINICAL.md):

- **stacker** (the default of ``vcfnet train --clinical``): the demo's image network, then a multinomial
  logistic stacker on its calibrated log probabilities + age/sex fitted on the val split only; read from
  the demo's ``predictions.csv`` (``p_*``; ``image_p_*`` is the image model alone);
- **late fusion**: the same network with ``vcfnet.model.fusion.LateFusion`` (age/sex features added into
  the head), trained end to end here with the demo's TrainConfig (seed, epochs, optimiser, schedule,
  augmentation), best validation-loss epoch, through the engine's ``train_one_epoch``/``predict_logits``.

    python benchmarks/clinical_designs.py vcfnet-demo            # after `vcfnet demo`

Prints one row per design and cohort (per-class AUC, accuracy, training seconds) and writes
OUT/clinical-designs.json.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vcfnet.labels import CLASSES
from vcfnet.model.clinical import encode, fit_encoding
from vcfnet.model.engine import predict_logits, train_one_epoch
from vcfnet.model.fusion import LateFusion
from vcfnet.model.network import build_model
from vcfnet.model.train import epoch_order, lr_at, make_criterion, make_optimizer
from vcfnet.stats import roc_auc
from vcfnet.study.dataset import load_cropset

COHORTS = {"test": "internal test", "external": "external (pooled)", "prospective": "prospective"}


def train_late_fusion(study: Path, config) -> tuple[LateFusion, float, dict]:
    train, val = load_cropset(study, split="train"), load_cropset(study, split="val")
    encoding = fit_encoding(pd.concat([train.table, val.table]), ["age", "sex"])
    z_train = torch.tensor(encode(encoding, train.table)[0], dtype=torch.float32)
    z_val = encode(encoding, val.table)[0]
    torch.manual_seed(config.seed)
    image = build_model(config.arch, weights=config.weights)
    image.input_size = config.input_size
    model = LateFusion(image, z_train.shape[1])
    optimizer, criterion = make_optimizer(model.parameters(), config), make_criterion(config, train.labels, torch.device("cpu"))
    crops, labels = torch.from_numpy(np.ascontiguousarray(train.crops)), torch.tensor(train.labels)
    best, best_state, start = float("inf"), None, time.perf_counter()
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(config, epoch)
        aug = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch + 7919)
        train_one_epoch(model, criterion, optimizer, crops, labels, epoch_order(train.labels, config, epoch),
                        batch_size=config.batch_size, device=torch.device("cpu"), input_size=config.input_size,
                        generator=aug, channels_last=False, extra=z_train,
                        augment={"hflip": config.hflip, "vflip": config.vflip, "rotation": config.rotation})
        logits = torch.from_numpy(predict_logits(model, val.crops, extra=z_val)).double()
        loss = float(torch.nn.functional.cross_entropy(logits, torch.tensor(val.labels)))
        if loss < best:
            best, best_state = loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model.eval(), time.perf_counter() - start, encoding


def figures(y: np.ndarray, p: np.ndarray) -> dict:
    out = {"n": int(len(y)), "accuracy": float((p.argmax(1) == y).mean())}
    for k, cls in enumerate(CLASSES):
        out[f"auc_{cls}"] = roc_auc((y == k).astype(int), p[:, k]) if 0 < (y == k).sum() < len(y) else None
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path)
    args = ap.parse_args(argv)
    from vcfnet.demo import DemoConfig, train_config

    summary = json.loads((args.demo / "demo.json").read_text())
    study = Path(summary["study"])
    config = train_config(DemoConfig(out=args.demo))
    torch.set_num_threads(2)
    preds = pd.read_csv(args.demo / "predictions.csv", dtype={"roi_id": str})
    model, seconds, encoding = train_late_fusion(study, config)
    every = load_cropset(study)
    logits = predict_logits(model, every.crops, extra=encode(encoding, every.table)[0]).astype(np.float64)
    fusion = np.exp(logits - logits.max(1, keepdims=True))
    fusion /= fusion.sum(1, keepdims=True)
    fused = pd.DataFrame(fusion, columns=[f"f_{c}" for c in CLASSES]).assign(roi_id=every.table["roi_id"].to_numpy())
    table = preds.merge(fused, on="roi_id")
    train_s = summary["timings_s"].get("train")
    rows = []
    for split, name in COHORTS.items():
        part = table[table["split"] == split]
        y = part["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
        for design, cols, secs in (("image only", "image_p_", train_s), ("stacker (image + age/sex)", "p_", train_s),
                                   ("late fusion (image + age/sex)", "f_", seconds)):
            rows.append({"cohort": name, "design": design, "train_s": secs,
                         **figures(y, part[[f"{cols}{c}" for c in CLASSES]].to_numpy(dtype=float))})
    out = {"machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}", "rows": rows,
           "late_fusion_train_s": seconds, "epochs": config.epochs}
    (args.demo / "clinical-designs.json").write_text(json.dumps(out, indent=2))
    print("| cohort | design | n | AUC acute | AUC chronic | AUC pathological | accuracy | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        aucs = " | ".join("n/a" if r[f"auc_{c}"] is None else f"{r[f'auc_{c}']:.3f}" for c in CLASSES)
        print(f"| {r['cohort']} | {r['design']} | {r['n']} | {aucs} | {r['accuracy']:.3f} | {r['train_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
