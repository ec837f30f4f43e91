"""Managing a reader study: create it from a study, add readers, progress, export. The commands call these.

    RS/                   the reader-study folder (``vcfnet readers create RS ...``)
      readers.sqlite3     the record (SQLite, WAL) unless ``--db URL`` names another database
      tokens.json         the manager's and each reader's token, hashed (``vcfnet.service.security.TokenStore``)
      media/              what the pages show (``vcfnet.readers.media``)
      state/              the web app's sessions and rate-limit buckets (``vcfnet.service.store.SharedStore``)

Cases: ``collaboration`` (the study's collaboration set, default), ``split:NAME``, ``cohort:NAME`` or
``all``; optionally only the first ``limit`` (in Study-table order).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_open, file_sha256, write_json
from vcfnet.readers.db import READ_FIELDS, sqlite_url
from vcfnet.readers.design import Design, Reader, iso
from vcfnet.readers.reads import SESSIONS, read_reads_csv, reads_csv
from vcfnet.readers.store import MANAGER, ReaderStore

log = logging.getLogger(__name__)
DB_ENV = "VCFNET_READERS_DB"
MANAGER_TOKEN = "@manager"


class Layout:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    db = property(lambda self: self.root / "readers.sqlite3")
    tokens = property(lambda self: self.root / "tokens.json")
    media = property(lambda self: self.root / "media")
    state = property(lambda self: self.root / "state")


def db_url(root: str | Path, url: str | None = None) -> str:
    """The database: ``url``, else ``VCFNET_READERS_DB``, else SQLite in the folder."""
    return url or os.environ.get(DB_ENV) or sqlite_url(Layout(root).db)


def open_store(root: str | Path, url: str | None = None) -> ReaderStore:
    if url is None and not os.environ.get(DB_ENV) and not Layout(root).db.is_file():
        raise VcfnetError(f"{root}: no reader study here (create one with `vcfnet readers create {root} ...`)")
    store = ReaderStore(db_url(root, url))
    store.require()
    return store


def tokens(root: str | Path):
    from vcfnet.service.security import TokenStore

    return TokenStore(Layout(root).tokens)


def select_cases(study_dir: str | Path, cases: str, limit: int | None = None) -> pd.DataFrame:
    """The Study rows of the case list (see the module docstring)."""
    from vcfnet.study.dataset import load_table

    table = load_table(study_dir)
    kind, _, value = cases.partition(":")
    if kind == "collaboration" and not value:
        chosen = table[table["collaboration"].astype(int) == 1]
    elif kind in ("split", "cohort") and value:
        chosen = table[table[kind] == value]
    elif kind == "all" and not value:
        chosen = table
    else:
        raise VcfnetError(f"--cases '{cases}' is not known (expected collaboration, split:NAME, cohort:NAME or all)")
    if limit is not None:
        chosen = chosen.head(int(limit))
    if chosen.empty:
        raise VcfnetError(f"{study_dir}: no vertebra is in the case list '{cases}'")
    return chosen.reset_index(drop=True)


def create_study(root: str | Path, study_dir: str | Path, sources: Sequence[str | Path], checkpoint: str | Path, *,
                 design: Design, cases: str = "collaboration", limit: int | None = None, url: str | None = None,
                 now: _dt.datetime, progress: Callable[[int, int], None] | None = None) -> dict:
    """Prepare the media and record the study; re-running with the same arguments finishes an interrupted
    create (the media already made are reused). Returns a summary; ``token`` is the manager's, new only once."""
    from vcfnet.predict import Predictor
    from vcfnet.readers.media import check_sources, media_key, prepare_media, source_files
    from vcfnet.service.diagnose import limits_text, model_info
    from vcfnet.study.layout import StudyLayout
    from vcfnet.study.schema import table_sha256

    root = Path(root)
    table = select_cases(study_dir, cases, limit)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)        # names, answers and tokens' hashes: the manager's alone (the media are de-identified)
    store = ReaderStore(db_url(root, url))
    existing = _existing(store)
    if existing is not None and existing["study"]["cases_sha256"] != _cases_digest(table):
        raise VcfnetError(f"{root}: holds a reader study of other cases; choose a new folder")
    if existing is not None and (existing["design"]["kind"], float(existing["design"]["washout_days"])) != \
            (design.kind, float(design.washout_days)):
        raise VcfnetError(f"{root}: holds a {existing['design']['kind']} reader study (washout "
                          f"{existing['design']['washout_days']:g} days); its design is fixed once created")
    files = source_files(study_dir, sources)
    check_sources(table, files)                # before the model loads: a missing folder is a quick error
    predictor = Predictor(checkpoint)
    counts = prepare_media(root, table, files, predictor, progress)
    study = {"study_dir": str(Path(study_dir).resolve()), "study_sha256": table_sha256(StudyLayout(study_dir).study_table),
             "cases": cases, "limit": limit, "n_cases": len(table), "cases_sha256": _cases_digest(table)}
    model = {**model_info(predictor.card), "weights_sha256": predictor.card.get("weights_sha256"),
             "checkpoint": str(Path(checkpoint).resolve()), "limits": limits_text(predictor.card)}
    token = None
    if existing is None:
        store.initialise(study=study, design=design, cases=[(r, media_key(r)) for r in table["roi_id"]],
                         model=model, now=now)
        tok = tokens(root)
        if MANAGER_TOKEN in tok.names():
            tok.revoke(MANAGER_TOKEN)
        token = tok.create(MANAGER_TOKEN)
    store.close()
    return {"cases": len(table), **counts, "token": token, "created": existing is None, "db": db_url(root, url)}


