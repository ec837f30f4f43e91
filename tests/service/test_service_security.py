"""Tokens (hashed, 401), page login (signed HttpOnly SameSite=Strict cookie, CSRF), rate limit (429),
CORS closed by default, settings from file and environment."""
from __future__ import annotations

import json

import pytest

from vcfnet.errors import VcfnetError
from vcfnet.service.security import RateLimiter, Session, SessionSigner, TokenStore, hash_password, verify_password
from vcfnet.service.settings import load_settings


@pytest.fixture
def tokens(tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    return store, store.create("alice")


def test_token_store_keeps_only_salted_hashes(tokens):
    store, token = tokens
    text = store.path.read_text()
    # the secret is everything after vcfnet_<id>_ (token_urlsafe may itself contain "_")
    secret = token.split("_", 2)[2]
    assert len(secret) >= 40 and token not in text and secret not in text
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.verify(token) == "alice"
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify("vcfnet_nothing") is None and store.verify("") is None
    with pytest.raises(VcfnetError, match="exists"):
        store.create("alice")
    entries = json.loads(text)["tokens"]
    assert len(entries) == 1 and len(entries[0]["salt"]) == 32


def test_api_requires_a_valid_bearer_token(make_client, tokens, media):
    store, token = tokens
    client = make_client(tokens_file=store.path)
    files, data = media.files(media.png())
    r = client.post("/api/v1/predict", files=files, data=data)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/model", headers={"Authorization": "Bearer vcfnet_abc_def"}).status_code == 401
    assert client.get("/api/v1/model", headers={"Authorization": f"Basic {token}"}).status_code == 401
    ok = client.post("/api/v1/predict", files=files, data=data, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text
    store.revoke("alice")   # a running server re-reads the file
    assert client.get("/api/v1/model", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get("/healthz").status_code == 200


def test_rate_limit_per_token(make_client, tmp_path):
    store = TokenStore(tmp_path / "tokens.json")
    a, b = store.create("a"), store.create("b")
    client = make_client(tokens_file=store.path, rate_limit=3)
    codes = [client.get("/api/v1/model", headers={"Authorization": f"Bearer {a}"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/v1/model", headers={"Authorization": f"Bearer {a}"})
    assert r.json()["error"]["code"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    assert client.get("/api/v1/model", headers={"Authorization": f"Bearer {b}"}).status_code == 200


def test_rate_limiter_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])      # one a second
    assert all(limiter.hit("k") == 0 for _ in range(60))
    assert limiter.hit("k") == pytest.approx(1.0)
    now[0] += 2.0
    assert limiter.hit("k") == 0 and limiter.hit("k") == 0 and limiter.hit("k") > 0
    assert RateLimiter(0).hit("k") == 0                  # 0 = off


def test_cors_closed_by_default(client):
    foreign = {"Origin": "https://evil.example"}
    r = client.get("/api/v1/model", headers=foreign)
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/api/v1/predict", headers={**foreign, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers


def test_cors_allows_only_listed_origins(make_client):
    client = make_client(cors_origins=["https://pacs.hospital.example"])
    good = client.get("/api/v1/model", headers={"Origin": "https://pacs.hospital.example"})
    assert good.headers["access-control-allow-origin"] == "https://pacs.hospital.example"
    bad = client.get("/api/v1/model", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in bad.headers


def test_page_login_session_cookie_and_csrf(make_client, media):
    client = make_client(login_user="reader", login_password_hash=hash_password("correct horse"))
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert client.get("/api/v1/model").status_code == 401
    bad = client.post("/login", data={"username": "reader", "password": "wrong password"}, follow_redirects=False)
    assert bad.headers["location"] == "/login?failed=1" and "set-cookie" not in bad.headers
    r = client.post("/login", data={"username": "reader", "password": "correct horse"}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    page = client.get("/")
    assert page.status_code == 200 and "Sign out" in page.text
    csrf = page.text.split('data-csrf="')[1].split('"')[0]
    files, data = media.files(media.png())
    assert client.post("/api/v1/predict", files=files, data=data).status_code == 403
    ok = client.post("/api/v1/predict", files=files, data=data, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    client.cookies.set("vcfnet_session", client.cookies["vcfnet_session"][:-2] + "00")   # tampered
    assert client.get("/api/v1/model").status_code == 401


def test_password_and_session_signing():
    stored = hash_password("s3cret-pass")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret-pass", stored) and not verify_password("s3cret-pasS", stored)
    assert not verify_password("x", "garbage")
    with pytest.raises(VcfnetError):
        hash_password("short")
    signer = SessionSigner("k", max_age_s=60)
    value = signer.dumps(Session("u", "c"))
    assert signer.loads(value) == Session("u", "c")
    assert SessionSigner("other", max_age_s=60).loads(value) is None
    assert SessionSigner("k", max_age_s=-1).loads(value) is None


def test_settings_file_env_and_command_line(tmp_path):
    cfg = tmp_path / "serve.toml"
    cfg.write_text('[serve]\nport = 9000\nrate_limit = 5\ncors_origins = ["https://a.example"]\n')
    s = load_settings(cfg, env={"VCFNET_PORT": "9100", "VCFNET_KEEP_UPLOADS": "yes", "OTHER": "x"}, workers=2)
    assert (s.port, s.rate_limit, s.cors_origins, s.keep_uploads, s.workers) == (9100, 5, ["https://a.example"], True, 2)
    yml = tmp_path / "serve.yaml"
    yml.write_text("max_upload_mb: 2.5\ntokens_file: t.json\n")
    assert load_settings(yml, env={}).max_upload_mb == 2.5
    yml.write_text("max_upload_mb: lots\n")
    with pytest.raises(VcfnetError, match="max_upload_mb"):
        load_settings(yml, env={})
    yml.write_text("prot: 1\n")
    with pytest.raises(VcfnetError, match="unknown setting 'prot'"):
        load_settings(yml, env={})
    with pytest.raises(VcfnetError, match="VCFNET_WORKERS"):
        load_settings(env={"VCFNET_WORKERS": "two"})


def test_settings_refuse_open_service_off_loopback():
    with pytest.raises(VcfnetError, match="without authentication"):
        load_settings(env={}, host="0.0.0.0")
    assert load_settings(env={}, host="0.0.0.0", tokens_file="t.json").host == "0.0.0.0"
    with pytest.raises(VcfnetError, match="cors_origins"):
        load_settings(env={"VCFNET_CORS_ORIGINS": "*"})


def test_settings_refuse_unknown_precision():
    with pytest.raises(VcfnetError, match="precision"):
        load_settings(env={"VCFNET_PRECISION": "float8"})
    assert load_settings(env={"VCFNET_PRECISION": "bfloat16", "VCFNET_TORCH_THREADS": "1"}).torch_threads == 1
