"""Late fusion of clinical features into the network's head, trained end to end (one of the two
image+clinical designs compared in docs/CLINICAL.md; the stacker of ``vcfnet.model.stacker`` won).

    logits = image_head(pooled image features) + W z + b_z,    z = encoded clinical features

which is a linear head on the concatenation [image features; z]. ``W`` starts at zero, so training
starts from the image network alone. The engine passes ``z`` through ``extra=``
(``train_one_epoch``, ``predict_logits``).
"""
from __future__ import annotations

import torch
from torch import nn

from vcfnet.model.network import VCFNet


class LateFusion(nn.Module):
    """A VCFNet whose head also reads ``z`` (N, F): ``forward(x, z)`` -> (N, C) logits."""

    def __init__(self, image: VCFNet, n_features: int):
        super().__init__()
        self.image = image
        self.num_classes = image.num_classes
        self.input_size = image.input_size
        self.clinical = nn.Linear(n_features, self.num_classes)
        nn.init.zeros_(self.clinical.weight)
        nn.init.zeros_(self.clinical.bias)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.image(x) + self.clinical(z.float())