def _existing(store: ReaderStore) -> dict | None:
    if store.url.startswith("sqlite:///") and not Path(store.url.removeprefix("sqlite:///")).exists():
        return None          # connecting would create an empty file: no study before its media are made
    try:
        store.require()
    except VcfnetError:
        return None
    return store.info()


def _cases_digest(table: pd.DataFrame) -> str:
    import hashlib

    return hashlib.sha256("\n".join(table["roi_id"]).encode()).hexdigest()


def add_reader(root: str | Path, reader: Reader, *, url: str | None = None, simulated: bool = False,
               now: _dt.datetime) -> str:
    """Record the reader and draw their orders; returns their personal token (shown once)."""
    store = open_store(root, url)
    try:
        store.add_reader(reader, now=now, simulated=simulated)
    finally:
        store.close()
    return tokens(root).create(reader.reader)


def new_token(root: str | Path, reader: str, *, url: str | None = None) -> str:
    """A fresh token for a reader (or ``@manager``): the old one stops working."""
    store = open_store(root, url)
    try:
        if reader != MANAGER_TOKEN and store.reader(reader) is None:
            raise VcfnetError(f"no reader '{reader}' in this study")
    finally:
        store.close()
    tok = tokens(root)
    if reader in tok.names():
        tok.revoke(reader)
    return tok.create(reader)


def status_rows(store: ReaderStore, now: _dt.datetime) -> list[dict]:
    """Progress per reader: counts and the next step; never an answer, never the truth."""
    n = len(store.cases())
    rows = []
    for r in store.readers():
        done = store.progress(r["reader"])
        task = store.task(r["reader"], now)
        nxt = {"read": f"{task.session} case {task.position}", "done": "finished",
               "wait": f"aided opens {iso(task.opens_at)}" if task.opens_at else "waiting"}[task.state]
        if not store.has_orders(r["reader"]):
            nxt = "imported reads (no link)"
        rows.append({"reader": r["reader"], "name": r["name"], "tier": r["tier"], "years": r["years"],
                     "simulated": r["simulated"], **{s: done.get(s, 0) for s in SESSIONS}, "cases": n, "next": nxt})
    return rows


def export_study(store: ReaderStore, out: str | Path) -> dict[str, Path]:
    """``reads.csv`` (the reads table: the latest version of each read), ``reads-detail.csv`` (every version as
    stored: origin app/import/correction, the reason of a correction, the client-measured seconds, its event),
    ``orders.csv``, ``readers.csv`` (names: the manager's) and ``design.json`` (design, case list rule, model
    hash, the audit head), each written atomically, after the record passes ``verify``."""
    from vcfnet.readers.verify import verify_store

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    problems, head = verify_store(store)
    if problems:
        raise VcfnetError("the record fails verification; not exported:\n  " + "\n  ".join(problems[:20]))
    paths = {name: out / name for name in ("reads.csv", "reads-detail.csv", "orders.csv", "readers.csv", "design.json")}
    with atomic_open(paths["reads.csv"], "wb") as fh:
        fh.write(reads_csv(store.reads_table()))
    with atomic_open(paths["reads-detail.csv"], "w", encoding="utf-8") as fh:    # every version, corrections too
        pd.DataFrame(store.all_reads(), columns=["id", *READ_FIELDS]).to_csv(fh, index=False)
    with atomic_open(paths["orders.csv"], "w", encoding="utf-8") as fh:
        store.orders_table().to_csv(fh, index=False)
    readers = pd.DataFrame(store.readers(), columns=["reader", "name", "tier", "years", "simulated", "created_at"])
    with atomic_open(paths["readers.csv"], "w", encoding="utf-8") as fh:
        readers.to_csv(fh, index=False)
    info = store.info()
    write_json(paths["design.json"], {"design": info["design"], "study": info["study"],
                                      "model": {k: info["model"].get(k) for k in ("version", "weights_sha256", "architecture")},
                                      "cases": [c["roi_id"] for c in store.cases()],
                                      "audit_head": head, "reads_sha256": file_sha256(paths["reads.csv"])})
    return paths


def import_csv(store: ReaderStore, path: str | Path, *, now: _dt.datetime) -> int:
    table = read_reads_csv(path)
    return store.import_reads(table, source=str(path), sha256=file_sha256(path), now=now)


def correct_read(store: ReaderStore, reader: str, session: str, roi_id: str, answer: dict, *, reason: str,
                 now: _dt.datetime) -> dict:
    return store.correct(reader, session, roi_id, answer, reason=reason, now=now, actor=MANAGER)


def summary_json(store: ReaderStore) -> str:
    info = store.info()
    return json.dumps({"design": info["design"], "cases": info["study"]["n_cases"],
                       "model": info["model"].get("version")}, indent=2)
