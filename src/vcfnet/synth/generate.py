"""``vcfnet synth`` (``vcfnet.synth.generate``): a ready-to-ingest synthetic multi-site study, the built-in default data.

    OUT/manifest.json               seed, scale, format, sources (path, site, cohort), counts; written last
    OUT/<source>/s<site>-<n>.dcm    (or .png) one lateral lumbar radiograph per patient
    OUT/<source>/s<site>-<n>.xml    LabelImg Pascal VOC, one object per fractured vertebra ('Acute-L1')
    OUT/<source>/vertebrae.json     COCO keypoints: every body T10..S1 in the field, its box, level, six
                                    morphometry landmarks and fracture class (``vcfnet.detect.coco``)
    OUT/<source>/metadata.csv       PNG only: image, patient_id, age, sex, exam_date

Sources: site1-development, site1-prospective, site2-external, site3-external, site4-external.
The same seed and scale give byte-identical pixel data, whatever the number of workers.
"""
from __future__ import annotations

import csv
import logging
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from vcfnet.detect.coco import FILENAME as VERTEBRAE
from vcfnet.detect.coco import ImageAnnotations, VertebraAnnotation, write_coco
from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_open, write_json
from vcfnet.labels import CLASSES
from vcfnet.synth.plan import ANOMALY_RATES, ImageSpec, image_rng, plan_study
from vcfnet.synth.sites import SITES, SOURCES

log = logging.getLogger(__name__)

FORMATS = ("dicom", "png")
MANIFEST = "manifest.json"


def generate_study(out_dir: str | Path, *, scale: float = 1.0, seed: int = 0, fmt: str = "dicom",
                   workers: int | None = None, resolution: float = 1.0, overwrite: bool = False) -> dict:
    """Write the synthetic study to ``out_dir`` and return its manifest.

    Args:
        scale: fraction of the study's counts (each class keeps >= 3 vertebrae per source).
        seed: same seed (and scale, resolution) -> byte-identical pixel data.
        fmt: ``"dicom"`` (made-up identifiers in the header) or ``"png"`` (+ metadata.csv).
        workers: processes rendering in parallel (default: all cores).
        resolution: detector resolution factor (1.0 = the sites' own; 0.5 = half the pixels per side).
        overwrite: replace an earlier synthetic study in ``out_dir`` (one with a manifest.json).
    """
    _check_options(scale, fmt, workers, resolution)
    out = Path(out_dir)
    _prepare(out, overwrite)
    specs = plan_study(seed, scale)
    tasks = [(spec, seed, fmt, resolution, f"{seed}/{scale}/{fmt}/{resolution}") for spec in specs]
    for spec_dir in {s.source for s in specs}:
        (out / spec_dir).mkdir(parents=True, exist_ok=True)
    n_workers = min(workers or os.cpu_count() or 1, len(tasks))
    log.info("rendering %d radiographs (%s) into %s with %d worker(s)", len(tasks), fmt, out, n_workers)
    bodies = dict(_run(out, tasks, n_workers))
    _write_vertebrae(out, specs, bodies)
    if fmt == "png":
        _write_metadata(out, specs)
    manifest = _manifest(specs, seed=seed, scale=scale, fmt=fmt, resolution=resolution)
    manifest["counts"]["bodies"] = sum(len(b.vertebrae) for b in bodies.values())
    write_json(out / MANIFEST, manifest)
    return manifest


def _check_options(scale: float, fmt: str, workers: int | None, resolution: float) -> None:
    if fmt not in FORMATS:
        raise VcfnetError(f"Invalid format '{fmt}'. Only {', '.join(FORMATS)} are supported.")
    if not scale > 0:
        raise VcfnetError(f"--scale must be > 0 (1.0 = the study's counts), got {scale}")
    if workers is not None and workers < 1:
        raise VcfnetError(f"--workers must be >= 1, got {workers}")
    if not 0.1 <= resolution <= 2.0:
        raise VcfnetError(f"resolution must be between 0.1 and 2.0, got {resolution}")


def _prepare(out: Path, overwrite: bool) -> None:
    """Refuse to write into a folder holding other things; replace an old synthetic study if asked."""
    if out.exists() and not out.is_dir():
        raise VcfnetError(f"{out}: exists and is not a directory")
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return
    if not overwrite:
        raise VcfnetError(f"{out}: not empty; choose a new directory, or pass --overwrite to replace a "
                          f"synthetic study made by `vcfnet synth` there")
    if not (out / MANIFEST).is_file():
        raise VcfnetError(f"{out}: not empty and has no {MANIFEST}, so it is not a finished synthetic "
                          f"study; --overwrite only replaces those. Remove it yourself or choose another")
    (out / MANIFEST).unlink()
    for spec in SOURCES:
        if (out / spec.path).is_dir():
            shutil.rmtree(out / spec.path)


