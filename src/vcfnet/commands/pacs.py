"""``vcfnet pacs``: DICOM results for radiographs in a PACS (DICOMweb) or on disk. Wiring only.

    vcfnet pacs analyze RUN/best --pacs http://127.0.0.1:8042/dicom-web --boxes boxes/ --study 1.2.3...
    vcfnet pacs analyze RUN/best --pacs URL --boxes boxes/ --query ModalitiesInStudy=DX --out run1/
    vcfnet pacs write RUN/best film.dcm --boxes-xml film.xml --out results/
    vcfnet pacs export results/ source.dcm --out research/ --key study.key

The library: ``vcfnet.dicom`` (results, dicomweb, batch, export).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from vcfnet.errors import VcfnetError

pacs_app = typer.Typer(help="DICOM results (SR, presentation state, secondary capture) into a PACS or a folder.",
                       no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


def register(app: typer.Typer) -> None:
    app.add_typer(pacs_app, name="pacs")


def _query(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise VcfnetError(f"--query '{item}': expected KEYWORD=VALUE (e.g. ModalitiesInStudy=DX)")
        out[key.strip()] = value.strip()
    return out


@pacs_app.command("analyze")
def analyze(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by `vcfnet train` (e.g. RUN/best)."),
    pacs: str = typer.Option(..., "--pacs", help="DICOMweb root of the PACS, e.g. http://host:8042/dicom-web."),
    boxes: Path = typer.Option(..., "--boxes", help="Folder of LabelImg XML files, one per image, named "
                                                   "<SOPInstanceUID>.xml (or whose <filename> is the UID)."),
    study: Optional[list[str]] = typer.Option(None, "--study", help="StudyInstanceUID (repeat for several)."),
    query: Optional[list[str]] = typer.Option(None, "--query", help="QIDO filter KEYWORD=VALUE (repeat); "
                                                                   "the studies it finds are analysed."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many studies from --query."),
    out: Path = typer.Option(Path("pacs-run"), "--out", "-o", help="Folder of the resumable manifest.json "
                                                                  "(and results/ with --no-store)."),
    store: bool = typer.Option(True, "--store/--no-store", help="Store results into the PACS (STOW-RS), "
                                                                 "or only write them to OUT/results/."),
    gradcam: bool = typer.Option(False, "--gradcam", help="Burn Grad-CAM heatmaps into the secondary capture."),
    user: Optional[str] = typer.Option(None, "--user", help="HTTP basic user name (password from "
                                                           "VCFNET_PACS_PASSWORD)."),
    device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:1 ..."),
) -> None:
    """Analyse the radiographs of PACS studies and store SR + overlays back into each study (resumable)."""
    from vcfnet.dicom.batch import analyze_studies, study_list
    from vcfnet.dicom.boxes import BoxIndex
    from vcfnet.dicom.dicomweb import Pacs
    from vcfnet.predict import Predictor

    index = BoxIndex(boxes)
    server = Pacs(pacs, username=user, password=os.environ.get("VCFNET_PACS_PASSWORD"))
    studies = study_list(server, list(study or []), _query(list(query or [])), limit)
    manifest = analyze_studies(server, Predictor(checkpoint, device=device), studies, index, out,
                               store=store, gradcam=gradcam)
    counts = manifest.counts()
    typer.echo(f"{len(studies)} studies: {counts.get('done', 0)} images done, {counts.get('no-boxes', 0)} "
               f"without boxes, {counts.get('failed', 0)} failed -> {manifest.path}")


@pacs_app.command("write")
def write(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by `vcfnet train` (e.g. RUN/best)."),
    image: Path = typer.Argument(..., help="A DICOM radiograph."),
    boxes_xml: Path = typer.Option(..., "--boxes-xml", help="Its LabelImg (Pascal VOC) XML."),
    out: Path = typer.Option(Path("dicom-results"), "--out", "-o", help="Folder for the three .dcm files."),
    gradcam: bool = typer.Option(False, "--gradcam", help="Burn Grad-CAM heatmaps into the secondary capture."),
) -> None:
    """Write the SR, presentation state and secondary capture of one DICOM radiograph to a folder."""
    from vcfnet.dicom.results import analyze_file, write_results
    from vcfnet.io import read_voc
    from vcfnet.predict import Predictor

    voc = read_voc(boxes_xml)
    results = analyze_file(Predictor(checkpoint), image, [(b.x0, b.y0, b.x1, b.y1) for b in voc.boxes],
                           [b.level or None for b in voc.boxes], gradcam=gradcam)
    for path in write_results(results, out):
        typer.echo(f"{path.name.split('-')[0]:>4} -> {path}")


@pacs_app.command("export")
def export(
    files: list[Path] = typer.Argument(..., help="DICOM files or folders of them (results and their sources)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the de-identified copies."),
    key: Path = typer.Option(..., "--key", help="Study key file (created if missing, mode 0600): UIDs and "
                                               "patient pseudonyms are keyed with it."),
) -> None:
    """De-identified research copies (DICOM PS3.15 Basic Profile, keyed UIDs and patient pseudonyms)."""
    from vcfnet.dicom.export import export_files
    from vcfnet.io import load_or_create_key

    paths = [p for f in files for p in (sorted(f.rglob("*.dcm")) if f.is_dir() else [f])]
    if not paths:
        raise VcfnetError("no DICOM file given (folders are searched for *.dcm)")
    written = export_files(paths, out, load_or_create_key(key))
    typer.echo(f"{len(written)} de-identified file(s) -> {out}")
