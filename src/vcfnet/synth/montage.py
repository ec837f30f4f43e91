"""A montage of a synthetic study, to look at: fractured vertebrae per class (rows) and site (columns),
plus whole radiographs with their boxes. Images are read back through ``read_radiograph``, as ingest
reads them, so the montage also shows that a correct reader gets bone bright at every site.
"""
from __future__ import annotations

import json
from pathlib import Path

from vcfnet.errors import VcfnetError
from vcfnet.labels import CLASSES

CROP_MARGIN = 0.25   # context around each box, as a fraction of its size


def make_montage(study_or_out_dir: str | Path, path: str | Path, *, per_cell: int = 2,
                 full: int = 2) -> Path:
    """Draw the montage of the synthetic study in ``study_or_out_dir`` into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(study_or_out_dir)
    if not (root / "manifest.json").is_file():
        raise VcfnetError(f"{root}: no manifest.json; is this a folder made by `vcfnet synth`?")
    sources = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["sources"]
    sites = sorted({s["site"] for s in sources})
    picks = _pick_boxes(root, sources, per_cell)
    fig = plt.figure(figsize=(1.9 * len(sites) * per_cell + 3.6 * full, 8.0), dpi=110)
    grid = fig.add_gridspec(len(CLASSES), len(sites) * per_cell + 2 * full, wspace=0.08, hspace=0.25)
    for r, label in enumerate(CLASSES):
        for c, site in enumerate(sites):
            for k, (img, box) in enumerate(picks.get((label, site), [])[:per_cell]):
                ax = fig.add_subplot(grid[r, c * per_cell + k])
                ax.imshow(_crop(img, box), cmap="gray", vmin=0, vmax=1, aspect="auto")
                ax.set_xticks([])
                ax.set_yticks([])
                if k == 0 and r == 0:
                    ax.set_title(site, fontsize=10, loc="left")
                if c == 0 and k == 0:
                    ax.set_ylabel(label, fontsize=12, fontweight="bold")
                ax.set_xlabel(box.level, fontsize=9, labelpad=2)
    _draw_full(fig, grid, root, sources, sites, full, len(sites) * per_cell)
    fig.suptitle("vcfnet synthetic study: fractured vertebrae by class (rows) and site (columns), "
                 "(crops stretched to square, as the model sees them) and whole radiographs", fontsize=11)
    fig.subplots_adjust(left=0.04, right=0.99, top=0.9, bottom=0.02)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    from vcfnet.fileio import atomic_path

    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out


def _pick_boxes(root: Path, sources: list[dict], per_cell: int) -> dict:
    """The first ``per_cell`` boxes of each (class, site), with their images read back."""
    from vcfnet.io import read_radiograph, read_voc

    picks: dict[tuple[str, str], list] = {}
    for src in sources:
        for xml in sorted((root / src["path"]).glob("*.xml")):
            ann = read_voc(xml)
            wanted = [b for b in ann.boxes if len(picks.get((b.label, src["site"]), [])) < per_cell]
            if not wanted:
                continue
            img = read_radiograph(xml.parent / ann.filename).pixels
            for box in wanted:
                cell = picks.setdefault((box.label, src["site"]), [])
                if len(cell) < per_cell:
                    cell.append((img, box))
    return picks


def _crop(img, box):
    from vcfnet.preprocess import box_with_margin

    x0, y0, x1, y1 = box_with_margin((box.x0, box.y0, box.x1, box.y1), img.shape, CROP_MARGIN)
    return img[y0:y1, x0:x1]


def _draw_full(fig, grid, root: Path, sources: list[dict], sites: list[str], full: int, col0: int) -> None:
    """Whole radiographs from the first ``full`` sites, boxes drawn and named."""
    from matplotlib.patches import Rectangle

    from vcfnet.io import read_radiograph, read_voc

    for i, site in enumerate(sites[:full]):
        src = next(s for s in sources if s["site"] == site)
        xml = sorted((root / src["path"]).glob("*.xml"))[0]
        ann = read_voc(xml)
        ax = fig.add_subplot(grid[:, col0 + 2 * i: col0 + 2 * i + 2])
        ax.imshow(read_radiograph(xml.parent / ann.filename).pixels, cmap="gray", vmin=0, vmax=1)
        for b in ann.boxes:
            ax.add_patch(Rectangle((b.x0, b.y0), b.x1 - b.x0, b.y1 - b.y0, fill=False, ec="tab:red", lw=1))
            ax.text(b.x1 + 4, b.y0, f"{b.label}-{b.level}", color="yellow", fontsize=7, va="top")
        ax.set_title(f"{site}: {ann.filename}", fontsize=9)
        ax.axis("off")
