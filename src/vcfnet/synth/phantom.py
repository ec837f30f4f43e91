"""A lateral lumbar radiograph phantom: anatomy -> attenuation map -> site acquisition.

``render_patient`` lays out T10-S2 along a lordotic curve (each fracture adds its kyphotic wedge
angle), puts soft tissue, the lungs above the diaphragm, the posterior skin line, ribs, the iliac
crests, aortic calcification and bowel gas around it, draws every vertebra (``synth_vertebra``) and
runs the site's imaging chain (``synth_imaging.acquire``). Boxes are the fractured bodies' outlines with a little jitter, as a
radiologist draws them in LabelImg.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vcfnet.synth.imaging import acquire, blur, smooth_noise, soft_ellipse, upsample
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
#: Peak attenuation (log units) of the faint curvilinear planes over and around the spine (``_planes``).
PLANES = 0.05
ARCH_MM = 0.8       # blur of the neural arch (sigma, mm): round bones at several depths, no sharp edge; drawn
                    # sharp, the pedicles and foramina made a ladder of crisp bars behind the bodies
FINE = 0.01         # the finest soft-tissue clutter (attenuation std) and ...
FINE_MM = 1.0       # ... its grain (mm): bowel contents and fat at film scale; without it the backgrounds were
                    # the detector's white noise alone, where real crops show mottled tissue
CLUTTER_FROM_MM = 5.0   # the bowel clutter stays full strength up to this far behind the posterior walls ...
CLUTTER_FADE_MM = 25.0  # ... then fades over this distance ...
CLUTTER_BEHIND = 0.25   # ... to this share over the paraspinal muscles


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
    oblique = rng.uniform(0.0, 3.5)
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
    """All but the vertebral bodies: soft tissue, iliac crests, gas and the posterior elements on a 3x
    coarser grid (it is all blurry) and enlarged, then the ribs at full resolution."""
    f = 3
    small = (-(-shape[0] // f), -(-shape[1] // f))
    mu = _soft_tissue(rng, small, s * f, spine)
    _iliac_crests(rng, mu, s * f, spine)
    _bowel_gas(rng, mu, s * f, spine)
    arch = np.zeros_like(mu)
    for vb in spine:
        render_posterior(arch, vb, s * f, 0.35 * gain)
    mu += blur(arch, ARCH_MM / (s * f))    # round bones at several depths: no edge of theirs is sharp
    mu = upsample(mu, f, shape)
    mu += FINE * smooth_noise(rng, shape, FINE_MM / s, smooth=1.0) * _clutter_weight(shape, s, spine)
    _ribs(rng, mu, s, spine)      # at full resolution: their cortices are thin sharp lines
    _planes(rng, mu, s, spine, PLANES)
    return mu


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
    w = _clutter_weight(shape, s, spine)
    mu += 0.015 * smooth_noise(rng, shape, 6.0 / s, smooth=1.0) * w
    mu += 0.015 * smooth_noise(rng, shape, 2.5 / s, smooth=1.0) * w
    # psoas: a fusiform muscle shadow over the bodies from T12 down, widening towards L4-L5
    t12, l5 = (next(v for v in spine if v.level == lv) for lv in ("T12", "L5"))
    down = np.clip((y - t12.cy) / max(l5.cy - t12.cy, 1.0), 0, 1.3)[:, None]
    width = (8 + 22 * np.sin(np.pi * np.clip(down / 1.3, 0, 1)))
    centre = (spine_x - rng.uniform(0, 12))[:, None]
    mu += (rng.uniform(0.06, 0.14) * np.clip(1 - ((x[None, :] - centre) / width) ** 2, 0, 1)
           * np.sin(np.pi * np.clip(down / 1.3, 0, 1)) ** 0.7).astype(np.float32)
    mu -= _lungs(rng, y, x, spine, back, front) * (bulk * (0.35 + 0.65 * thick) * skin).astype(np.float32)
    return mu


def _clutter_weight(shape: tuple[int, int], s: float, spine: list[Vertebra]) -> np.ndarray:
    """Where the beam crosses bowel: 1 from the belly to just behind the bodies' posterior walls, falling to
    ``CLUTTER_BEHIND`` over the paraspinal muscles (drawn everywhere, the clutter made the whole film look
    grainy and cloudy, where real films are smooth behind the spine)."""
    y = (np.arange(shape[0], dtype=np.float32) + 0.5) * s
    x = (np.arange(shape[1], dtype=np.float32) + 0.5) * s
    cys = [v.cy for v in spine]
    wall = np.interp(y, cys, [v.cx + v.depth / 2 for v in spine]).astype(np.float32) + CLUTTER_FROM_MM
    fall = np.clip((x[None, :] - wall[:, None]) / CLUTTER_FADE_MM, 0, 1)
    return (1 - (1 - CLUTTER_BEHIND) * fall * fall * (3 - 2 * fall)).astype(np.float32)


def _lungs(rng: np.random.Generator, y: np.ndarray, x: np.ndarray, spine: list[Vertebra], back: np.ndarray,
           front: np.ndarray) -> np.ndarray:
    """Share of the soft-tissue path that is air-filled lung, above the two hemidiaphragms (rows, cols).

    Each hemidiaphragm is a dome, highest in front of the spine (above T11, often above the film) and
    falling steeply to the posterior costophrenic recess behind the spine (near T12-L1); the two sit
    5-25 mm apart, so the thoracolumbar bodies show a double edge. Above it a faint texture of lung vessels."""
    by = {v.level: v for v in spine}
    t11, l1 = by["T11"], by["L1"]
    air = np.zeros((len(y), len(x)), np.float32)
    sulcus0 = l1.cy - l1.height / 2 + rng.uniform(-20, 8)
    for k in range(2):
        sulcus = sulcus0 + k * rng.uniform(5, 25)
        dome = t11.cy + rng.uniform(-45, -15) + k * rng.uniform(0, 12)
        x_back = np.interp(sulcus, y, back) - rng.uniform(15, 30)
        x_front = t11.cx - rng.uniform(60, 110)
        a = np.clip((x - x_front) / max(x_back - x_front, 1.0), 0, 1)
        edge = dome + (sulcus - dome) * a ** 1.6 - 20.0 * np.clip((x_front - x) / 80.0, 0, 1)
        inside = np.clip((edge[None, :] - y[:, None]) / 8.0, 0, 1)     # soft: the dome is curved across the beam
        air += 0.5 * inside
    vessels = 1.0 + 0.1 * np.clip(smooth_noise(rng, air.shape, 5.0 / max(y[1] - y[0], 1e-3), smooth=1.0), -2, 2)
    # the lungs stop short of the skin: ribs and chest wall muscle lie outside them
    inner = (np.clip((back[:, None] - 12 - x[None, :]) / 20, 0, 1)
             * np.clip((x[None, :] - front[:, None] - 12) / 20, 0, 1))
    return (rng.uniform(0.05, 0.12) * air * vessels * inner).astype(np.float32)


def _ribs(rng: np.random.Generator, mu: np.ndarray, s: float, spine: list[Vertebra]):
    """The 11th and 12th ribs crossing T11-L1 (and a 13th pair at a T13), at full resolution.

    A rib is a curved bone tube (a cortical shell: two bright edges, a greyer middle) that tapers and fades
    towards its free anterior end. Each pair is seen twice, the far rib a little larger and offset (beam
    divergence).
    """
    by = {v.level: v for v in spine}
    for lv in ("T11", "T12", "T13", "L1") if "T13" in by else ("T11", "T12", "L1"):
        if lv != "T13" and rng.random() < 0.25:
            continue
        v = by[lv]
        r = rng.uniform(150, 260)
        cy, cx = v.cy - r * rng.uniform(0.3, 0.6), v.cx + r * rng.uniform(0.75, 0.95)
        start = v.cx + v.depth * 1.8
        free = v.cx - v.depth * rng.uniform(0.0, 0.7)
        for shift, grow in ((0.0, 1.0), (rng.uniform(2, 7), rng.uniform(1.02, 1.06))):
            # the lower branch of the circle between the free end and 30 mm behind the spine
            xs = np.linspace(free, start + 30.0, 64)
            ys = cy + shift + np.sqrt(np.clip((r * grow) ** 2 - (xs - cx) ** 2, 0, None))
            win = _window(mu.shape, s, (ys.min() - 6, ys.max() + 6), (free, start + 30.0))
            if win is None:
                continue
            (y0, x0), yy, xx = win
            along = np.clip((xx - free) / max(start - free, 1.0), 0, 1)      # 0 at the free end, 1 at the spine
            reach = np.clip((xx - free) / 8.0, 0, 1) * np.clip((start + 30.0 - xx) / 30.0, 0, 1)  # fades behind
            dist = np.abs(np.hypot(yy - cy - shift, xx - cx) - r * grow) * (yy > cy + shift)
            dist = dist + 1e3 * (yy <= cy + shift)
            radius = 3.0 + 1.8 * along
            # a hollow tube: its cortex (0.8 mm) shows as two lines, the marrow between them faint
            tube = np.sqrt(np.clip(radius ** 2 - dist ** 2, 0, None)) - 0.85 * np.sqrt(
                np.clip((radius - 0.8) ** 2 - dist ** 2, 0, None))
            mu[y0:y0 + yy.shape[0], x0:x0 + xx.shape[1]] += (
                0.016 * (0.45 + 0.55 * along) * reach * tube).astype(np.float32)


def _iliac_crests(rng: np.random.Generator, mu: np.ndarray, s: float, spine: list[Vertebra]):
    """The iliac crests over L4-L5: two dense arcs convex upwards (near and far side, offset by beam
    divergence), the wing fading out below them (a coarse grid will do)."""
    by = {v.level: v for v in spine}
    l4, l5 = by["L4"], by["L5"]
    top = (l4.cy + l5.cy) / 2 + rng.uniform(-12, 12)     # the crest's top near the L4-L5 disc
    r = rng.uniform(110, 160)
    cx0 = l5.cx + rng.uniform(0, 35)
    for shift, grow, weight in ((0.0, 1.0, 1.0), (rng.uniform(3, 12), rng.uniform(1.0, 1.08), 0.8)):
        cy, cx = top + shift + r * grow, cx0 + rng.uniform(-6, 6)
        # the crest runs from the anterior superior iliac spine to the posterior one, ~50 deg each side
        win = _window(mu.shape, s, (cy - r * grow - 6, cy), (cx - r * grow, cx + r * grow))
        if win is None:
            continue
        (y0, x0), yy, xx = win
        dist = np.hypot(yy - cy, xx - cx) - r * grow                       # < 0 inside the arc
        ang = np.arctan2(xx - cx, cy - yy)
        span = np.clip((0.75 - np.abs(ang - 0.15)) / 0.2, 0, 1)
        crest = np.sqrt(np.clip(9.0 - (dist + 3.0) ** 2, 0, None)) - 0.6 * np.sqrt(
            np.clip(4.0 - (dist + 3.0) ** 2, 0, None))
        wing = np.clip(-dist / 4.0, 0, 1) * np.exp(-np.clip(-dist, 0, None) / 45.0)
        mu[y0:y0 + yy.shape[0], x0:x0 + xx.shape[1]] += (
            weight * span * (0.028 * crest + 0.05 * wing)).astype(np.float32)


def _window(shape: tuple[int, int], s: float, ys: tuple[float, float], xs: tuple[float, float]):
    """The pixels of ``shape`` inside the rectangle ``ys`` x ``xs`` (mm): their top-left index and the
    (rows, 1) and (1, cols) millimetre coordinates of their centres, or None when it misses the image."""
    y0, y1 = max(0, int(ys[0] / s)), min(shape[0], int(np.ceil(ys[1] / s)))
    x0, x1 = max(0, int(xs[0] / s)), min(shape[1], int(np.ceil(xs[1] / s)))
    if y1 <= y0 or x1 <= x0:
        return None
    yy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * s)[:, None]
    xx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) * s)[None, :]
    return (y0, x0), yy, xx


def _bowel_gas(rng: np.random.Generator, mu: np.ndarray, s: float, spine: list[Vertebra]):
    """Bowel gas in front of the spine (some over the bodies): loops of colon, tubes of gas 8-22 mm wide
    winding a few centimetres, and mottled stool (gas trapped in faeces); aortic calcification."""
    rows, cols = mu.shape
    by = {v.level: v for v in spine}
    front = min(v.cx - v.depth / 2 for v in spine if not v.level.startswith("S"))
    gas = np.zeros_like(mu)
    for _ in range(int(rng.integers(2, 6))):
        cy = rng.uniform(by["T12"].cy, by["S1"].cy)
        cx = front + rng.uniform(-110, 25)
        heading = rng.uniform(0, 2 * np.pi)
        width = rng.uniform(4, 11)
        depth = rng.uniform(0.04, 0.15)
        for a, b in _walk(rng, (cy, cx), heading, int(rng.integers(4, 14)), (5, 10), 0.6):
            _rod(gas, s, a, b, width, depth)
    for _ in range(int(rng.integers(0, 4))):           # stool: a patch of trapped gas, mottled
        cy = rng.uniform(by["L2"].cy, by["S1"].cy)
        cx = front + rng.uniform(-100, 0)
        r = rng.uniform(12, 25)
        y0, y1 = max(0, int((cy - r) / s)), min(rows, int((cy + r) / s) + 1)
        x0, x1 = max(0, int((cx - r) / s)), min(cols, int((cx + r) / s) + 1)
        if y1 <= y0 or x1 <= x0:
            continue
        yy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * s)[:, None]
        xx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) * s)[None, :]
        patch = soft_ellipse(yy, xx, cy, cx, r, r * rng.uniform(0.8, 1.5), rng.uniform(0, np.pi))
        bubbles = np.clip(smooth_noise(rng, patch.shape, 2.5 / s, smooth=1.0) - 0.3, 0, 1.5)
        np.maximum(gas[y0:y1, x0:x1], rng.uniform(0.04, 0.1) * np.sqrt(patch) * bubbles, out=gas[y0:y1, x0:x1])
    mu -= gas * (0.75 + 0.25 * np.clip(smooth_noise(rng, mu.shape, 5.0 / s, smooth=1.0), -1, 1))
    calc = np.zeros_like(mu)     # aortic calcification: short curvilinear plaques along the aorta's wall
    for vb in (v for v in spine if v.level.startswith("L")):
        if rng.random() < 0.35:
            cy, cx = vb.cy + rng.uniform(-10, 10), vb.cx - vb.depth / 2 - rng.uniform(6, 14)
            length = rng.uniform(3, 12)
            _rod(calc, s, (cy - length / 2, cx), (cy + length / 2, cx + rng.uniform(-1.5, 1.5)),
                      rng.uniform(1.0, 1.5), rng.uniform(0.05, 0.12))
    mu += calc

def _walk(rng: np.random.Generator, start: tuple[float, float], heading: float, steps: int,
          step_mm: tuple[float, float], turn: float, bend: float = 0.0):
    """A random walk of ``steps`` segments ((y, x) mm pairs): each ``step_mm`` long (uniform), the heading
    turning by ``bend`` plus normal noise of ``turn`` radians after each."""
    cy, cx = start
    for _ in range(steps):
        step = rng.uniform(*step_mm)
        ny, nx = cy + step * np.cos(heading), cx + step * np.sin(heading)
        yield (cy, cx), (ny, nx)
        cy, cx = ny, nx
        heading += bend + rng.normal(0, turn)


def _chord(shape: tuple[int, int], s: float, a: tuple[float, float], b: tuple[float, float], r: float):
    """The window (y0, y1, x0, x1) of pixels ``s`` mm within ``r`` mm of the segment ``a``-``b`` ((y, x) mm)
    and, on it, the relative chord through a rod of radius ``r`` round that segment (1 on its axis); None
    where the window is empty."""
    rows, cols = shape
    y0, y1 = max(0, int((min(a[0], b[0]) - r) / s)), min(rows, int((max(a[0], b[0]) + r) / s) + 1)
    x0, x1 = max(0, int((min(a[1], b[1]) - r) / s)), min(cols, int((max(a[1], b[1]) + r) / s) + 1)
    if y1 <= y0 or x1 <= x0:
        return None
    yy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * s)[:, None]
    xx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) * s)[None, :]
    dy, dx = b[0] - a[0], b[1] - a[1]
    t = np.clip(((yy - a[0]) * dy + (xx - a[1]) * dx) / max(dy * dy + dx * dx, 1e-6), 0.0, 1.0)
    d2 = (yy - a[0] - t * dy) ** 2 + (xx - a[1] - t * dx) ** 2
    return (y0, y1, x0, x1), np.sqrt(np.clip(r * r - d2, 0, None)) / r


def _rod(gas: np.ndarray, s: float, a: tuple[float, float], b: tuple[float, float], r: float,
         depth: float) -> None:
    """Add a rod (radius ``r`` mm, ``a`` to ``b`` in (y, x) mm, ``depth`` at its axis) to the map ``gas`` in
    place: the path through it is its chord, so its edges are soft; where rods overlap the map keeps the
    larger (one loop of bowel is one tube of gas, not twice the gas)."""
    hit = _chord(gas.shape, s, a, b, r)
    if hit is not None:
        (y0, y1, x0, x1), chord = hit
        np.maximum(gas[y0:y1, x0:x1], depth * chord, out=gas[y0:y1, x0:x1])


def _planes(rng: np.random.Generator, mu: np.ndarray, s: float, spine: list[Vertebra], amp: float):
    """Faint curvilinear lines over and around the spine: fascial and fat planes, bowel walls, vessel
    walls, the far side's cortices: thin (0.3-0.9 mm), a few centimetres long, brighter or darker."""
    ys = [v.cy for v in spine]
    xs = [v.cx for v in spine]
    lines = np.zeros_like(mu)
    for _ in range(int(rng.integers(6, 16))):
        k = rng.uniform(0, len(spine) - 1)
        cy = np.interp(k, np.arange(len(spine)), ys) + rng.normal(0, 10)
        cx = np.interp(k, np.arange(len(spine)), xs) + rng.normal(0, 30)
        heading = rng.uniform(0, 2 * np.pi)
        width = rng.uniform(0.3, 0.9)
        depth = rng.uniform(0.3, 1.0) * amp * (1 if rng.random() < 0.85 else -1)
        bend = rng.normal(0, 0.35)
        for a, b in _walk(rng, (cy, cx), heading, int(rng.integers(3, 8)), (3, 6), 0.15, bend):
            _line(lines, s, a, b, width, depth)
    mu += lines


def _line(out: np.ndarray, s: float, a, b, r: float, depth: float) -> None:
    """Draw the segment a-b (mm) of half-width ``r`` into ``out`` (pixel ``s`` mm), keeping the stronger value
    (``depth`` may be negative: a darker line)."""
    hit = _chord(out.shape, s, a, b, r)
    if hit is not None:
        (y0, y1, x0, x1), chord = hit
        prof = (depth * chord).astype(np.float32)
        win = out[y0:y1, x0:x1]
        np.copyto(win, np.where(np.abs(prof) > np.abs(win), prof, win))
