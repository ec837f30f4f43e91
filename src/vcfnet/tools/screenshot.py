"""Look at a report the way a reader does: headless Chromium, laptop width, screenshots.

    >>> screenshot_report("eval/report.html", "docs/report-overview.png",
    ...                   details={"docs/report-table2.png": "#table2"})

Needs Playwright (a test dependency) and a Chromium binary (``/usr/bin/chromium`` by default).
Network access is blocked while the page loads, so a screenshot also proves the page is
self-contained. From a shell::

    python -m vcfnet.tools.screenshot REPORT.html docs/report-overview.png \
        docs/report-table2.png '#table2' docs/report-cohort.png 'section.cohort'

``python -m vcfnet.tools.screenshot --docs`` redraws the ``docs/report-*.png`` shots from a report
of simulated predictions (``vcfnet.tools.simulate.simulated_report``).
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcfnet.errors import VcfnetError

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

log = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP: ViewportSize = {"width": 1366, "height": 900}


def open_report(page, html_path: str | Path) -> list[str]:
    """Load the report with every non-file request refused; returns the refused URLs."""
    refused: list[str] = []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            refused.append(url)
            r.abort()

    page.route("**/*", route)
    page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
    return refused


def screenshot_report(html_path: str | Path, out_png: str | Path, *,
                      details: dict[str | Path, str] | None = None, executable: str = CHROMIUM,
                      viewport: ViewportSize = LAPTOP) -> list[Path]:
    """Full-page screenshot to ``out_png``; ``details`` maps more PNG paths to CSS selectors of
    elements to shoot on their own. Returns the written paths."""
    from playwright.sync_api import sync_playwright

    from vcfnet.fileio import atomic_path

    if not Path(executable).exists():
        raise VcfnetError(f"no Chromium at {executable}; install it (apt-get install chromium)")
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            refused = open_report(page, html_path)
            if refused:
                log.warning("the report asked for %d outside resource(s), e.g. %s", len(refused), refused[0])
            shots = [(Path(out_png), None)] + [(Path(k), v) for k, v in (details or {}).items()]
            for path, selector in shots:
                with atomic_path(path.with_suffix(".png")) as tmp:
                    target = page.locator(selector).first if selector else page
                    kwargs: dict[str, Any] = {} if selector else {"full_page": True}
                    target.screenshot(path=str(tmp), type="png", **kwargs)
                written.append(path)
        finally:
            browser.close()
    return written


DOC_DETAILS = {"docs/report-table2.png": "#table2", "docs/report-cohort.png": "section.cohort",
               "docs/report-comparison.png": "#comparison"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--docs"]:
        import tempfile

        from vcfnet.tools.simulate import simulated_report
        with tempfile.TemporaryDirectory() as tmp:
            html = simulated_report(Path(tmp) / "eval")
            args = [str(html), "docs/report-overview.png"] + [x for kv in DOC_DETAILS.items() for x in kv]
            return main(args)
    if len(args) < 2 or len(args) % 2:
        print("usage: python -m vcfnet.tools.screenshot REPORT.html OUT.png [DETAIL.png SELECTOR ...] | --docs",
              file=sys.stderr)
        return 2
    details: dict[str | Path, str] = dict(zip(args[2::2], args[3::2]))
    for path in screenshot_report(args[0], args[1], details=details):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
