"""The reader study's record: design, readers, orders and locked reads, each change an audited event.

    >>> store = ReaderStore("sqlite:///rs/readers.sqlite3")
    >>> store.initialise(study={...}, design=Design("crossover", 28, seed=1), cases=[...], model={...})
    >>> store.add_reader(Reader("r1", "Dr A", "expert", 12))
    >>> store.submit("r1", "unaided", 1, {"answer": "acute", "p_acute": 70, ...}, now=utcnow())

Every write is one transaction that also appends its event to the hash chain (``events``) and moves the
chain's head (``meta.head``); the head row is locked first (``SELECT ... FOR UPDATE`` where the database
has it, ``BEGIN IMMEDIATE`` on SQLite), so concurrent writers queue and the chain never forks. Reads are
never updated or deleted: a correction is a new row (``version`` + 1) with its reason, and its own event.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from vcfnet.errors import VcfnetError
from vcfnet.readers import db
from vcfnet.readers.audit import append_event, canonical_json, insert_read
from vcfnet.readers.design import Design, Reader, Task, iso, next_task, orders_for, parse_iso
from vcfnet.readers.importing import import_rows
from vcfnet.readers.reads import CONFIDENCE_COLUMNS, SESSIONS, validate_reads

log = logging.getLogger(__name__)
MANAGER = "manager"
_LONG_AGO = _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)


class TurnError(VcfnetError):
    """A request for a case or an answer that the design does not allow now (403 in the app)."""


class ReaderStore:
    def __init__(self, url: str):
        self.url = url
        self.engine = db.make_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    # ---- transactions and the chain ---------------------------------------------------------------
    def _write(self, fn: Callable[[Connection], Any], *, attempts: int = 5) -> Any:
        """``fn(conn)`` in one transaction; retried when the database reports a lock or a lost race."""
        for attempt in range(attempts):
            try:
                with self.engine.begin() as conn:
                    # every writer queues on the chain's head first (FOR UPDATE; on SQLite BEGIN IMMEDIATE has
                    # already taken the file), so the checks in fn() see every answer committed before it
                    conn.execute(select(db.meta.c.value).where(db.meta.c.key == "head").with_for_update())
                    return fn(conn)
            except (OperationalError, IntegrityError) as exc:
                transient = "locked" in str(exc).lower() or "busy" in str(exc).lower() or \
                    (isinstance(exc, IntegrityError) and "events" in str(exc))
                if not transient or attempt == attempts - 1:
                    raise
                log.info("write retried after %s", type(exc).__name__)
        raise AssertionError("unreachable")

    def _meta(self, conn: Connection, key: str) -> Any:
        value = conn.execute(select(db.meta.c.value).where(db.meta.c.key == key)).scalar_one_or_none()
        return None if value is None else json.loads(value)

    # ---- creating the study ---------------------------------------------------------------------
    def initialise(self, *, study: dict, design: Design, cases: Sequence[tuple[str, str]], model: dict,
                   now: _dt.datetime) -> None:
        """Create the tables and record the study: ``cases`` is [(roi_id, media key)] in list order."""
        db.metadata.create_all(self.engine)

        def run(conn: Connection) -> None:
            if self._meta(conn, "design") is not None:
                raise VcfnetError(f"{self.url}: this database already holds a reader study")
            for key, value in (("study", study), ("design", design.to_dict()), ("model", model)):
                conn.execute(insert(db.meta).values(key=key, value=canonical_json(value)))
            conn.execute(insert(db.cases), [{"roi_id": r, "idx": i, "media": m} for i, (r, m) in enumerate(cases)])
            append_event(conn, "create", MANAGER, {"study": study, "design": design.to_dict(), "model": model,
                                                   "cases": [r for r, _ in cases]}, iso(now))
        self._write(run)

    def require(self) -> None:
        """A clear error when the database holds no reader study."""
        try:
            with self.engine.connect() as conn:
                design = self._meta(conn, "design")
        except OperationalError:
            design = None
        if design is None:
            raise VcfnetError(f"{self.url}: no reader study here (create one with `vcfnet readers create`)")

    def info(self) -> dict:
        with self.engine.connect() as conn:
            return {k: self._meta(conn, k) for k in ("study", "design", "model", "head")}

    def design(self) -> Design:
        with self.engine.connect() as conn:
            return Design(**self._meta(conn, "design"))

    def cases(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(db.cases).order_by(db.cases.c.idx))]

    # ---- readers --------------------------------------------------------------------------------
    def add_reader(self, reader: Reader, *, now: _dt.datetime, simulated: bool = False, actor: str = MANAGER) -> None:
        design = self.design()
        case_ids = [c["roi_id"] for c in self.cases()]
        plan = orders_for(design, reader.reader, case_ids)

        def run(conn: Connection) -> None:
            if conn.execute(select(db.readers.c.reader).where(db.readers.c.reader == reader.reader)).first():
                raise VcfnetError(f"reader '{reader.reader}' exists already")
            record = {"reader": reader.reader, "name": reader.name, "tier": reader.tier, "years": reader.years,
                      "simulated": int(simulated), "created_at": iso(now)}
            conn.execute(insert(db.readers).values(**record))
            rows = [{"reader": reader.reader, "session": s, "position": p, "roi_id": r, "seed": seed}
                    for s, (seed, order) in plan.items() for p, r in enumerate(order, start=1)]
            conn.execute(insert(db.orders), rows)
            append_event(conn, "add-reader", actor, {"reader": record, "orders_sha256": _orders_digest(rows),
                                                     "seeds": {s: seed for s, (seed, _) in plan.items()}}, iso(now))
        self._write(run)

    def readers(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(db.readers).order_by(db.readers.c.reader))]

    def reader(self, reader: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(db.readers).where(db.readers.c.reader == reader)).first()
        return None if row is None else dict(row._mapping)

    def order(self, reader: str, session: str) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(db.orders).where(db.orders.c.reader == reader, db.orders.c.session == session)
                .order_by(db.orders.c.position))]

    # ---- reading --------------------------------------------------------------------------------
    def _done(self, conn: Connection, reader: str) -> dict[str, dict[int, _dt.datetime]]:
        """session -> position -> when the first answer was locked (corrections do not move it)."""
        q = select(db.reads.c.session, db.orders.c.position, db.reads.c.submitted_at).join(
            db.orders, (db.orders.c.reader == db.reads.c.reader) & (db.orders.c.session == db.reads.c.session)
            & (db.orders.c.roi_id == db.reads.c.roi_id)).where(db.reads.c.reader == reader, db.reads.c.version == 1)
        done: dict[str, dict[int, _dt.datetime]] = {s: {} for s in SESSIONS}
        for session, position, at in conn.execute(q):   # an imported read may not say when: long ago
            done[session][int(position)] = parse_iso(at) if at else _LONG_AGO
        return done

    def task(self, reader: str, now: _dt.datetime) -> Task:
        design, n = self.design(), len(self.cases())
        with self.engine.connect() as conn:
            return next_task(design, n, self._done(conn, reader), now)

    def progress(self, reader: str) -> dict[str, int]:
        """Locked reads per session (imported ones too, which follow no order of this study)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.reads.c.session).where(db.reads.c.reader == reader,
                                                                 db.reads.c.version == 1)).scalars().all()
        return {s: sum(r == s for r in rows) for s in SESSIONS}

    def has_orders(self, reader: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(db.orders.c.reader).where(db.orders.c.reader == reader).limit(1)).first() is not None

    def serve(self, reader: str, session: str, position: int, now: _dt.datetime) -> dict:
        """The case at (session, position) if it is the reader's current task; records when it was shown."""
        design, n = self.design(), len(self.cases())

        def run(conn: Connection) -> dict:
            self._check_turn(conn, design, n, reader, session, position, now)
            key = (db.served.c.reader == reader) & (db.served.c.session == session) & (db.served.c.position == position)
            if conn.execute(update(db.served).where(key).values(served_at=iso(now))).rowcount == 0:
                conn.execute(insert(db.served).values(reader=reader, session=session, position=position,
                                                      served_at=iso(now)))
            return self._case_at(conn, reader, session, position)
        return self._write(run)

    def _case_at(self, conn: Connection, reader: str, session: str, position: int) -> dict:
        row = conn.execute(select(db.orders.c.roi_id, db.orders.c.seed, db.cases.c.media).join(
            db.cases, db.cases.c.roi_id == db.orders.c.roi_id).where(
            db.orders.c.reader == reader, db.orders.c.session == session, db.orders.c.position == position)).first()
        if row is None:
            raise TurnError(f"no case {position} in the {session} session")
        return {"roi_id": row.roi_id, "seed": row.seed, "media": row.media, "session": session, "position": position}

    def _check_turn(self, conn, design: Design, n: int, reader: str, session: str, position: int,
                    now: _dt.datetime) -> None:
        task = next_task(design, n, self._done(conn, reader), now)
        if task.state == "read" and (task.session, task.position) == (session, position):
            return
        if task.state == "wait":
            raise TurnError(f"the aided session opens at {iso(task.opens_at)} (washout of "
                            f"{design.washout_days:g} days after the last unaided answer)"
                            if task.opens_at else "the aided session is not open yet")
        if task.state == "done":
            raise TurnError("every case is read; nothing is open")
        raise TurnError(f"case {position} of the {session} session is not open; the open case is "
                        f"{task.position} of the {task.session} session")

    def submit(self, reader: str, session: str, position: int, answer: dict, *, now: _dt.datetime,
               client_seconds: float | None = None) -> dict:
        """Lock the reader's answer for the open case. ``answer``: answer + p_acute/p_chronic/p_pathological."""
        design, n = self.design(), len(self.cases())
        who = self.reader(reader)
        if who is None:
            raise VcfnetError(f"no reader '{reader}'")

        def run(conn: Connection) -> dict:
            self._check_turn(conn, design, n, reader, session, position, now)
            case = self._case_at(conn, reader, session, position)
            shown = conn.execute(select(db.served.c.served_at).where(
                db.served.c.reader == reader, db.served.c.session == session,
                db.served.c.position == position)).scalar_one_or_none()
            seconds = None if shown is None else round(max(0.0, (now - parse_iso(shown)).total_seconds()), 3)
            row = _checked_read(reader, who["tier"], session, case["roi_id"], answer, position)
            record = {**row, "version": 1, "position": position, "seconds": seconds,
                      "client_seconds": _seconds_or_none(client_seconds), "seed": case["seed"],
                      "submitted_at": iso(now), "simulated": int(who["simulated"]), "origin": "app", "reason": None}
            return insert_read(conn, record, "read", f"reader:{reader}")
        return self._write(run)

    def correct(self, reader: str, session: str, roi_id: str, answer: dict, *, reason: str, now: _dt.datetime,
                actor: str = MANAGER) -> dict:
        """A corrected answer: a new version of the read with its reason (the first stays as it was)."""
        if not reason.strip():
            raise VcfnetError("a correction needs a reason")
        who = self.reader(reader)
        if who is None:
            raise VcfnetError(f"no reader '{reader}'")

        def run(conn: Connection) -> dict:
            last = conn.execute(select(db.reads).where(
                db.reads.c.reader == reader, db.reads.c.session == session, db.reads.c.roi_id == roi_id)
                .order_by(db.reads.c.version.desc())).first()
            if last is None:
                raise VcfnetError(f"reader '{reader}' has no {session} read of {roi_id} to correct")
            row = _checked_read(reader, who["tier"], session, roi_id, answer, last.position)
            record = {**dict(last._mapping), **row, "version": last.version + 1, "submitted_at": iso(now),
                      "origin": "correction", "reason": reason.strip()}
            return insert_read(conn, record, "correction", actor, {"corrects_version": last.version})
        return self._write(run)

    # ---- tables for export and status -----------------------------------------------------------
    def current_reads(self) -> pd.DataFrame:
        """The latest version of every read, as stored (with origin, reason, client_seconds)."""
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(db.reads).order_by(db.reads.c.id))]
        latest: dict[tuple, dict] = {}
        for r in rows:
            latest[(r["reader"], r["session"], r["roi_id"])] = r
        return pd.DataFrame(list(latest.values()), columns=["id", *db.READ_FIELDS])

    def reads_table(self) -> pd.DataFrame:
        """The reads table (``vcfnet.readers.reads``): the latest version of each read, tier joined."""
        reads = self.current_reads()
        tiers = {r["reader"]: r["tier"] for r in self.readers()}
        reads["tier"] = reads["reader"].map(tiers)
        return validate_reads(reads.drop(columns=["id"]), "reader-study database")

    def orders_table(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                select(db.orders).order_by(db.orders.c.reader, db.orders.c.session, db.orders.c.position))]
        return pd.DataFrame(rows, columns=["reader", "session", "position", "roi_id", "seed"])

    def events(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(db.events).order_by(db.events.c.seq))]

    def all_reads(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(db.reads).order_by(db.reads.c.id))]

    def import_reads(self, table: pd.DataFrame, *, source: str, sha256: str, now: _dt.datetime) -> int:
        """Add validated reads (``validate_reads`` output) in one transaction; the import is an event."""
        return self._write(lambda conn: import_rows(conn, table, source=source, sha256=sha256, now=now))


