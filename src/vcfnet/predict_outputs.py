"""The Predictor's answer for one box (``BoxPrediction``) and what ``vcfnet predict`` writes: the
predictions table of a study, the answers for boxes on single radiographs (JSON or CSV rows) and Grad-CAM
overlays (PNG), each written atomically.

Nothing is written until every input has been read and predicted, so a bad file leaves no partial
output. Grad-CAM images are named by position (``image001-box01.png``) or by pseudonymous ROI id,
never by a file name or a DICOM identifier.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vcfnet.errors import VcfnetError
from vcfnet.gradcam import DEFAULT_COLORMAP, overlay_heatmap

if TYPE_CHECKING:
    from vcfnet.detect.infer import Detection
    from vcfnet.detect.levels import LevelCall
    from vcfnet.detect.morphometry import Morphometry

#: The flat columns of a detected body (CSV rows of ``vcfnet predict --detector`` and ``vcfnet detect``).
DETECTION_COLUMNS: tuple[str, ...] = (
    "score", "level", "level_counted", "seen_level", "level_reason", "unit", "height_anterior", "height_middle",
    "height_posterior", "reduction", "loss_mm", "grade", "shape", "included", "classified")


@dataclass
class BoxPrediction:
    """The model's answer for one box, or one body the detector found.

    ``box`` is the box as given (the whole image when none was given; a detected body's box clipped to
    the image); ``window`` the integer crop window actually cut from the radiograph (box grown by the
    checkpoint's margin, clipped); ``heatmap`` a Grad-CAM map (S, S) float32 in [0, 1] over that window,
    for the predicted class (S = the network's input size; ``overlay`` stretches it onto the window).

    Found by the detector (``Predictor.predict`` without boxes): ``detection`` (score, the level the body
    looks like, six landmarks), ``level`` (counted from S1, or "uncertain" with a reason) and
    ``morphometry``; a body that was measured but not classified has no ``probabilities`` (``classified``
    is False, ``predicted`` is "", ``refer_reason`` says why). For a box the caller gave, all three are None.
    """

    box: tuple[float, float, float, float]
    probabilities: dict[str, float]
    predicted: str
    heatmap: np.ndarray | None = None
    window: tuple[int, int, int, int] = (0, 0, 0, 0)
    pixels: np.ndarray | None = field(default=None, repr=False, compare=False)
    refer: bool = False
    refer_reason: str = ""
    model: str = "image"                       # "image" or "image+clinical" ("" when not classified)
    image_probabilities: dict[str, float] = field(default_factory=dict)
    clinical_notes: list[str] = field(default_factory=list)
    detection: Detection | None = None
    level: LevelCall | None = None
    morphometry: Morphometry | None = None

    @property
    def classified(self) -> bool:
        """Whether the model answered for this box (False: a detected body measured only)."""
        return bool(self.probabilities)

    def overlay(self, pixels: np.ndarray | None = None, *, alpha: float = 0.45,
                colormap: str = DEFAULT_COLORMAP, full_image: bool = False) -> np.ndarray:
        """The heatmap blended over the box region of the radiograph: (h, w, 3) uint8 RGB.

        ``pixels`` defaults to the radiograph this prediction was made on; ``full_image=True`` returns
        the whole radiograph with the heatmap inside the crop window.
        """
        if self.heatmap is None:
            raise VcfnetError("this prediction has no heatmap; call predict(..., gradcam=True)")
        pixels = self.pixels if pixels is None else pixels
        if pixels is None:
            raise ValueError("no radiograph pixels to draw on; pass pixels=")
        return overlay_heatmap(pixels, self.window, self.heatmap, alpha=alpha, colormap=colormap,
                               full_image=full_image)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no pixels, no heatmap); a detected body adds its detection, level and
        morphometry (``detection_dict``)."""
        out = {"box": [float(v) for v in self.box], "window": list(self.window),
               "probabilities": dict(self.probabilities), "predicted": self.predicted,
               "refer": bool(self.refer), "refer_reason": self.refer_reason, "model": self.model,
               "image_probabilities": dict(self.image_probabilities),
               "clinical_notes": list(self.clinical_notes)}
        return {**out, **self.detection_dict()}

    def detection_dict(self) -> dict[str, Any]:
        """Score, levels, landmarks and morphometry of a detected body ({} for a box the caller gave)."""
        d, lv, m = self.detection, self.level, self.morphometry
        if d is None or lv is None or m is None:
            return {}
        return {"score": round(d.score, 4), "seen_level": d.seen, "points": d.to_dict()["points"],
                "points_from": d.points_from, "level": lv.level, "level_counted": lv.counted,
                "level_reason": lv.reason, "morphometry": m.to_dict(), "classified": self.classified}

    def detection_row(self) -> dict[str, Any]:
        """``DETECTION_COLUMNS`` of a detected body, flat (the largest reduction; blanks where not
        measurable); {} for a box the caller gave."""
        d = self.detection_dict()
        if not d:
            return {}
        m = d["morphometry"]
        reductions = [x for x in m["reduction"] if x is not None]
        flat = {**d, "unit": m["unit"], "height_anterior": m["heights"][0], "height_middle": m["heights"][1],
                "height_posterior": m["heights"][2], "reduction": max(reductions) if reductions else None,
                "loss_mm": m["loss_mm"], "grade": m["grade"], "shape": m["shape"], "included": m["included"]}
        return {k: "" if flat[k] is None else flat[k] for k in DETECTION_COLUMNS}


def xml_list_form(files: list[Path], xmls: list[Path]) -> tuple[list[Path], list[Path]]:
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


def predict_study_to(predictor, study: Path, split: str | None, out: Path, gradcam: Path | None, *,
                     clinical: bool = True):
    """Write the predictions table of ``study`` to ``out`` (.csv) and Grad-CAM overlays to ``gradcam``;
    returns the table and the number of overlays written."""
    from vcfnet.fileio import atomic_open

    if out.suffix.lower() != ".csv":
        raise VcfnetError(f"--out {out}: the predictions table is written as .csv")
    table = predictor.predict_study(study, split=split, clinical=clinical)
    images = _study_overlays(predictor, study, table) if gradcam is not None else {}
    with atomic_open(out, "w", newline="", encoding="utf-8") as fh:
        table.to_csv(fh, index=False)
    write_pngs(gradcam, images)
    return table, len(images)


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


def boxes_for(files: list[Path], xmls: list[Path], boxes: list[str], *,
              detector: bool = False) -> list[tuple[list | None, list[dict]]]:
    """Per file: the boxes to predict (None = found by the ``detector``) and their annotation info."""
    if xmls and boxes:
        raise VcfnetError("give boxes either as --boxes-xml or as --box, not both")
    if detector and (xmls or boxes):
        raise VcfnetError("--detector finds the vertebrae itself; give it or --box / --boxes-xml, not both")
    if boxes:
        if len(files) != 1:
            raise VcfnetError(f"--box applies to one FILE; {len(files)} were given (use --boxes-xml per file)")
        parsed = [_parse_box(b) for b in boxes]
        return [(parsed, [{} for _ in parsed])]
    if xmls:
        if len(xmls) != len(files):
            raise VcfnetError(f"{len(files)} FILES but {len(xmls)} --boxes-xml; give one XML per file, in order")
        return [_voc_boxes(x) for x in xmls]
    if not detector:
        raise VcfnetError(f"{', '.join(f.name for f in files)}: no boxes to classify; give --box x0,y0,x1,y1 or "
                          f"--boxes-xml FILE.xml, or --detector DET to find every vertebra (a detector folder "
                          f"made by `vcfnet train-detector`)")
    return [(None, []) for _ in files]


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


def predict_files_to(predictor, files: list[Path], plan, out: Path | None, gradcam: Path | None,
                     clinical: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Predict the boxes of each file (``plan`` from :func:`boxes_for`); write the rows to ``out`` (.json
    or .csv) and overlays to ``gradcam``; returns the rows and the number of overlays written.

    ``clinical`` (``--age``/``--sex``) goes to a checkpoint with an image+clinical model, completed by
    each file's own header values (DICOM PatientAge/PatientSex); with neither, the image model answers."""
    from vcfnet.io import read_radiograph
    from vcfnet.model.clinical import header_values, merge_values

    rows, images = [], {}
    for i, (path, (boxes, info)) in enumerate(zip(files, plan), start=1):
        radiograph = read_radiograph(path)
        _check_voc_size(radiograph.pixels.shape, info, path)
        values, source = merge_values(clinical or {}, header_values(radiograph.meta))
        use = values if predictor.clinical_columns and values else None
        results = predictor.predict(radiograph, boxes, gradcam=gradcam is not None, clinical=use)
        for j, res in enumerate(results, start=1):
            name = f"image{i:03d}-box{j:02d}.png" if gradcam is not None and res.heatmap is not None else ""
            if name:
                images[name] = res.overlay()
            row = _row(i, path, j, res, info[j - 1] if j <= len(info) else {}, name, predictor.classes)
            if use is not None:
                row["clinical"] = "; ".join(f"{k} {source[k]}" for k in ("age", "sex"))
            rows.append(row)
    if out is not None:
        write_rows(rows, out)
    write_pngs(gradcam, images)
    return rows, len(images)


def _check_voc_size(shape: tuple[int, int], info: list[dict], path: Path) -> None:
    size = info[0].get("size") if info else None
    if size and all(size) and (int(size[0]), int(size[1])) != (shape[1], shape[0]):
        raise VcfnetError(f"{info[0]['xml']}: describes a {size[0]}x{size[1]} image but {path} is "
                          f"{shape[1]}x{shape[0]}; is it the annotation of another file?")


def _row(i: int, path: Path, j: int, res: BoxPrediction, extra: dict, heatmap: str, classes) -> dict[str, Any]:
    """One output row; a detected body adds ``DETECTION_COLUMNS`` (its counted level in ``level``) and
    has blank probabilities when it was measured only."""
    x0, y0, x1, y1 = res.box
    row = {"image": i, "file": str(path), "box": j, "x0": x0, "y0": y0, "x1": x1, "y1": y1,
           "level": extra.get("level", ""), "reference": extra.get("reference", ""), **res.detection_row()}
    row.update({f"p_{c}": res.probabilities.get(c, "") for c in classes})
    row.update({"predicted": res.predicted, "heatmap": heatmap, "refer": res.refer,
                "refer_reason": res.refer_reason, "model": res.model,
                "clinical_notes": "; ".join(res.clinical_notes)})
    return row


def write_rows(rows: list[dict], out: Path) -> None:
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


def write_pngs(folder: Path | None, images: dict[str, Any]) -> None:
    if folder is None:
        return
    from PIL import Image

    from vcfnet.fileio import atomic_path

    for name, rgb in images.items():
        with atomic_path(folder / name) as tmp:
            Image.fromarray(rgb).save(tmp, format="PNG")


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:120]
