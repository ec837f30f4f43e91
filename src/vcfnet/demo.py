"""The whole study on synthetic data, end to end, on a laptop CPU in minutes (``vcfnet demo``).

    vcfnet demo                      # ./vcfnet-demo: synthetic study -> ingest -> train -> predict -> report
    vcfnet demo --scale tiny --epochs 1 --input-size 64     # a smoke test in well under a minute

    OUT/synthetic/           radiographs (DICOM) + LabelImg XML + manifest.json   (``vcfnet synth``)
    OUT/study-<S>px/         Study table, crop cache, splits                      (``vcfnet ingest``)
    OUT/runs/<config hash>/  training run: best/, last/, log.csv, config.yaml     (``vcfnet train``)
    OUT/detectors/<hash>/    vertebra detector, trained on the development site's training and validation
                             films (``detector-train.json``)                      (``vcfnet train-detector``)
    OUT/predictions.csv      every ROI of every cohort                            (``vcfnet predict``)
    OUT/eval/                per-cohort metrics and figures, image-only vs image+clinical, referral
                             (risk-coverage), detection without boxes (detect -> measure -> classify on
                             every evaluated film: FROC, levels, landmarks, Bland-Altman, Genant kappa,
                             end to end vs manual boxes)                          (``vcfnet evaluate``)
    OUT/readers/reads.csv    simulated readers (2 per tier) on the collaboration set, unaided and aided
    OUT/eval/readers/        their analysis: Table 3, MRMC, Figure 6              (``vcfnet readers analyze``)
    OUT/report.html          the HTML report, with the reader-study section       (``vcfnet report``)

Training runs with ``clinical=True``: after the image network, the image+clinical stacker and the referral
rule are fitted on the validation split (docs/CLINICAL.md), so the predictions are the image+clinical
model's with the image model's beside them, and ``demo.json`` holds both models' AUCs, paired p-values and
referral figures per cohort (``clinical``). Re-running reuses what is there: the synthetic study (same seed, scale, format, resolution), the crop
cache (ingest decodes only changed images) and a finished training run with the same settings (its
folder is named by a hash of them; an interrupted one resumes).

Measured on the 2-core CPU (no GPU, offline so trained from scratch), defaults, fresh folder, idle, with
the code of commit c1db866: 253 s in all (synth 42.5 s, ingest 6.4 s, train 161.1 s with the detector
training beside it, 16.8 s more for the detector, predict 2.7 s, detect 9.9 s, evaluate 9.6 s, simulated
readers 1.1 s, report 0.2 s) and a test-cohort accuracy of 0.647 (n = 102). The split depends only on the
data and the seed, and CPU training is deterministic, so a fresh run with the same seed reaches the same
accuracy. Up to the small scale the detector trains in a second process beside the classifier, the cores
split between them for the whole run (``alongside``, ``thread_split``; ``--threads`` sets the classifier's).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from vcfnet.errors import VcfnetError

log = logging.getLogger(__name__)

#: Where the demo's progress lines go: the command passes its terminal writer, a library caller a log.
Echo = Callable[[str], None]

#: Named study sizes (fractions of the original study's counts).
SCALES: dict[str, float] = {"tiny": 0.03, "small": 0.25, "medium": 0.5, "full": 1.0}


@dataclass
class DemoConfig:
    """Everything the demo does is set here; the defaults fit a 2-core CPU in under 5 minutes."""

    out: Path = Path("vcfnet-demo")
    scale: float = SCALES["small"]
    seed: int = 0
    fmt: str = "dicom"
    resolution: float = 0.5          # detector resolution factor of the synthetic radiographs
    crop_size: int = 96              # cached crops: also the network's input size
    margin: float = 0.1              # context around each box, as a fraction of its size
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3                 # from scratch; 3e-4 with ImageNet weights
    weights: str = "auto"            # auto: imagenet when cached locally, else none
    threads: Optional[int] = None
    readers_per_tier: int = 2        # simulated readers of each tier (trainee, competent, expert)
    workers: Optional[int] = None
    detector_minutes: float = 2.75   # the detector's budget, about the classifier's training (tiny: 1 batch)
    timings: dict[str, float] = field(default_factory=dict)


def parse_scale(text: str) -> float:
    if text in SCALES:
        return SCALES[text]
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1.0:
        raise VcfnetError(f"--scale '{text}': expected {', '.join(SCALES)} or a fraction in (0, 1]")
    return value


def run_demo(cfg: DemoConfig, echo: Echo = log.info) -> dict[str, Any]:
    """Run every stage; returns paths, test-cohort accuracy and stage timings (seconds)."""
    start = time.perf_counter()
    cfg.out.mkdir(parents=True, exist_ok=True)
    synthetic = _stage(cfg, echo, "synth", _synth)
    study = _stage(cfg, echo, "ingest", _ingest, synthetic)
    if alongside(cfg):   # the detector trains in a second process beside the classifier (``thread_split``)
        pending = _start_detector(cfg, echo, synthetic, study)
        best = _stage(cfg, echo, "train", _train, study)
        detector = _stage(cfg, echo, "train-detector", _finish_detector, pending)
    else:
        best = _stage(cfg, echo, "train", _train, study)
        detector = _stage(cfg, echo, "train-detector", _train_detector, synthetic, study)
    predictions = _stage(cfg, echo, "predict", _predict, best, study)
    detection = _stage(cfg, echo, "detect", _detect, detector, best, synthetic, study, predictions)
    eval_dir = _stage(cfg, echo, "evaluate", _evaluate, predictions, study, detection)
    readers = _stage(cfg, echo, "readers", _readers, predictions, study, eval_dir)
    report = _stage(cfg, echo, "report", _report, eval_dir, study, best)
    cfg.timings["total"] = time.perf_counter() - start
    import pandas as pd

    table = pd.read_csv(predictions)
    accuracy = {split: float((g["predicted"] == g["label"]).mean()) for split, g in table.groupby("split")}
    if "image_predicted" in table.columns:       # the image model alone, on the same vertebrae
        echo("[demo] accuracy of the image model alone: " + ", ".join(
            f"{split} {float((g['image_predicted'] == g['label']).mean()):.3f}" for split, g in table.groupby("split")))
    return {"synthetic": synthetic, "study": study, "checkpoint": best, "predictions": predictions,
            "reads": readers, "report": report, "accuracy": accuracy, "n": table["split"].value_counts().to_dict(),
            "clinical": _clinical_headline(eval_dir, echo), "detector": detector,
            "detection": _detection_headline(detection, echo)}


def _detection_headline(detection: dict[str, Any], echo: Echo) -> dict[str, Any]:
    """Per cohort: sensitivity at 0.5 FP/image (fractured), level accuracy, landmark error, end-to-end
    accuracy beside the manual boxes'; echoed."""
    from vcfnet.report.detection import headline

    heads = headline(detection)
    for key, h in heads.items():
        echo(f"[demo] {key}: detection sensitivity {_f(h['sensitivity_at_0.5fp_fractured'])} (fractured, 0.5 FP/image), "
             f"level accuracy {_f(h['level_accuracy'])}, landmark error {_f(h['landmark_error_median'], 1)} "
             f"{h['landmark_error_unit']}; end to end {_f(h['end_to_end_accuracy'])} vs manual boxes "
             f"{_f(h['manual_accuracy'])} (n = {h['fractured_bodies']})")
    return heads


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _clinical_headline(eval_dir: Path, echo: Echo) -> dict[str, Any]:
    """Image only vs image + clinical and referral per cohort, from OUT/eval/metrics.json; echoed."""
    from vcfnet.report.clinical import headline
    from vcfnet.report.outputs import read_evaluation

    heads = headline(read_evaluation(eval_dir)["cohorts"])
    for key, h in ((k, h) for k, h in heads.items() if k in ("test", "external", "prospective")):   # all: demo.json
        if "auc" in h:
            aucs = ", ".join(f"{cls} {d['image']:.3f}->{d['clinical']:.3f} (p {_p(d['p'])})"
                             for cls, d in h["auc"].items()
                             if d and d["image"] is not None and d["clinical"] is not None)
            echo(f"[demo] {key}: image -> image+clinical AUC {aucs}; accuracy {h['accuracy']['image']:.3f}->"
                 f"{h['accuracy']['clinical']:.3f} (McNemar p {_p(h['accuracy']['p'])})")
        for model, r in h["referral"].items():
            if r["refer_rate"] is not None and r["answered_accuracy"] is not None:
                echo(f"[demo] {key} {model}: {r['refer_rate']:.1%} referred, answered accuracy "
                     f"{r['answered_accuracy']:.3f}, AURC {r['aurc']:.3f}")
    return heads


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"


