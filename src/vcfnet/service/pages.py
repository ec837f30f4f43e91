"""Server-rendered pages: the viewer (``/``), the model card (``/model``), login, and ``/healthz``."""
from __future__ import annotations

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from vcfnet.service.auth import SESSION_COOKIE, authorize, current_session, rate_limit
from vcfnet.service.errors import APIError
from vcfnet.service.security import Session, verify_password

router = APIRouter(include_in_schema=False)
MAX_LOGIN_BODY = 4096


async def _page(request: Request, name: str, signed_in: bool = False, **context) -> HTMLResponse | RedirectResponse:
    """``name`` rendered; the login page first when login is on and the caller is not ``signed_in``."""
    state = request.app.state.vcf
    session = await current_session(request)
    if state.settings.login_enabled and session is None and not signed_in:
        return RedirectResponse("/login", status_code=303)
    auth = "session" if session else ("token" if state.settings.auth_required else "none")
    return state.templates.TemplateResponse(request, name, {
        "model": state.model, "limits": state.limits, "classes": list(state.predictor.classes),
        "auth": auth, "user": session.user if session else None, "csrf": session.csrf if session else "",
        "detector": getattr(state.predictor, "detector", None) is not None,
        **context})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request):
    return await _page(request, "index.html")


@router.get("/model", response_class=HTMLResponse)
async def model_page(request: Request):
    """The card as a page, under the policy of ``GET /api/v1/model``: when the service requires
    authentication, a signed-in session or a Bearer token (401 otherwise; the login page for a browser)."""
    state = request.app.state.vcf
    settings = state.settings
    if settings.auth_required and await current_session(request) is None:
        if settings.login_enabled and "authorization" not in request.headers:
            return RedirectResponse("/login", status_code=303)
        await authorize(request)
    card = state.predictor.card
    sections, details = card_sections(card)
    return await _page(request, "model.html", card=card, sections=sections, details=details, signed_in=True)


# sections of the card's schema (vcfnet.model.card) in reading order; its other fields are the details
_TITLES = {"data": "Training data", "validation": "Validation (model selection)",
           "calibration": "Calibration", "training_config": "Training configuration", "training": "Training run",
           "software": "Software"}
_NOT_SHOWN = {"intended_use", "classes"}


def card_sections(card: dict) -> tuple[list[tuple[str, object]], dict]:
    """Structured sections (data and metrics first, in reading order) and a table of the plain fields."""
    keys = [k for k in _TITLES if k in card] + [k for k in card if k not in _TITLES]
    sections: list[tuple[str, object]] = []
    details: dict = {}
    for key in keys:
        if key in _NOT_SHOWN:
            continue
        value = card[key]
        if isinstance(value, (dict, list)) and value:
            sections.append((_TITLES.get(key, key.replace("_", " ").capitalize()), value))
        else:
            details[key] = value
    return sections, details


@router.get("/docs", response_class=HTMLResponse)
async def api_docs(request: Request):
    """The API reference, rendered here from the OpenAPI schema (no CDN-hosted Swagger UI)."""
    spec = request.app.openapi()
    return await _page(request, "api.html", endpoints=api_endpoints(spec), spec_title=spec["info"]["title"])


def api_endpoints(spec: dict) -> list[dict]:
    """Method, path, summary, body fields (name, type, required, description) and responses per operation."""
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            fields, ctype = [], ""
            for ctype, content in op.get("requestBody", {}).get("content", {}).items():  # noqa: B007 - the last type is shown
                schema = content.get("schema", {})
                required = set(schema.get("required", []))
                for name, prop in schema.get("properties", {}).items():
                    kind = prop.get("type") or prop.get("$ref", "object").rsplit("/", 1)[-1]
                    if kind == "array":
                        kind = f"array of {prop.get('items', {}).get('format') or prop.get('items', {}).get('type', 'items')}"
                    fields.append((name, prop.get("format", kind), name in required, prop.get("description", "")))
            params = [(p["name"], p.get("in", ""), p.get("description", "")) for p in op.get("parameters", [])]
            responses = [(code, r.get("description", "")) for code, r in sorted(op.get("responses", {}).items())]
            out.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""), "ctype": ctype,
                        "fields": fields, "params": params, "responses": responses})
    return out


@router.get("/healthz")
async def healthz(request: Request):
    return JSONResponse({"status": "ok", "model": request.app.state.vcf.model["version"]})


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, failed: int = 0):
    state = request.app.state.vcf
    if not state.settings.login_enabled:
        return RedirectResponse("/", status_code=303)
    return state.templates.TemplateResponse(request, "login.html", {
        "failed": bool(failed), "model": state.model, "limits": state.limits, "auth": "none", "classes": [],
        "user": None, "csrf": ""})


@router.post("/login")
async def login(request: Request):
    state = request.app.state.vcf
    settings = state.settings
    if not settings.login_enabled:
        raise APIError(404, "login is not configured on this server")
    await rate_limit(request, f"login:{request.client.host if request.client else '-'}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            raise APIError(413, "login form too large")
    fields = parse_qs(body.decode("utf-8", "replace"))
    user = (fields.get("username") or [""])[0]
    password = (fields.get("password") or [""])[0]
    ok = secrets.compare_digest(user.encode(), settings.login_user.encode())
    # scrypt costs ~50 ms of CPU and 16 MB: in a worker thread, never on the event loop
    ok = await run_in_threadpool(verify_password, password, settings.login_password_hash) and ok
    if not ok:
        return RedirectResponse("/login?failed=1", status_code=303)
    response = RedirectResponse("/", status_code=303)
    csrf = secrets.token_urlsafe(24)
    sid = await run_in_threadpool(state.store.open_session, user, csrf, max_age_s=settings.session_max_age_s)
    cookie = state.signer.dumps(Session(user=user, csrf=csrf, sid=sid))
    response.set_cookie(SESSION_COOKIE, cookie, max_age=settings.session_max_age_s, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
async def logout(request: Request):
    """Closes the session in the shared store, so the old cookie and CSRF token stop working everywhere."""
    session = await current_session(request)
    if session is not None:
        await run_in_threadpool(request.app.state.vcf.store.close_session, session.sid)
    response = RedirectResponse("/login" if request.app.state.vcf.settings.login_enabled else "/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
