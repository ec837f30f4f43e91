"""The record: reads locked and immutable, corrections as new versions, the hash chain catching an edited or
deleted row in the reads, readers, orders or events table (raw SQL, as someone with the file would)."""
from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from readers_toys import T0, answer, make_store

from vcfnet.errors import VcfnetError
from vcfnet.readers.design import Reader
from vcfnet.readers.store import TurnError
from vcfnet.readers.verify import verify_store


def _read_all(store, reader="r1", now=T0):
    """Read every case of both sessions in the design's order (washout 0)."""
    for _ in range(2 * len(store.cases())):
        task = store.task(reader, now)
        if task.state != "read":
            break
        store.serve(reader, task.session, task.position, now)
        now += dt.timedelta(seconds=7)
        store.submit(reader, task.session, task.position, answer(), now=now, client_seconds=6.5)
    return now


@pytest.fixture
def store(tmp_path):
    s = make_store(tmp_path)
    s.add_reader(Reader("r1", "Dr A", "expert", 12), now=T0)
    s.add_reader(Reader("r2", "Dr B", "trainee", 1), now=T0)
    yield s
    s.close()


def _raw(store):
    return sqlite3.connect(store.url.removeprefix("sqlite:///"))


def test_a_full_read_exports_the_reads_table_and_verifies(store):
    _read_all(store)
    table = store.reads_table()
    assert len(table) == 8 and set(table["session"]) == {"unaided", "aided"}
    assert table["seconds"].eq(7.0).all()                       # server-side: served -> locked
    assert table["tier"].eq("expert").all() and table["seed"].notna().all()
    assert store.task("r1", T0).state == "done" and store.task("r2", T0).state == "read"
    problems, head = verify_store(store)
    assert problems == [] and head["seq"] == 1 + 2 + 8


def test_a_locked_answer_cannot_be_submitted_again_and_order_is_enforced(store):
    task = store.task("r1", T0)
    store.serve("r1", task.session, task.position, T0)
    store.submit("r1", "unaided", 1, answer(), now=T0)
    with pytest.raises(TurnError, match="not open"):
        store.submit("r1", "unaided", 1, answer("chronic", (10, 80, 10)), now=T0)
    with pytest.raises(TurnError, match="not open"):
        store.serve("r1", "unaided", 3, T0)                     # skipping ahead
    with pytest.raises(TurnError, match="not open"):
        store.serve("r1", "aided", 1, T0)                       # aided before the unaided session is over


@pytest.mark.parametrize("bad, field", [
    (answer("acute", (20, 70, 10)), "answer"),                  # the answer must have the largest confidence
    (answer("acute", (70, 20, 20)), "p_acute,p_chronic,p_pathological"),
    (answer("acute", (170, -50, -20)), "p_acute"),
    ({"answer": "fractured", "p_acute": 100, "p_chronic": 0, "p_pathological": 0}, "answer"),
])
def test_an_invalid_answer_is_refused_naming_the_field(store, bad, field):
    store.serve("r1", "unaided", 1, T0)
    with pytest.raises(VcfnetError, match=field.replace(",", ".")):
        store.submit("r1", "unaided", 1, bad, now=T0)
    assert store.reads_table().empty


def test_a_correction_is_a_new_version_with_its_reason(store):
    _read_all(store)
    first = store.reads_table().iloc[0]
    fixed = store.correct("r1", first["session"], first["roi_id"], answer("chronic", (10, 85, 5)),
                          reason="clicked the wrong class", now=T0 + dt.timedelta(hours=1))
    assert fixed["version"] == 2 and fixed["origin"] == "correction"
    table = store.reads_table()
    row = table[(table["roi_id"] == first["roi_id"]) & (table["session"] == first["session"])].iloc[0]
    assert row["answer"] == "chronic" and len(table) == 8
    assert len(store.all_reads()) == 9                          # the first version is kept
    assert verify_store(store)[0] == []
    with pytest.raises(VcfnetError, match="reason"):
        store.correct("r1", first["session"], first["roi_id"], answer(), reason=" ", now=T0)


