"""Batched augmentation: exact identities and flips, rotation against torch.rot90, seeding."""
import numpy as np
import pytest
import torch

from vcfnet.model.augment import apply_params, augment_batch, to_unit


def _params(n, h=False, v=False, angle=0.0):
    return {"hflip": torch.full((n,), h), "vflip": torch.full((n,), v),
            "angle": torch.full((n,), angle, dtype=torch.float64)}


def test_no_flip_no_rotation_is_identity():
    x = torch.rand(5, 1, 16, 16)
    assert torch.equal(apply_params(x, _params(5)), x)
    assert torch.equal(augment_batch(x, hflip=False, vflip=False, rotation=0.0), x)


def test_flips_are_exact_and_per_sample():
    x = torch.rand(2, 1, 8, 8)
    p = {"hflip": torch.tensor([True, False]), "vflip": torch.tensor([False, True]),
         "angle": torch.zeros(2, dtype=torch.float64)}
    y = apply_params(x, p)
    assert torch.equal(y[0], x[0].flip(-1))
    assert torch.equal(y[1], x[1].flip(-2))


def test_rotation_by_90_degrees_matches_rot90_counter_clockwise():
    x = torch.rand(3, 1, 9, 9)
    y = apply_params(x, _params(3, angle=90.0))
    torch.testing.assert_close(y, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5, rtol=0)
    # the top-middle pixel goes to the left-middle: counter-clockwise, as torchvision's rotate
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 0, 4] = 1
    assert apply_params(x, _params(1, angle=90.0))[0, 0, 4, 0] == pytest.approx(1.0, abs=1e-5)


def test_rotation_fills_corners_with_black_and_keeps_dtype_shape():
    x = torch.ones(4, 1, 32, 32)
    y = augment_batch(x, rotation=15.0, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == torch.float32
    assert y.min() >= 0 and y.max() <= 1 + 1e-6
    rotated = torch.ones(1, 1, 32, 32)
    assert apply_params(rotated, _params(1, angle=15.0))[0, 0, 0, 0] == 0  # corner came from outside


def test_same_seed_same_augmentation_and_different_seed_differs():
    x = torch.rand(8, 1, 16, 16)
    a = augment_batch(x, generator=torch.Generator().manual_seed(3))
    b = augment_batch(x, generator=torch.Generator().manual_seed(3))
    c = augment_batch(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_to_unit_scales_uint8_and_resizes():
    crops = torch.from_numpy(np.full((2, 1, 8, 8), 255, dtype=np.uint8))
    x = to_unit(crops)
    assert x.dtype == torch.float32 and torch.all(x == 1.0)
    assert to_unit(crops, 4).shape == (2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\(N, 1, S, S\)"):
        to_unit(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
