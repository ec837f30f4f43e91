"""The report's "Detection without boxes" section and ``detection.csv``: table rows and figure captions from
``metrics.json``'s ``detection`` (see :mod:`vcfnet.report.detection`). Formatting only."""
from __future__ import annotations

from typing import Any

import pandas as pd

from vcfnet.labels import CLASSES
from vcfnet.report.figures import fmt_ci

GRADE_NAMES = ("0", "1", "2", "3")


def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _s(x: float) -> str:
    """Signed, 3 decimals, no negative zero."""
    return f"{x + 0.0:+.3f}" if abs(x) >= 5e-4 else "0.000"


def _ba(ba: dict[str, Any]) -> dict[str, str]:
    """Bland-Altman cell: bias [CI], the limits of agreement, and the limits' CIs."""
    if not ba or ba.get("bias") is None:
        return {"bias": "n/a", "loa": "", "loa_ci": ""}
    if ba.get("loa_low") is None:
        return {"bias": f"bias {_s(ba['bias'])} (n = {ba['n']})", "loa": "", "loa_ci": ""}
    return {"bias": f"bias {_s(ba['bias'])} [{_s(ba['bias_ci_low'])}, {_s(ba['bias_ci_high'])}]",
            "loa": f"LoA {_s(ba['loa_low'])} to {_s(ba['loa_high'])}",
            "loa_ci": f"[{_s(ba['loa_low_ci_low'])}, {_s(ba['loa_low_ci_high'])}] / "
                      f"[{_s(ba['loa_high_ci_low'])}, {_s(ba['loa_high_ci_high'])}]"}


def _kappa(c: dict[str, Any], w: str) -> str:
    lo, hi = c[f"genant_kappa_{w}_ci"]
    return fmt_ci({"estimate": c[f"genant_kappa_{w}"], "ci_low": lo, "ci_high": hi}, digits=2)


