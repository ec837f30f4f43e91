"""``vcfnet readers verify``: is the record as it was written?

Checked, naming the event (or the row) at fault:
* the chain: no missing seq, each event links to the one before, each hash matches the event's content;
* the head recorded in ``meta`` is the last event (an event deleted from the end is found here);
* every read row equals the read its event recorded (an edited answer, time or confidence), points at an
  event of its kind, and every read event still has its row (a deleted read);
* every reader row and each reader's orders match what their ``add-reader`` event recorded.

Whoever can rewrite the whole database can rewrite the chain too: keep the head hash that ``verify``
and ``export`` print somewhere else (the export's ``design.json`` holds it) to anchor it.
"""
from __future__ import annotations

import json

from vcfnet.readers import db
from vcfnet.readers.audit import chain_problems
from vcfnet.readers.store import ReaderStore, orders_digest


def verify_store(store: ReaderStore) -> tuple[list[str], dict]:
    """(problems, head) of the study's record; no problems means the record is intact."""
    store.require()
    events = store.events()
    problems = chain_problems(events)
    head = store.info().get("head") or {}
    last = events[-1] if events else None
    if last is None or head.get("seq") != last["seq"] or head.get("hash") != last["hash"]:
        problems.append(f"the chain's recorded head (event {head.get('seq')}) is not its last event "
                        f"({last['seq'] if last else 'none'}): events at the end were deleted or added")
    by_seq = {int(e["seq"]): e for e in events}
    problems += _read_problems(store, by_seq)
    problems += _reader_problems(store, events)
    return problems, head


def _payload(event: dict) -> dict:
    try:
        return json.loads(event["payload"])
    except ValueError:
        return {}


def _read_problems(store: ReaderStore, by_seq: dict[int, dict]) -> list[str]:
    problems, seen = [], set()
    fields = [f for f in db.READ_FIELDS if f != "event_seq"]
    for row in store.all_reads():
        seq = int(row["event_seq"])
        seen.add(seq)
        event = by_seq.get(seq)
        what = f"read row {row['id']} ({row['reader']} / {row['session']} / {row['roi_id']})"
        if event is None or event["kind"] not in ("read", "correction"):
            problems.append(f"{what}: its event {seq} is missing or not a read event")
            continue
        recorded = _payload(event).get("read", {})
        changed = [f for f in fields if not _same(recorded.get(f), row[f])]
        if changed:
            problems.append(f"event {seq} ({event['kind']}): the read row differs from what the event recorded "
                            f"in {', '.join(changed)} (the row was edited)")
    for seq, event in sorted(by_seq.items()):
        if event["kind"] in ("read", "correction") and seq not in seen:
            problems.append(f"event {seq} ({event['kind']}): its read row is missing (deleted)")
    return problems


def _reader_problems(store: ReaderStore, events: list[dict]) -> list[str]:
    problems = []
    rows = {r["reader"]: r for r in store.readers()}
    added = {}
    for e in events:
        if e["kind"] == "add-reader":
            added[_payload(e).get("reader", {}).get("reader")] = e
    for reader, row in rows.items():
        event = added.get(reader)
        if event is None:
            problems.append(f"reader row '{reader}' has no add-reader event")
            continue
        payload = _payload(event)
        recorded = payload.get("reader", {})
        changed = [k for k in ("name", "tier", "years", "simulated", "created_at") if not _same(recorded.get(k), row[k])]
        if changed:
            problems.append(f"event {event['seq']} (add-reader): reader '{reader}' differs in {', '.join(changed)}")
        if payload.get("orders_sha256"):
            order = [o for s in ("unaided", "aided") for o in store.order(reader, s)]
            if orders_digest(order) != payload["orders_sha256"]:
                problems.append(f"event {event['seq']} (add-reader): reader '{reader}''s case orders were changed")
    for reader, event in added.items():
        if reader not in rows:
            problems.append(f"event {event['seq']} (add-reader): reader row '{reader}' is missing (deleted)")
    return problems


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b
