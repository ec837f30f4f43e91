"""``vcfnet ingest``: add one source (site + cohort) to a study directory.

Decoding runs once per image, in parallel over the cores; crops go to the crop cache and one row per
vertebra to the Study table. Re-ingesting an unchanged source decodes nothing. A study grows source
by source; ingesting the same folder again replaces what it gave before.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import InputError, VcfnetError
from vcfnet.fileio import atomic_open, write_json
from vcfnet.io import load_or_create_key
from vcfnet.progress import progress_iter
from vcfnet.study.cache import CropCache, read_cache, roi_hash, write_cache
from vcfnet.study.decode import Decoded, decode_item, file_sha256
from vcfnet.study.layout import StudyLayout
from vcfnet.study.rows import rows_for
from vcfnet.study.schema import COHORTS, empty_study, load_study, save_study, validate_study
from vcfnet.study.sources import ImageItem, discover
from vcfnet.study.splits import SplitConfig, write_splits

log = logging.getLogger(__name__)


@dataclass
class IngestOptions:
    site: str
    cohort: str
    kind: str = "auto"
    size: int = 224
    margin: float = 0.0
    workers: int | None = None
    skip_bad: bool = False
    synonyms: dict | None = None
    split: SplitConfig | None = None    # None: keep the study's split settings
    prospective_after: str | None = None  # development images dated on/after this go to 'prospective'


@dataclass
class IngestReport:
    source_id: str
    images: int
    rois: int
    decoded: int
    reused: int
    skipped: list[tuple[str, str]]


def ingest(source: str | Path, study_dir: str | Path, opts: IngestOptions) -> IngestReport:
    """Ingest ``source`` into ``study_dir`` (created if needed); returns what was done."""
    source, layout = Path(source).resolve(), StudyLayout(study_dir)
    _check_options(opts, source)
    layout.root.mkdir(parents=True, exist_ok=True)
    key = load_or_create_key(layout.secret)
    found = discover(source, kind=opts.kind, synonyms=opts.synonyms, skip_bad=opts.skip_bad)
    source_id = "src-" + hashlib.sha256(str(source).encode()).hexdigest()[:10]
    study = load_study(layout.study_table) if layout.study_table.exists() else empty_study()
    cache = _existing_cache(layout, opts)
    hashes = _file_hashes(layout, source_id, found.items)
    reuse = _reusable(study, cache, source_id, found.items, hashes, opts)
    todo = [it for it in found.items if it.rel not in reuse]
    decoded, skipped = _decode_all(todo, opts, key, source)
    skipped = found.skipped + skipped
    old = study.iloc[[i for it in found.items for i in reuse.get(it.rel, [])]]
    old = old.assign(cohort=_cohorts(old["exam_date"], opts))
    rows, crops = [old], [np.asarray(cache.get(old["roi_id"]))]
    rhashes = [cache.hashes[i] for i in cache.index_of(old["roi_id"])]
    for item in todo:
        if item.rel in decoded:
            new_rows, new_hashes = rows_for(item, decoded[item.rel], source_id, opts, key, hashes[item.rel])
            rows.append(pd.DataFrame(new_rows))
            crops.append(decoded[item.rel].crops[:, None])
            rhashes.extend(new_hashes)
    rows = pd.concat(rows, ignore_index=True)
    if rows.empty:
        raise InputError(source, "nothing could be ingested (every image was skipped)")
    _commit(layout, study, cache, source_id, rows, crops, rhashes, opts)
    _record_source(layout, source_id, source, opts, len(found.items), len(rows), found.items, hashes)
    _write_skipped(layout, source_id, skipped)
    return IngestReport(source_id, len(found.items), len(rows), len(decoded), len(reuse), skipped)


def _check_options(opts: IngestOptions, source: Path) -> None:
    if opts.cohort not in COHORTS:
        raise VcfnetError(f"unknown cohort '{opts.cohort}' (expected one of {', '.join(COHORTS)})")
    if not opts.site or not opts.site.replace("-", "").replace("_", "").isalnum():
        raise VcfnetError(f"site '{opts.site}' must be a short name of letters, digits, '-' or '_'")
    if opts.size < 16 or not 0 <= opts.margin <= 1:
        raise VcfnetError(f"crop size must be >= 16 and margin in [0, 1] (got {opts.size}, {opts.margin})")


def _existing_cache(layout: StudyLayout, opts: IngestOptions) -> CropCache:
    if not layout.crops.exists():
        return CropCache(np.zeros((0, 1, opts.size, opts.size), np.uint8), [], [], opts.size, opts.margin)
    cache = read_cache(layout.root)
    if cache.size != opts.size or cache.margin != opts.margin:
        raise VcfnetError(f"{layout.root}: this study's crops are {cache.size}px with margin {cache.margin}; "
                          f"ingest with --size {cache.size} --margin {cache.margin}, or use a new study folder")
    return cache


def _reusable(study, cache, source_id, items, hashes, opts) -> dict[str, list[int]]:
    """Row positions of images whose file and boxes are unchanged since the last ingest of this source."""
    mine = np.flatnonzero(((study["source"] == source_id) & (study["site"] == opts.site)).to_numpy())
    if not len(mine):
        return {}
    known = dict(zip(cache.roi_ids, cache.hashes))
    roi_ids, widths, heights = (study[c].to_numpy() for c in ("roi_id", "width", "height"))
    by_image: dict[str, list[int]] = {}
    for pos, image in zip(mine, study["image"].to_numpy()[mine]):
        by_image.setdefault(image, []).append(int(pos))
    out = {}
    for item in items:
        positions = by_image.get(f"{source_id}/{item.rel}", [])
        boxes = item.boxes or [None]
        if not positions or item.yolo is not None or len(positions) != len(boxes):
            continue
        expected = [roi_hash(hashes[item.rel], _box_key(b, widths[p], heights[p]), opts.size, opts.margin)
                    for b, p in zip(boxes, positions)]
        if all(known.get(roi_ids[p]) == e for p, e in zip(positions, expected)):
            out[item.rel] = positions
    return out


def _cohorts(exam_dates: pd.Series, opts: IngestOptions) -> np.ndarray:
    """The cohort of each row: the source's, with later development exams moved to prospective."""
    cohort = np.full(len(exam_dates), opts.cohort, dtype=object)
    if opts.prospective_after and opts.cohort == "development":
        cohort[(exam_dates >= opts.prospective_after).to_numpy()] = "prospective"
    return cohort


