"""One vertebra of the phantom, drawn into a patch of the attenuation map.

Geometry lives in the vertebra's own frame, in millimetres: ``u`` runs from the anterior wall
(-depth/2) to the posterior wall (+depth/2) and on to the posterior elements, ``v`` runs down the
spine (upper endplate at -height/2). Endplates are curves v(u), walls are curves u(v); a soft
signed distance to that outline gives the body, its cortex and its endplates, anti-aliased at the
pixel size; the endplates are kept sharp, the walls a little softer, the rest of the outline soft.
Trabecular texture is a mesh of filtered noise laid out in the same frame, so it turns with the vertebra.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from vcfnet.synth.imaging import blur, sample, smooth_noise
from vcfnet.synth.signs import Signs

TEX_MM = 0.3        # cell of the trabecular texture grid
BONE = 0.32         # attenuation (log units) of the body's bone at unit density, at bone_gain 1
TRABECULAR = 0.36   # the trabecular bone's share of a body's attenuation: on real films the body is a block a
                    # little brighter than the soft tissue around it (at 0.22 the crops showed endplate
                    # lines floating on the background once the walls were faint)
TEXTURE = 0.5       # trabecular texture: relative modulation of the trabecular attenuation
TEX_SIGMA = (1.6, 1.2)   # its grain (cells, rows x columns): a fine grain a little longer down the spine. The
                         # net of the seventh step (2.8, 2.0; modulation 0.7) drew the same lace, cells 2-3 mm
                         # across, in every body, as visible on the whole film as in a crop (real crops show a
                         # fine grain at this size); (5, 0.9) drew fibres with 3-5x more 1-2 mm power across
                         # the spine than down it (real: 1.25x), (8, 0.7) a barcode of stripes
COARSE = 0.6        # the texture's coarse part (3 and 7 mm patches of denser and sparser bone), relative
MESH_WIDTH = 0.45        # line width of the mesh, in standard deviations of the band-passed noise
UNSHARP_MM = 1.6    # blur of the body's outline from its curvature across the beam (sigma, mm)
END_MM = 1.0        # cortical endplate thickness, mm: on the real crops a 1-1.5 mm band (with the blur), not a hairline
ENDPLATE = 0.18     # attenuation of the endplate plates, relative to the body's bone
WALL = 0.14         # ... of the anterior and posterior walls: on the real crops far fainter than the endplates
WALL_MM = 1.2       # the walls fade into the body over this distance (mm): a curved shell, not a drawn line
WALL_BLUR_MM = 0.5  # blur of the walls (sigma, mm): curved across the beam, they are not met edge-on along
                    # their whole width as the endplates are; drawn as sharp as the endplates, every body
                    # was a quadrilateral traced with one pen
SUBCHONDRAL = 0.5   # the denser bone under each endplate (relative to the trabecular path at the endplate) ...
SUBCHONDRAL_MM = 1.5     # ... falling off over this distance: the endplate reads as a bright band, not a line
CORTEX_MM = 0.3     # blur of the cortical plates (sigma, mm): seen edge-on they stay sharp lines
CORTEX_MOTTLE = 0.5      # the cortex's thickness varies along it (relative, on a 3 mm grid): real endplates
                         # fade in and out rather than being drawn with one pen
DOUBLE = 0.56       # the second, oblique endplate contour (the far rim), relative to the endplate: the
                    # rim of one endplate seen obliquely, so a 0.3 mm Gaussian line of this weight
                    # carries as much attenuation as the near plate (0.3 mm thick)
DOUBLE_MM = 0.3     # ... and its width (mm)
WAVINESS_MM = 0.16  # standard deviation of the endplates' waviness
CONCAVITY_MM = 1.6  # depth of the anterior wall's concavity at mid-height
LESION_SMOOTH = 1.2  # smoothing of the lytic and blastic blobs (smooth_noise's parameter): soft-edged lesions


@dataclass
class Vertebra:
    level: str
    cx: float                 # centre in the image, mm
    cy: float
    angle: float              # radians; going down the spine the body turns this far towards posterior
    height: float             # posterior body height, mm, before any fracture
    depth: float              # antero-posterior depth, mm
    excess: float             # anterior minus posterior height, mm
    density: float            # trabecular attenuation
    posterior: bool           # draw pedicle, facets, lamina and spinous process
    oblique: float            # endplate double contour (beam obliquity), mm
    osteophyte: float         # beak size of degenerative osteophytes, 0..1
    signs: Signs | None = None

    def __post_init__(self):
        # plain Python floats: NumPy float64 scalars would promote the float32 patches
        for name in ("cx", "cy", "angle", "height", "depth", "excess", "density", "oblique", "osteophyte"):
            setattr(self, name, float(getattr(self, name)))

    def centre_height(self) -> float:
        """Body height at mid-depth once fractured (what the stack of vertebrae sees)."""
        if self.signs is None:
            return self.height + self.excess / 2
        return self.height + self.excess / 2 - self.signs.loss * self.height * _profile(self.signs, 0.5)

    def wedge_angle(self) -> float:
        """Angle between the endplates added by the fracture (radians, kyphotic > 0)."""
        if self.signs is None:
            return 0.0
        diff = self.signs.loss * self.height * (_profile(self.signs, 0.0) - _profile(self.signs, 1.0))
        return float(np.arctan2(diff, self.depth))


@overload
def _profile(signs: Signs, a: float) -> float: ...
@overload
def _profile(signs: Signs, a: np.ndarray) -> np.ndarray: ...
def _profile(signs: Signs, a: np.ndarray | float) -> np.ndarray | float:
    """Height loss along the depth (0 anterior .. 1 posterior), greatest value 1."""
    ww, wb, wc = signs.shape
    grid = np.linspace(0.0, 1.0, 33)
    norm = float(np.max(ww * (1 - grid) + wb * np.sin(np.pi * grid) + wc * (0.85 + 0.15 * (1 - grid))))
    return (ww * (1 - a) + wb * np.sin(np.pi * a) + wc * (0.85 + 0.15 * (1 - a))) / norm


def render_vertebra(mu: np.ndarray, rng: np.random.Generator, vb: Vertebra, spacing: float,
                    gain: float, bank: np.ndarray) -> tuple[tuple[float, float, float, float], Outline] | None:
    """Add the body of ``vb`` to ``mu`` (rows, cols) in place; return its box in pixels and the outline
    it was drawn with (``synth.landmarks`` measures it), or None when it lies outside ``mu``.

    ``bank``: the patient's trabecular texture (``texture_bank``).
    """
    D, H = vb.depth, vb.height
    patch = _patch(mu.shape, vb, spacing, (-D / 2 - 9, D / 2 + 5), (-0.62 * H - 4, 0.62 * H + 4))
    if patch is None:
        return None
    (y0, y1, x0, x1), u, v = patch
    body, cortex, walls, trabeculae, mask, outline = _body(rng, vb, u, v, spacing, bank)
    # the body's outline is not one curve across its width (anatomical unsharpness), but the cortical
    # plates are thin sheets that the beam meets edge-on: sharp lines (the curved walls less so); the
    # texture is as fine as the bone
    mu[y0:y1, x0:x1] += (gain * BONE) * (blur(body, UNSHARP_MM / spacing) + blur(cortex, CORTEX_MM / spacing)
                                         + blur(walls, WALL_BLUR_MM / spacing) + trabeculae)
    rows = np.flatnonzero(mask.max(axis=1) > 0.5)
    cols = np.flatnonzero(mask.max(axis=0) > 0.5)
    if not len(rows) or not len(cols):
        return None
    box = float(x0 + cols[0]), float(y0 + rows[0]), float(x0 + cols[-1] + 1), float(y0 + rows[-1] + 1)
    return box, outline


def render_posterior(mu: np.ndarray, vb: Vertebra, spacing: float, gain: float) -> None:
    """Add the posterior elements of ``vb`` to ``mu`` in place (a coarse grid will do: they are blurry)."""
    if not vb.posterior:
        return
    D, H = vb.depth, vb.height
    patch = _patch(mu.shape, vb, spacing, (D / 2 - 0.3 * H - 2, D / 2 + 1.4 * D), (-0.95 * H, 0.95 * H))
    if patch is not None:
        (y0, y1, x0, x1), u, v = patch
        mu[y0:y1, x0:x1] += gain * _posterior(vb, u, v)


def _patch(shape: tuple[int, int], vb: Vertebra, s: float, u_range: tuple[float, float],
           v_range: tuple[float, float]):
    """Pixel window holding the frame rectangle u_range x v_range, and its pixels' (u, v)."""
    c, sn = np.cos(vb.angle), np.sin(vb.angle)
    uu, vv = np.meshgrid(np.asarray(u_range), np.asarray(v_range))
    xs = vb.cx + uu * c + vv * sn
    ys = vb.cy - uu * sn + vv * c
    x0, x1 = max(0, int(xs.min() / s)), min(shape[1], int(np.ceil(xs.max() / s)))
    y0, y1 = max(0, int(ys.min() / s)), min(shape[0], int(np.ceil(ys.max() / s)))
    if x1 <= x0 or y1 <= y0:
        return None
    dx = ((np.arange(x0, x1, dtype=np.float32) + 0.5) * np.float32(s) - np.float32(vb.cx))[None, :]
    dy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * np.float32(s) - np.float32(vb.cy))[:, None]
    u = dx * np.float32(c) - dy * np.float32(sn)
    v = dx * np.float32(sn) + dy * np.float32(c)
    return (y0, y1, x0, x1), u, v


