import pandas as pd
import pytest

from vcfnet.errors import InputError
from vcfnet.labels import normalise_class, normalise_level
from vcfnet.study.schema import COLUMNS, load_study, save_study, validate_study


def _row(**kw):
    row = {"roi_id": "r1", "image": "src/a.dcm", "patient_id": "P-1", "site": "site1", "cohort": "development",
           "exam_date": "2020-01-02", "level": "L1", "label": "acute", "x0": 10, "y0": 10, "x1": 50, "y1": 40,
           "age": 70, "sex": "F", "width": 100, "height": 80, "source": "src-1"}
    row.update(kw)
    return row


def test_round_trip(tmp_path):
    df = pd.DataFrame([_row(), _row(roi_id="r2", label="pathological", age="")])
    save_study(df, tmp_path / "study.csv")
    back = load_study(tmp_path / "study.csv")
    assert list(back.columns) == list(COLUMNS)
    assert back["label"].tolist() == ["acute", "pathological"]
    assert back["age"].isna().tolist() == [False, True]


@pytest.mark.parametrize("change, field, words", [
    ({"label": "fresh-ish"}, "label", "not allowed"),
    ({"x1": 5}, "x0,y0,x1,y1", "zero or negative area"),
    ({"x1": 101}, "x0,y0,x1,y1", "outside the 100x80 image"),
    ({"y0": "abc"}, "y0", "not a number"),
    ({"cohort": "internal"}, "cohort", "not allowed"),
    ({"patient_id": ""}, "patient_id", "empty"),
])
def test_bad_rows_name_row_and_field(change, field, words):
    df = pd.DataFrame([_row(roi_id="ok"), _row(roi_id="bad", **change)])
    with pytest.raises(InputError) as exc:
        validate_study(df, "my.csv")
    msg = str(exc.value)
    assert msg.startswith("my.csv, row 2") and f"field '{field}'" in msg and words in msg


def test_duplicate_roi_ids():
    with pytest.raises(InputError, match="row 2.*duplicate roi_id 'r1'"):
        validate_study(pd.DataFrame([_row(), _row()]), "t.csv")


def test_missing_column_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="missing column"):
        validate_study(pd.DataFrame([_row()]).drop(columns=["label"]))
    with pytest.raises(InputError, match="no such Study table"):
        load_study(tmp_path / "nope.csv")


def test_class_and_level_vocabulary():
    assert normalise_class("Pathologic") == "pathological"
    assert normalise_class("old") == "chronic"
    assert normalise_class("Fresh") == "acute"
    with pytest.raises(ValueError, match="unknown class 'broken'"):
        normalise_class("broken")
    assert [normalise_level(x) for x in ("12", "1", "l5", "T11")] == ["T12", "L1", "L5", "T11"]
    with pytest.raises(ValueError):
        normalise_level("L9")
