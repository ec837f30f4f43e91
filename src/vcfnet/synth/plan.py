"""Plan of the synthetic study: which patients, which fractured vertebrae, which made-up identities.

The plan is drawn once, sequentially, from one generator seeded with the study seed; every image is
then rendered from its own generator (``image_rng``), so parallel rendering is deterministic.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from vcfnet.labels import CLASSES
from vcfnet.synth.sites import SOURCES, SourceSpec, scaled_counts

#: Levels on a lateral lumbar film that may be fractured, and how often (thoracolumbar junction first).
FRACTURE_LEVELS: tuple[str, ...] = ("T12", "L1", "L2", "L3", "L4", "L5")
LEVEL_WEIGHTS = np.array([0.26, 0.30, 0.18, 0.12, 0.08, 0.06])
#: Fractured vertebrae per patient: 1, 2 or 3 (mean ~1.4, as 2609 vertebrae in 1904 patients).
GROUP_SIZES = (1, 2, 3)
GROUP_WEIGHTS = np.array([0.70, 0.23, 0.07])
#: Enumeration anomalies (transitional vertebrae): the share of films with a sixth lumbar body (L6,
#: a lumbarised S1) and with a 13th thoracic body (T13, carrying a 13th rib pair) between T12 and L1.
#: Studies of lateral and whole-spine films find an anomalous count in several per cent of patients.
ANOMALY_RATES: dict[str, float] = {"L6": 0.025, "T13": 0.015}


@dataclass(frozen=True)
class Fracture:
    level: str
    label: str          # one of CLASSES


@dataclass(frozen=True)
class ImageSpec:
    """Everything needed to render and write one patient's radiograph."""
    source: str
    site: str
    cohort: str
    name: str           # pseudonymous file stem, e.g. "s2-000042"
    key: tuple[int, ...]  # (source index, image index): with the seed, the image's random stream
    patient_name: str   # made-up DICOM identifiers, there to be removed by de-identification
    patient_id: str
    accession: str
    birth_date: str     # YYYYMMDD
    exam_date: str      # YYYYMMDD
    age: int
    sex: str            # "F" | "M"
    fractures: tuple[Fracture, ...]
    anomaly: str | None = None   # an extra, transitional body: "L6" or "T13" (``ANOMALY_RATES``)


def image_rng(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    """The random stream of one image: independent of worker count and rendering order."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), 1, *key]))


def plan_study(seed: int, scale: float) -> list[ImageSpec]:
    """All images of the study, source by source, in a fixed order."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))
    # a stream of its own: the anomaly decision moves no other draw of the plan or of any image
    anomalies = np.random.default_rng(np.random.SeedSequence([int(seed), 2]))
    ids = _unique_numbers(rng, 10 ** 7, 10 ** 8, _estimate_patients(scale) * 2)
    specs: list[ImageSpec] = []
    per_site: dict[str, int] = {}
    for s_index, spec in enumerate(SOURCES):
        for i, fractures in enumerate(_group_fractures(rng, spec, scale)):
            n = per_site.get(spec.site, 0) + 1
            per_site[spec.site] = n
            specs.append(_identity(rng, spec, (s_index, i), n, fractures, ids[len(specs)],
                                   len(specs) + 1, _anomaly(anomalies)))
    return specs


def _anomaly(rng: np.random.Generator) -> str | None:
    """One draw per image: "L6", "T13" or None (``ANOMALY_RATES``)."""
    r, edge = rng.random(), 0.0
    for level, rate in ANOMALY_RATES.items():
        edge += rate
        if r < edge:
            return level
    return None


def _estimate_patients(scale: float) -> int:
    return sum(sum(scaled_counts(s, scale).values()) for s in SOURCES) + 16


def _unique_numbers(rng: np.random.Generator, low: int, high: int, n: int) -> list[int]:
    seen: dict[int, None] = {}
    while len(seen) < n:
        for v in rng.integers(low, high, size=n).tolist():
            seen.setdefault(v)
    return list(seen)[:n]


def _group_fractures(rng: np.random.Generator, spec: SourceSpec, scale: float) -> list[tuple[Fracture, ...]]:
    """Shuffle the source's fractured vertebrae and deal them out to patients, 1-3 each."""
    counts = scaled_counts(spec, scale)
    labels = [c for c in CLASSES for _ in range(counts[c])]
    rng.shuffle(labels)
    groups: list[tuple[Fracture, ...]] = []
    i = 0
    while i < len(labels):
        size = min(int(rng.choice(GROUP_SIZES, p=GROUP_WEIGHTS)), len(labels) - i)
        levels = rng.choice(FRACTURE_LEVELS, size=size, replace=False, p=LEVEL_WEIGHTS)
        order = sorted(levels, key=FRACTURE_LEVELS.index)
        groups.append(tuple(Fracture(str(lv), lab) for lv, lab in zip(order, labels[i:i + size])))
        i += size
    return groups


def _identity(rng: np.random.Generator, spec: SourceSpec, key: tuple[int, int], site_n: int,
              fractures: tuple[Fracture, ...], id_number: int, patient_n: int,
              anomaly: str | None = None) -> ImageSpec:
    """Age, sex, dates and made-up identifiers of one patient.

    Age and sex depend on the patient's fractures, in the shape the literature describes (docs/CLINICAL.md):
    osteoporotic (acute or chronic) compression fractures come from older patients, mostly women
    (incidence rising steeply after 65; about 2:1 or more women to men, EPOS, Felsenberg et al. 2002;
    Ballane et al. 2017), so age ~ N(77, 8) clipped to 55-95 and 80% women; a patient with a
    pathological (mostly metastatic: lung, breast, prostate, myeloma) fracture is younger and more
    often a man, age ~ N(67, 9) clipped to 50-92 and 45% women. The 15 real crops of ../shared/data
    agree in direction (acute and chronic: women of 79-91; pathological: men of 50-71). Two draws (age,
    sex) per patient, in this order, so the rest of the plan does not move when these numbers change.
    """
    malignant = any(f.label == "pathological" for f in fractures)
    if malignant:
        age = int(np.clip(round(rng.normal(67, 9)), 50, 92))
        sex = "F" if rng.random() < 0.45 else "M"
    else:
        age = int(np.clip(round(rng.normal(77, 8)), 55, 95))
        sex = "F" if rng.random() < 0.80 else "M"
    first, last = (dt.date.fromisoformat(d) for d in spec.dates)
    exam = first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1)))
    birth = exam - dt.timedelta(days=int(age * 365.25 + rng.integers(1, 365)))
    site_number = int(spec.site.removeprefix("site"))
    return ImageSpec(
        source=spec.path, site=spec.site, cohort=spec.cohort, name=f"s{site_number}-{site_n:06d}",
        key=key, patient_name=f"SYNTH^Patient{patient_n}", patient_id=f"SYN{id_number:08d}",
        accession=f"ACC{int(rng.integers(10 ** 8, 10 ** 9)):09d}", birth_date=birth.strftime("%Y%m%d"),
        exam_date=exam.strftime("%Y%m%d"), age=age, sex=sex, fractures=fractures, anomaly=anomaly)
