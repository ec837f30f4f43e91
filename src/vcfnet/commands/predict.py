"""``vcfnet predict``: a checkpoint's answers for a whole study or for single radiographs.

    vcfnet predict RUN/best --study STUDY --out predictions.csv
    vcfnet predict RUN/best film.dcm --boxes-xml film.xml --gradcam heatmaps/
    vcfnet predict RUN/best a.dcm b.png --boxes-xml a.xml b.xml --out answers.json
    vcfnet predict RUN/best film.png --box 120,340,260,450 --box 118,460,255,570 --out answers.json

Nothing is written until every input has been read and predicted, so a bad file leaves no partial
output. Grad-CAM images are named by position (``image001-box01.png``) or by pseudonymous ROI id,
never by a file name or a DICOM identifier.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from vcfnet.errors import VcfnetError


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
) -> None:
    """Predict acute / chronic / pathological for a study's ROIs or for boxes on radiographs."""
    files, boxes_xml = _xml_list_form(list(files or []), list(boxes_xml or []))
    if (study is None) == (not files):
        raise VcfnetError("give either --study STUDY or one or more radiograph FILES (not both)")
    if study is not None and (boxes_xml or box):
        raise VcfnetError("--boxes-xml and --box go with FILES; a study already has its boxes")
    from vcfnet.predict import Predictor

    predictor = Predictor(checkpoint, device=device, batch_size=batch_size)
    if study is not None:
        _predict_study(predictor, study, split, out or Path("predictions.csv"), gradcam)
    else:
        _predict_files(predictor, files, _boxes_for(files, boxes_xml or [], box or []), out, gradcam)


def _xml_list_form(files: list[Path], xmls: list[Path]) -> tuple[list[Path], list[Path]]:
    """``--boxes-xml a.xml b.xml``: an option takes one value, so ``b.xml`` arrives among FILES.

    With ``--boxes-xml`` given, FILES ending in ``.xml`` are annotations, not radiographs: they join the
    XML list in the order given (``--boxes-xml`` values first, as they come first on the line).
    """
    stray = [f for f in files if f.suffix.lower() == ".xml"]
    if not xmls:
        if stray:
            raise VcfnetError(f"{stray[0]}: LabelImg XML is not a radiograph; give it after --boxes-xml")
        return files, xmls
    return [f for f in files if f.suffix.lower() != ".xml"], xmls + stray


# ---- a study ------------------------------------------------------------------------------------
def _predict_study(predictor, study: Path, split: str | None, out: Path, gradcam: Path | None) -> None:
    from vcfnet.fileio import atomic_open

    if out.suffix.lower() != ".csv":
        raise VcfnetError(f"--out {out}: the predictions table is written as .csv")
    table = predictor.predict_study(study, split=split)
    images = _study_overlays(predictor, study, table) if gradcam is not None else {}
    with atomic_open(out, "w", newline="", encoding="utf-8") as fh:
        table.to_csv(fh, index=False)
    _write_pngs(gradcam, images)
    accuracy = float((table["predicted"] == table["label"]).mean()) if len(table) else float("nan")
    typer.echo(f"{len(table)} ROIs predicted -> {out} (agreement with the reference labels: {accuracy:.3f})")
    if images:
        typer.echo(f"{len(images)} Grad-CAM overlays -> {gradcam}")


def _study_overlays(predictor, study: Path, table) -> dict[str, Any]:
    """Grad-CAM over each cached crop (the study's radiographs are not re-read), named by ROI id."""
    import numpy as np

    from vcfnet.gradcam import overlay_heatmap
    from vcfnet.study.cache import read_cache

    crops = np.asarray(read_cache(study).get(table["roi_id"]))
    targets = [predictor.classes.index(p) for p in table["predicted"]]
    images = {}
    for start in range(0, len(crops), predictor.batch_size):
        part = crops[start:start + predictor.batch_size]
        heat = predictor.explain(part, targets[start:start + len(part)])
        for k, (crop, h) in enumerate(zip(part, heat)):
            s = crop.shape[-1]
            roi = _safe_name(str(table["roi_id"].iloc[start + k]))
            images[f"{roi}.png"] = overlay_heatmap(crop[0] / 255.0, (0, 0, s, s), h)
    return images