def test_an_edited_read_row_is_detected_naming_its_event(store):
    _read_all(store)
    with _raw(store) as con:
        seq = con.execute("SELECT event_seq FROM reads WHERE id = 3").fetchone()[0]
        con.execute("UPDATE reads SET answer = 'chronic', p_chronic = 80, p_acute = 10 WHERE id = 3")
    problems, _ = verify_store(store)
    assert len(problems) == 1 and problems[0].startswith(f"event {seq} (read)") and "answer" in problems[0]


def test_an_edited_reading_time_is_detected(store):
    _read_all(store)
    with _raw(store) as con:
        con.execute("UPDATE reads SET seconds = 99 WHERE id = 1")
    assert any("seconds" in p for p in verify_store(store)[0])


def test_an_edited_audit_row_is_detected(store):
    _read_all(store)
    with _raw(store) as con:
        payload = con.execute("SELECT payload FROM events WHERE seq = 5").fetchone()[0]
        con.execute("UPDATE events SET payload = ? WHERE seq = 5", (payload.replace('"acute"', '"chronic"', 1),))
    problems, _ = verify_store(store)
    assert any(p.startswith("event 5 (read): its content does not match its hash") for p in problems)


def test_a_deleted_read_row_and_a_deleted_event_are_detected(store):
    _read_all(store)
    with _raw(store) as con:
        seq = con.execute("SELECT event_seq FROM reads WHERE id = 2").fetchone()[0]
        con.execute("DELETE FROM reads WHERE id = 2")
    assert f"event {seq} (read): its read row is missing (deleted)" in verify_store(store)[0]


def test_a_deleted_event_breaks_the_chain(store):
    _read_all(store)
    with _raw(store) as con:
        con.execute("DELETE FROM events WHERE seq = 6")
    problems = verify_store(store)[0]
    assert any("events 6..6 are missing" in p for p in problems)
    assert any("read row" in p and "event 6 is missing" in p for p in problems)


def test_the_last_event_deleted_is_detected_by_the_head(store):
    with _raw(store) as con:
        con.execute("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)")
        con.execute("DELETE FROM readers WHERE reader = 'r2'")
    problems = verify_store(store)[0]
    assert any("recorded head" in p for p in problems)


def test_changed_orders_or_reader_rows_are_detected(store):
    with _raw(store) as con:
        con.execute("UPDATE orders SET roi_id = 'v9' WHERE reader = 'r2' AND session = 'aided' AND position = 1")
        con.execute("UPDATE readers SET tier = 'expert' WHERE reader = 'r2'")
    problems = verify_store(store)[0]
    assert any("'r2''s case orders were changed" in p for p in problems)
    assert any("reader 'r2' differs in tier" in p for p in problems)


def make_store_reads(folder):
    from vcfnet.readers.manage import open_store

    store = open_store(folder)
    try:
        return store.reads_table()
    finally:
        store.close()


def test_the_cli_correct_and_verify_exits_non_zero_naming_the_event(tmp_path):
    from readers_toys import cli

    s = make_store(tmp_path)
    s.add_reader(Reader("r1", "Dr A", "expert", 12), now=T0)
    _read_all(s)
    s.close()
    assert "intact: 10 events" in cli("readers", "verify", str(tmp_path)).stdout
    first = make_store_reads(tmp_path).iloc[0]
    out = cli("readers", "correct", str(tmp_path), "r1", first["session"], first["roi_id"], "--answer", "chronic",
              "--confidences", "10,80,10", "--reason", "typed the wrong class").stdout
    assert "is now version 2 (event 11)" in out
    fixed = make_store_reads(tmp_path)
    assert fixed.iloc[0]["answer"] == "chronic" and len(fixed) == 8
    assert "intact: 11 events" in cli("readers", "verify", str(tmp_path)).stdout
    with sqlite3.connect(tmp_path / "readers.sqlite3") as con:
        seq = con.execute("SELECT event_seq FROM reads WHERE id = 4").fetchone()[0]
        con.execute("UPDATE reads SET p_acute = 60, p_chronic = 30 WHERE id = 4")
    proc = cli("readers", "verify", str(tmp_path), check=False)
    assert proc.returncode == 1 and f"TAMPERED: event {seq} (read)" in proc.stderr
