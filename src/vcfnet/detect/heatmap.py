"""A centre-point (CenterNet-style) vertebra detector in plain torch: a small residual encoder, an FPN-like
neck back to stride 4, and five heads on that map.

A transformer encoder layer over the stride-16 map gives every place the whole film's context (the
level a body looks like depends on where the sacrum is, beyond a convolution's reach).

- ``heat``   (1): the probability that a body's box centre lies in the cell (focal loss, Gaussian targets);
- ``level``  (9): the level the body looks like, ``DETECT_LEVELS`` (cross-entropy at the centres);
- ``size``   (2): log of the box width and height in cells (L1 at the centres);
- ``offset`` (2): where in its cell the centre lies, 0..1 (L1);
- ``points`` (12): the six landmarks relative to the centre's cell, in cells (L1, visible points only,
  weighted ``POINTS_WEIGHT``; a fractured body's points count more, ``detect.train.FRACTURED_WEIGHT``).

Decoding: sigmoid heat, peaks = cells equal to their 3 x 3 max-pool, the top ``MAX_PEAKS``. The network
takes one grey channel at the detector's input scale (``detect.augment.scaled_film``); coordinates in and
out are continuous pixels of that input (pixel i spans [i, i + 1)). Own implementation after Zhou et al.,
"Objects as Points" (2019); no third-party code.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4
MAX_PEAKS = 30
MAX_OBJECTS = 32
NUM_POINTS = 6
#: the landmark loss's weight against the others: heights (and so Genant grades) are read off the landmarks;
#: at the demo's 3-minute budget weight 3 against 1 gave landmarks 2.1 mm against 3.0 mm (docs/DETECTION.md)
POINTS_WEIGHT = 3.0
IGNORE = -100        # cross-entropy's ignore_index: a body with no level target


class _Block(nn.Module):
    """A ResNet basic block (two 3 x 3 convolutions, batch norm, a projected shortcut when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                      if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.short(x))


def _head(cin: int, cout: int, bias: float = 0.0) -> nn.Conv2d:
    head = nn.Conv2d(cin, cout, 1)
    assert head.bias is not None
    nn.init.constant_(head.bias, bias)
    return head


def _positions(rows: int, cols: int, channels: int, device) -> torch.Tensor:
    """2-D sine position code (rows * cols, channels) in absolute cells: half the channels for y, half for x."""
    quarter = channels // 4
    freq = torch.exp(-math.log(100.0) * torch.arange(quarter, device=device) / max(quarter - 1, 1))
    y = torch.arange(rows, device=device, dtype=torch.float32)[:, None] * freq
    x = torch.arange(cols, device=device, dtype=torch.float32)[:, None] * freq
    ey = torch.cat([y.sin(), y.cos()], 1)[:, None].expand(rows, cols, -1)
    ex = torch.cat([x.sin(), x.cos()], 1)[None].expand(rows, cols, -1)
    code = torch.cat([ey, ex], -1).reshape(rows * cols, -1)
    return F.pad(code, (0, channels - code.shape[1]))


class _Context(nn.Module):
    """One transformer encoder layer over the stride-16 map, so each place sees the whole spine (which body
    lies how far above the sacrum): what the level head needs and convolutions do not reach."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(channels, heads, 2 * channels, dropout=0.0, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, rows, cols = x.shape
        tokens = x.flatten(2).transpose(1, 2) + _positions(rows, cols, c, x.device)
        return self.layer(tokens).transpose(1, 2).reshape(b, c, rows, cols)


class CentreNet(nn.Module):
    """Encoder strides 2..32 (widths ``width`` x 1, 2, 3, 4, 5), neck to stride 4 (two 3 x 3 convolutions
    shared by the heads), five 1 x 1 heads."""

    def __init__(self, levels: int = 9, width: int = 24, neck: int = 48):
        super().__init__()
        w = [width, 2 * width, 3 * width, 4 * width, 5 * width]
        self.stem = nn.Sequential(nn.Conv2d(1, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True))
        self.stages = nn.ModuleList([
            nn.Sequential(_Block(w[0], w[1], 2)),
            nn.Sequential(_Block(w[1], w[2], 2), _Block(w[2], w[2])),
            nn.Sequential(_Block(w[2], w[3], 2), _Block(w[3], w[3])),
            nn.Sequential(_Block(w[3], w[4], 2), _Block(w[4], w[4])),
        ])
        self.context = _Context(w[3])
        self.lateral = nn.ModuleList([nn.Conv2d(c, neck, 1) for c in w[1:]])
        self.smooth = nn.Sequential(nn.Conv2d(neck, neck, 3, 1, 1, bias=False), nn.BatchNorm2d(neck), nn.ReLU(inplace=True),
                                    nn.Conv2d(neck, neck, 3, 1, 1), nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({"heat": _head(neck, 1, bias=-2.19), "level": _head(neck, levels),
                                    "size": _head(neck, 2), "offset": _head(neck, 2),
                                    "points": _head(neck, 2 * NUM_POINTS)})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 1, H, W) grey in [0, 1], H and W multiples of 32 -> maps at (H / 4, W / 4)."""
        feats = []
        y = self.stem((x - 0.5) / 0.25)
        for i, stage in enumerate(self.stages):
            y = stage(y)
            if i == 2:
                y = self.context(y)
            feats.append(y)
        top = self.lateral[-1](feats[-1])
        for lat, f in zip(reversed(self.lateral[:-1]), reversed(feats[:-1])):
            top = lat(f) + F.interpolate(top, size=f.shape[-2:], mode="nearest")
        top = self.smooth(top)
        return {name: head(top) for name, head in self.heads.items()}


