"""The evaluation folder: what ``vcfnet evaluate`` writes and ``vcfnet report`` reads.

    EVAL/
      metrics.json              every number (NaN written as null), settings, file list; written last
      table2.csv                Table 2, one row per cohort (estimate, ci_low, ci_high columns)
      comparison.csv            each cohort minus the internal test set, with intervals
      confusion_<cohort>.csv    counts and row shares, rows = true class
      table1.csv                Table 1 (only with --study)
      figures/roc_<cohort>.png|svg, confusion_<cohort>.png|svg, reliability_<cohort>.png|svg, forest.png|svg,
              risk_coverage_<cohort>.png|svg, froc.png|svg and bland_altman.png|svg (with detection)
      detection.csv             with detection: the detector's numbers and the end-to-end result, per cohort

Each file is written to a temporary name and moved into place; ``metrics.json`` comes last, so a
folder with a ``metrics.json`` is complete.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from vcfnet.errors import InputError, VcfnetError
from vcfnet.fileio import atomic_open, write_text
from vcfnet.labels import CLASSES

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
FIGURE_KINDS = ("roc", "confusion", "reliability")


def write_evaluation(result, out_dir: str | Path, *, figures: bool = True) -> Path:
    """Write the tables, figures and ``metrics.json`` of an ``EvaluationResult``; returns ``out_dir``."""
    from vcfnet.report import figures as F

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [_write_csv(result.table2(), out / "table2.csv"),
             _write_csv(comparison_frame(result.comparisons), out / "comparison.csv")]
    if result.table1 is not None:
        files.append(_write_csv(result.table1, out / "table1.csv"))
    for c in result.cohorts:
        files.append(_write_csv(confusion_frame(c), out / f"confusion_{c['key']}.csv"))
    if figures:
        for c in result.cohorts:
            for kind, draw in (("roc", F.roc_figure), ("confusion", F.confusion_figure),
                               ("reliability", F.reliability_figure)):
                files += F.save_figure(draw(c), out / "figures" / f"{kind}_{c['key']}")
        files += F.save_figure(F.forest_figure(result.cohorts), out / "figures" / "forest")
        from vcfnet.report.clinical_figures import risk_coverage_figure
        for c in result.cohorts:
            if c.get("selective"):
                files += F.save_figure(risk_coverage_figure(c), out / "figures" / f"risk_coverage_{c['key']}")
    if result.detection is not None:
        files += _write_detection(result.detection, out, figures=figures)
    data = result.to_dict()
    data["files"] = sorted(str(p.relative_to(out)) for p in files)
    text = json.dumps(data, indent=2, allow_nan=False)  # NaN has become null; refuse any left
    write_text(out / METRICS_FILE, text + "\n")
    log.info("evaluation of %d cohort(s) -> %s", len(result.cohorts), out)
    return out


def _write_detection(detection: dict[str, Any], out: Path, *, figures: bool) -> list[Path]:
    """``detection.csv`` (one row per cohort) and the FROC and Bland-Altman figures."""
    from vcfnet.report.detection_view import detection_frame

    files = [_write_csv(detection_frame(detection), out / "detection.csv")]
    if figures and detection["cohorts"]:
        from vcfnet.report import figures as F
        from vcfnet.report.detection_figures import bland_altman_figure, froc_figure

        files += F.save_figure(froc_figure(detection), out / "figures" / "froc")
        files += F.save_figure(bland_altman_figure(detection), out / "figures" / "bland_altman")
    return files


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        df.to_csv(fh, index=False)
    return path


def confusion_frame(c: dict[str, Any]) -> pd.DataFrame:
    """Rows = true class: counts per predicted class, row total, row shares (empty when no cases)."""
    rows = []
    for i, cls in enumerate(CLASSES):
        counts, shares = c["confusion"]["counts"][i], c["confusion"]["normalized"][i]
        row = {"true_class": cls}
        row.update({f"n_predicted_{p}": counts[j] for j, p in enumerate(CLASSES)})
        row["n_true"] = sum(counts)
        row.update({f"share_predicted_{p}": shares[j] for j, p in enumerate(CLASSES)})
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_frame(comparisons: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["cohort", "reference", "n_patients", "n_vertebrae"]
    rows = []
    for comp in comparisons:
        row = {k: comp[k] for k in cols}
        for name, d in [("accuracy", comp["accuracy"]), ("macro_auc", comp["macro_auc"])] + \
                [(f"auc_{cls}", comp["auc"][cls]) for cls in CLASSES]:
            for k in ("diff", "ci_low", "ci_high", "p_value"):
                if k in d:
                    row[f"{name}_{k}"] = d[k]
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else cols)


def read_evaluation(eval_dir: str | Path) -> dict[str, Any]:
    """``metrics.json`` of an evaluation folder, checked to be one that ``vcfnet evaluate`` wrote."""
    path = Path(eval_dir) / METRICS_FILE
    if not Path(eval_dir).is_dir():
        raise VcfnetError(f"{eval_dir}: no such evaluation folder (write one with `vcfnet evaluate`)")
    if not path.is_file():
        raise InputError(path, "missing; this folder was not written (completely) by `vcfnet evaluate`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"is not valid JSON ({exc})") from None
    for key in ("settings", "cohorts", "comparisons"):
        if key not in data:
            raise InputError(path, f"has no '{key}'; it is not a vcfnet evaluation", field=key)
    return data
