"""Find the images and annotations of one source folder, whatever its kind.

Kinds (``--kind auto`` picks by what the folder holds):
- ``voc``: radiographs (DICOM by content, PNG/JPEG/TIFF) with LabelImg Pascal VOC ``.xml`` beside them;
- ``yolo``: radiographs with LabelImg YOLO ``.txt`` files; each ``.txt`` is read with the nearest
  ``classes.txt`` (the one LabelImg saved beside it, else the closest parent folder's up to the root);
- ``crops``: ready crops in the original authors' layout
  ``[split/]{Acute,Chronic,Pathologic}/{id}-{Class}-{level}-{age}-{sex}.png``.

Radiographs that are not DICOM carry no patient data; a ``metadata.csv`` in the source root with
columns ``image, patient_id, age, sex, exam_date`` supplies it (``image`` relative to the root).
"""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

from vcfnet.errors import InputError
from vcfnet.io import Box, parse_crop_filename, read_voc
from vcfnet.io.annotations import read_classes
from vcfnet.labels import clip, normalise_class

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ""}
KINDS = ("auto", "voc", "yolo", "crops")


@dataclass
class ImageItem:
    """One image of a source and what to crop from it."""
    path: Path                          # the image file
    rel: str                            # its path relative to the source root (posix)
    boxes: list[Box] | None = None      # VOC boxes; None for a ready crop (the whole image)
    yolo: tuple[Path, Path] | None = None   # (labels.txt, its nearest classes.txt): boxes made once sized
    meta: dict = field(default_factory=dict)  # label/level/age/sex/raw patient from file names or metadata.csv
    annotation: Path | None = None      # the file the boxes came from, for messages


@dataclass
class Discovery:
    items: list[ImageItem]
    skipped: list[tuple[str, str]]      # (file, reason)


def discover(root: str | Path, *, kind: str = "auto", synonyms: dict | None = None,
             skip_bad: bool = False) -> Discovery:
    """List the images of ``root`` with their boxes. Bad files raise, or are listed when ``skip_bad``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "is not a folder (expected a folder of radiographs or crops)")
    if kind not in KINDS:
        raise InputError(root, f"unknown source kind '{kind}' (expected one of {', '.join(KINDS)})")
    if kind == "auto":
        kind = detect_kind(root, synonyms)
    finder = {"voc": _voc_items, "yolo": _yolo_items, "crops": _crop_items}[kind]
    found = finder(root, synonyms, skip_bad)
    if not found.items:
        looked = {"voc": "radiographs with LabelImg .xml files",
                  "yolo": "radiographs with LabelImg YOLO .txt files and their classes.txt",
                  "crops": "Acute/Chronic/Pathologic folders of crop images"}[kind]
        why = f"; {skipped_summary(found.skipped)}" if found.skipped else ""
        raise InputError(root, f"no usable {kind} images found (looked for {looked}){why}")
    _attach_metadata(root, found.items)
    log.info("%s: %d images (%s), %d skipped", root, len(found.items), kind, len(found.skipped))
    return found


def detect_kind(root: Path, synonyms: dict | None = None) -> str:
    if any(_class_of_folder(d.name, synonyms) for d in _dirs_upto(root, 2)):
        return "crops"
    voc = any(root.rglob("*.xml"))
    if (root / "classes.txt").is_file():
        return "yolo"
    if any(root.rglob("classes.txt")):
        if voc:
            raise InputError(root, "holds both LabelImg .xml files (VOC) and YOLO classes.txt files in "
                                   "subfolders: give --kind voc or --kind yolo")
        return "yolo"
    if voc:
        return "voc"
    raise InputError(root, "cannot tell what this folder holds: expected LabelImg .xml files (VOC), "
                     "LabelImg YOLO .txt files with the classes.txt beside them that LabelImg saves in "
                     "each folder (YOLO), or Acute/Chronic/Pathologic crop folders")


def _dirs_upto(root: Path, depth: int):
    level = [root]
    for _ in range(depth):
        level = [d for p in level for d in sorted(p.iterdir()) if d.is_dir()]
        yield from level


def _class_of_folder(name: str, synonyms: dict | None) -> str | None:
    try:
        return normalise_class(name, synonyms)
    except ValueError:
        return None


def _handle(exc: InputError, skip_bad: bool, skipped: list) -> None:
    if not skip_bad:
        raise exc
    skipped.append((exc.source, exc.problem))
    log.warning("skipped %s", exc)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _voc_items(root: Path, synonyms, skip_bad) -> Discovery:
    items: list[ImageItem] = []
    skipped: list[tuple[str, str]] = []
    for xml in sorted(root.rglob("*.xml")):
        try:
            ann = read_voc(xml, synonyms=synonyms)
            image = _find_image(xml, ann.filename)
            if not ann.boxes:
                raise InputError(xml, "has no <object> boxes (every annotated radiograph needs at least one)")
            items.append(ImageItem(image, _rel(image, root), boxes=list(ann.boxes), annotation=xml))
        except InputError as exc:
            _handle(exc, skip_bad, skipped)
    return Discovery(items, skipped)


def _find_image(xml: Path, filename: str | None) -> Path:
    if filename:
        candidate = xml.parent / Path(filename).name
        if candidate.is_file():
            return candidate
    for suffix in sorted(IMAGE_SUFFIXES - {""}):
        candidate = xml.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    if filename is None:      # a YOLO .txt names no image: it is the one with the same stem
        raise InputError(xml, f"no image named {clip(xml.stem)}.* beside it (a YOLO label file goes with "
                              "the image of the same name)")
    raise InputError(xml, f"names image '{clip(filename)}', which is not in {xml.parent} "
                     f"(nor is an image named {clip(xml.stem)}.*)")


def _yolo_items(root: Path, synonyms, skip_bad) -> Discovery:
    items: list[ImageItem] = []
    skipped: list[tuple[str, str]] = []
    nearest: dict[Path, Path | None] = {}    # folder -> its classes.txt (memo: one look per folder)
    for txt in sorted(root.rglob("*.txt")):
        if txt.name == "classes.txt":
            continue
        try:
            classes = _nearest_classes(txt, root, nearest, synonyms)
            image = _find_image(txt, None)
            items.append(ImageItem(image, _rel(image, root), yolo=(txt, classes), annotation=txt))
        except InputError as exc:
            _handle(exc, skip_bad, skipped)
    return Discovery(items, skipped)


def _nearest_classes(txt: Path, root: Path, memo: dict, synonyms) -> Path:
    """The ``classes.txt`` beside ``txt``, else the closest parent's up to ``root``; noted once per file."""
    folder = txt.parent
    if folder not in memo:
        up = folder
        while not (up / "classes.txt").is_file() and up != root:
            up = up.parent
        found = up / "classes.txt" if (up / "classes.txt").is_file() else None
        if found is not None and found not in memo.values():
            _note_unknown_classes(found, synonyms)
        memo[folder] = found
    if memo[folder] is None:
        raise InputError(txt, f"no classes.txt beside it or in a parent folder up to {root}: cannot tell "
                              "which class each index names (LabelImg saves one in each folder it writes to)")
    return memo[folder]