def _edge(d: np.ndarray, s: float) -> np.ndarray:
    """Anti-aliased inside-ness of a signed distance (mm, > 0 inside) at pixel size ``s``."""
    return np.clip(d / s + 0.5, 0.0, 1.0)


@dataclass(frozen=True)
class Outline:
    """The random part of one body's outline, drawn once (``draw_outline``) and evaluated anywhere (``endplate_curves``, ``wall_curves``):
    the endplates' and walls' waviness, the ragged endplate of cortical loss and the buckle's height."""
    top: np.ndarray       # 9 knots of the upper endplate's waviness along the depth, mm
    bot: np.ndarray       # ... of the lower endplate
    rag: np.ndarray       # 9 knots of the ragged upper endplate (fractures only; zeros otherwise)
    buckle_v: float       # height of the anterior buckle in the frame, mm (fractures only)
    front: np.ndarray     # 7 knots of the anterior wall's waviness down the body, mm
    back: np.ndarray      # ... of the posterior wall


def draw_outline(rng: np.random.Generator, vb: Vertebra) -> Outline:
    """Draw the outline's random knots, in the order the renderer has always drawn them."""
    top = rng.normal(0, WAVINESS_MM, 9)
    bot = rng.normal(0, WAVINESS_MM, 9)
    rag, buckle_v = np.zeros(9), 0.0
    if vb.signs is not None:
        rag = rng.uniform(-1, 1, 9)
        buckle_v = -vb.height / 2 + (0.25 + 0.3 * rng.random()) * vb.height
    return Outline(top, bot, rag, buckle_v, rng.normal(0, 0.4, 7), rng.normal(0, 0.3, 7))


