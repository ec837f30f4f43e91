"""A lateral lumbar radiograph phantom: anatomy -> attenuation map -> site acquisition.

``render_patient`` lays out T10-S2 along a lordotic curve (each fracture adds its kyphotic wedge
angle), puts soft tissue, the posterior skin line, ribs, the iliac crest, aortic calcification and
bowel gas around it, draws every vertebra (``synth_vertebra``) and runs the site's imaging chain
(``synth_imaging.acquire``). Boxes are the fractured bodies' outlines with a little jitter, as a
radiologist draws them in LabelImg.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vcfnet.synth.imaging import acquire, smooth_noise, soft_ellipse, upsample
from vcfnet.synth.landmarks import LEVELS, VertebraTruth, truth
from vcfnet.synth.signs import sample_signs
from vcfnet.synth.sites import SiteProfile
from vcfnet.synth.vertebra import Vertebra, render_posterior, render_vertebra, texture_bank

#: level: (posterior height mm, depth mm, disc below mm, lordosis angle deg, anterior excess mm)
ANATOMY: dict[str, tuple[float, float, float, float, float]] = {
    "T10": (20.5, 28.0, 5.0, -15.0, -1.5), "T11": (22.0, 30.0, 5.5, -13.0, -1.5),
    "T12": (23.5, 32.0, 6.5, -10.0, -1.0), "L1": (25.0, 35.0, 8.0, -6.0, 0.0),
    "L2": (26.0, 37.0, 9.0, -1.5, 0.0), "L3": (27.0, 39.0, 10.0, 4.0, 0.5),
    "L4": (27.0, 40.0, 10.5, 10.0, 1.5), "L5": (25.5, 40.0, 10.0, 18.0, 4.0),
    "S1": (28.0, 42.0, 1.5, 36.0, 2.0), "S2": (24.0, 34.0, 1.0, 44.0, 0.0),
}
#: Transitional bodies of an enumeration anomaly, and the level each follows: a T13 (a thoracic-looking
#: body with a 13th rib pair, between T12 and L1) and an L6 (a sixth lumbar body, a lumbarised S1).
TRANSITIONAL: dict[str, tuple[str, tuple[float, float, float, float, float]]] = {
    "T13": ("T12", (24.0, 33.5, 7.0, -8.0, -0.5)),
    "L6": ("L5", (25.0, 40.0, 7.5, 27.0, 3.0)),
}


def anatomy(anomaly: str | None = None) -> dict[str, tuple[float, float, float, float, float]]:
    """The levels of one spine, top to bottom, with their anatomy (``ANATOMY`` plus a transitional body)."""
    if anomaly is None:
        return ANATOMY
    if anomaly not in TRANSITIONAL:
        raise ValueError(f"unknown anomaly '{anomaly}' (expected one of {', '.join(TRANSITIONAL)})")
    after, row = TRANSITIONAL[anomaly]
    out: dict[str, tuple[float, float, float, float, float]] = {}
    for level, values in ANATOMY.items():
        out[level] = values
        if level == after:
            out[anomaly] = row
    return out


@dataclass
class Phantom:
    """One rendered radiograph: ``image`` (rows, cols) float32 in [0, 1], bone bright."""
    image: np.ndarray
    boxes: list[tuple[str, str, float, float, float, float]]   # (label, level, x0, y0, x1, y1)
    spacing: float
    vertebrae: list[VertebraTruth] = field(default_factory=list)   # every body T10..S1 in the field


def render_patient(rng: np.random.Generator, site: SiteProfile, fractures, *, age: int, sex: str,
                   resolution: float = 1.0, anomaly: str | None = None) -> Phantom:
    """Render one patient's lateral lumbar radiograph at ``site``.

    ``fractures``: iterable of objects with ``.level`` and ``.label`` (``synth_plan.Fracture``).
    ``anomaly``: "T13" or "L6" adds that transitional body (``TRANSITIONAL``), None a normal count.
    """
    s = site.spacing(resolution)
    shape = site.shape(resolution)
    fractured = {f.level: f.label for f in fractures}
    spine = _lay_out_spine(rng, site, fractured, age=age, sex=sex, anomaly=anomaly)
    mu = _background(rng, shape, s, spine, site.bone_gain)
    boxes, truths = [], []
    bank = texture_bank(rng)
    for vb in spine:
        drawn = render_vertebra(mu, rng, vb, s, site.bone_gain, bank)
        if drawn is None:
            continue
        box, outline = drawn
        if vb.level in fractured:
            boxes.append((fractured[vb.level], vb.level, *_jitter(rng, box, s, shape)))
        if vb.level in LEVELS:
            truths.append(truth(vb, outline, box, s, shape, not site.anterior_left, fractured.get(vb.level)))
    image = acquire(mu, rng, site, s, _spine_roi(spine, s, shape))
    if not site.anterior_left:
        image = np.ascontiguousarray(image[:, ::-1])
        w = shape[1]
        boxes = [(lab, lv, w - x1, y0, w - x0, y1) for lab, lv, x0, y0, x1, y1 in boxes]
    missing = set(fractured) - {b[1] for b in boxes}
    if missing:
        raise RuntimeError(f"fractured level(s) {sorted(missing)} fell outside the field of view")
    return Phantom(image, boxes, s, truths)


def _lay_out_spine(rng: np.random.Generator, site: SiteProfile, fractured: dict[str, str], *,
                   age: int, sex: str, anomaly: str | None = None) -> list[Vertebra]:
    """Vertebrae T10..S2 stacked along the lordosis, fractures wedging the column; a transitional body
    moves the stack up by its own height, so that the sacrum stays in the field."""
    size = rng.normal(1.0, 0.05) * (1.05 if sex == "M" else 1.0)
    lordosis = rng.uniform(0.6, 1.35)
    discs = rng.uniform(0.55, 1.0)
    density = (0.42 - 0.004 * (age - 55) + (0.04 if sex == "M" else 0.0)) * rng.uniform(0.85, 1.15)
    oblique = rng.uniform(0.0, 2.2)
    degen = np.clip((age - 45) / 50, 0, 1)
    spine, bend = [], 0.0
    prev = None
    for level, (h, d, disc, ang, exc) in anatomy(anomaly).items():
        label = fractured.get(level)
        vb = Vertebra(level=level, cx=0.0, cy=0.0, angle=np.deg2rad(ang * lordosis) + bend,
                      height=h * size, depth=d * size, excess=exc * size,
                      density=density * (0.8 if level.startswith("S") else 1.0),
                      posterior=not level.startswith("S"), oblique=oblique * rng.uniform(0.6, 1.2),
                      osteophyte=float(rng.uniform(0, 0.7)) if rng.random() < degen * 0.6 else 0.0,
                      signs=sample_signs(rng, label) if label else None)
        if prev is not None:
            gap = prev[1] / 2 + prev[2] + vb.centre_height() / 2
            mid = (prev[3] + vb.angle) / 2
            vb.cx, vb.cy = prev[0][0] + gap * np.sin(mid), prev[0][1] + gap * np.cos(mid)
        bend -= 0.6 * vb.wedge_angle()
        spine.append(vb)
        prev = ((vb.cx, vb.cy), vb.centre_height(), disc * discs * size, vb.angle)
    # Place the stack: L3 at ~40 % of the width, T12's top 40-75 mm below the top edge.
    l3 = next(v for v in spine if v.level == "L3")
    t12 = next(v for v in spine if v.level == "T12")
    dx = site.fov_mm[1] * rng.uniform(0.36, 0.44) - l3.cx
    dy = rng.uniform(40, 75) + t12.height / 2 - t12.cy
    if anomaly is not None:
        h, _, disc, _, _ = TRANSITIONAL[anomaly][1]
        dy -= (h + disc * discs) * size
    for vb in spine:
        vb.cx += dx
        vb.cy += dy
    return spine


def _spine_roi(spine: list[Vertebra], s: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel window over the bodies L1-L4: the AEC chamber's field and the window's anatomy of interest."""
    lv = [v for v in spine if v.level in ("L1", "L2", "L3", "L4")]
    y0 = int(max(0, min(v.cy - v.height / 2 for v in lv) / s))
    y1 = int(min(shape[0], max(v.cy + v.height / 2 for v in lv) / s))
    x0 = int(max(0, min(v.cx - v.depth / 2 for v in lv) / s))
    x1 = int(min(shape[1], max(v.cx + v.depth / 2 for v in lv) / s))
    return y0, max(y1, y0 + 1), x0, max(x1, x0 + 1)


