"""Simulation study: do the 95% intervals cover the true AUC about 95% of the time, and does the patient
(cluster) bootstrap widen the interval when vertebrae of one patient are correlated?

Binormal model: negatives ~ N(0, 1), positives ~ N(d, 1), so the true AUC is Phi(d / sqrt(2)).
For the clustered case each patient has 4 vertebrae that mostly share one class (a patient "type",
each vertebra flipped with probability 0.1: one patient's fractures tend to be alike) and a patient
effect u ~ N(0, s_u^2) added to all of them. A positive and a negative from different patients
differ by N(d, 2 (1 + s_u^2)): true AUC Phi(d / sqrt(2 (1 + s_u^2))). (With class independent of
patient the shared u shifts a patient's positives and negatives alike and largely cancels.)
Coverage of R repetitions has a binomial standard error of about 0.011 at R = 400.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from vcfnet.stats import roc_auc_ci

pytestmark = pytest.mark.slow


def covers(result, truth: float) -> bool:
    return result.ci_low <= truth <= result.ci_high


def test_delong_and_bootstrap_intervals_cover_the_true_auc():
    d, n_pos, n_neg, reps = 1.2, 60, 90, 400
    truth = norm.cdf(d / np.sqrt(2))  # 0.80
    rng = np.random.default_rng(2024)
    hits = {"delong": 0, "bootstrap": 0}
    for rep in range(reps):
        y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
        s = np.r_[rng.normal(d, 1, n_pos), rng.normal(0, 1, n_neg)]
        hits["delong"] += covers(roc_auc_ci(y, s), truth)
        hits["bootstrap"] += covers(roc_auc_ci(y, s, method="bootstrap", n_boot=500, seed=rep), truth)
    coverage = {k: v / reps for k, v in hits.items()}
    print(f"coverage of the true AUC {truth:.3f} over {reps} data sets: {coverage}")
    assert 0.91 <= coverage["delong"] <= 0.98, coverage
    assert 0.91 <= coverage["bootstrap"] <= 0.98, coverage  # percentile bootstrap runs slightly narrow


def test_patient_bootstrap_is_wider_when_vertebrae_of_a_patient_are_correlated():
    d, s_u, n_patients, per_patient, reps = 1.5, 1.0, 40, 4, 300
    truth = norm.cdf(d / np.sqrt(2 * (1 + s_u ** 2)))
    rng = np.random.default_rng(7)
    groups = np.repeat(np.arange(n_patients), per_patient)
    widths, hits = {"patient": [], "vertebra": []}, {"patient": 0, "vertebra": 0}
    for rep in range(reps):
        patient_type = rng.random(n_patients) < 0.4
        y = (patient_type[groups] ^ (rng.random(groups.size) < 0.1)).astype(int)
        s = d * y + rng.normal(0, s_u, n_patients)[groups] + rng.normal(0, 1, groups.size)
        for name, g in (("patient", groups), ("vertebra", None)):
            r = roc_auc_ci(y, s, method="bootstrap", groups=g, n_boot=400, seed=rep)
            widths[name].append(r.ci_high - r.ci_low)
            hits[name] += covers(r, truth)
    ratio = np.mean(widths["patient"]) / np.mean(widths["vertebra"])
    coverage = {k: v / reps for k, v in hits.items()}
    print(f"patient/vertebra width ratio {ratio:.2f}; coverage of {truth:.3f}: {coverage}")
    assert ratio > 1.2
    assert np.mean(np.array(widths["patient"]) > np.array(widths["vertebra"])) > 0.9
    # The vertebra bootstrap treats correlated vertebrae as independent and under-covers.
    assert coverage["patient"] >= 0.87 and coverage["vertebra"] < coverage["patient"] - 0.04
