"""Several readers at once lose nothing: a real ``vcfnet readers serve`` (two worker processes on one SQLite
file) and one thread per reader, every answer posted at the same moment (a barrier), every read stored
once, the audit chain intact."""
from __future__ import annotations

import re
import threading

from readers_toys import LiveServer, make_reading_study

READERS = [(f"c{i}", ("trainee", "competent", "expert")[i % 3]) for i in range(8)]


def test_concurrent_readers_lose_nothing(toy_study, tmp_path):
    import httpx

    from vcfnet.readers.manage import open_store
    from vcfnet.readers.verify import verify_store

    root = tmp_path / "rs"
    tokens = make_reading_study(toy_study, root, kind="sequential", limit=3, readers=READERS)
    server = LiveServer(root, tmp_path / "server.log", workers=2)
    barrier = threading.Barrier(len(READERS))
    errors: list[str] = []

    def read(reader: str) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                c.get(f"/r/{tokens[reader]}")
                csrf = re.search(r'data-csrf="([^"]+)"', c.get("/read").text).group(1)
                for _ in range(6):                         # 3 cases x (unaided, aided)
                    task = c.get("/api/task").json()
                    barrier.wait(timeout=60)               # everyone posts at once
                    r = c.post("/api/answer", headers={"X-CSRF-Token": csrf}, json={
                        "session": task["session"], "position": task["position"], "answer": "acute",
                        "p_acute": 50, "p_chronic": 30, "p_pathological": 20})
                    if r.status_code != 200:
                        errors.append(f"{reader}: {r.status_code} {r.text}")
                assert c.get("/api/task").json()["state"] == "done"
        except Exception as exc:       # reported below, with the reader
            errors.append(f"{reader}: {exc!r}")
            barrier.abort()

    threads = [threading.Thread(target=read, args=(r,)) for r, _ in READERS]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
    finally:
        server.stop()
    assert errors == []
    log = (tmp_path / "server.log").read_text()
    assert "GET /r/… -> 303" in log and not any(t.split("_", 2)[2] in log for t in tokens.values())   # no secret logged
    store = open_store(root)
    table = store.reads_table()
    assert len(table) == len(READERS) * 6 and not table.duplicated(["reader", "roi_id", "session"]).any()
    problems, head = verify_store(store)
    assert problems == [] and head["seq"] == 1 + len(READERS) + len(READERS) * 6
