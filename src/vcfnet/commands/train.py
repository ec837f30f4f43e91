"""``vcfnet train``: fine-tune the network on a study's train split, select on its val split.

Runs alone, or under ``torchrun --nproc_per_node N -m vcfnet.cli train ...`` for DDP.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)


def train_command(
    study: Path = typer.Argument(..., help="Study directory made by `vcfnet ingest`."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: best/, last/, state/, log.csv, config.yaml."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML of training options; flags override it."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (study: 25)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Global batch size (study: 128)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (study: 2e-4)."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help="Weight decay (study: 5e-4)."),
    optimizer: Optional[str] = typer.Option(None, help="adam (study), adamw or sgd."),
    arch: Optional[str] = typer.Option(None, help="Backbone: resnet18 (study), resnet34, resnet50, "
                                       "densenet121, efficientnet_b0."),
    weights: Optional[str] = typer.Option(None, help="imagenet (study), none, or a torchvision state dict path."),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="Model input side in pixels (study: 224)."),
    class_balance: Optional[str] = typer.Option(None, "--class-balance",
                                                help="none (study), weighted_loss or sampler."),
    amp: Optional[str] = typer.Option(None, help="auto (bf16 where the hardware does it), bf16 or fp32."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda or cuda:N."),
    seed: Optional[int] = typer.Option(None, help="Random seed (default 0)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch."),
    select: Optional[str] = typer.Option(None, help="Model selection for best/: val_loss (default) or val_acc."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run in --out from its state/."),
) -> None:
    """Train (the study's protocol by default) and write checkpoints best/ and last/."""
    from rich.console import Console

    from vcfnet.model.config import TrainConfig, load_config
    from vcfnet.model.train import fit

    base = load_config(config) if config else TrainConfig()
    resolved = base.replace(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                            optimizer=optimizer, arch=arch, weights=weights, input_size=input_size,
                            class_balance=class_balance, amp=amp, device=device, seed=seed,
                            num_threads=threads, select=select, resume=resume or None)
    best = fit(study, out, resolved, progress=True)
    if os.environ.get("RANK", "0") == "0":   # under torchrun, one process reports
        Console(stderr=True).print(f"best checkpoint: {best}\nlast epoch: {out / 'last'}\n"
                                   f"log: {out / 'log.csv'}")
