"""``vcfnet readers`` end to end at toy size: create from a synthetic study (its synth folder as the
source), killed and resumed, add readers, status, export (the reads table the analysis reads), verify."""
from __future__ import annotations

import json
import os
import re

import pandas as pd
from readers_toys import cli

from vcfnet.readers.reads import COLUMNS, read_reads_csv
from vcfnet.study.dataset import load_table


def test_create_add_status_export_verify(toy_study, tmp_path):
    syn, study, checkpoint = toy_study
    rs = tmp_path / "rs"
    n = int(load_table(study)["collaboration"].sum())
    assert n >= 5
    args = ["readers", "create", str(rs), "--study", str(study), "--source", str(syn), "--checkpoint",
            str(checkpoint), "--design", "crossover", "--washout", "14", "--seed", "11"]
    # killed after its second radiograph: the media made so far stay, no study is recorded before they are all there
    killed = cli(*args, check=False, env={**os.environ, "VCFNET_TEST_KILL_AT": "readers-media@2"})
    assert killed.returncode in (-9, 137)
    made = sum(bool(re.fullmatch(r"case-[0-9a-f]{20}\.json", p.name)) for p in (rs / "media").iterdir())
    assert 1 <= made < n and not (rs / "readers.sqlite3").exists() and not list((rs / "media").glob(".*.tmp"))
    out = cli(*args).stdout
    assert f"{n} cases ({n - made} prepared, {made} reused)" in out and "manager token: vcfnet_" in out
    media = sorted(p.name for p in (rs / "media").iterdir())
    assert sum(n.endswith("-aided.json") for n in media) == n and any(n.startswith("img-") for n in media)
    aided = json.loads(next((rs / "media").glob("*-aided.json")).read_text())
    assert set(aided) == {"probabilities", "predicted", "heatmap_png"} and abs(sum(aided["probabilities"].values()) - 1) < 1e-5
    assert rs.stat().st_mode & 0o077 == 0 and (rs / "tokens.json").stat().st_mode & 0o077 == 0
    tokens = json.loads((rs / "tokens.json").read_text())["tokens"]
    assert [t["name"] for t in tokens] == ["@manager"] and "vcfnet_" not in (rs / "tokens.json").read_text()

    again = cli(*args).stdout
    assert f"(0 prepared, {n} reused)" in again and "vcfnet_" not in again

    link = cli("readers", "add-reader", str(rs), "r1", "--name", "Dr Ada Example", "--tier", "expert",
               "--years", "12").stdout
    assert "/r/vcfnet_" in link
    cli("readers", "add-reader", str(rs), "r2", "--name", "Dr Bo Example", "--tier", "trainee")
    bad = cli("readers", "add-reader", str(rs), "r1", "--name", "X", "--tier", "expert", check=False)
    assert bad.returncode == 2 and "exists already" in bad.stderr
    status = cli("readers", "status", str(rs)).stdout
    assert f"crossover, washout 14 days; {n} cases; 2 reader(s)" in status and f"0/{n}" in status
    assert "Dr Ada" not in status                                  # names: the manager's web view and exports

    cli("readers", "export", str(rs), str(tmp_path / "export"))
    reads = read_reads_csv(tmp_path / "export" / "reads.csv")
    assert list(reads.columns) == list(COLUMNS) and reads.empty
    assert (tmp_path / "export" / "reads-detail.csv").is_file()
    orders = pd.read_csv(tmp_path / "export" / "orders.csv")
    assert len(orders) == 2 * 2 * n and orders.groupby(["reader", "session"])["seed"].nunique().eq(1).all()
    design = json.loads((tmp_path / "export" / "design.json").read_text())
    assert design["design"] == {"kind": "crossover", "washout_days": 14.0, "seed": 11}
    assert design["model"]["weights_sha256"] and len(design["cases"]) == n
    truth = set(pd.read_csv(study / "study.csv")["label"])
    assert not any(t in (tmp_path / "export" / "orders.csv").read_text() for t in truth)
    assert "intact: 3 events" in cli("readers", "verify", str(rs)).stdout
    _no_identifiers_in(syn, [rs, tmp_path / "export"])


def _no_identifiers_in(syn, folders) -> None:
    """The synthetic DICOMs carry made-up names, IDs, birth dates and accession numbers: no byte of any file
    (or file name) of the reader study or its export holds one of them."""
    import pydicom

    needles = set()
    for path in sorted(syn.rglob("*.dcm"))[:60]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        needles |= {str(ds.PatientName), str(ds.PatientID), str(ds.PatientBirthDate), str(ds.AccessionNumber)}
    needles = {n.encode() for n in needles if len(n) >= 4}
    assert needles
    for folder in folders:
        for path in (p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes() + path.name.encode()
            assert not any(n in data for n in needles), path


def test_create_refuses_a_study_without_its_sources(toy_study, tmp_path):
    syn, study, checkpoint = toy_study
    proc = cli("readers", "create", str(tmp_path / "rs"), "--study", str(study), "--source",
               str(syn / "site1-development"), "--checkpoint", str(checkpoint), check=False)
    assert proc.returncode == 2 and "were not found in the --source folders" in proc.stderr
    assert "Traceback" not in proc.stderr

