"""``vcfnet readers analyze`` and ``vcfnet readers plan``: the reader study's statistics.

    vcfnet readers analyze --reads reads.csv --study STUDY --predictions predictions.csv --out eval/readers
    vcfnet readers plan --from eval/readers/readers.json --power 0.8 --effect 0.05

``analyze`` writes readers.json, table3.csv, reads.csv and Figure 6 (see ``vcfnet.report.readers``);
``vcfnet report eval`` then adds the reader-study section. The work is in the library.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vcfnet.errors import VcfnetError


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and ``plan`` to the ``vcfnet readers`` sub-app."""
    app.command("analyze")(analyze)
    app.command("plan")(plan)


def analyze(
    reads: Path = typer.Option(..., "--reads", help="Reads table (.csv): `vcfnet readers export` or reads made elsewhere."),
    study: Path = typer.Option(..., "--study", help="Study directory: the truth and the patients of the cases."),
    predictions: Path = typer.Option(..., "--predictions", help="Predictions table (.csv) of `vcfnet predict`: "
                                     "the model on the same cases."),
    out: Path = typer.Option(Path("eval/readers"), "--out", "-o", help="Output folder (put it in the evaluation "
                             "folder as readers/ and `vcfnet report` shows the reader study)."),
    covariance: str = typer.Option("jackknife", "--covariance", help="Obuchowski-Rockette covariances: "
                                   "jackknife or delong (both by patient)."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of every interval."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw Figure 6 (PNG/SVG)."),
) -> None:
    """Per reader and tier, unaided and aided, and the model: AUC, accuracy, sensitivity, specificity; MRMC."""
    if not 0 < alpha < 0.5:
        raise VcfnetError(f"--alpha {alpha}: expected a number between 0 and 0.5 (0.05 gives 95% intervals)")
    from vcfnet.report.readers import run_reader_analysis, summary_lines

    result, folder = run_reader_analysis(reads, study, predictions, out, alpha=alpha, covariance=covariance.lower(),
                                         figures=figures)
    for line in summary_lines(result):
        typer.echo(line)
    typer.echo(f"-> {folder}/readers.json, table3.csv, reads.csv{', figures/' if figures else ''}")


def plan(
    source: Path = typer.Option(..., "--from", help="A finished analysis (readers.json of `vcfnet readers analyze`, "
                                "or its folder), or a pilot reads table (.csv, with --study and --predictions)."),
    effect: float = typer.Option(0.05, "--effect", help="Difference in mean AUC or accuracy to detect."),
    power: float = typer.Option(0.8, "--power", help="Target power."),
    readers: str = typer.Option("3-15", "--readers", help="Reader counts: a range (3-15) or a list (4,6,8)."),
    fom: list[str] = typer.Option([], "--fom", help="acute, chronic, pathological, accuracy (default: all)."),
    study: Optional[Path] = typer.Option(None, "--study", help="With a pilot reads table: the study directory."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="With a pilot reads table: predictions."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSON file (default: plan.json beside the analysis)."),
) -> None:
    """Readers x cases needed for a target power and effect (Hillis-Obuchowski-Berbaum), from a pilot."""
    from vcfnet.fileio import write_json
    from vcfnet.readers.planning import load_pilot, parse_readers, plan_lines, plan_sample_size

    analysis, default_out = load_pilot(source, study=study, predictions=predictions)
    result = plan_sample_size(analysis, effect=effect, target_power=power, n_readers=parse_readers(readers),
                              foms=fom or None, alpha=alpha)
    for line in plan_lines(result):
        typer.echo(line)
    path = out or default_out
    write_json(path, result)
    typer.echo(f"-> {path}")
