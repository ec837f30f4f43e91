"""The vertebra annotations contract: COCO keypoints JSON written, read back, and refused when bad."""
from __future__ import annotations

import json

import pytest

from vcfnet.detect.coco import ImageAnnotations, VertebraAnnotation, read_coco, write_coco
from vcfnet.errors import InputError

POINTS = ((10.0, 20.0), (20.0, 21.0), (30.0, 20.5), (10.5, 40.0), (20.0, 39.0), None)


def _images():
    return [ImageAnnotations("a.dcm", 100, 200, (0.3, 0.3), [
        VertebraAnnotation("L1", (9.0, 19.0, 31.0, 41.0), POINTS, False, "acute"),
        VertebraAnnotation("S1", (5.0, 150.0, 40.0, 200.0), (None,) * 6, True, None)]),
        ImageAnnotations("b.png", 50, 60)]


def test_round_trip_keeps_boxes_points_levels_and_flags(tmp_path):
    path = tmp_path / "vertebrae.json"
    write_coco(path, _images())
    doc = json.loads(path.read_text())
    assert doc["annotations"][0]["bbox"] == [9.0, 19.0, 22.0, 22.0]
    assert doc["annotations"][0]["keypoints"][-3:] == [0.0, 0.0, 0]
    assert doc["annotations"][0]["num_keypoints"] == 5
    assert doc["categories"][0]["keypoints"][0] == "upper_anterior"
    back = read_coco(path)
    assert [im.file_name for im in back] == ["a.dcm", "b.png"]
    assert back[0].vertebrae == _images()[0].vertebrae
    assert back[0].spacing == (0.3, 0.3) and back[1].spacing is None and back[1].vertebrae == []


@pytest.mark.parametrize("edit,where", [
    (lambda d: d["annotations"][0].update(level="L9"), "annotations[0], field 'level'"),
    (lambda d: d["annotations"][0].update(bbox=[1, 2, 0, 3]), "annotations[0], field 'bbox'"),
    (lambda d: d["annotations"][1].update(keypoints=[1] * 17), "annotations[1], field 'keypoints'"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 7), "annotations[0], field 'keypoints'"),
    (lambda d: d["annotations"][0].update(image_id=9), "annotations[0], field 'image_id'"),
    (lambda d: d["annotations"][0].update(fracture="broken"), "annotations[0], field 'fracture'"),
    (lambda d: d["images"][0].update(file_name="../x.dcm"), "images[0], field 'file_name'"),
    (lambda d: d["images"][1].update(id=1), "images[1], field 'id'"),
    (lambda d: d["categories"][0].update(keypoints=["a"]), "field 'categories'"),
])
def test_a_bad_field_is_one_line_naming_file_row_and_field(tmp_path, edit, where):
    path = tmp_path / "vertebrae.json"
    write_coco(path, _images())
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        read_coco(path)
    assert where in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_size_is_checked_before_parsing(tmp_path):
    path = tmp_path / "vertebrae.json"
    path.write_text("[" * 5000)
    with pytest.raises(InputError, match="at most 100 bytes"):
        read_coco(path, max_bytes=100)
    with pytest.raises(InputError, match="nested too deeply"):
        read_coco(path)
    path.write_text('{"images": [')
    with pytest.raises(InputError, match="not JSON"):
        read_coco(path)
