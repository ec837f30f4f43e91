"""Reads made elsewhere, from a reads CSV into the record: checked against the study, all or nothing.

The CSV is read and validated by the reads table's own rules (``read_reads_csv``); here it is checked
against this study: every ``roi_id`` in the case list, a known reader keeps their tier, no read that the
database already holds. Each read becomes its own ``read`` event (actor ``import``) and the import one
``import`` event naming the file's SHA-256 and row count, all in the caller's one transaction.
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from vcfnet.errors import InputError
from vcfnet.labels import clip
from vcfnet.readers import db
from vcfnet.readers.audit import append_event, insert_read
from vcfnet.readers.design import check_reader_id, iso
from vcfnet.readers.reads import CONFIDENCE_COLUMNS


def import_rows(conn: Connection, table: pd.DataFrame, *, source: str, sha256: str,
                now: _dt.datetime) -> int:
    cases = set(conn.execute(select(db.cases.c.roi_id)).scalars())
    readers = {r.reader: r for r in conn.execute(select(db.readers))}
    have = {(r.reader, r.session, r.roi_id) for r in conn.execute(select(db.reads.c.reader, db.reads.c.session,
                                                                         db.reads.c.roi_id))}
    new_readers: dict[str, str] = {}
    for i, row in table.iterrows():
        n = int(str(i)) + 1
        try:
            check_reader_id(row["reader"])
        except Exception as exc:
            raise InputError(source, str(exc), row=n, field="reader") from None
        if row["roi_id"] not in cases:
            raise InputError(source, f"'{clip(row['roi_id'])}' is not a case of this reader study", row=n,
                             field="roi_id")
        known = readers.get(row["reader"])
        tier = known.tier if known is not None else new_readers.setdefault(row["reader"], row["tier"])
        if row["tier"] != tier:
            raise InputError(source, f"reader '{row['reader']}' is a {tier} in this study, not {row['tier']}",
                             row=n, field="tier")
        if (row["reader"], row["session"], row["roi_id"]) in have:
            raise InputError(source, f"the study already holds a {row['session']} read of this case by "
                                     f"'{row['reader']}'", row=n, field="reader,roi_id,session")
    at = iso(now)
    for reader, tier in new_readers.items():
        simulated = int(table.loc[table["reader"] == reader, "simulated"].max())
        who: dict[str, Any] = {"reader": reader, "name": reader, "tier": tier, "years": None, "simulated": simulated,
                  "created_at": at}
        conn.execute(insert(db.readers).values(**who))
        append_event(conn, "add-reader", "import", {"reader": who, "orders_sha256": None, "seeds": {}}, at)
    for _, row in table.iterrows():
        record: dict[str, Any] = {"reader": row["reader"], "session": row["session"], "roi_id": row["roi_id"], "version": 1,
                  "answer": row["answer"], **{c: float(row[c]) for c in CONFIDENCE_COLUMNS},
                  "position": _int(row["position"]), "seconds": _float(row["seconds"]), "client_seconds": None,
                  "seed": _int(row["seed"]), "submitted_at": str(row["submitted_at"]),   # blank when the file does not say
                  "simulated": int(row["simulated"]), "origin": "import", "reason": None}
        insert_read(conn, record, "read", "import", at=at)
    append_event(conn, "import", "manager", {"source_sha256": sha256, "rows": len(table),
                                              "new_readers": sorted(new_readers)}, at)
    return len(table)


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _float(value) -> float | None:
    return None if value is None or pd.isna(value) or math.isnan(float(value)) else float(value)
