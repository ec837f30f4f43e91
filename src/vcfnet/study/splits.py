"""Cohorts and splits, grouped by patient: no patient is ever on two sides of a split.

- development cohort -> ``train`` / ``val`` / ``test``: test is ``test_fraction`` of the patients,
  stratified by class; ``val`` (model selection) is carved from the rest, never from test;
- external cohorts -> ``external`` (one per site, by the ``site`` column);
- prospective cohort -> ``prospective``;
- the collaboration set (reader study): a seeded ``collaboration_fraction`` of each external site's
  patients, flagged by ``collaboration = 1``.

Everything is seeded; the settings and the checks are written to ``splits.json`` beside ``splits.csv``.

A split is a function of the data and the seed only, never of the study's secret key: patient
pseudonyms are keyed, so they only group rows; the groups are ordered by ``patient_identity`` (site +
the sorted SHA-256 of the patient's image files, kept in memory, never written), and the seeded draw runs
over that order. Two teams ingesting the same files under the same site names get the same split.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_open
from vcfnet.labels import CLASSES
from vcfnet.study.layout import StudyLayout
from vcfnet.study.schema import load_study, table_sha256

log = logging.getLogger(__name__)


@dataclass
class SplitConfig:
    seed: int = 0
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    collaboration_fraction: float = 0.3

    def __post_init__(self) -> None:
        for name in ("test_fraction", "val_fraction", "collaboration_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise VcfnetError(f"{name} must be between 0 and 1 (got {value})")


def holdout_groups(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a held-out part of about ``fraction`` of the groups, stratified by label.

    Each group (patient) is put in the stratum of its rarest class (so the few patients with a
    pathological fracture are spread like the rest); within each stratum a seeded
    ``round(fraction * n)`` of the patients is held out. At least one group is held out and at least
    one kept whenever there are two or more.
    """
    groups, labels = np.asarray(groups), np.asarray(labels)
    unique, inverse = np.unique(groups, return_inverse=True)
    if len(unique) < 2:
        return np.zeros(len(groups), dtype=bool)
    values, counts = np.unique(labels, return_counts=True)
    rarity = dict(zip(values, np.argsort(np.argsort(counts))))          # 0 = rarest label
    stratum = np.full(len(unique), len(values), dtype=int)
    np.minimum.at(stratum, inverse, np.array([rarity[v] for v in labels]))
    rng = np.random.default_rng(seed)
    held = np.zeros(len(unique), dtype=bool)
    for s in np.unique(stratum):
        members = rng.permutation(np.flatnonzero(stratum == s))
        held[members[:int(round(fraction * len(members)))]] = True
    if not held.any():
        held[rng.integers(len(unique))] = True
    if held.all():
        held[rng.choice(np.flatnonzero(held))] = False
    return held[inverse]


def patient_identity(table: pd.DataFrame, sources: dict) -> np.ndarray:
    """Per row, a secret-independent name of its patient: site + the sorted file hashes of the patient's
    images (from ``sources.json``); a row whose file is unknown keeps its ``patient_id``."""
    digest = {f"{sid}/{name}": entry[2] for sid, src in sources.items()
              for name, entry in src.get("files", {}).items()}
    files = table["image"].map(digest)
    known = files.notna().to_numpy()
    key = table["site"].astype(str) + "|" + table["patient_id"].astype(str)
    per_patient = files[known].groupby(key[known]).agg(lambda f: ",".join(sorted(set(f))))
    mapped = key.map(per_patient)          # every row of a patient, even one whose own file is unknown
    identity = (table["site"].astype(str) + "|" + mapped.astype(object).fillna("")).to_numpy(dtype=object)
    unknown = mapped.isna().to_numpy()     # a patient none of whose files is known keeps its patient_id
    identity[unknown] = table["patient_id"].to_numpy()[unknown]
    return identity


