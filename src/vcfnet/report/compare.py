"""Each cohort against the internal test set: differences in accuracy and AUC with intervals.

The cohorts share no patients with the internal test set (external sites, later prospective
patients, a subset of the external cohorts), so the comparison is **unpaired**:

* accuracy: Newcombe's hybrid score interval for a difference of two independent proportions
  (Newcombe 1998, method 10), built from the two Wilson intervals that ``vcfnet.stats.proportion_ci``
  gives; no standard error is needed;
* per-class AUC: independent normal approximation, ``diff ± z * sqrt(se_a² + se_b²)`` from the two
  cohorts' standard errors (DeLong, or the patient bootstrap's when that was chosen), with a
  two-sided p-value;
* macro-average AUC: the same, but ``vcfnet.stats`` gives the macro AUC no standard error, so each
  cohort's is bounded above by the mean of its class standard errors (exact if the three class AUCs
  were perfectly correlated): a conservative, wider-than-needed interval, labelled as such.

These are the only numbers in ``vcfnet.report`` not returned by ``vcfnet.stats`` directly; both are
arithmetic on ``vcfnet.stats`` results.
"""
from __future__ import annotations

import math
from typing import Any

from vcfnet.labels import CLASSES

ACCURACY_METHOD = ("Newcombe hybrid score interval for the difference of two independent proportions, "
                   "from the two Wilson intervals")
AUC_METHOD = ("independent normal approximation from the two cohorts' AUC standard errors: "
              "diff ± z·sqrt(se₁² + se₂²)")
MACRO_AUC_METHOD = ("conservative independent normal approximation: each cohort's macro-AUC standard "
                    "error bounded above by the mean of its three class-AUC standard errors")


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def newcombe_difference(a: dict | None, b: dict | None) -> dict[str, Any]:
    """``a - b`` for two independent proportions given as Wilson-interval dicts (same alpha)."""
    nan = float("nan")
    keys = ("estimate", "ci_low", "ci_high")
    if not (a and b and _finite(*(a.get(k) for k in keys), *(b.get(k) for k in keys))):
        return {"diff": nan, "ci_low": nan, "ci_high": nan, "method": ACCURACY_METHOD}
    p1, l1, u1 = (a[k] for k in keys)
    p2, l2, u2 = (b[k] for k in keys)
    d = p1 - p2
    return {"diff": d, "ci_low": d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            "ci_high": d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2), "method": ACCURACY_METHOD}


def normal_difference(a: dict | None, b: dict | None, *, alpha: float = 0.05, se_key: str = "se",
                      method: str = AUC_METHOD) -> dict[str, Any]:
    """``a - b`` for two independent AUC dicts (``auc`` and ``se_key``): normal interval, p-value."""
    from scipy.stats import norm

    nan = float("nan")
    if not (a and b and _finite(a.get("auc"), a.get(se_key), b.get("auc"), b.get(se_key))):
        return {"diff": nan, "se": nan, "ci_low": nan, "ci_high": nan, "z": nan, "p_value": nan,
                "method": method}
    d = a["auc"] - b["auc"]
    se = math.sqrt(a[se_key] ** 2 + b[se_key] ** 2)
    z = d / se if se > 0 else nan
    half = float(norm.ppf(1 - alpha / 2)) * se
    p = float(2 * norm.sf(abs(z))) if math.isfinite(z) else nan
    return {"diff": d, "se": se, "ci_low": d - half, "ci_high": d + half, "z": z, "p_value": p,
            "method": method}


def compare_to_internal(cohorts: list[dict[str, Any]], *, alpha: float = 0.05) -> list[dict[str, Any]]:
    """One comparison per non-internal cohort against the internal test cohort (if present)."""
    internal = next((c for c in cohorts if c["kind"] == "internal"), None)
    if internal is None:
        return []
    out = []
    for c in cohorts:
        if c is internal:
            continue
        out.append({
            "cohort": c["key"], "name": c["name"], "reference": internal["key"],
            "n_patients": c["n_patients"], "n_vertebrae": c["n_vertebrae"],
            "reference_n_patients": internal["n_patients"], "reference_n_vertebrae": internal["n_vertebrae"],
            "accuracy": newcombe_difference(c["accuracy"], internal["accuracy"]),
            "macro_auc": normal_difference(c["macro_auc"], internal["macro_auc"], alpha=alpha,
                                           se_key="se_bound", method=MACRO_AUC_METHOD),
            "auc": {cls: normal_difference(c["classes"][cls]["auc"], internal["classes"][cls]["auc"],
                                           alpha=alpha) for cls in CLASSES},
            "paired": False,
        })
    return out
