"""CSV import: validated by the reads table's rules and against the study, a clear error naming row and
field, nothing half-imported (one transaction), the import recorded in the audit log."""
from __future__ import annotations

import pandas as pd
import pytest
from readers_toys import T0, make_store

from vcfnet.errors import InputError
from vcfnet.readers.design import Reader
from vcfnet.readers.manage import import_csv
from vcfnet.readers.verify import verify_store


def _rows(n=4, reader="x1", tier="expert"):
    return [{"reader": reader, "tier": tier, "session": s, "roi_id": f"v{i}", "answer": "acute",
             "p_acute": 60, "p_chronic": 30, "p_pathological": 10, "position": i + 1, "simulated": 0}
            for s in ("unaided", "aided") for i in range(n)]


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path)
    s.add_reader(Reader("r1", "Dr A", "expert", 12), now=T0)
    yield s
    s.close()


def _csv(tmp_path, rows, name="reads.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_import_adds_reads_readers_and_an_import_event(store, tmp_path):
    assert import_csv(store, _csv(tmp_path, _rows()), now=T0) == 8
    table = store.reads_table()
    assert len(table) == 8 and set(table["reader"]) == {"x1"} and table["seconds"].isna().all()
    assert [e["kind"] for e in store.events()][-1] == "import"
    assert verify_store(store)[0] == []


@pytest.mark.parametrize("edit, row, field", [
    (lambda r: r[2].update(roi_id="v99"), 3, "roi_id"),                    # not a case of this study
    (lambda r: r[5].update(p_acute=90), 6, "p_acute,p_chronic,p_pathological"),
    (lambda r: r[1].update(answer="chronic"), 2, "answer"),
    (lambda r: r[6].update(session="both"), 7, "session"),
    (lambda r: r[3].update(tier="trainee"), None, "tier"),                 # two tiers for one reader
    (lambda r: r[4].update(reader="r1", tier="trainee"), 5, "tier"),        # r1 is an expert here
    (lambda r: r[7].update(seconds="fast"), 8, "seconds"),
])
def test_a_bad_row_names_row_and_field_and_nothing_is_imported(store, tmp_path, edit, row, field):
    rows = _rows()
    edit(rows)
    before = len(store.events())
    with pytest.raises(InputError) as info:
        import_csv(store, _csv(tmp_path, rows), now=T0)
    assert info.value.field == field
    if row is not None:
        assert info.value.row == row
    assert store.reads_table().empty and len(store.events()) == before
    assert [r["reader"] for r in store.readers()] == ["r1"]


def test_a_read_already_in_the_study_is_refused(store, tmp_path):
    import_csv(store, _csv(tmp_path, _rows(2)), now=T0)
    rows = _rows(3)
    with pytest.raises(InputError) as info:
        import_csv(store, _csv(tmp_path, rows, "again.csv"), now=T0)
    assert info.value.row == 1 and info.value.field == "reader,roi_id,session"
    assert len(store.reads_table()) == 4


def test_the_cli_prints_the_error_without_traceback(store, tmp_path):
    from readers_toys import cli

    rows = _rows()
    rows[2]["roi_id"] = "v99"
    proc = cli("readers", "import", str(tmp_path), str(_csv(tmp_path, rows)), check=False)
    assert proc.returncode == 2 and "row 3, field 'roi_id'" in proc.stderr and "Traceback" not in proc.stderr


def test_simulated_reads_round_trip_import_status_export(store, tmp_path):
    """The demo's simulated readers (``vcfnet.readers.simulate``) go in as reads made elsewhere and come out of
    the export unchanged; status counts them though they follow no order of this study."""
    from vcfnet.readers.manage import status_rows
    from vcfnet.readers.reads import reads_csv
    from vcfnet.readers.simulate import simulate_reads

    cases = pd.DataFrame({"roi_id": [f"v{i}" for i in range(4)], "label": ["acute", "chronic", "pathological", "acute"],
                          "p_acute": [.7, .2, .1, .5], "p_chronic": [.2, .7, .2, .3], "p_pathological": [.1, .1, .7, .2]})
    made = simulate_reads(cases, readers_per_tier=1, seed=3)
    path = tmp_path / "sim.csv"
    path.write_bytes(reads_csv(made))
    assert import_csv(store, path, now=T0) == len(made) == 24
    rows = {r["reader"]: r for r in status_rows(store, T0)}
    assert rows["sim-expert-1"]["unaided"] == rows["sim-expert-1"]["aided"] == 4 and rows["sim-expert-1"]["simulated"] == 1
    assert rows["sim-expert-1"]["next"] == "imported reads (no link)" and rows["r1"]["next"] == "unaided case 1"
    key = ["reader", "session", "roi_id"]
    out = store.reads_table().sort_values(key).reset_index(drop=True)
    made = made.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(out, made)


def test_imported_reads_of_an_app_reader_count_as_read(store, tmp_path):
    rows = [r for r in _rows(4, reader="r1") if r["session"] == "unaided"]     # no submitted_at in the file
    import_csv(store, _csv(tmp_path, rows), now=T0)
    task = store.task("r1", T0)                   # washout 0: the aided session is open at once
    assert (task.state, task.session, task.position) == ("read", "aided", 1)
