"""The crop cache: every ROI decoded and cropped once, stored as uint8, read by training and evaluation.

``cache/crops.npy`` holds an (N, 1, S, S) uint8 array; ``cache/index.json`` lists, in the same order,
each ROI's id and the hash of what produced it (source file content + box + preprocessing settings).
A ROI whose hash is unchanged is reused on re-ingest without decoding anything.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_path, write_json
from vcfnet.preprocess import PREPROCESSING_VERSION
from vcfnet.study.layout import StudyLayout


@dataclass
class CropCache:
    crops: np.ndarray                    # (N, 1, S, S) uint8
    roi_ids: list[str]
    hashes: list[str]
    size: int
    margin: float
    preprocessing_version: str = PREPROCESSING_VERSION
    table_sha256: str | None = None      # the study.csv these crops belong to (None: not recorded)
    _pos: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._pos = {r: i for i, r in enumerate(self.roi_ids)}

    def index_of(self, roi_ids) -> np.ndarray:
        try:
            return np.array([self._pos[r] for r in roi_ids], dtype=np.int64)
        except KeyError as exc:
            raise VcfnetError(f"ROI {exc.args[0]} is in the Study table but not in the crop cache; "
                              f"run `vcfnet ingest` again to rebuild the cache") from None

    def get(self, roi_ids) -> np.ndarray:
        return self.crops[self.index_of(roi_ids)]


def roi_hash(source_sha256: str, box: tuple[float, float, float, float], size: int, margin: float) -> str:
    """Hash of everything that determines a crop's pixels."""
    key = f"{source_sha256}|{tuple(float(v) for v in box)}|{size}|{margin}|{PREPROCESSING_VERSION}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def read_cache(study_dir: str | Path, *, mmap: bool = True) -> CropCache:
    layout = StudyLayout(study_dir)
    layout.require(layout.crops, layout.cache_index)
    index = json.loads(layout.cache_index.read_text())
    crops = np.load(layout.crops, mmap_mode="r" if mmap else None, allow_pickle=False)
    if crops.shape[0] != len(index["roi_ids"]):
        raise VcfnetError(f"{layout.crops}: holds {crops.shape[0]} crops but its index lists "
                          f"{len(index['roi_ids'])}; run `vcfnet ingest` again to rebuild the cache")
    return CropCache(crops=crops, roi_ids=list(index["roi_ids"]), hashes=list(index["hashes"]),
                     size=int(index["size"]), margin=float(index["margin"]),
                     preprocessing_version=str(index["preprocessing_version"]),
                     table_sha256=index.get("table_sha256"))


def write_cache(study_dir: str | Path, cache: CropCache) -> None:
    """Write crops then index, each atomically; the index is written last and names the crop count."""
    layout = StudyLayout(study_dir)
    if cache.crops.dtype != np.uint8 or cache.crops.ndim != 4 or cache.crops.shape[1] != 1:
        raise ValueError(f"crops must be (N, 1, S, S) uint8, got {cache.crops.shape} {cache.crops.dtype}")
    with atomic_path(layout.crops) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(cache.crops), allow_pickle=False)
    write_json(layout.cache_index, {
        "preprocessing_version": cache.preprocessing_version, "size": cache.size, "margin": cache.margin,
        "count": len(cache.roi_ids), "roi_ids": cache.roi_ids, "hashes": cache.hashes,
        **({"table_sha256": cache.table_sha256} if cache.table_sha256 else {}),
    })