def _note_unknown_classes(classes: Path, synonyms) -> None:
    """LabelImg starts classes.txt with its own defaults (dog, person, ...): ignored unless a box uses one."""
    unknown = [line.name.strip() for line in read_classes(classes, synonyms) if line.problem and line.name.strip()]
    if unknown:
        names = ", ".join(clip(n, 30) for n in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        log.info("%s: %d lines are not vcfnet classes (%s); ignored unless a box uses one",
                 classes, len(unknown), names)


def skipped_summary(skipped: list[tuple[str, str]], limit: int = 3) -> str:
    """One line saying why files were skipped: the first ``limit`` files and reasons, then a count."""
    shown = "; ".join(f"{Path(f).name}: {clip(why, 200)}" for f, why in skipped[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"{len(skipped)} file(s) skipped ({shown}{more})"


def _crop_items(root: Path, synonyms, skip_bad) -> Discovery:
    items: list[ImageItem] = []
    skipped: list[tuple[str, str]] = []
    for folder in _dirs_upto(root, 2):
        label = _class_of_folder(folder.name, synonyms)
        if label is None:
            continue
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            try:
                name = parse_crop_filename(path, synonyms=synonyms)
                meta = {"label": name.label, "level": name.level, "age": name.age, "sex": name.sex,
                        "raw_patient": name.id}
                items.append(ImageItem(path, _rel(path, root), meta=meta, annotation=path))
            except InputError as exc:
                _handle(exc, skip_bad, skipped)
    return Discovery(items, skipped)


def _attach_metadata(root: Path, items: list[ImageItem]) -> None:
    """Merge ``metadata.csv`` (non-DICOM patient data) into the items it names."""
    path = root / "metadata.csv"
    if not path.is_file():
        return
    by_rel = {it.rel: it for it in items}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"image", "patient_id"} - set(reader.fieldnames or [])
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(sorted(missing))} "
                             "(expected image, patient_id, age, sex, exam_date)")
        for row_no, row in enumerate(reader, start=1):
            item = by_rel.get(row["image"].strip())
            if item is None:
                continue
            item.meta.update({"raw_patient": row["patient_id"].strip(),
                              "age": _age(row.get("age"), path, row_no),
                              "sex": (row.get("sex") or "").strip().upper()[:1],
                              "exam_date": (row.get("exam_date") or "").strip()})


def _age(text: str | None, path: Path, row: int) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(path, f"'{text}' is not an age in years", row=row, field="age") from None
