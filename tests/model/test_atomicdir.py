"""Folder swaps: the old version stays whole until the new one is, and an interrupted swap is undone."""
import os

import pytest

from vcfnet.errors import VcfnetError
from vcfnet.model.atomicdir import recover_dir, replace_dir


def _write(folder, text):
    with replace_dir(folder) as new:
        (new / "a.txt").write_text(text)
        (new / "b.txt").write_text(text)


def _read(folder):
    return sorted((p.name, p.read_text()) for p in folder.iterdir())


def test_replace_dir_swaps_whole_folders_and_a_failure_keeps_the_old_one(tmp_path):
    folder = tmp_path / "state"
    _write(folder, "1")
    _write(folder, "2")
    assert _read(folder) == [("a.txt", "2"), ("b.txt", "2")]
    with pytest.raises(RuntimeError), replace_dir(folder) as new:
        (new / "a.txt").write_text("3")
        raise RuntimeError("killed half way")
    assert _read(folder) == [("a.txt", "2"), ("b.txt", "2")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_recover_dir_puts_back_the_previous_version_after_a_kill_between_the_renames(tmp_path):
    folder = tmp_path / "state"
    _write(folder, "1")
    os.rename(folder, tmp_path / ".state.old")   # what a kill between the two renames leaves
    (tmp_path / ".state.new").mkdir()
    (tmp_path / ".state.new" / "a.txt").write_text("2")
    assert recover_dir(folder) is True
    assert _read(folder) == [("a.txt", "1"), ("b.txt", "1")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert recover_dir(folder) is False and _read(folder) == [("a.txt", "1"), ("b.txt", "1")]


def test_checkpoint_refuses_a_folder_holding_other_files(tmp_path):
    from vcfnet.model.checkpoint import save_checkpoint
    from vcfnet.model.network import build_model

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(VcfnetError, match="holds files other than a checkpoint \\(notes.txt\\)"):
        save_checkpoint(tmp_path / "mine", build_model(weights=None), {})
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
