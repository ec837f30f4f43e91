"""`vcfnet bench train` on a machine without ../shared: synthetic crops, and a one-line seed-baseline error."""
import json

import pytest

from vcfnet.cli import main
from vcfnet.commands import bench as bench_command


@pytest.fixture
def no_shared(tmp_path, monkeypatch):
    """A checkout with nothing beside it: the sample crops are absent."""
    monkeypatch.setattr(bench_command, "SAMPLE_CROPS", tmp_path / "absent" / "vcfnet-samples" / "train")
    return tmp_path


def test_bench_train_without_sample_crops_uses_synthetic_ones(no_shared, capsys):
    out = no_shared / "bench.json"
    doc = no_shared / "BENCH.md"
    assert main(["bench", "train", "--skip-seed", "--images", "6", "--epochs", "1", "--device", "cpu",
                 "--threads", "1", "--doc", str(doc), "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "not found: using 15 synthetic crops" in err
    figures = json.loads(out.read_text())
    assert figures["project"]["images"] == 6 and figures["project"]["train_img_per_s"] > 0
    assert figures["inference"]["img_per_s"] > 0 and figures["seed"] is None
    assert "15 synthetic crops replicated" in doc.read_text()


def test_missing_seed_baseline_is_named_in_one_line(no_shared, capsys):
    missing = no_shared / "shared" / "bench" / "seed_pipeline.py"
    assert main(["bench", "train", "--images", "6", "--epochs", "1", "--device", "cpu",
                 "--seed-script", str(missing), "--doc", ""]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"seed baseline {missing} does not exist" in err and "--skip-seed" in err


def test_a_missing_crops_folder_given_by_the_user_is_one_line(no_shared, capsys):
    assert main(["bench", "train", "--skip-seed", "--crops", str(no_shared / "nope"), "--images", "6",
                 "--device", "cpu", "--doc", ""]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nope does not exist" in err, err
