"""The reader study's tables (SQLAlchemy Core) and the engine: SQLite in WAL mode by default, any other
database by URL (``postgresql+psycopg://user@host/db``). No SQL text here is SQLite's own: the only
SQLite-specific lines are the connection pragmas and ``BEGIN IMMEDIATE`` (so that concurrent writers
queue at the start of their transaction instead of failing half-way), both in :func:`make_engine`.

Tables:

``meta``     key -> JSON value: ``study`` (source study, case list rule), ``design``, ``model`` (weights hash),
             ``head`` (the audit chain's last seq and hash, updated in the same transaction as each event)
``readers``  reader id, display name, tier, years of experience, simulated
``cases``    the case list (roi_id, its place in the list, its media key)
``orders``   per reader and session: position -> roi_id, and the seed that drew the order
``served``   when each case was last shown to its reader (for reading time; not part of the record)
``reads``    one row per locked answer; a correction is a new row with ``version`` + 1 and a reason
``events``   the append-only, hash-chained audit log (``vcfnet.readers.audit``)
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine

metadata = MetaData()

meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text, nullable=False))

readers = Table(
    "readers", metadata,
    Column("reader", String(32), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("years", Float, nullable=True),
    Column("simulated", Integer, nullable=False, default=0),
    Column("created_at", String(32), nullable=False),
)

cases = Table(
    "cases", metadata,
    Column("roi_id", String(200), primary_key=True),
    Column("idx", Integer, nullable=False, unique=True),
    Column("media", String(64), nullable=False),
)

orders = Table(
    "orders", metadata,
    Column("reader", String(32), nullable=False),
    Column("session", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Column("roi_id", String(200), nullable=False),
    Column("seed", BigInteger, nullable=True),
    PrimaryKeyConstraint("reader", "session", "position"),
    UniqueConstraint("reader", "session", "roi_id"),
)

served = Table(
    "served", metadata,
    Column("reader", String(32), nullable=False),
    Column("session", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    Column("served_at", String(32), nullable=False),
    PrimaryKeyConstraint("reader", "session", "position"),
)

reads = Table(
    "reads", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reader", String(32), nullable=False),
    Column("session", String(16), nullable=False),
    Column("roi_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("answer", String(16), nullable=False),
    Column("p_acute", Float, nullable=False),
    Column("p_chronic", Float, nullable=False),
    Column("p_pathological", Float, nullable=False),
    Column("position", Integer, nullable=True),
    Column("seconds", Float, nullable=True),
    Column("client_seconds", Float, nullable=True),
    Column("seed", BigInteger, nullable=True),
    Column("submitted_at", String(32), nullable=False),
    Column("simulated", Integer, nullable=False),
    Column("origin", String(16), nullable=False),          # app | import | correction
    Column("reason", Text, nullable=True),                 # why a correction was made
    Column("event_seq", Integer, nullable=False),
    UniqueConstraint("reader", "session", "roi_id", "version"),
)

events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

#: Columns of ``reads`` that an event's payload records (all but the row id), in table order.
READ_FIELDS: tuple[str, ...] = tuple(c.name for c in reads.columns if c.name != "id")
BUSY_TIMEOUT_MS = 30_000


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and immediate (writer-queued) transactions."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None      # SQLAlchemy's begin event below starts transactions
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=FULL")  # a locked answer survives a power cut, not only a crash
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine
