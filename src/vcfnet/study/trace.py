"""Map a study's file pseudonyms back to the files of a source, for the user's own terminal only.

The study holds no path of a source (``io.deid.PathPseudonyms``); whoever has the study's key and the
source folder can recompute the pseudonyms and so find the file behind a row or a skipped entry.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vcfnet.errors import InputError
from vcfnet.io.deid import PathPseudonyms, load_or_create_key
from vcfnet.study.layout import StudyLayout


def trace_source(study_dir: str | Path, source: str | Path) -> tuple[str, list[tuple[str, str]]]:
    """The source's id and (pseudonym, path in the source) of each of its files the study mentions."""
    layout = StudyLayout(study_dir)
    layout.require(layout.study_table, layout.secret)
    source = Path(source).resolve()
    if not source.is_dir():
        raise InputError(source, "is not a folder (expected the source folder given to `vcfnet ingest`)")
    paths = PathPseudonyms(load_or_create_key(layout.secret), source)
    mentioned = _mentioned(layout, paths.source_id)
    found = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        rel = path.relative_to(source).as_posix()
        if paths.file(rel) in mentioned:
            found.append((paths.file(rel), rel))
    return paths.source_id, found


def _mentioned(layout: StudyLayout, source_id: str) -> set[str]:
    table = pd.read_csv(layout.study_table, dtype=str, keep_default_na=False, usecols=["image", "source"])
    names = {i.rsplit("/", 1)[-1] for i in table.loc[table["source"] == source_id, "image"]}
    if layout.skipped.exists():
        skipped = pd.read_csv(layout.skipped, dtype=str, keep_default_na=False)
        names |= set(skipped.loc[skipped["source"] == source_id, "file"])
    if layout.sources.exists():
        names |= set(json.loads(layout.sources.read_text()).get(source_id, {}).get("files", {}))
    return names
