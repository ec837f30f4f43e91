"""One radiograph without boxes (detect -> levels -> morphometry -> classify) against the manual-box path.

Same machine, same run, same classifier weights, same DICOM film:

- **manual boxes**: ``Predictor.predict(path, boxes)`` with the film's annotated fractured bodies (what a
  radiologist's boxes give today): decode + crop + classify;
- **detector**: ``detect.pipeline.detect_and_classify(path, Detector(DET), predictor)``: decode, the
  detector, levels from S1, morphometry, and the Predictor on the bodies that meet the inclusion rule;
- **detector, every body classified** (``classify="all"``): the slowest case.

The classifier is a 224-input ResNet-18 with random weights (speed does not depend on training); the
detector is the folder given (a trained one, so the number of bodies found is realistic). Usage:

    python benchmarks/bench_detect.py DET FILM.dcm [--repeats 30] [--write-docs]

FILM must sit beside its ``vertebrae.json`` (a ``vcfnet synth`` source folder) for the manual boxes.
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
from load_service import emit, machine, make_checkpoint  # noqa: E402

SECTION = "## Detection (no boxes)"


def _timed(fn, repeats: int) -> list[float]:
    fn()
    fn()                                    # warm-up: oneDNN builds its kernels for the film's shapes
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def fractured_boxes(film: Path) -> list[list[float]]:
    from vcfnet.detect.coco import read_coco

    im = next(i for i in read_coco(film.parent / "vertebrae.json") if i.file_name == film.name)
    return [list(vb.box) for vb in im.vertebrae if vb.fracture is not None]


def run(detector_dir: Path, film: Path, repeats: int) -> dict:
    from vcfnet.detect.infer import Detector
    from vcfnet.detect.pipeline import detect_and_classify
    from vcfnet.predict import Predictor

    boxes = fractured_boxes(film)
    with tempfile.TemporaryDirectory() as tmp:
        predictor = Predictor(make_checkpoint(Path(tmp)))
        detector = Detector(detector_dir)
        found = detect_and_classify(film, detector, predictor)
        res = {"boxes": len(boxes), "bodies": len(found),
               "classified": sum(f.classified for f in found),
               "manual": _timed(lambda: predictor.predict(film, boxes), repeats),
               "detect": _timed(lambda: detect_and_classify(film, detector, predictor), repeats),
               "detect_all": _timed(lambda: detect_and_classify(film, detector, predictor, classify="all"), repeats),
               "detect_only": _timed(lambda: detect_and_classify(film, detector, None, classify="none"), repeats)}
    from vcfnet.io import read_radiograph

    r = read_radiograph(film)
    res["arch"], res["min_size"] = detector.card["arch"], detector.card["min_size"]
    res["shape"], res["spacing"] = r.pixels.shape, r.meta.get("pixel_spacing")
    return res


def markdown(res: dict, args, started: str, load: float) -> str:
    def q(v, p):
        return float(np.percentile(v, p))

    size = f"{res['shape'][0]} x {res['shape'][1]} px" + (f" at {res['spacing'][0]:g} mm" if res["spacing"] else "")
    rows = [("manual boxes: `Predictor.predict(path, boxes)`", "manual"),
            ("detector: `detect_and_classify(path, detector, predictor)` (classify the included bodies)", "detect"),
            ("detector, every body classified (`classify=\"all\"`)", "detect_all"),
            ("detector + levels + morphometry only (`predictor=None`)", "detect_only")]
    lines = [SECTION, "", f"Measured {started} by `python benchmarks/bench_detect.py DET {args.film.name} --repeats "
             f"{args.repeats}` on {machine()}; 1-min load average before {load:.2f}. The film: "
             f"{args.film.parent.name}/{args.film.name} of a `vcfnet synth` study ({size}); detector `{res['arch']}` at "
             f"{res['min_size']} px (it found {res['bodies']} bodies, {res['classified']} meet the inclusion rule "
             f"and are classified); {res['boxes']} manual boxes (the annotated fractured bodies); the classifier a "
             "224-input ResNet-18 with random weights.", "",
             "| path | p50 ms | p95 ms | mean ms |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {q(res[k], 50):.1f} | {q(res[k], 95):.1f} | {statistics.mean(res[k]):.1f} |"
              for name, k in rows]
    lines += ["", f"**p95, detector path / manual boxes: {q(res['detect'], 95) / q(res['manual'], 95):.2f}x** "
              f"(target: detector path p95 under 1500 ms: {q(res['detect'], 95):.0f} ms)", ""]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detector", type=Path)
    parser.add_argument("film", type=Path)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--write-docs", action="store_true", help=f"replace the '{SECTION}' section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    return emit(lambda started, load: markdown(run(args.detector, args.film, args.repeats), args, started, load), SECTION, args.write_docs)


if __name__ == "__main__":
    sys.exit(main())