def endplate_curves(vb: Vertebra, ol: Outline, u: np.ndarray):
    """Depth fraction ``a`` (0 anterior .. 1 posterior) and the upper / lower endplate curves v(u), mm."""
    H, D, sg = vb.height, vb.depth, vb.signs
    a = np.clip((u + D / 2) / D, 0.0, 1.0)
    dome = 4 * a * (1 - a)
    top = -H / 2 - vb.excess * (1 - a) / 2 + 0.8 * dome
    bot = H / 2 + vb.excess * (1 - a) / 2 - 0.9 * dome
    # no endplate is a smooth curve: a gentle waviness of a few tenths of a millimetre
    knots = np.linspace(0, 1, 9)
    top = top + np.interp(a, knots, ol.top).astype(np.float32)
    bot = bot + np.interp(a, knots, ol.bot).astype(np.float32)
    if sg is not None:
        loss = sg.loss * H * _profile(sg, a)
        top = top + sg.superior * loss
        bot = bot - (1 - sg.superior) * loss
        # a rounded dip and a step of a millimetre's width: a V with a sharp tip looked drawn
        notch = np.exp(-((a - sg.break_pos) / 0.09) ** 2)
        step = 1.0 / (1.0 + np.exp(np.clip((a - sg.break_pos) * D / 0.8, -30, 30)))
        top = top + sg.step * (2.5 * step + 2.0 * notch)
        rag = np.interp(a, np.linspace(0, 1, 9), ol.rag).astype(np.float32)
        top = top + 1.1 * sg.cortical_loss * rag
    return a, top, bot


