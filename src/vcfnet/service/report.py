"""Results as files a clinician keeps: CSV (one row per vertebra) and a one-page HTML report."""
from __future__ import annotations

import csv
import datetime as _dt
import io

from vcfnet.service.schemas import ReportRequest

CSV_COLUMNS = ("image", "box", "x0", "y0", "x1", "y1", "annotated_label", "annotated_level")
#: A cell starting with one of these is a formula to Excel / LibreOffice (``=HYPERLINK(...)``).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """``value`` safe to open in a spreadsheet: a leading formula character is quoted with ``'``."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def report_csv(report: ReportRequest) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + tuple(f"p_{c}" for c in report.classes) + ("predicted", "model_version"))
    for image in report.all_images():
        for box in image.boxes:
            ann = box.annotation
            writer.writerow([image.index, box.index, *(f"{v:g}" for v in box.box),
                             text_cell(ann.label) if ann else "", text_cell(ann.level) if ann else "",
                             *(f"{box.probabilities.get(c, float('nan')):.4f}" for c in report.classes),
                             text_cell(box.predicted), text_cell(report.model.version)])
    return buf.getvalue()


def report_html(report: ReportRequest, templates) -> str:
    """The one-page report, rendered from ``templates/report.html`` (self-contained, no external URLs)."""
    template = templates.get_template("report.html")
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    images = report.all_images()
    annotated = [any(box.annotation for box in image.boxes) for image in images]   # once, not per row
    return template.render(report=report, images=images, annotated=annotated, generated=generated)
