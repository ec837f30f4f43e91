import subprocess
import sys

import pandas as pd

from vcfnet.cli import main


def test_ingest_and_summary_commands(png_source, tmp_path, capsys):
    study = tmp_path / "study"
    assert main(["ingest", str(png_source), "--study", str(study), "--site", "site1",
                 "--cohort", "development", "--size", "32", "--workers", "1"]) == 0
    assert main(["study", "summary", str(study)]) == 0
    out = capsys.readouterr().out
    assert "Table 1" in out and "Development: internal test" in out
    table1 = pd.read_csv(study / "table1.csv")
    assert table1.loc[table1.cohort == "development", "vertebrae"].item() == 12
    assert main(["study", "split", str(study), "--seed", "4"]) == 0
    assert "patients on two sides of a split: 0" in capsys.readouterr().out


def test_user_error_is_one_line_without_traceback(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "vcfnet.cli", "ingest", str(tmp_path / "empty"), "--study",
                           str(tmp_path / "s"), "--site", "a", "--cohort", "development"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "empty" in proc.stderr and "cannot tell what this folder holds" in proc.stderr


def test_unknown_cohort(png_source, tmp_path, capsys):
    assert main(["ingest", str(png_source), "--study", str(tmp_path / "s"), "--site", "a",
                 "--cohort", "internal"]) == 2
    assert "unknown cohort 'internal'" in capsys.readouterr().err