def detection_rows(detection: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per cohort for the report's two detection tables."""
    rows = []
    for c in detection["cohorts"]:
        at = c["sensitivity_at_fp_fractured"]
        unit = c["landmark_error_unit"]
        rows.append({
            "name": c["name"], "films": f"{c['n_films']} ({c['n_patients']})",
            "bodies": f"{c['bodies']} ({c['fractured_bodies']})",
            "sens_fractured": [_f(at[str(fp)], 2) for fp in c["fp_points"]],
            "sens_all": _f(c["sensitivity_at_0.5fp_all"], 2), "ap50": _f(c["ap50"]), "map50": _f(c["map50_levels"]),
            "matched": str(c["matched_bodies"]), "level_accuracy": _f(c["level_accuracy"]),
            "uncertain": _f(c["level_uncertain_share"]),
            "level_usual": _f(c.get("level_accuracy_usual_count")),
            "flags": (f"{c['transitional_films_flagged']} of {c['transitional_films']} / "
                      f"{c['usual_films_flagged']} of {c['usual_films']}") if "usual_films" in c else "n/a",
            "landmark": "n/a" if c["landmark_error_median"] is None else
                        f"{_f(c['landmark_error_median'], 1)} / {_f(c['landmark_error_mean'], 1)} / "
                        f"{_f(c['landmark_error_p90'], 1)} {unit}",
            "ba_reduction": _ba(c["bland_altman"]["reduction"]), "ba_ap": _ba(c["bland_altman"]["ratio_ap"]),
            "kappa_linear": _kappa(c, "linear"), "kappa_quadratic": _kappa(c, "quadratic"),
            "genant_pairs": c["genant_pairs"]})
    return rows


def end_to_end_rows(detection: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per cohort: the end-to-end result beside the manual boxes'."""
    rows = []
    for c in detection["cohorts"]:
        e = c["end_to_end"]
        auto, man = e["automatic"], e["manual"] or {}
        o = e["outcomes"]
        p = (e.get("mcnemar") or {}).get("p_value")
        rows.append({
            "name": c["name"], "n": e["n"],
            "outcomes": f"{o['classified']} / {o['detected']} / {o['missed']}",
            "auto": fmt_ci(auto["accuracy"], digits=3), "manual": fmt_ci(man.get("accuracy"), digits=3),
            "p": "n/a" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}"),
            "sens": {cls: (fmt_ci((auto["sensitivity"] or {}).get(cls), digits=2),
                           fmt_ci((man.get("sensitivity") or {}).get(cls), digits=2)) for cls in CLASSES},
            "false_calls": f"{e['false_calls']} ({e['false_calls_per_image']:.2f} per image)"})
    return rows


def genant_tables(detection: dict[str, Any]) -> list[dict[str, Any]]:
    """The Genant confusion table of each cohort (rows: grade on the annotated landmarks)."""
    return [{"name": c["name"], "n": c["genant_pairs"], "rows": c["genant_confusion"]}
            for c in detection["cohorts"] if c["kind"] != "external"]


def detection_frame(detection: dict[str, Any]) -> pd.DataFrame:
    """``detection.csv``: one row per cohort, numbers only."""
    rows = []
    for c in detection["cohorts"]:
        row: dict[str, Any] = {"cohort": c["key"], "name": c["name"], "films": c["n_films"],
                               "patients": c["n_patients"], "bodies": c["bodies"],
                               "fractured_bodies": c["fractured_bodies"]}
        for name in ("all", "fractured"):
            row.update({f"sensitivity_{name}_at_{fp}fp": v for fp, v in c[f"sensitivity_at_fp_{name}"].items()})
        for k in ("ap50", "map50_levels", "matched_bodies", "level_accuracy", "level_uncertain_share",
                  "level_accuracy_usual_count", "transitional_films", "transitional_films_flagged", "usual_films",
                  "usual_films_flagged",
                  "landmark_error_median", "landmark_error_mean", "landmark_error_p90", "landmark_error_unit",
                  "genant_kappa_linear", "genant_kappa_quadratic", "genant_pairs"):
            row[k] = c.get(k)
        for key, ba in c["bland_altman"].items():
            row.update({f"bland_altman_{key}_{k}": ba.get(k) for k in ("bias", "loa_low", "loa_high", "n")})
        e = c["end_to_end"]
        row.update({"e2e_n": e["n"], **{f"e2e_{k}": v for k, v in e["outcomes"].items()},
                    "e2e_accuracy": (e["automatic"]["accuracy"] or {}).get("estimate"),
                    "manual_accuracy": ((e["manual"] or {}).get("accuracy") or {}).get("estimate"),
                    "e2e_false_calls": e["false_calls"]})
        rows.append(row)
    return pd.DataFrame(rows)


def detection_section(eval_dir, m: dict[str, Any], figure) -> dict[str, Any] | None:
    """The section's context, or None when the evaluation has no detection (no detector was given)."""
    d = m.get("detection")
    if not d or not d.get("cohorts"):
        return None
    s = d["settings"]
    fps = d["cohorts"][0]["fp_points"]
    froc_alt = "FROC curves of the fractured vertebrae per cohort. " + "; ".join(
        f"{c['name']}: sensitivity {_f(c['sensitivity_at_0.5fp_fractured'], 2)} at 0.5 false positives per image"
        for c in d["cohorts"])
    ba = d["pooled"]["bland_altman"]
    ba_alt = ("Bland-Altman plots of the height ratios, detected minus annotated landmarks, all evaluated films: "
              + "; ".join(f"{k}: bias {_f(v.get('bias'))}, limits {_f(v.get('loa_low'))} to {_f(v.get('loa_high'))}"
                          for k, v in ba.items()))
    figures = [figure(eval_dir, "froc", froc_alt,
                      caption="Sensitivity for fractured vertebrae (a detection matched at IoU ≥ 0.5) against "
                              "false positives per image; detections of intact bodies are neither."),
               figure(eval_dir, "bland_altman", ba_alt,
                      caption="Each point: one matched body at the operating score; shaded bands: 95% CI of the "
                              "bias and of each limit of agreement (Bland and Altman 1999).")]
    return {"settings": s, "fps": fps, "rows": detection_rows(d), "e2e": end_to_end_rows(d),
            "genant": genant_tables(d), "grades": GRADE_NAMES, "figures": [f for f in figures if f],
            "pooled": d["pooled"], "classes": CLASSES}
