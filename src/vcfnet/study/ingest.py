"""``vcfnet ingest``: add one source (site + cohort) to a study directory.

Decoding runs once per image, in parallel over the cores; crops go to the crop cache and one row per
vertebra to the Study table. Re-ingesting an unchanged source decodes nothing. A study grows source
by source; ingesting the same folder again replaces what it gave before.

No path of the source reaches the study (``io.deid.PathPseudonyms``). A new study is built in a private
sibling and renamed into place (``layout.study_folder``); an existing one is updated file by file, each
atomically, the crop cache and the splits naming the study.csv they belong to, so that a killed ingest
leaves the old study, the new one, or one that says it was interrupted (and is repaired by running again).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vcfnet.errors import InputError, VcfnetError
from vcfnet.fileio import atomic_open, file_sha256, kill_point, write_json
from vcfnet.io import Box
from vcfnet.io.deid import PathPseudonyms, load_or_create_key, redacting_logs
from vcfnet.progress import progress_iter
from vcfnet.study.cache import CropCache, read_cache, roi_hash, write_cache
from vcfnet.study.decode import Decoded, decode_item
from vcfnet.study.layout import StudyLayout, study_folder
from vcfnet.study.rows import SourceContext, cohort_of, rows_for
from vcfnet.study.schema import COHORTS, empty_study, load_study, study_csv, table_sha256, validate_study
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
    """Ingest ``source`` into ``study_dir`` (created if needed, whole or not at all); returns what was done."""
    given, source = source, Path(source).resolve()
    _check_options(opts, source)
    with study_folder(study_dir) as layout:
        key = load_or_create_key(layout.secret)
        kill_point("key")
        ctx = SourceContext(layout, opts, key, PathPseudonyms(key, source, given=given))
        with redacting_logs(ctx.paths):
            return _ingest(source, ctx)


def _ingest(source: Path, ctx: SourceContext) -> IngestReport:
    layout, opts = ctx.layout, ctx.opts
    found = discover(source, kind=opts.kind, synonyms=opts.synonyms, skip_bad=opts.skip_bad)
    sources = json.loads(layout.sources.read_text()) if layout.sources.exists() else {}
    # an older vcfnet named a source by its raw path: re-ingesting it replaces (and scrubs) that entry
    ctx.replaces = (ctx.source_id, *(s for s, e in sources.items() if e.get("path") == str(source)))
    ctx.items = found.items
    ctx.hashes = _file_hashes(ctx, sources)
    study = load_study(layout.study_table) if layout.study_table.exists() else empty_study()
    cache = _existing_cache(layout, opts)
    # a cache left ahead of its table by a killed ingest is not trusted for reuse (its crops are another
    # version's); its other sources' crops are still read, they are the same in every version
    in_step = cache.table_sha256 in (None, *([table_sha256(layout.study_table)] if len(study) else []))
    if not in_step:
        _check_kept_crops(study, cache, ctx, sources)
    reuse = _reusable(study, cache, ctx) if in_step else {}
    todo = [it for it in found.items if it.rel not in reuse]
    decoded, skipped = _decode_all(todo, ctx)
    kill_point("decoded")
    skipped = found.skipped + skipped
    old = study.iloc[[i for it in found.items for i in reuse.get(it.rel, [])]]
    old = old.assign(cohort=_cohorts(old["exam_date"], opts))
    rows, crops = [old], [np.asarray(cache.get(old["roi_id"]))]
    rhashes = [cache.hashes[i] for i in cache.index_of(old["roi_id"])]
    for item in todo:
        if item.rel in decoded:
            new_rows, new_hashes = rows_for(item, decoded[item.rel], ctx)
            rows.append(pd.DataFrame(new_rows))
            crops.append(decoded[item.rel].crops[:, None])
            rhashes.extend(new_hashes)
    rows = pd.concat(rows, ignore_index=True)
    if rows.empty:   # the user's own terminal: name the first file and why, not only the outcome
        first = f"; first: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise InputError(source, f"nothing could be ingested: all {len(skipped)} images were skipped{first}")
    _commit(ctx, study, cache, _Update(rows, crops, rhashes), sources)
    _write_skipped(ctx, skipped)
    kill_point("skipped")
    return IngestReport(ctx.source_id, len(found.items), len(rows), len(decoded), len(reuse), skipped)


@dataclass
class _Update:
    """This source's rows, their crops (one array per image) and the crops' cache hashes."""
    rows: pd.DataFrame
    crops: list[np.ndarray]
    hashes: list[str]


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


def _reusable(study: pd.DataFrame, cache: CropCache, ctx: SourceContext) -> dict[str, list[int]]:
    """Row positions of images whose file and boxes are unchanged since the last ingest of this source."""
    opts, hashes = ctx.opts, ctx.hashes
    mine = np.flatnonzero(((study["source"] == ctx.source_id) & (study["site"] == opts.site)).to_numpy())
    if not len(mine):
        return {}
    known = dict(zip(cache.roi_ids, cache.hashes))
    roi_ids, widths, heights = (study[c].to_numpy() for c in ("roi_id", "width", "height"))
    by_image: dict[str, list[int]] = {}
    for pos, image in zip(mine, study["image"].to_numpy()[mine]):
        by_image.setdefault(image, []).append(int(pos))
    out = {}
    for item in ctx.items:
        positions = by_image.get(ctx.image(item.rel), [])
        boxes: Sequence[Box | None] = item.boxes or [None]     # None: the whole image
        if not positions or item.yolo is not None or len(positions) != len(boxes):
            continue
        expected = [roi_hash(hashes[item.rel], _box_key(b, widths[p], heights[p]), opts.size, opts.margin)
                    for b, p in zip(boxes, positions)]
        if all(known.get(roi_ids[p]) == e for p, e in zip(positions, expected)):
            out[item.rel] = positions
    return out


def _check_kept_crops(study: pd.DataFrame, cache: CropCache, ctx: SourceContext, sources: dict) -> None:
    """After a killed ingest the cache may hold another source's new crops under its old rows: refuse to
    keep such rows (that source must be ingested again first), never pair them."""
    files = {f"{sid}/{name}": e[2] for sid, src in sources.items() for name, e in src.get("files", {}).items()}
    known = dict(zip(cache.roi_ids, cache.hashes))
    for row in study[~study["source"].isin(ctx.replaces)].itertuples():
        box = (row.x0, row.y0, row.x1, row.y1)
        if known.get(row.roi_id) != roi_hash(files.get(row.image, ""), box, cache.size, cache.margin):
            raise VcfnetError(f"{ctx.layout.root}: an ingest of source {row.source} into this study was "
                              f"interrupted; ingest that source again first (`vcfnet study trace` names "
                              f"a source's files)")


def _cohorts(exam_dates: pd.Series, opts: IngestOptions) -> np.ndarray:
    """The cohort of each row: the source's, with later development exams moved to prospective."""
    return np.array([cohort_of(opts.cohort, d if isinstance(d, str) else "", opts.prospective_after)
                     for d in exam_dates], dtype=object)


