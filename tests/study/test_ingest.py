import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from study_sources import IDENTIFIERS, write_voc_pair

from vcfnet.errors import InputError
from vcfnet.study.cache import read_cache
from vcfnet.study.dataset import load_cropset, load_table
from vcfnet.study.ingest import IngestOptions, ingest
from vcfnet.study.layout import StudyLayout
from vcfnet.study.trace import trace_source


def _opts(**kw):
    base = dict(site="site1", cohort="development", size=32, workers=1)
    base.update(kw)
    return IngestOptions(**base)


def test_png_voc_source(png_source, tmp_path):
    study = tmp_path / "study"
    report = ingest(png_source, study, _opts())
    assert (report.images, report.rois, report.decoded) == (6, 12, 6)
    table = load_table(study)
    assert table["patient_id"].nunique() == 3          # metadata.csv: two images per patient
    assert not table["patient_id"].str.contains("PAT").any()   # pseudonyms, not the raw ids
    assert set(table["label"]) == {"acute", "chronic", "pathological"}
    assert table["age"].min() == 60 and (table["sex"] == "F").all()
    cache = read_cache(study)
    assert cache.crops.shape == (12, 1, 32, 32) and cache.crops.dtype == np.uint8
    # the bright block 20..70 x 30..60 fills the first box exactly: its crop is uniformly bright
    first = cache.get([table.loc[table["level"] == "L1", "roi_id"].iloc[0]])[0, 0]
    assert first.min() == 200 and first.max() == 200
    # no patient on both sides of the split
    merged = table.groupby("patient_id")["split"].nunique()
    assert (merged == 1).all()


def test_reingest_unchanged_decodes_nothing(png_source, tmp_path):
    study = tmp_path / "study"
    ingest(png_source, study, _opts())
    before = (StudyLayout(study).study_table.read_bytes(), StudyLayout(study).crops.read_bytes())
    again = ingest(png_source, study, _opts())
    assert (again.decoded, again.reused) == (0, 6)
    assert (StudyLayout(study).study_table.read_bytes(), StudyLayout(study).crops.read_bytes()) == before


def test_study_grows_source_by_source(png_source, tmp_path):
    study = tmp_path / "study"
    ingest(png_source, study, _opts())
    other = tmp_path / "ext"
    other.mkdir()
    write_voc_pair(other, "e1", [("acute", "L3", 20, 30, 70, 60)])
    ingest(other, study, _opts(site="site2", cohort="external"))
    table = load_table(study)
    assert len(table) == 13 and set(table["site"]) == {"site1", "site2"}
    assert table.loc[table["site"] == "site2", "split"].eq("external").all()
    ext = load_cropset(study, split="external")
    assert len(ext) == 1 and ext.labels.tolist() == [0]


def test_dicom_identifiers_never_leave_the_header(tmp_path, caplog):
    src = tmp_path / "dcm"
    src.mkdir()
    write_voc_pair(src, "x1", [("Acute", "L1", 20, 30, 70, 60)], fmt="dicom")
    write_voc_pair(src, "x2", [("old", "L2", 20, 30, 70, 60)], fmt="dicom", seed=2,
                   photometric="MONOCHROME1")
    study = tmp_path / "study"
    caplog.set_level("DEBUG")
    ingest(src, study, _opts())
    table = load_table(study)
    assert table["patient_id"].nunique() == 1 and table["exam_date"].eq("2021-03-05").all()
    assert table["age"].eq(71).all()
    blobs = [p.read_bytes() for p in study.rglob("*") if p.is_file()]
    names = [p.name for p in study.rglob("*")]
    for value in IDENTIFIERS.values():
        needles = {value, value.split("^")[0]}
        for needle in needles:
            assert not any(needle.encode() in b for b in blobs), needle
            assert not any(needle in n for n in names)
            assert needle not in caplog.text


def test_real_crops_in_the_authors_layout(sample_crops, tmp_path):
    report = ingest(sample_crops, tmp_path / "study", _opts(size=64))
    assert report.rois == 15
    table = load_table(tmp_path / "study")
    assert table["label"].value_counts().to_dict() == {"acute": 5, "chronic": 5, "pathological": 5}
    assert table["level"].isin(["T11", "T12", "L1", "L2", "L3", "L4", "L5"]).all()
    assert table["age"].between(30, 100).all() and table["sex"].isin(["F", "M"]).all()
    crops = read_cache(tmp_path / "study").crops
    assert crops.shape == (15, 1, 64, 64) and crops.std() > 10   # real images, not blank


@pytest.mark.parametrize("breakage, words", [
    ("missing_image", "names image"),
    ("box_outside", "outside"),
    ("unknown_class", "unknown class"),
    ("truncated_png", "x0"),
])
def test_bad_input_names_the_file_and_writes_nothing(png_source, tmp_path, breakage, words):
    if breakage == "missing_image":
        (png_source / "img3.png").unlink()
        culprit = "img3.xml"
    elif breakage == "box_outside":
        write_voc_pair(png_source, "img3", [("acute", "L1", 50, 30, 95, 60)])
        culprit = "img3.xml"
    elif breakage == "unknown_class":
        write_voc_pair(png_source, "img3", [("Broken", "L1", 20, 30, 70, 60)])
        culprit = "img3.xml"
    else:
        data = (png_source / "img0.png").read_bytes()
        (png_source / "img0.png").write_bytes(data[: len(data) // 2])
        culprit, words = "img0.png", "img0.png"
    study = tmp_path / "study"
    with pytest.raises(InputError) as exc:
        ingest(png_source, study, _opts())
    assert culprit in str(exc.value) and words in str(exc.value)
    assert not (study / "study.csv").exists() and not (study / "cache" / "crops.npy").exists()
    # --skip-bad ingests the rest and lists what it left out
    report = ingest(png_source, study, _opts(skip_bad=True))
    assert report.rois == 10
    assert [Path(f).name for f, _ in report.skipped] == [culprit]   # for the user's terminal: the file
    skipped = pd.read_csv(study / "skipped.csv")                   # in the study: its pseudonym
    assert dict(trace_source(study, png_source)[1])[skipped["file"].item()] == culprit


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cannot tell what this folder holds"):
        ingest(tmp_path / "empty", tmp_path / "study", _opts())


def test_yolo_source(tmp_path):
    src = tmp_path / "yolo"
    src.mkdir()
    from PIL import Image
    from study_sources import radiograph_array
    Image.fromarray(radiograph_array()).save(src / "a.png")
    (src / "classes.txt").write_text("Acute-L1\nChronic\n")
    # box 20..70 x 30..60 in a 90x120 image, in YOLO's normalised centre/size
    (src / "a.txt").write_text(f"0 {45 / 90} {45 / 120} {50 / 90} {30 / 120}\n1 0.5 0.75 0.4 0.2\n")
    ingest(src, tmp_path / "study", _opts())
    table = load_table(tmp_path / "study")
    assert table["label"].tolist() == ["acute", "chronic"]
    assert np.allclose(table.loc[0, ["x0", "y0", "x1", "y1"]].astype(float), [20, 30, 70, 60])
    meta = json.loads((tmp_path / "study" / "sources.json").read_text())
    assert list(meta.values())[0]["rois"] == 2


def test_when_every_image_is_skipped_the_error_says_which_and_why(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_voc_pair(src, "only", [("acute", "L1", 20, 30, 70, 60)])
    (src / "only.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"all 1 images were skipped; first: .*only\.png: ") as exc:
        ingest(src, tmp_path / "study", _opts(skip_bad=True))
    assert "\n" not in str(exc.value) and not (tmp_path / "study").exists()