def _run(out: Path, tasks: list, n_workers: int):
    from vcfnet.progress import progress_iter

    work = [(out, *t) for t in tasks]
    if n_workers <= 1:
        yield from progress_iter(map(make_image, work), "synth", total=len(work))
        return
    with ProcessPoolExecutor(max_workers=n_workers) as pool:
        chunk = max(1, min(16, len(work) // (n_workers * 4)))
        yield from progress_iter(pool.map(make_image, work, chunksize=chunk), "synth", total=len(work))


def make_image(task) -> tuple[str, ImageAnnotations]:
    """Render and write one patient's radiograph and its XML (image first, then the XML); return the
    image's name and its bodies' ground truth (written per source by ``_write_vertebrae``)."""
    from vcfnet.io.annotations import Box, write_voc
    from vcfnet.synth.phantom import render_patient
    from vcfnet.synth.write import write_dicom, write_png

    out, spec, seed, fmt, resolution, uid_seed = task
    site = SITES[spec.site]
    ph = render_patient(image_rng(seed, spec.key), site, spec.fractures, age=spec.age, sex=spec.sex,
                        resolution=resolution, anomaly=spec.anomaly)
    folder = Path(out) / spec.source
    image_name = f"{spec.name}.{'dcm' if fmt == 'dicom' else 'png'}"
    if fmt == "dicom":
        write_dicom(folder / image_name, ph.image, spec, site, ph.spacing, uid_seed)
    else:
        write_png(folder / image_name, ph.image, site)
    boxes = [Box(lab, lv, x0, y0, x1, y1) for lab, lv, x0, y0, x1, y1 in ph.boxes]
    height, width = ph.image.shape
    write_voc(folder / f"{spec.name}.xml", image_name, width, height, boxes)
    bodies = [VertebraAnnotation(t.level, t.box, tuple(p if 0 <= p[0] < width and 0 <= p[1] < height else None
                                                       for p in t.points), t.truncated, t.label)
              for t in ph.vertebrae]
    return f"{spec.source}/{image_name}", ImageAnnotations(image_name, width, height, (round(ph.spacing, 4),) * 2,
                                                           bodies)


def _write_vertebrae(out: Path, specs: list[ImageSpec], bodies: dict[str, ImageAnnotations]) -> None:
    """One COCO keypoints file per source, images in the plan's order."""
    for source in sorted({s.source for s in specs}):
        images = [im for key, im in bodies.items() if key.startswith(f"{source}/")]
        write_coco(out / source / VERTEBRAE, images, f"vcfnet synth: vertebral bodies of {source}")


def _write_metadata(out: Path, specs: list[ImageSpec]) -> None:
    """PNG carries no header: patient data for ingest, one row per image."""
    for source in sorted({s.source for s in specs}):
        with atomic_open(out / source / "metadata.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["image", "patient_id", "age", "sex", "exam_date"])
            for s in specs:
                if s.source == source:
                    date = f"{s.exam_date[:4]}-{s.exam_date[4:6]}-{s.exam_date[6:]}"
                    writer.writerow([f"{s.name}.png", s.patient_id, s.age, s.sex, date])


def _manifest(specs: list[ImageSpec], *, seed: int, scale: float, fmt: str, resolution: float) -> dict:
    from vcfnet import __version__

    by_source: dict[str, Counter] = {spec.path: Counter() for spec in SOURCES}
    by_cohort: dict[str, Counter] = {}
    images = Counter(s.source for s in specs)
    for s in specs:
        for f in s.fractures:
            by_source[s.source][f.label] += 1
            by_cohort.setdefault(s.cohort, Counter())[f.label] += 1
    sites = {name: {"modality": p.modality, "manufacturer": p.manufacturer, "photometric": p.photometric,
                    "bits_stored": p.bits_stored, "pixel_spacing_mm": p.spacing(resolution),
                    "rows_columns": list(p.shape(resolution))} for name, p in SITES.items()}
    return {
        "generator": f"vcfnet {__version__} synth", "seed": seed, "scale": scale, "format": fmt,
        "resolution": resolution,
        "sources": [{"path": s.path, "site": s.site, "cohort": s.cohort, "vertebrae": f"{s.path}/{VERTEBRAE}"}
                    for s in SOURCES],
        "counts": {
            "images": len(specs), "patients": len(specs),
            "vertebrae": sum(len(s.fractures) for s in specs),
            # films with a transitional body (an enumeration anomaly), by its level: vertebrae.json names it
            "anomalies": {lv: sum(s.anomaly == lv for s in specs) for lv in ANOMALY_RATES},
            "by_cohort": {c: {k: n[k] for k in CLASSES} for c, n in by_cohort.items()},
            "by_source": {p: {"images": images[p], **{k: n[k] for k in CLASSES}} for p, n in by_source.items()},
        },
        "sites": sites,
    }
