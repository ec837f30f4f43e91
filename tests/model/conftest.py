"""Tiny studies made in tmp_path for the model tests: real Study table, crop cache and splits files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vcfnet.labels import CLASSES


def write_tiny_study(root: Path, *, n_train: int = 12, n_val: int = 6, n_test: int = 4, size: int = 32,
                     classes: tuple[int, ...] = (0, 1), seed: int = 0, ages=None, sexes=None) -> Path:
    """A study whose classes differ visually: class k is a bright square in a different place.

    ROIs cycle through ``classes``; splits are train / val / test in that order. ``ages`` / ``sexes``:
    one value per ROI (default 70 and F for all).
    """
    from vcfnet.study.cache import CropCache, write_cache
    from vcfnet.study.layout import StudyLayout
    from vcfnet.study.schema import save_study

    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    labels = np.array([classes[i % len(classes)] for i in range(n)])
    crops = rng.integers(0, 60, size=(n, 1, size, size), dtype=np.uint8)
    half = size // 2
    for i, k in enumerate(labels):
        r, c = divmod(int(k), 2)
        crops[i, 0, r * half:(r + 1) * half, c * half:(c + 1) * half] += 180
    roi_ids = [f"r{i:03d}" for i in range(n)]
    table = pd.DataFrame({
        "roi_id": roi_ids, "image": [f"img{i}.png" for i in range(n)],
        "patient_id": [f"p{i:03d}" for i in range(n)], "site": "site1", "cohort": "development",
        "exam_date": "", "level": "L1", "label": [CLASSES[k] for k in labels],
        "x0": 0.0, "y0": 0.0, "x1": float(size), "y1": float(size),
        "age": 70.0 if ages is None else list(ages), "sex": "F" if sexes is None else list(sexes),
        "width": float(size), "height": float(size), "source": "tiny"})
    layout = StudyLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    save_study(table, layout.study_table)
    write_cache(root, CropCache(crops=crops, roi_ids=roi_ids, hashes=[f"h{i}" for i in range(n)],
                                size=size, margin=0.0))
    split = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    pd.DataFrame({"roi_id": roi_ids, "split": split, "collaboration": 0}).to_csv(layout.splits, index=False)
    return root


@pytest.fixture
def make_tiny_study():
    """``write_tiny_study`` for test modules (conftest modules are not importable by name in a full run)."""
    return write_tiny_study


@pytest.fixture
def tiny_study(tmp_path) -> Path:
    return write_tiny_study(tmp_path / "study")


@pytest.fixture
def fast_config():
    """The study's protocol shrunk to seconds: no download, tiny input, fp32 (exactly reproducible);
    one thread, because two OpenMP threads on a shared 2-core machine spin against each other."""
    from vcfnet.model.config import TrainConfig

    return TrainConfig(epochs=3, batch_size=4, weights=None, input_size=32, amp="fp32", device="cpu",
                       lr=1e-3, seed=0, num_threads=1)


@pytest.fixture(scope="module")
def shared_tiny_study(tmp_path_factory) -> Path:
    """One tiny study for a whole test module (tests that only read it)."""
    return write_tiny_study(tmp_path_factory.mktemp("shared") / "study")
