"""The reader study's design as data: readers, the case list, crossover or sequential, seeded orders.

    >>> d = Design(kind="crossover", washout_days=28, seed=7)
    >>> order = case_order(["v1", "v2", "v3", "v4"], session_seed(d.seed, "r1", "unaided"))
    >>> sorted(order) == ["v1", "v2", "v3", "v4"]       # a permutation, the same for the same seed
    True

Two designs (``Design.kind``):

``crossover``   every case unaided in the reader's unaided order; after the last unaided answer is locked
                and ``washout_days`` have passed, every case aided in a second, independently seeded order.
``sequential``  one order; each case is read unaided, the answer is locked, and the same case is re-read
                aided at once (the common FDA-style design, and what the original study did).

:func:`next_task` is the one rule the server enforces: which (session, position) a reader may open now,
or when the aided session opens. Time is passed in (``now``), so tests inject it.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from vcfnet.errors import VcfnetError
from vcfnet.readers.reads import SESSIONS, TIERS

KINDS: tuple[str, ...] = ("crossover", "sequential")
#: Readers are named by a short id in every file (the reads table); the display name stays in the database.
READER_ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Design:
    kind: str = "sequential"
    washout_days: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise VcfnetError(f"design '{self.kind}' is not known (expected {' | '.join(KINDS)})")
        if not (0 <= float(self.washout_days) <= 3650):
            raise VcfnetError(f"washout of {self.washout_days} days is outside 0-3650")
        if self.kind == "sequential" and float(self.washout_days) != 0:
            raise VcfnetError("a sequential design re-reads each case aided at once: it has no washout "
                              "(use --design crossover for a washout)")
        if not (0 <= int(self.seed) < 2 ** 63):
            raise VcfnetError(f"seed {self.seed} must be a non-negative integer below 2**63")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Reader:
    reader: str                 # the id in the reads table
    name: str                   # display name: the manager's views and exports only
    tier: str
    years: float | None = None  # years of experience

    def __post_init__(self):
        check_reader_id(self.reader)
        if self.tier not in TIERS:
            raise VcfnetError(f"tier '{self.tier}' is not allowed (expected {' | '.join(TIERS)})")
        if not self.name.strip() or len(self.name) > 120:
            raise VcfnetError("a reader's display name must be 1-120 characters")
        if self.years is not None and not (0 <= float(self.years) <= 70):
            raise VcfnetError(f"years of experience {self.years} is outside 0-70")


def check_reader_id(reader: str) -> str:
    if not (1 <= len(reader) <= 32) or not set(reader) <= READER_ID_CHARS:
        raise VcfnetError(f"reader id '{reader[:40]}' must be 1-32 lower-case letters, digits, - or _ "
                          f"(it names the reader in every export; the display name is separate)")
    return reader


def session_seed(study_seed: int, reader: str, session: str) -> int:
    """The seed of one reader's order for one session, derived from the study's seed (stored and exported)."""
    digest = hashlib.sha256(f"vcfnet-readers:{int(study_seed)}:{reader}:{session}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def case_order(cases: Sequence[str], seed: int) -> list[str]:
    """``cases`` in a random order drawn from ``seed`` (numpy PCG64): the same seed, the same order."""
    idx = np.random.default_rng(int(seed)).permutation(len(cases))
    return [cases[int(i)] for i in idx]


def orders_for(design: Design, reader: str, cases: Sequence[str]) -> dict[str, tuple[int, list[str]]]:
    """Per session: (seed, case order). A sequential design reads both sessions in one order."""
    if design.kind == "sequential":
        seed = session_seed(design.seed, reader, "sequential")
        order = case_order(cases, seed)
        return {s: (seed, order) for s in SESSIONS}
    return {s: (seed := session_seed(design.seed, reader, s), case_order(cases, seed)) for s in SESSIONS}


@dataclass(frozen=True)
class Task:
    """What a reader may do now: read (session, position), wait until ``opens_at``, or nothing (done)."""

    state: str                        # read | wait | done
    session: str | None = None
    position: int | None = None
    opens_at: _dt.datetime | None = None


def next_task(design: Design, n_cases: int, done: dict[str, dict[int, _dt.datetime]], now: _dt.datetime) -> Task:
    """The reader's next task. ``done[session][position]`` is when that answer was locked."""
    unaided, aided = done.get("unaided", {}), done.get("aided", {})
    if design.kind == "sequential":
        for pos in range(1, n_cases + 1):
            if pos not in unaided:
                return Task("read", "unaided", pos)
            if pos not in aided:
                return Task("read", "aided", pos)
        return Task("done")
    for pos in range(1, n_cases + 1):
        if pos not in unaided:
            return Task("read", "unaided", pos)
    opens = (max(unaided.values()) if unaided else now) + _dt.timedelta(days=float(design.washout_days))
    for pos in range(1, n_cases + 1):
        if pos not in aided:
            if now < opens:
                return Task("wait", "aided", pos, opens_at=opens)
            return Task("read", "aided", pos)
    return Task("done")


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> _dt.datetime:
    t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)
