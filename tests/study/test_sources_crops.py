"""Crop folders named with --synonyms: the folder and the file names go through the same synonym table."""
from __future__ import annotations

import pytest
from PIL import Image
from study_sources import radiograph_array

from vcfnet.errors import InputError
from vcfnet.labels import DEFAULT_SYNONYMS
from vcfnet.study.sources import discover

SYNONYMS = {**DEFAULT_SYNONYMS, "neu": "acute", "alt": "chronic"}


def _crops(root, names):
    for rel in names:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(radiograph_array(32, 32)).save(path)
    return root


def test_synonym_folders_and_file_names(tmp_path):
    src = _crops(tmp_path / "crops", ["train/Neu/1-Neu-1-70-F.png", "train/Neu/2-Acute-12-71-M.png",
                                      "train/Alt/3-Alt-L4-80-F.png"])
    found = discover(src, synonyms=SYNONYMS)
    assert not found.skipped
    assert {it.rel: (it.meta["label"], it.meta["level"]) for it in found.items} == {
        "train/Neu/1-Neu-1-70-F.png": ("acute", "L1"), "train/Neu/2-Acute-12-71-M.png": ("acute", "T12"),
        "train/Alt/3-Alt-L4-80-F.png": ("chronic", "L4")}


def test_synonym_file_in_the_wrong_synonym_folder_is_refused(tmp_path):
    src = _crops(tmp_path / "crops", ["Neu/1-Alt-1-70-F.png"])
    with pytest.raises(InputError, match="file name says 'chronic' but the file is in the 'Neu' \\(acute\\)"):
        discover(src, synonyms=SYNONYMS)
