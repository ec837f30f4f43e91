"""The learned domain probe: it finds a cue that is there and none where there is none."""
from __future__ import annotations

import numpy as np
import pytest

from vcfnet.synth.cnn_probe import cnn_probe_auc


def _crops(rng: np.random.Generator, n: int, size: int = 32, cue: float = 0.0) -> list[np.ndarray]:
    """Noisy blobs; ``cue`` adds a faint 1-pixel grid (a pattern the simple statistics hardly see)."""
    yy, xx = np.indices((size, size))
    out = []
    for _ in range(n):
        cy, cx = rng.uniform(8, size - 8, 2)
        img = 0.5 + 0.2 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 40.0) + rng.normal(0, 0.05, (size, size))
        img += cue * ((yy % 2) ^ (xx % 2))
        out.append(np.clip(img, 0, 1).astype(np.float32))
    return out


def test_the_cnn_probe_finds_a_texture_cue():
    rng = np.random.default_rng(0)
    assert cnn_probe_auc(_crops(rng, 20), _crops(rng, 40, cue=0.08), epochs=15) > 0.9


def test_the_cnn_probe_finds_nothing_between_crops_of_one_kind():
    rng = np.random.default_rng(1)
    aucs = [cnn_probe_auc(_crops(rng, 20), _crops(rng, 40), epochs=15, seed=k) for k in range(3)]
    assert 0.25 < float(np.mean(aucs)) < 0.75, aucs


def test_the_cnn_probe_says_what_is_wrong_with_its_input():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="at least 5 crops of each kind"):
        cnn_probe_auc(_crops(rng, 3), _crops(rng, 20))
    with pytest.raises(ValueError, match="one size"):
        cnn_probe_auc(_crops(rng, 10, size=32), _crops(rng, 10, size=48))