def _orders_digest(rows: Iterable[dict]) -> str:
    ordered = sorted(rows, key=lambda r: (r["session"], r["position"]))
    return hashlib.sha256(canonical_json([[r["session"], r["position"], r["roi_id"], r["seed"]]
                                          for r in ordered]).encode()).hexdigest()


def orders_digest(rows: Iterable[dict]) -> str:
    return _orders_digest(rows)


def _seconds_or_none(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return round(v, 3) if 0 <= v < 10 ** 7 else None


def _checked_read(reader: str, tier: str, session: str, roi_id: str, answer: dict, position: Any) -> dict:
    """One answer checked by the reads table's own rules (confidences 0-100 summing to 100, answer the largest)."""
    if not isinstance(answer, dict):
        raise VcfnetError("an answer is an object with answer, p_acute, p_chronic, p_pathological")
    row = {"reader": reader, "tier": tier, "session": session, "roi_id": roi_id, "answer": answer.get("answer"),
           **{c: answer.get(c) for c in CONFIDENCE_COLUMNS}, "position": position}
    checked = validate_reads(pd.DataFrame([row]), "answer").iloc[0]
    return {"reader": reader, "session": session, "roi_id": roi_id, "answer": str(checked["answer"]),
            **{c: float(checked[c]) for c in CONFIDENCE_COLUMNS}}
