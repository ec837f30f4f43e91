"""The page with a detector, in Debian's Chromium (headless, Playwright) against a real uvicorn server:
open a synthetic DICOM, get the proposed boxes with their levels and Genant grades, delete one, move one,
add one, classify, and check that what the page shows and what it sent are those boxes.

The service's Predictor holds a detector that answers with the film's ground truth, so the page and the
service are checked against known boxes, levels and grades (the detector itself is tested in tests/detect). A
screenshot goes to the test's tmp folder, or to docs/ with VCFNET_SCREENSHOTS=docs (docs/detect-propose.png)."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from detector_toys import GroundTruthDetector, synthetic_film

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]




@pytest.fixture(scope="module")
def served(checkpoint, tmp_path_factory):
    """(url, film path, annotations): uvicorn in a thread of this process, the Predictor with a detector."""
    import uvicorn

    from vcfnet.predict import Predictor
    from vcfnet.service.app import create_app
    from vcfnet.service.settings import Settings

    folder = tmp_path_factory.mktemp("propose")
    path, im = synthetic_film(tmp_path_factory)
    predictor = Predictor(checkpoint, detector=GroundTruthDetector(im, score=0.97))
    app = create_app(Settings(checkpoint=checkpoint, upload_dir=folder / "up"), predictor=predictor)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", path, im
    server.should_exit = True
    thread.join(timeout=20)


def _page_point(page, size, x, y):
    """Radiograph pixel -> page coordinates, as viewer-core.js fits the image (98 % of the canvas, centred)."""
    c = page.locator("#canvas").bounding_box()
    s = 0.98 * min(c["width"] / size[0], c["height"] / size[1])
    return c["x"] + (c["width"] - size[0] * s) / 2 + x * s, c["y"] + (c["height"] - size[1] * s) / 2 + y * s


def _proposed(im):
    """The bodies the service should propose, with their morphometry (measured here on the same points the
    ground-truth detector gives, levels as annotated), and one lumbar body it should not."""
    from vcfnet.detect.morphometry import measure_spine

    given = GroundTruthDetector(im).detect(np.zeros((im.height, im.width), np.float32))
    measured = measure_spine([(vb.level, d.points) for vb, d in zip(im.vertebrae, given)], im.spacing)
    proposed = [(vb, m) for vb, m in zip(im.vertebrae, measured) if m.included]
    other = next((vb for vb, m in zip(im.vertebrae, measured)
                  if vb.level.startswith("L") and m.grade == 0 and not m.included), None)
    return proposed, other


def _drag(page, a, b):
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, steps=4)
    page.mouse.move(*b, steps=4)
    page.mouse.up()


def test_propose_delete_move_add_then_classify(browser, served, tmp_path):
    docs = REPO / os.environ["VCFNET_SCREENSHOTS"] if os.environ.get("VCFNET_SCREENSHOTS") else tmp_path
    url, path, im = served
    size = (im.width, im.height)
    page = browser.new_page(viewport={"width": 1500, "height": 940}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + "/")
    page.set_input_files("#file", str(path))
    page.locator("#status", has_text="proposed").wait_for(timeout=60_000)
    status = page.text_content("#status")
    proposed, other = _proposed(im)
    assert len(proposed) >= 2 and other is not None
    assert f"{len(im.vertebrae)} vertebrae found (T10–S1); {len(proposed)} proposed" in status, status
    items = page.locator("#box-list li")
    assert items.count() == len(proposed)
    texts = [items.nth(i).text_content() for i in range(len(proposed))]
    # each proposed body with its level and Genant grade (on this film T10, cut by the top edge, and L4)
    for t, (vb, m) in zip(texts, proposed):
        assert f"{vb.level} · Genant {m.grade}" in t, t
    assert all("height loss" in t and " mm · score 0.97" in t for t in texts)
    assert [t[:len(f"Box {k} · ")] for k, t in enumerate(texts, start=1)] == [
        f"Box {k} · " for k in range(1, len(proposed) + 1)]
    page.screenshot(path=str(docs / "detect-propose.png"))

    page.click("#box-list li:nth-child(1) button.del")                      # delete the first proposal
    kept = [vb for vb, _ in proposed[1:]]
    assert items.count() == len(kept) and f"{kept[0].level} · Genant" in items.nth(0).text_content()
    box = kept[0].box
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    _drag(page, _page_point(page, size, *centre), _page_point(page, size, centre[0] + 12, centre[1] - 6))
    moved = items.nth(0).text_content()
    assert "moved: measured on the proposed box" in moved and moved.startswith(f"Box 1 · {kept[0].level}")
    added = other.box                                                   # a dashed body: click adds it
    page.mouse.click(*_page_point(page, size, (added[0] + added[2]) / 2, (added[1] + added[3]) / 2))
    n = len(kept) + 1
    assert items.count() == n and f"{other.level} · Genant 0" in items.nth(n - 1).text_content()
    _drag(page, _page_point(page, size, 20, 600), _page_point(page, size, 90, 660))   # a box drawn by hand
    assert items.count() == n + 1 and page.text_content("#box-count") == str(n + 1)
    assert "drawn" in items.nth(n).text_content()

    page.click("#analyse")
    page.wait_for_selector(".result .thumbs img", timeout=120_000)
    titles = page.locator(".result h3").all_text_contents()
    prefixes = [f"Box {k} · {vb.level}" for k, vb in enumerate([*kept, other], start=1)] + [f"Box {n + 1}"]
    assert [t[:len(p)] for t, p in zip(titles, prefixes)] == prefixes and " · " not in titles[n]   # no level
    with page.expect_download() as info:                                   # the answer the page holds
        page.click("#dl-json")
    info.value.save_as(tmp_path / "result.json")
    boxes = [b["box"] for b in json.loads((tmp_path / "result.json").read_text())["image"]["boxes"]]
    want = [round(box[0] + 12), round(box[1] - 6), round(box[2] + 12), round(box[3] - 6)]
    assert boxes[0] == pytest.approx(want, abs=2)                                     # moved by 12, -6 px
    assert boxes[n - 1] == pytest.approx(list(added), abs=0.01) and boxes[n] == pytest.approx([20, 600, 90, 660], abs=2)
    page.screenshot(path=str(tmp_path / "detect-propose-classified.png"))
    assert errors == []
    page.close()