# ---- single radiographs -------------------------------------------------------------------------
def _boxes_for(files: list[Path], xmls: list[Path], boxes: list[str]) -> list[tuple[list, list[dict]]]:
    """Per file: the boxes to predict (None = the whole image) and their annotation info."""
    if xmls and boxes:
        raise VcfnetError("give boxes either as --boxes-xml or as --box, not both")
    if boxes:
        if len(files) != 1:
            raise VcfnetError(f"--box applies to one FILE; {len(files)} were given (use --boxes-xml per file)")
        parsed = [_parse_box(b) for b in boxes]
        return [(parsed, [{} for _ in parsed])]
    if xmls:
        if len(xmls) != len(files):
            raise VcfnetError(f"{len(files)} FILES but {len(xmls)} --boxes-xml; give one XML per file, in order")
        return [_voc_boxes(x) for x in xmls]
    return [(None, [{}]) for _ in files]


def _parse_box(text: str) -> tuple[float, ...]:
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise VcfnetError(f"--box '{text}': expected four numbers x0,y0,x1,y1")
    return values


def _voc_boxes(xml: Path) -> tuple[list, list[dict]]:
    from vcfnet.io import read_voc

    ann = read_voc(xml)
    if not ann.boxes:
        raise VcfnetError(f"{xml}: has no boxes")
    info = [{"reference": b.label, "level": b.level or "", "size": (ann.width, ann.height), "xml": str(xml)}
            for b in ann.boxes]
    return [(b.x0, b.y0, b.x1, b.y1) for b in ann.boxes], info


def _predict_files(predictor, files: list[Path], plan, out: Path | None, gradcam: Path | None) -> None:
    rows, images = [], {}
    for i, (path, (boxes, info)) in enumerate(zip(files, plan), start=1):
        from vcfnet.io import read_radiograph

        radiograph = read_radiograph(path)
        _check_voc_size(radiograph.pixels.shape, info, path)
        results = predictor.predict(radiograph, boxes, gradcam=gradcam is not None)
        for j, (res, extra) in enumerate(zip(results, info), start=1):
            name = f"image{i:03d}-box{j:02d}.png"
            if gradcam is not None:
                images[name] = res.overlay()
            rows.append(_row(i, path, j, res, extra, name if gradcam is not None else ""))
    if out is not None:
        _write_rows(rows, out)
    _write_pngs(gradcam, images)
    _print_rows(rows, predictor.classes)
    if out is not None:
        typer.echo(f"{len(rows)} predictions -> {out}")
    if images:
        typer.echo(f"{len(images)} Grad-CAM overlays -> {gradcam}")


def _check_voc_size(shape: tuple[int, int], info: list[dict], path: Path) -> None:
    size = info[0].get("size") if info else None
    if size and all(size) and (int(size[0]), int(size[1])) != (shape[1], shape[0]):
        raise VcfnetError(f"{info[0]['xml']}: describes a {size[0]}x{size[1]} image but {path} is "
                          f"{shape[1]}x{shape[0]}; is it the annotation of another file?")


def _row(i: int, path: Path, j: int, res, extra: dict, heatmap: str) -> dict[str, Any]:
    x0, y0, x1, y1 = res.box
    row = {"image": i, "file": str(path), "box": j, "x0": x0, "y0": y0, "x1": x1, "y1": y1,
           "level": extra.get("level", ""), "reference": extra.get("reference", "")}
    row.update({f"p_{c}": p for c, p in res.probabilities.items()})
    row.update({"predicted": res.predicted, "heatmap": heatmap})
    return row


def _write_rows(rows: list[dict], out: Path) -> None:
    import pandas as pd

    from vcfnet.fileio import atomic_open, write_json

    suffix = out.suffix.lower()
    if suffix == ".json":
        write_json(out, rows)
    elif suffix == ".csv":
        with atomic_open(out, "w", newline="", encoding="utf-8") as fh:
            pd.DataFrame(rows).to_csv(fh, index=False)
    else:
        raise VcfnetError(f"--out {out}: expected a .json or .csv file name")


def _write_pngs(folder: Path | None, images: dict[str, Any]) -> None:
    if folder is None:
        return
    from PIL import Image

    from vcfnet.fileio import atomic_path

    for name, rgb in images.items():
        with atomic_path(folder / name) as tmp:
            Image.fromarray(rgb).save(tmp, format="PNG")


def _print_rows(rows: list[dict], classes) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="vcfnet predictions")
    for col in ("image", "file", "box", "level", "reference", *[f"p_{c}" for c in classes], "predicted"):
        table.add_column(col, justify="right" if col.startswith("p_") or col in ("image", "box") else "left")
    for r in rows:
        table.add_row(str(r["image"]), Path(r["file"]).name, str(r["box"]), r["level"], r["reference"],
                      *[f"{r[f'p_{c}']:.3f}" for c in classes], f"[bold]{r['predicted']}[/bold]")
    console = Console()
    if not console.is_terminal:      # piped or captured: no 80-column squeeze that truncates class names
        console = Console(width=160)
    console.print(table)


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:120]
