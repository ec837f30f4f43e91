"""YOLO sources as LabelImg 1.8.6 writes them: a classes.txt beside the .txt files of each folder."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from study_sources import radiograph_array

from vcfnet.errors import InputError
from vcfnet.study.dataset import load_table
from vcfnet.study.ingest import IngestOptions, ingest
from vcfnet.study.sources import detect_kind, discover

W, H = 90, 120
LABELIMG_DEFAULTS = ["dog", "person", "cat", "tv", "car", "meatballs", "marinara sauce", "tomato soup",
                     "chicken noodle soup", "french onion soup", "chicken breast", "ribs", "pulled pork",
                     "hamburger", "cavity"]


def labelimg_yolo(folder: Path, stem: str, boxes, class_list=()) -> Path:
    """A PNG radiograph plus ``stem.txt`` and ``classes.txt`` written by LabelImg's own YOLO writer."""
    from libs.yolo_io import YOLOWriter

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(radiograph_array(H, W)).save(folder / f"{stem}.png")
    writer = YOLOWriter(folder.name, stem, (H, W, 1))
    for x0, y0, x1, y1, name in boxes:
        writer.add_bnd_box(x0, y0, x1, y1, name, 0)
    writer.save(class_list=list(class_list), target_file=str(folder / f"{stem}.txt"))
    return folder / f"{stem}.txt"


def _opts(**kw):
    return IngestOptions(**{"site": "site1", "cohort": "development", "size": 32, "workers": 1, **kw})


def _labels(study: Path) -> dict[int, tuple[str, str]]:
    """(label, level) by box x0: each test image has its own x0 (the study names images by pseudonym)."""
    table = load_table(study)
    return {round(float(x0)): (lab, lvl) for x0, lab, lvl in zip(table["x0"], table["label"], table["level"])}


def test_each_folder_uses_its_own_classes_txt(tmp_path):
    src = tmp_path / "yolo"
    labelimg_yolo(src, "day1", [(20, 30, 70, 60, "Acute-L1")])
    labelimg_yolo(src / "day2", "day2", [(21, 30, 70, 60, "Chronic-L3")])       # index 0 here too
    labelimg_yolo(src / "day3", "day3", [(22, 30, 70, 60, "Pathologic-L4")])
    (src / "day3" / "late").mkdir()
    (src / "day3" / "late" / "late.png").write_bytes((src / "day3" / "day3.png").read_bytes())
    (src / "day3" / "late" / "late.txt").write_text(f"0 {(23 + 70) / 2 / W} 0.375 {47 / W} 0.25\n")
    found = discover(src)
    assert {it.rel: it.yolo[1].relative_to(src).as_posix() for it in found.items} == {
        "day1.png": "classes.txt", "day2/day2.png": "day2/classes.txt", "day3/day3.png": "day3/classes.txt",
        "day3/late/late.png": "day3/classes.txt"}
    ingest(src, tmp_path / "study", _opts())
    assert _labels(tmp_path / "study") == {20: ("acute", "L1"), 21: ("chronic", "L3"),
                                           22: ("pathological", "L4"), 23: ("pathological", "L4")}


def test_subfolders_only_is_yolo_and_a_txt_without_classes_is_refused(tmp_path):
    src = tmp_path / "yolo"
    labelimg_yolo(src / "day1", "a", [(20, 30, 70, 60, "Acute-L1")])
    labelimg_yolo(src / "day2", "b", [(20, 30, 70, 60, "Chronic-L2")])
    (src / "day2" / "classes.txt").unlink()
    assert detect_kind(src) == "yolo"
    with pytest.raises(InputError) as info:
        discover(src)
    message = str(info.value)
    assert message.startswith(str(src / "day2" / "b.txt")) and "no classes.txt" in message
    assert "beside it" in message
    found = discover(src, skip_bad=True)
    assert [it.rel for it in found.items] == ["day1/a.png"]
    assert [(Path(f).name, "no classes.txt" in why) for f, why in found.skipped] == [("b.txt", True)]


