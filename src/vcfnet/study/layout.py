"""Where things live inside a study directory (one place, so no module guesses a path).

    STUDY/
      study.csv          the Study table (one row per vertebra)
      sources.json       every ingested source: kind, site, cohort, root, file hashes
      secret.key         the per-study HMAC key for patient pseudonyms (mode 0600, never shared)
      cache/crops.npy    uint8 crops, N x 1 x S x S, in the order of cache/index.json
      cache/index.json   roi ids, source hashes, preprocessing version, crop size and margin
      splits.csv         roi_id, split (train|val|test|external|prospective), collaboration (0/1)
      splits.json        the seed, fractions and checks that produced splits.csv
      skipped.csv        what ``ingest --skip-bad`` left out, and why
"""
from __future__ import annotations

from pathlib import Path

from vcfnet.errors import VcfnetError


class StudyLayout:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    study_table = property(lambda self: self.root / "study.csv")
    sources = property(lambda self: self.root / "sources.json")
    secret = property(lambda self: self.root / "secret.key")
    cache_dir = property(lambda self: self.root / "cache")
    crops = property(lambda self: self.root / "cache" / "crops.npy")
    cache_index = property(lambda self: self.root / "cache" / "index.json")
    splits = property(lambda self: self.root / "splits.csv")
    splits_meta = property(lambda self: self.root / "splits.json")
    skipped = property(lambda self: self.root / "skipped.csv")

    def require(self, *paths: Path) -> None:
        """Raise a clear error when a study directory lacks a file an earlier stage writes."""
        for p in paths:
            if not p.exists():
                raise VcfnetError(f"{self.root}: no {p.relative_to(self.root)} here; is this a study "
                                  f"directory made by `vcfnet ingest`?")