def _box_key(box, width, height) -> tuple:
    if box is None:
        return (0.0, 0.0, float(width), float(height))
    return (box.x0, box.y0, box.x1, box.y1)


def _decode_all(items: list[ImageItem], ctx: SourceContext):
    """Decode ``items`` in parallel; bad files raise, or with ``skip_bad`` are returned as (file, reason)."""
    opts = ctx.opts
    decoded: dict[str, Decoded] = {}
    skipped: list[tuple[str, str]] = []
    if not items:
        return decoded, skipped
    workers = max(1, min(opts.workers or os.cpu_count() or 1, len(items)))
    args = [(it, opts.size, opts.margin, ctx.key, opts.site, opts.synonyms) for it in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(decode_item, *a) for a in args]
        for item, fut in progress_iter(list(zip(items, futures)), f"decoding {opts.site}"):
            try:
                decoded[item.rel] = fut.result()
            except InputError as exc:
                if not opts.skip_bad:
                    for f in futures:
                        f.cancel()
                    raise
                skipped.append((exc.source, exc.problem))
                log.warning("skipped %s: %s", ctx.paths.of_path(exc.source), ctx.paths.redact(exc.problem))
    return decoded, skipped


def _commit(ctx: SourceContext, study: pd.DataFrame, cache: CropCache, update: _Update, sources: dict) -> None:
    """Replace this source's rows: write cache, table, sources.json, then splits (each atomically)."""
    layout, opts = ctx.layout, ctx.opts
    keep = study[~study["source"].isin(ctx.replaces)]
    table = validate_study(pd.concat([keep, update.rows], ignore_index=True), layout.study_table)  # before any write
    kept_hashes = [cache.hashes[i] for i in cache.index_of(keep["roi_id"])]
    hashes = kept_hashes + list(update.hashes)
    data = study_csv(table)    # the cache names the table it belongs to, so the two cannot be mixed up
    sha = hashlib.sha256(data).hexdigest()
    if not (_same(table, hashes, study, cache) and cache.table_sha256 in (None, sha)):  # else leave them be
        kept_crops = np.asarray(cache.get(keep["roi_id"]))
        new = CropCache(np.concatenate([kept_crops, *update.crops]), table["roi_id"].tolist(), hashes,
                        opts.size, opts.margin, table_sha256=sha)
        write_cache(layout.root, new)
        kill_point("cache")
        with atomic_open(layout.study_table, "wb") as fh:
            fh.write(data)
        kill_point("table")
    _record_source(ctx, sources, len(update.rows))   # the splits read the file hashes from it
    kill_point("sources")
    write_splits(layout.root, opts.split)   # always: an earlier ingest may have stopped before them
    kill_point("splits")


