"""Bounded loopback load test of ``vcfnet serve``: p50/p95 latency and throughput of single predictions.

    python benchmarks/load_service.py                       # 1 and 2 workers, with and without Grad-CAM
    python benchmarks/load_service.py --write-docs          # also (re)write the Service section of docs/BENCHMARKS.md

Each configuration starts a real ``vcfnet serve`` process on a free 127.0.0.1 port with a 224-input
ResNet-18 checkpoint of random weights (speed does not depend on training), sends warm-up requests,
then runs ``--clients`` concurrent clients until ``--requests`` answers or ``--seconds`` have passed.
A request is one 12-bit DICOM radiograph (833 x 690, uncompressed, as the synthetic study writes them)
plus one box, with an API token, exactly as an API user sends it. Any non-200 answer counts as an error;
a run with errors exits with status 1. Nothing leaves the loopback interface.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "BENCHMARKS.md"
BOX = [240, 300, 330, 370]
SECTION = "## Service"


def make_checkpoint(folder: Path) -> Path:
    import torch

    from vcfnet.model.checkpoint import save_checkpoint
    from vcfnet.model.network import build_model

    torch.manual_seed(0)
    return save_checkpoint(folder / "best", build_model("resnet18"), {"input_size": 224, "version": "bench-random"})


def make_dicom(rows: int = 833, cols: int = 690) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1.1", generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientName, ds.PatientID = "DX", "BENCH^LOAD", "BENCH-0"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, cols, 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:rows, 0:cols]
    img = 1500 + 800 * np.sin(xx / 40) * np.cos(yy / 55) + rng.normal(0, 120, (rows, cols))
    ds.PixelData = np.clip(img, 0, 4095).astype(np.uint16).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoint: Path, tokens: Path, workers: int, log_path: Path, *, precision: str,
                 torch_threads: int, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = {**os.environ, "VCFNET_RATE_LIMIT": "0", "VCFNET_LOG_LEVEL": "warning", "VCFNET_PRECISION": precision,
           "VCFNET_TORCH_THREADS": str(torch_threads), **(env or {})}
    cmd = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())", "serve",
           "--checkpoint", str(checkpoint), "--port", str(port), "--workers", str(workers), "--tokens-file", str(tokens)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}); see {log_path}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server did not start within 180 s; see {log_path}")


async def run_load(url: str, token: str, dicom: bytes, *, gradcam: bool, clients: int, requests: int,
                   seconds: float, warmup: int) -> dict:
    import httpx

    data = {"boxes": f"[{BOX}]", "gradcam": "true" if gradcam else "false"}
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors: list[str] = []
    remaining = [requests]
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        async def one() -> None:
            t0 = time.perf_counter()
            r = await client.post("/api/v1/predict", files={"image": ("film.dcm", dicom)}, data=data)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:120]}")
            else:
                latencies.append(time.perf_counter() - t0)

        for _ in range(warmup):                       # every worker process loads lazily on first use
            await asyncio.gather(*(one() for _ in range(clients)))
        latencies.clear()
        errors.clear()
        stop = time.monotonic() + seconds

        async def worker() -> None:
            while remaining[0] > 0 and time.monotonic() < stop:
                remaining[0] -= 1
                await one()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    ms = sorted(v * 1000 for v in latencies)

    def pick(q: float) -> float:
        return ms[min(len(ms) - 1, int(round(q * (len(ms) - 1))))] if ms else float("nan")

    return {"n": len(ms), "errors": len(errors), "first_error": errors[0] if errors else "",
            "p50": pick(0.50), "p95": pick(0.95), "mean": statistics.fmean(ms) if ms else float("nan"),
            "throughput": len(ms) / wall if wall > 0 else 0.0, "wall": wall}


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch
    return f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}, torch {torch.__version__}"


def markdown(rows: list[dict], args, started: str, load_before, load_after) -> str:
    lines = [SECTION, "",
             f"`vcfnet serve` under load, measured {started} by `python benchmarks/load_service.py "
             f"{' '.join(sys.argv[1:])}`.".replace(" `.", "`."), "",
             f"- Machine: {machine()}; shared with other work (load average before "
             f"{load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}, after "
             f"{load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}; 1/5/15 min; while it runs the "
             f"benchmark itself adds about clients + workers to the load).",
             "- Request: one 833 x 690 12-bit DICOM + one box, Bearer token, multipart upload, through a real "
             "uvicorn on 127.0.0.1; concurrent clients (httpx async) on the same machine; "
             "a 224-input ResNet-18 checkpoint with random weights; rate limit off; warm-up excluded.",
             "- Targets at 4 clients: p95 < 300 ms without Grad-CAM, < 1 s with it.", "",
             "| workers | torch threads each | precision | Grad-CAM | clients | requests | errors | p50 ms | p95 ms "
             "| mean ms | req/s | load avg (1 min) after | target met |",
             "|---:|---:|:---:|:---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        target = 1000 if r["gradcam"] else 300
        met = ("yes" if r["errors"] == 0 and r["p95"] < target else "no") if r["clients"] == 4 else "(4 clients only)"
        threads = r["threads"] or max(1, (os.cpu_count() or 1) // r["workers"])
        lines.append(f"| {r['workers']} | {threads} | {r['precision']} | {'yes' if r['gradcam'] else 'no'} | "
                     f"{r['clients']} | {r['n']} | {r['errors']} | "
                     f"{r['p50']:.0f} | {r['p95']:.0f} | {r['mean']:.0f} | {r['throughput']:.2f} | "
                     f"{r['load_after']:.2f} | {met} |")
    return "\n".join(lines) + "\n"


def emit(make_text, section: str, write_docs: bool) -> int:
    """A benchmark's last step: ``make_text(started, load)`` (the start time and the 1-minute load average
    before it ran) printed and, with ``write_docs``, put into docs/BENCHMARKS.md as ``section``."""
    import time

    load, started = os.getloadavg()[0], time.strftime("%Y-%m-%d %H:%M")
    text = make_text(started, load)
    print(text)
    if write_docs:
        write_section(text, section)
    return 0


def write_section(text: str, section: str = SECTION) -> None:
    """Replace (or append) one section of docs/BENCHMARKS.md, leaving the other sections alone."""
    from vcfnet.fileio import write_text

    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Benchmarks\n"
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        new = current.rstrip("\n") + "\n\n" + text
    else:
        end = next((j for j in range(start + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    write_text(DOCS, new)


def serve_and_load(args, checkpoint: Path, tmp: Path, token: str, dicom: bytes, workers: int,
                   precision: str) -> list[dict]:
    """One server configuration: the load without and with Grad-CAM."""
    rows = []
    proc, url = start_server(checkpoint, tmp / "tokens.json", workers, tmp / "server.log",
                             precision=precision, torch_threads=args.torch_threads)
    try:
        for gradcam, clients in [(g, c) for g in (False, True) for c in args.clients]:
            result = asyncio.run(run_load(url, token, dicom, gradcam=gradcam, clients=clients,
                                          requests=args.requests_gradcam if gradcam else args.requests,
                                          seconds=args.seconds, warmup=args.warmup))
            result.update(workers=workers, gradcam=gradcam, precision=precision, threads=args.torch_threads,
                          clients=clients, load_after=os.getloadavg()[0])
            rows.append(result)
            log(f"workers={workers} clients={clients} {precision} gradcam={gradcam}: n={result['n']} errors={result['errors']} "
                  f"p50={result['p50']:.0f} ms p95={result['p95']:.0f} ms {result['throughput']:.2f} req/s "
                  f"load={result['load_after']:.2f} {result['first_error']}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


# ---- --stalls: does heavy work stay off the event loop? ------------------------------------------

def _report_body(images: int, boxes: int, png: str = "") -> bytes:
    import json

    box = {"index": 1, "box": BOX, "probabilities": {"acute": 0.5, "chronic": 0.3, "pathological": 0.2},
           "predicted": "acute", "crop_png": png or None, "heatmap_png": png or None,
           "annotation": {"label": "acute", "level": "L1"}}
    image = {"index": 1, "width": 690, "height": 833, "boxes": [dict(box, index=i + 1) for i in range(boxes)]}
    return json.dumps({"model": {"version": "bench"}, "classes": ["acute", "chronic", "pathological"],
                       "limits": "research use", "images": [dict(image, index=i + 1) for i in range(images)]}).encode()


def _thumbnail_png() -> str:
    """A noisy 100 x 100 RGB thumbnail: 1024 of them fill the 50 MB body limit (compresses worse than Grad-CAM)."""
    import base64

    from PIL import Image

    rng = np.random.default_rng(1)
    pixels = (rng.normal(128, 40, (100, 100, 3)).clip(0, 255)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _probe_during(url: str, work) -> tuple[float, dict]:
    """Run ``work()`` in a thread; meanwhile GET /healthz every 50 ms. (seconds of work, latency stats in ms)."""
    import threading

    import httpx

    done, spent = threading.Event(), [0.0]

    def run():
        t0 = time.perf_counter()
        try:
            work()
        finally:
            spent[0] = time.perf_counter() - t0
            done.set()
    waits = []
    thread = threading.Thread(target=run)
    with httpx.Client(base_url=url, timeout=600) as probe:
        thread.start()
        while not done.is_set():
            t0 = time.perf_counter()
            probe.get("/healthz")
            waits.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.05)
    thread.join()
    waits.sort()
    return spent[0], {"n": len(waits), "p50": waits[len(waits) // 2], "max": waits[-1]}


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def log(text: str) -> None:
    print(text, flush=True)


def run_stalls() -> int:
    """/healthz while a 4000-box report renders and while 8 logins hash; the largest accepted report."""
    import httpx

    from vcfnet.service.security import TokenStore, hash_password

    with tempfile.TemporaryDirectory(prefix="vcfnet-stalls-") as tmp:
        tmp = Path(tmp)
        token = TokenStore(tmp / "tokens.json").create("load")
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        env = {"VCFNET_MAX_BOXES": "4000", "VCFNET_LOGIN_USER": "reader",
               "VCFNET_LOGIN_PASSWORD_HASH": hash_password("correct horse")}
        proc, url = start_server(make_checkpoint(tmp), tmp / "tokens.json", 1, tmp / "server.log",
                                 precision="float32", torch_threads=0, env=env)
        try:
            _, idle = _probe_during(url, lambda: time.sleep(3))
            big = _report_body(1, 4000)
            post = lambda body: httpx.post(url + "/api/v1/report", content=body, headers=auth, timeout=600)  # noqa: E731
            spent, during = _probe_during(url, lambda: post(big).raise_for_status())
            log(f"/healthz idle: p50 {idle['p50']:.1f} ms, max {idle['max']:.1f} ms (n={idle['n']})")
            log(f"4000-box HTML report ({len(big) / 1e6:.1f} MB): {spent:.2f} s; /healthz meanwhile p50 "
                  f"{during['p50']:.1f} ms, max {during['max']:.1f} ms (n={during['n']})")

            def logins():
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda _: httpx.post(url + "/login", data={"username": "reader", "password":
                                                       "correct horse"}, timeout=60), range(8)))
            spent, during = _probe_during(url, logins)
            log(f"8 concurrent logins: {spent:.2f} s; /healthz meanwhile p50 {during['p50']:.1f} ms, "
                  f"max {during['max']:.1f} ms (n={during['n']})")
            largest = _report_body(16, 32, _thumbnail_png())     # the default max_batch_images x max_boxes
            before = _peak_mib(proc.pid)
            spent, during = _probe_during(url, lambda: post(largest).raise_for_status())
            log(f"largest accepted report (16 images x 32 boxes, 2 PNGs each, {len(largest) / 1e6:.1f} MB): "
                  f"{spent:.2f} s, server peak memory {before:.0f} -> {_peak_mib(proc.pid):.0f} MiB; /healthz "
                  f"meanwhile p50 {during['p50']:.1f} ms, max {during['max']:.1f} ms")
            t0 = time.perf_counter()
            refused = httpx.post(url + "/api/v1/report", content=_report_body(1, 40_000), headers=auth, timeout=600)
            log(f"40,000-box report: {refused.status_code} in {time.perf_counter() - t0:.2f} s: "
                f"{refused.json()['error']['message'][:150]}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[4], help="concurrent clients (several: one run each)")
    parser.add_argument("--precision", nargs="+", default=["float32"], choices=["float32", "bfloat16"])
    parser.add_argument("--torch-threads", type=int, default=0, help="per worker; 0 = cores // workers")
    parser.add_argument("--requests", type=int, default=200, help="answers per run without Grad-CAM")
    parser.add_argument("--requests-gradcam", type=int, default=80, help="answers per run with Grad-CAM")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit per run")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up rounds of --clients requests")
    parser.add_argument("--write-docs", action="store_true", help="write the Service section of docs/BENCHMARKS.md")
    parser.add_argument("--stalls", action="store_true", help="instead: /healthz during a 4000-box report and "
                        "during 8 logins, and the time and peak memory of the largest report the default limits accept")
    args = parser.parse_args(argv)
    if args.stalls:
        return run_stalls()

    from vcfnet.service.security import TokenStore

    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vcfnet-load-") as tmp:
        tmp = Path(tmp)
        checkpoint, dicom = make_checkpoint(tmp), make_dicom()
        token = TokenStore(tmp / "tokens.json").create("load")
        for workers in args.workers:
            for precision in args.precision:
                rows += serve_and_load(args, checkpoint, tmp, token, dicom, workers, precision)
    text = markdown(rows, args, started, load_before, os.getloadavg())
    print(text)
    if args.write_docs:
        write_section(text)
        print(f"wrote the Service section of {DOCS}")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