def _box_key(box, width, height) -> tuple:
    if box is None:
        return (0.0, 0.0, float(width), float(height))
    return (box.x0, box.y0, box.x1, box.y1)


def _decode_all(items: list[ImageItem], opts: IngestOptions, key: bytes, source: Path):
    decoded: dict[str, Decoded] = {}
    skipped: list[tuple[str, str]] = []
    if not items:
        return decoded, skipped
    workers = max(1, min(opts.workers or os.cpu_count() or 1, len(items)))
    args = [(it, opts.size, opts.margin, key, opts.site, opts.synonyms) for it in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(decode_item, *a) for a in args]
        for item, fut in progress_iter(list(zip(items, futures)), f"decoding {source.name}"):
            try:
                decoded[item.rel] = fut.result()
            except InputError as exc:
                if not opts.skip_bad:
                    for f in futures:
                        f.cancel()
                    raise
                skipped.append((exc.source, exc.problem))
                log.warning("skipped %s", exc)
    return decoded, skipped


def _commit(layout, study, cache, source_id, rows, crops, rhashes, opts) -> None:
    """Replace this source's rows; write cache, then table, then splits (each atomically)."""
    keep = study[study["source"] != source_id]
    table = validate_study(pd.concat([keep, rows], ignore_index=True), layout.study_table)  # before any write
    kept_hashes = [cache.hashes[i] for i in cache.index_of(keep["roi_id"])]
    hashes = kept_hashes + list(rhashes)
    if _same(table, hashes, study, cache) and opts.split is None and layout.splits.exists():
        return  # nothing changed: leave every file as it is
    kept_crops = np.asarray(cache.get(keep["roi_id"]))
    new = CropCache(np.concatenate([kept_crops, *crops]), table["roi_id"].tolist(), hashes,
                    opts.size, opts.margin)
    write_cache(layout.root, new)
    save_study(table, layout.study_table)
    write_splits(layout.root, opts.split)


