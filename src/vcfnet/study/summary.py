"""Table 1 of the study: who is in each cohort.

One row per part of the study (development train / val / test, each external site, the external
cohorts together, prospective, the collaboration set: :mod:`vcfnet.study.cohorts`, Table 2's list): patients, vertebrae per class, age, sex, sites.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vcfnet.labels import CLASSES
from vcfnet.study.cohorts import TABLE1_KEYS, development_parts, evaluation_parts, name_of, site_name


def cohort_groups(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(Table 1 key, rows) for each part of the study, in the order a paper lists them: the development
    cohort and its training / validation rows, then the evaluation cohorts of :mod:`vcfnet.study.cohorts`
    (Table 2's cohorts, under Table 1's keys ``development:test``, ``external:<site>``, ``external:all``,
    ...); empty parts are left out."""
    return [(p.table1_key, p.rows) for p in development_parts(table) + evaluation_parts(table) if len(p.rows)]


def study_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1: one row per cohort group of :func:`cohort_groups`."""
    rows = []
    for name, g in cohort_groups(table):
        patients = g.drop_duplicates("patient_id")
        age = pd.to_numeric(patients["age"], errors="coerce")
        known_sex = patients[patients["sex"].isin(["F", "M"])]
        row: dict[str, Any] = {"cohort": name, "sites": ", ".join(sorted(g["site"].unique())),
                               "patients": int(len(patients)), "vertebrae": int(len(g))}
        for c in CLASSES:
            row[c] = int((g["label"] == c).sum())
        row["age_mean"] = float(age.mean()) if age.notna().any() else np.nan
        row["age_sd"] = float(age.std()) if age.notna().sum() > 1 else np.nan
        row["female"] = int((known_sex["sex"] == "F").sum())
        row["female_pct"] = 100.0 * row["female"] / len(known_sex) if len(known_sex) else np.nan
        dates = g["exam_date"][g["exam_date"] != ""]
        row["first_exam"] = dates.min() if len(dates) else ""
        row["last_exam"] = dates.max() if len(dates) else ""
        rows.append(row)
    return pd.DataFrame(rows)


def cohort_label(key: str, sites: str = "") -> str:
    """What a reader sees for a cohort key of :func:`cohort_groups` (the CSV keeps the keys): the
    cohort's one name (:attr:`vcfnet.study.cohorts.Part.table1_name`). Table 2's keys (``test``,
    ``external-<slug>`` with the row's ``sites``) are read too."""
    if key in TABLE1_KEYS:
        return name_of(TABLE1_KEYS[key])
    if key.startswith("external-") and sites:
        return site_name(sites)
    return name_of(key)


def format_summary(summary: pd.DataFrame) -> list[list[str]]:
    """Human-readable cells (``n (%)``, ``mean ± SD``) for a terminal or HTML Table 1."""
    out = []
    for _, r in summary.iterrows():
        n = r["vertebrae"]
        cells = [cohort_label(r["cohort"], r["sites"]), r["sites"], str(r["patients"]), str(n)]
        cells += [f"{r[c]} ({100 * r[c] / n:.0f}%)" if n else "0" for c in CLASSES]
        cells.append("—" if np.isnan(r["age_mean"]) else
                     f"{r['age_mean']:.1f} ± {r['age_sd']:.1f}" if not np.isnan(r["age_sd"]) else f"{r['age_mean']:.1f}")
        cells.append("—" if np.isnan(r["female_pct"]) else f"{r['female']} ({r['female_pct']:.0f}%)")
        out.append(cells)
    return out


SUMMARY_HEADERS = ["Cohort", "Sites", "Patients", "Vertebrae", *[c.capitalize() for c in CLASSES],
                   "Age (mean ± SD)", "Female"]
