"""LabelImg VOC/YOLO boxes and the authors' crop file names."""
from __future__ import annotations

import re

import pytest

from vcfnet.errors import InputError
from vcfnet.io import Box, parse_crop_filename, read_voc, read_yolo, write_voc
from vcfnet.io.annotations import parse_object_name

LABELIMG_XML = """<annotation>
	<folder>site1</folder>
	<filename>case001.png</filename>
	<path>C:\\data\\site1\\case001.png</path>
	<source><database>Unknown</database></source>
	<size><width>1000</width><height>2000</height><depth>1</depth></size>
	<segmented>0</segmented>
	{objects}
</annotation>
"""
OBJECT = ("<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
          "<difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
          "<ymax>{y1}</ymax></bndbox></object>")


def voc_file(tmp_path, *objects, name="a.xml"):
    body = "\n".join(OBJECT.format(**o) for o in objects)
    path = tmp_path / name
    path.write_text(LABELIMG_XML.format(objects=body), encoding="utf-8")
    return path


@pytest.mark.parametrize("name, expected", [
    ("Acute-L1", ("acute", "L1")), ("Acute_L1", ("acute", "L1")), ("Acute L1", ("acute", "L1")),
    ("acute", ("acute", "")), ("Pathologic-12", ("pathological", "T12")), ("chronic-4", ("chronic", "L4")),
    ("L2-Chronic", ("chronic", "L2")), ("  Old_t11 ", ("chronic", "T11")), ("malignant", ("pathological", "")),
])
def test_object_names(name, expected):
    assert parse_object_name(name) == expected


def test_object_name_with_custom_synonyms():
    assert parse_object_name("Frisch-L3", {"frisch": "acute"}) == ("acute", "L3")
    with pytest.raises(ValueError, match="unknown class 'Foo'"):
        parse_object_name("Foo-L1")


def test_read_labelimg_voc(tmp_path):
    path = voc_file(tmp_path, dict(name="Acute-L1", x0=10, y0=20, x1=110, y1=95),
                    dict(name="Pathologic-12", x0="5.5", y0=0, x1=1000, y1=2000))
    ann = read_voc(path)
    assert (ann.filename, ann.width, ann.height) == ("case001.png", 1000, 2000)
    assert ann.boxes == [Box("acute", "L1", 10.0, 20.0, 110.0, 95.0),
                         Box("pathological", "T12", 5.5, 0.0, 1000.0, 2000.0)]


def test_voc_round_trip(tmp_path):
    boxes = [Box("acute", "L1", 10, 20, 110, 95), Box("chronic", "", 0.25, 1.5, 999.75, 1999.125),
             Box("pathological", "T12", 3, 4, 5, 6)]
    path = tmp_path / "out" / "case.xml"
    write_voc(path, "case.dcm", 1000, 2000, boxes)
    ann = read_voc(path)
    assert ann.boxes == boxes
    assert (ann.filename, ann.width, ann.height) == ("case.dcm", 1000, 2000)
    text = path.read_text()
    assert "<name>Acute-L1</name>" in text and "<xmin>10</xmin>" in text and "<depth>1</depth>" in text
    assert [p.name for p in path.parent.iterdir()] == ["case.xml"]  # no temp file left behind


def _voc_error(tmp_path, *objects, text=None) -> str:
    path = voc_file(tmp_path, *objects) if text is None else tmp_path / "a.xml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError) as info:
        read_voc(path)
    assert str(info.value).startswith(str(path))
    return str(info.value)


GOOD = dict(name="Acute-L1", x0=1, y0=2, x1=30, y1=40)


def test_bad_voc_files(tmp_path):
    assert "malformed XML" in _voc_error(tmp_path, text="<annotation><filename>x.png</annotation")
    assert "no <filename>" in _voc_error(tmp_path, text="<annotation><object/></annotation>")
    msg = _voc_error(tmp_path, GOOD, dict(GOOD, name="Banana-L1"))
    assert "object 2 of 2" in msg and "unknown class 'Banana'" in msg and "field 'name'" in msg
    msg = _voc_error(tmp_path, dict(GOOD, x1="3O"))
    assert "object 1 of 1" in msg and "bndbox/xmax" in msg and "'3O'" in msg
    msg = _voc_error(tmp_path, dict(GOOD, y1=2))
    assert "empty box" in msg
    msg = _voc_error(tmp_path, dict(GOOD, x1=1001))
    assert "outside the 1000x2000 image" in msg
    no_box = LABELIMG_XML.format(objects="<object><name>Acute</name></object>")
    assert "object 1 of 1 ('Acute') has no <bndbox>" in _voc_error(tmp_path, text=no_box)
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]>' + LABELIMG_XML.format(objects="")
    assert "DOCTYPE" in _voc_error(tmp_path, text=bomb)


