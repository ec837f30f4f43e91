"""Pictures of a synthetic study, to look at: real and synthetic crops side by side, and a whole film.

``make_montage``: per class (rows), real crops (the ImageFolder tree in ``real``, e.g.
``../shared/data/vcfnet-samples/train``) beside synthetic ones from every site, all at the same display
size and cut as the model sees them (box plus the study's margin, stretched to a square). Without real
crops it shows synthetic crops only, per class and site.

``make_film``: one whole synthetic radiograph with its boxes, beside the list of what is simulated.

Images are read back through ``read_radiograph``, as ingest reads them, so the pictures also show that
a correct reader gets bone bright at every site (MONOCHROME1 included).
"""
from __future__ import annotations

import json
from itertools import zip_longest
from pathlib import Path

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES

CROP_MARGIN = 0.1    # the demo's ingest margin: the crops the model is trained on
TILE = 160           # display size of every crop, pixels

#: What the generator simulates, for the film picture (kept short; docs/SYNTH.md has the details).
SIMULATED = (
    "Anatomy (attenuation line integrals, mm scale)",
    "- torso: lateral path through a flat-backed ellipse; air behind",
    "- T10-S2 on a lordotic curve; bodies with endplate bands of",
    "  varying thickness (two rims when oblique), fainter walls,",
    "  a fine trabecular grain; the neural arch as bone tubes",
    "- lungs above two hemidiaphragms (posterior recess at T12-L1)",
    "- ribs 11-12 over T11-L1 (near and far); iliac crests at L4-L5",
    "- psoas shadow, bowel gas loops and stool, aortic plaques,",
    "  faint fascial planes, osteophytes",
    "- fracture signs per class with variable severity and overlap",
    "",
    "Image formation",
    "- primary fluence exp(-mu) with the heel effect",
    "- scatter (30 mm kernel, scatter-to-primary 1.0-1.8 by site)",
    "- automatic exposure control behind the spine",
    "- Poisson quantum noise (photons per mm^2) + electronic noise",
    "- detector blur (MTF) shaping signal and noise alike",
    "",
    "Each site's processing and storage",
    "- range compression, unsharp mask, fine-detail boost,",
    "  tissue window and S-shaped tone curve",
    "- DX or CR, 8-14 bits, MONOCHROME1 or 2, 0.14-0.18 mm pixels",
)


def make_montage(study_or_out_dir: str | Path, path: str | Path, *, real: str | Path | None = None,
                 per_class: int = 5) -> Path:
    """Draw real vs synthetic crops per class (or synthetic crops per class and site) into ``path``."""
    plt = _pyplot()
    root = _study(study_or_out_dir)
    synthetic = _synthetic_by_class(root, per_class)
    real_by_class = _real_by_class(Path(real), per_class) if real is not None else None
    blocks = [("real crops (published study)", real_by_class)] if real_by_class else []
    blocks.append(("synthetic crops (vcfnet synth, every site)", synthetic))
    cols = per_class * len(blocks) + (len(blocks) - 1)
    fig = plt.figure(figsize=(1.55 * cols + 0.6, 1.7 * len(CLASSES) + 0.9), dpi=110)
    grid = fig.add_gridspec(len(CLASSES), cols, wspace=0.05, hspace=0.12)
    for b, (title, by_class) in enumerate(blocks):
        c0 = b * (per_class + 1)
        for r, label in enumerate(CLASSES):
            for k, (crop, caption) in enumerate(by_class.get(label, [])[:per_class]):
                ax = fig.add_subplot(grid[r, c0 + k])
                ax.imshow(crop, cmap="gray", vmin=0, vmax=255, interpolation="bilinear")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_xlabel(caption, fontsize=7, labelpad=1)
                if k == 0 and b == 0:
                    ax.set_ylabel(label, fontsize=11, fontweight="bold")
                if r == 0 and k == 0:
                    ax.set_title(title, fontsize=10, loc="left")
    fig.suptitle("Fractured vertebrae by class: crops as the model sees them (box + 10 % margin, "
                 f"stretched to a square), all shown at {TILE} x {TILE}", fontsize=10)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.88, bottom=0.03)
    return _save(plt, fig, path)


