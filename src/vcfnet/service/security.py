"""API tokens (stored hashed), page login passwords (scrypt), signed session cookies, rate limits.

Tokens look like ``vcfnet_<id>_<secret>``: the id picks the stored entry, the 256-bit random secret
is checked against ``HMAC-SHA256(salt, secret)``. A fast salted hash is sound for a random 256-bit
secret (nobody can enumerate them); human passwords get scrypt instead. The plaintext token is shown
once by ``vcfnet serve token create`` and never stored.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_open
from vcfnet.service.store import SharedStore

TOKEN_PREFIX = "vcfnet_"
#: The pages' Content-Security-Policy: nothing from outside, no inline script or style.
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def set_security_headers(headers, request_id: str) -> None:
    """The headers every response of the service and of the reading app carries (one rule for both):
    the request id, no MIME sniffing, no Referer (a reader's link never leaks), the CSP, no caching."""
    headers["X-Request-ID"] = request_id
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("Cache-Control", "no-store")
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def _token_digest(salt: bytes, secret: str) -> str:
    return hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).hexdigest()


class TokenStore:
    """The tokens file: ``{"tokens": [{"name", "id", "salt", "sha256", "created"}]}``, mode 0600.

    The file is re-read when its modification time changes, so a created or revoked token takes
    effect in a running server without a restart.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, dict] = {}

    def _load(self) -> dict[str, dict]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._entries = {e["id"]: e for e in self._read()}
                self._stamp = stamp
            return self._entries

    def _read(self) -> list[dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = data["tokens"]
            assert isinstance(entries, list) and all({"name", "id", "salt", "sha256"} <= set(e) for e in entries)
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, AssertionError):
            raise VcfnetError(f"{self.path}: not a vcfnet tokens file (expected {{\"tokens\": [...]}} "
                              f"written by `vcfnet serve token create`)") from None
        return entries

    def names(self) -> list[str]:
        return sorted(e["name"] for e in self._read())

    def create(self, name: str) -> str:
        """Add a token called ``name``; return its plaintext (the only time it exists)."""
        name = name.strip()
        if not name or len(name) > 64 or not all(c.isalnum() or c in "-_.@" for c in name):
            raise VcfnetError(f"token name '{name}' must be 1-64 letters, digits or - _ . @")
        entries = self._read()
        if any(e["name"] == name for e in entries):
            raise VcfnetError(f"{self.path}: a token named '{name}' exists; revoke it first")
        token_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_bytes(16)
        entries.append({"name": name, "id": token_id, "salt": salt.hex(),
                        "sha256": _token_digest(salt, secret),
                        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        self._write(entries)
        return f"{TOKEN_PREFIX}{token_id}_{secret}"

    def revoke(self, name: str) -> None:
        entries = self._read()
        kept = [e for e in entries if e["name"] != name]
        if len(kept) == len(entries):
            raise VcfnetError(f"{self.path}: no token named '{name}' (have: {', '.join(self.names()) or 'none'})")
        self._write(kept)

    def _write(self, entries: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.path, "w", encoding="utf-8") as fh:
            os.chmod(fh.name, 0o600)
            json.dump({"tokens": entries}, fh, indent=2)
            fh.write("\n")

    def verify(self, token: str) -> str | None:
        """The name of the token, or None when it is unknown, revoked or malformed."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        token_id, sep, secret = token[len(TOKEN_PREFIX):].partition("_")
        entry = self._load().get(token_id) if sep else None
        if entry is None:
            return None
        digest = _token_digest(bytes.fromhex(entry["salt"]), secret)
        return entry["name"] if hmac.compare_digest(digest, entry["sha256"]) else None


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) for the page login's ``login_password_hash`` setting."""
    if len(password) < 8:
        raise VcfnetError("password must have at least 8 characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT, dklen=32)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + f"{salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(digest) // 2)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    sid: str = ""     # the server-side record (``SharedStore``); signing out deletes it


class SessionSigner:
    """Signed, expiring session cookie values: ``base64(json).timestamp.hmac``."""

    def __init__(self, secret: str, max_age_s: int):
        self._key = hashlib.sha256(("vcfnet-session:" + secret).encode("utf-8")).digest()
        self.max_age_s = max_age_s

    def dumps(self, session: Session) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"u": session.user, "c": session.csrf, "s": session.sid}).encode()).decode()
        payload = f"{body}.{int(time.time())}"
        return f"{payload}.{hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()}"

    def loads(self, value: str | None) -> Session | None:
        if not value or not value.isascii() or value.count(".") != 2:   # a cookie is the client's text
            return None
        body, stamp, mac = value.split(".")
        expected = hmac.new(self._key, f"{body}.{stamp}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            if time.time() - int(stamp) > self.max_age_s:
                return None
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
            return Session(user=str(data["u"]), csrf=str(data["c"]), sid=str(data.get("s", "")))
        except (ValueError, KeyError, TypeError):
            return None


class RateLimiter:
    """Token bucket per client key: ``per_minute`` requests a minute, bursts up to ``per_minute``.

    The buckets live in ``store`` (a :class:`SharedStore`), so the worker processes sharing its file
    enforce one limit together; without a store, in this process's memory.
    """

    def __init__(self, per_minute: int, *, store: SharedStore | None = None, clock=time.time):
        self.per_minute = per_minute
        self._store = store if store is not None else SharedStore(None, clock=clock)

    def hit(self, key: str) -> float:
        """Take one request from ``key``'s bucket; return 0 when allowed, else seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        return self._store.take(key, self.per_minute)
