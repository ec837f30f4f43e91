"""An ingest that fails or is killed leaves nothing that looks like a study, or a valid one; running it
again gives what one uninterrupted run gives (issue 8, items 6 and 16)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from study_sources import write_voc_pair

from vcfnet.errors import InputError, VcfnetError
from vcfnet.study.cache import read_cache
from vcfnet.study.dataset import load_cropset
from vcfnet.study.ingest import IngestOptions, ingest

KEYED = ["roi_id", "image", "patient_id", "source"]   # columns that are pseudonyms under the study's key


def _opts(**kw):
    return IngestOptions(**{"site": "site1", "cohort": "development", "size": 16, "workers": 1, **kw})


def _leftovers(study):
    return sorted(p.name for p in study.parent.iterdir() if p.name.startswith(f".{study.name}"))


def test_failed_ingest_into_a_new_folder_leaves_nothing(png_source, tmp_path):
    (png_source / "img3.png").write_bytes(b"not a png")
    study = tmp_path / "study"
    with pytest.raises(InputError, match="img3.png"):
        ingest(png_source, study, _opts())
    assert not study.exists() and _leftovers(study) == []
    study.mkdir()                                        # an empty folder given by the user stays empty
    with pytest.raises(InputError):
        ingest(png_source, study, _opts())
    assert list(study.iterdir()) == [] and _leftovers(study) == []


def test_a_folder_that_is_not_a_study_is_refused(png_source, tmp_path):
    study = tmp_path / "notes"
    study.mkdir()
    (study / "todo.txt").write_text("x")
    with pytest.raises(VcfnetError, match="not a study"):
        ingest(png_source, study, _opts())
    assert sorted(p.name for p in study.iterdir()) == ["todo.txt"]


def _run_cli(source, study, site="site1", cohort="development", kill_at=None):
    env = {**os.environ, "VCFNET_TEST_KILL_AT": kill_at or ""}
    return subprocess.run([sys.executable, "-m", "vcfnet.cli", "ingest", str(source), "--study", str(study),
                           "--site", site, "--cohort", cohort, "--size", "16", "--workers", "1"],
                          env=env, capture_output=True, text=True, timeout=120)


def _run_here(source, study, site="site1", cohort="development"):
    """The same ingest as ``_run_cli`` without it, in this process (faster): returns 0 like the CLI."""
    ingest(source, study, _opts(site=site, cohort=cohort))
    return 0


def _content(study):
    """What a study holds, without what depends on its secret key: rows and crop bytes by content hash."""
    cropset, cache = load_cropset(study), read_cache(study, mmap=False)
    table = cropset.table.assign(content=[dict(zip(cache.roi_ids, cache.hashes))[r] for r in cropset.roi_ids])
    crops = {h: cropset.crops[i].tobytes() for i, h in enumerate(table["content"])}
    return table.drop(columns=KEYED).sort_values("content").reset_index(drop=True), crops


def _is_nothing_or_a_valid_study(study):
    """Nothing, a study that loads (table, cache and splits agree), or one that says it was interrupted."""
    if not study.exists():
        return True
    try:
        _content(study)
    except VcfnetError as exc:
        assert "ingest into this study was interrupted" in str(exc) and "\n" not in str(exc)
    return True


def _killed_then_rerun(source, study, point, **kw):
    proc = _run_cli(source, study, kill_at=point, **kw)
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr[-2000:])
    assert _is_nothing_or_a_valid_study(study)
    _run_here(source, study, **kw)
    assert _leftovers(study) == []


def _check_new_study_point(png_source, tmp_path, point):
    reference = tmp_path / "reference"
    _run_here(png_source, reference)
    study = tmp_path / "study"
    _killed_then_rerun(png_source, study, point)
    (a, crops_a), (b, crops_b) = _content(reference), _content(study)
    pd.testing.assert_frame_equal(a, b)
    assert crops_a == crops_b


def _check_update_point(png_source, tmp_path, point):
    """Kill while a second source is added to an existing study: the rerun gives the same bytes."""
    other = tmp_path / "ext"
    other.mkdir()
    write_voc_pair(other, "e1", [("acute", "L3", 20, 30, 70, 60)])
    study, reference = tmp_path / "study", tmp_path / "reference"
    _run_here(png_source, study)
    subprocess.run(["cp", "-a", str(study), str(reference)], check=True)
    _run_here(other, reference, site="site2", cohort="external")
    _killed_then_rerun(other, study, point, site="site2", cohort="external")
    for name in ("study.csv", "splits.csv", "cache/crops.npy", "cache/index.json", "sources.json"):
        assert (study / name).read_bytes() == (reference / name).read_bytes(), name


def test_rows_are_never_paired_with_another_versions_crops(png_source, tmp_path):
    """Killed between the crop cache and the table of a re-ingest that changed a box: the study says so
    instead of pairing the old row with the new crop."""
    study = tmp_path / "study"
    _run_here(png_source, study)
    write_voc_pair(png_source, "img0", [("pathological", "L1", 5, 5, 40, 40),
                                        ("pathological", "L2", 10, 70, 60, 110)], seed=0)
    assert _run_cli(png_source, study, kill_at="cache").returncode == -signal.SIGKILL
    with pytest.raises(VcfnetError, match="interrupted"):
        load_cropset(study)
    _run_here(png_source, study)
    assert (load_cropset(study).table["label"] == "pathological").sum() == 7


def test_killed_ingest_into_a_new_study_reruns_to_the_same_study(png_source, tmp_path):
    _check_new_study_point(png_source, tmp_path, "cache")


def test_killed_ingest_into_an_existing_study_reruns_to_the_same_bytes(png_source, tmp_path):
    _check_update_point(png_source, tmp_path, "table")


@pytest.mark.slow
@pytest.mark.parametrize("point", ["key", "decoded", "table", "splits", "sources", "rename"])
def test_killed_new_study_at_every_point(png_source, tmp_path, point):
    _check_new_study_point(png_source, tmp_path, point)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["decoded", "cache", "splits", "sources", "skipped"])
def test_killed_update_at_every_point(png_source, tmp_path, point):
    _check_update_point(png_source, tmp_path, point)


def test_after_a_killed_ingest_another_source_cannot_adopt_its_crops(png_source, tmp_path):
    study, other = tmp_path / "study", tmp_path / "ext"
    other.mkdir()
    write_voc_pair(other, "e1", [("acute", "L3", 20, 30, 70, 60)])
    _run_here(png_source, study)
    write_voc_pair(png_source, "img0", [("pathological", "L1", 5, 5, 40, 40)], seed=0)
    assert _run_cli(png_source, study, kill_at="cache").returncode == -signal.SIGKILL
    with pytest.raises(VcfnetError, match="ingest that source again first"):
        _run_here(other, study, site="site2", cohort="external")
    _run_here(png_source, study)
    _run_here(other, study, site="site2", cohort="external")
    table = load_cropset(study).table
    assert len(table) == 12 and (table["site"] == "site2").sum() == 1
