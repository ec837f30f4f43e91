"""``vcfnet readers analyze`` and ``vcfnet readers plan``: the reader study's statistics.

    vcfnet readers analyze --reads reads.csv --study STUDY --predictions predictions.csv --out eval/readers
    vcfnet readers plan --from eval/readers/readers.json --power 0.8 --effect 0.05

``analyze`` writes readers.json, table3.csv, reads.csv and Figure 6 (see ``vcfnet.report.readers``);
``vcfnet report eval`` then adds the reader-study section. The work is in the library.
"""
from __future__ import annotations

from pathlib import Path

import typer

from vcfnet.errors import VcfnetError


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and ``plan`` to the ``vcfnet readers`` sub-app."""
    app.command("analyze")(analyze)


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
