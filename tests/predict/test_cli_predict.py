"""``vcfnet predict`` end to end at toy size: study -> table, files + boxes -> JSON/CSV, Grad-CAM PNGs."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from predict_toys import TOY_BOXES, write_toy_radiograph

from vcfnet.cli import main
from vcfnet.predict import PREDICTION_COLUMNS
from vcfnet.study.ingest import IngestOptions, ingest


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_predict_a_study_writes_the_table_and_overlays(blob_checkpoint, tmp_path, capsys):
    write_toy_radiograph(tmp_path / "src", name="a", seed=0)
    write_toy_radiograph(tmp_path / "src", name="b", seed=1)
    ingest(tmp_path / "src", tmp_path / "study", IngestOptions(site="s1", cohort="development", size=64,
                                                               workers=1))
    out = tmp_path / "out" / "predictions.csv"
    code, stdout, _ = _run(capsys, "predict", blob_checkpoint, "--study", tmp_path / "study", "--out", out,
                           "--gradcam", tmp_path / "cams")
    assert code == 0, stdout
    table = pd.read_csv(out)
    assert tuple(table.columns) == PREDICTION_COLUMNS and len(table) == 6
    assert (table["predicted"] == table["label"]).all()            # the blob model reads the toy boxes
    assert "6 ROIs predicted" in stdout
    names = sorted(p.name for p in (tmp_path / "cams").iterdir())
    assert names == sorted(f"{r}.png" for r in table["roi_id"])    # pseudonymous ROI ids only
    assert np.asarray(Image.open(tmp_path / "cams" / names[0])).shape == (64, 64, 3)


def test_predict_files_with_voc_boxes_and_command_line_boxes(blob_checkpoint, tmp_path, capsys):
    png, xml = write_toy_radiograph(tmp_path / "in", name="Doe^Jane_12345")
    out = tmp_path / "answers.json"
    code, stdout, _ = _run(capsys, "predict", blob_checkpoint, png, "--boxes-xml", xml, "--out", out,
                           "--gradcam", tmp_path / "cams")
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["predicted"] for r in rows] == ["acute", "chronic", "acute"]
    assert [r["level"] for r in rows] == ["L1", "L2", "L3"] and rows[1]["reference"] == "chronic"
    assert all(abs(r["p_acute"] + r["p_chronic"] + r["p_pathological"] - 1) < 1e-6 for r in rows)
    names = sorted(p.name for p in (tmp_path / "cams").iterdir())
    assert names == ["image001-box01.png", "image001-box02.png", "image001-box03.png"]   # not the file name
    assert "vcfnet predictions" in stdout and "chronic" in stdout

    csv = tmp_path / "answers.csv"
    box_args = [a for b in TOY_BOXES[:2] for a in ("--box", ",".join(f"{v:g}" for v in b))]
    code, _, _ = _run(capsys, "predict", blob_checkpoint, png, *box_args, "--out", csv)
    assert code == 0
    table = pd.read_csv(csv)
    assert table["predicted"].tolist() == ["acute", "chronic"]
    np.testing.assert_allclose(table["p_acute"], [r["p_acute"] for r in rows[:2]], atol=1e-9)


@pytest.mark.parametrize("make_args, message", [
    (lambda d, png, xml: [d / "broken.png"], "broken.png"),
    (lambda d, png, xml: [png, "--box", "200,150,260,190"], "outside the 240x200 image"),
    (lambda d, png, xml: [png, "--box", "1,2,3"], "four numbers"),
    (lambda d, png, xml: [png, png, "--boxes-xml", xml], "one XML per file"),
    (lambda d, png, xml: [png, xml], "LabelImg XML is not a radiograph; give it after --boxes-xml"),
    (lambda d, png, xml: [png, "--study", d], "not both"),
])
def test_bad_input_is_one_clear_line_and_writes_nothing(blob_checkpoint, tmp_path, capsys, make_args, message):
    png, xml = write_toy_radiograph(tmp_path / "in")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    # a good file first, then the bad input: nothing of the good one may be written either
    args = make_args(tmp_path, png, xml)
    if args[0] != png:
        args = [png, *args]
    out, cams = tmp_path / "o.json", tmp_path / "cams"
    code, stdout, stderr = _run(capsys, "predict", blob_checkpoint, *args, "--out", out, "--gradcam", cams)
    assert code == 2
    assert message in stderr and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists() and not (cams.exists() and any(cams.iterdir()))


def test_voc_of_another_image_is_refused(blob_checkpoint, tmp_path, capsys):
    from vcfnet.io import Box, write_voc

    png, _ = write_toy_radiograph(tmp_path)
    other = tmp_path / "other.xml"
    write_voc(other, "other.png", 500, 400, [Box("acute", "L1", 10, 10, 50, 50)])
    code, _, stderr = _run(capsys, "predict", blob_checkpoint, png, "--boxes-xml", other)
    assert code == 2 and "500x400" in stderr


@pytest.mark.parametrize("form", ["list", "repeated"])
def test_boxes_xml_list_form_as_in_the_readme(blob_checkpoint, tmp_path, capsys, form):
    from vcfnet.io import Box, write_voc

    a_png, a_xml = write_toy_radiograph(tmp_path, name="a")
    b_png, b_xml = write_toy_radiograph(tmp_path, name="b", seed=1)
    write_voc(b_xml, b_png.name, 240, 200, [Box("chronic", "L2", *TOY_BOXES[1])])   # one box only
    xml_args = ["--boxes-xml", a_xml, b_xml] if form == "list" else ["--boxes-xml", a_xml, "--boxes-xml", b_xml]
    out = tmp_path / "answers.json"
    # README: vcfnet predict runs/r18/best a.dcm b.png --boxes-xml a.xml b.xml --out answers.json
    code, stdout, stderr = _run(capsys, "predict", blob_checkpoint, a_png, b_png, *xml_args, "--out", out)
    assert code == 0, stderr
    rows = json.loads(out.read_text())
    assert [(r["image"], r["box"], r["file"]) for r in rows] == [(1, 1, str(a_png)), (1, 2, str(a_png)),
                                                                 (1, 3, str(a_png)), (2, 1, str(b_png))]
    assert rows[3]["reference"] == "chronic" and rows[3]["predicted"] == "chronic"


def test_boxes_xml_count_must_match_in_the_list_form(blob_checkpoint, tmp_path, capsys):
    a_png, a_xml = write_toy_radiograph(tmp_path, name="a")
    b_png, _ = write_toy_radiograph(tmp_path, name="b", seed=1)
    code, _, stderr = _run(capsys, "predict", blob_checkpoint, a_png, b_png, "--boxes-xml", a_xml, a_xml, a_xml)
    assert code == 2 and "2 FILES but 3 --boxes-xml" in stderr and len(stderr.strip().splitlines()) == 1
