"""Helpers of the reader-study tests (a CLI runner, stores on tiny case lists, reading studies on the toy study,
a live server), imported by this unique name so that test folders never clash over ``conftest``."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
CLI = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())"]


def cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """``vcfnet ARGS`` in a fresh process (what a user runs)."""
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"vcfnet {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_store(tmp_path: Path, *, kind: str = "crossover", washout: float = 0.0, n: int = 4, seed: int = 5):
    from vcfnet.readers.design import Design
    from vcfnet.readers.store import ReaderStore

    store = ReaderStore(f"sqlite:///{tmp_path / 'readers.sqlite3'}")
    store.initialise(study={"n_cases": n}, design=Design(kind, washout, seed),
                     cases=[(f"v{i}", f"m{i}") for i in range(n)], model={"version": "test"}, now=T0)
    return store


def answer(cls: str = "acute", p=(70, 20, 10)) -> dict:
    return {"answer": cls, "p_acute": p[0], "p_chronic": p[1], "p_pathological": p[2]}


def make_reading_study(toy_study, root: Path, *, kind: str = "sequential", washout: float = 0.0, limit: int = 3,
                       readers=(("r1", "expert"), ("r2", "trainee"))) -> dict:
    """A reader study of the toy study's first ``limit`` collaboration cases; its manager and reader tokens."""
    from vcfnet.readers.design import Design, Reader
    from vcfnet.readers.manage import add_reader, create_study

    syn, study, checkpoint = toy_study
    done = create_study(root, study, [syn], checkpoint, design=Design(kind, washout, seed=2), limit=limit, now=T0)
    tokens = {"@manager": done["token"]}
    for reader, tier in readers:
        tokens[reader] = add_reader(root, Reader(reader, f"Dr {reader.upper()} Example", tier, 3.0), now=T0)
    return tokens


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``vcfnet readers serve ROOT`` as a real uvicorn process on a free loopback port."""

    def __init__(self, root: Path, log: Path, workers: int = 1):
        import os
        import time

        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen([*CLI, "readers", "serve", str(root), "--port", str(self.port),
                                          "--workers", str(workers)], stdout=fh, stderr=subprocess.STDOUT,
                                         env={**os.environ})
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
