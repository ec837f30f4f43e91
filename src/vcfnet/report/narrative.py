"""The words of the report: summary, comparison rows, limitations, methods, model card.

Pure functions of ``metrics.json`` (and the model card); every sentence that quotes a number names
the cohort and the patients/vertebrae it rests on.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from vcfnet.labels import CLASSES
from vcfnet.report.figures import _missing, fmt_ci

if TYPE_CHECKING:
    from vcfnet.model.card import ModelCard

SMALL_COHORT = 100    # vertebrae; below this a cohort's intervals are called wide
SMALL_CLASS = 10      # vertebrae of one class


def n_text(c: dict) -> str:
    return f"{c['n_patients']} patients, {c['n_vertebrae']} vertebrae"


def fmt_diff(d: dict | None, digits: int = 3) -> str:
    """``+0.012 [−0.050 to +0.074]`` (true minus signs); ``not estimable`` when missing."""
    est, ci = fmt_diff_parts(d, digits)
    return f"{est} {ci}".strip()


def fmt_diff_parts(d: dict | None, digits: int = 3) -> tuple[str, str]:
    if not d or _missing(d.get("diff")):
        return "not estimable", ""
    sign = lambda x: f"{x:+.{digits}f}".replace("-", "\u2212")  # noqa: E731
    ci = ""
    if not (_missing(d.get("ci_low")) or _missing(d.get("ci_high"))):
        ci = f"[{sign(d['ci_low'])} to {sign(d['ci_high'])}]"
    return sign(d["diff"]), ci


def fmt_p(d: dict | None) -> str:
    p = (d or {}).get("p_value")
    if p is None or _missing(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def summary_paragraphs(m: dict[str, Any]) -> list[str]:
    cohorts = m["cohorts"]
    out = [f"The model was evaluated on {len(cohorts)} cohort(s): "
           + "; ".join(c["name"] for c in cohorts) + " (sizes under Table 1)."]
    for c in cohorts[:1]:  # the reference; the others are in Table 2 and the comparisons below
        aucs = ", ".join(f"{cls} {fmt_ci(c['classes'][cls]['auc'], 'auc')}" for cls in CLASSES)
        out.append(f"{c['name']} ({n_text(c)}): accuracy {fmt_ci(c['accuracy'], digits=3)}; "
                   f"one-vs-rest AUC {aucs}.")
    ext = [c for c in cohorts if c["kind"] == "external-site"]
    if len(ext) > 1:
        known = [c for c in ext if not _missing(c["accuracy"].get("estimate"))]
        lo = min(known, key=lambda c: c["accuracy"]["estimate"])
        hi = max(known, key=lambda c: c["accuracy"]["estimate"])
        out.append(f"Across the {len(ext)} external sites, accuracy ranged from "
                   f"{lo['accuracy']['estimate']:.3f} ({lo['name']}, {n_text(lo)}) to "
                   f"{hi['accuracy']['estimate']:.3f} ({hi['name']}, {n_text(hi)}).")
    for comp in m["comparisons"]:
        if comp["cohort"] in ("external", "prospective") or (
                comp["cohort"].startswith("external-") and len(ext) == 1):
            out.append(f"{comp['name']} minus internal test: accuracy {fmt_diff(comp['accuracy'])}, "
                       f"macro AUC {fmt_diff(comp['macro_auc'])} (unpaired; see Table 3).")
    return out


def comparison_rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Table 3 cells: each a (difference, interval, p) triple of strings."""
    def cell(d, with_p=True):
        est, ci = fmt_diff_parts(d)
        return {"est": est, "ci": ci, "p": fmt_p(d) if with_p and ci else ""}
    return [{"name": c["name"], "n": n_text(c), "acc": cell(c["accuracy"], with_p=False),
             "macro": cell(c["macro_auc"]), "auc_cells": [cell(c["auc"][cls]) for cls in CLASSES]}
            for c in m["comparisons"]]


def limitations(m: dict[str, Any], *, synthetic: bool | None) -> list[str]:
    out = []
    if synthetic:
        out.append("All data are synthetic (made by the vcfnet study generator): the numbers show that the "
                   "pipeline works, not how the model would perform on real radiographs.")
    elif synthetic is None:
        out.append("The study directory was not given (--study), so this report cannot say whether the "
                   "data are real or synthetic.")
    small = []
    for c in m["cohorts"]:
        few = [f"{c['class_counts'][k]} {k}" for k in CLASSES if 0 < c["class_counts"][k] < SMALL_CLASS]
        if c["n_vertebrae"] < SMALL_COHORT or few:
            small.append(f"{c['name']} ({n_text(c)}{'; only ' + ', '.join(few) if few else ''})")
    if small:
        out.append(f"Small cohorts (under {SMALL_COHORT} vertebrae, or under {SMALL_CLASS} of a class): "
                   + "; ".join(small) + ". Their intervals are wide and their per-class estimates imprecise.")
    out.extend(n for c in m["cohorts"] for n in c.get("not_estimable", []))
    if m["settings"].get("cluster_bootstrap"):
        out.append("AUC intervals resample whole patients; accuracy, sensitivity and specificity "
                   "intervals (Wilson) still treat vertebrae as independent and may be too narrow.")
    else:
        out.append("Several vertebrae of one patient are not independent, but the intervals (DeLong, "
                   "Wilson) treat them as independent and may be too narrow; re-run `vcfnet evaluate "
                   "--bootstrap-patients` for patient-level AUC intervals.")
    if any(c["kind"] == "collaboration" for c in m["cohorts"]):
        out.append("The collaboration set is a random subset of the external cohorts, not an "
                   "independent sample.")
    out.append("vcfnet is research software, not a medical device; it classifies already boxed "
               "fractures and does not detect them. Do not use it for clinical decisions.")
    return out


