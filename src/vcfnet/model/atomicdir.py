"""Folders that change as one unit: a new version is written beside the old one and swapped in.

    >>> with replace_dir("run/state") as tmp:     # write every file of the new version into tmp
    ...     save_file(tensors, tmp / "state.safetensors"); write_json(tmp / "state.json", meta)

The old folder stays whole until the new one is: ``final`` is renamed to ``.final.old``, the new
folder to ``final``, and the old one is deleted. A kill between the two renames leaves no ``final``
but a complete ``.final.old``, which ``recover_dir`` puts back (the training run then repeats that
epoch, which is deterministic); a kill while the new version is written leaves ``final`` untouched
and a ``.final.new`` that the next write or ``recover_dir`` removes.

``kill_point`` (``vcfnet.fileio``) marks the points where tests kill the real CLI.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from vcfnet.fileio import kill_point

log = logging.getLogger(__name__)


def _sibling(final: Path, kind: str) -> Path:
    return final.parent / f".{final.name}.{kind}"


@contextlib.contextmanager
def replace_dir(final: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside ``final``; when the block succeeds it replaces ``final`` whole."""
    final = Path(final)
    new, old = _sibling(final, "new"), _sibling(final, "old")
    final.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir()
    try:
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(final, old)
    kill_point(f"swap:{final.name}")
    os.rename(new, final)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(final: str | Path) -> bool:
    """Undo a swap interrupted between its two renames; remove a half-written new version.

    Returns whether the previous version had to be put back (the caller says so in one line).
    """
    final = Path(final)
    new, old = _sibling(final, "new"), _sibling(final, "old")
    restored = False
    if not final.exists() and old.is_dir():
        os.rename(old, final)
        restored = True
    shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    return restored
