"""``vcfnet evaluate``: per-cohort performance of a predictions table, with correct intervals.

    vcfnet evaluate predictions.csv --study STUDY --out eval
    vcfnet evaluate predictions.csv --out eval --bootstrap-patients --alpha 0.05
    vcfnet evaluate predictions.csv --study STUDY --detector DET --annotations SYNTH --checkpoint RUN/best

Writes ``metrics.json`` (every number), ``table2.csv``, ``comparison.csv``, ``confusion_<cohort>.csv``,
``table1.csv`` (with --study) and PNG/SVG figures; see ``vcfnet.report.outputs``. With ``--detector``
also detection without boxes per cohort (``detection.csv``, FROC and Bland-Altman figures; docs/DETECTION.md).
Nothing is written when the table is bad.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vcfnet.errors import VcfnetError


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def evaluate(
    predictions: Path = typer.Argument(..., help="Predictions table (.csv) written by `vcfnet predict`."),
    study: Optional[Path] = typer.Option(None, "--study", help="Study directory: checks ROI ids and labels, "
                                         "supplies split/collaboration if missing, and gives Table 1."),
    out: Path = typer.Option(Path("eval"), "--out", "-o", help="Output folder."),
    bootstrap_patients: bool = typer.Option(False, "--bootstrap-patients/--delong",
                                            help="AUC intervals by a bootstrap resampling whole patients "
                                                 "instead of DeLong (vertebrae of one patient are correlated)."),
    n_boot: int = typer.Option(2000, "--n-boot", min=100, help="Bootstrap replicates (with --bootstrap-patients)."),
    alpha: float = typer.Option(0.05, "--alpha", help="1 - confidence level of every interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the patient bootstrap."),
    figures: bool = typer.Option(True, "--figures/--no-figures", help="Draw PNG/SVG figures."),
    detector: Optional[Path] = typer.Option(None, "--detector", help="Folder written by `vcfnet train-detector`: "
                                            "evaluate detection without boxes too (needs --study, --annotations, "
                                            "--checkpoint)."),
    annotations: Optional[list[Path]] = typer.Option(None, "--annotations", help="vertebrae.json files, folders "
                                                     "holding one, or a `vcfnet synth` folder (repeatable)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Classifier checkpoint (RUN/best) for "
                                              "the end-to-end result."),
    operating_score: float = typer.Option(0.5, "--operating-score", min=0.0, max=1.0,
                                          help="Detection score threshold of the operating point."),
    device: str = typer.Option("cpu", "--device", help="Device of the detector and classifier."),
) -> None:
    """Table 2 per cohort with CIs (accuracy, per-class AUC, sensitivity, specificity), calibration, figures.

    Cohorts: internal test, each external site, external pooled, prospective, collaboration set.
    """
    if not 0 < alpha < 0.5:
        raise VcfnetError(f"--alpha {alpha}: expected a number between 0 and 0.5 (0.05 gives 95% intervals)")
    from vcfnet.report.cohorts import load_predictions
    from vcfnet.report.evaluate import evaluate_predictions
    from vcfnet.report.outputs import write_evaluation

    study_table = None
    if study is not None:
        from vcfnet.study.dataset import load_table
        study_table = load_table(study)
    if detector is not None and (study is None or not annotations):
        raise VcfnetError("--detector needs --study (to find each film's cohort and patient) and --annotations")
    table = load_predictions(predictions, study_table=study_table)
    result = evaluate_predictions(table, study_table=study_table, alpha=alpha,
                                  cluster_bootstrap=bootstrap_patients, n_boot=n_boot, seed=seed)
    result.source.update({"predictions": predictions.name, "study": str(study) if study else None})
    if detector is not None and study is not None and annotations:
        from vcfnet.report.detection import detection_from_folders
        result.detection = detection_from_folders(detector, checkpoint, study, list(annotations), table,
                                                  device=device, operating_score=operating_score, alpha=alpha,
                                                  seed=seed)
    write_evaluation(result, out, figures=figures)
    _echo_table2(result)
    _echo_detection(result.detection)
    typer.echo(f"-> {out}/metrics.json, table2.csv, figures/ ({len(result.cohorts)} cohorts)")


def _echo_table2(result) -> None:
    from vcfnet.report.figures import fmt_ci

    for c in result.cohorts:
        aucs = "  ".join(f"{k} {fmt_ci(v['auc'], 'auc')}" for k, v in c["classes"].items())
        typer.echo(f"{c['name']:<22} {c['n_patients']:>4} patients {c['n_vertebrae']:>5} vertebrae  "
                   f"accuracy {fmt_ci(c['accuracy'], digits=3)}  AUC {aucs}")
        _echo_clinical(c)


def _echo_detection(detection: dict | None) -> None:
    from vcfnet.report.detection import headline

    f = _maybe
    for key, h in headline(detection).items():
        typer.echo(f"{key:<22} detection: sensitivity {f(h['sensitivity_at_0.5fp_fractured'], 2)} (fractured, "
                   f"0.5 FP/img)  level accuracy {f(h['level_accuracy'])}  landmark error "
                   f"{f(h['landmark_error_median'], 1)} {h['landmark_error_unit']}  end-to-end accuracy "
                   f"{f(h['end_to_end_accuracy'])} (manual boxes {f(h['manual_accuracy'])})")


def _maybe(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _echo_clinical(c: dict) -> None:
    """The image-only -> image+clinical line and the referral line of a cohort, when present."""
    from vcfnet.report.clinical import headline

    h = headline([c])[c["key"]]
    if "auc" in h:
        aucs = "  ".join(f"{k} {d['image']:.2f}->{d['clinical']:.2f} (p {d['p']:.2g})" if d and d["p"] is not None
                         else f"{k} n/a" for k, d in h["auc"].items())
        typer.echo(f"{'':<22} image -> +clinical: AUC {aucs}  accuracy {h['accuracy']['image']:.3f}->"
                   f"{h['accuracy']['clinical']:.3f}")
    for model, r in h["referral"].items():
        if r["refer_rate"] is not None and r["answered_accuracy"] is not None:
            typer.echo(f"{'':<22} {model}: {r['refer_rate']:.0%} referred, answered accuracy "
                       f"{r['answered_accuracy']:.3f}")
