"""The FastAPI application: ``create_app(settings)`` loads the checkpoint once and wires the routes.

    >>> app = create_app(load_settings(checkpoint="run/best"))     # then: uvicorn.run(app)

``app_from_env()`` is the factory uvicorn's worker processes call (``vcfnet serve`` puts the resolved
settings in ``VCFNET_SERVE_SETTINGS``). Log lines carry the request id, method, path, status, bytes
and milliseconds; never a file name, a header value or anything read from an upload.
"""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.requests import ClientDisconnect

from vcfnet.errors import VcfnetError
from vcfnet.service.errors import error_response, install_error_handlers, internal_error
from vcfnet.service.jobs import InferencePool
from vcfnet.service.security import RateLimiter, SessionSigner, TokenStore, set_security_headers
from vcfnet.service.settings import Settings, settings_from_json
from vcfnet.service.store import SharedStore

log = logging.getLogger("vcfnet.service")
HERE = Path(__file__).resolve().parent
SETTINGS_ENV = "VCFNET_SERVE_SETTINGS"
STATE_FILE = "service.sqlite3"

@dataclass
class ServiceState:
    """Everything a request handler needs, on ``app.state.vcf``."""

    settings: Settings
    predictor: Any
    tokens: TokenStore | None
    store: SharedStore
    limiter: RateLimiter
    signer: SessionSigner
    templates: Any
    pool: InferencePool
    model: dict = field(default_factory=dict)
    limits: str = ""

    async def run(self, fn: Callable, *args, **kwargs):
        """Run blocking work (decode, inference) in the bounded inference pool (see ``jobs``)."""
        return await self.pool.run(fn, *args, **kwargs)


def _load_predictor(settings: Settings):
    from vcfnet.predict import Predictor

    if settings.checkpoint is None:
        raise VcfnetError("settings: no checkpoint given (set checkpoint, VCFNET_CHECKPOINT or --checkpoint)")
    import torch

    # Worker processes share the cores: more intra-op threads than cores makes OpenMP spin and stall.
    torch.set_num_threads(settings.torch_threads or max(1, (os.cpu_count() or 1) // settings.workers))
    amp = torch.bfloat16 if settings.precision == "bfloat16" else None
    detector = None
    if settings.detector is not None:
        from vcfnet.detect.infer import Detector

        detector = Detector(settings.detector, device=settings.device, score_threshold=settings.detector_score_threshold)
    predictor = Predictor(settings.checkpoint, device=settings.device, amp_dtype=amp, detector=detector)
    if amp is not None:     # VCFNet.forward follows its stem's memory format; bf16 kernels want channels_last
        predictor.model.to(memory_format=torch.channels_last)
    _warm_up(predictor)
    log.info("inference: %s, %d torch thread(s) per worker", settings.precision, torch.get_num_threads())
    return predictor


def _warm_up(predictor) -> None:
    """One tiny prediction (with Grad-CAM) at start-up, so the first user does not pay for lazy set-up."""
    import numpy as np

    size = int(predictor.card.get("input_size", 64))
    image = np.linspace(0.0, 1.0, size * size, dtype=np.float32).reshape(size, size)
    [answer] = predictor.predict(image, [(0, 0, size, size)], gradcam=True)
    answer.overlay()
    if getattr(predictor, "detector", None) is not None:
        predictor.predict(image, classify="none")


def create_app(settings: Settings, *, predictor: Any = None) -> FastAPI:
    """The service for ``settings``; ``predictor`` reuses a ``Predictor`` already loaded."""
    from fastapi.staticfiles import StaticFiles
    from fastapi.templating import Jinja2Templates

    from vcfnet.service import api, pacs, pages
    from vcfnet.service.diagnose import limits_text, model_info

    settings.check()
    predictor = predictor if predictor is not None else _load_predictor(settings)
    pool = InferencePool(settings.inference_threads)
    # one file for all worker processes (vcfnet serve always names one); else this process only
    store = SharedStore(settings.state_dir / STATE_FILE if settings.state_dir else None)
    state = ServiceState(
        settings=settings, predictor=predictor,
        tokens=TokenStore(settings.tokens_file) if settings.tokens_file else None,
        store=store, limiter=RateLimiter(settings.rate_limit, store=store),
        signer=SessionSigner(settings.session_secret or secrets.token_hex(32), settings.session_max_age_s),
        templates=Jinja2Templates(directory=str(HERE / "templates")), pool=pool,
        model=model_info(predictor.card),
        limits=limits_text(predictor.card, detector=getattr(predictor, "detector", None) is not None))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.shutdown()
        store.close()

    app = FastAPI(title="vcfnet diagnosis service", version=state.model["version"], lifespan=lifespan,
                  docs_url=None, redoc_url=None,   # their pages load Swagger UI from a CDN; /docs is ours
                  description="Second opinion on vertebral compression fractures (acute / chronic / "
                              "pathological) on lateral spine radiographs. " + state.limits)
    app.state.vcf = state
    install_error_handlers(app)
    _install_middleware(app, settings)
    app.include_router(api.router)
    app.include_router(pacs.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    log.info("model %s loaded; auth %s; uploads %s", state.model["version"],
             "required" if settings.auth_required else "off (loopback only)",
             "kept" if settings.keep_uploads else "deleted after use")
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def request_context(request: Request, call_next):
        rid = uuid.uuid4().hex[:12]
        request.state.request_id = rid
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except ClientDisconnect:    # the client went away mid-upload: nobody to answer, nothing broke
            log.info("request %s %s %s: client disconnected before the body was complete", rid,
                     request.method, request.url.path)
            response = error_response(400, "client disconnected before the body was complete")
        except Exception as exc:    # here, not in Starlette's outer handler, so the 500 gets the headers
            response = internal_error(request, exc)
        set_security_headers(response.headers, rid)
        log.info("request %s %s %s -> %d in=%s out=%s %.0f ms", rid, request.method, request.url.path,
                 response.status_code, request.headers.get("content-length", "-"),
                 response.headers.get("content-length", "-"), (time.perf_counter() - start) * 1000)
        return response

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"],
                           allow_credentials=False, max_age=600)


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: settings from ``VCFNET_SERVE_SETTINGS``."""
    text = os.environ.get(SETTINGS_ENV)
    if not text:
        raise VcfnetError(f"{SETTINGS_ENV} is not set; start the service with `vcfnet serve`")
    from vcfnet.service.protocol import HeaderTimeoutProtocol

    settings = settings_from_json(text)
    HeaderTimeoutProtocol.header_timeout_s = settings.header_timeout_s   # this worker's connections
    return create_app(settings)