def _stage(cfg: DemoConfig, echo: Echo, name: str, fn, *args):
    echo(f"[demo] {name} ...")
    t = time.perf_counter()
    value = fn(cfg, echo, *args)
    cfg.timings[name] = time.perf_counter() - t
    echo(f"[demo] {name} done in {cfg.timings[name]:.1f} s")
    return value


def _synth(cfg: DemoConfig, echo: Echo) -> Path:
    """The synthetic study, made once per (seed, scale, format, resolution)."""
    from vcfnet.synth.generate import MANIFEST, generate_study

    folder = cfg.out / "synthetic"
    want = {"seed": cfg.seed, "scale": cfg.scale, "format": cfg.fmt, "resolution": cfg.resolution}
    manifest = folder / MANIFEST
    if manifest.is_file():
        have = json.loads(manifest.read_text())
        if all(have.get(k) == v for k, v in want.items()):
            echo(f"[demo] reusing the synthetic study in {folder}")
            return folder
    generate_study(folder, scale=cfg.scale, seed=cfg.seed, fmt=cfg.fmt, workers=cfg.workers,
                   resolution=cfg.resolution, overwrite=True)
    return folder


def _ingest(cfg: DemoConfig, echo: Echo, synthetic: Path) -> Path:
    """Ingest every source of the manifest; unchanged images are not decoded again."""
    from vcfnet.study.ingest import ingest_manifest
    from vcfnet.study.splits import SplitConfig

    study = cfg.out / f"study-{cfg.crop_size}px"
    reports = ingest_manifest(synthetic, study, size=cfg.crop_size, margin=cfg.margin, workers=cfg.workers,
                              split=SplitConfig(seed=cfg.seed))
    decoded = sum(r.decoded for r in reports)
    echo(f"[demo] {sum(r.rois for r in reports)} ROIs in {study} ({decoded} images decoded, "
               f"{sum(r.reused for r in reports)} reused)")
    return study


