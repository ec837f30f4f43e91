"""Routes of the reading app: a reader's link and pages, the task API, the manager's pages and exports.

Who may see what, enforced here and in ``ReaderStore`` (never only in the page):
* a reader (signed in by their link) gets only their own open case: ``/api/task`` serves the case the design
  opens now, its images only while it is open, and the model's answer only when that case is in the aided
  session; an unaided response, page or image holds no model output at all;
* answers are locked by ``POST /api/answer`` (CSRF header; checked by the reads table's rules);
* the manager (signed in by the ``@manager`` token) sees progress with names, adds readers, exports.
"""
from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES
from vcfnet.readers.design import Reader, iso
from vcfnet.readers.manage import MANAGER_TOKEN, status_rows
from vcfnet.readers.media import case_media, media_key
from vcfnet.readers.reads import CONFIDENCE_COLUMNS, reads_csv
from vcfnet.readers.store import TurnError
from vcfnet.readers.webstate import CSRF_HEADER, SESSION_COOKIE, SESSION_MAX_AGE_S, ReadingState
from vcfnet.service.errors import APIError
from vcfnet.service.security import Session

router = APIRouter(include_in_schema=False)
MAX_BODY = 4096
MANAGER = "manager"


def _state(request: Request) -> ReadingState:
    return request.app.state.reading


# ---- sessions -------------------------------------------------------------------------------------
def _session(request: Request) -> Session | None:
    state = _state(request)
    session = state.signer.loads(request.cookies.get(SESSION_COOKIE))
    if session is None or not session.sid:
        return None
    return session if state.sessions.session(session.sid) == (session.user, session.csrf) else None


def _who(request: Request, kind: str, *, write: bool = False) -> str:
    """The signed-in reader id (``kind`` reader) or the manager; 401/403 otherwise; rate-limited."""
    session = _session(request)
    if session is None or not session.user.startswith(kind + ":"):
        raise APIError(401, "sign in with your personal link" if kind == "reader" else
                       "sign in with the study manager's token")
    if write and request.headers.get(CSRF_HEADER) != session.csrf:
        raise APIError(403, "missing or wrong X-CSRF-Token header")
    _limit(request, session.user)
    return session.user.split(":", 1)[1]


def _limit(request: Request, key: str) -> None:
    wait = _state(request).limiter.hit(key)
    if wait > 0:
        raise APIError(429, f"too many requests; retry in {int(wait) + 1} s", headers={"Retry-After": str(int(wait) + 1)})


