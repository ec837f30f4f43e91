"""The report's "Clinical information and referral" section: table rows and sentences from
``metrics.json`` (``clinical_comparison`` and ``selective`` of each cohort, see
``vcfnet.report.clinical``). Formatting only."""
from __future__ import annotations

from typing import Any

from vcfnet.labels import CLASSES
from vcfnet.report.clinical_figures import MODEL_LABEL
from vcfnet.report.figures import fmt_ci


def _p(d: dict | None) -> str:
    if not d or d.get("p_value") is None:
        return "p not estimable"
    p = d["p_value"]
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _auc_cell(d: dict | None) -> dict[str, str]:
    if not d or d.get("auc_a") is None:
        return {"image": "not estimable", "clinical": "not estimable", "p": ""}
    return {"image": f"{d['auc_b']:.3f}", "clinical": f"{d['auc_a']:.3f}", "diff": f"{d['diff']:+.3f}", "p": _p(d)}


def comparison_rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in m["cohorts"]:
        comp = c.get("clinical_comparison")
        if not comp:
            continue
        acc = comp["accuracy"]
        sens = comp.get("pathological_at_image_specificity")
        rows.append({
            "name": c["name"], "n": f"{c['n_patients']} / {c['n_vertebrae']}",
            "auc": {cls: _auc_cell(comp["auc"].get(cls)) for cls in CLASSES},
            "acc_image": fmt_ci(acc["image"], digits=3), "acc_clinical": fmt_ci(acc["clinical"], digits=3),
            "acc_p": _p(acc["mcnemar"]),
            "sens": _sens_cell(sens)})
    return rows


def _sens_cell(s: dict | None) -> dict[str, str]:
    if not s:
        return {"spec": "not estimable", "image": "", "clinical": "", "p": ""}
    return {"spec": f"{s['image_specificity']:.3f}", "image": fmt_ci(s["image"]["sensitivity"], digits=2),
            "clinical": fmt_ci(s["clinical"]["sensitivity"], digits=2), "p": _p(s["mcnemar_on_positives"]),
            "n_pos": str(s["n_pos"])}


def referral_rows(m: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in m["cohorts"]:
        sel = c.get("selective")
        if not sel:
            continue
        for i, (name, s) in enumerate(sel["models"].items()):
            ref = s.get("referral") or {}
            per = ref.get("per_class") or {}
            rows.append({
                "name": c["name"] if i == 0 else "", "first": i == 0, "model": MODEL_LABEL.get(name, name),
                "aurc": fmt_ci({"estimate": s["aurc"].get("aurc"), "ci_low": s["aurc"].get("ci_low"),
                                "ci_high": s["aurc"].get("ci_high")}, digits=3),
                "accuracy_all": _share(ref.get("accuracy_all")),
                "refer": _count_rate(ref), "answered": fmt_ci(ref.get("answered_accuracy"), digits=3),
                "per_class": {cls: {"refer": _count_rate(per.get(cls) or {}),
                                    "answered": fmt_ci((per.get(cls) or {}).get("answered_accuracy"), digits=2)}
                              for cls in CLASSES}})
    return rows


def _share(x: float | None) -> str:
    return "not estimable" if x is None else f"{x:.3f}"


def _count_rate(ref: dict) -> str:
    if not ref or ref.get("refer_rate") is None:
        return "not estimable"
    return f"{ref['n_referred']}/{ref['n']} ({ref['refer_rate']['estimate']:.0%})"


def rule_sentence(card) -> str:
    """What the model card says about the referral rule(s) and the clinical model."""
    if card is None:
        return "No checkpoint was given to the report, so the referral rule is not shown here."
    if not card.referral:
        return ("The checkpoint has no referral rule (fit one with `vcfnet calibrate`); every vertebra is "
                "answered, so the referral columns show none referred.")
    from vcfnet.model.answer import rule_text

    parts = [f"{MODEL_LABEL.get('image+clinical' if k == 'clinical' else k)} model: refer when its top-class "
             f"probability is below {r.threshold:.3f} (the rule {rule_text(r)}; on that split {r.refer_rate:.0%} "
             f"were referred)" for k, r in card.referral.items()]
    text = "Referral rule, fitted on the validation split only: " + "; ".join(parts) + "."
    if card.clinical is not None:
        cols = ", ".join(f"{c.name} ({c.kind}" + (f", training range {c.low:g}-{c.high:g})" if c.kind == "numeric"
                                                  else f", levels {'/'.join(c.levels)})")
                         for c in card.clinical.encoding.columns)
        text += (f" The image+clinical model is a multinomial logistic stacker on the image model's calibrated "
                 f"log probabilities and {cols}, each with a missing indicator; fitted on "
                 f"{card.clinical.n_vertebrae} validation vertebrae of {card.clinical.n_patients} patients "
                 f"(L2 {card.clinical.params.get('l2')} chosen by patient-grouped cross-validation).")
    return text


def clinical_section(eval_dir, m: dict[str, Any], card, figure) -> dict[str, Any] | None:
    """The section's context, or None when no cohort has the numbers (an older metrics.json)."""
    if not any(c.get("selective") for c in m["cohorts"]):
        return None
    figures = []
    for c in m["cohorts"]:
        sel = c.get("selective")
        if not sel:
            continue
        alt = f"Risk-coverage curve for {c['name']}: " + "; ".join(
            f"{MODEL_LABEL.get(k, k)} AURC {fmt_ci({'estimate': s['aurc'].get('aurc')}, digits=3)}"
            for k, s in sel["models"].items())
        f = figure(eval_dir, f"risk_coverage_{c['key']}", alt,
                   caption="Accuracy of the answered vertebrae when the most confident share is answered; bars: "
                           "Wilson intervals; large marker: the card's referral threshold.")
        if f:
            figures.append(f)
    return {"comparison": comparison_rows(m), "referral": referral_rows(m), "rule": rule_sentence(card),
            "figures": figures}
