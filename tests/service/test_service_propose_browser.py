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
    assert f"{len(im.vertebrae)} vertebrae found (T10–S1); 3 proposed" in status, status
    items = page.locator("#box-list li")
    assert items.count() == 3
    texts = [items.nth(i).text_content() for i in range(3)]
    # T10 (cut by the top edge, wedge), L4 (grade 3, wedge) and L5 (the 4 mm rule): levels and grades shown
    assert "T10 · Genant 2 wedge" in texts[0] and "L4 · Genant 3 wedge" in texts[1] and "L5 · Genant 0" in texts[2]
    assert all("height loss" in t and " mm · score 0.97" in t for t in texts)
    assert [t[:len(f"Box {k} · ")] for k, t in enumerate(texts, start=1)] == [f"Box {k} · " for k in (1, 2, 3)]
    page.screenshot(path=str(docs / "detect-propose.png"))

    page.click("#box-list li:nth-child(1) button.del")                      # delete the T10 box
    assert items.count() == 2 and "L4 · Genant 3" in items.nth(0).text_content()
    l4 = next(vb.box for vb in im.vertebrae if vb.level == "L4")
    centre = ((l4[0] + l4[2]) / 2, (l4[1] + l4[3]) / 2)
    _drag(page, _page_point(page, size, *centre), _page_point(page, size, centre[0] + 12, centre[1] - 6))
    moved = items.nth(0).text_content()
    assert "moved: measured on the proposed box" in moved and moved.startswith("Box 1 · L4")
    l1 = next(vb.box for vb in im.vertebrae if vb.level == "L1")                 # a dashed body: click adds it
    page.mouse.click(*_page_point(page, size, (l1[0] + l1[2]) / 2, (l1[1] + l1[3]) / 2))
    assert items.count() == 3 and "L1 · Genant 0" in items.nth(2).text_content()
    _drag(page, _page_point(page, size, 20, 600), _page_point(page, size, 90, 660))   # a box drawn by hand
    assert items.count() == 4 and page.text_content("#box-count") == "4" and "drawn" in items.nth(3).text_content()

    page.click("#analyse")
    page.wait_for_selector(".result .thumbs img", timeout=120_000)
    titles = page.locator(".result h3").all_text_contents()
    prefixes = ["Box 1 · L4", "Box 2 · L5", "Box 3 · L1", "Box 4"]               # a drawn box has no level
    assert [t[:len(p)] for t, p in zip(titles, prefixes)] == prefixes and " · " not in titles[3]
    with page.expect_download() as info:                                   # the answer the page holds
        page.click("#dl-json")
    info.value.save_as(tmp_path / "result.json")
    boxes = [b["box"] for b in json.loads((tmp_path / "result.json").read_text())["image"]["boxes"]]
    want_l4 = [round(l4[0] + 12), round(l4[1] - 6), round(l4[2] + 12), round(l4[3] - 6)]
    assert boxes[0] == pytest.approx(want_l4, abs=2)                                  # moved by 12, -6 px
    assert boxes[2] == pytest.approx(list(l1), abs=0.01) and boxes[3] == pytest.approx([20, 600, 90, 660], abs=2)
    page.screenshot(path=str(tmp_path / "detect-propose-classified.png"))
    assert errors == []
    page.close()
