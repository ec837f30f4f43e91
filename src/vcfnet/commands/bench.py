"""``vcfnet bench train``: the project's training loop against the study's seed loop, same crops, same run."""
from __future__ import annotations

import datetime as _dt
import tempfile
from pathlib import Path
from typing import Optional

import typer

bench_app = typer.Typer(help="Throughput benchmarks (results appended to docs/BENCHMARKS.md).",
                        no_args_is_help=True)
_REPO = Path(__file__).resolve().parents[3]


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


SAMPLE_CROPS = _REPO.parent / "shared" / "data" / "vcfnet-samples" / "train"


@bench_app.command("train")
def bench_train(
    crops: Optional[Path] = typer.Option(None, help="Folder of real crops in Acute/Chronic/Pathologic "
                                         "sub-folders (default: ../shared/data/vcfnet-samples/train beside "
                                         "the checkout, else synthetic crops)."),
    images: int = typer.Option(256, min=1, help="Replicate the crops to this many images."),
    epochs: int = typer.Option(3, min=1, help="Epochs per loop; the first is warm-up, the median of the rest "
                               "counts."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    seed_script: Path = typer.Option(_REPO.parent / "shared" / "bench" / "seed_pipeline.py",
                                     "--seed-script", help="The study's loop to compare against."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for both loops (OMP_NUM_THREADS for the "
                                          "seed process); default: torch's."),
    skip_seed: bool = typer.Option(False, "--skip-seed", help="Time only the project's loop."),
    doc: Optional[Path] = typer.Option(_REPO / "docs" / "BENCHMARKS.md", help="Markdown file to append "
                                       "the results to; give an empty string to skip."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """Train ResNet-18 from scratch for a few epochs in both loops and print images/s and the ratio."""
    from rich.console import Console

    from vcfnet.bench import train as bench

    console = Console(stderr=True)
    if not skip_seed:
        bench.check_seed_script(seed_script)
    if threads:
        import os

        import torch
        torch.set_num_threads(threads)
        os.environ["OMP_NUM_THREADS"] = str(threads)     # inherited by the seed process
    dev = "cuda" if device == "auto" and _cuda() else ("cpu" if device == "auto" else device)
    load_before = bench.machine()["load_avg"]
    with tempfile.TemporaryDirectory(prefix="vcfnet-bench-") as tmp:
        source = _crops_folder(crops, Path(tmp) / "synthetic", console)
        x, y = bench.replicate(bench.list_images(source), images, Path(tmp) / "train", 224)
        seed = None
        if not skip_seed:
            console.print(f"seed loop: {images} images, {epochs} epochs on {dev} ...")
            seed = bench.run_seed(seed_script, Path(tmp) / "train", epochs=epochs, device=dev)
        console.print(f"project loop: {images} images, {epochs} epochs on {dev} ...")
        project = bench.run_project(x, y, epochs=epochs, device=dev)
        infer = bench.run_inference(project.pop("model"), x, device=dev)
    info = bench.machine()
    command = f"vcfnet bench train --images {images} --epochs {epochs} --device {dev}" + (
        f" --threads {threads}" if threads else "")
    origin = "15 synthetic crops" if source == Path(tmp) / "synthetic" else f"the crops of {source.name}/"
    lines = _report(seed, project, infer, info, load_before, command, origin)
    console.print("\n".join(lines))
    if json_out:
        _write_json(json_out, {"command": command, "seed": seed, "project": project, "inference": infer,
                               "machine": info, "crops": origin})
    if doc and str(doc) not in ("", "."):     # typer turns --doc "" into Path(".")
        _append(doc, lines)
        console.print(f"appended to {doc}")


def _crops_folder(crops: Optional[Path], synthetic: Path, console) -> Path:
    """The given folder; by default the sample crops beside the checkout, else synthetic ones."""
    from vcfnet.bench import train as bench

    if crops is not None:
        return crops
    if SAMPLE_CROPS.is_dir():
        return SAMPLE_CROPS
    console.print(f"sample crops {SAMPLE_CROPS} not found: using 15 synthetic crops")
    return bench.synthetic_crops(synthetic)


def _write_json(path: Path, data: dict) -> None:
    import json

    from vcfnet.fileio import write_text

    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def _report(seed, project, infer, info, load_before, command: str, origin: str) -> list[str]:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    hw = info["gpu"] or f"{info['cpu']}, {info['cores']} cores"
    load = f"{load_before[0]:.2f} before, {info['load_avg'][0]:.2f} after (1-min load average)"
    lines = [f"### Training throughput, {stamp}", "",
             f"`{command}` on {hw}; torch {info['torch']}, "
             f"{info['threads']} threads; load {load}; {project['images']} images ({origin} "
             f"replicated), ResNet-18 from scratch, batch 128, 224 px.", "",
             "| loop | train images/s | epoch seconds |", "|---|---|---|"]
    if seed:
        lines.append(f"| seed (`shared/bench/seed_pipeline.py`, PIL per image, fp32) | "
                     f"{seed['train_img_per_s']:.1f} | {_secs(seed['train_epoch_s'])} |")
    lines.append(f"| project (`train_one_epoch`, batched on-device augmentation, {project['amp']}, "
                 f"channels_last) | {project['train_img_per_s']:.1f} | {_secs(project['train_epoch_s'])} |")
    if seed:
        lines += ["", f"**Ratio project / seed: {project['train_img_per_s'] / seed['train_img_per_s']:.2f}x**"]
    lines += ["", f"Inference (`predict_proba`, batch 256, {infer['amp']}): {infer['img_per_s']:.1f} images/s.", ""]
    return lines


def _secs(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _append(doc: Path, lines: list[str], heading: str = "## Training") -> None:
    """Add the dated section at the end of the file's training section (other sections stay put)."""
    from vcfnet.fileio import write_text

    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n"
    start = text.index(heading) + len(heading)
    nxt = text.find("\n## ", start)
    end = len(text) if nxt < 0 else nxt + 1
    section = text[:end].rstrip("\n") + "\n\n" + "\n".join(lines).rstrip("\n") + "\n"
    write_text(doc, section + ("\n" + text[end:] if end < len(text) else ""))
