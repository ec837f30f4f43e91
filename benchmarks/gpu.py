"""The GPU run, prepared so that one short session on a CUDA machine does it all.

    .venv/bin/python benchmarks/gpu.py              # on a CUDA machine: full sizes, writes docs/BENCHMARKS.md
    .venv/bin/python benchmarks/gpu.py --dry-run    # every step at toy size on the CPU (the tests run this)

Steps, in one process tree and one run (so the ratios compare like with like):
  1. the suite's GPU-marked tests (``pytest -m gpu``);
  2. ``vcfnet bench train`` at 4096 images: the project's loop and the seed loop
     (``../shared/bench/seed_pipeline.py``) on the same crops, plus batch inference;
  3. the model-alone training rate (forward + backward + step on one resident batch), the bound that the
     end-to-end rate is held against (target: >= 80% of it);
  4. the study's protocol end to end (``vcfnet demo --scale full --epochs 25``: synth, ingest, train with
     the crops resident on the GPU, predict, evaluate, report);
  5. DDP on every visible GPU (``torchrun --nproc_per_node N -m vcfnet.cli train`` on the demo's study);
  6. batch inference in bf16 without and with ``torch.compile``.
It prints each figure against its target and writes (or replaces) the ``## GPU`` section of the
benchmarks file, atomically; the other sections stay as they are. A failed step is reported and the
run goes on; the exit status is 1 when any step failed.

Where one call may not run that long, split it over calls sharing ``--out`` (the protocol step makes
the study the DDP step trains on; the section always shows every step run so far in that folder):
    benchmarks/gpu.sh --out /tmp/g --steps gpu_tests bench_train model_alone inference
    benchmarks/gpu.sh --out /tmp/g --steps protocol
    benchmarks/gpu.sh --out /tmp/g --steps ddp
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEED_SCRIPT = REPO.parent / "shared" / "bench" / "seed_pipeline.py"
HEADING = "## GPU"
TARGETS = {"train_img_per_s": 8000.0, "train_share_of_model_alone": 0.80, "infer_img_per_s": 30000.0}


@dataclass(frozen=True)
class Sizes:
    device: str
    images: int            # bench train images (replicated crops)
    epochs: int            # bench train epochs per loop
    batch_size: int
    scale: str             # demo study scale
    demo_epochs: int
    crop_size: int         # demo crop / network input side
    infer_images: int
    infer_batch: int
    model_steps: int       # timed steps of the model-alone rate
    compile_backend: str   # inductor on the GPU; eager in the dry run (tracing only: seconds, not minutes)
    threads: int | None
    tests: str             # what pytest -m gpu collects


FULL = Sizes(device="cuda", images=4096, epochs=3, batch_size=128, scale="full", demo_epochs=25, crop_size=224,
             infer_images=32768, infer_batch=1024, model_steps=30, compile_backend="inductor", threads=None,
             tests="tests")
DRY = Sizes(device="cpu", images=6, epochs=1, batch_size=4, scale="tiny", demo_epochs=1, crop_size=32,
            infer_images=16, infer_batch=8, model_steps=2, compile_backend="eager", threads=1,
            tests="tests/model/test_gpu.py")


def _run(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one command; its wall time, exit status and the tail of its output."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, **(env or {})})
    return {"rc": done.returncode, "wall_s": time.perf_counter() - start,
            "tail": (done.stdout + done.stderr)[-1500:], "command": " ".join(cmd[1:] if cmd[0] == sys.executable
                                                                               else cmd)}


def _env(sizes: Sizes) -> dict[str, str]:
    return {"OMP_NUM_THREADS": str(sizes.threads)} if sizes.threads else {}


def step_gpu_tests(sizes: Sizes, out: Path) -> dict[str, Any]:
    res = _run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", sizes.tests],
               timeout=900, env=_env(sizes))
    summary = [line for line in res["tail"].splitlines() if " in " in line and ("passed" in line or
                                                                                "skipped" in line)]
    res["summary"] = summary[-1].strip("= ") if summary else "no summary"
    res["ok"] = res["rc"] in (0, 5)      # 5: nothing collected
    return res


def step_bench_train(sizes: Sizes, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "vcfnet.cli", "bench", "train", "--images", str(sizes.images), "--epochs",
           str(sizes.epochs), "--device", sizes.device, "--doc", "", "--json", str(out / "bench-train.json")]
    if SEED_SCRIPT.is_file():
        cmd += ["--seed-script", str(SEED_SCRIPT)]
    else:
        cmd += ["--skip-seed"]
    if sizes.threads:
        cmd += ["--threads", str(sizes.threads)]
    res = _run(cmd, timeout=1800)
    res["ok"] = res["rc"] == 0
    if res["ok"]:
        res["figures"] = json.loads((out / "bench-train.json").read_text())
    return res


def step_model_alone(sizes: Sizes, out: Path) -> dict[str, Any]:
    from vcfnet.bench.train import run_model_alone

    start = time.perf_counter()
    figures = run_model_alone(sizes.images, device=sizes.device, batch_size=sizes.batch_size,
                              input_size=sizes.crop_size, steps=sizes.model_steps)
    return {"ok": True, "figures": figures, "wall_s": time.perf_counter() - start,
            "summary": f"batch {figures['batch_size']}, {figures['amp']}, {figures['steps']} steps"}


def step_protocol(sizes: Sizes, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "vcfnet.cli", "demo", "--out", str(out / "demo"), "--scale", sizes.scale,
           "--epochs", str(sizes.demo_epochs), "--input-size", str(sizes.crop_size)]
    if sizes.threads:
        cmd += ["--threads", str(sizes.threads), "--weights", "none"]
    res = _run(cmd, timeout=3600, env=_env(sizes))
    res["ok"] = res["rc"] == 0
    logs = sorted((out / "demo").glob("**/log.csv"))
    if logs:
        res["last_epoch"] = list(csv.DictReader(logs[-1].open()))[-1]
    return res


def step_ddp(sizes: Sizes, out: Path) -> dict[str, Any]:
    import torch

    nproc = torch.cuda.device_count() if sizes.device == "cuda" else 1
    study = out / "demo" / f"study-{sizes.crop_size}px"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "-m", "vcfnet.cli", "train", str(study), "--out", str(out / "ddp"), "--epochs",
           str(sizes.demo_epochs), "--input-size", str(sizes.crop_size), "--weights", "none",
           "--device", sizes.device]
    if sizes.threads:
        cmd += ["--threads", str(sizes.threads), "--amp", "fp32", "--batch-size", str(sizes.batch_size)]
    res = _run(cmd, timeout=3600, env=_env(sizes))
    res.update(ok=res["rc"] == 0, processes=nproc)
    log = out / "ddp" / "log.csv"
    if log.is_file():
        res["last_epoch"] = list(csv.DictReader(log.open()))[-1]
    return res


def step_inference(sizes: Sizes, out: Path) -> dict[str, Any]:
    import numpy as np
    import torch

    from vcfnet.bench.train import run_inference
    from vcfnet.model.network import build_model

    side, batch = sizes.crop_size, sizes.infer_batch
    crops = np.random.default_rng(0).integers(0, 256, (sizes.infer_images, 1, side, side), dtype=np.uint8)
    amp = "bf16" if sizes.device == "cuda" else "fp32"
    figures, start = {}, time.perf_counter()
    for compiled in (False, True):
        model = build_model("resnet18", weights=None).to(sizes.device, memory_format=torch.channels_last)
        figures["compiled" if compiled else "eager"] = run_inference(
            model, crops, device=sizes.device, amp=amp, batch_size=batch, compile=compiled,
            backend=sizes.compile_backend)
    return {"ok": True, "figures": figures, "wall_s": time.perf_counter() - start,
            "summary": f"{sizes.infer_images} crops {side} px, batch {batch}, {amp}, compile backend "
                       f"{sizes.compile_backend}"}


STEPS: dict[str, Callable[[Sizes, Path], dict[str, Any]]] = {
    "gpu_tests": step_gpu_tests, "bench_train": step_bench_train, "model_alone": step_model_alone,
    "protocol": step_protocol, "ddp": step_ddp, "inference": step_inference}


def run_all(sizes: Sizes, out: Path, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, step in STEPS.items():
        if only and name not in only:
            continue
        print(f"[gpu] {name} ...", flush=True)
        try:
            results[name] = step(sizes, out)
        except Exception as exc:  # one failed step must not lose the others' figures
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        res = results[name]
        status = "ok" if res.get("ok") else f"FAILED {res.get('error') or res.get('tail', '')[-400:]}"
        print(f"[gpu] {name}: {status}", flush=True)
    return results


def figures(results: dict[str, dict[str, Any]]) -> list[tuple[str, float | None, str]]:
    """(name, value, target text) for each headline figure; ``None`` where its step did not run."""
    bench = results.get("bench_train", {}).get("figures") or {}
    train = (bench.get("project") or {}).get("train_img_per_s")
    seed = (bench.get("seed") or {}).get("train_img_per_s")
    alone = (results.get("model_alone", {}).get("figures") or {}).get("img_per_s")
    infer = results.get("inference", {}).get("figures") or {}
    share = train / alone if train and alone else None
    best = max((f["img_per_s"] for f in infer.values()), default=None)
    return [
        ("training end to end, images/s", train, f">= {TARGETS['train_img_per_s']:,.0f}"),
        ("training, share of the model-alone rate", share, f">= {TARGETS['train_share_of_model_alone']:.0%}"),
        ("model alone (forward + backward + step), images/s", alone, "bound"),
        ("seed loop, images/s", seed, "baseline"),
        ("project / seed", train / seed if train and seed else None, "ratio"),
        ("batch inference bf16, images/s", (infer.get("eager") or {}).get("img_per_s"), "-"),
        ("batch inference bf16 + compile, images/s", (infer.get("compiled") or {}).get("img_per_s"), "-"),
        ("batch inference, best, images/s", best, f">= {TARGETS['infer_img_per_s']:,.0f}"),
    ]


def verdict(name: str, value: float | None, target: str) -> str:
    if value is None:
        return "not measured"
    if not target.startswith(">= "):
        return target
    want = float(target[3:].rstrip("%").replace(",", "")) / (100 if target.endswith("%") else 1)
    return "met" if value >= want else "MISSED"


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if "share" in name else f"{value:.2f}x" if " / " in name else f"{value:,.1f}"


def section(results: dict[str, dict[str, Any]], sizes: Sizes, dry_run: bool) -> str:
    """The markdown of the ``## GPU`` section."""
    from vcfnet.bench.train import machine

    info = machine()
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    what = "DRY RUN (toy sizes on the CPU; the figures mean nothing)" if dry_run else "full run"
    hw = info["gpu"] or f"{info['cpu']}, {info['cores']} cores"
    lines = [HEADING, "", f"`python benchmarks/gpu.py{' --dry-run' if dry_run else ''}`, {stamp}, {what}; "
             f"{hw}; torch {info['torch']}; load {info['load_avg'][0]:.2f}.", "",
             "| figure | value | target | |", "|---|---|---|---|"]
    for name, value, target in figures(results):
        lines.append(f"| {name} | {_fmt(name, value)} | {target} | {verdict(name, value, target)} |")
    lines += ["", "| step | status | seconds | detail |", "|---|---|---|---|"]
    for name, res in results.items():
        detail = res.get("summary") or res.get("command") or res.get("error") or ""
        if "processes" in res:
            detail = f"{res['processes']} process(es): {detail}"
        wall = f"{res['wall_s']:.1f}" if "wall_s" in res else "-"
        lines.append(f"| {name} | {'ok' if res.get('ok') else 'FAILED'} | {wall} | `{detail[:160]}` |")
    lines += ["", f"Sizes: `{json.dumps(asdict(sizes))}`", ""]
    return "\n".join(lines)