def assign_splits(table: pd.DataFrame, config: SplitConfig, identity: np.ndarray | None = None) -> pd.DataFrame:
    """``roi_id, split, collaboration`` for every row of a Study table.

    ``identity`` (one per row, see :func:`patient_identity`) groups and orders the patients; without
    it the ``patient_id`` column does.
    """
    split = np.where(table["cohort"] == "external", "external",
                     np.where(table["cohort"] == "prospective", "prospective", "train")).astype(object)
    dev = np.flatnonzero((table["cohort"] == "development").to_numpy())
    labels = table["label"].to_numpy()
    groups = table["patient_id"].to_numpy() if identity is None else np.asarray(identity)
    if len(dev):
        test = holdout_groups(labels[dev], groups[dev], config.test_fraction, config.seed)
        split[dev[test]] = "test"
        rest = dev[~test]
        val = holdout_groups(labels[rest], groups[rest], config.val_fraction, config.seed + 1)
        split[rest[val]] = "val"
    collaboration = np.zeros(len(table), dtype=int)
    for i, site in enumerate(sorted(table.loc[table["cohort"] == "external", "site"].unique())):
        rows = np.flatnonzero(((table["cohort"] == "external") & (table["site"] == site)).to_numpy())
        pick = holdout_groups(labels[rows], groups[rows], config.collaboration_fraction, config.seed + 100 + i)
        collaboration[rows[pick]] = 1
    return pd.DataFrame({"roi_id": table["roi_id"].to_numpy(), "split": split, "collaboration": collaboration})


def split_checks(table: pd.DataFrame, splits: pd.DataFrame) -> dict:
    """Counts per split and class, and the patient-overlap checks (all must be zero)."""
    merged = table[["roi_id", "patient_id", "label"]].merge(splits, on="roi_id")
    patients = {s: set(g["patient_id"]) for s, g in merged.groupby("split")}
    overlap = {f"{a}&{b}": len(patients.get(a, set()) & patients.get(b, set()))
               for a, b in (("train", "test"), ("train", "val"), ("val", "test"))}
    counts = {s: {"patients": int(g["patient_id"].nunique()), "vertebrae": int(len(g)),
                  **{c: int((g["label"] == c).sum()) for c in CLASSES}} for s, g in merged.groupby("split")}
    collab = merged[merged["collaboration"] == 1]
    counts["collaboration"] = {"patients": int(collab["patient_id"].nunique()), "vertebrae": int(len(collab)),
                               **{c: int((collab["label"] == c).sum()) for c in CLASSES}}
    info = {"development&prospective": len(set(merged.loc[merged["split"].isin(["train", "val", "test"]), "patient_id"])
                                            & patients.get("prospective", set()))}
    return {"patient_overlap": overlap, "counts": counts, "info_patients_shared": info}


def write_splits(study_dir: str | Path, config: SplitConfig | None = None) -> dict:
    """(Re)compute the splits of a study; ``None`` reuses the settings in ``splits.json``."""
    layout = StudyLayout(study_dir)
    if config is None:
        config = read_split_config(study_dir)
    table = load_study(layout.study_table)
    sources = json.loads(layout.sources.read_text()) if layout.sources.exists() else {}
    splits = assign_splits(table, config, patient_identity(table, sources))
    checks = split_checks(table, splits)
    if any(checks["patient_overlap"].values()):  # a bug, not a user error: never write such splits
        raise AssertionError(f"patient-grouped split failed: {checks['patient_overlap']}")
    _write_if_changed(layout.splits, splits.to_csv(index=False))
    meta = {"config": asdict(config), **checks, "table_sha256": table_sha256(layout.study_table)}
    _write_if_changed(layout.splits_meta, json.dumps(meta, indent=2) + "\n")
    return checks


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` atomically unless ``path`` holds it already (an unchanged study keeps its files)."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def read_split_config(study_dir: str | Path) -> SplitConfig:
    layout = StudyLayout(study_dir)
    if layout.splits_meta.exists():
        return SplitConfig(**json.loads(layout.splits_meta.read_text())["config"])
    return SplitConfig()
