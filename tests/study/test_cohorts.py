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


def test_table1_lists_table2s_cohorts_under_the_same_keys():
    from vcfnet.report.cohorts import select_cohorts

    table = _table()
    table2 = [c.key for c in select_cohorts(table)]
    table1 = [key for key, _ in cohort_groups(table)]
    assert table2 == ["test", "external-site-2", "external-s3", "external", "prospective", "collaboration"]
    assert table1 == ["development", "train", "val"] + table2
    assert cohort_label("external-site-2", "Site 2") == "External: Site 2"
    assert cohort_label("test") == "Development: internal test"


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
