"""One cohort list for Table 1 and Table 2 (vcfnet.study.cohorts)."""
from __future__ import annotations

import pandas as pd
import pytest

from vcfnet.errors import VcfnetError
from vcfnet.study.cohorts import development_parts, evaluation_parts, slug
from vcfnet.study.summary import cohort_groups, cohort_label


def _table() -> pd.DataFrame:
    rows = [("development", "s1", "train", 0), ("development", "s1", "val", 0), ("development", "s1", "test", 0),
            ("external", "Site 2", "external", 1), ("external", "s3", "external", 0),
            ("prospective", "s1", "prospective", 0)]
    return pd.DataFrame(rows, columns=["cohort", "site", "split", "collaboration"])


def test_table1_and_table2_list_the_same_cohorts_in_the_same_order_under_the_same_names():
    from vcfnet.report.cohorts import select_cohorts
    from vcfnet.study.summary import format_summary, study_summary

    table = _table().assign(patient_id=[f"p{i}" for i in range(6)], label="acute", age=70, sex="F",
                            exam_date="")
    table2 = select_cohorts(table)
    assert [c.key for c in table2] == ["test", "external-site-2", "external-s3", "external", "prospective",
                                       "collaboration"]
    table1_names = [cells[0] for cells in format_summary(study_summary(table))]
    assert table1_names[:3] == ["Development (all)", "Development: training", "Development: validation"]
    assert table1_names[3:] == [c.table1_name for c in evaluation_parts(table)]
    assert [c.name for c in table2] == [p.name for p in evaluation_parts(table)] == [
        "Internal test", "External: Site 2", "External: s3", "External (pooled)", "Prospective",
        "Collaboration set"]
    # one name, except that Table 1 nests the internal test set under the development cohort
    assert table1_names[3:] == ["Development: internal test"] + [c.name for c in table2[1:]]
    for c, (_, rows) in zip(table2, cohort_groups(table)[3:]):
        assert c.table.equals(rows.reset_index(drop=True))


def test_table1_keeps_its_keys():
    table1 = [key for key, _ in cohort_groups(_table())]
    assert table1 == ["development", "development:train", "development:val", "development:test",
                      "external:Site 2", "external:s3", "external:all", "prospective", "collaboration"]
    assert cohort_label("external:Site 2") == "External: Site 2"
    assert cohort_label("development:test") == cohort_label("test") == "Development: internal test"
    assert cohort_label("external-site-2", "Site 2") == "External: Site 2"     # Table 2's keys read too


def test_a_study_without_splits_is_cut_by_cohort():
    table = _table().drop(columns=["split", "collaboration"])
    assert [p.key for p in evaluation_parts(table) if len(p.rows)] == ["external-site-2", "external-s3",
                                                                         "external", "prospective"]
    assert [p.key for p in development_parts(table)] == ["development"]


def test_sites_sharing_a_file_name_are_refused():
    table = _table()
    table.loc[4, "site"] = "site-2"
    assert slug("Site 2") == slug("site-2")
    with pytest.raises(VcfnetError, match="share the file name"):
        evaluation_parts(table)
