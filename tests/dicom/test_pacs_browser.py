"""The diagnosis page in Debian's Chromium against a real ``vcfnet serve`` and a real Orthanc: search the
PACS, open its radiograph, load the LabelImg boxes, classify, click "Send to PACS", and find the SR and
the overlays in the study in Orthanc. Screenshots (the page, Orthanc Explorer's study with the new
series) go to the test's tmp folder, or to docs/ with VCFNET_SCREENSHOTS=docs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from dicom_toys import check_stored, free_port, results_in, upload, wait_until_up

from vcfnet.io import read_voc

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(orthanc, checkpoint, tmp_path_factory):
    """``vcfnet serve`` with the Orthanc as its PACS, on a free loopback port; yields its URL."""
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**os.environ, "VCFNET_UPLOAD_DIR": str(folder / "uploads"), "VCFNET_PACS_URL": orthanc.dicomweb}
    cmd = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())", "serve",
           "--checkpoint", str(checkpoint), "--port", str(port)]
    with open(folder / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, url + "/healthz", folder / "server.log", "vcfnet serve", 120)
        yield url, folder / "server.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_send_to_pacs_from_the_page(browser, served, orthanc, synth_study, predictor, tmp_path):
    import httpx

    shots = REPO / os.environ["VCFNET_SCREENSHOTS"] if os.environ.get("VCFNET_SCREENSHOTS") else tmp_path
    url, log_path = served
    film = sorted(synth_study.glob("site2-*/*.dcm"))[3]
    upload(orthanc, film)
    source = pydicom.dcmread(film, stop_before_pixels=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + "/")
    page.locator("#pacs-card").wait_for(state="visible", timeout=30_000)
    page.fill("#pacs-patient_id", str(source.PatientID))
    page.click("#pacs-search button[type=submit]")
    page.locator("#pacs-studies button").first.click()
    page.locator("#pacs-studies .pacs-images button").first.click()
    page.locator("#image-info", has_text="×").wait_for(timeout=60_000)
    assert f"{source.Columns} × {source.Rows} px" in page.text_content("#image-info")
    assert page.is_disabled("#pacs-send")
    page.set_input_files("#xml", str(film.with_suffix(".xml")))
    page.locator("#box-list li", has_text="Box 1").wait_for(timeout=30_000)
    page.click("#analyse")
    page.wait_for_selector("#results .result", timeout=120_000)
    assert results_in(orthanc, source.StudyInstanceUID) == {"SR": [], "PR": [], "OT": []}   # not before the click
    page.click("#pacs-send")
    page.locator("#pacs-status", has_text="Stored in the study").wait_for(timeout=120_000)
    page.screenshot(path=str(shots / "dicom-send-to-pacs.png"))
    check_stored(orthanc, film, predictor)        # every field, the LabelImg levels included
    assert all(b.level in page.text_content("#pacs-status") for b in read_voc(film.with_suffix(".xml")).boxes)
    assert errors == []
    for keyword in ("PatientName", "PatientID"):
        assert str(source.get(keyword)) not in log_path.read_text()
    # Orthanc Explorer: the study with its new series (what the docs show)
    [found] = httpx.post(orthanc.url + "/tools/lookup", content=source.StudyInstanceUID, timeout=30).json()
    explorer = browser.new_page(viewport={"width": 1200, "height": 800})
    explorer.goto(f"{orthanc.url}/app/explorer.html#study?uuid={found['ID']}")
    explorer.locator("text=vcfnet AI results (SR)").first.wait_for(timeout=30_000)
    explorer.screenshot(path=str(shots / "dicom-orthanc-explorer.png"))
    explorer.close()
    page.close()