def resolve_weights(weights: str, echo: Echo = log.info) -> str:
    """``auto`` -> ``imagenet`` when torchvision's ResNet-18 weights are in torch's cache, else ``none``."""
    if weights != "auto":
        return weights
    import torch
    from torchvision.models import ResNet18_Weights

    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(ResNet18_Weights.DEFAULT.url).name
    if cached.is_file():
        return "imagenet"
    echo(f"[demo] note: no ImageNet weights at {cached}; training from scratch (--weights none). "
               f"Place them there (or pass --weights imagenet when online) for the study's transfer learning.")
    return "none"


def train_config(cfg: DemoConfig, echo: Echo = log.info):
    from vcfnet.model.config import TrainConfig

    weights = resolve_weights(cfg.weights, echo)
    lr = cfg.lr if weights == "none" else min(cfg.lr, 3e-4)
    return TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=lr, weights=weights,
                       input_size=cfg.crop_size, seed=cfg.seed, num_threads=cfg.threads, device="auto",
                       lr_schedule="cosine", clinical=True)


def _train(cfg: DemoConfig, echo: Echo, study: Path) -> Path:
    """Train, or reuse / resume the run with the same settings and data (folder named by their hash)."""
    from vcfnet.model.state import has_state
    from vcfnet.model.train import fit

    config = train_config(cfg, echo)
    key = {k: v for k, v in config.to_dict().items() if k not in ("resume", "num_threads", "device")}
    key["study"] = study.name
    run = cfg.out / "runs" / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    if (run / "last").is_dir() and _finished(run, config.epochs):
        echo(f"[demo] reusing the finished training run {run}")
        from vcfnet.model.card import read_card
        if read_card(run / "best")[0].clinical is None:     # killed between training and the stacker fit
            from vcfnet.model.calibrate import after_training
            after_training(run / "best", study, config)
        return run / "best"
    return fit(study, run, config.replace(resume=has_state(run / "state")), progress=True)


