"""Radiological signs of a fractured vertebra, drawn per class with deliberate overlap.

Each class has typical signs (acute: height loss with an endplate break or a cortical step and no
sclerosis; chronic: a smooth wedge with sclerotic endplates and osteophytes; pathological: lytic,
mottled destruction, posterior wall bulge, more uniform collapse), but every sign is a strength
drawn from an overlapping distribution, some cases show their signs only faintly, and a share of
cases mimic another class (an acute fracture on an old deformity, a healed metastasis), so the
classes are hard to separate, as in the real study.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vcfnet.labels import CLASSES

#: Share of fractures whose signs are drawn from another class's profile (irreducible confusion).
MIMIC_RATE = 0.10


@dataclass(frozen=True)
class Signs:
    """Strengths of the signs of one fractured vertebra (0 = absent, 1 = florid)."""
    loss: float                       # greatest height loss, fraction of the height
    shape: tuple[float, float, float]  # weights of wedge, biconcave and uniform (crush) collapse
    superior: float                   # share of the loss taken by the superior endplate
    step: float                       # endplate break / step-off with a notch (a rounded dip)
    break_pos: float                  # where the endplate breaks, 0 anterior .. 1 posterior
    buckle: float                     # anterior cortical buckle (a step in the anterior wall)
    impaction: float                  # faint condensation band under the broken endplate
    sclerosis: float                  # smooth thick sclerotic endplates, subchondral density
    lysis: float                      # lytic, mottled destruction of the trabecular bone
    cortical_loss: float              # patchy loss of the cortex, ragged endplates
    bulge: float                      # convex posterior wall bulging into the canal
    blastic: float                    # dense (blastic) patches
    pedicle: float                    # destruction of the pedicle
    osteophyte: float                 # anterior beak osteophytes at the corners


def sample_signs(rng: np.random.Generator, label: str) -> Signs:
    """Signs of one fractured vertebra of class ``label``; some cases look like another class."""
    if label not in CLASSES:
        raise ValueError(f"unknown class '{label}' (expected one of {CLASSES})")
    profile = label
    if rng.random() < MIMIC_RATE:
        profile = str(rng.choice([c for c in CLASSES if c != label]))
    signs = _PROFILES[profile](rng)
    # plain Python floats: NumPy scalars would promote the float32 rendering arrays to float64
    plain: dict[str, Any] = {k: tuple(map(float, v)) if isinstance(v, tuple) else float(v)
                             for k, v in vars(signs).items()}
    return Signs(**plain)


def _maybe(rng: np.random.Generator, p: float, value: float) -> float:
    return float(value) if rng.random() < p else 0.0


def _acute(rng: np.random.Generator) -> Signs:
    faint = rng.random() < 0.2
    return Signs(
        loss=float(rng.uniform(0.12, 0.5)), shape=tuple(rng.dirichlet([3.0, 1.5, 0.7])),
        superior=float(rng.beta(6, 1.5)),
        step=float(rng.uniform(0.05, 0.35) if faint else rng.beta(3, 1.5)),
        break_pos=float(rng.uniform(0.15, 0.7)), buckle=_maybe(rng, 0.6, rng.beta(2, 2)),
        impaction=_maybe(rng, 0.5, rng.uniform(0.3, 1.0)), sclerosis=float(rng.beta(1.2, 8)),
        lysis=_maybe(rng, 0.15, rng.uniform(0.05, 0.3)), cortical_loss=float(rng.beta(1, 8) * 0.5),
        bulge=_maybe(rng, 0.15, rng.uniform(0.2, 0.6)), blastic=0.0, pedicle=0.0,
        osteophyte=_maybe(rng, 0.3, rng.uniform(0.1, 0.6)))


def _chronic(rng: np.random.Generator) -> Signs:
    faint = rng.random() < 0.15
    return Signs(
        loss=float(rng.uniform(0.12, 0.55)), shape=tuple(rng.dirichlet([3.5, 1.5, 0.5])),
        superior=float(rng.beta(3, 1.5)), step=float(rng.beta(1.2, 8)),
        break_pos=float(rng.uniform(0.15, 0.7)), buckle=_maybe(rng, 0.1, rng.uniform(0.0, 0.4)),
        impaction=0.0,
        sclerosis=float(rng.uniform(0.05, 0.3) if faint else rng.beta(4, 1.8)),
        lysis=0.0, cortical_loss=float(rng.beta(1, 10) * 0.4),
        bulge=_maybe(rng, 0.08, rng.uniform(0.0, 0.3)), blastic=0.0, pedicle=0.0,
        osteophyte=_maybe(rng, 0.75, rng.beta(3, 2)))


def _pathological(rng: np.random.Generator) -> Signs:
    faint = rng.random() < 0.15
    return Signs(
        loss=float(rng.uniform(0.15, 0.65)), shape=tuple(rng.dirichlet([0.8, 2.0, 2.5])),
        superior=float(rng.beta(2, 2)), step=float(rng.beta(2, 3)),
        break_pos=float(rng.uniform(0.15, 0.8)), buckle=_maybe(rng, 0.15, rng.uniform(0.0, 0.5)),
        impaction=0.0, sclerosis=float(rng.beta(1.2, 6)),
        lysis=float(rng.uniform(0.1, 0.35) if faint else rng.beta(4, 1.7)),
        cortical_loss=float(rng.beta(3, 2)), bulge=_maybe(rng, 0.7, rng.uniform(0.35, 1.0)),
        blastic=_maybe(rng, 0.15, rng.uniform(0.3, 0.9)), pedicle=_maybe(rng, 0.4, rng.uniform(0.4, 1.0)),
        osteophyte=_maybe(rng, 0.2, rng.uniform(0.1, 0.5)))


_PROFILES = {"acute": _acute, "chronic": _chronic, "pathological": _pathological}
