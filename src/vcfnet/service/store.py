"""State every worker process must share: page sessions and rate-limit buckets, in one SQLite file.

    >>> store = SharedStore(Path(state_dir) / "service.sqlite3")     # or SharedStore(None): this process only
    >>> sid = store.open_session("reader", csrf, max_age_s=8 * 3600)
    >>> store.session(sid)          # ('reader', csrf) until it expires or store.close_session(sid)

WAL mode lets the workers of one machine read while one writes; each write is one short
``BEGIN IMMEDIATE`` transaction. Several machines need a store they all reach (PostgreSQL, Redis):
the methods below are the whole interface such a store would implement.
"""
from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (sid TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
                                     expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, last REAL NOT NULL);
"""
#: Idle buckets and expired sessions are swept about once per this many writes.
_SWEEP_EVERY = 500


class SharedStore:
    """Sessions and token buckets in SQLite (``path``, WAL) or, with ``path=None``, in this process's memory."""

    def __init__(self, path: str | Path | None, *, clock: Callable[[], float] = time.time):
        self.path = None if path is None else Path(path)
        self._clock = clock          # wall clock: it must mean the same in every process
        self._lock = threading.Lock()
        self._writes = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path), timeout=10.0,
                                   isolation_level=None, check_same_thread=False)
        if self.path is not None:
            self.path.chmod(0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def _write(self, fn):
        """Run ``fn(db)`` in one immediate transaction (serialised across processes by SQLite)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(self._db)
                self._writes += 1
                if self._writes % _SWEEP_EVERY == 0:
                    now = self._clock()
                    self._db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
                    self._db.execute("DELETE FROM buckets WHERE last < ?", (now - 3600,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return result

    # ---- sessions -------------------------------------------------------------------------------

    def open_session(self, user: str, csrf: str, *, max_age_s: float) -> str:
        sid = secrets.token_urlsafe(24)
        self._write(lambda db: db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                                          (sid, user, csrf, self._clock() + max_age_s)))
        return sid

    def session(self, sid: str) -> tuple[str, str] | None:
        """(user, csrf) of a session that is open and not expired, else None."""
        with self._lock:
            row = self._db.execute("SELECT user, csrf, expires FROM sessions WHERE sid = ?", (sid,)).fetchone()
        if row is None or row[2] < self._clock():
            return None
        return row[0], row[1]

    def close_session(self, sid: str) -> None:
        self._write(lambda db: db.execute("DELETE FROM sessions WHERE sid = ?", (sid,)))

    # ---- rate limits ----------------------------------------------------------------------------

    def take(self, key: str, per_minute: int) -> float:
        """Take one request from ``key``'s bucket (``per_minute`` a minute, bursts up to as many).

        Returns 0 when allowed, else the seconds until one request is available again.
        """
        rate = per_minute / 60.0

        def step(db) -> float:
            now = self._clock()
            row = db.execute("SELECT tokens, last FROM buckets WHERE key = ?", (key,)).fetchone()
            tokens, last = row if row else (float(per_minute), now)
            tokens = min(float(per_minute), tokens + max(0.0, now - last) * rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate
            db.execute("INSERT OR REPLACE INTO buckets VALUES (?, ?, ?)",
                       (key, tokens - 1.0 if wait == 0.0 else tokens, now))
            return wait
        return self._write(step)

    def close(self) -> None:
        with self._lock:
            self._db.close()
