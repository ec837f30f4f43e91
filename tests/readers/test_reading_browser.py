"""The reading pages in Debian's Chromium (headless, Playwright) against a real ``vcfnet readers serve``:
a reader opens their link and reads with the keyboard only; unaided, the model is nowhere in the page or in
any response; the aided session stays shut during the washout; another reader sees none of it; aided, the
model's card is the diagnosis page's own. Screenshots go to the test's tmp folder, or to docs/screenshots
with VCFNET_SCREENSHOTS=docs/screenshots (how docs/screenshots/readers-*.png are refreshed)."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from readers_toys import LiveServer, make_reading_study

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1600, "height": 1000}


def _shots(tmp_path: Path) -> Path:
    folder = REPO / os.environ["VCFNET_SCREENSHOTS"] if os.environ.get("VCFNET_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _watch(page):
    """Console errors and the body of every JSON response the page receives."""
    seen = {"errors": [], "json": []}
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)

    def on_response(r):
        if r.headers.get("content-type", "").startswith("application/json"):
            try:
                seen["json"].append(r.text())
            except Exception:   # a response the page navigated away from
                pass
    page.on("response", on_response)
    return seen


def _wait_case(page, session: str, position: int, total: int) -> None:
    """Until the case is drawn and takes answers (reading.js sets body[data-open] last)."""
    page.wait_for_selector(f"body[data-open='{session}:{position}']", state="attached", timeout=30_000)
    assert page.text_content("#session-badge") == f"{session.capitalize()} · case {position} of {total}"


def _lock_with_keys(page, keys: list[str]) -> None:
    for k in keys:
        page.keyboard.press(k)
    page.keyboard.press("Enter")
    assert "Enter" in page.text_content("#answer-line")          # asks before locking
    page.keyboard.press("Enter")
    page.wait_for_selector("#overlay:not([hidden]) >> text=Answer locked")


def test_keyboard_reading_unaided_blind_to_the_model_washout_and_other_readers(browser, toy_study, tmp_path):
    root = tmp_path / "rs"
    tokens = make_reading_study(toy_study, root, kind="crossover", washout=7, limit=3)
    server = LiveServer(root, tmp_path / "server.log")
    shots = _shots(tmp_path)
    try:
        page = browser.new_page(viewport=VIEWPORT)
        seen = _watch(page)
        page.goto(f"{server.url}/r/{tokens['r1']}")
        assert page.url.endswith("/read")                        # the token left the address bar
        for pos in (1, 2, 3):
            _wait_case(page, "unaided", pos, 3)
            assert page.locator("#model-card").count() == 0
            assert page.locator("img[alt^='Grad-CAM']").count() == 0
            if pos == 1:
                page.keyboard.press("2")
                page.keyboard.press("ArrowUp")
                page.keyboard.press("ArrowUp")
                page.keyboard.press("]")                         # window wider: the shared viewer's W/L
                assert page.input_value("#ww") == "255"
                page.keyboard.press("[")
                assert page.input_value("#ww") == "245"
                assert [page.text_content(f"#choice-{c} output") for c in ("acute", "chronic", "pathological")] \
                    == ["15", "70", "15"]
                page.screenshot(path=str(shots / "readers-unaided.png"))
                _lock_with_keys(page, [])
            else:
                _lock_with_keys(page, ["1", "ArrowRight", "ArrowUp", "Shift+ArrowDown"])
            page.keyboard.press("n")
        page.wait_for_selector("#overlay:not([hidden]) >> text=Unaided session complete")
        assert "aided session opens on" in page.text_content("#overlay-text")
        assert seen["errors"] == []                              # before the deliberate 403s below
        early = page.evaluate("""async () => [(await fetch('/api/media/aided/1/image.png')).status,
            (await fetch('/api/answer', {method: 'POST', headers: {'Content-Type': 'application/json',
              'X-CSRF-Token': document.body.dataset.csrf}, body: JSON.stringify({session: 'aided', position: 1,
              answer: 'acute', p_acute: 100, p_chronic: 0, p_pathological: 0})})).status]""")
        assert early == [403, 403]
        everything = page.content() + "".join(seen["json"])
        assert "probabilities" not in everything and "heatmap" not in everything and '"model"' not in everything

        other = browser.new_context(viewport=VIEWPORT).new_page()
        other.goto(f"{server.url}/r/{tokens['r2']}")
        _wait_case(other, "unaided", 1, 3)
        assert "Unaided 0/3" in other.text_content("#progress")
        assert other.evaluate("async () => (await fetch('/manage/export/reads.csv')).status") == 401
        other.close()
    finally:
        server.stop()
    from vcfnet.readers.manage import open_store

    reads = open_store(root).reads_table()
    assert len(reads) == 3 and reads["session"].eq("unaided").all()
    assert reads.iloc[0][["answer", "p_acute", "p_chronic", "p_pathological"]].tolist() == ["chronic", 15, 70, 15]
    assert reads.iloc[1][["answer", "p_acute", "p_chronic", "p_pathological"]].tolist() == ["acute", 57, 24, 19]


def test_sequential_aided_shows_the_model_as_the_service_does(browser, toy_study, tmp_path):
    root = tmp_path / "rs"
    tokens = make_reading_study(toy_study, root, kind="sequential", limit=3)
    server = LiveServer(root, tmp_path / "server.log")
    shots = _shots(tmp_path)
    try:
        page = browser.new_page(viewport=VIEWPORT)
        seen = _watch(page)
        page.goto(f"{server.url}/r/{tokens['r1']}")
        _wait_case(page, "unaided", 1, 3)
        _lock_with_keys(page, ["3"])
        page.keyboard.press("Enter")                              # Enter also goes on to the next case
        _wait_case(page, "aided", 1, 3)                           # the same case, re-read at once, aided
        page.wait_for_selector("#model-card img[alt^='Grad-CAM']")
        bars = page.text_content("#model-card .bars")
        page.keyboard.press("m")                                  # start from the model's numbers
        values = [int(page.text_content(f"#choice-{c} output")) for c in ("acute", "chronic", "pathological")]
        shown = [float(p) for p in re.findall(r"([0-9.]+)%", bars)]
        assert sum(values) == 100 and all(abs(v - p) <= 1 for v, p in zip(values, shown))
        if "tie" in page.text_content("#answer-line"):            # the model's rounded numbers tie at the top:
            assert page.locator("#lock").is_disabled()            # no answer can be locked until one is chosen
            page.keyboard.press(str(1 + values.index(max(values))))
        page.screenshot(path=str(shots / "readers-aided.png"))
        _lock_with_keys(page, [])
        assert "not a medical device" in page.text_content("#model-card")
        for pos in (2, 3):                                        # the rest of the study, both sessions
            page.keyboard.press("n")
            _wait_case(page, "unaided", pos, 3)
            assert page.locator("#model-card").count() == 0       # the model's card is gone again
            _lock_with_keys(page, ["2", "ArrowDown"])
            page.keyboard.press("n")
            _wait_case(page, "aided", pos, 3)
            _lock_with_keys(page, ["m", "1"])
        page.keyboard.press("n")
        page.wait_for_selector("#overlay:not([hidden]) >> text=All cases read")
        assert "Aided 3/3" in page.text_content("#progress")
        assert seen["errors"] == []

        manager = browser.new_context(viewport=VIEWPORT).new_page()
        manager.goto(f"{server.url}/manage/login")
        manager.fill("input[name=token]", tokens["@manager"])
        manager.keyboard.press("Enter")
        manager.wait_for_selector("#progress")
        assert "Dr R1 Example" in manager.text_content("#progress") and "finished" in manager.text_content("#progress")
        manager.screenshot(path=str(shots / "readers-manager.png"), full_page=True)
        manager.close()
    finally:
        server.stop()
    from vcfnet.readers.manage import open_store
    from vcfnet.readers.verify import verify_store

    reads = open_store(root).reads_table()
    aided = reads[reads["session"] == "aided"].iloc[0]
    model = json.loads(next((root / "media").glob("*-aided.json")).read_text())  # some case: shape only
    assert set(model["probabilities"]) == {"acute", "chronic", "pathological"}
    assert aided[["p_acute", "p_chronic", "p_pathological"]].sum() == 100
    assert reads["seconds"].notna().all() and len(reads) == 6
    assert reads[reads["session"] == "unaided"]["answer"].tolist()[1:] == ["chronic", "chronic"]
    assert reads[reads["session"] == "aided"]["answer"].tolist()[1:] == ["acute", "acute"]
    assert verify_store(open_store(root))[0] == []
