"""What the reading pages show, prepared once by ``vcfnet readers create``: per radiograph a de-identified
display PNG, per case its box, the crop enlarged and, for the aided session, the model's answer.

The study holds no source paths, so the files are found the way ``vcfnet study trace`` finds them: the
study's key recomputes the pseudonyms of the files in each ``--source`` folder (a ``vcfnet synth`` folder
with its ``manifest.json`` stands for all its sources). The pixels go through the diagnosis service's own
code (``vcfnet.service.diagnose.display`` and ``diagnose``, with the same ``Predictor``), so an aided
reader sees exactly the probabilities and Grad-CAM overlay that ``vcfnet serve`` shows for that box.

    RS/media/img-<key>.png          the radiograph, 8-bit, at most 2048 px a side (shared by its vertebrae)
    RS/media/case-<key>-crop.png    the crop window the model reads (box + the checkpoint's margin), grey
    RS/media/case-<key>-aided.json  {"probabilities", "predicted", "heatmap_png"}: served only when aided
    RS/media/case-<key>.json        box, image size, file keys and an inputs hash; written last

Each file is written atomically; a case whose ``case-<key>.json`` has the same inputs hash (source file
SHA-256, box, weights hash) is skipped, so an interrupted ``create`` resumes where it stopped.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_open, file_sha256, kill_point, write_json

log = logging.getLogger(__name__)
MAX_MEGAPIXELS = 100.0


def media_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def source_files(study_dir: str | Path, sources: Sequence[str | Path]) -> dict[str, Path]:
    """Study ``image`` value (``src-.../F-...``) -> the file in one of ``sources``."""
    from vcfnet.study.trace import trace_source

    found: dict[str, Path] = {}
    for folder in expand_sources(sources):
        source_id, files = trace_source(study_dir, folder)
        for pseudonym, rel in files:
            found[f"{source_id}/{pseudonym}"] = Path(folder) / rel
    return found


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """Each folder, or the sources listed in its ``manifest.json`` (a ``vcfnet synth`` folder)."""
    out = []
    for s in sources:
        folder = Path(s)
        manifest = folder / "manifest.json"
        if manifest.is_file():
            try:
                out += [folder / entry["path"] for entry in json.loads(manifest.read_text())["sources"]]
                continue
            except (ValueError, KeyError, TypeError):
                pass
        out.append(folder)
    return out


def check_sources(table: pd.DataFrame, files: dict[str, Path]) -> None:
    """A clear error when a radiograph of the case list is in none of the source folders."""
    missing = sorted(set(table["image"]) - set(files))
    if missing:
        sources = sorted({m.split("/", 1)[0] for m in missing})
        raise VcfnetError(f"the files of {len(missing)} radiograph(s) were not found in the --source folders "
                          f"(study sources {', '.join(sources)}); pass the folders given to `vcfnet ingest`")


def prepare_media(root: Path, table: pd.DataFrame, files: dict[str, Path], predictor,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write the media of every case of ``table`` (Study rows) under ``root/media``; counts made/reused."""
    check_sources(table, files)
    media = root / "media"
    media.mkdir(parents=True, exist_ok=True)
    weights = str(predictor.card.get("weights_sha256", ""))
    made = reused = done = 0
    for image, rows in table.groupby("image", sort=False):
        path = files[str(image)]
        digest = file_sha256(path)
        todo = []
        for _, row in rows.iterrows():
            box = [float(row[k]) for k in ("x0", "y0", "x1", "y1")]
            inputs = media_key(json.dumps([digest, box, weights, 1]))
            meta = media / f"case-{media_key(row['roi_id'])}.json"
            if meta.is_file() and json.loads(meta.read_text()).get("inputs") == inputs:
                reused += 1
            else:
                todo.append((row["roi_id"], box, inputs, meta))
        if todo:
            _prepare_image(media, str(image), path, todo, predictor)
            made += len(todo)
            kill_point("readers-media")
        done += len(rows)
        if progress:
            progress(done, len(table))
    return {"made": made, "reused": reused}


def _prepare_image(media: Path, image: str, path: Path, todo: list, predictor) -> None:
    from vcfnet.service import diagnose as work
    from vcfnet.service.errors import APIError

    image_key = media_key(image)
    job = work.ImageJob(1, path, boxes_json=json.dumps([box for _, box, _, _ in todo]))
    try:
        shown = work.display(job, max_megapixels=MAX_MEGAPIXELS)
        answer = work.diagnose(predictor, job, gradcam=True, max_megapixels=MAX_MEGAPIXELS, max_boxes=len(todo))
    except APIError as exc:
        raise VcfnetError(f"radiograph {image} (cases {', '.join(t[0] for t in todo)}): {exc.message}") from None
    _write_png(media / f"img-{image_key}.png", shown["png"])
    for (roi_id, box, inputs, meta), result in zip(todo, answer["boxes"]):
        key = media_key(roi_id)
        _write_png(media / f"case-{key}-crop.png", result["crop_png"])
        write_json(media / f"case-{key}-aided.json", {"probabilities": result["probabilities"],
                                                      "predicted": result["predicted"],
                                                      "heatmap_png": result["heatmap_png"]})
        write_json(meta, {"image": image_key, "box": box, "width": shown["width"], "height": shown["height"],
                          "meta": shown["meta"], "inputs": inputs})


def _write_png(path: Path, b64: str) -> None:
    with atomic_open(path, "wb") as fh:
        fh.write(base64.b64decode(b64))


def case_media(root: Path, roi_id: str) -> dict:
    """The prepared description of one case (``case-<key>.json``)."""
    path = root / "media" / f"case-{media_key(roi_id)}.json"
    if not path.is_file():
        raise VcfnetError(f"{root}: the media of a case are missing; run `vcfnet readers create` again")
    return json.loads(path.read_text())