def _sign_in(request: Request, user: str, to: str) -> RedirectResponse:
    state = _state(request)
    csrf = secrets.token_urlsafe(24)
    sid = state.sessions.open_session(user, csrf, max_age_s=SESSION_MAX_AGE_S)
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(SESSION_COOKIE, state.signer.dumps(Session(user=user, csrf=csrf, sid=sid)),
                        max_age=SESSION_MAX_AGE_S, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return response


def _page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    session = _session(request)
    return _state(request).templates.TemplateResponse(request, name, {
        "csrf": session.csrf if session else "", "user": session.user if session else "", **context},
        status_code=status)


def _message(request: Request, title: str, text: str, status: int = 200) -> HTMLResponse:
    return _page(request, "message.html", status, title=title, text=text)


@router.get("/r/{token}")
def reader_link(request: Request, token: str):
    """A reader's personal link: checks the token (only its hash is stored), opens a session, goes to /read."""
    state = _state(request)
    _limit(request, f"login:{request.client.host if request.client else '-'}")
    name = state.tokens.verify(token)
    if name is None or name == MANAGER_TOKEN or state.store.reader(name) is None:
        return _message(request, "This link is not valid", "Ask the study manager for a new personal link.", 401)
    return _sign_in(request, f"reader:{name}", "/read")


@router.get("/manage/login", response_class=HTMLResponse)
def manager_login(request: Request, token: str = ""):
    if not token:
        return _page(request, "manage_login.html")
    return _manager_token(request, token)


@router.post("/manage/login")
async def manager_login_form(request: Request):
    fields = await _form(request)
    return await run_in_threadpool(_manager_token, request, fields.get("token", ""))


def _manager_token(request: Request, token: str):
    _limit(request, f"login:{request.client.host if request.client else '-'}")
    if _state(request).tokens.verify(token.strip()) != MANAGER_TOKEN:
        return _page(request, "manage_login.html", 401, failed=True)
    return _sign_in(request, f"{MANAGER}:{MANAGER}", "/manage")


@router.post("/logout")
def logout(request: Request):
    session = _session(request)
    if session is not None:
        _state(request).sessions.close_session(session.sid)
    response = _message(request, "Stopped", "Your answers are saved. Open your personal link again to go on "
                                            "where you stopped.")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def _form(request: Request) -> dict[str, str]:
    body = await _body(request)
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise APIError(413, f"request body larger than {MAX_BODY} bytes")
    return body


# ---- reading --------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def index(request: Request):
    session = _session(request)
    if session is not None:
        return RedirectResponse("/manage" if session.user.startswith(MANAGER) else "/read", status_code=303)
    return _message(request, "Reader study", "Open your personal link to start reading, or sign in as the "
                                             "study manager at /manage/login.", 401)


@router.get("/read", response_class=HTMLResponse)
def read_page(request: Request):
    session = _session(request)
    if session is None or not session.user.startswith("reader:"):
        return _message(request, "Sign in", "Open your personal link to start or go on reading.", 401)
    reader = session.user.split(":", 1)[1]
    design = _state(request).info["design"]
    return _page(request, "read.html", reader=reader, design=design, classes=list(CLASSES))


@router.get("/api/task")
def task(request: Request):
    """The reader's open case (and the model's answer only in the aided session), or when the next opens."""
    state = _state(request)
    reader = _who(request, "reader")
    now = state.now()
    t = state.store.task(reader, now)
    body: dict = {"state": t.state, "total": len(state.store.cases()), "done": state.store.progress(reader),
                  "design": state.info["design"]["kind"]}
    if t.state == "wait":
        body.update(session=t.session, opens_at=iso(t.opens_at) if t.opens_at else None)
    if t.state != "read":
        return JSONResponse(body)
    assert t.session is not None and t.position is not None
    case = _guard(lambda: state.store.serve(reader, t.session, t.position, now))
    media = case_media(state.root, case["roi_id"])
    base = f"/api/media/{t.session}/{t.position}"
    body.update(session=t.session, position=t.position, case={
        "width": media["width"], "height": media["height"], "box": media["box"], "meta": media["meta"],
        "image": f"{base}/image.png", "crop": f"{base}/crop.png"})
    if t.session == "aided":
        key = media_key(case["roi_id"])
        aided = json.loads((state.root / "media" / f"case-{key}-aided.json").read_text())
        crop = base64.b64encode((state.root / "media" / f"case-{key}-crop.png").read_bytes()).decode("ascii")
        model = state.info["model"]
        body["model"] = {**aided, "crop_png": crop, "version": model.get("version"), "limits": model.get("limits")}
    return JSONResponse(body)


def _guard(fn):
    try:
        return fn()
    except TurnError as exc:
        raise APIError(403, str(exc)) from None
    except VcfnetError as exc:
        raise APIError(422, str(exc)) from None


@router.get("/api/media/{session}/{position}/{kind}.png")
def media(request: Request, session: str, position: int, kind: str):
    """A picture of the reader's open case only (``image``: the radiograph, ``crop``: the box region)."""
    state = _state(request)
    reader = _who(request, "reader")
    if kind not in ("image", "crop"):
        raise APIError(404, "no such picture")
    t = state.store.task(reader, state.now())
    if t.state != "read" or (t.session, t.position) != (session, position):
        raise APIError(403, "this case is not open")
    roi = next(o["roi_id"] for o in state.store.order(reader, session) if o["position"] == position)
    info = case_media(state.root, roi)
    path = state.root / "media" / (f"img-{info['image']}.png" if kind == "image" else f"case-{media_key(roi)}-crop.png")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/api/answer")
async def answer(request: Request):
    """Lock the answer of the open case: {session, position, answer, p_acute, p_chronic, p_pathological,
    client_seconds}. 403 when that case is not open (already locked, or not yet), 422 for an invalid answer."""
    state = _state(request)
    reader = await run_in_threadpool(_who, request, "reader", write=True)
    try:
        data = json.loads(await _body(request))
        assert isinstance(data, dict)
        session, position = str(data["session"]), int(data["position"])
    except (ValueError, KeyError, TypeError, AssertionError, RecursionError):
        raise APIError(422, "expected JSON {session, position, answer, p_acute, p_chronic, p_pathological}") from None
    values = {"answer": data.get("answer"), **{c: data.get(c) for c in CONFIDENCE_COLUMNS}}
    record = await run_in_threadpool(_guard, lambda: state.store.submit(
        reader, session, position, values, now=state.now(), client_seconds=data.get("client_seconds")))
    return JSONResponse({"locked": True, "session": record["session"], "position": record["position"],
                         "answer": record["answer"], "seconds": record["seconds"]})


# ---- the manager ----------------------------------------------------------------------------------
@router.get("/manage", response_class=HTMLResponse)
def manage(request: Request):
    session = _session(request)
    if session is None or not session.user.startswith(MANAGER):
        return RedirectResponse("/manage/login", status_code=303)
    from vcfnet.readers.verify import verify_store

    state = _state(request)
    problems, head = verify_store(state.store)
    return _page(request, "manage.html", rows=status_rows(state.store, state.now()), info=state.info,
                 cases=len(state.store.cases()), problems=problems, head=head)


@router.post("/manage/readers", response_class=HTMLResponse)
async def manage_add_reader(request: Request):
    fields = await _form(request)
    session = _session(request)
    if session is None or not session.user.startswith(MANAGER) or fields.get("csrf") != session.csrf:
        raise APIError(403, "sign in as the study manager (and send the form's CSRF field)")
    state = _state(request)

    def add() -> str:
        years = fields.get("years", "").strip()
        reader = Reader(fields.get("reader", "").strip(), fields.get("name", "").strip(),
                        fields.get("tier", "").strip().lower(), float(years) if years else None)
        state.store.add_reader(reader, now=state.now())
        return state.tokens.create(reader.reader)
    try:
        token = await run_in_threadpool(add)
    except (VcfnetError, ValueError) as exc:
        return _page(request, "message.html", 422, title="Reader not added", text=str(exc), back="/manage")
    link = f"{str(request.base_url).rstrip('/')}/r/{token}"
    return _page(request, "message.html", title="Reader added",
                 text="Give this personal link to the reader; it is shown only now (only its hash is stored).",
                 link=link, back="/manage")


@router.get("/manage/export/{name}")
def manage_export(request: Request, name: str):
    state = _state(request)
    _who(request, MANAGER)
    if name == "reads.csv":
        data = reads_csv(state.store.reads_table())
    elif name == "orders.csv":
        data = state.store.orders_table().to_csv(index=False).encode()
    else:
        raise APIError(404, "exports: reads.csv, orders.csv")
    return Response(data, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/healthz")
def healthz(request: Request):
    return JSONResponse({"status": "ok", "cases": len(_state(request).store.cases())})
