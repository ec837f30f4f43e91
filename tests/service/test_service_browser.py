"""The page in Debian's Chromium (headless, Playwright) against a real ``vcfnet serve`` process:
open a synthetic radiograph, window it, draw a box by mouse, get probabilities and a Grad-CAM
overlay, download the results. Screenshots go to the test's tmp folder, or to docs/ with
VCFNET_SCREENSHOTS=docs (how docs/service-*.png are refreshed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synthetic_film(tmp_path_factory):
    """One DICOM of ``vcfnet synth`` (made-up identifiers in its header) and its first LabelImg box."""
    out = tmp_path_factory.mktemp("synth") / "study"
    cmd = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())",
           "synth", str(out), "--scale", "0.005", "--workers", "1", "--resolution", "0.3"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=240)
    dicom = sorted(out.glob("site1-development/*.dcm"))[0]
    root = ET.parse(dicom.with_suffix(".xml")).getroot()
    bb = root.find("object/bndbox")
    box = [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
    size = (int(root.findtext("size/width")), int(root.findtext("size/height")))
    return dicom, box, size


def _screen_point(canvas_box: dict, size: tuple[int, int], x: float, y: float) -> tuple[float, float]:
    """Radiograph pixel -> page coordinates, as viewer.js fits the image (98% of the canvas, centred)."""
    w, h = size
    s = 0.98 * min(canvas_box["width"] / w, canvas_box["height"] / h)
    ox = canvas_box["x"] + (canvas_box["width"] - w * s) / 2
    oy = canvas_box["y"] + (canvas_box["height"] - h * s) / 2
    return ox + x * s, oy + y * s


def _drag_box(page, size: tuple[int, int], box: list[float]) -> None:
    """Draw ``box`` (radiograph pixels) with the mouse: press, move in steps, release."""
    canvas = page.locator("#canvas").bounding_box()
    x0, y0 = _screen_point(canvas, size, box[0], box[1])
    x1, y1 = _screen_point(canvas, size, box[2], box[3])
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


def _download_all(page, folder: Path) -> dict[str, str]:
    """Click the JSON, CSV and HTML download buttons; the text of each file."""
    downloads = {}
    for kind in ("json", "csv", "html"):
        with page.expect_download() as info:
            page.click(f"#dl-{kind}")
        path = folder / f"result.{kind}"
        info.value.save_as(path)
        downloads[kind] = path.read_text()
    return downloads


def test_page_flow_upload_box_predict_download(browser, live_server, synthetic_film, tmp_path):
    DOCS = REPO / os.environ["VCFNET_SCREENSHOTS"] if os.environ.get("VCFNET_SCREENSHOTS") else tmp_path
    import pydicom

    url, _, _ = live_server
    dicom, box, size = synthetic_film
    secrets = [str(pydicom.dcmread(dicom).get(k)) for k in ("PatientName", "PatientID", "AccessionNumber")]
    page = browser.new_page(viewport={"width": 1500, "height": 940}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + "/")
    page.set_input_files("#file", str(dicom))
    page.locator("#image-info", has_text="×").wait_for(timeout=60_000)
    assert f"{size[0]} × {size[1]} px" in page.text_content("#image-info")
    page.fill("#ww", "200")
    page.dispatch_event("#ww", "input")
    _drag_box(page, size, box)
    assert page.locator("#box-list li").count() == 1
    assert "Box 1:" in page.text_content("#box-list")
    page.screenshot(path=str(DOCS / "service-boxed.png"))
    page.click("#analyse")
    page.wait_for_selector(".result .thumbs img", timeout=120_000)
    result_text = page.text_content("#results")
    assert any(c in result_text for c in ("acute", "chronic", "pathological")) and "%" in result_text
    assert page.locator(".result img[alt^='Grad-CAM']").count() == 1
    assert "not a medical device" in page.text_content(".disclaimer")
    page.screenshot(path=str(DOCS / "service-result.png"))

    downloads = _download_all(page, tmp_path)
    result = json.loads(downloads["json"])
    [answer] = result["image"]["boxes"]
    # the box drawn by mouse lands on the annotated box (within the drawing precision of a screen pixel)
    assert answer["box"] == pytest.approx(box, abs=3)
    assert answer["heatmap_png"] and answer["predicted"] in result["classes"]
    assert downloads["csv"].splitlines()[1].startswith("1,1,")
    assert "not a medical device" in downloads["html"] and "data:image/png;base64," in downloads["html"]
    everything = page.content() + "".join(downloads.values())
    for secret in secrets:
        assert secret not in everything
    assert all(r.startswith(url) or r.startswith(("data:", "blob:")) for r in requests), requests
    assert errors == []

    page.goto(url + "/model")
    assert "Intended use and limits" in page.text_content("main")
    page.screenshot(path=str(DOCS / "service-model.png"), full_page=True)
    page.goto(url + "/docs")
    assert "POST" in page.text_content("main") and "/api/v1/predict" in page.text_content("main")
    page.screenshot(path=str(DOCS / "service-api.png"))
    page.close()
