"""The Predictor: one class that every consumer (CLI, report, web service, reading app) uses.

    >>> p = Predictor("run/best")                                  # loads the checkpoint once
    >>> [r] = p.predict("film.dcm", [(120, 340, 260, 450)], gradcam=True)
    >>> r.probabilities, r.predicted                               # {'acute': 0.81, ...}, 'acute'
    >>> rgb = r.overlay()                                          # heatmap over the box region
    >>> table = p.predict_study("study")                           # the predictions table
    >>> p = Predictor("run/best", detector="detector")            # + a detector (`vcfnet train-detector`)
    >>> bodies = p.predict("film.dcm")                             # no boxes: every body found and measured
    >>> [(b.level.level, b.morphometry.grade, b.predicted) for b in bodies if b.classified]

Pixels reach the model exactly as in training: ``vcfnet.preprocess.crop_roi`` with the checkpoint's
input size and crop margin, then the engine's ``predict_proba`` / ``predict_logits`` (the one inference
function, also used by evaluation), so a box gives the same probabilities here as its cached crop does
in the engine.

Probabilities: ``softmax(logits)``, or ``softmax(logits / T)`` when the model card holds a float
``temperature`` T (temperature scaling fitted after training; T > 1 softens over-confident outputs).
When the card holds an image+clinical stacker and clinical values are given (``clinical=``), the
stacker answers; every answer carries ``refer`` and its reason (``vcfnet.model.answer``).

Without boxes, a Predictor holding a detector runs ``vcfnet.detect.pipeline.detect_and_classify``: every
body the detector finds, top to bottom, as a ``BoxPrediction`` with its ``detection`` (score, the level it
looks like, six landmarks), ``level`` (counted from S1, or "uncertain" with the reason) and ``morphometry``
(heights, reductions, Genant grade, shape, the study's inclusion rule); the bodies meeting that rule (or
all, ``classify="all"``; none, ``"none"``) are classified exactly as boxes given by hand, the others are
measured only (``classified`` False, no probabilities, ``refer_reason`` says why). Without a detector, no
boxes means the whole image is one ready crop, as before.

Threads: plain predictions run under ``torch.inference_mode`` on a model in eval mode and need no
lock. Grad-CAM needs gradients and hooks; it runs on a private copy of the model under a lock (see
``vcfnet.gradcam``), so one Predictor can serve a multi-threaded web server.
"""
from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vcfnet.errors import VcfnetError
from vcfnet.predict_inputs import Box, check_box, load_pixels
from vcfnet.predict_outputs import BoxPrediction
from vcfnet.preprocess import box_with_margin, crop_roi

__all__ = ["IMAGE_COLUMNS", "PREDICTION_COLUMNS", "Box", "BoxPrediction", "Predictor", "check_box", "load_pixels",
           "predictions_table"]

if TYPE_CHECKING:
    import pandas as pd

    from vcfnet.gradcam import GradCamExplainer
    from vcfnet.model.answer import Answers
    from vcfnet.model.card import ModelCard

log = logging.getLogger(__name__)

#: Columns of the predictions table (DESIGN.md), then the study-design columns kept beside them.
PREDICTION_COLUMNS: tuple[str, ...] = ("roi_id", "cohort", "site", "patient_id", "label", "p_acute",
                                       "p_chronic", "p_pathological", "predicted", "split",
                                       "collaboration", "confidence", "refer", "refer_reason", "model")
#: Added when the image+clinical model answered: the image model's own answer on the same rows.
IMAGE_COLUMNS: tuple[str, ...] = ("image_p_acute", "image_p_chronic", "image_p_pathological",
                                  "image_predicted", "image_refer")


