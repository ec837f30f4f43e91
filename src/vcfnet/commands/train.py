"""``vcfnet train``: fine-tune the network on a study's train split, select on its val split.

Runs alone, or under ``torchrun --nproc_per_node N -m vcfnet.cli train ...`` for DDP. Every field of
:class:`vcfnet.model.config.TrainConfig` is a flag (``--field-name``, booleans as ``--x/--no-x``), made
from the config's own declaration, so a new field is a new flag; flags override ``--config`` YAML.
"""
from __future__ import annotations

import inspect
import os
import typing
from pathlib import Path
from typing import Any, Literal, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)


def _train(study: Path, out: Path, config: Optional[Path], **options: Any) -> None:
    """Train (the study's protocol by default) and write checkpoints best/ and last/."""
    from rich.console import Console

    from vcfnet.model.config import TrainConfig, load_config
    from vcfnet.model.train import fit

    base = load_config(config) if config else TrainConfig()
    resolved = base.replace(**options)
    best = fit(study, out, resolved, progress=True)
    if os.environ.get("RANK", "0") == "0":   # under torchrun, one process reports
        Console(stderr=True).print(f"best checkpoint: {best}\nlast epoch: {out / 'last'}\n"
                                   f"log: {out / 'log.csv'}")


def _option_type(annotation: Any) -> type:
    """The click-facing type of a config field: Literal and str become str, X | None becomes X."""
    if typing.get_origin(annotation) is Literal:
        return str
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def config_parameters() -> list[inspect.Parameter]:
    """One keyword parameter (a typer option defaulting to "not given") per TrainConfig field."""
    from vcfnet.model.config import TrainConfig, choices, flag

    params = []
    for name, field in TrainConfig.model_fields.items():
        kind = _option_type(field.annotation)
        allowed = choices(name)
        text = (field.description or name) + (f" One of: {', '.join(allowed)}." if allowed else "")
        decls = [f"{flag(name)}/--no-{flag(name)[2:]}"] if kind is bool else [flag(name)]
        if name in ("num_threads",):
            decls.append("--num-threads")
        option = typer.Option(None, *decls, help=f"{text} (YAML: {name}, default {field.default})",
                              show_default=False)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=Optional[kind]))
    return params


def _fixed_parameters() -> list[inspect.Parameter]:
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return [
        inspect.Parameter("study", positional, annotation=Path,
                          default=typer.Argument(..., help="Study directory made by `vcfnet ingest`.")),
        inspect.Parameter("out", positional, annotation=Path, default=typer.Option(
            ..., "--out", "-o", help="Run folder: best/, last/, state/, log.csv, config.yaml.")),
        inspect.Parameter("config", positional, annotation=Optional[Path], default=typer.Option(
            None, "--config", help="YAML of training options (the keys named below); flags override it.")),
    ]


def _make_command():
    def train_command(study: Path, out: Path, config: Optional[Path] = None, **options: Any) -> None:
        _train(study, out, config, **options)

    params = _fixed_parameters() + config_parameters()
    train_command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    train_command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    train_command.__doc__ = _train.__doc__
    return train_command


train_command = _make_command()
