"""``vcfnet predict``: a checkpoint's answers for a whole study or for single radiographs.

    vcfnet predict RUN/best --study STUDY --out predictions.csv
    vcfnet predict RUN/best film.dcm --boxes-xml film.xml --gradcam heatmaps/
    vcfnet predict RUN/best a.dcm b.png --boxes-xml a.xml b.xml --out answers.json
    vcfnet predict RUN/best film.png --box 120,340,260,450 --box 118,460,255,570 --out answers.json
    vcfnet predict RUN/best film.dcm --detector DET --out bodies.csv      # no boxes: every vertebra found

Wiring only: what is predicted and written is :mod:`vcfnet.predict_outputs` (nothing is written
until every input has been read and predicted; overlays are named by position or pseudonymous ROI id).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vcfnet.errors import VcfnetError
from vcfnet.predict_outputs import boxes_for, predict_files_to, predict_study_to, xml_list_form


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


def predict(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by `vcfnet train` (e.g. RUN/best)."),
    files: Optional[list[Path]] = typer.Argument(None, help="Radiographs (DICOM, PNG, JPEG, TIFF)."),
    study: Optional[Path] = typer.Option(None, "--study", help="Predict every ROI of this study directory."),
    split: Optional[str] = typer.Option(None, "--split", help="With --study: only this split."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Output: the predictions table (.csv) with --study "
                                            "(default predictions.csv); .json or .csv for files."),
    boxes_xml: Optional[list[Path]] = typer.Option(None, "--boxes-xml",
                                                   help="LabelImg (Pascal VOC) XML with the boxes, one "
                                                        "per FILE, in the same order: --boxes-xml a.xml "
                                                        "b.xml, or the flag repeated."),
    box: Optional[list[str]] = typer.Option(None, "--box", help="x0,y0,x1,y1 in pixels (repeat for "
                                                                "several boxes; one FILE only)."),
    gradcam: Optional[Path] = typer.Option(None, "--gradcam", help="Write Grad-CAM overlays (PNG) here."),
    device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:1 ..."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Crops per forward pass."),
    age: Optional[float] = typer.Option(None, "--age", min=0, max=130, help="With FILES: the patient's age in "
                                        "years, for a checkpoint with an image+clinical model (default: each "
                                        "DICOM's PatientAge, else unknown)."),
    sex: Optional[str] = typer.Option(None, "--sex", help="With FILES: F or M (default: each DICOM's PatientSex, "
                                      "else unknown)."),
    clinical: bool = typer.Option(True, "--clinical/--no-clinical", help="With --study: answer with the "
                                  "image+clinical model from the study table's columns when the checkpoint "
                                  "has one (the image model's answer is kept beside it)."),
    detector: Optional[Path] = typer.Option(None, "--detector", help="With FILES and no boxes: a detector folder "
                                            "(`vcfnet train-detector`) that finds every vertebra, names its level "
                                            "and measures it; the bodies meeting the study's inclusion rule are "
                                            "classified (see --classify)."),
    score_threshold: float = typer.Option(0.3, "--score-threshold", min=0.0, max=1.0,
                                          help="With --detector: the lowest detection score kept."),
    classify: str = typer.Option("included", "--classify", help="With --detector: which bodies to classify: "
                                 "included (>= 20 % or >= 4 mm height loss), all, or none (measure only)."),
) -> None:
    """Predict acute / chronic / pathological for a study's ROIs, for boxes on radiographs, or for every
    vertebra a detector finds (--detector)."""
    files, boxes_xml = xml_list_form(list(files or []), list(boxes_xml or []))
    if (study is None) == (not files):
        raise VcfnetError("give either --study STUDY or one or more radiograph FILES (not both)")
    if study is not None and (boxes_xml or box or age is not None or sex is not None or detector is not None):
        raise VcfnetError("--boxes-xml, --box, --detector, --age and --sex go with FILES; a study has its own "
                          "boxes and clinical columns")
    if sex is not None and sex.strip().upper() not in ("F", "M"):
        raise VcfnetError(f"--sex '{sex}': expected F or M")
    plan = None if study is not None else boxes_for(files, boxes_xml or [], box or [], detector=detector is not None)
    from vcfnet.predict import Predictor

    found_by = None
    if detector is not None:
        from vcfnet.detect.infer import Detector

        found_by = Detector(detector, device=device, score_threshold=score_threshold)
    predictor = Predictor(checkpoint, device=device, batch_size=batch_size, detector=found_by, classify=classify)
    if study is not None:
        _predict_study(predictor, study, split, out or Path("predictions.csv"), gradcam, clinical)
    else:
        given = {k: v for k, v in (("age", age), ("sex", sex.strip().upper() if sex else None)) if v is not None}
        _predict_files(predictor, files, plan, out, gradcam, given)


def _predict_study(predictor, study: Path, split: str | None, out: Path, gradcam: Path | None,
                   clinical: bool) -> None:
    table, n_images = predict_study_to(predictor, study, split, out, gradcam, clinical=clinical)
    accuracy = float((table["predicted"] == table["label"]).mean()) if len(table) else float("nan")
    referred = int(table["refer"].sum())
    typer.echo(f"{len(table)} ROIs predicted by the {table['model'].iloc[0] if len(table) else 'image'} model -> "
               f"{out} (agreement with the reference labels: {accuracy:.3f}; {referred} referred)")
    if n_images:
        typer.echo(f"{n_images} Grad-CAM overlays -> {gradcam}")


def _predict_files(predictor, files: list[Path], plan, out: Path | None, gradcam: Path | None,
                   clinical: dict) -> None:
    rows, n_images = predict_files_to(predictor, files, plan, out, gradcam, clinical)
    _print_rows(rows, predictor.classes)
    if out is not None:
        typer.echo(f"{len(rows)} predictions -> {out}")
    if n_images:
        typer.echo(f"{n_images} Grad-CAM overlays -> {gradcam}")


def _print_rows(rows: list[dict], classes) -> None:
    from rich.console import Console
    from rich.table import Table

    detected = any("score" in r for r in rows)
    table = Table(title="vcfnet predictions")
    extra = ("score", "grade", "shape") if detected else ("reference",)
    for col in ("image", "file", "box", "level", *extra, *[f"p_{c}" for c in classes], "predicted", "refer"):
        table.add_column(col, justify="right" if col.startswith("p_") or col in ("image", "box", "score") else "left")
    for r in rows:
        cells = [f"{r['score']:.2f}", str(r["grade"]) or "-", str(r["shape"]) or "-"] if detected else [r["reference"]]
        table.add_row(str(r["image"]), Path(r["file"]).name, str(r["box"]), r["level"], *cells,
                      *[_p(r[f"p_{c}"]) for c in classes], f"[bold]{r['predicted'] or 'measured only'}[/bold]",
                      "[bold red]REFER[/bold red]" if r["refer"] else "no")
    console = Console()
    if not console.is_terminal:      # piped or captured: no 80-column squeeze that truncates class names
        console = Console(width=160)
    console.print(table)


def _p(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "-"
