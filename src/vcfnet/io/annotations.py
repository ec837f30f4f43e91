"""Vertebra boxes from LabelImg (Pascal VOC XML, YOLO txt) and the original authors' crop file names.

Object names follow the study's convention ``Class-Level`` (``Acute-L1``; also ``Acute_L1``,
``Acute L1``, ``L1-Acute``) or the class alone (``acute``). Class spellings go through
``vcfnet.labels.normalise_class`` (a configurable synonym table), levels through ``normalise_level``
(a bare number follows the study: 12 = T12, 1..5 = L1..L5). Coordinates are pixel edges, x1/y1
exclusive, as in ``vcfnet.preprocess``.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from vcfnet.errors import InputError
from vcfnet.fileio import atomic_open
from vcfnet.io.xmlsafe import MAX_XML_BYTES, parse_xml
from vcfnet.labels import clip, normalise_class, normalise_level

_SEP = r"[\s_\-]+"
_CLASS_LEVEL_RE = re.compile(rf"^(?P<cls>.+?){_SEP}(?P<lvl>[A-Za-z]?\d{{1,2}})$")
_LEVEL_CLASS_RE = re.compile(rf"^(?P<lvl>[A-Za-z]?\d{{1,2}}){_SEP}(?P<cls>.+)$")
_COORDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class Box:
    """One fractured vertebra: canonical class, level ('' if not given) and pixel-edge coordinates."""

    label: str
    level: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class VocAnnotation:
    """A LabelImg Pascal VOC file: the image it describes (as written in <filename>) and its boxes."""

    path: str
    filename: str
    width: int | None
    height: int | None
    boxes: list[Box] = field(default_factory=list)


@dataclass(frozen=True)
class CropName:
    """Metadata carried by a crop file name ``{id}-{Class}-{level}-{age}-{sex}.png``."""

    path: str
    id: str
    label: str
    level: str
    age: float | None
    sex: str


def parse_object_name(name: str, synonyms: dict[str, str] | None = None) -> tuple[str, str]:
    """``'Acute-L1'`` -> ``('acute', 'L1')``; ``'acute'`` -> ``('acute', '')``. ValueError if unknown."""
    text = name.strip()
    class_error: ValueError | None = None
    for pattern in (_CLASS_LEVEL_RE, _LEVEL_CLASS_RE):
        m = pattern.match(text)
        if not m:
            continue
        try:
            level = normalise_level(m.group("lvl"))
        except ValueError:
            continue  # not a level after all (a class name ending in digits?): try the whole name
        try:
            return normalise_class(m.group("cls"), synonyms), level
        except ValueError as exc:
            class_error = class_error or exc
    try:
        return normalise_class(text, synonyms), ""
    except ValueError:
        if class_error is not None:
            raise class_error from None
        raise


def read_voc(xml_path: str | Path, *, synonyms: dict[str, str] | None = None) -> VocAnnotation:
    """Read a LabelImg Pascal VOC XML file.

    Raises ``InputError`` naming the file (and the object number, 1-based, and field) for malformed
    XML, a missing <filename> or <bndbox>, a non-numeric coordinate, an empty box, a box outside the
    <size> given, or an unknown class or level.
    """
    xml_path = Path(xml_path)
    try:
        with open(xml_path, "rb") as fh:     # never more than the parser accepts, plus one byte
            data = fh.read(MAX_XML_BYTES + 1)
    except OSError as exc:
        raise InputError(xml_path, f"cannot read the file ({exc.strerror})") from None
    root = parse_xml(data, xml_path)   # DTDs, entities, oversize and malformed XML refused
    if root.tag != "annotation":
        raise InputError(xml_path, f"expected a Pascal VOC <annotation> document, found <{clip(root.tag)}>")
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        raise InputError(xml_path, "no <filename>: cannot tell which image the boxes belong to",
                         field="filename")
    width, height = _voc_size(xml_path, root)
    objects = root.findall("object")
    boxes = [_voc_box(xml_path, i, len(objects), obj, (width, height), synonyms)
             for i, obj in enumerate(objects, start=1)]
    return VocAnnotation(path=str(xml_path), filename=filename, width=width, height=height, boxes=boxes)


def _voc_size(xml_path: Path, root: ET.Element) -> tuple[int | None, int | None]:
    """<size> width/height; None when absent or 0 (LabelImg writes 0 when it could not tell)."""
    out: list[int | None] = []
    for name in ("width", "height"):
        text = (root.findtext(f"size/{name}") or "").strip()
        if not text:
            out.append(None)
            continue
        try:
            value = int(float(text))
        except ValueError:
            raise InputError(xml_path, f"<size> {name} '{clip(text)}' is not a number", field=f"size/{name}") from None
        out.append(value if value > 0 else None)
    return out[0], out[1]


def _voc_box(xml_path: Path, index: int, total: int, obj: ET.Element, size: tuple[int | None, int | None],
             synonyms: dict[str, str] | None) -> Box:
    where = f"object {index} of {total}"
    name = (obj.findtext("name") or "").strip()
    shown = clip(name)
    try:
        label, level = parse_object_name(name, synonyms)
    except ValueError as exc:
        raise InputError(xml_path, f"{where}: {exc}", field="name") from None
    bndbox = obj.find("bndbox")
    if bndbox is None:
        raise InputError(xml_path, f"{where} ('{shown}') has no <bndbox>", field="bndbox")
    coords = []
    for key in _COORDS:
        text = (bndbox.findtext(key) or "").strip()
        try:
            coords.append(float(text))
        except ValueError:
            raise InputError(xml_path, f"{where} ('{shown}'): coordinate {key} = '{clip(text)}' is not a number",
                             field=f"bndbox/{key}") from None
    box = Box(label, level, *coords)
    problem = box_problem(box, *size)
    if problem:
        raise InputError(xml_path, f"{where} ('{shown}'): {problem}", field="bndbox")
    return box


def coords_problem(x0: float, y0: float, x1: float, y1: float, width: float | None = None,
                   height: float | None = None) -> str:
    """Why the box (x0, y0, x1, y1) is unusable in a ``width`` x ``height`` image (None: unknown), or ''.

    The one box check: annotations, ingest, the Predictor and the web service all call it.
    """
    if not all(map(_finite, (x0, y0, x1, y1))):
        return "coordinates must be finite numbers"
    if x1 <= x0 or y1 <= y0:
        return "zero or negative area (empty box): need x0 < x1 and y0 < y1"
    if x0 < 0 or y0 < 0 or (width and x1 > width) or (height and y1 > height):
        return f"outside the {width or '?'}x{height or '?'} image"
    return ""


def box_problem(box: Box, width: int | None, height: int | None) -> str:
    """:func:`coords_problem` for a ``Box``, naming its coordinates, or ''."""
    problem = coords_problem(box.x0, box.y0, box.x1, box.y1, width, height)
    return f"box ({box.x0:g}, {box.y0:g}, {box.x1:g}, {box.y1:g}): {problem}" if problem else ""


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


class ClassLine(NamedTuple):
    """One line of LabelImg's ``classes.txt``: its text, the (label, level) it names, or why it names none."""

    name: str
    label_level: tuple[str, str] | None
    problem: str