def _finished(run: Path, epochs: int) -> bool:
    try:
        return len((run / "log.csv").read_text().strip().splitlines()) - 1 >= epochs
    except OSError:
        return False


def _predict(cfg: DemoConfig, echo: Echo, checkpoint: Path, study: Path) -> Path:
    from vcfnet.fileio import atomic_open
    from vcfnet.predict import Predictor

    table = Predictor(checkpoint, batch_size=128).predict_study(study)
    out = cfg.out / "predictions.csv"
    with atomic_open(out, "w", newline="", encoding="utf-8") as fh:
        table.to_csv(fh, index=False)
    return out


def detector_config(cfg: DemoConfig):
    """The detector's settings: its defaults within the demo's time budget (H1's recommendation); at the tiny
    scale one batch of one film at 64 px (a smoke test of the stage, not a detector)."""
    from dataclasses import replace

    from vcfnet.detect.train import DetectorConfig

    if cfg.scale <= SCALES["tiny"]:
        return replace(DetectorConfig(), max_iterations=1, batch_size=1, min_size=64, max_size=128, seed=cfg.seed)
    return replace(DetectorConfig(), max_minutes=cfg.detector_minutes, seed=cfg.seed)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def alongside(cfg: DemoConfig) -> bool:
    """Train the detector beside the classifier? Up to the small scale (the default), on two cores or more:
    there the two trainings take minutes each and neither keeps every core busy, so side by side, each on
    its own cores, both end sooner than one after the other (measured on 2 cores: 198 s against 319 s).
    At larger scales the classifier trains far longer than the detector's budget and keeps every core."""
    return cfg.scale <= SCALES["small"] and _cores() >= 2


def thread_split(cfg: DemoConfig) -> tuple[int, int]:
    """(classifier threads, detector threads) side by side: ``--threads`` for the classifier when given,
    else all but half the cores; the rest (at least one) for the detector. Fixed for the whole run, so the
    classifier's result does not depend on when the detector's budget ends."""
    cores = _cores()
    if cfg.threads is not None:
        return cfg.threads, max(1, cores - cfg.threads)
    return cores - cores // 2, max(1, cores // 2)


@dataclass
class _PendingDetector:
    folder: Path
    process: Any = None             # the training process, None when the detector was already there
    result: Path | None = None      # where that process writes its card's training summary or its error


def _detector_job(cfg: DemoConfig, synthetic: Path, study: Path):
    """The detector's training file, settings and folder (named by a hash of the settings and the data)."""
    from vcfnet.fileio import file_sha256

    train = _detector_training_file(synthetic, study)
    config = detector_config(cfg)
    key = {k: v for k, v in asdict(config).items() if k not in ("device", "cache_mb", "save_minutes")}
    key["data"] = file_sha256(train)
    folder = cfg.out / "detectors" / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]
    return train, config, folder


def _train_detector(cfg: DemoConfig, echo: Echo, synthetic: Path, study: Path) -> Path:
    """Train the vertebra detector on the development site's training and validation films (never its
    internal test films), or reuse the finished one with the same settings and data (an interrupted one
    continues from its saved state)."""
    from vcfnet.detect.train import train_detector

    train, config, folder = _detector_job(cfg, synthetic, study)
    if (folder / "detector.json").is_file():
        echo(f"[demo] reusing the trained detector {folder}")
        return folder
    t = train_detector([train], folder, config)["training"]
    echo(f"[demo] detector: {t['iterations']} batches on {t['images']} films, final loss {t['final_loss']:.3f}")
    return folder


