"""Temperature scaling of a checkpoint, fitted on the validation split only (``vcfnet calibrate``).

    >>> T = calibrate_checkpoint("run/best", "study")   # writes temperature + calibration into model.json

The temperature is fitted (``vcfnet.stats.fit_temperature``) on the logits of the study's ``val``
split, the same split that chose the checkpoint; test, external, prospective and collaboration
vertebrae are never loaded. The card is rewritten through its one writer (``card.write_card``,
atomic: the old card or the new one, never half of either); the weights are not touched, so the
card's weights hash still proves them. ``vcfnet.predict.Predictor`` applies the temperature.
"""
from __future__ import annotations

import datetime as _dt
import logging
import math
from pathlib import Path

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)

CALIBRATION_SPLIT = "val"
METHOD = "temperature scaling (NLL on the validation split)"


def calibrate_checkpoint(checkpoint_dir: str | Path, study_dir: str | Path, *, device: str = "cpu",
                         batch_size: int = 128) -> float:
    """Fit a temperature on the validation split and store it in the checkpoint's ``model.json``."""
    from vcfnet.labels import CLASSES
    from vcfnet.model.card import Calibration, write_card
    from vcfnet.model.checkpoint import load_checkpoint
    from vcfnet.model.engine import predict_logits
    from vcfnet.stats import fit_temperature
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
    temperature = float(fit_temperature(logits, val.labels))
    if not math.isfinite(temperature):
        raise VcfnetError(f"{checkpoint_dir}: the temperature could not be fitted on {len(val)} "
                          f"vertebrae (see the warning above); the card is unchanged")
    fitted = Calibration(method=METHOD, split=CALIBRATION_SPLIT, n_vertebrae=len(val),
                         n_patients=int(val.table["patient_id"].nunique()),
                         fitted=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    folder = Path(checkpoint_dir) if Path(checkpoint_dir).is_dir() else Path(checkpoint_dir).parent
    path = write_card(folder, card.with_fields(temperature=temperature, calibration=fitted.model_dump()))
    log.info("temperature %.4g fitted on %d validation vertebrae -> %s", temperature, len(val), path)
    return temperature
