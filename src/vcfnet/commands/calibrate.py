"""``vcfnet calibrate``: fit a temperature on the study's validation split, store it in the model card.

    vcfnet calibrate RUN/best --study STUDY

Wiring only; the work is ``vcfnet.model.calibrate.calibrate_checkpoint``.
"""
from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def calibrate(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by `vcfnet train` (e.g. RUN/best)."),
    study: Path = typer.Option(..., "--study", help="The study it was trained on; only its val split is read."),
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
) -> None:
    """Temperature scaling on the validation split only; rewrites CHECKPOINT/model.json (weights untouched)."""
    from vcfnet.model.calibrate import calibrate_checkpoint
    from vcfnet.model.engine import resolve_device

    temperature = calibrate_checkpoint(checkpoint, study, device=str(resolve_device(device)))
    typer.echo(f"temperature T = {temperature:.4g} (validation split) -> {checkpoint}/model.json")