class Predictor:
    """A trained checkpoint, loaded once, answering for boxes, crops and whole studies.

    Args:
        checkpoint: a checkpoint folder (``RUN/best``) or its ``model.json`` / ``model.safetensors``.
        device: torch device for inference ("cpu", "cuda", "cuda:1").
        batch_size: crops per forward pass.
        amp_dtype: autocast dtype for inference (e.g. ``torch.bfloat16``); None = float32.
        detector: a detector folder (``vcfnet train-detector``; loaded as ``detect.infer.Detector`` on
            ``device``) or any object with ``detect(pixels) -> list[Detection]``; then ``predict`` without
            boxes finds the bodies itself.
        classify: which detected bodies are classified: ``included`` (the study's inclusion rule, >= 20 %
            or >= 4 mm height loss; the default), ``all`` or ``none``.
    """

    def __init__(self, checkpoint: str | Path, *, device: str = "cpu", batch_size: int = 64,
                 amp_dtype: Any = None, detector: Any = None, classify: str = "included"):
        from vcfnet.model.checkpoint import load_checkpoint

        model, card = load_checkpoint(checkpoint, device=device)
        self._setup(model, card, device=device, batch_size=batch_size, amp_dtype=amp_dtype)
        self._attach(detector, classify)
        log.info("loaded %s (%s; %d px crops, margin %g, network input %d px)", checkpoint,
                 card.architecture, self.crop_size, self.margin, self.input_size)

    @classmethod
    def from_model(cls, model, card: ModelCard | dict[str, Any], *, device: str = "cpu", batch_size: int = 64,
                   amp_dtype: Any = None, detector: Any = None, classify: str = "included") -> Predictor:
        """A Predictor around a model already in memory (e.g. just trained), described by ``card``
        (a ``ModelCard``, or fields that ``vcfnet.model.card.describe`` completes from the model)."""
        from vcfnet.model.card import as_card

        self = cls.__new__(cls)
        self._setup(model.to(device).eval(), as_card(card, model), device=device, batch_size=batch_size,
                    amp_dtype=amp_dtype)
        self._attach(detector, classify)
        return self

    def _attach(self, detector: Any, classify: str) -> None:
        from vcfnet.detect.pipeline import check_classify

        if isinstance(detector, (str, Path)):
            from vcfnet.detect.infer import Detector

            detector = Detector(detector, device=self.device)
        elif detector is not None and not callable(getattr(detector, "detect", None)):
            raise VcfnetError(f"detector: expected a detector folder or an object with detect(pixels), "
                              f"got {type(detector).__name__}")
        #: the vertebra detector ``predict`` uses when no boxes are given (None: the whole image is one crop)
        self.detector = detector
        self.classify = check_classify(classify)

    def _setup(self, model, card: ModelCard, *, device: str, batch_size: int, amp_dtype: Any) -> None:
        self.model = model
        #: the typed card (``vcfnet.model.card.ModelCard``); ``card`` is the same as ``model.json`` holds it
        self.model_card = card
        self.card: dict[str, Any] = card.to_dict()
        self.classes: tuple[str, ...] = tuple(card.classes)
        self.input_size = card.input_size
        # crops are cut as the study's cache was (crop_size, crop_margin); the engine then resizes them
        # to the network's input_size, exactly as in training and evaluation
        self.crop_size = card.crop_size or self.input_size
        self.margin = card.crop_margin
        if getattr(model, "input_size", None) is None:
            model.input_size = self.input_size
        self.temperature: float | None = card.temperature   # validated by the card: None or > 0
        self.device = device
        self.batch_size = int(batch_size)
        self.amp_dtype = amp_dtype
        self._explainer: GradCamExplainer | None = None
        self._explainer_lock = threading.Lock()

    # ---- crops -> probabilities ---------------------------------------------------------------
    def predict_crops(self, crops: np.ndarray, clinical: Any = None) -> np.ndarray:
        """Class probabilities (N, C) for ready crops (N, 1, S, S) uint8, columns in ``classes`` order.

        Crops are cut like the study's cache (``crop_size``); any other square size is resized to the
        network's ``input_size`` by the engine. ``clinical``: one row of clinical values per crop (a
        DataFrame or mappings, blanks allowed) for the card's image+clinical model; see ``answer_crops``.
        """
        return self.answer_crops(crops, clinical).proba

    def answer_crops(self, crops: np.ndarray, clinical: Any = None) -> Answers:
        """Probabilities, the answering model and the referral decision for ready crops
        (``vcfnet.model.answer``): the image+clinical model when the card has one and ``clinical``
        rows are given, else the image model (temperature-scaled when calibrated)."""
        from vcfnet.model.answer import answer
        from vcfnet.model.engine import predict_logits

        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1] != 1 or crops.shape[2] != crops.shape[3]:
            raise VcfnetError(f"crops must be (N, 1, S, S) uint8 (S = {self.crop_size} for this checkpoint), "
                              f"got {crops.shape} {crops.dtype}")
        import torch

        with torch.inference_mode():
            logits = predict_logits(self.model, crops, batch_size=self.batch_size, device=self.device,
                                    amp_dtype=self.amp_dtype)
        return answer(self.model_card, logits, clinical)

    @property
    def clinical_columns(self) -> list[str]:
        """The clinical columns the card's image+clinical model reads ([] for an image-only model)."""
        return self.model_card.clinical.encoding.names if self.model_card.clinical is not None else []

    # ---- radiograph + boxes -> predictions ---------------------------------------------------
    def predict(self, image: Any, boxes: Sequence[Sequence[float]] | None = None, *,
                gradcam: bool = False, clinical: Mapping[str, Any] | None = None,
                classify: str | None = None) -> list[BoxPrediction]:
        """Predict each box of a radiograph; without ``boxes``, every body the detector finds (when this
        Predictor holds one), else the whole image as one ready crop.

        ``image``: a file path (DICOM, PNG, ...; read with ``vcfnet.io.read_radiograph``), a
        ``Radiograph``, or a 2-D float array in [0, 1] (bone bright). ``boxes``: (x0, y0, x1, y1) pixel
        edges. ``clinical``: the patient's values (``{"age": 71, "sex": "M"}``, blanks allowed) for
        the card's image+clinical model; None answers with the image model. ``classify``: with the
        detector, which bodies to classify (default: the Predictor's ``classify``). Returns one
        ``BoxPrediction`` per box, in order (per detected body, top to bottom), each with ``refer`` and
        its reason.
        """
        if boxes is None and self.detector is not None:
            from vcfnet.detect.pipeline import detect_and_classify

            return detect_and_classify(image, self.detector, self, classify=classify or self.classify,
                                       gradcam=gradcam, clinical=None if clinical is None else dict(clinical))
        pixels, source = load_pixels(image)
        given = [(0.0, 0.0, float(pixels.shape[1]), float(pixels.shape[0]))] if boxes is None else \
            [check_box(b, pixels.shape, source, i) for i, b in enumerate(boxes)]
        margin = 0.0 if boxes is None else self.margin
        windows = [box_with_margin(b, pixels.shape, margin) for b in given]
        crops = np.stack([crop_roi(pixels, b, size=self.crop_size, margin=margin) for b in given])[:, None]
        answers = self.answer_crops(crops, None if clinical is None else [dict(clinical)] * len(given))
        predicted = answers.proba.argmax(axis=1)
        heat = self.explain(crops, predicted) if gradcam else [None] * len(given)
        return [BoxPrediction(box=b, probabilities=self._named(answers.proba[i]),
                              predicted=self.classes[predicted[i]], heatmap=h, window=w, pixels=pixels,
                              refer=bool(answers.refer[i]), refer_reason=answers.reasons[i], model=answers.model,
                              image_probabilities=self._named(answers.image_proba[i]),
                              clinical_notes=answers.notes[i])
                for i, (b, h, w) in enumerate(zip(given, heat, windows))]

    def _named(self, row: np.ndarray) -> dict[str, float]:
        return {c: float(p) for c, p in zip(self.classes, row)}

    def explain(self, crops: np.ndarray, targets: Sequence[int]) -> np.ndarray:
        """Grad-CAM heatmaps (N, S, S) float32 in [0, 1] of ``crops`` for class indices ``targets``."""
        from vcfnet.gradcam import GradCamExplainer

        with self._explainer_lock:
            if self._explainer is None:
                self._explainer = GradCamExplainer(self.model, device=self.device)
        return self._explainer(np.asarray(crops), [int(t) for t in targets])

    # ---- a whole study -> predictions table -------------------------------------------------
    def predict_study(self, study_dir: str | Path, *, split: str | None = None,
                      clinical: bool = True) -> pd.DataFrame:
        """The predictions table for every ROI of a study (or one ``split``), read from its crop cache.

        Columns: ``PREDICTION_COLUMNS`` (``roi_id, cohort, site, patient_id, label, p_acute, p_chronic,
        p_pathological, predicted, split, collaboration, confidence, refer, refer_reason, model``), in the
        Study table's order. When the card has an image+clinical model (and ``clinical``), it answers
        from the table's clinical columns (age, sex, ...) and ``IMAGE_COLUMNS`` keep the image
        model's answer on the same rows.
        """
        from vcfnet.study.cache import read_cache
        from vcfnet.study.dataset import load_cropset

        cache = read_cache(study_dir)
        self._check_cache(cache, study_dir)
        from vcfnet.model.clinical import with_clinical_file

        cropset = load_cropset(study_dir, split=split)
        rows = with_clinical_file(study_dir, cropset.table) if clinical and self.clinical_columns else None
        if rows is not None:
            missing = [c for c in self.clinical_columns if c not in rows.columns]
            if missing:
                raise VcfnetError(f"{study_dir}: the study table has no column {', '.join(missing)}, which "
                                  f"the image+clinical model reads")
        return predictions_table(cropset.table, self.answer_crops(np.asarray(cropset.crops), rows), self.classes)

    def _check_cache(self, cache, study_dir) -> None:
        if cache.size != self.crop_size or not math.isclose(cache.margin, self.margin, abs_tol=1e-9):
            raise VcfnetError(
                f"{study_dir}: its crop cache holds {cache.size} px crops with margin {cache.margin:g}, "
                f"but this checkpoint was trained on {self.crop_size} px with margin {self.margin:g}; re-ingest "
                f"the study with those settings")
        if str(cache.preprocessing_version) != self.model_card.preprocessing_version:
            raise VcfnetError(f"{study_dir}: crop cache made with preprocessing version "
                              f"{cache.preprocessing_version}, checkpoint expects "
                              f"{self.model_card.preprocessing_version}; re-ingest the study")


