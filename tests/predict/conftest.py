"""Fixtures for the Predictor tests: a tiny ResNet-18 trained to find a bright blob (helpers in
predict_toys.py, imported by that unique name so that test folders never clash over ``conftest``)."""
from __future__ import annotations

from pathlib import Path

import pytest
from predict_toys import S, blob_card, blob_crops


@pytest.fixture(scope="session")
def blob_model():
    """(model, card): ResNet-18 (random init) trained 2 epochs on 256 blob crops; eval mode."""
    import torch

    from vcfnet.model.engine import train_one_epoch
    from vcfnet.model.network import build_model

    torch.manual_seed(0)
    crops, labels, _ = blob_crops(256, seed=0)
    model = build_model("resnet18", weights=None)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = torch.nn.CrossEntropyLoss()
    x, y = torch.from_numpy(crops), torch.from_numpy(labels)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        train_one_epoch(model, criterion, optimizer, x, y, torch.randperm(len(x), generator=g),
                        batch_size=32, device=torch.device("cpu"), channels_last=False, generator=g)
    model.zero_grad(set_to_none=True)
    model.input_size = S          # as fit() and load_checkpoint() set it: the engine resizes other crops
    return model.eval(), blob_card()


@pytest.fixture(scope="session")
def blob_checkpoint(blob_model, tmp_path_factory) -> Path:
    from vcfnet.model.checkpoint import save_checkpoint

    model, card = blob_model
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best", model, card)
