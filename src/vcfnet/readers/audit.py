"""The append-only audit log's hash chain: one rule for writing an event's hash and for checking it.

Each event is ``(seq, at, kind, actor, payload)``; its hash is

    sha256(prev_hash + "\\n" + canonical_json({"seq", "at", "kind", "actor", "payload"}))

with ``canonical_json`` = sorted keys, no spaces, UTF-8, floats as written by ``json`` (the payload of a
read event holds the whole read, so editing a read row breaks the match with its event, and editing an
event breaks the chain). The first event's ``prev_hash`` is :data:`GENESIS`.

    >>> h1 = event_hash(GENESIS, 1, "2026-01-01T00:00:00.000Z", "create", "manager", {"cases": 3})
    >>> h1 == event_hash(GENESIS, 1, "2026-01-01T00:00:00.000Z", "create", "manager", {"cases": 3})
    True
    >>> h1 != event_hash(GENESIS, 1, "2026-01-01T00:00:00.000Z", "create", "manager", {"cases": 4})
    True
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from vcfnet.readers import db

GENESIS = "0" * 64


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(prev_hash: str, seq: int, at: str, kind: str, actor: str, payload: dict) -> str:
    body = canonical_json({"seq": int(seq), "at": at, "kind": kind, "actor": actor, "payload": payload})
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def chain_problems(events: list[dict]) -> list[str]:
    """Problems of a chain of event rows (dicts with seq, at, kind, actor, payload (JSON text), prev_hash, hash),
    in ``seq`` order: a gap (a deleted event), a wrong link or a hash that does not match the content."""
    problems, prev, expected_seq = [], GENESIS, 1
    for ev in events:
        seq = int(ev["seq"])
        name = f"event {seq} ({ev['kind']})"
        if seq != expected_seq:
            problems.append(f"events {expected_seq}..{seq - 1} are missing (deleted rows) before {name}")
        if ev["prev_hash"] != prev:
            problems.append(f"{name}: its prev_hash does not link to the event before it")
        try:
            payload = json.loads(ev["payload"])
        except ValueError:
            problems.append(f"{name}: its payload is not JSON")
            payload = None
        if payload is not None and event_hash(ev["prev_hash"], seq, ev["at"], ev["kind"], ev["actor"],
                                              payload) != ev["hash"]:
            problems.append(f"{name}: its content does not match its hash (the row was edited)")
        prev, expected_seq = ev["hash"], seq + 1
    return problems


def append_event(conn: Connection, kind: str, actor: str, payload: dict, at: str) -> int:
    """Append an event after the chain's head (locked for this transaction: ``FOR UPDATE`` where the
    database has it, SQLite's ``BEGIN IMMEDIATE`` holds the whole file); returns its seq."""
    row = conn.execute(select(db.meta.c.value).where(db.meta.c.key == "head").with_for_update()).scalar_one_or_none()
    head: dict[str, Any] = json.loads(row) if row else {"seq": 0, "hash": GENESIS}
    seq = int(head["seq"]) + 1
    digest = event_hash(head["hash"], seq, at, kind, actor, payload)
    conn.execute(insert(db.events).values(seq=seq, at=at, kind=kind, actor=actor, payload=canonical_json(payload),
                                          prev_hash=head["hash"], hash=digest))
    value = canonical_json({"seq": seq, "hash": digest})
    if row is None:
        conn.execute(insert(db.meta).values(key="head", value=value))
    else:
        conn.execute(update(db.meta).where(db.meta.c.key == "head").values(value=value))
    return seq


def insert_read(conn: Connection, record: dict, kind: str, actor: str, extra: dict | None = None,
                at: str | None = None) -> dict:
    """Append the read's event (its payload holds the whole read), then the row that points at it.
    The event's time is ``at``, else the read's ``submitted_at``."""
    record = {k: record[k] for k in db.READ_FIELDS if k != "event_seq"}
    seq = append_event(conn, kind, actor, {"read": record, **(extra or {})}, at or record["submitted_at"])
    conn.execute(insert(db.reads).values(**record, event_seq=seq))
    return {**record, "event_seq": seq}
