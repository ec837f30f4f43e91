"""Simulated predictions tables with a known signal, to exercise evaluation and the report.

Nothing here is a result: it produces tables shaped like ``vcfnet predict`` output, with class
probabilities that carry a controllable amount of signal about the label, so that tests and
screenshots can show a realistic report without a trained model.

    >>> df = simulate_predictions(seed=0)
    >>> sorted(df["split"].unique())
    ['external', 'prospective', 'test', 'train', 'val']
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from vcfnet.labels import CLASSES

#: (split, site, cohort, n patients, signal strength); site1 is the development hospital.
DEFAULT_DESIGN: tuple[tuple[str, str, str, int, float], ...] = (
    ("train", "site1", "development", 60, 2.5),
    ("val", "site1", "development", 15, 2.2),
    ("test", "site1", "development", 80, 2.2),
    ("external", "site2", "external", 60, 1.8),
    ("external", "site3", "external", 50, 1.5),
    ("external", "site4", "external", 40, 2.0),
    ("prospective", "site1", "prospective", 45, 2.0),
)


def simulate_predictions(design=DEFAULT_DESIGN, *, seed: int = 0, class_weights=(0.45, 0.4, 0.15),
                         collaboration_fraction: float = 0.3) -> pd.DataFrame:
    """A predictions table: each patient has 1-3 fractured vertebrae; logits = signal * one-hot +
    a patient effect + noise, softmaxed. ``collaboration`` marks a random share of external patients.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for split, site, cohort, n_patients, signal in design:
        frames.append(_simulate_part(rng, split, site, cohort, n_patients, signal, class_weights))
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "roi_id", [f"roi{i:05d}" for i in range(len(df))])
    ext_patients = df.loc[df["split"] == "external", "patient_id"].unique()
    n_collab = int(round(collaboration_fraction * len(ext_patients)))
    chosen = set(rng.choice(ext_patients, size=n_collab, replace=False)) if n_collab else set()
    df["collaboration"] = df["patient_id"].isin(chosen).astype(int)
    return df


def _simulate_part(rng, split, site, cohort, n_patients, signal, class_weights) -> pd.DataFrame:
    rows = []
    for p in range(n_patients):
        pid = f"{site}-{split}-p{p:04d}"
        n_vert = int(rng.choice([1, 1, 2, 3]))
        label = int(rng.choice(len(CLASSES), p=np.asarray(class_weights) / sum(class_weights)))
        patient_effect = rng.normal(0, 0.6, size=len(CLASSES))
        for _ in range(n_vert):
            logits = patient_effect + rng.normal(0, 1.0, size=len(CLASSES))
            logits[label] += signal
            proba = np.exp(logits - logits.max())
            proba /= proba.sum()
            rows.append({"cohort": cohort, "site": site, "patient_id": pid, "label": CLASSES[label],
                         **{f"p_{c}": float(proba[k]) for k, c in enumerate(CLASSES)},
                         "predicted": CLASSES[int(proba.argmax())], "split": split})
    return pd.DataFrame(rows)


def simulate_study_table(predictions: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Study-table columns that Table 1 needs (age, sex per patient), for simulated predictions."""
    rng = np.random.default_rng(seed)
    patients = predictions["patient_id"].unique()
    age = dict(zip(patients, np.round(rng.normal(72, 9, size=len(patients)), 0)))
    sex = dict(zip(patients, rng.choice(["F", "M"], p=[0.7, 0.3], size=len(patients))))
    study = predictions[["roi_id", "patient_id", "site", "cohort", "label", "split", "collaboration"]].copy()
    study["age"] = study["patient_id"].map(age)
    study["sex"] = study["patient_id"].map(sex)
    study["exam_date"] = ""
    return study


def simulated_report(out_dir, *, checkpoint=None, seed: int = 0):
    """Evaluate :func:`simulate_predictions` into ``out_dir`` and write ``out_dir/report.html``.

    For looking at the report's layout (``docs/report-*.png``) without a trained model; the page
    says that its predictions table is simulated.
    """
    from pathlib import Path

    from vcfnet.report.evaluate import evaluate_predictions
    from vcfnet.report.html import write_report
    from vcfnet.report.outputs import write_evaluation

    predictions = simulate_predictions(seed=seed)
    result = evaluate_predictions(predictions, study_table=simulate_study_table(predictions, seed=seed))
    result.source["predictions"] = "simulated predictions (vcfnet.tools.simulate), not a model's output"
    write_evaluation(result, out_dir)
    return write_report(out_dir, Path(out_dir) / "report.html", checkpoint=checkpoint)