def wall_curves(vb: Vertebra, ol: Outline, v: np.ndarray):
    """Anterior and posterior wall curves u(v), mm."""
    H, D, sg = vb.height, vb.depth, vb.signs
    front_shift = np.zeros_like(v)
    bulge = 0.0
    if sg is not None:
        front_shift = sg.buckle * 3.0 * np.exp(-((v - ol.buckle_v) / 1.6) ** 2)
        bulge = 1.0 + 3.0 * sg.bulge if sg.bulge > 0 else 0.0
    vn = np.clip(2 * v / H, -1, 1)
    wall_knots = np.linspace(-1, 1, 7)
    front = (-D / 2 + CONCAVITY_MM * (1 - vn ** 2) - front_shift
             + np.interp(vn, wall_knots, ol.front).astype(np.float32))
    back = (D / 2 - 0.5 * (1 - vn ** 2) + bulge * (1 - vn ** 2)
            + np.interp(vn, wall_knots, ol.back).astype(np.float32))
    return front, back


def _body(rng: np.random.Generator, vb: Vertebra, u: np.ndarray, v: np.ndarray, s: float,
          bank: np.ndarray):
    """Attenuation of the vertebral body and its anti-aliased mask."""
    sg = vb.signs
    outline = draw_outline(rng, vb)
    a, top, bot = endplate_curves(vb, outline, u)
    front, back = wall_curves(vb, outline, v)
    dt, db = v - top, bot - v
    du = np.minimum(u - front, back - u)
    dv = np.minimum(dt, db)
    r = 1.2
    corner = (du < r) & (dv < r)
    d = np.where(corner, r - np.hypot(r - np.minimum(du, r), r - np.minimum(dv, r)), np.minimum(du, dv))
    mask = _edge(d, s)
    scl = sg.sclerosis if sg else 0.0
    end_top, end_bot = _edge(END_MM - dt, s), _edge(END_MM - db, s)
    thick = _edge(END_MM + 2.5 * scl - dt, s) + _edge(END_MM + 2.5 * scl - db, s)
    if sg is not None:
        gap = sg.step * np.exp(-(((a - sg.break_pos) * vb.depth) / 1.6) ** 2)
        end_top = end_top * (1 - 0.9 * gap)
    walls = np.exp(-np.clip(du, 0, None) / WALL_MM)
    tex, holes, dense = _textures(rng, vb, u, v, bank)
    # a body is a rounded cylinder seen from the side: less trabecular path near the walls
    ru = np.clip(2 * u / vb.depth, -1, 1)
    path = TRABECULAR * vb.density * (0.3 + 0.35 * np.sqrt(1 - ru * ru))
    # sclerosis thickens the endplate into a band under it (blurred with the outline)
    trab = path + 0.8 * scl * thick
    # under each endplate the trabeculae are denser (subchondral bone): a band fading into the body
    # (0.65: the path at mid-depth, where ``path`` peaks)
    trab = trab + (SUBCHONDRAL * TRABECULAR * vb.density * 0.65) * _beneath(dt, db, SUBCHONDRAL_MM)
    mottle = _mottle(rng, vb, u, v)
    cortex = (ENDPLATE * np.maximum(end_top, end_bot) + _double_contour(vb, a, top, bot, v)) * mottle
    walls = WALL * walls * mottle
    if sg is not None:
        trab = trab * (1 - 0.2 * sg.lysis - 0.8 * sg.lysis * holes) + 0.35 * sg.blastic * dense
        trab = trab + vb.density * (0.6 * scl * _beneath(dt, db, 3.5)
                                    + 0.5 * sg.impaction * np.exp(-((dt - 3.0) / 1.2) ** 2))
        lost = 1 - sg.cortical_loss * np.clip(1.5 * holes + 0.6 * (u > vb.depth / 4), 0, 1)
        cortex, walls = cortex * lost, walls * lost
    body = mask * trab + _osteophytes(vb, u, v, top, bot, s)   # beaks: soft outgrowths of the corners
    cortex, walls = mask * cortex, mask * walls
    trabeculae = (mask * TEXTURE) * path * tex
    if sg is not None:
        trabeculae = trabeculae * (1 - 0.5 * sg.lysis)
    return (body.astype(np.float32), np.asarray(cortex, np.float32), np.asarray(walls, np.float32),
            trabeculae.astype(np.float32), mask, outline)


