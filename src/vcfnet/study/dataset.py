"""Crops, labels and Study rows for one part of the study: what training and evaluation read.

    >>> train = load_cropset("study", split="train")
    >>> train.crops.shape, train.labels[:3]      # (N, 1, 224, 224) uint8, int64 class indices
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES
from vcfnet.study.cache import read_cache
from vcfnet.study.layout import StudyLayout
from vcfnet.study.schema import load_study, table_sha256

SPLITS: tuple[str, ...] = ("train", "val", "test", "external", "prospective")


@dataclass
class CropSet:
    crops: np.ndarray          # (N, 1, S, S) uint8
    labels: np.ndarray         # (N,) int64, index into CLASSES
    table: pd.DataFrame        # Study rows joined with split and collaboration, same order

    @property
    def roi_ids(self) -> list[str]:
        return self.table["roi_id"].tolist()

    def __len__(self) -> int:
        return len(self.labels)


def load_table(study_dir: str | Path) -> pd.DataFrame:
    """The Study table joined with ``splits.csv`` (columns ``split`` and ``collaboration``)."""
    layout = StudyLayout(study_dir)
    layout.require(layout.study_table, layout.splits)
    _check_in_step(layout)
    study = load_study(layout.study_table)
    splits = pd.read_csv(layout.splits, dtype={"roi_id": str, "split": str, "collaboration": int})
    table = study.merge(splits[["roi_id", "split", "collaboration"]], on="roi_id", how="left")
    if table["split"].isna().any():
        raise VcfnetError(f"{layout.splits}: some ROIs of the Study table have no split; "
                          f"run `vcfnet ingest` (or `vcfnet study split`) again")
    return table


def _check_in_step(layout: StudyLayout) -> None:
    """The crop cache and the splits must belong to this study.csv: an ingest killed between its writes
    leaves them out of step, and rows must never be paired with another version's crops or splits."""
    recorded = []
    if layout.cache_index.exists():
        recorded.append(json.loads(layout.cache_index.read_text()).get("table_sha256"))
    if layout.splits_meta.exists():
        recorded.append(json.loads(layout.splits_meta.read_text()).get("table_sha256"))
    recorded = [r for r in recorded if r]
    if recorded and any(r != table_sha256(layout.study_table) for r in recorded):
        raise VcfnetError(f"{layout.root}: an ingest into this study was interrupted (its crop cache or splits "
                          f"belong to another version of study.csv); run the same `vcfnet ingest` again")


def load_cropset(study_dir: str | Path, *, split: str | None = None, cohort: str | None = None,
                 site: str | None = None, collaboration: bool | None = None) -> CropSet:
    """Select ROIs by split / cohort / site / collaboration flag and load their cached crops."""
    if split is not None and split not in SPLITS:
        raise VcfnetError(f"unknown split '{split}' (expected one of {', '.join(SPLITS)})")
    table = load_table(study_dir)
    mask = np.ones(len(table), dtype=bool)
    if split is not None:
        mask &= (table["split"] == split).to_numpy()
    if cohort is not None:
        mask &= (table["cohort"] == cohort).to_numpy()
    if site is not None:
        mask &= (table["site"] == site).to_numpy()
    if collaboration is not None:
        mask &= (table["collaboration"].astype(bool) == collaboration).to_numpy()
    table = table[mask].reset_index(drop=True)
    cache = read_cache(study_dir)
    crops = np.asarray(cache.get(table["roi_id"]))
    labels = table["label"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy(dtype=np.int64)
    return CropSet(crops=crops, labels=labels, table=table)
