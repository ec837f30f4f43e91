"""The reading app: ``create_app(root)`` serves a reader study's pages and JSON under FastAPI/uvicorn.

It is built from the diagnosis service's pieces, not copies: tokens (``service.security.TokenStore``,
hashed, one per reader plus the manager's), signed session cookies (``SessionSigner``) whose records live in
the shared SQLite store (``service.store.SharedStore``, so signing out or restarting keeps one truth),
rate limits (``RateLimiter``), the JSON error bodies (``service.errors``), the security headers and
Content-Security-Policy (``service.security.set_security_headers``) and the radiograph canvas
(``/static/viewer-core.js``, the service's own static folder). The service does not import this package;
this package never imports ``commands``.

    >>> app = create_app("rs")                     # then: uvicorn.run(app)
    >>> app = create_app("rs", clock=lambda: t)    # tests inject the time (the washout)
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request

from vcfnet.readers.design import utcnow
from vcfnet.readers.manage import Layout, open_store, tokens
from vcfnet.readers.webstate import SESSION_MAX_AGE_S, ReadingState
from vcfnet.service.security import RateLimiter, SessionSigner
from vcfnet.service.store import SharedStore

log = logging.getLogger("vcfnet.readers")
HERE = Path(__file__).resolve().parent
SERVICE_STATIC = HERE.parent / "service" / "static"
APP_ENV = "VCFNET_READERS_APP"
def _session_secret(state_dir: Path) -> str:
    """A per-study secret for the cookies, kept (mode 0600) so that a restart keeps readers signed in."""
    path = state_dir / "session.key"
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        # written whole under a private name, then linked into place: of several workers starting at once,
        # one link wins and every worker reads the same complete key
        tmp = state_dir / f".session.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def create_app(root: str | Path, *, db: str | None = None, clock: Callable[[], _dt.datetime] | None = None,
               rate_limit: int = 600) -> FastAPI:
    """The app for the reader study in ``root`` (``db``: its database URL when not the folder's SQLite)."""
    import contextlib

    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates

    from vcfnet.readers import pages
    from vcfnet.service.errors import install_error_handlers

    root = Path(root)
    layout = Layout(root)
    store = open_store(root, db)
    sessions = SharedStore(layout.state / "sessions.sqlite3")
    state = ReadingState(root=root, store=store, tokens=tokens(root), sessions=sessions,
                         signer=SessionSigner(_session_secret(layout.state), SESSION_MAX_AGE_S),
                         limiter=RateLimiter(rate_limit, store=sessions),
                         templates=Jinja2Templates(directory=str(HERE / "templates")),
                         clock=clock or utcnow, info=store.info())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        store.close()
        sessions.close()

    app = FastAPI(title="vcfnet reader study", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.reading = state
    install_error_handlers(app)
    _install_middleware(app)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(SERVICE_STATIC)), name="static")
    app.mount("/rstatic", StaticFiles(directory=str(HERE / "static")), name="rstatic")
    log.info("reader study %s: %d cases, design %s", root, len(store.cases()), state.info["design"]["kind"])
    return app


def _install_middleware(app: FastAPI) -> None:
    from vcfnet.service.errors import internal_error
    from vcfnet.service.security import set_security_headers

    @app.middleware("http")
    async def request_context(request: Request, call_next):
        rid = uuid.uuid4().hex[:12]
        request.state.request_id = rid
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:    # here, so that the 500 gets the headers too
            response = internal_error(request, exc)
        set_security_headers(response.headers, rid)     # no Referer: a reader's link never leaks
        # never the path of /r/<token>: log the route's name only
        path = "/r/…" if request.url.path.startswith("/r/") else request.url.path
        log.info("request %s %s %s -> %d %.0f ms", rid, request.method, path, response.status_code,
                 (time.perf_counter() - start) * 1000)
        return response


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: ``VCFNET_READERS_APP`` = JSON {"root", "db"}."""
    import json

    from vcfnet.errors import VcfnetError

    text = os.environ.get(APP_ENV)
    if not text:
        raise VcfnetError(f"{APP_ENV} is not set; start the app with `vcfnet readers serve`")
    spec = json.loads(text)
    return create_app(spec["root"], db=spec.get("db"))