def _beneath(dt: np.ndarray, db: np.ndarray, mm: float) -> np.ndarray:
    """Weight of the bone just beneath the endplates: 1 at each plate, falling off over ``mm`` into the body
    (``dt``, ``db``: mm below the upper and above the lower endplate)."""
    return np.exp(-np.clip(dt, 0, None) / mm) + np.exp(-np.clip(db, 0, None) / mm)


def texture_bank(rng: np.random.Generator) -> np.ndarray:
    """Trabecular texture for one patient (unit std), 90 x 110 mm on a 0.3 mm grid.

    Projected through a body, the trabeculae make a mesh: the zero crossings of band-passed noise are
    a network of curved lines (plates and rods seen end-on), slightly elongated down the spine. Vertebrae
    read the bank at random offsets, so one filtering pass serves the whole spine.
    """
    shape = (int(90 / TEX_MM), int(110 / TEX_MM))
    white = rng.standard_normal(shape, dtype=np.float32)
    band = blur(white, TEX_SIGMA) - blur(white, (3 * TEX_SIGMA[0], 3 * TEX_SIGMA[1]))
    band /= band.std() + 1e-6
    mesh = np.exp(-(band / MESH_WIDTH) ** 2)
    mesh = (mesh - mesh.mean()) / (mesh.std() + 1e-6)
    coarse = (smooth_noise(rng, shape, 3.0 / TEX_MM, smooth=1.0)
              + 0.8 * smooth_noise(rng, shape, 7.0 / TEX_MM, smooth=1.0))
    return 0.8 * mesh + 0.3 * band + COARSE * coarse


def _textures(rng: np.random.Generator, vb: Vertebra, u: np.ndarray, v: np.ndarray, bank: np.ndarray):
    """Trabecular texture (unit std), lytic holes (0..1) and blastic patches (0..1) at (u, v)."""
    nu = int((vb.depth + 8) / TEX_MM)
    nv = int((vb.height + 8) / TEX_MM)
    oy = rng.uniform(0, bank.shape[0] - nv - 1)      # each vertebra reads its own part of the bank
    ox = rng.uniform(0, bank.shape[1] - nu - 1)
    gy = (v + vb.height / 2 + 4) / TEX_MM
    gx = (u + vb.depth / 2 + 4) / TEX_MM
    tex = sample(bank, gy + np.float32(oy), gx + np.float32(ox))
    if vb.signs is None or (vb.signs.lysis <= 0 and vb.signs.blastic <= 0 and vb.signs.cortical_loss <= 0):
        return tex, 0.0, 0.0
    sm = LESION_SMOOTH
    blobs = smooth_noise(rng, (nv, nu), 1.8 / TEX_MM, smooth=sm) + 0.7 * smooth_noise(rng, (nv, nu), 0.9 / TEX_MM, smooth=sm)
    thr = 1.5 - 1.1 * vb.signs.lysis
    holes = np.clip((sample(blobs, gy, gx) - thr) * 1.6, 0, 1)
    dense = np.clip((sample(smooth_noise(rng, (nv, nu), 3.0 / TEX_MM, smooth=sm), gy, gx) - 0.8) * 1.5, 0, 1)
    return tex, holes, dense