def _jitter(rng: np.random.Generator, box, s: float, shape: tuple[int, int]):
    """A radiologist's box: the body's outline grown by about a millimetre, each side a bit off."""
    x0, y0, x1, y1 = box
    g = rng.normal(0.8, 0.7, size=4) / s
    x0, y0 = max(0.0, np.floor(x0 - g[0])), max(0.0, np.floor(y0 - g[1]))
    x1, y1 = min(float(shape[1]), np.ceil(x1 + g[2])), min(float(shape[0]), np.ceil(y1 + g[3]))
    return float(x0), float(y0), float(x1), float(y1)


def _background(rng: np.random.Generator, shape: tuple[int, int], s: float, spine: list[Vertebra],
                gain: float):
    """All but the vertebral bodies, drawn on a 3x coarser grid (it is all blurry) and enlarged."""
    f = 3
    small = (-(-shape[0] // f), -(-shape[1] // f))
    mu = _soft_tissue(rng, small, s * f, spine)
    _ribs_and_pelvis(rng, mu, s * f, spine)
    _bowel_gas(rng, mu, s * f, spine)
    for vb in spine:
        render_posterior(mu, vb, s * f, 0.6 * gain)
    return upsample(mu, f, shape)


def _soft_tissue(rng: np.random.Generator, shape: tuple[int, int], s: float, spine: list[Vertebra]):
    """Lateral path through the torso: thick at the spine, air behind the posterior skin line."""
    rows, cols = shape
    y = (np.arange(rows, dtype=np.float32) + 0.5) * s
    x = (np.arange(cols, dtype=np.float32) + 0.5) * s
    cys = np.array([v.cy for v in spine])
    spine_x = np.interp(y, cys, [v.cx for v in spine]).astype(np.float32)
    back = spine_x + np.interp(y, cys, [v.depth * 2.3 for v in spine]) + rng.uniform(35, 75)
    front = spine_x - rng.uniform(150, 230)
    mid, half = (back + front) / 2, (back - front) / 2
    r = (x[None, :] - mid[:, None]) / half[:, None]
    # a flat back and a rounder belly: the lateral path stays long close to the posterior skin
    rr = np.where(r > 0, np.abs(r) ** 4, r * r)
    thick = np.sqrt(np.clip(1 - rr, 0, None)) * (1.0 + 0.12 * (y / y[-1]))[:, None]
    skin = np.clip((back[:, None] - x[None, :]) / s + 0.5, 0, 1)
    bulk = rng.uniform(2.2, 2.8)
    mu = (bulk * (0.35 + 0.65 * thick) * skin).astype(np.float32)
    mu += 0.14 * smooth_noise(rng, shape, 25.0 / s, smooth=1.5)
    # the clutter of everything else the beam crosses (bowel contents, fat planes, vessels)
    mu += 0.015 * smooth_noise(rng, shape, 6.0 / s, smooth=1.0)
    # psoas: a fusiform muscle shadow over the bodies from T12 down, widening towards L4-L5
    t12, l5 = (next(v for v in spine if v.level == lv) for lv in ("T12", "L5"))
    down = np.clip((y - t12.cy) / max(l5.cy - t12.cy, 1.0), 0, 1.3)[:, None]
    width = (8 + 22 * np.sin(np.pi * np.clip(down / 1.3, 0, 1)))
    centre = (spine_x - rng.uniform(0, 12))[:, None]
    mu += (rng.uniform(0.06, 0.14) * np.clip(1 - ((x[None, :] - centre) / width) ** 2, 0, 1)
           * ((down > 0) & (down < 1.3))).astype(np.float32)
    return mu


def _ribs_and_pelvis(rng: np.random.Generator, mu: np.ndarray, s: float, spine: list[Vertebra]):
    """The 11th and 12th ribs crossing T11-L1 (and a 13th pair at a T13) and the iliac crest over L4-L5."""
    rows, cols = mu.shape
    yy = ((np.arange(rows, dtype=np.float32) + 0.5) * s)[:, None]
    xx = ((np.arange(cols, dtype=np.float32) + 0.5) * s)[None, :]
    by = {v.level: v for v in spine}
    for lv in ("T11", "T12", "T13", "L1") if "T13" in by else ("T11", "T12", "L1"):
        if lv != "T13" and rng.random() < 0.25:
            continue
        v = by[lv]
        r = rng.uniform(150, 260)
        cy, cx = v.cy - r * rng.uniform(0.3, 0.6), v.cx + r * rng.uniform(0.75, 0.95)
        dist = np.abs(np.hypot(yy - cy, xx - cx) - r)
        reach = (xx > v.cx - v.depth * rng.uniform(0.0, 0.7)) * (xx < v.cx + v.depth * 1.8)
        band = np.clip((4.5 - dist) / s + 0.5, 0, 1) * reach
        mu += 0.045 * band + 0.035 * np.clip((1.0 - np.abs(dist - 4.0)) / s + 0.5, 0, 1) * band
    l5 = by["L5"]
    r = rng.uniform(95, 130)
    top = (by["L4"].cy + l5.cy) / 2 + rng.uniform(-12, 12)     # the crest's top near the L4-L5 disc
    cy, cx = top + r, l5.cx + rng.uniform(10, 45)
    dist = np.hypot(yy - cy, xx - cx) - r
    crest = np.clip((cy - yy) / r - 0.45, 0, 1) ** 0.5        # only the upper arc is the crest
    wing = np.clip(-dist / s + 0.5, 0, 1) * np.clip(1.2 - (yy - (cy - r)) / (1.2 * r), 0, 1)
    mu += 0.035 * wing + 0.08 * crest * np.clip((1.5 - np.abs(dist + 1.5)) / s + 0.5, 0, 1)


def _bowel_gas(rng: np.random.Generator, mu: np.ndarray, s: float, spine: list[Vertebra]):
    """Dark, mottled gas blobs in front of the spine (some over the bodies); aortic calcification."""
    rows, cols = mu.shape
    by = {v.level: v for v in spine}
    front = min(v.cx - v.depth / 2 for v in spine if not v.level.startswith("S"))
    for _ in range(int(rng.integers(4, 12))):
        ry, rx = rng.uniform(8, 26, size=2)
        cy = rng.uniform(by["T11"].cy, by["S1"].cy)
        cx = front + rng.uniform(-100, 30)
        r = max(ry, rx)                               # the blob turns: its window must hold any angle
        y0, y1 = max(0, int((cy - r) / s)), min(rows, int((cy + r) / s) + 1)
        x0, x1 = max(0, int((cx - r) / s)), min(cols, int((cx + r) / s) + 1)
        if y1 <= y0 or x1 <= x0:
            continue
        yy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * s)[:, None]
        xx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) * s)[None, :]
        blob = soft_ellipse(yy, xx, cy, cx, ry, rx, rng.uniform(0, np.pi))
        mottle = 0.55 + 0.45 * np.clip(smooth_noise(rng, blob.shape, 4.0 / s, smooth=1.0), -1, 1)
        mu[y0:y1, x0:x1] -= rng.uniform(0.08, 0.45) * blob * mottle
    for vb in (v for v in spine if v.level.startswith("L")):
        if rng.random() < 0.35:
            cy, cx = vb.cy + rng.uniform(-10, 10), vb.cx - vb.depth / 2 - rng.uniform(6, 14)
            y0, x0 = int((cy - 3) / s), int((cx - 2) / s)
            if 0 <= y0 < rows - 16 and 0 <= x0 < cols - 16:
                mu[y0:y0 + int(6 / s), x0:x0 + max(1, int(1.2 / s))] += 0.25
