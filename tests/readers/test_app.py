"""The reading app's rules through HTTP (FastAPI TestClient on the real app, time injected): links and
sessions, the model's output absent from every unaided response, the aided session held by the washout,
CSRF, one reader blind to another's answers, the manager's views and exports."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from readers_toys import T0, make_reading_study

CLS = ("acute", "chronic", "pathological")


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture(scope="module")
def crossover(toy_study, tmp_path_factory):
    root = tmp_path_factory.mktemp("rs") / "crossover"
    return root, make_reading_study(toy_study, root, kind="crossover", washout=7, limit=3)


def _client(root, clock):
    from fastapi.testclient import TestClient

    from vcfnet.readers.app import create_app

    return TestClient(create_app(root, clock=clock))


def _sign_in(client, token):
    r = client.get(f"/r/{token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/read"
    page = client.get("/read")
    return re.search(r'data-csrf="([^"]+)"', page.text).group(1), page.text


def _model_words(root):
    """Every model output of the study's cases, as it would appear in a response (numbers and the heatmap)."""
    words = []
    for path in (root / "media").glob("*-aided.json"):
        aided = json.loads(path.read_text())
        words.append(aided["heatmap_png"][:40])
        words += [repr(p)[:8] for p in aided["probabilities"].values()]
    return words


def _answer(client, csrf, task, cls="chronic", p=(20, 70, 10)):
    return client.post("/api/answer", headers={"X-CSRF-Token": csrf}, json={
        "session": task["session"], "position": task["position"], "answer": cls,
        **{f"p_{c}": v for c, v in zip(CLS, p)}, "client_seconds": 3.2})


def test_unaided_reading_holds_no_model_output_and_the_washout_holds_the_aided_session(crossover):
    root, tokens = crossover
    clock = Clock(T0)
    client = _client(root, clock)
    csrf, page = _sign_in(client, tokens["r1"])
    secrets = _model_words(root)
    seen = [page]
    for _ in range(3):
        task = client.get("/api/task").json()
        assert task["session"] == "unaided" and "model" not in task
        seen.append(json.dumps(task))
        assert client.get(task["case"]["image"]).headers["content-type"] == "image/png"
        assert client.get(f"/api/media/aided/{task['position']}/image.png").status_code == 403
        clock.t += dt.timedelta(seconds=40)
        assert _answer(client, csrf, task).status_code == 200
    everything = "".join(seen)
    assert not any(w in everything for w in secrets) and "heatmap" not in everything and "probabilities" not in everything
    # the washout: 7 days after the last unaided answer, not a second earlier
    wait = client.get("/api/task").json()
    assert wait["state"] == "wait" and wait["opens_at"].startswith((clock.t + dt.timedelta(days=7)).date().isoformat())
    assert client.get("/api/media/aided/1/image.png").status_code == 403
    r = _answer(client, csrf, {"session": "aided", "position": 1})
    assert r.status_code == 403 and "opens at" in r.json()["error"]["message"]
    clock.t += dt.timedelta(days=7)
    task = client.get("/api/task").json()
    assert task["session"] == "aided" and set(task["model"]) >= {"probabilities", "predicted", "heatmap_png", "crop_png"}
    # a locked answer cannot be sent again, and an invalid one names its field
    bad = _answer(client, csrf, task, "acute", (20, 70, 10))
    assert bad.status_code == 422 and "field 'answer'" in bad.json()["error"]["message"]
    assert _answer(client, csrf, task).status_code == 200
    assert _answer(client, csrf, task).status_code == 403


def test_links_sessions_csrf_and_the_other_readers_answers(crossover):
    root, tokens = crossover
    client = _client(root, Clock(T0))
    assert client.get("/r/vcfnet_000000000000_wrong", follow_redirects=False).status_code == 401
    assert client.get("/api/task").status_code == 401
    assert client.get(f"/r/{tokens['@manager']}", follow_redirects=False).status_code == 401   # not a reader link
    csrf, _ = _sign_in(client, tokens["r2"])
    task = client.get("/api/task").json()
    assert task["done"] == {"unaided": 0, "aided": 0}              # r1's answers are not r2's business
    r = client.post("/api/answer", json={"session": "unaided", "position": 1, "answer": "acute", "p_acute": 100,
                                         "p_chronic": 0, "p_pathological": 0})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    for path in ("/manage/export/reads.csv", "/manage/export/orders.csv"):
        assert client.get(path).status_code == 401
    assert client.get("/manage", follow_redirects=False).headers["location"] == "/manage/login"
    assert "Content-Security-Policy" in client.get("/read").headers
    assert client.post("/logout").status_code == 200 and client.get("/api/task").status_code == 401
    # stop and resume: the same link, a new session, the same open case
    _sign_in(client, tokens["r2"])
    again = client.get("/api/task").json()
    assert (again["session"], again["position"]) == (task["session"], task["position"])


def test_the_manager_sees_progress_names_and_exports_without_truth(crossover, toy_study):
    import pandas as pd

    root, tokens = crossover
    client = _client(root, Clock(T0))
    assert client.get("/manage/login?token=vcfnet_x_y").status_code == 401
    page = client.get(f"/manage/login?token={tokens['@manager']}").text
    assert "Dr R1 Example" in page and "expert" in page and "Intact:" in page
    csv = client.get("/manage/export/reads.csv").text
    truth = pd.read_csv(toy_study[1] / "study.csv").set_index("roi_id")["label"]
    reads = pd.read_csv(pd.io.common.StringIO(csv))
    assert "label" not in reads.columns and "Dr R1" not in csv
    assert set(reads["roi_id"]) <= set(truth.index) and set(reads["reader"]) <= {"r1", "r2"}
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    added = client.post("/manage/readers", data={"csrf": csrf, "reader": "r9", "name": "Dr Nine", "tier": "competent",
                                                 "years": "4"})
    assert added.status_code == 200 and "/r/vcfnet_" in added.text
    assert client.post("/manage/readers", data={"csrf": "wrong", "reader": "r8", "name": "X",
                                                "tier": "expert"}).status_code == 403


def test_the_manager_page_shows_a_tampered_record(crossover):
    import sqlite3

    root, tokens = crossover
    client = _client(root, Clock(T0))
    client.get(f"/manage/login?token={tokens['@manager']}")
    with sqlite3.connect(root / "readers.sqlite3") as con:
        con.execute("UPDATE readers SET years = 30 WHERE reader = 'r2'")
    try:
        page = client.get("/manage").text
        assert "fails verification" in page and "reader &#39;r2&#39; differs in years" in page
    finally:
        with sqlite3.connect(root / "readers.sqlite3") as con:
            con.execute("UPDATE readers SET years = 3.0 WHERE reader = 'r2'")
    assert "Intact:" in client.get("/manage").text


def test_a_new_link_replaces_a_lost_one(crossover):
    from vcfnet.readers.manage import new_token

    root, tokens = crossover
    fresh = new_token(root, "r2")
    client = _client(root, Clock(T0))
    assert client.get(f"/r/{tokens['r2']}", follow_redirects=False).status_code == 401
    tokens["r2"] = fresh
    _sign_in(client, fresh)
    assert client.get("/api/task").status_code == 200