def _start_detector(cfg: DemoConfig, echo: Echo, synthetic: Path, study: Path) -> _PendingDetector:
    """``_train_detector`` in a second process with its share of the cores (``thread_split``); the
    classifier trains meanwhile, and ``_finish_detector`` waits for it."""
    import multiprocessing

    classifier, threads = thread_split(cfg)
    cfg.threads = classifier        # also when the detector is reused: the classifier's result is the same
    train, config, folder = _detector_job(cfg, synthetic, study)
    if (folder / "detector.json").is_file():
        echo(f"[demo] reusing the trained detector {folder}")
        return _PendingDetector(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    result = folder.parent / f".{folder.name}.result.json"
    result.unlink(missing_ok=True)
    process = multiprocessing.get_context("spawn").Process(
        target=_detector_process, args=([train], folder, config, threads, result), daemon=True)
    process.start()
    budget = f"{config.max_minutes:g} min" if config.max_minutes else f"{config.max_iterations} batch(es)"
    echo(f"[demo] train-detector: in a second process ({threads} thread(s), {budget}) while the classifier "
         f"trains ({classifier} thread(s))")
    return _PendingDetector(folder, process, result)


def _detector_process(files: list[Path], folder: Path, config, threads: int, result: Path) -> None:
    """The detector's training process: its own torch threads; the card's summary, or the error, to ``result``."""
    import torch

    from vcfnet.detect.train import train_detector
    from vcfnet.fileio import write_json

    torch.set_num_threads(threads)
    try:
        card = train_detector(files, folder, config)
    except Exception as exc:  # noqa: BLE001 - reported by the parent, which owns the terminal
        write_json(result, {"error": f"{type(exc).__name__}: {exc}"})
        raise SystemExit(1) from exc
    write_json(result, {"training": card["training"]})


def _finish_detector(cfg: DemoConfig, echo: Echo, pending: _PendingDetector) -> Path:
    """Wait for the detector's training process; its error, if it failed, as the demo's."""
    if pending.process is None:
        return pending.folder
    try:
        pending.process.join()
    finally:
        if pending.process.is_alive():          # the demo was interrupted: the state on disk resumes it
            pending.process.terminate()
            pending.process.join()
    try:
        report = json.loads(pending.result.read_text(encoding="utf-8")) if pending.result else {}
    except (OSError, ValueError):
        report = {}
    if pending.result:
        pending.result.unlink(missing_ok=True)
    if "error" in report or pending.process.exitcode != 0 or not (pending.folder / "detector.json").is_file():
        raise VcfnetError(f"training the detector failed: {report.get('error', f'exit code {pending.process.exitcode}')}"
                          f" (re-run the demo to continue from {pending.folder})")
    t = report["training"]
    echo(f"[demo] detector: {t['iterations']} batches on {t['images']} films, final loss {t['final_loss']:.3f}")
    return pending.folder


def _detector_training_file(synthetic: Path, study: Path) -> Path:
    """``detector-train.json`` beside the development films: their ``vertebrae.json`` without the films of
    the internal test split (found in the study by their pseudonyms), so detection is evaluated on unseen films."""
    from vcfnet.detect.coco import FILENAME, read_coco, write_coco
    from vcfnet.report.detection import study_films

    folder = synthetic / "site1-development"
    films, _ = study_films(study, [folder / FILENAME])
    test = {f.image.file_name for f in films if f.first("split") not in ("train", "val")}
    keep = [im for im in read_coco(folder / FILENAME) if im.file_name not in test]
    out = folder / "detector-train.json"
    write_coco(out, keep, "development training and validation films")
    return out


def _detect(cfg: DemoConfig, echo: Echo, detector: Path, checkpoint: Path, synthetic: Path, study: Path,
            predictions: Path) -> dict[str, Any]:
    """Detect -> measure -> classify every film of the evaluated cohorts; the numbers per cohort, kept in
    OUT/detection.json and reused while the detector, the checkpoint and the predictions are the same."""
    import pandas as pd

    from vcfnet.detect.train import coco_files_of
    from vcfnet.fileio import file_sha256, write_json
    from vcfnet.report.detection import detection_from_folders

    key = {"detector": detector.name, "checkpoint": file_sha256(checkpoint / "model.json"),
           "predictions": file_sha256(predictions), "seed": cfg.seed}
    saved = cfg.out / "detection.json"
    if saved.is_file():
        try:
            kept = json.loads(saved.read_text(encoding="utf-8"))
        except ValueError:
            kept = {}
        if kept.get("key") == key:
            echo(f"[demo] reusing the detection results in {saved}")
            return kept["detection"]
    table = pd.read_csv(predictions, dtype={"roi_id": str, "patient_id": str})
    detection = detection_from_folders(detector, checkpoint, study, coco_files_of([synthetic]), table, seed=cfg.seed)
    write_json(saved, {"key": key, "detection": detection})
    return detection


def _evaluate(cfg: DemoConfig, echo: Echo, predictions: Path, study: Path, detection: dict | None = None) -> Path:
    """``vcfnet evaluate`` on the predictions (and the detection numbers): OUT/eval/."""
    from vcfnet.report.cohorts import load_predictions
    from vcfnet.report.evaluate import evaluate_predictions
    from vcfnet.report.outputs import write_evaluation
    from vcfnet.study.dataset import load_table

    study_table = load_table(study)
    result = evaluate_predictions(load_predictions(predictions, study_table=study_table),
                                  study_table=study_table, seed=cfg.seed)
    result.source.update({"predictions": predictions.name, "study": str(study)})
    result.detection = detection
    return write_evaluation(result, cfg.out / "eval", figures=True)


def _readers(cfg: DemoConfig, echo: Echo, predictions: Path, study: Path, eval_dir: Path) -> Path | None:
    """Simulated readers (2 per tier) read the collaboration set unaided and aided by the demo's
    predictions: OUT/readers/reads.csv; ``vcfnet readers analyze`` on them: OUT/eval/readers/."""
    import pandas as pd

    from vcfnet.fileio import atomic_open
    from vcfnet.readers.reads import reads_csv
    from vcfnet.readers.simulate import simulate_reads
    from vcfnet.report.readers import run_reader_analysis

    table = pd.read_csv(predictions, dtype={"roi_id": str, "patient_id": str})
    cases = table[table["collaboration"] == 1]
    if cases["patient_id"].nunique() < 2 or cases["label"].nunique() < 2:
        echo(f"[demo] the collaboration set has {len(cases)} vertebrae of {cases['patient_id'].nunique()} "
             "patient(s): too few for a reader study; the report has no reader section")
        return None
    reads = simulate_reads(cases, readers_per_tier=cfg.readers_per_tier, seed=cfg.seed)
    path = cfg.out / "readers" / "reads.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        fh.write(reads_csv(reads))
    result, _ = run_reader_analysis(path, study, predictions, eval_dir / "readers")
    acc = result["mrmc"]["or"]["accuracy"] if result.get("mrmc") else {}
    if acc.get("p_value") is not None:
        echo(f"[demo] {result['n_readers']} simulated readers x {result['n_cases']} vertebrae: mean accuracy "
             f"{acc['auc']['unaided']:.3f} unaided, {acc['auc']['aided']:.3f} aided (MRMC p = {acc['p_value']:.3g})")
    return path


def _report(cfg: DemoConfig, echo: Echo, eval_dir: Path, study: Path, checkpoint: Path) -> Path:
    """``vcfnet report``: OUT/report.html (with the reader-study section when OUT/eval/readers/ exists)."""
    from vcfnet.report.html import write_report

    return write_report(eval_dir, cfg.out / "report.html", study_dir=study, checkpoint=checkpoint)


def write_summary(cfg: DemoConfig, result: dict[str, Any]) -> Path:
    """OUT/demo.json: the paths, accuracies, counts, timings and settings of a run (``vcfnet serve``
    finds the demo's checkpoint there)."""
    from vcfnet.fileio import write_json

    acc, n = result["accuracy"], result["n"]
    summary = {**{k: str(v) for k, v in result.items() if isinstance(v, Path)}, "accuracy": acc, "n": n,
               "clinical": result.get("clinical", {}), "detection": result.get("detection", {}),
               "timings_s": cfg.timings, "config": {k: str(v) for k, v in asdict(cfg).items() if k != "timings"}}
    write_json(cfg.out / "demo.json", summary)
    return cfg.out / "demo.json"