def _mottle(rng: np.random.Generator, vb: Vertebra, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Relative thickness of the cortex along the body: smooth noise on a 3 mm grid, 0.2-2x."""
    grid = 3.0
    field = smooth_noise(rng, (int((vb.height + 8) / grid) + 2, int((vb.depth + 8) / grid) + 2), 1.0, smooth=0.8)
    rel = sample(field, (v + vb.height / 2 + 4) / grid, (u + vb.depth / 2 + 4) / grid)
    return np.clip(1 + CORTEX_MOTTLE * rel, 0.2, 2.0)


def _double_contour(vb: Vertebra, a: np.ndarray, top: np.ndarray, bot: np.ndarray, v: np.ndarray):
    """The far rim of each endplate, a second thin line where the beam meets it obliquely."""
    if vb.oblique < 0.3:
        return 0.0
    e = vb.oblique * np.sqrt(np.clip(1 - (2 * a - 1) ** 2, 0, 1))
    return DOUBLE * ENDPLATE * (np.exp(-((v - top - e) / DOUBLE_MM) ** 2) + np.exp(-((v - bot + e) / DOUBLE_MM) ** 2))


def _osteophytes(vb: Vertebra, u: np.ndarray, v: np.ndarray, top: np.ndarray, bot: np.ndarray,
                 s: float) -> np.ndarray | float:
    """Beak osteophytes growing from the anterior corners towards the disc."""
    size = max(vb.osteophyte, vb.signs.osteophyte if vb.signs else 0.0)
    if size < 0.05:
        return 0.0
    length = 1.0 + 6.0 * size
    out = 0.0
    for sign, edge in ((-1.0, top), (1.0, bot)):
        p = -(u + vb.depth / 2)                       # mm in front of the anterior wall
        q = sign * (v - edge)                         # mm beyond the endplate, into the disc
        centre = -0.5 + 0.6 * np.clip(p, 0, None) ** 2 / length
        half = 1.4 * np.clip(1 - p / length, 0, 1) + 0.15
        inside = _edge(half - np.abs(q - centre), s) * _edge(length - p, s) * _edge(p + 2.5, s)
        out = out + 0.4 * inside
    return out


def _posterior(vb: Vertebra, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The neural arch seen from the side, each part a bone tube with a cortical shell (``_tube``): the
    pedicle leaving the upper half of the posterior wall, the superior and inferior articular processes
    rising and falling from the pars (the facet joints between neighbours), the lamina sloping back and
    down, the hatchet-shaped spinous process (thoracic ones slope down more), and the transverse process
    seen end-on over the pedicle. Between two pedicles the intervertebral foramen stays dark."""
    D, H = vb.depth, vb.height
    up = D / 2
    ped = 1.0 - (vb.signs.pedicle if vb.signs else 0.0)
    thoracic = vb.level.startswith("T")
    pars = (up + 0.36 * D, -0.12 * H)
    # the arch is one bone: where its parts join, the beam crosses one mass, not two (max, not sum)
    # the pedicle leaves the posterior wall: it has no rounded end over the body (a disc there, not bone)
    root = 1.0 / (1.0 + np.exp(np.clip((up - u) / 0.8, -30, 30)))
    parts = [0.30 * ped * root * _tube(u, v, (up - 2.0, -0.24 * H), (up + 0.3 * D, -0.2 * H), 0.2 * H),
             0.15 * _tube(u, v, pars, (up + 0.40 * D, -0.66 * H), 0.085 * H),                # superior process
             0.15 * _tube(u, v, (up + 0.44 * D, 0.12 * H), (up + 0.50 * D, 0.70 * H), 0.085 * H),   # inferior
             0.20 * _tube(u, v, pars, (up + 0.58 * D, 0.38 * H), 0.13 * H)]                  # pars and lamina
    if thoracic:   # long, sloping down
        parts.append(0.16 * _tube(u, v, (up + 0.52 * D, 0.1 * H), (up + 0.95 * D, 0.7 * H), 0.12 * H))
    else:          # a broad blunt plate
        parts.append(0.12 * _tube(u, v, (up + 0.58 * D, 0.02 * H), (up + 0.92 * D, 0.14 * H), 0.27 * H))
    out = np.maximum.reduce(parts)
    # the transverse processes stick out sideways: seen end-on over the pedicle, another bone on the path
    # (a thin plate end-on: an ill-defined oval without a cortical rim, not a disc)
    out += 0.05 * _tube(u, v, (up + 0.15 * D, -0.22 * H), (up + 0.17 * D, 0.0), 0.17 * H, wall=0.0)
    return out


def _tube(u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float,
          wall: float = 1.3) -> np.ndarray:
    """Projected thickness (relative to the diameter) of a bone rod from ``a`` to ``b`` (u, v in mm) of
    radius ``r``, rounded at its ends: a cortical shell ``wall`` mm thick around half-dense marrow, so
    its edges are brighter than its middle, as a real process is."""
    au, av = a
    du, dv = b[0] - au, b[1] - av
    t = np.clip(((u - au) * du + (v - av) * dv) / max(du * du + dv * dv, 1e-6), 0.0, 1.0)
    d2 = (u - au - t * du) ** 2 + (v - av - t * dv) ** 2
    outer = np.sqrt(np.clip(r * r - d2, 0.0, None))
    ri = max(r - wall, 0.4 * r)
    inner = np.sqrt(np.clip(ri * ri - d2, 0.0, None))
    return ((outer - 0.5 * inner) / r).astype(np.float32)
