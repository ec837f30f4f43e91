"""No identifier from a source's folder names, file names or DICOM headers reaches the study folder or a
log line (issue 8, item 4). Toy size: part of the default suite."""
from __future__ import annotations

import logging

import pandas as pd
from study_sources import write_voc_pair

from vcfnet.cli import main

FOLDER, SUBFOLDER = "SMITH^JOHN_PID-7777123", "WHITE^EVE_4444123"
HEADERS = {"PatientName": "Zebedee^Quixotic", "PatientID": "ZQ-99173", "PatientBirthDate": "19310217",
           "AccessionNumber": "ACX55501"}
NEEDLES = ("SMITH", "JOHN", "7777123", "WHITE", "EVE_", "4444123", "DOE", "JANE", "8888123", "BROWN", "ALICE",
           "6666123", "GREEN", "5555123", "Zebedee", "Quixotic", "ZQ-99173", "19310217", "ACX55501")
BOX = [("acute", "L1", 20, 30, 70, 60)]


def planted_source(root):
    """Identifiers in the folder names, the file names and the DICOM headers; one file without a patient
    identity (its own patient, logged), one bad XML and one truncated image (skipped with --skip-bad)."""
    src = root / FOLDER
    (src / SUBFOLDER).mkdir(parents=True)
    write_voc_pair(src, "SMITH_JOHN_7777123", BOX, fmt="dicom", identifiers=HEADERS)
    write_voc_pair(src / SUBFOLDER, "WHITE_EVE_4444123", BOX, fmt="dicom", seed=1,
                   identifiers={**HEADERS, "PatientID": "ZQ-99173-4444123"})
    write_voc_pair(src, "DOE_JANE_8888123", BOX, seed=2)
    write_voc_pair(src, "BROWN_ALICE_6666123", BOX, seed=3)
    (src / "BROWN_ALICE_6666123.png").unlink()                     # the XML names a missing image
    png = write_voc_pair(src, "GREEN_5555123", BOX, seed=4)
    png.write_bytes(png.read_bytes()[:60])                        # truncated: fails when decoded
    return src


def _ingest(src, study, *extra) -> int:
    return main(["ingest", str(src), "--study", str(study), "--site", "site1", "--cohort", "development",
                 "--size", "32", "--workers", "1", "--skip-bad", *extra])


def _leaks(study, text: str) -> list[str]:
    found = []
    for path in [study, *study.rglob("*")]:
        data = path.read_bytes() if path.is_file() else b""
        found += [f"{n} in {path}" for n in NEEDLES if n in path.name or n.encode() in data]
    return found + [f"{n} in the log" for n in NEEDLES if n in text]


def test_no_identifier_from_paths_names_or_headers_reaches_the_study(tmp_path, caplog, capsys):
    src = planted_source(tmp_path)
    study = tmp_path / "study"
    caplog.set_level(logging.DEBUG)
    assert _ingest(src, study) == 0
    err = capsys.readouterr().err
    table = pd.read_csv(study / "study.csv")
    assert len(table) == 3 and table["patient_id"].nunique() == 3
    assert len(pd.read_csv(study / "skipped.csv")) == 2
    assert _leaks(study, caplog.text) == []
    # the user's own terminal names the skipped files, so that they can be fixed
    assert "BROWN_ALICE_6666123.xml" in err and "GREEN_5555123.png" in err
    # re-ingesting the unchanged source decodes nothing and changes nothing
    before = (study / "study.csv").read_bytes()
    assert _ingest(src, study) == 0
    assert "(0 decoded, 3 unchanged)" in capsys.readouterr().err
    assert (study / "study.csv").read_bytes() == before and _leaks(study, caplog.text) == []


def test_trace_maps_pseudonyms_back_to_files_on_the_terminal_only(tmp_path, capsys):
    src = planted_source(tmp_path)
    study = tmp_path / "study"
    assert _ingest(src, study) == 0
    capsys.readouterr()
    assert main(["study", "trace", str(study), str(src)]) == 0
    out = capsys.readouterr().out
    table = pd.read_csv(study / "study.csv")
    skipped = pd.read_csv(study / "skipped.csv")
    shown = dict(line.split(maxsplit=1) for line in out.splitlines() if line.startswith("F-"))
    images = {name.split("/")[-1] for name in table["image"]}
    assert {shown[i] for i in images} == {"SMITH_JOHN_7777123.dcm", f"{SUBFOLDER}/WHITE_EVE_4444123.dcm",
                                          "DOE_JANE_8888123.png"}
    assert {shown[f] for f in skipped["file"]} == {"BROWN_ALICE_6666123.xml", "GREEN_5555123.png"}
    assert _leaks(study, "") == []


def test_a_study_made_before_pseudonymised_paths_is_scrubbed_on_reingest(png_source, tmp_path):
    """An older vcfnet named a source by its path and images by their file names: re-ingesting that
    source replaces those rows and that entry, leaving no path behind."""
    import json

    from vcfnet.study.dataset import load_table
    study = tmp_path / "study"
    assert _ingest(png_source, study) == 0
    table = pd.read_csv(study / "study.csv", dtype=str, keep_default_na=False)
    sources = json.loads((study / "sources.json").read_text())
    [(sid, entry)] = sources.items()
    table["source"], table["image"] = "src-0123456789", [f"src-0123456789/img{i // 2}.png" for i in range(12)]
    table.to_csv(study / "study.csv", index=False)
    (study / "sources.json").write_text(json.dumps({"src-0123456789": {**entry, "path": str(png_source)}}))
    index = json.loads((study / "cache" / "index.json").read_text())
    del index["table_sha256"]
    (study / "cache" / "index.json").write_text(json.dumps(index))
    assert _ingest(png_source, study) == 0
    assert len(load_table(study)) == 12 and set(load_table(study)["source"]) == {sid}
    text = (study / "sources.json").read_text() + (study / "study.csv").read_text()
    assert str(png_source) not in text and "img0" not in text


def test_a_source_written_by_synth_is_marked_synthetic(png_source, tmp_path):
    import json

    (png_source / "manifest.json").write_text(json.dumps({"generator": "vcfnet 0.1.0 synth"}))
    assert _ingest(png_source, tmp_path / "study") == 0
    [entry] = json.loads((tmp_path / "study" / "sources.json").read_text()).values()
    assert entry["synthetic"] is True and "path" not in entry
