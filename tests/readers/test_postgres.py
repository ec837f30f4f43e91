"""The same record on PostgreSQL (a URL change): a throwaway cluster in tmp_path (initdb + pg_ctl, run as the
``postgres`` user when the tests run as root), concurrent writers through ``SELECT ... FOR UPDATE`` on the
chain's head, verify, and a tampered row found. Skips where PostgreSQL's server binaries are not installed
(set VCFNET_TEST_POSTGRES_URL to use a running server instead)."""
from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from readers_toys import T0, answer, free_port

pytest.importorskip("psycopg")


def _as_postgres(cmd: list[str]) -> list[str]:
    cmd = [_pg_bin(cmd[0]) or cmd[0], *cmd[1:]]
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _pg_bin(name: str) -> str | None:
    """A server binary on PATH, or where Debian's postgresql packages put it (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture(scope="module")
def pg_url():
    if os.environ.get("VCFNET_TEST_POSTGRES_URL"):
        yield os.environ["VCFNET_TEST_POSTGRES_URL"]
        return
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user for initdb")
    # not under pytest's tmp folders: they are private to this user, and the server runs as another
    folder = Path(tempfile.mkdtemp(prefix="vcfnet-pg-"))
    os.chmod(folder, 0o777)
    data, port = folder / "data", free_port()
    run = lambda cmd: subprocess.run(_as_postgres(cmd), check=True, capture_output=True, timeout=120)  # noqa: E731
    run(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
    run(["pg_ctl", "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
         f"-p {port} -k {folder} -c listen_addresses='' -c fsync=off", "start"])
    try:
        run(["createdb", "-h", str(folder), "-p", str(port), "-U", "postgres", "readers"])
        yield f"postgresql+psycopg://postgres@/readers?host={folder}&port={port}"
    finally:
        subprocess.run(_as_postgres(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]), capture_output=True,
                       timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_record_on_postgresql(pg_url):
    from sqlalchemy import text

    from vcfnet.readers.design import Design, Reader
    from vcfnet.readers.store import ReaderStore, TurnError
    from vcfnet.readers.verify import verify_store

    store = ReaderStore(pg_url)
    store.initialise(study={"n_cases": 3}, design=Design("sequential", 0, 1), cases=[(f"v{i}", f"m{i}") for i in range(3)],
                     model={"version": "test"}, now=T0)
    readers = [f"p{i}" for i in range(6)]
    for r in readers:
        store.add_reader(Reader(r, r, "expert"), now=T0)
    errors = []

    def read(reader):
        try:
            now = T0
            for _ in range(6):
                t = store.task(reader, now)
                store.serve(reader, t.session, t.position, now)
                now += dt.timedelta(seconds=5)
                store.submit(reader, t.session, t.position, answer(), now=now)
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=read, args=(r,)) for r in readers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(store.reads_table()) == 36
    problems, head = verify_store(store)
    assert problems == [] and head["seq"] == 1 + 6 + 36
    # one reader's double submit at the same moment, 12 times: one answer locked, the other refused (no crash)
    for k in range(12):
        store.add_reader(Reader(f"dup{k}", "dup", "trainee"), now=T0)
        store.serve(f"dup{k}", "unaided", 1, T0)
        outcomes: list[str] = []
        barrier = threading.Barrier(2)

        def submit(reader=f"dup{k}", outcomes=outcomes, barrier=barrier):
            barrier.wait()
            try:
                store.submit(reader, "unaided", 1, answer(), now=T0)
                outcomes.append("locked")
            except TurnError:
                outcomes.append("refused")
            except Exception as exc:
                outcomes.append(type(exc).__name__)
        pair = [threading.Thread(target=submit) for _ in range(2)]
        for t in pair:
            t.start()
        for t in pair:
            t.join(timeout=60)
        assert sorted(outcomes) == ["locked", "refused"], outcomes
    with store.engine.begin() as conn:
        seq = conn.execute(text("SELECT event_seq FROM reads WHERE id = 7")).scalar_one()
        conn.execute(text("UPDATE reads SET seconds = 1 WHERE id = 7"))
    assert any(p.startswith(f"event {seq} (read)") for p in verify_store(store)[0])
    store.close()
