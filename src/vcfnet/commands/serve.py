"""``vcfnet serve``: the diagnosis web service (page + JSON API) under uvicorn, and its API tokens.

    vcfnet serve                                   # the demo's checkpoint, http://127.0.0.1:8000
    vcfnet serve --checkpoint RUN/best --config serve.yaml --workers 2
    vcfnet serve --checkpoint RUN/best --detector DET        # the page proposes boxes, levels, Genant grades
    vcfnet serve token create alice --tokens-file tokens.json     # prints the token once
    vcfnet serve hash-password                     # for login_password_hash in the config
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)
HEADER_TIMEOUT_PROTOCOL = "vcfnet.service.protocol:HeaderTimeoutProtocol"   # uvicorn has no header timeout
MAX_HEADER_BYTES = 64 * 1024

serve_app = typer.Typer(help="Run the diagnosis web service, or manage its API tokens.",
                        invoke_without_command=True, no_args_is_help=False)
token_app = typer.Typer(help="API tokens (stored hashed in the tokens file).", no_args_is_help=True)
serve_app.add_typer(token_app, name="token")


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")


@serve_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", "-c",
                                              help="Checkpoint folder (default: the one `vcfnet demo` trained in ./vcfnet-demo)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Settings file (.yaml or .toml)."),
    host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default 8000)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="uvicorn worker processes (default 1)."),
    tokens_file: Optional[Path] = typer.Option(None, "--tokens-file", help="Require API tokens from this file."),
    detector: Optional[Path] = typer.Option(None, "--detector", help="Detector folder (`vcfnet train-detector`): "
                                            "the page proposes every vertebra's box, level and Genant grade."),
) -> None:
    """Serve the page and the JSON API (settings: file < VCFNET_* environment < these options)."""
    if ctx.invoked_subcommand is not None:
        return
    from vcfnet.service.settings import load_settings

    settings = load_settings(config, checkpoint=checkpoint, host=host, port=port, workers=workers,
                             tokens_file=tokens_file, detector=detector)
    run_server(settings)


def _default_checkpoint() -> Path:
    """The checkpoint ``vcfnet demo`` trained here: named in ``vcfnet-demo/demo.json``, else its newest run."""
    import json

    from vcfnet.service.settings import DEMO_DIR

    found = None
    try:
        named = Path(json.loads((DEMO_DIR / "demo.json").read_text(encoding="utf-8"))["checkpoint"])
        found = named if (named / "model.json").is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if found is None:
        runs = sorted(DEMO_DIR.glob("runs/*/best/model.json"), key=lambda p: p.stat().st_mtime)
        found = runs[-1].parent if runs else None
    if found is None:
        raise VcfnetError(f"no checkpoint given and no checkpoint trained by `vcfnet demo` in ./{DEMO_DIR}; "
                          f"pass --checkpoint RUN/best (a folder written by `vcfnet train`) or run `vcfnet demo` first")
    log.info("no checkpoint given: using the demo's checkpoint %s", found.resolve())
    return found


def _log_config(level: str) -> dict:
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["vcfnet"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def run_server(settings) -> None:
    """Start uvicorn on ``settings`` (blocks until interrupted)."""
    import uvicorn

    from vcfnet.service.app import SETTINGS_ENV

    if settings.checkpoint is None:
        settings.checkpoint = _default_checkpoint()
    if not settings.checkpoint.exists():
        raise VcfnetError(f"checkpoint {settings.checkpoint} does not exist")
    settings.checkpoint = settings.checkpoint.resolve()
    if settings.detector is not None:
        if not settings.detector.is_dir():
            raise VcfnetError(f"detector {settings.detector} is not a folder; make one with `vcfnet train-detector`")
        settings.detector = settings.detector.resolve()
    if settings.login_enabled and not settings.session_secret:
        settings.session_secret = secrets.token_hex(32)   # shared by this start's workers only
    with _state_dir(settings):
        os.environ[SETTINGS_ENV] = settings.to_json()
        log.info("serving on http://%s:%d with %d worker(s)", settings.host, settings.port, settings.workers)
        uvicorn.run("vcfnet.service.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, log_config=_log_config(settings.log_level), access_log=False,
                    server_header=False, http=HEADER_TIMEOUT_PROTOCOL, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                    timeout_keep_alive=5, timeout_graceful_shutdown=10)


@contextlib.contextmanager
def _state_dir(settings):
    """The workers' shared state folder: ``state_dir``, else a private one for this start only."""
    if settings.state_dir is not None:
        yield settings.state_dir
        return
    folder = Path(tempfile.mkdtemp(prefix="vcfnet-state-"))
    settings.state_dir = folder
    # uvicorn shuts down on SIGTERM, then raises the signal again under the handler it found: the default one
    # would end the process before this ``finally`` and leave the folder behind; SystemExit unwinds through it
    before = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        yield folder
    finally:
        signal.signal(signal.SIGTERM, before)
        shutil.rmtree(folder, ignore_errors=True)


def _store(tokens_file: Optional[Path], config: Optional[Path]):
    from vcfnet.service.security import TokenStore
    from vcfnet.service.settings import load_settings

    path = tokens_file or load_settings(config).tokens_file
    if path is None:
        raise VcfnetError("no tokens file: pass --tokens-file FILE or set tokens_file in --config / VCFNET_TOKENS_FILE")
    return TokenStore(path)


_TOKENS_OPT = typer.Option(None, "--tokens-file", help="The tokens file (created if missing).")
_CONFIG_OPT = typer.Option(None, "--config", help="Settings file naming tokens_file.")


@token_app.command("create")
def token_create(name: str = typer.Argument(..., help="Who the token is for (e.g. a site or an app)."),
                 tokens_file: Optional[Path] = _TOKENS_OPT, config: Optional[Path] = _CONFIG_OPT) -> None:
    """Create a token: printed once, only its salted hash is stored."""
    store = _store(tokens_file, config)
    token = store.create(name)
    typer.echo(token)
    typer.secho(f"token '{name}' stored (hashed) in {store.path}; it is shown only now", err=True)


@token_app.command("list")
def token_list(tokens_file: Optional[Path] = _TOKENS_OPT, config: Optional[Path] = _CONFIG_OPT) -> None:
    """List token names."""
    for name in _store(tokens_file, config).names():
        typer.echo(name)


@token_app.command("revoke")
def token_revoke(name: str = typer.Argument(...), tokens_file: Optional[Path] = _TOKENS_OPT,
                 config: Optional[Path] = _CONFIG_OPT) -> None:
    """Revoke a token (a running server notices at its next request)."""
    store = _store(tokens_file, config)
    store.revoke(name)
    typer.secho(f"token '{name}' revoked in {store.path}", err=True)


@serve_app.command("hash-password")
def hash_password_cmd() -> None:
    """Ask for a page password and print its scrypt hash (for login_password_hash)."""
    from vcfnet.service.security import hash_password

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    typer.echo(hash_password(password))