def make_film(study_or_out_dir: str | Path, path: str | Path, *, source: str = "site1-development") -> Path:
    """Draw the first radiograph of ``source`` with its boxes, beside the list of what is simulated."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    from vcfnet.io import read_radiograph, read_voc

    root = _study(study_or_out_dir)
    xmls = sorted((root / source).glob("*.xml"))
    if not xmls:
        raise VcfnetError(f"{root / source}: no LabelImg XML files")
    ann = read_voc(xmls[0])
    film = read_radiograph(xmls[0].parent / ann.filename)
    fig = plt.figure(figsize=(12.5, 8.2), dpi=110)
    ax = fig.add_axes((0.01, 0.02, 0.5, 0.92))
    ax.imshow(film.pixels, cmap="gray", vmin=0, vmax=1, interpolation="antialiased")
    for b in ann.boxes:
        ax.add_patch(Rectangle((b.x0, b.y0), b.x1 - b.x0, b.y1 - b.y0, fill=False, ec="tab:red", lw=1))
        ax.text(b.x1 + 10, b.y0, f"{b.label}-{b.level}", color="yellow", fontsize=8, va="top")
    rows, cols = film.pixels.shape
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    spacing = next(s for s in manifest["sites"].values() if s["rows_columns"] == [rows, cols])["pixel_spacing_mm"]
    ax.set_title(f"{source}: {ann.filename}, {cols} x {rows} px at {spacing} mm", fontsize=9)
    ax.axis("off")
    fig.text(0.53, 0.94, "What is simulated", fontsize=13, fontweight="bold", va="top")
    fig.text(0.53, 0.89, "\n".join(SIMULATED), fontsize=9.5, va="top", family="monospace", linespacing=1.45)
    return _save(plt, fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _study(folder: str | Path) -> Path:
    root = Path(folder)
    if not (root / "manifest.json").is_file():
        raise VcfnetError(f"{root}: no manifest.json; is this a folder made by `vcfnet synth`?")
    return root


def _save(plt, fig, path: str | Path) -> Path:
    from vcfnet.fileio import atomic_path

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out


def _synthetic_by_class(root: Path, per_class: int) -> dict[str, list]:
    """Up to ``per_class`` crops per class, taken in turn from each source: every site once before any
    site twice (four sites and five tiles: one site shows two crops, no slot stays empty)."""
    from vcfnet.io import read_radiograph, read_voc
    from vcfnet.preprocess import crop_roi

    sources = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["sources"]
    site_of = {s["path"]: s["site"] for s in sources}
    n_sites = len(set(site_of.values()))
    queues = [[(s["path"], xml) for xml in sorted((root / s["path"]).glob("*.xml"))] for s in sources]
    round_robin = [item for turn in zip_longest(*queues) for item in turn if item is not None]
    # choose first (a new site per class; later boxes kept as spares), decode afterwards, each film once
    chosen: dict[str, list] = {c: [] for c in CLASSES}
    spare: dict[str, list] = {c: [] for c in CLASSES}

    def settled(label: str) -> bool:
        have = chosen[label]
        return len(have) >= per_class or (len({site_of[src] for src, *_ in have}) == n_sites
                                          and len(have) + len(spare[label]) >= per_class)

    for src, xml in round_robin:
        if all(settled(c) for c in CLASSES):
            break
        ann = read_voc(xml)
        for b in ann.boxes:
            have = chosen[b.label]
            if len(have) < per_class and site_of[src] not in {site_of[s] for s, *_ in have}:
                have.append((src, xml, ann, b))
            elif len(spare[b.label]) < per_class:
                spare[b.label].append((src, xml, ann, b))
    tiles = {label: (chosen[label] + spare[label])[:per_class] for label in CLASSES}
    by_film: dict[Path, list] = {}
    for label, items in tiles.items():
        for k, (src, xml, ann, b) in enumerate(items):
            by_film.setdefault(xml, []).append((label, k, src, ann, b))
    picks: dict[str, list] = {label: [None] * len(items) for label, items in tiles.items()}
    for xml, wanted in by_film.items():             # one film in memory at a time
        pixels = read_radiograph(xml.parent / wanted[0][3].filename).pixels
        for label, k, src, _, b in wanted:
            picks[label][k] = (crop_roi(pixels, (b.x0, b.y0, b.x1, b.y1), size=TILE, margin=CROP_MARGIN),
                               f"{site_of[src]} {b.level}")
    return picks


def _real_by_class(folder: Path, per_class: int) -> dict[str, list]:
    """The ready-made crops of an ImageFolder tree ({Acute,Chronic,Pathologic}/*.png) by class."""
    from vcfnet.io import parse_crop_filename, read_radiograph
    from vcfnet.preprocess import crop_roi

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise VcfnetError(f"{folder}: no real crops (.png/.jpg) found")
    picks: dict[str, list] = {c: [] for c in CLASSES}
    for f in files:
        meta = parse_crop_filename(f)
        if len(picks[meta.label]) < per_class:
            picks[meta.label].append((crop_roi(read_radiograph(f).pixels, None, size=TILE), f"real {meta.level}"))
    return picks
