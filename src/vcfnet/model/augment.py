"""Batched, on-device input preparation and augmentation of uint8 crops.

The study augmented every image with PIL (random horizontal and vertical flips, rotation within
+-15 degrees, zero fill). Here a whole batch is augmented at once on the training device: flips are
exact index reversals chosen per sample, and all rotations go through one ``affine_grid`` +
``grid_sample`` call with per-sample angles. Random draws come from a CPU ``torch.Generator`` so the
same seed gives the same augmentation on any device and with any number of threads.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def to_unit(crops: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """uint8 (N, 1, S, S) -> float32 in [0, 1], resized to ``size`` (bilinear, antialiased) if it differs.

    Float input is taken as already in [0, 1].
    """
    if crops.ndim == 3:
        crops = crops.unsqueeze(1)
    if crops.ndim != 4 or crops.shape[1] != 1:
        raise ValueError(f"expected crops of shape (N, 1, S, S), got {tuple(crops.shape)}")
    x = crops.float() / 255.0 if crops.dtype == torch.uint8 else crops.float()
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x


def draw_params(n: int, *, hflip: bool, vflip: bool, rotation: float,
                generator: torch.Generator | None) -> dict[str, torch.Tensor]:
    """Per-sample random choices (on the CPU): flip masks and rotation angles in degrees."""
    h = torch.rand(n, generator=generator) < 0.5
    v = torch.rand(n, generator=generator) < 0.5
    angles = (torch.rand(n, generator=generator, dtype=torch.float64) * 2.0 - 1.0) * float(rotation)
    return {"hflip": h & hflip, "vflip": v & vflip, "angle": angles}


def apply_params(x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Flip and rotate a float batch (N, C, H, W) by the given per-sample parameters.

    Rotation is counter-clockwise in degrees about the image centre; corners that come from outside
    the image are filled with 0 (black), as torchvision's ``RandomRotation`` does.
    """
    dev = x.device
    hmask = params["hflip"].to(dev).view(-1, 1, 1, 1)
    vmask = params["vflip"].to(dev).view(-1, 1, 1, 1)
    if bool(params["hflip"].any()):
        x = torch.where(hmask, x.flip(-1), x)
    if bool(params["vflip"].any()):
        x = torch.where(vmask, x.flip(-2), x)
    angle = params["angle"]
    if bool((angle != 0).any()):
        rad = angle * (math.pi / 180.0)
        cos, sin = torch.cos(rad), torch.sin(rad)
        zero = torch.zeros_like(cos)
        # affine_grid maps output to input coordinates: sampling at R(-a) rotates the image by +a
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        grid = F.affine_grid(theta.to(dev, torch.float32), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return x


def augment_batch(x: torch.Tensor, *, hflip: bool = True, vflip: bool = True, rotation: float = 15.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Random flips and rotation within +-``rotation`` degrees, per sample, for a float batch."""
    params = draw_params(x.shape[0], hflip=hflip, vflip=vflip, rotation=rotation, generator=generator)
    return apply_params(x, params)