def read_classes(path: str | Path, synonyms: dict[str, str] | None = None) -> list[ClassLine]:
    """LabelImg's ``classes.txt``, one entry per line (line i is YOLO class index i).

    Lines that name no vcfnet class are kept with the reason, not refused: LabelImg writes its default
    classes (dog, person, cat, ...) first, and only a box that uses such a line is an error.
    """
    path = Path(path)
    lines = _read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for name in lines:
        if not name.strip():
            out.append(ClassLine(name, None, "a blank line"))
            continue
        try:
            out.append(ClassLine(name, parse_object_name(name, synonyms), ""))
        except ValueError as exc:
            out.append(ClassLine(name, None, str(exc)))
    return out


def read_yolo(txt_path: str | Path, classes_txt: str | Path, image_size: tuple[int, int], *,
              synonyms: dict[str, str] | None = None) -> list[Box]:
    """Read LabelImg's YOLO format: lines ``class_index cx cy w h``, normalised to the image.

    Args:
        txt_path: the image's YOLO label file.
        classes_txt: LabelImg's ``classes.txt``, one object name per line (``Acute-L1`` or ``Acute``);
            lines no box uses need not be vcfnet classes.
        image_size: (width, height) of the image in pixels.

    Edges within one pixel outside the image are clamped to it: LabelImg writes 6 decimals, so an edge
    box's ``(cx + w/2) * W`` can exceed ``W`` by a hair (LabelImg's own reader clamps too).
    """
    txt_path, classes_txt = Path(txt_path), Path(classes_txt)
    classes = read_classes(classes_txt, synonyms)
    width, height = (int(v) for v in image_size)
    if width <= 0 or height <= 0:
        raise ValueError(f"image_size must be positive (width, height), got {image_size}")
    boxes = []
    for row, line in enumerate(_read_lines(txt_path), start=1):
        if line.strip():
            boxes.append(_yolo_box(txt_path, row, line.strip(), classes_txt, classes, width, height))
    return boxes