def build_targets(boxes: np.ndarray, labels: np.ndarray, points: np.ndarray, visible: np.ndarray,
                  shape: tuple[int, int], weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Training targets of one view at output size ``shape`` (rows, columns) from boxes (N, 4) x0 y0 x1 y1,
    labels (N,) level indices (negative: no level target), points (N, 6, 2), visible (N, 6) in input pixels,
    ``weight`` (N,) each body's weight in the landmark loss (None: 1)."""
    rows, cols = shape
    heat = np.zeros((rows, cols), np.float32)
    n = min(len(boxes), MAX_OBJECTS)
    index, mask = np.zeros(MAX_OBJECTS, np.int64), np.zeros(MAX_OBJECTS, np.float32)
    level = np.zeros(MAX_OBJECTS, np.int64)
    size, offset = np.zeros((MAX_OBJECTS, 2), np.float32), np.zeros((MAX_OBJECTS, 2), np.float32)
    pts, pmask = np.zeros((MAX_OBJECTS, 2 * NUM_POINTS), np.float32), np.zeros((MAX_OBJECTS, 2 * NUM_POINTS), np.float32)
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    for k in range(n):
        x0, y0, x1, y1 = boxes[k] / STRIDE
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ix, iy = int(np.clip(np.floor(cx), 0, cols - 1)), int(np.clip(np.floor(cy), 0, rows - 1))
        sigma = max(0.8, min(x1 - x0, y1 - y0) / 6)
        heat = np.maximum(heat, np.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma ** 2)))
        index[k], mask[k] = iy * cols + ix, 1.0
        level[k] = labels[k] if labels[k] >= 0 else IGNORE      # a transitional body: no level target
        size[k] = np.log(np.maximum([x1 - x0, y1 - y0], 0.25))
        offset[k] = (cx - ix, cy - iy)
        rel = points[k] / STRIDE - np.array([ix, iy], np.float32)
        pts[k] = rel.reshape(-1)
        pmask[k] = np.repeat(visible[k].astype(np.float32), 2) * (float(weight[k]) if weight is not None else 1.0)
    return {"heat": heat[None], "index": index, "mask": mask, "level": level, "size": size, "offset": offset,
            "points": pts, "points_mask": pmask}


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel-wise focal loss (alpha 2, beta 4), per positive."""
    p = torch.sigmoid(logits).clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    pos_loss = torch.log(p) * (1 - p) ** 2 * pos
    neg_loss = torch.log(1 - p) * p ** 2 * (1 - target) ** 4 * (1 - pos)
    return -(pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


def _gather(maps: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) at flat cell indices (B, K) -> (B, K, C)."""
    b, c = maps.shape[:2]
    flat = maps.reshape(b, c, -1)
    return flat.gather(2, index.unsqueeze(1).expand(-1, c, -1)).transpose(1, 2)


def centre_loss(out: dict[str, torch.Tensor], t: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The five losses of a batch (targets stacked from ``build_targets``)."""
    mask = t["mask"]
    m = mask.unsqueeze(-1)

    def l1(name: str, weight: torch.Tensor) -> torch.Tensor:
        return (torch.abs(_gather(out[name], t["index"]) - t[name]) * weight).sum() / (weight.sum() + 1e-4)

    level_logits = _gather(out["level"], t["index"])
    has_level = mask.reshape(-1) * (t["level"].reshape(-1) != IGNORE)
    level = (F.cross_entropy(level_logits.reshape(-1, level_logits.shape[-1]), t["level"].reshape(-1),
                             ignore_index=IGNORE, reduction="none") * has_level).sum() / has_level.sum().clamp(min=1.0)
    return {"heat": focal_loss(out["heat"], t["heat"]), "level": level,
            "size": l1("size", m.expand(-1, -1, 2)), "offset": l1("offset", m.expand(-1, -1, 2)),
            "points": POINTS_WEIGHT * l1("points", t["points_mask"])}


@torch.no_grad()
def decode(out: dict[str, torch.Tensor], max_peaks: int = MAX_PEAKS) -> list[dict[str, np.ndarray]]:
    """Per image: scores (K,), boxes (K, 4), levels (K,) indices with their probabilities (K, levels),
    points (K, 6, 2), in input pixels, best first, from the heat map's 3 x 3 local maxima."""
    heat = torch.sigmoid(out["heat"])
    peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat).float()
    b, _, rows, cols = heat.shape
    k = min(max_peaks, rows * cols)
    scores, index = peaks.reshape(b, -1).topk(k)
    iy, ix = (index // cols).float(), (index % cols).float()
    offset, size = _gather(out["offset"], index), _gather(out["size"], index).exp()
    points = _gather(out["points"], index).reshape(b, k, NUM_POINTS, 2)
    level_probs = _gather(out["level"], index).softmax(-1)
    levels = level_probs.argmax(-1)
    cx, cy = ix + offset[..., 0], iy + offset[..., 1]
    boxes = torch.stack([cx - size[..., 0] / 2, cy - size[..., 1] / 2, cx + size[..., 0] / 2, cy + size[..., 1] / 2], -1)
    cell = torch.stack([ix, iy], -1).unsqueeze(2)
    pts = (points + cell) * STRIDE
    return [{"scores": scores[i].numpy(), "boxes": (boxes[i] * STRIDE).numpy(), "levels": levels[i].numpy(),
             "level_probs": level_probs[i].numpy(), "points": pts[i].numpy()} for i in range(b)]
