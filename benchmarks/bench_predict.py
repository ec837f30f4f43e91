"""Single-radiograph latency and batch throughput of the Predictor, against the original study's path.

Same machine, same run, same checkpoint weights, same radiograph and box:

- **project**: ``vcfnet.predict.Predictor.predict(path, [box])`` — DICOM decode (Modality LUT, window,
  MONOCHROME1 handling), the one crop step of ``vcfnet.preprocess``, ``predict_proba`` (float32, as served
  by default);
- **seed**: what the original notebooks did per image — pydicom ``pixel_array`` min-max scaled to 8 bits,
  PIL crop, torchvision ``Resize(224)``/``ToTensor``/``Normalize`` on a 3-channel image, a float32 NCHW
  ResNet-18 forward of batch 1.

Batch throughput compares ``Predictor.predict_crops`` on 256 cached uint8 crops (float32 and bfloat16)
with the seed model on the same crops as a float32 NCHW batch. Usage:

    python benchmarks/bench_predict.py [--repeats 40] [--write-docs]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_service import BOX, DOCS, emit, machine, make_checkpoint, make_dicom  # noqa: E402

SECTION = "## Inference (Predictor)"


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def seed_single(path: Path, model, box) -> np.ndarray:
    import pydicom
    import torch
    import torchvision.transforms as T
    from PIL import Image

    arr = pydicom.dcmread(path).pixel_array.astype(np.float32)
    img8 = ((arr - arr.min()) / max(float(arr.max() - arr.min()), 1.0) * 255).astype(np.uint8)
    crop = Image.fromarray(img8).convert("RGB").crop(tuple(box))
    tf = T.Compose([T.Resize((224, 224)), T.ToTensor(),
                    T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    with torch.no_grad():
        return torch.softmax(model(tf(crop)[None]), 1).numpy()


def seed_model(predictor):
    """The served weights as the seed's plain torchvision ResNet-18 (3-channel, NCHW, float32)."""
    import torch
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Linear(model.fc.in_features, 3)
    backbone = getattr(predictor.model, "backbone", None)
    if backbone is not None:
        model.load_state_dict(backbone.state_dict())
    return model.eval()


def run(repeats: int) -> dict:
    import torch

    from vcfnet.predict import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        checkpoint = make_checkpoint(tmp)
        dicom = tmp / "film.dcm"
        dicom.write_bytes(make_dicom())
        predictor = Predictor(checkpoint)
        base = seed_model(predictor)
        project_ms = _timed(lambda: predictor.predict(dicom, [BOX]), repeats)
        seed_ms = _timed(lambda: seed_single(dicom, base, BOX), repeats)
        crops = np.random.default_rng(0).integers(0, 256, (256, 1, 224, 224), dtype=np.uint8)
        batch = {"project float32": _throughput(lambda: predictor.predict_crops(crops), len(crops))}
        bf16 = Predictor(checkpoint, amp_dtype=torch.bfloat16)
        batch["project bfloat16"] = _throughput(lambda: bf16.predict_crops(crops), len(crops))
        x = ((torch.from_numpy(crops).float() / 255).expand(-1, 3, -1, -1) - 0.45) / 0.226
        with torch.no_grad():
            batch["seed float32 NCHW"] = _throughput(lambda: [base(x[i:i + 64]) for i in range(0, 256, 64)], 256)
    return {"project_ms": project_ms, "seed_ms": seed_ms, "batch": batch}


def _throughput(fn, n: int) -> float:
    fn()
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def markdown(res: dict, args, started: str, load) -> str:
    def q(v, p):
        return float(np.percentile(v, p))
    p50, s50 = q(res["project_ms"], 50), q(res["seed_ms"], 50)
    lines = [SECTION, "", f"Measured {started} by `python benchmarks/bench_predict.py --repeats {args.repeats}` "
             f"on {machine()}; 1-min load average before {load:.2f}. One 833 x 690 12-bit DICOM, one box, "
             "a 224-input ResNet-18 with random weights (speed does not depend on training).", "",
             "| path | p50 ms | p95 ms | mean ms |", "|---|---:|---:|---:|",
             f"| project: `Predictor.predict(path, [box])` (decode + crop + float32 predict) | {p50:.1f} | "
             f"{q(res['project_ms'], 95):.1f} | {statistics.mean(res['project_ms']):.1f} |",
             f"| seed: pydicom -> 8-bit -> PIL crop -> Resize/ToTensor/Normalize -> fp32 forward | {s50:.1f} | "
             f"{q(res['seed_ms'], 95):.1f} | {statistics.mean(res['seed_ms']):.1f} |", "",
             f"**Single-radiograph latency, seed / project (p50): {s50 / p50:.2f}x**", "",
             "| batch of 256 crops | images/s |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in res["batch"].items()]
    ratio = res["batch"]["project bfloat16"] / res["batch"]["seed float32 NCHW"]
    lines += ["", f"**Batch throughput, project bfloat16 / seed float32: {ratio:.2f}x**", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--write-docs", action="store_true", help=f"replace the '{SECTION}' section of {DOCS}")
    args = parser.parse_args(argv)
    return emit(lambda started, load: markdown(run(args.repeats), args, started, load), SECTION, args.write_docs)


if __name__ == "__main__":
    sys.exit(main())
