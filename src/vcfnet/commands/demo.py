"""``vcfnet demo``: the whole study on synthetic data, end to end (the work is :mod:`vcfnet.demo`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vcfnet.demo import SCALES, DemoConfig, parse_scale, run_demo, write_summary


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Path = typer.Option(Path("vcfnet-demo"), "--out", "-o", help="Output folder (reused on re-runs)."),
    scale: str = typer.Option("small", "--scale", help=f"Study size: {', '.join(SCALES)} or a fraction "
                              "of the original study's counts (e.g. 0.1)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Training epochs (default 30)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic study, the splits and training."),
    weights: str = typer.Option("auto", "--weights", help="auto (imagenet if cached locally, else none), "
                                "imagenet, none, or a torchvision state dict path."),
    input_size: Optional[int] = typer.Option(None, "--input-size", min=32,
                                             help="Crop and network input side in pixels (default 96)."),
    fmt: str = typer.Option("dicom", "--format", help="Synthetic radiographs as dicom or png."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads for training."),
) -> None:
    """Run the whole study on a synthetic multi-site dataset: synth, ingest, train, predict, evaluate, report."""
    cfg = DemoConfig(out=out, scale=parse_scale(scale), seed=seed, weights=weights, fmt=fmt.lower(),
                     threads=threads)
    if epochs is not None:
        cfg.epochs = epochs
    if input_size is not None:
        cfg.crop_size = input_size
    result = run_demo(cfg, echo=typer.echo)
    _print_summary(cfg, result)
    write_summary(cfg, result)


def _print_summary(cfg: DemoConfig, result: dict[str, Any]) -> None:
    acc, n = result["accuracy"], result["n"]
    typer.echo("")
    typer.echo(f"synthetic study   {result['synthetic']}")
    typer.echo(f"study (cache)     {result['study']}")
    typer.echo(f"checkpoint        {result['checkpoint']}")
    typer.echo(f"predictions       {result['predictions']}")
    if result["report"] is not None:
        typer.echo(f"report            {result['report']}  (metrics: {cfg.out / 'eval'})")
    for split in ("test", "external", "prospective", "val", "train"):
        if split in acc:
            typer.echo(f"accuracy {split:<12} {acc[split]:.3f}  (n = {n[split]})")
    typer.echo(f"test-cohort accuracy {acc.get('test', float('nan')):.3f} "
               f"(chance: 1/3; majority class: see report) in {cfg.timings['total']:.0f} s total")
