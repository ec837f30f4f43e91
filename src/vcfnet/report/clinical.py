"""Per cohort: the image-only versus image+clinical comparison, and referral (selective prediction).

Both read the predictions table only. A table written by a checkpoint with an image+clinical model
carries the image model's answer on the same rows (``image_p_*``, ``image_refer``), so every
comparison is paired, vertebra by vertebra:

* ``comparison(cohort)`` -- per class the two AUCs and the **paired DeLong** test on the same
  vertebrae, accuracy of both and **McNemar**, and the pathological sensitivity of both models at the
  image-only model's specificity (its argmax operating point), with McNemar on the same positives.
* ``selective(cohort)`` -- for the answering model (and the image model beside it): the risk-coverage
  curve, its area (AURC, patient bootstrap interval), answered accuracy with Wilson intervals at fixed
  coverages, and at the card's threshold (the ``refer`` column) the referral rate and the accuracy
  of the answered part, overall and per true class.

Numbers come from ``vcfnet.stats``; nothing is fitted here.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from vcfnet.labels import CLASSES

IMAGE_PROBA = tuple(f"image_p_{c}" for c in CLASSES)
#: Curve points kept in metrics.json per model and cohort (evenly spaced in coverage).
MAX_CURVE_POINTS = 120
N_BOOT_AURC = 500


def has_image_columns(table) -> bool:
    return all(c in table.columns for c in IMAGE_PROBA)


def _image_proba(table) -> np.ndarray:
    p = table[list(IMAGE_PROBA)].apply(lambda s: s.astype(float)).to_numpy(dtype=np.float64)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("image_p_* columns must hold probabilities in [0, 1]")
    return p


def comparison(y: np.ndarray, proba: np.ndarray, image: np.ndarray, *, alpha: float = 0.05) -> dict[str, Any]:
    """Image+clinical (``proba``) against image-only (``image``) on the same vertebrae."""
    from vcfnet.stats import delong_test, mcnemar_test, proportion_ci

    per_class: dict[str, Any] = {}
    for k, cls in enumerate(CLASSES):
        pos = (y == k).astype(int)
        if 0 < pos.sum() < len(pos):
            per_class[cls] = delong_test(pos, proba[:, k], image[:, k], alpha=alpha).to_dict()
        else:
            per_class[cls] = None
    right, right_image = proba.argmax(1) == y, image.argmax(1) == y
    n = len(y)
    return {"auc": per_class,
            "accuracy": {"clinical": proportion_ci(int(right.sum()), n, alpha=alpha).to_dict(),
                         "image": proportion_ci(int(right_image.sum()), n, alpha=alpha).to_dict(),
                         "mcnemar": mcnemar_test(right, right_image).to_dict()},
            "pathological_at_image_specificity": sensitivity_at_specificity(y, proba, image, alpha=alpha)}


def sensitivity_at_specificity(y: np.ndarray, proba: np.ndarray, image: np.ndarray, *, cls: str = "pathological",
                               alpha: float = 0.05) -> dict[str, Any] | None:
    """The class's sensitivity of both models where each keeps the image model's specificity.

    The image model's specificity is that of its own answer (argmax); each model's threshold on its
    ``p_<cls>`` is the one with the highest sensitivity among those keeping specificity >= it.
    """
    from vcfnet.stats import mcnemar_test, proportion_ci

    k = CLASSES.index(cls)
    pos, neg = y == k, y != k
    if not pos.any() or not neg.any():
        return None
    spec = float(np.mean(image.argmax(1)[neg] != k))
    calls = {name: _best_call(p[:, k], pos, neg, spec) for name, p in (("clinical", proba), ("image", image))}
    out: dict[str, Any] = {"class": cls, "image_specificity": spec, "n_pos": int(pos.sum()), "n_neg": int(neg.sum())}
    for name, call in calls.items():
        out[name] = {"threshold": call["threshold"], "specificity": call["specificity"],
                     "sensitivity": proportion_ci(int(call["flag"][pos].sum()), int(pos.sum()), alpha=alpha).to_dict()}
    out["image_argmax_sensitivity"] = float(np.mean(image.argmax(1)[pos] == k))
    out["mcnemar_on_positives"] = mcnemar_test(calls["clinical"]["flag"][pos], calls["image"]["flag"][pos]).to_dict()
    return out


def _best_call(score: np.ndarray, pos: np.ndarray, neg: np.ndarray, spec: float) -> dict[str, Any]:
    best: dict[str, Any] = {"threshold": float("inf"), "specificity": 1.0, "flag": np.zeros(len(score), dtype=bool),
                            "sens": -1.0}
    for t in np.unique(score)[::-1]:
        flag = score >= t
        s = float(np.mean(~flag[neg]))
        if s + 1e-12 < spec:
            break                     # lower thresholds only lose specificity
        sens = float(np.mean(flag[pos]))
        if sens > best["sens"]:
            best = {"threshold": float(t), "specificity": s, "flag": flag, "sens": sens}
    return best


def _thin(curve: dict[str, list]) -> dict[str, list]:
    n = len(curve["coverage"])
    if n <= MAX_CURVE_POINTS:
        return curve
    keep = np.unique(np.r_[np.linspace(0, n - 1, MAX_CURVE_POINTS).round().astype(int), n - 1])
    return {k: [v[i] for i in keep] for k, v in curve.items()}


def _model_selective(y, proba, groups, refer, *, alpha: float, seed: int) -> dict[str, Any]:
    from vcfnet.stats import aurc, coverage_points, referral_summary, risk_coverage_curve

    curve = risk_coverage_curve(y, proba).to_dict()
    out: dict[str, Any] = {"curve": _thin({k: curve[k] for k in ("coverage", "accuracy", "threshold", "n_answered")}),
                           "aurc": aurc(y, proba, groups=groups, n_boot=N_BOOT_AURC, seed=seed, alpha=alpha),
                           "points": coverage_points(y, proba, alpha=alpha), "referral": None}
    if refer is not None:
        summary = referral_summary(y, proba, float("nan"), refer=refer, classes=CLASSES, alpha=alpha)
        summary.pop("threshold")
        out["referral"] = summary
    return out


def selective(table, y: np.ndarray, proba: np.ndarray, *, alpha: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Risk-coverage and referral of the answering model (``model``) and, when present, the image model."""
    groups = table["patient_id"].astype(str).to_numpy()
    refer = table["refer"].astype(int).to_numpy() if "refer" in table.columns else None
    model = str(table["model"].iloc[0]) if "model" in table.columns and len(table) else "image"
    models: dict[str, Any] = {model: _model_selective(y, proba, groups, refer, alpha=alpha, seed=seed)}
    out = {"model": model, "models": models}
    if has_image_columns(table) and model != "image":
        image_refer = table["image_refer"].astype(int).to_numpy() if "image_refer" in table.columns else None
        models["image"] = _model_selective(y, _image_proba(table), groups, image_refer, alpha=alpha,
                                                  seed=seed)
    return out