def test_nothing_usable_says_why(tmp_path):
    src = tmp_path / "yolo"
    labelimg_yolo(src / "day1", "a", [(20, 30, 70, 60, "Acute-L1")])
    (src / "day1" / "classes.txt").rename(src / "day1" / "classes.txt.bak")
    (src / "other").mkdir()
    (src / "other" / "classes.txt").write_text("Acute\n")
    with pytest.raises(InputError) as info:
        discover(src, skip_bad=True)
    message = str(info.value)
    assert "no usable yolo images" in message and "a.txt" in message and "no classes.txt" in message


def test_cannot_tell_hint_does_not_ask_for_one_root_list(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cannot tell what this folder holds") as info:
        discover(tmp_path / "empty")
    assert "classes.txt beside" in str(info.value)


def test_labelimg_default_classes_are_noted_once_per_file(tmp_path, caplog):
    src = tmp_path / "yolo"
    for x0, stem in ((20, "a"), (21, "b")):
        labelimg_yolo(src, stem, [(x0, 30, 70, 60, "Acute-L1")], LABELIMG_DEFAULTS)
    with caplog.at_level(logging.INFO, logger="vcfnet.study.sources"):
        found = discover(src)
    assert len(found.items) == 2
    notes = [r.getMessage() for r in caplog.records if "not vcfnet classes" in r.getMessage()]
    assert len(notes) == 1 and "dog" in notes[0] and "15 lines" in notes[0]
    ingest(src, tmp_path / "study", _opts())
    assert _labels(tmp_path / "study") == {20: ("acute", "L1"), 21: ("acute", "L1")}


def test_edge_boxes_accepted_and_skip_bad_skips_only_the_bad_file(tmp_path):
    src = tmp_path / "yolo"
    labelimg_yolo(src, "edge", [(1, 1, W, H, "Acute-L1")])          # 6 decimals: 90.000045 x 120.00006
    labelimg_yolo(src, "good", [(20, 30, 70, 60, "Acute-L1")])
    bad = labelimg_yolo(src, "bad", [(20, 30, 70, 60, "Acute-L1")])
    bad.write_text("0 0.950000 0.500000 0.200000 0.100000\n")
    with pytest.raises(InputError) as info:
        ingest(src, tmp_path / "study", _opts())
    assert str(bad) in str(info.value) and "0.950000" in str(info.value) and "(76.5, 54, 94.5, 66)" in str(info.value)
    report = ingest(src, tmp_path / "study", _opts(skip_bad=True))
    assert report.rois == 2
    table = load_table(tmp_path / "study").sort_values("x0")
    assert table[["x0", "x1", "y1"]].astype(float).round(3).values.tolist() == [[1, W, H], [20, 70, 60]]
    assert [Path(f).name for f, _ in report.skipped] == ["bad.txt"]
    skipped = pd.read_csv(tmp_path / "study" / "skipped.csv")
    assert len(skipped) == 1 and "outside the 90x120 image" in skipped["reason"][0]


def test_voc_and_subfolder_yolo_together_ask_for_kind(tmp_path):
    src = tmp_path / "mixed"
    labelimg_yolo(src / "day1", "a", [(20, 30, 70, 60, "Acute-L1")])
    (src / "day2").mkdir()
    (src / "day2" / "b.xml").write_text("<annotation/>")
    with pytest.raises(InputError, match="give --kind voc or --kind yolo"):
        detect_kind(src)
    assert [it.rel for it in discover(src, kind="yolo").items] == ["day1/a.png"]


def test_a_txt_without_its_image_says_so(tmp_path):
    src = tmp_path / "yolo"
    labelimg_yolo(src, "a", [(20, 30, 70, 60, "Acute-L1")])
    (src / "notes.txt").write_text("scanned on day 2\n")
    with pytest.raises(InputError, match=r"notes\.txt: no image named notes\.\* beside it"):
        discover(src)
