"""The study report: one self-contained HTML page from an evaluation folder.

    >>> html = render_report("eval", study_dir="study", checkpoint="run/best")
    >>> write_report("eval", "report.html", study_dir="study", checkpoint="run/best")

The page reads like the results section of a paper (Table 1, Table 2, external versus internal,
figures per cohort, calibration, limitations, model card, methods). CSS is inline and figures are
embedded as base64 PNG, so the file opens offline and refers to nothing outside itself.
"""
from __future__ import annotations

import base64
import datetime as _dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcfnet.labels import CLASSES
from vcfnet.report import narrative as N
from vcfnet.report.clinical_view import clinical_section
from vcfnet.report.detection_view import detection_section
from vcfnet.report.figures import fmt_ci
from vcfnet.report.outputs import read_evaluation

if TYPE_CHECKING:
    from vcfnet.model.card import ModelCard

log = logging.getLogger(__name__)

TITLE = "Vertebral compression fracture classification: evaluation report"


def render_report(eval_dir: str | Path, *, study_dir: str | Path | None = None,
                  checkpoint: str | Path | None = None, synthetic: bool | None = None) -> str:
    """The report as an HTML string. ``synthetic`` overrides detection from ``study_dir``."""
    import jinja2

    from vcfnet import __version__

    eval_dir = Path(eval_dir)
    m = read_evaluation(eval_dir)
    card = _read_card(checkpoint) if checkpoint is not None else None
    if synthetic is None and study_dir is not None:
        synthetic = study_is_synthetic(study_dir)
    table1, table1_source, table1_missing = _table1(eval_dir, study_dir)
    env = jinja2.Environment(loader=jinja2.PackageLoader("vcfnet.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=False)
    s = m["settings"]
    internal = next((c for c in m["cohorts"] if c["kind"] == "internal"), None)
    from vcfnet.report.compare import ACCURACY_METHOD, AUC_METHOD, MACRO_AUC_METHOD
    ctx = {
        "title": TITLE, "m": m, "version": __version__, "classes": CLASSES,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "ci_pct": f"{round(100 * (1 - s['alpha']))}%",
        "auc_method_text": ("a bootstrap resampling whole patients" if s.get("cluster_bootstrap")
                            else "DeLong's method"),
        "synthetic": bool(synthetic), "summary": N.summary_paragraphs(m),
        "table1": table1, "table1_source": table1_source, "table1_missing": table1_missing,
        "cohorts": m["cohorts"], "table2": [_table2_row(c) for c in m["cohorts"]],
        "not_estimable": [n for c in m["cohorts"] for n in c.get("not_estimable", [])],
        "forest": _figure(eval_dir, "forest", _forest_alt(m)),
        "comparisons": [dict(r) for r in N.comparison_rows(m)], "has_internal": internal is not None,
        "internal_label": f"{internal['name']}, {N.n_text(internal)}" if internal else "",
        "methods_text": {"accuracy": ACCURACY_METHOD, "auc": AUC_METHOD, "macro": MACRO_AUC_METHOD},
        "cohort_figures": [_cohort_figures(eval_dir, c) for c in m["cohorts"]],
        "calibration": [_calibration_row(c) for c in m["cohorts"]],
        "temperature_text": N.temperature_text(card),
        "limitations": N.limitations(m, synthetic=synthetic), "methods": N.methods(m),
        "card": {"fields": N.card_items(card)} if card else None,
        "predictions_name": m.get("source", {}).get("predictions") or "a predictions table",
        "readers": _reader_section(eval_dir),
        "clinical": clinical_section(eval_dir, m, card, _figure),
        "detection": detection_section(eval_dir, m, _figure),
    }
    return env.get_template("report.html.j2").render(**ctx)


def write_report(eval_dir: str | Path, out: str | Path | None = None, *, study_dir: str | Path | None = None,
                 checkpoint: str | Path | None = None, synthetic: bool | None = None) -> Path:
    """Render and write the report atomically (default ``EVAL_DIR/report.html``); returns its path."""
    from vcfnet.fileio import write_text

    html = render_report(eval_dir, study_dir=study_dir, checkpoint=checkpoint, synthetic=synthetic)
    out = Path(out) if out is not None else Path(eval_dir) / "report.html"
    write_text(out, html)
    log.info("report -> %s (%.0f kB)", out, len(html.encode()) / 1024)
    return out


def study_is_synthetic(study_dir: str | Path) -> bool:
    """True when a source of the study was written by ``vcfnet synth``: ingest marked it
    ``"synthetic": true`` in ``sources.json`` (it found the generator's ``manifest.json`` beside the
    source), or, in a study made before sources were pseudonymised, the named source folder (or one of
    two parents) holds that manifest. (Folder names prove nothing.)"""
    import json

    from vcfnet.study.ingest import made_by_synth
    from vcfnet.study.layout import StudyLayout

    path = StudyLayout(study_dir).sources
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        sources = json.loads(text)
    except ValueError:
        sources = {}
    entries = sources.values() if isinstance(sources, dict) else sources
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("synthetic") is True:   # ingest marks a source that vcfnet synth wrote
            return True
        # studies made before sources were pseudonymised still name the source folder
        folder = Path(str(entry["path"])) if entry.get("path") else None
        if folder and made_by_synth(folder):
            return True
    return False



def _read_card(checkpoint: str | Path) -> ModelCard:
    from vcfnet.model.card import read_card

    return read_card(checkpoint)[0]


def _table1(eval_dir: Path, study_dir) -> tuple[dict | None, str, str]:
    """Table 1 cells from the study (preferred) or the evaluation's ``table1.csv``."""
    import pandas as pd

    from vcfnet.study.summary import SUMMARY_HEADERS, format_summary, study_summary

    if study_dir is not None:
        from vcfnet.study.dataset import load_table
        summary, source = study_summary(load_table(study_dir)), "all vertebrae of the study"
    elif (eval_dir / "table1.csv").is_file():
        summary = pd.read_csv(eval_dir / "table1.csv", keep_default_na=False, na_values=[""])
        summary["first_exam"] = summary.get("first_exam", "")
        source = "as saved by `vcfnet evaluate --study`"
    else:
        return None, "", ("no study directory was given (--study) and the evaluation folder has no "
                          "table1.csv.")
    return {"header": SUMMARY_HEADERS, "rows": format_summary(summary)}, source, ""


def _table2_row(c: dict[str, Any]) -> dict[str, Any]:
    cls_ = c["classes"]
    return {"name": c["name"], "n_patients": c["n_patients"], "n_vertebrae": c["n_vertebrae"],
            "accuracy": fmt_ci(c["accuracy"], digits=3),
            "macro_auc": fmt_ci(c["macro_auc"], "auc", digits=3),
            "auc": {k: fmt_ci(cls_[k]["auc"], "auc", digits=3) for k in CLASSES},
            "sens": {k: fmt_ci(cls_[k]["sensitivity"], digits=3) for k in CLASSES},
            "spec": {k: fmt_ci(cls_[k]["specificity"], digits=3) for k in CLASSES}}


def _calibration_row(c: dict[str, Any]) -> dict[str, Any]:
    cal = c["calibration"]
    return {"name": c["name"], "n": c["n_vertebrae"], "patients": c["n_patients"],
            "brier": "not estimable" if cal.get("brier") is None else f"{cal['brier']:.3f}",
            "ece": "not estimable" if cal.get("ece") is None else f"{cal['ece']:.3f}"}


def _figure(eval_dir: Path, stem: str, alt: str, *, caption: str = "") -> dict[str, Any] | None:
    """An embedded PNG (data URI) shown at 96 px per figure inch, or None when it was not drawn."""
    path = eval_dir / "figures" / f"{stem}.png"
    if not path.is_file():
        log.warning("%s: figure missing; the report leaves it out", path)
        return None
    data = path.read_bytes()
    width = _png_width(data) / 2  # drawn at twice the display resolution
    return {"src": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "alt": alt, "width": int(round(width)), "caption": caption}


def _png_width(data: bytes) -> int:
    return int.from_bytes(data[16:20], "big")  # IHDR width


def _cohort_figures(eval_dir: Path, c: dict[str, Any]) -> dict[str, Any]:
    n = N.n_text(c)
    aucs = "; ".join(f"{k} AUC {fmt_ci(c['classes'][k]['auc'], 'auc')}" for k in CLASSES)
    diag = c["confusion"]["normalized"]
    correct = "; ".join(f"{k} {fmt_ci({'estimate': diag[i][i]})}" for i, k in enumerate(CLASSES))
    cal = c["calibration"]
    specs = [
        ("roc", f"ROC curves, one class versus rest, for {c['name']} ({n}): {aucs}.",
         "ROC curves per class; AUC with confidence interval in the legend; dotted line = chance."),
        ("confusion", f"Normalised confusion matrix for {c['name']} ({n}); share of each true class "
                      f"predicted correctly: {correct}.",
         "Confusion matrix, rows = true class; share of the row and count."),
        ("reliability", f"Reliability diagram for {c['name']} ({n}): Brier score "
                        f"{_maybe(cal.get('brier'))}, expected calibration error {_maybe(cal.get('ece'))}.",
         "Calibration: share correct per bin of the predicted class's probability, with Wilson "
         "intervals; dotted line = perfect calibration; bars = vertebrae per bin."),
    ]
    figs = [_figure(eval_dir, f"{kind}_{c['key']}", alt, caption=cap) for kind, alt, cap in specs]
    return {"key": c["key"], "name": c["name"], "n_patients": c["n_patients"],
            "n_vertebrae": c["n_vertebrae"], "figures": [f for f in figs if f]}


def _reader_section(eval_dir: Path) -> dict[str, Any] | None:
    """The reader-study section (Table 3, the MRMC results, Figure 6) when ``EVAL/readers/readers.json``
    exists (``vcfnet readers analyze``); None otherwise, and the report has no such section."""
    from vcfnet.report import readers as R

    result = R.read_reader_analysis(eval_dir)
    if result is None:
        return None
    folder = eval_dir / R.READERS_DIR
    figures = [_figure(folder, f"figure6_{cls}", R.figure6_alt(result, cls)) for cls in CLASSES]
    mrmc = result.get("mrmc") or {}
    return {"who": R.readers_word(result), "simulated": bool(result.get("simulated")),
            "n_cases": result["n_cases"], "n_patients": result["n_patients"], "n_readers": result["n_readers"],
            "class_counts": result["class_counts"], "tiers": [t for t in result["tiers"] if t["tier"] != "all"],
            "table3": R.table3_rows(result), "mrmc": R.mrmc_sentences(result),
            "mrmc_table": R.mrmc_table_rows(result), "n_clusters": _n_clusters(mrmc),
            "model_vs_readers": R.model_vs_readers_sentences(result), "mrmc_ran": bool(mrmc),
            "figures": [(cls, f) for cls, f in zip(CLASSES, figures) if f], "notes": result.get("notes", []),
            "ci_pct": f"{round(100 * (1 - result.get('alpha', 0.05)))}%"}


def _n_clusters(mrmc: dict[str, Any]) -> int | None:
    """The number of patients the MRMC analysis used as its unit (None before it ran)."""
    for r in (mrmc.get("or") or {}).values():
        if isinstance(r, dict) and r.get("n_clusters") is not None:
            return int(r["n_clusters"])
    return None


def _maybe(x) -> str:
    return "not estimable" if x is None else f"{x:.3f}"


def _forest_alt(m: dict[str, Any]) -> str:
    parts = [f"{c['name']} ({N.n_text(c)}): accuracy {fmt_ci(c['accuracy'])}" for c in m["cohorts"]]
    return "Forest plot of accuracy and per-class AUC by cohort. " + "; ".join(parts) + "."

