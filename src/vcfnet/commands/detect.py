"""``vcfnet train-detector`` and ``vcfnet detect``: the vertebra detector, from COCO keypoints annotations
to every body of a radiograph with its level, morphometry and (with a checkpoint) its class.

    vcfnet synth study --scale 0.05 --resolution 0.5
    vcfnet train-detector study --out detector --epochs 10
    vcfnet detect detector film.dcm --checkpoint RUN/best --out findings.json
    vcfnet evaluate-detector detector study/site2-external study/site3-external --out detection.json

Wiring only: training is :mod:`vcfnet.detect.train`, the pipeline :mod:`vcfnet.detect.pipeline`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("train-detector")(train_detector)
    app.command("detect")(detect)
    app.command("evaluate-detector")(evaluate_detector)


def train_detector(
    annotations: list[Path] = typer.Argument(..., help="vertebrae.json files, folders holding one, or a "
                                             "`vcfnet synth` folder (every source's vertebrae.json)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for detector.safetensors + detector.json."),
    arch: str = typer.Option("centernet", "--arch", help="centernet (default: a centre-point network), "
                             "keypointrcnn_mobilenet_v3 (R-CNN with six landmarks) or fasterrcnn_mobilenet_v3 "
                             "(landmarks read off the box)."),
    epochs: int = typer.Option(200, "--epochs", min=1),
    max_iterations: Optional[int] = typer.Option(None, "--max-iterations", min=1, help="Stop after this many batches."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", min=0.0,
                                                help="Stop after the batch that passes this much training time."),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    lr: float = typer.Option(2e-3, "--lr", help="AdamW peak learning rate (warm-up, then cosine decay)."),
    min_size: int = typer.Option(256, "--min-size", min=32, max=4096, help="Short side films are scaled to."),
    max_size: int = typer.Option(512, "--max-size", min=32, max=8192, help="Longest side after scaling."),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="Random scale, rotation, flip, crop, "
                                 "contrast, gamma, noise."),
    save_minutes: float = typer.Option(1.0, "--save-minutes", min=0.0, help="Save the training state "
                                       "(OUT.training/) this often; a new run with the same settings continues it."),
    cache_mb: int = typer.Option(1024, "--cache-mb", min=0, help="Films held in memory at the input scale, at most."),
    pretrained_backbone: bool = typer.Option(False, "--pretrained-backbone/--no-pretrained-backbone",
                                             help="R-CNN only: start from torchvision's ImageNet MobileNetV3 "
                                                  "(downloads once into torch's cache)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
) -> None:
    """Train the vertebra detector from COCO keypoints annotations (docs/DETECTION.md)."""
    from vcfnet.detect.train import DetectorConfig, coco_files_of
    from vcfnet.detect.train import train_detector as run

    config = DetectorConfig(arch=arch, epochs=epochs, max_iterations=max_iterations, max_minutes=max_minutes,
                            batch_size=batch_size, lr=lr, min_size=min_size, max_size=max_size, augment=augment,
                            save_minutes=save_minutes, cache_mb=cache_mb, pretrained_backbone=pretrained_backbone,
                            seed=seed, device=device)
    card = run(coco_files_of(list(annotations)), out, config)
    t = card["training"]
    typer.echo(f"-> {out}: {card['arch']}, {t['iterations']} batches on {t['images']} images, final loss "
               f"{t['final_loss']:.3f}, median {t['seconds_per_batch_median']:.2f} s per batch")


def detect(
    detector: Path = typer.Argument(..., help="Folder written by `vcfnet train-detector`."),
    image: Path = typer.Argument(..., help="One radiograph (DICOM, PNG, ...)."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Classifier checkpoint (RUN/best): "
                                              "classify the bodies that meet the inclusion rule."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="findings .json or .csv (default: print)."),
    score_threshold: float = typer.Option(0.3, "--score-threshold", min=0.0, max=1.0),
    device: str = typer.Option("cpu", "--device"),
) -> None:
    """Every vertebral body of a radiograph: box, level, heights, Genant grade, and (with --checkpoint) class."""
    from vcfnet.detect.infer import Detector
    from vcfnet.detect.pipeline import detect_and_classify, write_findings

    predictor = None
    if checkpoint is not None:
        from vcfnet.predict import Predictor

        predictor = Predictor(checkpoint, device=device)
    findings = detect_and_classify(image, Detector(detector, device=device, score_threshold=score_threshold),
                                   predictor)
    if out is not None:
        write_findings(out, findings)
        typer.echo(f"-> {out}: {len(findings)} bodies")
        return
    for f in findings:
        r = f.detection_row()
        cls = f" {f.predicted}" if f.classified else ""
        typer.echo(f"{r['level']:9s} score {r['score']:.2f}  grade {r['grade'] if r['grade'] != '' else '-'}"
                   f"  {r['shape'] or '-'}{' included' if r['included'] is True else ''}{cls}")


def evaluate_detector(
    detector: Path = typer.Argument(..., help="Folder written by `vcfnet train-detector`."),
    annotations: list[Path] = typer.Argument(..., help="vertebrae.json files, folders holding one, or a "
                                             "`vcfnet synth` folder: the films to evaluate on."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write every number as JSON here."),
    operating_score: float = typer.Option(0.5, "--operating-score", min=0.0, max=1.0,
                                          help="Score threshold for level accuracy, landmark error, kappa."),
    device: str = typer.Option("cpu", "--device"),
) -> None:
    """Detection sensitivity at 0.5 FP/image (all and fractured bodies), AP, level accuracy, landmark error."""
    from vcfnet.detect.evaluate import evaluate_detector as run
    from vcfnet.detect.infer import Detector
    from vcfnet.detect.train import coco_files_of
    from vcfnet.fileio import write_json

    r = run(Detector(detector, device=device, score_threshold=0.05), coco_files_of(list(annotations)),
            operating_score=operating_score)
    if out is not None:
        write_json(out, r)
    typer.echo(f"{r['images']} films, {r['bodies']} bodies ({r['fractured_bodies']} fractured)")
    for key in ("sensitivity_at_0.5fp_all", "sensitivity_at_0.5fp_fractured", "ap50", "map50_levels",
                "level_accuracy", "level_accuracy_usual_count", "level_uncertain_share", "landmark_error_median",
                "genant_kappa_linear"):
        value = r[key]
        typer.echo(f"{key:32s} {value:.3f}" if value is not None else f"{key:32s} -")
    typer.echo(f"{'anomaly test flagged':32s} {r['transitional_films_flagged']} of {r['transitional_films']} films "
               f"with a T13/L6, {r['usual_films_flagged']} of {r['usual_films']} others")
