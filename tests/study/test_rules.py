"""Rules the study applies in more than one place exist once: the prospective-cohort rule and the
site-scoped patient pseudonym."""
from __future__ import annotations

import numpy as np
import pandas as pd

from vcfnet.io.deid import Pseudonymizer
from vcfnet.study.ingest import IngestOptions, _cohorts
from vcfnet.study.rows import cohort_of

KEY = b"k" * 32


def test_prospective_rule_for_one_image_and_for_a_table_agree():
    dates = ["2019-12-31", "2020-01-01", "2021-06-30", "", None, float("nan")]
    opts = IngestOptions(site="s1", cohort="development", prospective_after="2020-01-01")
    table = _cohorts(pd.Series(dates, dtype=object), opts)
    one = [cohort_of("development", d if isinstance(d, str) else "", "2020-01-01") for d in dates]
    assert list(table) == one == ["development", "prospective", "prospective", "development", "development",
                                  "development"]
    assert cohort_of("external", "2021-01-01", "2020-01-01") == "external"   # only development moves
    assert cohort_of("development", "2021-01-01", None) == "development"
    assert isinstance(table, np.ndarray)


def test_site_scoped_pseudonym_is_one_rule():
    pseudo = Pseudonymizer(KEY)
    assert pseudo.site_patient("s1", "12345") == pseudo.patient("s1|12345")
    assert pseudo.site_patient("s1", "12345") != pseudo.site_patient("s2", "12345")   # two hospitals, two people
