"""Fixtures for the study tests (helpers in study_sources.py, imported by that unique name so that
test folders never clash over ``conftest``)."""
from __future__ import annotations

from pathlib import Path

import pytest
from study_sources import write_voc_pair


@pytest.fixture
def png_source(tmp_path) -> Path:
    src = tmp_path / "png-src"
    src.mkdir()
    patients = []
    for i in range(6):
        write_voc_pair(src, f"img{i}", [("acute" if i % 2 else "chronic", "L1", 20, 30, 70, 60),
                                        ("pathological", "L2", 10, 70, 60, 110)], seed=i)
        patients.append(f"img{i}.png,PAT{i // 2},{60 + i},F,2020-01-0{i + 1}")
    (src / "metadata.csv").write_text("image,patient_id,age,sex,exam_date\n" + "\n".join(patients) + "\n")
    return src
