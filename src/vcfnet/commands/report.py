"""``vcfnet report``: one self-contained HTML page from an evaluation folder.

    vcfnet report eval --study STUDY --checkpoint RUN/best --out report.html

The page embeds its figures and CSS and opens offline; see ``vcfnet.report.html``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    eval_dir: Path = typer.Argument(..., help="Folder written by `vcfnet evaluate`."),
    study: Optional[Path] = typer.Option(None, "--study", help="Study directory (Table 1; synthetic or not)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Checkpoint folder: its model card "
                                              "goes into the report."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file (default EVAL_DIR/report.html)."),
) -> None:
    """Write the study report (Table 1, Table 2, comparisons, figures, calibration, model card)."""
    from vcfnet.report.html import write_report

    path = write_report(eval_dir, out, study_dir=study, checkpoint=checkpoint)
    typer.echo(f"report -> {path}")
