"""``vcfnet calibrate``: fit, on the study's validation split, a temperature, the referral threshold and
(``--clinical``) the image+clinical model, and store them in the model card.

    vcfnet calibrate RUN/best --study STUDY
    vcfnet calibrate RUN/best --study STUDY --clinical --clinical-columns age,sex --refer-fraction 0.1

Wiring only; the work is ``vcfnet.model.calibrate.calibrate_checkpoint``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def calibrate(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by `vcfnet train` (e.g. RUN/best)."),
    study: Path = typer.Option(..., "--study", help="The study it was trained on; only its val split is read."),
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    clinical: bool = typer.Option(False, "--clinical/--no-clinical", help="Also fit the image+clinical model "
                                  "(logistic stacker on the image model and the clinical columns, val split only)."),
    clinical_columns: str = typer.Option("age,sex", help="Study-table columns it reads, comma-separated."),
    refer_fraction: float = typer.Option(0.1, help="Referral rule: refer this share of the least certain "
                                         "validation vertebrae."),
    target_accuracy: Optional[float] = typer.Option(None, help="Referral rule instead: keep the accuracy of "
                                                    "answered validation vertebrae >= this."),
) -> None:
    """Temperature, referral threshold (and image+clinical model) on the validation split only; rewrites
    CHECKPOINT/model.json (weights untouched)."""
    from vcfnet.model.calibrate import calibrate_checkpoint, referral_rule
    from vcfnet.model.clinical import parse_columns
    from vcfnet.model.config import TrainConfig
    from vcfnet.model.engine import resolve_device

    options = TrainConfig().replace(refer_fraction=refer_fraction, target_accuracy=target_accuracy)
    fitted = calibrate_checkpoint(checkpoint, study, device=str(resolve_device(device)),
                                  clinical=parse_columns(clinical_columns) if clinical else None,
                                  referral=referral_rule(options))
    typer.echo(f"temperature T = {fitted['temperature']:.4g} (validation split) -> {checkpoint}/model.json")
    for name, rule in fitted["referral"].items():
        typer.echo(f"referral ({name} model): refer when confidence < {rule['threshold']:.3f}; on validation "
                   f"{rule['refer_rate']:.1%} referred, answered accuracy {rule['answered_accuracy']:.3f}")
    if fitted["clinical"]:
        cv = fitted["clinical"]["cv"]
        typer.echo(f"image+clinical stacker ({', '.join(fitted['clinical']['encoding']['columns'][i]['name'] for i in range(len(fitted['clinical']['encoding']['columns'])))}): "
                   f"out-of-fold NLL {cv['oof_nll']:.4f} vs image model {cv['image_nll']:.4f} on validation")
