"""Temperature scaling of a checkpoint, fitted on the validation split only (``vcfnet calibrate``).

    >>> fitted = calibrate_checkpoint("run/best", "study")          # temperature + referral threshold
    >>> fitted = calibrate_checkpoint("run/best", "study", clinical=["age", "sex"])   # + the stacker

The temperature is fitted (``vcfnet.stats.fit_temperature``) on the logits of the study's ``val``
split, the same split that chose the checkpoint; test, external, prospective and collaboration
vertebrae are never loaded. The card is rewritten through its one writer (``card.write_card``,
atomic: the old card or the new one, never half of either); the weights are not touched, so the
card's weights hash still proves them. ``vcfnet.predict.Predictor`` applies the temperature.

The referral threshold (``vcfnet.stats.selective``) is fitted on the same split, on the calibrated
probabilities; the image+clinical stacker (``vcfnet.model.stacker``) on the image model's calibrated
log probabilities and the encoded clinical columns of the same vertebrae, its own referral threshold
on its out-of-fold probabilities.
"""
from __future__ import annotations

import datetime as _dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)

CALIBRATION_SPLIT = "val"
METHOD = "temperature scaling (NLL on the validation split)"
IMAGE_INPUTS = "log softmax(logits / T) of the image model"


@dataclass(frozen=True)
class ReferralRule:
    """Refer the ``value`` least certain share (``refer_fraction``) or keep the answered accuracy >=
    ``value`` (``target_accuracy``), on the validation split."""

    rule: str = "refer_fraction"
    value: float = 0.1


def calibrate_checkpoint(checkpoint_dir: str | Path, study_dir: str | Path, *, device: str = "cpu",
                         batch_size: int = 128, clinical: Sequence[str] | None = None,
                         referral: ReferralRule | None = ReferralRule(),
                         require_temperature: bool = True) -> dict[str, Any]:
    """Fit on the validation split and store in the checkpoint's ``model.json``: the temperature, the
    referral threshold of the image model, and (``clinical`` = column names) the image+clinical
    stacker with its own referral threshold. Returns what was fitted (``temperature``, ``referral``,
    ``clinical``). A temperature that cannot be fitted (logits that do not favour the true class on
    average) is an error, or with ``require_temperature=False`` (after training) a warning and no
    temperature: the rest is then fitted on ``softmax(logits)``."""
    from vcfnet.labels import CLASSES
    from vcfnet.model.card import Calibration, write_card
    from vcfnet.model.checkpoint import load_checkpoint
    from vcfnet.model.engine import predict_logits
    from vcfnet.stats import apply_temperature, fit_temperature
    from vcfnet.study.dataset import load_cropset

    val = load_cropset(study_dir, split=CALIBRATION_SPLIT)
    if len(val) == 0:
        raise VcfnetError(f"{study_dir}: the study has no '{CALIBRATION_SPLIT}' vertebrae to fit a "
                          f"temperature on (never fitted on a test cohort)")
    present = sorted({CLASSES[i] for i in val.labels.tolist()})
    if len(present) < 2:
        raise VcfnetError(f"{study_dir}: the validation split holds only {', '.join(present)} vertebrae; "
                          f"a temperature needs at least two classes")
    model, card = load_checkpoint(checkpoint_dir, device=device)   # the card as read and verified
    logits = predict_logits(model, val.crops, batch_size=batch_size, device=device)
    fitted_t = float(fit_temperature(logits, val.labels))
    temperature: float | None = fitted_t if math.isfinite(fitted_t) else None
    if temperature is None and require_temperature:
        raise VcfnetError(f"{checkpoint_dir}: the temperature could not be fitted on {len(val)} "
                          f"vertebrae (see the warning above); the card is unchanged")
    fields: dict[str, Any] = {"temperature": None, "calibration": None}
    if temperature is not None:
        fields = {"temperature": temperature, "calibration": Calibration(
            method=METHOD, split=CALIBRATION_SPLIT, n_vertebrae=len(val),
            n_patients=int(val.table["patient_id"].nunique()), fitted=_now()).model_dump()}
    else:
        log.warning("%s: no temperature could be fitted on the validation split; the referral rule%s use "
                    "softmax(logits)", checkpoint_dir, " and the stacker" if clinical else "")
    proba = apply_temperature(logits.astype(np.float64), temperature or 1.0)
    referrals: dict[str, Any] = {}
    if referral is not None:
        referrals["image"] = _referral(val.labels, proba, referral, "top-class probability of the image "
                                       "model, softmax(logits / T), on the val split")
    if clinical:
        model_fields, oof = fit_clinical(study_dir, val, proba, clinical)
        fields["clinical"] = model_fields
        if referral is not None:
            referrals["clinical"] = _referral(val.labels, oof, referral, "top-class probability of the "
                                              "image+clinical stacker, out-of-fold on the val split")
    fields["referral"] = referrals or None
    folder = Path(checkpoint_dir) if Path(checkpoint_dir).is_dir() else Path(checkpoint_dir).parent
    path = write_card(folder, card.with_fields(**fields))
    log.info("temperature %s fitted on %d validation vertebrae -> %s",
             "none" if temperature is None else f"{temperature:.4g}", len(val), path)
    return {"temperature": temperature, "referral": referrals, "clinical": fields.get("clinical")}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _referral(labels, proba, rule: ReferralRule, confidence: str) -> dict[str, Any]:
    from vcfnet.stats.selective import fit_referral_threshold

    try:
        t = fit_referral_threshold(labels, proba, rule=rule.rule, value=rule.value)
    except ValueError as exc:
        raise VcfnetError(f"referral rule: {exc}") from None
    threshold = min(max(t.threshold, 0.0), 1.5)     # -inf: never refer; +inf (unreachable): always
    return {"rule": t.rule, "value": t.value, "threshold": threshold, "confidence": confidence,
            "split": CALIBRATION_SPLIT, "n": t.n, "refer_rate": t.refer_rate,
            "answered_accuracy": t.answered_accuracy, "reachable": t.reachable}


