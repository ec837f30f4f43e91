"""``vcfnet readers``: the human-AI reader study (design, reading app, audit, import/export, analysis).

    vcfnet readers create RS --study STUDY --source SOURCES --checkpoint RUN/best [--design crossover --washout 28]
    vcfnet readers add-reader RS r1 --name "Dr A" --tier expert --years 12     # prints the reader's link
    vcfnet readers serve RS                       # the reading app, http://127.0.0.1:8100
    vcfnet readers status RS | export RS OUT | import RS reads.csv | verify RS

The study-management and reading commands live here; ``analyze`` and ``plan`` live in
:mod:`vcfnet.commands.readers_analysis` and join the same sub-app.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

readers_app = typer.Typer(help="The reader study: radiologists read with and without the model; MRMC analysis.",
                          no_args_is_help=True)
_DIR = typer.Argument(..., help="The reader-study folder.")
_DB = typer.Option(None, "--db", help="Database URL (default: SQLite RS/readers.sqlite3; or VCFNET_READERS_DB), "
                                      "e.g. postgresql+psycopg://user@host/vcfnet_readers.")


def register(app: typer.Typer) -> None:
    from vcfnet.commands import readers_analysis

    readers_analysis.register(readers_app)
    app.add_typer(readers_app, name="readers")


def _link(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/r/{token}"


@readers_app.command("create")
def create(
    folder: Path = _DIR,
    study: Path = typer.Option(..., "--study", "-s", help="The study (made by `vcfnet ingest`)."),
    source: list[Path] = typer.Option(..., "--source", help="A source folder given to ingest (repeat), or a "
                                                             "`vcfnet synth` folder (its manifest lists them)."),
    checkpoint: Path = typer.Option(..., "--checkpoint", "-c", help="The model aided readers see (RUN/best)."),
    cases: str = typer.Option("collaboration", "--cases", help="collaboration, split:NAME, cohort:NAME or all."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N cases of that list."),
    design: str = typer.Option("sequential", "--design", help="sequential (unaided, locked, then aided at once) "
                                                              "or crossover (unaided; washout; aided)."),
    washout: float = typer.Option(0.0, "--washout", min=0, help="Days between the sessions (crossover)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Seed of the case orders (default: random, stored)."),
    url: str = typer.Option("http://127.0.0.1:8100", "--url", help="Where the app will be served (for the links)."),
    db: Optional[str] = _DB,
) -> None:
    """Create a reader study: its case list, design and the pages' images and model answers (resumable)."""
    import secrets

    from vcfnet.readers.design import Design, utcnow
    from vcfnet.readers.manage import create_study

    chosen = Design(kind=design, washout_days=washout, seed=secrets.randbelow(2 ** 31) if seed is None else seed)
    shown = [0]

    def progress(i: int, n: int) -> None:     # every 25 cases or so, and at the end
        if i == n or i - shown[0] >= 25:
            shown[0] = i
            typer.echo(f"  media: {i}/{n} cases", err=True)
    done = create_study(folder, study, source, checkpoint, design=chosen, cases=cases, limit=limit, url=db,
                        now=utcnow(), progress=progress)
    typer.echo(f"{folder}: {done['cases']} cases ({done['made']} prepared, {done['reused']} reused); "
               f"design {chosen.kind}" + (f", washout {washout:g} days" if chosen.kind == "crossover" else ""))
    if done["token"]:
        typer.echo(f"manager link (shown once; only its hash is stored): {url.rstrip('/')}/manage/login?token={done['token']}")
        typer.echo(f"manager token: {done['token']}")
    else:
        typer.echo("the study existed already: its media are complete now; the manager token is unchanged "
                   "(`vcfnet readers token RS @manager` makes a new one)")


@readers_app.command("add-reader")
def add_reader_cmd(
    folder: Path = _DIR,
    reader: str = typer.Argument(..., help="Reader id in every export (e.g. r1; never a person's name)."),
    name: str = typer.Option(..., "--name", help="Display name (the manager's views only)."),
    tier: str = typer.Option(..., "--tier", help="trainee, competent or expert."),
    years: Optional[float] = typer.Option(None, "--years", help="Years of experience."),
    url: str = typer.Option("http://127.0.0.1:8100", "--url", help="Where the app is served (for the link)."),
    db: Optional[str] = _DB,
) -> None:
    """Add a reader: draws their seeded case orders and prints their personal link (shown once)."""
    from vcfnet.readers.design import Reader, utcnow
    from vcfnet.readers.manage import add_reader

    token = add_reader(folder, Reader(reader, name, tier.lower(), years), url=db, now=utcnow())
    typer.echo(f"reader {reader} ({tier}) added; personal link, shown once (only its hash is stored):")
    typer.echo(_link(url, token))


@readers_app.command("token")
def token_cmd(folder: Path = _DIR, reader: str = typer.Argument(..., help="Reader id, or @manager."),
              url: str = typer.Option("http://127.0.0.1:8100", "--url"), db: Optional[str] = _DB) -> None:
    """A new link for a reader (or the manager) who lost theirs; the old one stops working."""
    from vcfnet.readers.manage import MANAGER_TOKEN, new_token

    token = new_token(folder, reader, url=db)
    typer.echo(f"{url.rstrip('/')}/manage/login?token={token}" if reader == MANAGER_TOKEN else _link(url, token))


