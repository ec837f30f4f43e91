"""Per-reader numbers of the reader study: one reader (or the model) in one session on the same cases.

Everything is computed by :mod:`vcfnet.stats` (DeLong AUC intervals, Wilson intervals, McNemar, paired
DeLong); this module only says which numbers go in: for class ``c``, "positive" is truth == c, the
ROC score is the confidence (reader, 0-100 scaled to 0-1) or probability (model) of ``c``, and the
operating point is the categorical answer (answer == c) as sensitivity / 1 - specificity.

Unit of independence: the vertebra. DeLong, Wilson and McNemar treat the cases as independent,
which several vertebrae of one patient are not, so these per-reader intervals are somewhat too
narrow; the MRMC analysis (:mod:`vcfnet.readers.analysis`) resamples whole patients.

    >>> import numpy as np
    >>> m = session_metrics(np.array([0, 0, 1, 2]), np.eye(3)[[0, 1, 1, 2]], np.array([0, 1, 1, 2]))
    >>> m["accuracy"]["estimate"], m["classes"]["chronic"]["operating_point"]
    (0.75, {'fpr': 0.3333333333333333, 'tpr': 1.0})
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from vcfnet.labels import CLASSES
from vcfnet.stats import delong_test, mcnemar_test, proportion_ci, roc_auc_ci
from vcfnet.stats._common import jsonable


def session_metrics(truth: np.ndarray, scores: np.ndarray, answer: np.ndarray, *, alpha: float = 0.05,
                    who: str = "reader") -> dict:
    """Accuracy and, per class, AUC [DeLong CI], sensitivity and specificity [Wilson CI] and the
    operating point of a categorical answer.

    ``truth`` and ``answer``: (N,) class indices into ``CLASSES``; ``scores``: (N, 3), higher = more
    likely that class. ``who`` names the reader in the warnings of undefined numbers.
    """
    correct = answer == truth
    out: dict = {"n": int(truth.size),
                 "accuracy": proportion_ci(int(correct.sum()), int(truth.size), alpha=alpha,
                                           name=f"accuracy of {who}").to_dict(),
                 "classes": {}}
    for c, name in enumerate(CLASSES):
        pos, called = truth == c, answer == c
        tp, fn = int(np.sum(pos & called)), int(np.sum(pos & ~called))
        tn, fp = int(np.sum(~pos & ~called)), int(np.sum(~pos & called))
        sens = proportion_ci(tp, tp + fn, alpha=alpha, name=f"sensitivity of {who} for '{name}' (no {name} cases)")
        spec = proportion_ci(tn, tn + fp, alpha=alpha, name=f"specificity of {who} for '{name}' (only {name} cases)")
        out["classes"][name] = {
            "auc": _auc(pos.astype(int), scores[:, c], f"{who}: AUC of '{name}'", alpha),
            "sensitivity": sens.to_dict(), "specificity": spec.to_dict(),
            "operating_point": jsonable({"fpr": 1.0 - spec.estimate, "tpr": sens.estimate}),
        }
    return out


def model_metrics(truth: np.ndarray, proba: np.ndarray, *, alpha: float = 0.05) -> dict:
    """The model on the same cases, in the same shape and by the same functions as a reader: the
    scores are its probabilities, the answer its most probable class (first on ties, as
    :func:`vcfnet.stats.classification_metrics`)."""
    return session_metrics(truth, proba, np.argmax(proba, axis=1), alpha=alpha, who="the model")


def reader_change(truth: np.ndarray, unaided: np.ndarray, aided: np.ndarray, answer_unaided: np.ndarray,
                  answer_aided: np.ndarray, *, alpha: float = 0.05, who: str = "reader") -> dict:
    """One reader's change from unaided to aided on the same cases.

    ``accuracy``: McNemar's test (:func:`vcfnet.stats.mcnemar_test`, exact below 25 discordant pairs)
    with A = aided, B = unaided, so ``b`` counts cases only the aided read got right. ``auc[class]``:
    paired DeLong test (:func:`vcfnet.stats.delong_test`) of aided minus unaided. ``who`` names the
    reader in the warnings of undefined numbers.
    """
    acc = mcnemar_test(answer_aided == truth, answer_unaided == truth).to_dict()
    acc["diff"] = float(np.mean(answer_aided == truth) - np.mean(answer_unaided == truth)) if truth.size else None
    auc = {}
    for c, name in enumerate(CLASSES):
        with _about(f"{who}: paired DeLong test of '{name}' (aided vs unaided)"):
            auc[name] = delong_test((truth == c).astype(int), aided[:, c], unaided[:, c], alpha=alpha).to_dict()
    return {"accuracy": acc, "auc": auc}


def _auc(y: np.ndarray, score: np.ndarray, what: str, alpha: float) -> dict:
    with _about(what):
        return roc_auc_ci(y, score, method="delong", alpha=alpha).to_dict()


@contextmanager
def _about(what: str) -> Iterator[None]:
    """Re-issue the statistics' warnings prefixed with what they are about (the class), so that a note
    in the report says which number is undefined."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        warnings.warn(f"{what}: {w.message}", w.category, stacklevel=3)