def _file_hashes(layout: StudyLayout, source_id: str, items: list[ImageItem]) -> dict[str, str]:
    """SHA-256 of each image; taken from the last ingest when the file's size and mtime are unchanged."""
    known = {}
    if layout.sources.exists():
        known = json.loads(layout.sources.read_text()).get(source_id, {}).get("files", {})
    out = {}
    for it in items:
        st = it.path.stat()
        size, mtime, digest = known.get(it.rel, (None, None, None))
        out[it.rel] = digest if (size, mtime) == (st.st_size, st.st_mtime_ns) else file_sha256(it.path)
    return out


def _same(table: pd.DataFrame, hashes: list[str], study: pd.DataFrame, cache: CropCache) -> bool:
    """Whether the new table and crop hashes equal the old ones, in whatever row order."""
    if len(table) != len(study) or dict(zip(table["roi_id"], hashes)) != dict(zip(cache.roi_ids, cache.hashes)):
        return False
    a = table.sort_values("roi_id").reset_index(drop=True)
    b = study.sort_values("roi_id").reset_index(drop=True)
    return a.equals(b)


def _record_source(layout, source_id, source, opts, n_images, n_rois, items, hashes) -> None:
    sources = json.loads(layout.sources.read_text()) if layout.sources.exists() else {}
    files = {}
    for it in items:
        st = it.path.stat()
        files[it.rel] = [st.st_size, st.st_mtime_ns, hashes[it.rel]]
    sources[source_id] = {"path": str(source), "site": opts.site, "cohort": opts.cohort, "kind": opts.kind,
                          "images": n_images, "rois": n_rois, "size": opts.size, "margin": opts.margin,
                          "files": files}
    write_json(layout.sources, sources)


def _write_skipped(layout, source_id, skipped) -> None:
    """Keep ``skipped.csv`` true for every source: replace this source's lines."""
    old = pd.read_csv(layout.skipped, dtype=str) if layout.skipped.exists() else None
    new = pd.DataFrame([(source_id, f, r) for f, r in skipped], columns=["source", "file", "reason"])
    table = new if old is None else pd.concat([old[old["source"] != source_id], new], ignore_index=True)
    if table.empty:
        layout.skipped.unlink(missing_ok=True)
        return
    with atomic_open(layout.skipped, "w", encoding="utf-8", newline="") as fh:
        table.to_csv(fh, index=False)


def ingest_manifest(manifest: str | Path, study_dir: str | Path, **options) -> list[IngestReport]:
    """Ingest every source listed in a ``vcfnet synth`` manifest (paths relative to the manifest)."""
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / "manifest.json"
    try:
        spec = json.loads(manifest.read_text())
        sources = [(s["path"], s["site"], s["cohort"]) for s in spec["sources"]]
    except FileNotFoundError:
        raise InputError(manifest, "no such manifest (run `vcfnet synth OUT` first)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(manifest, f"is not a synth manifest (expected sources with path, site, cohort): {exc}") from None
    return [ingest(manifest.parent / path, study_dir, IngestOptions(site=site, cohort=cohort, **options))
            for path, site, cohort in sources]


def load_synonyms(path: str | Path | None) -> dict | None:
    """Built-in class synonyms extended by a YAML mapping ``name: acute|chronic|pathological``."""
    if path is None:
        return None
    import yaml

    from vcfnet.labels import CLASSES, DEFAULT_SYNONYMS
    try:
        extra = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(path, f"cannot be read as YAML: {exc}") from None
    if not isinstance(extra, dict):
        raise InputError(path, "must be a mapping of annotation names to acute, chronic or pathological")
    for name, value in extra.items():
        if value not in CLASSES:
            raise InputError(path, f"maps '{name}' to '{value}' (expected one of {', '.join(CLASSES)})")
    return {**DEFAULT_SYNONYMS, **{str(k).lower(): v for k, v in extra.items()}}