def clinical_sections(table, y: np.ndarray, proba: np.ndarray, *, alpha: float = 0.05,
                      seed: int = 0) -> dict[str, Any]:
    """The cohort's ``selective`` dict and, with image columns, its ``clinical_comparison``."""
    out: dict[str, Any] = {"selective": selective(table, y, proba, alpha=alpha, seed=seed),
                           "clinical_comparison": None}
    if has_image_columns(table):
        out["clinical_comparison"] = comparison(y, proba, _image_proba(table), alpha=alpha)
    return out


def headline(cohorts: list[dict[str, Any]]) -> dict[str, Any]:
    """Per cohort key, the figures a summary quotes: both models' AUCs with the paired p, accuracies with
    McNemar's p, and per model the referral rate, answered accuracy and AURC (``demo.json``)."""
    out: dict[str, Any] = {}
    for c in cohorts:
        row: dict[str, Any] = {"n": c["n_vertebrae"]}
        comp = c.get("clinical_comparison")
        if comp:
            row["auc"] = {cls: None if not d else {"image": d["auc_b"], "clinical": d["auc_a"], "p": d["p_value"]}
                          for cls, d in comp["auc"].items()}
            row["accuracy"] = {"image": comp["accuracy"]["image"]["estimate"],
                               "clinical": comp["accuracy"]["clinical"]["estimate"],
                               "p": comp["accuracy"]["mcnemar"]["p_value"]}
            s = comp.get("pathological_at_image_specificity")
            if s:
                row["pathological_sensitivity_at_image_specificity"] = {
                    "specificity": s["image_specificity"], "image": s["image"]["sensitivity"]["estimate"],
                    "clinical": s["clinical"]["sensitivity"]["estimate"], "p": s["mcnemar_on_positives"]["p_value"]}
        referral = {}
        for name, m in ((c.get("selective") or {}).get("models") or {}).items():
            ref = m.get("referral") or {}
            referral[name] = {"aurc": m["aurc"].get("aurc"),
                              "refer_rate": (ref.get("refer_rate") or {}).get("estimate"),
                              "answered_accuracy": (ref.get("answered_accuracy") or {}).get("estimate")}
        row["referral"] = referral
        out[c["key"]] = row
    return out