def _file_hashes(ctx: SourceContext, sources: dict) -> dict[str, str]:
    """SHA-256 of each image; taken from the last ingest when the file's size and mtime are unchanged."""
    known = sources.get(ctx.source_id, {}).get("files", {})
    out = {}
    for it in ctx.items:
        st = it.path.stat()
        size, mtime, digest = known.get(ctx.paths.file(it.rel), (None, None, None))
        out[it.rel] = digest if (size, mtime) == (st.st_size, st.st_mtime_ns) else file_sha256(it.path)
    return out


def _same(table: pd.DataFrame, hashes: list[str], study: pd.DataFrame, cache: CropCache) -> bool:
    """Whether the new table and crop hashes equal the old ones, in whatever row order."""
    if len(table) != len(study) or dict(zip(table["roi_id"], hashes)) != dict(zip(cache.roi_ids, cache.hashes)):
        return False
    a = table.sort_values("roi_id").reset_index(drop=True)
    b = study.sort_values("roi_id").reset_index(drop=True)
    return a.equals(b)


def _record_source(ctx: SourceContext, sources: dict, n_rois: int) -> None:
    """sources.json: what each source gave, its files by pseudonym (size, mtime, SHA-256); no path."""
    opts, files = ctx.opts, {}
    for it in ctx.items:
        st = it.path.stat()
        files[ctx.paths.file(it.rel)] = [st.st_size, st.st_mtime_ns, ctx.hashes[it.rel]]
    sources = {k: v for k, v in sources.items() if k not in ctx.replaces}
    sources[ctx.source_id] = {"site": opts.site, "cohort": opts.cohort, "kind": opts.kind,
                              "images": len(ctx.items), "rois": n_rois, "size": opts.size,
                              "margin": opts.margin, "files": files}
    if made_by_synth(ctx.paths.root):
        sources[ctx.source_id]["synthetic"] = True
    write_json(ctx.layout.sources, sources)


def made_by_synth(folder: Path) -> bool:
    """Whether ``vcfnet synth`` wrote the source: its manifest is in the folder or one of two parents."""
    for d in (folder, *list(folder.parents)[:2]):
        try:
            if "synth" in str(json.loads((d / "manifest.json").read_text()).get("generator", "")):
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def _write_skipped(ctx: SourceContext, skipped: list[tuple[str, str]]) -> None:
    """Keep ``skipped.csv`` true for every source: replace this source's lines (files by pseudonym)."""
    layout = ctx.layout
    old = pd.read_csv(layout.skipped, dtype=str) if layout.skipped.exists() else None
    new = pd.DataFrame([(ctx.source_id, ctx.paths.of_path(f), ctx.paths.redact(r)) for f, r in skipped],
                       columns=["source", "file", "reason"])
    table = new if old is None else pd.concat([old[~old["source"].isin(ctx.replaces)], new], ignore_index=True)
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