@readers_app.command("status")
def status(folder: Path = _DIR, db: Optional[str] = _DB) -> None:
    """Progress per reader (counts and the next step; no answers, no truth)."""
    from vcfnet.readers.design import utcnow
    from vcfnet.readers.manage import open_store, status_rows

    store = open_store(folder, db)
    rows = status_rows(store, utcnow())
    design = store.design()
    typer.echo(f"design {design.kind}" + (f", washout {design.washout_days:g} days" if design.kind == "crossover" else "")
               + f"; {len(store.cases())} cases; {len(rows)} reader(s)")
    w = max([len("reader")] + [len(r["reader"]) for r in rows])
    if rows:
        typer.echo(f"{'reader':<{w}}  {'tier':<10} {'unaided':>9} {'aided':>9}  next")
    for r in rows:
        typer.echo(f"{r['reader']:<{w}}  {r['tier']:<10} {r['unaided']:>5}/{r['cases']:<3} {r['aided']:>5}/{r['cases']:<3}  "
                   f"{r['next']}" + ("  (simulated)" if r["simulated"] else ""))


@readers_app.command("export")
def export(folder: Path = _DIR, out: Path = typer.Argument(..., help="Folder for reads.csv, orders.csv, "
                                                                     "readers.csv, design.json."),
           db: Optional[str] = _DB) -> None:
    """Write the reads table and the design (orders, seeds, audit head) for the analysis (verified first)."""
    from vcfnet.readers.manage import export_study, open_store

    paths = export_study(open_store(folder, db), out)
    for path in paths.values():
        typer.echo(f"-> {path}")


@readers_app.command("import")
def import_cmd(folder: Path = _DIR, csv: Path = typer.Argument(..., help="A reads CSV (one row per reader x case "
                                                                         "x session; see vcfnet.readers.reads)."),
               db: Optional[str] = _DB) -> None:
    """Import reads made elsewhere: validated, all or nothing, recorded in the audit log."""
    from vcfnet.readers.design import utcnow
    from vcfnet.readers.manage import import_csv, open_store

    n = import_csv(open_store(folder, db), csv, now=utcnow())
    typer.echo(f"imported {n} read(s) from {csv}")


@readers_app.command("correct")
def correct(folder: Path = _DIR, reader: str = typer.Argument(...), session: str = typer.Argument(...),
            roi_id: str = typer.Argument(...),
            answer: str = typer.Option(..., "--answer", help="acute, chronic or pathological."),
            confidences: str = typer.Option(..., "--confidences", help="A,C,P: 0-100 each, summing to 100."),
            reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
            db: Optional[str] = _DB) -> None:
    """Correct a locked read: a new version with its reason; the first stays in the record."""
    from vcfnet.errors import VcfnetError
    from vcfnet.readers.design import utcnow
    from vcfnet.readers.manage import correct_read, open_store

    parts = confidences.split(",")
    if len(parts) != 3:
        raise VcfnetError(f"--confidences '{confidences}': expected three numbers A,C,P summing to 100")
    values = dict(zip(("p_acute", "p_chronic", "p_pathological"), parts))
    record = correct_read(open_store(folder, db), reader, session, roi_id, {"answer": answer, **values},
                          reason=reason, now=utcnow())
    typer.echo(f"corrected: {reader} {session} {roi_id} is now version {record['version']} (event {record['event_seq']})")


@readers_app.command("verify")
def verify(folder: Path = _DIR, db: Optional[str] = _DB) -> None:
    """Check the audit chain and that every read, reader and order is as its event recorded (exit 1 if not)."""
    from vcfnet.readers.manage import open_store
    from vcfnet.readers.verify import verify_store

    problems, head = verify_store(open_store(folder, db))
    if problems:
        for p in problems:
            typer.echo(f"TAMPERED: {p}", err=True)
        raise SystemExit(1)      # cli.main turns it into the exit status
    typer.echo(f"intact: {head.get('seq')} events, head {head.get('hash')}")


@readers_app.command("serve")
def serve(folder: Path = _DIR,
          host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface; "
                                                                "put TLS in front, the links carry the tokens)."),
          port: int = typer.Option(8100, "--port", help="Port."),
          workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes (they share the database)."),
          db: Optional[str] = _DB) -> None:
    """Serve the reading pages: readers open their links, the manager /manage/login."""
    import json
    import os

    import uvicorn

    from vcfnet.commands.serve import HEADER_TIMEOUT_PROTOCOL, MAX_HEADER_BYTES, _log_config
    from vcfnet.readers.app import APP_ENV
    from vcfnet.readers.manage import open_store

    store = open_store(folder, db)          # a clear error here, not in every worker
    n = len(store.cases())
    store.close()
    os.environ[APP_ENV] = json.dumps({"root": str(folder.resolve()), "db": db})
    typer.echo(f"reader study {folder} ({n} cases) on http://{host}:{port}  (manager: /manage/login)")
    uvicorn.run("vcfnet.readers.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_config=_log_config("info"), access_log=False, server_header=False, http=HEADER_TIMEOUT_PROTOCOL,
                h11_max_incomplete_event_size=MAX_HEADER_BYTES, timeout_keep_alive=5, timeout_graceful_shutdown=10)