def _yolo_box(txt_path: Path, row: int, line: str, classes_txt: Path, classes: list[ClassLine],
              width: int, height: int) -> Box:
    parts = line.split()
    if len(parts) != 5:
        raise InputError(txt_path, f"expected 'class cx cy w h' (5 fields), found {len(parts)}", row=row)
    try:
        index = int(parts[0])
        cx, cy, w, h = (float(v) for v in parts[1:])
    except ValueError:
        raise InputError(txt_path, f"non-numeric field in '{clip(line)}'", row=row) from None
    if not 0 <= index < len(classes):
        raise InputError(txt_path, f"class index {index} is not a class in {classes_txt} "
                                   f"({len(classes)} lines)", row=row, field="class")
    entry = classes[index]
    if entry.label_level is None:
        raise InputError(txt_path, f"class index {index} is line {index + 1} of {classes_txt}, "
                                   f"'{clip(entry.name)}': {entry.problem}", row=row, field="class")
    x0, x1 = (_clamp_edge(v, width) for v in ((cx - w / 2) * width, (cx + w / 2) * width))
    y0, y1 = (_clamp_edge(v, height) for v in ((cy - h / 2) * height, (cy + h / 2) * height))
    box = Box(*entry.label_level, x0, y0, x1, y1)
    problem = box_problem(box, width, height)
    if problem:
        raise InputError(txt_path, f"'{clip(line)}' (class cx cy w h, fractions of the image) gives {problem}",
                         row=row)
    return box


def _clamp_edge(value: float, size: int) -> float:
    """Snap an edge less than one pixel outside ``[0, size]`` onto it (6-decimal rounding); keep others."""
    if -1 < value < 0:
        return 0.0
    if size < value < size + 1:
        return float(size)
    return value


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the file ({exc})") from None


def parse_crop_filename(path: str | Path, *, synonyms: dict[str, str] | None = None,
                        check_folder: bool = True) -> CropName:
    """Parse ``{id}-{Class}-{level}-{age}-{sex}.png`` (the original authors' crop folders).

    ``10-Acute-12-84-F.png`` -> id '10', label 'acute', level 'T12', age 84.0, sex 'F'. With
    ``check_folder`` the parent folder (``Acute``/``Chronic``/``Pathologic``) must name the same class.
    """
    path = Path(path)
    parts = path.stem.rsplit("-", 4)
    if len(parts) != 5 or not all(p.strip() for p in parts):
        raise InputError(path, "file name does not follow {id}-{Class}-{level}-{age}-{sex} "
                               "(e.g. 10-Acute-12-84-F.png)")
    crop_id, cls, lvl, age_text, sex = (p.strip() for p in parts)
    try:
        label = normalise_class(cls, synonyms)
        level = normalise_level(lvl)
    except ValueError as exc:
        raise InputError(path, f"in the file name: {exc}") from None
    age = _crop_age(path, age_text)
    if sex.upper() not in ("F", "M"):
        raise InputError(path, f"sex '{sex}' in the file name must be F or M", field="sex")
    if check_folder:
        _check_class_folder(path, label, synonyms)
    return CropName(path=str(path), id=crop_id, label=label, level=level, age=age, sex=sex.upper())


def _crop_age(path: Path, text: str) -> float | None:
    if text.upper() in ("NA", "NAN", "X", "UNKNOWN"):
        return None
    try:
        age = float(text)
    except ValueError:
        raise InputError(path, f"age '{text}' in the file name is not a number", field="age") from None
    if not 0 <= age <= 130:
        raise InputError(path, f"age {text} in the file name is outside 0..130", field="age")
    return age


def _check_class_folder(path: Path, label: str, synonyms: dict[str, str] | None) -> None:
    folder = path.parent.name
    try:
        folder_label = normalise_class(folder, synonyms)
    except ValueError:
        raise InputError(path, f"folder '{folder}' is not a class folder (expected the authors' layout "
                               "[split/]{Acute,Chronic,Pathologic}/file.png)") from None
    if folder_label != label:
        raise InputError(path, f"file name says '{label}' but the file is in the '{folder}' "
                               f"({folder_label}) folder")


def write_voc(path: str | Path, image_name: str, width: int, height: int, boxes: list[Box]) -> None:
    """Write a LabelImg-compatible Pascal VOC file, atomically; ``read_voc`` reads it back exactly.

    Object names are ``Class-Level`` (``Acute-L1``) or ``Class``; integral coordinates are written as
    integers (as LabelImg does), others with full float precision.
    """
    root = ET.Element("annotation")
    _sub(root, "folder", Path(path).parent.name)
    _sub(root, "filename", image_name)
    _sub(root, "path", image_name)
    _sub(_sub(root, "source"), "database", "Unknown")
    size = _sub(root, "size")
    for key, value in (("width", width), ("height", height), ("depth", 1)):
        _sub(size, key, str(int(value)))
    _sub(root, "segmented", "0")
    for box in boxes:
        obj = _sub(root, "object")
        name = box.label.capitalize() + (f"-{box.level}" if box.level else "")
        for key, text in (("name", name), ("pose", "Unspecified"), ("truncated", "0"), ("difficult", "0")):
            _sub(obj, key, text)
        bndbox = _sub(obj, "bndbox")
        for key, coord in zip(_COORDS, (box.x0, box.y0, box.x1, box.y1)):
            _sub(bndbox, key, _number(coord))
    ET.indent(root, space="\t")
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(ET.tostring(root, encoding="unicode"))
        fh.write("\n")


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _number(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)
