"""``vcfnet study``: look at and re-split a study directory."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

study_app = typer.Typer(help="Inspect a study directory: Table 1, splits.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(study_app, name="study")


@study_app.command("summary")
def summary_command(
    study: Path = typer.Argument(..., help="Study directory made by `vcfnet ingest`."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write Table 1 as CSV here "
                                       "(default: STUDY/table1.csv)."),
) -> None:
    """Table 1 per cohort: patients, vertebrae per class, age, sex, sites."""
    from rich.console import Console
    from rich.table import Table

    from vcfnet.fileio import atomic_open
    from vcfnet.study.dataset import load_table
    from vcfnet.study.summary import SUMMARY_HEADERS, format_summary, study_summary

    summary = study_summary(load_table(study))
    table = Table(title=f"Table 1 — {study}", header_style="bold", title_justify="left")
    for h in SUMMARY_HEADERS:
        table.add_column(h, justify="left" if h in ("Cohort", "Sites") else "right")
    for cells in format_summary(summary):
        table.add_row(*cells)
    console = Console()
    if not console.is_terminal:  # a pipe or file: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
    out = csv or Path(study) / "table1.csv"
    with atomic_open(out, "w", encoding="utf-8", newline="") as fh:
        summary.to_csv(fh, index=False, float_format="%.2f")
    Console(stderr=True).print(f"Table 1 written to {out}")


@study_app.command("split")
def split_command(
    study: Path = typer.Argument(..., help="Study directory made by `vcfnet ingest`."),
    seed: int = typer.Option(0, help="Seed for every random choice of the split."),
    test_fraction: float = typer.Option(0.2, help="Share of development patients held out for testing."),
    val_fraction: float = typer.Option(0.1, help="Share of the remaining development patients for validation "
                                       "(model selection)."),
    collaboration_fraction: float = typer.Option(0.3, help="Share of each external site's patients in the "
                                                 "collaboration (reader study) set."),
) -> None:
    """Re-split the study by patient (stratified by class) with new settings."""
    from rich.console import Console

    from vcfnet.study.splits import SplitConfig, write_splits

    checks = write_splits(study, SplitConfig(seed, test_fraction, val_fraction, collaboration_fraction))
    console = Console()
    for name, c in checks["counts"].items():
        console.print(f"{name:>14}: {c['patients']:5d} patients, {c['vertebrae']:5d} vertebrae")
    console.print(f"patients on two sides of a split: {sum(checks['patient_overlap'].values())}")


@study_app.command("trace")
def trace_command(
    study: Path = typer.Argument(..., help="Study directory made by `vcfnet ingest`."),
    source: Path = typer.Argument(..., help="A source folder that was ingested into it."),
) -> None:
    """Print which file of SOURCE each pseudonym of the study stands for (on this terminal only)."""
    from vcfnet.errors import VcfnetError
    from vcfnet.study.trace import trace_source

    source_id, found = trace_source(study, source)
    if not found:
        raise VcfnetError(f"{source}: none of its files is in {study} (was it ingested from this path?)")
    typer.echo(f"# {source_id} = {Path(source).resolve()}")
    for pseudonym, rel in found:
        typer.echo(f"{pseudonym}  {rel}")