def replace_section(doc: Path, text: str) -> None:
    """Write ``text`` as the file's ``## GPU`` section (replacing the old one, else at the end), atomically."""
    from vcfnet.fileio import write_text

    old = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == HEADING), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + text.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    write_text(doc, new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="every step at toy size on the CPU")
    ap.add_argument("--out", type=Path, help="work folder (default: a new folder under /tmp)")
    ap.add_argument("--doc", type=Path, help="benchmarks file (default docs/BENCHMARKS.md; in a dry run "
                    "OUT/BENCHMARKS.md, so that a dry run never overwrites the real figures)")
    ap.add_argument("--steps", nargs="+", choices=list(STEPS), help="run only these steps")
    args = ap.parse_args(argv)
    import tempfile

    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("error: no CUDA device visible; run with --dry-run to check the steps on the CPU", file=sys.stderr)
        return 2
    sizes = DRY if args.dry_run else FULL
    if sizes.threads:
        torch.set_num_threads(sizes.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="vcfnet-gpu-"))
    out.mkdir(parents=True, exist_ok=True)
    record = out / "gpu.json"
    earlier = json.loads(record.read_text()) if args.steps and record.is_file() else {}
    fresh = run_all(sizes, out, args.steps)
    # a run split over several calls (--steps, one --out) keeps the figures of the earlier calls
    results = {name: fresh.get(name, earlier.get(name)) for name in STEPS if name in fresh or name in earlier}
    record.write_text(json.dumps(results, indent=2, default=str))
    for name, value, target in figures(results):
        print(f"{name:52s} {_fmt(name, value):>12s}   target {target:>10s}   {verdict(name, value, target)}")
    doc = args.doc or (out / "BENCHMARKS.md" if args.dry_run else REPO / "docs" / "BENCHMARKS.md")
    replace_section(doc, section(results, sizes, args.dry_run))
    print(f"wrote the {HEADING} section of {doc}; details in {out / 'gpu.json'}")
    return 0 if all(r.get("ok") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