def methods(m: dict[str, Any]) -> list[str]:
    s = m["settings"]
    pct = f"{round(100 * (1 - s['alpha']))}%"
    auc = (f"AUC intervals: percentile bootstrap resampling whole patients ({s.get('n_boot')} "
           f"replicates, seed {s.get('seed')})" if s.get("cluster_bootstrap") else
           "AUC intervals: DeLong's variance with a normal interval clipped to [0, 1] (as pROC's ci.auc)")
    from vcfnet.report.compare import ACCURACY_METHOD, AUC_METHOD, MACRO_AUC_METHOD
    return [*_clinical_methods(m),
        "Each vertebra's predicted class is the most probable of the three; AUCs are one class versus "
        "the other two, computed from that class's probability.",
        f"{auc}; {pct} intervals throughout.",
        "Accuracy, sensitivity, specificity, PPV and NPV: Wilson score intervals.",
        "Macro AUC: unweighted mean of the three class AUCs; not estimable when any class AUC is not.",
        f"External versus internal (unpaired, the cohorts share no patients): accuracy by {ACCURACY_METHOD}; "
        f"class AUCs by {AUC_METHOD}; macro AUC by {MACRO_AUC_METHOD}.",
        f"Calibration: multiclass Brier score (0 = perfect, 2 = worst); top-label expected calibration "
        f"error and reliability diagram over {s.get('calibration_bins', 10)} equal-width bins of the "
        f"predicted class's probability.",
        "Every estimate and interval except the between-cohort differences comes from vcfnet.stats; "
        "metrics.json in the evaluation folder holds every number.",
    ]


def _clinical_methods(m: dict[str, Any]) -> list[str]:
    """The methods of the clinical-information and referral section, when the metrics have it."""
    cohorts = m.get("cohorts", [])
    out = []
    if any(c.get("clinical_comparison") for c in cohorts):
        out.append("Image only versus image + clinical (Table 7), paired on the same vertebrae: per-class AUC by "
                   "the paired DeLong test; accuracy by McNemar's test (exact below 25 discordant pairs); "
                   "pathological sensitivity of each model at its threshold with the highest sensitivity among "
                   "those keeping the image model's specificity, with McNemar's test on the pathological vertebrae.")
    if any(c.get("selective") for c in cohorts):
        out.append("Referral (Table 8): risk-coverage curve answering the most confident vertebrae first (top-class "
                   "probability; ties together), AURC = mean risk over the coverage steps with a percentile "
                   "bootstrap interval resampling whole patients (500 replicates); referral rate and answered "
                   "accuracy at the model card's threshold (fitted on the validation split) with Wilson intervals.")
    return out


def card_items(card: ModelCard) -> list[tuple[str, Markup]]:
    """(label, HTML) pairs of the model card's fields in schema order, intended use first; nested
    values as small tables. Fields outside the schema (``vcfnet.model.card``) are not shown."""
    from vcfnet.model.card import ModelCard

    values = card.to_dict()
    keys = ["intended_use"] + [k for k in ModelCard.model_fields if k != "intended_use"]
    return [(k.replace("_", " "), _value_html(values[k])) for k in keys]


def _value_html(v: Any, depth: int = 0) -> Markup:
    if isinstance(v, dict):
        if not v:
            return Markup("—")
        if depth >= 2:
            return escape(json.dumps(v, default=str))
        rows = Markup("").join(Markup("<tr><th scope='row'>{}</th><td>{}</td></tr>").format(k, _value_html(x, depth + 1))
                       for k, x in v.items())
        return Markup("<table>{}</table>").format(rows)
    if isinstance(v, (list, tuple)):
        if all(not isinstance(x, (dict, list)) for x in v):
            return escape(", ".join(str(x) for x in v))
        return escape(json.dumps(v, default=str))
    if v is None:
        return Markup("none")
    if isinstance(v, float):
        return escape(f"{v:.4g}")
    return escape(str(v))


def temperature_text(card: ModelCard | None) -> str:
    if card is None:
        return "No checkpoint was given, so whether temperature scaling was applied is not shown."
    t = card.temperature
    if t is None:
        return ("No temperature scaling is stored in the model card: the probabilities are the network's "
                "softmax outputs. `vcfnet calibrate RUN/best --study STUDY` fits a temperature on the "
                "validation split only and stores it in the card.")
    cal = card.calibration
    if cal is not None:
        where = (f"fitted on the {cal.split} split ({cal.n_patients} patients, "
                 f"{cal.n_vertebrae} vertebrae), never on a test cohort")
    else:
        where = "but the card does not record where it was fitted"
    return (f"The model card stores a temperature T = {t:.3g}, {where}; the predictor divides the "
            f"logits by T before the softmax.")
