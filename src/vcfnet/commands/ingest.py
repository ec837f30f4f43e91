"""``vcfnet ingest``: add a source of radiographs or crops to a study directory."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)


def ingest_command(
    source: Path = typer.Argument(..., help="Folder of radiographs with LabelImg XML/YOLO boxes, or of crops "
                                  "in the authors' Acute/Chronic/Pathologic layout. With --manifest: the "
                                  "manifest.json of `vcfnet synth` (ingests every source it lists)."),
    study: Path = typer.Option(..., "--study", "-s", help="Study directory (created if missing)."),
    site: Optional[str] = typer.Option(None, help="Site (hospital) name, e.g. site1. Required unless --manifest."),
    cohort: Optional[str] = typer.Option(None, help="development, external or prospective. Required unless --manifest."),
    kind: str = typer.Option("auto", help="Source kind: auto, voc, yolo or crops."),
    size: int = typer.Option(224, help="Crop side in pixels."),
    margin: float = typer.Option(0.0, help="Context margin around each box, as a fraction of its size."),
    workers: Optional[int] = typer.Option(None, help="Decoding processes (default: all cores)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable files (listed in STUDY/skipped.csv) "
                                  "instead of stopping at the first."),
    synonyms: Optional[Path] = typer.Option(None, help="YAML mapping of class names to acute/chronic/pathological, "
                                            "added to the built-in table."),
    prospective_after: Optional[str] = typer.Option(None, help="Development images dated on or after this "
                                                    "date (YYYY-MM-DD) go to the prospective cohort."),
    manifest: bool = typer.Option(False, "--manifest", help="SOURCE is a `vcfnet synth` manifest.json."),
) -> None:
    """Decode, crop and add one source to the study (re-ingesting an unchanged source costs nothing)."""
    from rich.console import Console

    from vcfnet.study.ingest import IngestOptions, ingest, ingest_manifest, load_synonyms

    base: dict[str, Any] = dict(kind=kind, size=size, margin=margin, workers=workers, skip_bad=skip_bad,
                synonyms=load_synonyms(synonyms), prospective_after=_check_date(prospective_after))
    console = Console(stderr=True)
    if manifest:
        reports = ingest_manifest(source, study, **base)
    else:
        if not site or not cohort:
            raise typer.BadParameter("--site and --cohort are required (or give a synth manifest with --manifest)")
        reports = [ingest(source, study, IngestOptions(site=site, cohort=cohort, **base))]
    for r in reports:
        console.print(f"[bold]{r.source_id}[/]: {r.images} images, {r.rois} vertebrae "
                      f"({r.decoded} decoded, {r.reused} unchanged), {len(r.skipped)} skipped")
    for r in reports:     # the user's own files, on the user's own terminal (the study holds pseudonyms)
        for file, reason in r.skipped:
            console.print(f"skipped {file}: {reason}", style="yellow", markup=False, highlight=False,
                          soft_wrap=True)
    if any(r.skipped for r in reports):
        console.print(f"[yellow]skipped files are listed by pseudonym in {study / 'skipped.csv'} "
                      f"(`vcfnet study trace {study} SOURCE` names them)[/]", soft_wrap=True)
    console.print(f"study: {study}  (see `vcfnet study summary {study}`)")


def _check_date(text: str | None) -> str | None:
    if text is None:
        return None
    from datetime import date
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a date (expected YYYY-MM-DD)") from None
