"""A learned domain probe: can a small CNN, trained from scratch, tell synthetic crops from real ones?

The statistics probe in ``vcfnet.synth.realism`` looks at six numbers per crop; a reader looks at the
picture. This probe looks at the picture too: a four-block convolutional network (8-16-32-32 channels,
3x3 convolutions, batch norm, ReLU, 2x2 max-pooling, global average pooling, one logit), trained on the
raw 96 x 96 grey values with random flips, class-weighted binary cross-entropy and Adam, scored by the
ROC AUC on held-out crops averaged over stratified ``folds``-fold cross-validation. 0.5: it finds no
cue; 1.0: something in every crop gives the generator away.

With the 15 real crops in ``../shared/data`` the figure is noisy (each held-out fold has three real
crops): read it over several seeds (``seeds``), not one. Runs on the CPU in a few seconds per fold.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vcfnet.synth.realism import auc, stratified_folds


def _network():
    import torch.nn as nn

    layers: list = []
    width_in = 1
    for width in (8, 16, 32, 32):
        layers += [nn.Conv2d(width_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2)]
        width_in = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width_in, 1))


def _stack(crops: Sequence[np.ndarray]) -> np.ndarray:
    arr = np.stack([np.asarray(c, dtype=np.float32) for c in crops])
    if arr.ndim != 3:
        raise ValueError(f"crops must be 2-D grey images of one size, got an array of shape {arr.shape}")
    if arr.max(initial=0) > 1.5:          # 8-bit crops: to [0, 1] like crop_roi's output
        arr = arr / np.float32(255)
    return arr


def cnn_probe_auc(real: Sequence[np.ndarray], synthetic: Sequence[np.ndarray], folds: int = 5,
                  seed: int = 0, epochs: int = 40, batch: int = 32, lr: float = 1e-3) -> float:
    """Cross-validated ROC AUC of a small CNN telling ``synthetic`` crops (label 1) from ``real`` ones (0).

    Crops: 2-D grey arrays of one size (``realism.real_crops`` / ``synthetic_crops`` give 96 x 96 in
    [0, 1]; uint8 is scaled). Deterministic for a given ``seed`` on one machine.
    """
    import torch

    r, s = _stack(real), _stack(synthetic)
    if min(len(r), len(s)) < folds:
        raise ValueError(f"need at least {folds} crops of each kind, got {len(r)} real, {len(s)} synthetic")
    if r.shape[1:] != s.shape[1:]:
        raise ValueError(f"real crops are {r.shape[1:]}, synthetic ones {s.shape[1:]}: resize them to one size")
    x = np.concatenate([r, s])[:, None]
    y = np.r_[np.zeros(len(r)), np.ones(len(s))].astype(np.float32)
    rng = np.random.default_rng(seed)
    fold = stratified_folds(y, folds, rng)
    aucs = []
    for k in range(folds):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        torch.manual_seed(seed * 1000 + k)
        net = _network()
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        n_pos = float(y[train].sum())
        pos_weight = torch.tensor((len(train) - n_pos) / max(n_pos, 1.0))      # the classes count equally
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train])
        net.train()
        for _ in range(epochs):
            order = torch.from_numpy(rng.permutation(len(train)))
            for i in range(0, len(train), batch):
                idx = order[i:i + batch]
                if len(idx) < 2:              # batch norm needs two samples
                    continue
                xb = xt[idx]
                if rng.random() < 0.5:
                    xb = xb.flip(3)
                if rng.random() < 0.5:
                    xb = xb.flip(2)
                opt.zero_grad()
                loss = loss_fn(net(xb).squeeze(1), yt[idx])
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            score = net(torch.from_numpy(x[test])).squeeze(1).numpy()
        aucs.append(auc(y[test], score))
    return float(np.mean(aucs))


def cnn_probe(real: Sequence[np.ndarray], synthetic: Sequence[np.ndarray], seeds: int = 3,
              **kwargs) -> list[float]:
    """``cnn_probe_auc`` over ``seeds`` fold splits and initialisations (seed 0, 1, ...)."""
    return [cnn_probe_auc(real, synthetic, seed=k, **kwargs) for k in range(seeds)]
