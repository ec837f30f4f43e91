"""Design rules: seeded orders reproducible, crossover and sequential order of work, the washout held
by the server with injected time."""
from __future__ import annotations

import datetime as dt

import pytest
from readers_toys import T0, answer, make_store

from vcfnet.errors import VcfnetError
from vcfnet.readers.design import Design, Reader, case_order, next_task, orders_for, session_seed
from vcfnet.readers.store import TurnError


def test_orders_are_permutations_reproducible_from_their_seed():
    cases = [f"v{i}" for i in range(30)]
    a = case_order(cases, 123)
    assert sorted(a) == sorted(cases) and a == case_order(cases, 123) and a != case_order(cases, 124)
    d = Design("crossover", 14, seed=9)
    plan = orders_for(d, "r1", cases)
    assert plan["unaided"][0] == session_seed(9, "r1", "unaided") and plan["unaided"][1] != plan["aided"][1]
    assert orders_for(d, "r1", cases) == plan and orders_for(d, "r2", cases) != plan
    seq = orders_for(Design("sequential", 0, seed=9), "r1", cases)
    assert seq["unaided"] == seq["aided"]                          # one order: each case re-read at once


def test_design_values_are_checked():
    with pytest.raises(VcfnetError, match="not known"):
        Design("parallel")
    with pytest.raises(VcfnetError, match="no washout"):
        Design("sequential", 3)
    with pytest.raises(VcfnetError, match="tier"):
        Reader("r1", "A", "resident")
    with pytest.raises(VcfnetError, match="reader id"):
        Reader("Dr Smith", "Dr Smith", "expert")


def test_sequential_alternates_unaided_then_aided_per_case():
    d = Design("sequential")
    done = {"unaided": {}, "aided": {}}
    seen = []
    for _ in range(6):
        t = next_task(d, 3, done, T0)
        seen.append((t.session, t.position))
        done[t.session][t.position] = T0
    assert seen == [("unaided", 1), ("aided", 1), ("unaided", 2), ("aided", 2), ("unaided", 3), ("aided", 3)]
    assert next_task(d, 3, done, T0).state == "done"


def test_the_washout_holds_the_aided_session_until_it_has_passed(tmp_path):
    store = make_store(tmp_path, kind="crossover", washout=28, n=3)
    store.add_reader(Reader("r1", "Dr A", "competent", 5), now=T0)
    now = T0
    for pos in (1, 2, 3):
        store.serve("r1", "unaided", pos, now)
        now += dt.timedelta(minutes=1)
        store.submit("r1", "unaided", pos, answer(), now=now)
    last = now
    for later in (dt.timedelta(0), dt.timedelta(days=27, hours=23)):
        task = store.task("r1", last + later)
        assert task.state == "wait" and task.opens_at == last + dt.timedelta(days=28)
        with pytest.raises(TurnError, match="opens at"):
            store.serve("r1", "aided", 1, last + later)
        with pytest.raises(TurnError, match="opens at"):
            store.submit("r1", "aided", 1, answer(), now=last + later)
    opened = last + dt.timedelta(days=28)
    assert store.task("r1", opened).state == "read"
    case = store.serve("r1", "aided", 1, opened)
    assert case["roi_id"] == store.order("r1", "aided")[0]["roi_id"]
    store.submit("r1", "aided", 1, answer(), now=opened + dt.timedelta(seconds=30))
    assert store.reads_table()["seconds"].tolist()[-1] == 30.0
