"""Where things live inside a study directory (one place, so no module guesses a path).

    STUDY/
      study.csv          the Study table (one row per vertebra)
      sources.json       every ingested source by keyed id: kind, site, cohort, its files' size, mtime and
                         SHA-256 by keyed pseudonym (no path: `vcfnet study trace` maps them back)
      secret.key         the per-study HMAC key for patient pseudonyms (mode 0600, never shared)
      cache/crops.npy    uint8 crops, N x 1 x S x S, in the order of cache/index.json
      cache/index.json   roi ids, source hashes, preprocessing version, crop size and margin, and the
                         SHA-256 of the study.csv it belongs to (splits.json names it too)
      splits.csv         roi_id, split (train|val|test|external|prospective), collaboration (0/1)
      splits.json        the seed, fractions and checks that produced splits.csv
      skipped.csv        what ``ingest --skip-bad`` left out (file pseudonyms), and why

A folder is a study once it holds ``study.csv``. A new study is built in a private sibling
``.NAME.partial-PID`` and renamed into place when complete, so a failed or killed ingest leaves no
half-made study; a partial left by a killed process is removed by the next ingest into NAME.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from vcfnet.errors import VcfnetError
from vcfnet.fileio import kill_point

log = logging.getLogger(__name__)

#: What ingest writes into a study folder (a folder holding only these, without study.csv, is half-made).
STUDY_ENTRIES = frozenset({"study.csv", "sources.json", "secret.key", "cache", "splits.csv", "splits.json",
                           "skipped.csv"})


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


@contextlib.contextmanager
def study_folder(root: str | Path) -> Iterator[StudyLayout]:
    """The layout to write a study in: ``root`` itself when it is a study already, else a private
    sibling that replaces ``root`` (absent or empty) only when the block completes."""
    root = Path(root).resolve()   # a link to an empty folder: the study goes where it points
    if (root / "study.csv").is_file():
        yield StudyLayout(root)
        return
    _remove_dead_partials(root)
    _clear_half_made(root)
    partial = root.parent / f".{root.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield StudyLayout(partial)
        kill_point("rename")
        os.replace(partial, root)   # onto an absent or empty folder: the study appears whole
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _clear_half_made(root: Path) -> None:
    """Refuse a folder that is not a study; remove what a half-made study (an older vcfnet's) left."""
    if root.exists() and not root.is_dir():
        raise VcfnetError(f"{root}: is a file; give a new or empty folder as --study")
    entries = list(root.iterdir()) if root.is_dir() else []
    if not entries:
        return
    if not all(e.name in STUDY_ENTRIES or (e.name.startswith(".") and e.name.endswith(".tmp")) for e in entries):
        raise VcfnetError(f"{root}: exists and is not a study (no study.csv) but holds other files; "
                          f"give a new or empty folder as --study")
    log.warning("%s: removing a half-made study (no study.csv) left by an interrupted ingest", root)
    for e in entries:
        shutil.rmtree(e) if e.is_dir() and not e.is_symlink() else e.unlink()


def _remove_dead_partials(root: Path) -> None:
    if not root.parent.is_dir():
        return
    for partial in root.parent.glob(f".{root.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False        # a partial of this process is from an earlier call in it, not a running one
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