def test_read_yolo_exact(tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("Acute-L1\nChronic\nPathologic-12\n\n")
    labels = tmp_path / "case.txt"
    labels.write_text("0 0.5 0.25 0.2 0.1\n\n2 0.125 0.75 0.25 0.5\n1 0.5 0.5 1 1\n")
    boxes = read_yolo(labels, classes, (800, 400))
    # cx*W +- w*W/2, cy*H +- h*H/2, with W=800, H=400
    assert boxes == [Box("acute", "L1", 320.0, 80.0, 480.0, 120.0),
                     Box("pathological", "T12", 0.0, 200.0, 200.0, 400.0),
                     Box("chronic", "", 0.0, 0.0, 800.0, 400.0)]


def test_bad_yolo(tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("Acute\nChronic\n")
    labels = tmp_path / "case.txt"
    for content, pattern in [("0 0.5 0.5 0.1\n", r"row 1: expected 'class cx cy w h'"),
                             ("0 0.5 0.5 0.1 0.1\n0 0.5 x 0.1 0.1\n", r"row 2: non-numeric"),
                             ("2 0.5 0.5 0.1 0.1\n", r"row 1, field 'class': class index 2"),
                             ("0 0.95 0.5 0.2 0.1\n", r"row 1: .* gives box .* outside")]:
        labels.write_text(content)
        with pytest.raises(InputError, match=re.escape(str(labels)) + ", " + pattern):
            read_yolo(labels, classes, (100, 100))
    classes.write_text("Acute\nKiwi\n")
    labels.write_text("0 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1 0.1\n")
    with pytest.raises(InputError, match=re.escape(str(labels)) + r", row 2, field 'class': class index 1 is "
                                         r"line 2 of .*classes.txt, 'Kiwi': unknown class 'Kiwi'"):
        read_yolo(labels, classes, (100, 100))


def test_all_real_crop_names(sample_crops):
    paths = sorted(sample_crops.rglob("*.png"))
    assert len(paths) == 15
    parsed = {p.name: parse_crop_filename(p) for p in paths}
    first = parsed["10-Acute-12-84-F.png"]
    assert (first.id, first.label, first.level, first.age, first.sex) == ("10", "acute", "T12", 84.0, "F")
    last = parsed["584-Pathologic-1-50-M.png"]
    assert (last.id, last.label, last.level, last.age, last.sex) == ("584", "pathological", "L1", 50.0, "M")
    assert parsed["4-Chronic-4-82-F.png"].level == "L4"
    assert sorted(c.label for c in parsed.values()) == ["acute"] * 5 + ["chronic"] * 5 + ["pathological"] * 5
    for path in paths:  # the folder names the class that the file name gives
        assert parsed[path.name].label == {"Acute": "acute", "Chronic": "chronic",
                                           "Pathologic": "pathological"}[path.parent.name]


def test_bad_crop_names(tmp_path):
    cases = {"Acute/10-Chronic-12-84-F.png": "file name says 'chronic' but the file is in the 'Acute'",
             "Acute/10-Acute-12-84.png": "does not follow",
             "Acute/10-Acute-99-84-F.png": "unknown vertebral level '99'",
             "Acute/10-Acute-1-old-F.png": "age 'old'",
             "Acute/10-Acute-1-80-Q.png": "sex 'Q'",
             "misc/10-Acute-1-80-F.png": "folder 'misc' is not a class folder"}
    for rel, message in cases.items():
        with pytest.raises(InputError) as info:
            parse_crop_filename(tmp_path / rel)
        assert str(info.value).startswith(str(tmp_path / rel)) and message in str(info.value)
    assert parse_crop_filename(tmp_path / "misc/7-x-y-Chronic-5-70-M.png", check_folder=False).id == "7-x-y"


def _labelimg_yolo(folder, stem, size, boxes, class_list):
    """Write ``stem.txt`` and ``classes.txt`` with LabelImg 1.8.6's own YOLO writer; size is (w, h)."""
    from libs.yolo_io import YOLOWriter

    writer = YOLOWriter(str(folder), stem, (size[1], size[0], 1))
    for x0, y0, x1, y1, name in boxes:
        writer.add_bnd_box(x0, y0, x1, y1, name, 0)
    writer.save(class_list=list(class_list), target_file=str(folder / f"{stem}.txt"))
    return folder / f"{stem}.txt", folder / "classes.txt"


def _coords(box):
    return (box.x0, box.y0, box.x1, box.y1)


def test_yolo_edge_boxes_written_by_labelimg_are_clamped(tmp_path):
    # 6 decimals: (cx + w/2) * 90 = 90.000045 for x 1..90; (cy + h/2) * 120 = 120.00006 for y 1..120;
    # (cx - w/2) * 90 = -0.000045 for x 0..6
    labels, classes = _labelimg_yolo(tmp_path, "edge", (90, 120), [(1, 1, 90, 120, "Acute-L1"),
                                                                  (0, 10, 6, 20, "Chronic-L2")], [])
    acute, chronic = read_yolo(labels, classes, (90, 120))
    assert (acute.label, acute.level, acute.x1, acute.y1, chronic.label, chronic.x0) == \
        ("acute", "L1", 90.0, 120.0, "chronic", 0.0)
    assert _coords(acute) == pytest.approx((1, 1, 90, 120), abs=1e-3)
    assert _coords(chronic) == pytest.approx((0, 10, 6, 20), abs=1e-3)


def test_yolo_real_overshoot_shows_the_line_and_the_pixels(tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("Acute\n")
    labels = tmp_path / "case.txt"
    labels.write_text("0 0.5 0.5 0.1 0.1\n0 0.950000 0.500000 0.200000 0.100000\n")
    with pytest.raises(InputError) as info:
        read_yolo(labels, classes, (100, 100))
    message = str(info.value)
    assert message.startswith(f"{labels}, row 2: ")
    assert "'0 0.950000 0.500000 0.200000 0.100000'" in message
    assert "(85, 45, 105, 55)" in message and "outside the 100x100 image" in message
    labels.write_text("0 0.5 0.5 1.02 0.1\n")          # 1 pixel over on each side: not rounding
    with pytest.raises(InputError, match=r"\(-1, 45, 101, 55\)"):
        read_yolo(labels, classes, (100, 100))


LABELIMG_DEFAULTS = ["dog", "person", "cat", "tv", "car", "meatballs", "marinara sauce", "tomato soup",
                     "chicken noodle soup", "french onion soup", "chicken breast", "ribs", "pulled pork",
                     "hamburger", "cavity"]


def test_yolo_labelimg_default_classes_are_ignored_unless_used(tmp_path):
    labels, classes = _labelimg_yolo(tmp_path, "film", (100, 200), [(10, 20, 50, 80, "Acute-L1"),
                                                                    (10, 100, 50, 150, "Pathologic-12")],
                                     LABELIMG_DEFAULTS)
    assert classes.read_text().splitlines()[:2] == ["dog", "person"]
    acute, pathological = read_yolo(labels, classes, (100, 200))
    assert (acute.label, acute.level, pathological.label, pathological.level) == ("acute", "L1", "pathological", "T12")
    assert _coords(acute) + _coords(pathological) == pytest.approx((10, 20, 50, 80, 10, 100, 50, 150), abs=1e-3)
    labels, classes = _labelimg_yolo(tmp_path, "film", (100, 200), [(10, 20, 50, 80, "person")],
                                     LABELIMG_DEFAULTS)
    with pytest.raises(InputError, match=r"row 1, field 'class': class index 1 is line 2 of .*'person'"):
        read_yolo(labels, classes, (100, 200))


def test_user_text_in_messages_is_bounded(tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("K" * 100_000 + "\n")
    labels = tmp_path / "case.txt"
    labels.write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(InputError) as info:
        read_yolo(labels, classes, (100, 100))
    assert len(str(info.value)) < 1000
    labels.write_text("0 0.5 0.5 0.1 " + "9" * 100_000 + "x\n")
    with pytest.raises(InputError, match="non-numeric") as info:
        read_yolo(labels, classes, (100, 100))
    assert len(str(info.value)) < 400
    huge = dict(GOOD, name="Banana" * 20_000, x1="3" * 50_000 + "O")
    assert len(_voc_error(tmp_path, huge)) < 1000
    assert len(_voc_error(tmp_path, dict(GOOD, x1="3" * 50_000 + "O"))) < 400