def fit_clinical(study_dir: str | Path, val, image_proba: np.ndarray,
                 columns: Sequence[str]) -> tuple[dict[str, Any], np.ndarray]:
    """The image+clinical stacker on the val split (``val``: its CropSet; ``image_proba``: the
    calibrated image model on it). The encoding's ranges come from the train + val rows; the stacker
    sees the val rows only. Returns the card's ``clinical`` field and the out-of-fold probabilities."""
    from vcfnet.labels import CLASSES
    from vcfnet.model.clinical import encode, fit_encoding, with_clinical_file
    from vcfnet.model.stacker import select_and_fit
    from vcfnet.study.dataset import load_table

    table = with_clinical_file(study_dir, load_table(study_dir))
    development = table[table["split"].isin(["train", CALIBRATION_SPLIT])]
    encoding = fit_encoding(development, list(columns))
    features, _ = encode(encoding, with_clinical_file(study_dir, val.table))
    logp = np.log(np.clip(image_proba, 1e-12, 1.0))
    params, oof, cv = select_and_fit(logp, features, val.labels, val.table["patient_id"].to_numpy(),
                                     n_classes=len(CLASSES))
    log.info("image+clinical stacker on %d validation vertebrae: out-of-fold NLL %.4f (image model %.4f), "
             "l2 %g", len(val), cv["oof_nll"], cv["image_nll"], params["l2"])
    return {"design": "stacker", "encoding": encoding.model_dump(), "image_inputs": IMAGE_INPUTS,
            "params": params, "split": CALIBRATION_SPLIT, "n_vertebrae": len(val),
            "n_patients": int(val.table["patient_id"].nunique()), "cv": cv, "fitted": _now()}, oof


def referral_rule(config):
    if config.target_accuracy is not None:
        return ReferralRule("target_accuracy", config.target_accuracy)
    return ReferralRule("refer_fraction", config.refer_fraction)


def after_training(best: Path, study_dir: str | Path, config, *, device: str = "cpu") -> dict:
    """``calibrate`` / ``clinical``: what `vcfnet calibrate` fits, on the val split, into ``best``'s card."""
    from vcfnet.model.clinical import parse_columns

    columns = parse_columns(config.clinical_columns) if config.clinical else None
    return calibrate_checkpoint(best, study_dir, device=device, clinical=columns, referral=referral_rule(config),
                                require_temperature=False)