def predictions_table(table, answers: Answers, classes: Sequence[str]):
    """Join Study rows (with ``split``/``collaboration``) and answers into the predictions table."""
    import pandas as pd

    out = pd.DataFrame({c: table[c].to_numpy() for c in ("roi_id", "cohort", "site", "patient_id", "label")})
    names = np.asarray(classes, dtype=object)
    for j, c in enumerate(classes):
        out[f"p_{c}"] = answers.proba[:, j].astype(np.float64)
    out["predicted"] = names[answers.proba.argmax(axis=1)] if len(out) else []
    out["split"] = table["split"].to_numpy()
    out["collaboration"] = table["collaboration"].astype(int).to_numpy()
    out["confidence"] = answers.confidence.astype(np.float64)
    out["refer"] = answers.refer.astype(int)
    out["refer_reason"] = answers.reasons
    out["model"] = answers.model
    columns = list(PREDICTION_COLUMNS)
    if answers.model != "image":
        for j, c in enumerate(classes):
            out[f"image_p_{c}"] = answers.image_proba[:, j].astype(np.float64)
        out["image_predicted"] = names[answers.image_proba.argmax(axis=1)] if len(out) else []
        out["image_refer"] = answers.image_refer.astype(int)
        columns += list(IMAGE_COLUMNS)
    return out[columns]
