"""Who is calling: a Bearer API token, a signed page session, or (only without auth) a local client.

``authorize`` is the dependency of every ``/api/v1`` route: it answers 401 without valid
credentials, 403 for a session request without its CSRF header, and 429 over the rate limit.
"""
from __future__ import annotations

import math

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from vcfnet.service.errors import APIError
from vcfnet.service.security import Session

SESSION_COOKIE = "vcfnet_session"
CSRF_HEADER = "x-csrf-token"


async def current_session(request: Request) -> Session | None:
    """The signed-in session: a validly signed cookie whose record is still open in the shared store."""
    state = request.app.state.vcf
    if not state.settings.login_enabled:
        return None
    session = state.signer.loads(request.cookies.get(SESSION_COOKIE))
    if session is None or not session.sid:
        return None
    record = await run_in_threadpool(state.store.session, session.sid)   # SQLite may wait on a writer
    return session if record == (session.user, session.csrf) else None


async def _identify(request: Request) -> str:
    state = request.app.state.vcf
    header = request.headers.get("authorization")
    if header and state.tokens is not None:     # without a tokens file, a Bearer header means nothing
        scheme, _, token = header.partition(" ")
        name = state.tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
        if name is None:
            raise APIError(401, "invalid API token (expected 'Authorization: Bearer vcfnet_...' with a token "
                                "from `vcfnet serve token create NAME`)", headers={"WWW-Authenticate": "Bearer"})
        return f"token:{name}"
    session = await current_session(request)
    if session is not None:
        if request.method not in ("GET", "HEAD") and request.headers.get(CSRF_HEADER) != session.csrf:
            raise APIError(403, "missing or wrong X-CSRF-Token header for a signed-in page request")
        return f"user:{session.user}"
    if not state.settings.auth_required:
        return f"client:{request.client.host if request.client else '-'}"
    raise APIError(401, "authentication required: send 'Authorization: Bearer vcfnet_...' (create a token "
                        "with `vcfnet serve token create NAME`) or sign in on the page",
                   headers={"WWW-Authenticate": "Bearer"})


async def rate_limit(request: Request, key: str) -> None:
    wait = await run_in_threadpool(request.app.state.vcf.limiter.hit, key)
    if wait > 0:
        limit = request.app.state.vcf.settings.rate_limit
        raise APIError(429, f"rate limit of {limit} requests per minute exceeded; retry in "
                            f"{math.ceil(wait)} s", headers={"Retry-After": str(math.ceil(wait))})


async def authorize(request: Request) -> str:
    """FastAPI dependency: the caller's key (``token:NAME``, ``user:NAME`` or ``client:IP``)."""
    key = await _identify(request)
    await rate_limit(request, key)
    request.state.client_key = key
    return key
