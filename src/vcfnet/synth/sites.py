"""The synthetic study's four sites, its five sources and its default counts.

Each site acquires differently (modality, detector resolution, bit depth, photometric
interpretation, noise, blur, tone curve, edge enhancement, which way the patient faces), so a model
trained at site 1 meets a real shift at sites 2-4. Counts follow the published study: development
1003 acute / 861 chronic / 167 pathological vertebrae, 504 external vertebrae over three sites with
a similar class mix, 74 prospective vertebrae at site 1.
"""
from __future__ import annotations

from dataclasses import dataclass

from vcfnet.labels import CLASSES


@dataclass(frozen=True)
class SiteProfile:
    """How one site acquires and stores a lateral lumbar radiograph."""
    site: str                     # "site1"
    number: int                   # 1; file names start with "s<number>-"
    modality: str                 # "DX" or "CR"
    manufacturer: str
    model: str
    institution: str
    spacing_mm: float             # pixel spacing at resolution 1.0
    fov_mm: tuple[float, float]   # field of view (height, width) in mm
    bits_stored: int
    bits_allocated: int
    photometric: str              # "MONOCHROME1" (high stored value = dark) or "MONOCHROME2"
    rescale: tuple[float, float]  # (slope, intercept) of the Modality LUT
    bone_gain: float              # bone contrast against soft tissue (lower at higher kVp)
    gamma: float                  # display tone curve exponent
    noise: float                  # quantum noise, log units, at reference attenuation
    blur_mm: float                # detector + focal spot blur (Gaussian sigma)
    edge_enhance: float           # unsharp-mask gain of the vendor's processing
    range_compression: float      # how much of the broad (25 mm) brightness the processing removes
    anterior_left: bool           # patient faces left (anterior on the image's left side)
    kvp: float

    def shape(self, resolution: float = 1.0) -> tuple[int, int]:
        """Image (rows, columns) at ``resolution`` (1.0 = the site's detector, 0.5 = half)."""
        s = self.spacing(resolution)
        return int(round(self.fov_mm[0] / s)), int(round(self.fov_mm[1] / s))

    def spacing(self, resolution: float = 1.0) -> float:
        return self.spacing_mm / resolution


SITES: dict[str, SiteProfile] = {p.site: p for p in (
    SiteProfile("site1", 1, "DX", "Synthetica Imaging", "SynthDR 4000", "Synthetic General Hospital 1",
                0.42, (350.0, 290.0), 12, 16, "MONOCHROME2", (1.0, 0.0), 1.00, 1.00, 0.018, 0.35, 0.6, 0.45,
                True, 85),
    SiteProfile("site2", 2, "CR", "Virtual Radiology", "VR-CR 200", "Synthetic University Hospital 2",
                0.50, (360.0, 300.0), 10, 16, "MONOCHROME1", (2.0, -512.0), 0.90, 1.25, 0.030, 0.60, 0.2, 0.20,
                True, 90),
    SiteProfile("site3", 3, "DX", "Imaginary Medical", "IM-DR Flex", "Synthetic County Hospital 3",
                0.38, (340.0, 280.0), 14, 16, "MONOCHROME2", (1.0, 0.0), 1.10, 0.85, 0.012, 0.25, 1.0, 0.55,
                False, 80),
    SiteProfile("site4", 4, "DX", "Phantom Healthcare", "PH-Digital 8", "Synthetic Regional Hospital 4",
                0.46, (370.0, 300.0), 8, 8, "MONOCHROME1", (1.0, 0.0), 1.20, 1.10, 0.025, 0.45, 0.4, 0.35,
                True, 77),
)}


@dataclass(frozen=True)
class SourceSpec:
    """One folder of the synthetic study: a site and a cohort, with its default class counts."""
    path: str
    site: str
    cohort: str
    counts: tuple[int, int, int]      # vertebrae per class, in CLASSES order, at scale 1.0
    dates: tuple[str, str]            # exam dates, first and last (ISO)


#: Prospective exams start after the last development exam (site 1), as in the study.
SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("site1-development", "site1", "development", (1003, 861, 167), ("2016-01-04", "2019-06-28")),
    SourceSpec("site1-prospective", "site1", "prospective", (36, 31, 7), ("2019-09-02", "2020-08-31")),
    SourceSpec("site2-external", "site2", "external", (90, 84, 16), ("2016-03-01", "2020-06-30")),
    SourceSpec("site3-external", "site3", "external", (88, 68, 14), ("2017-01-02", "2020-06-30")),
    SourceSpec("site4-external", "site4", "external", (71, 62, 11), ("2016-06-01", "2020-03-31")),
)

#: Each class keeps at least this many vertebrae per source however small ``scale`` is.
MIN_PER_CLASS = 3


def scaled_counts(spec: SourceSpec, scale: float) -> dict[str, int]:
    """Vertebrae per class of one source at ``scale``: ``max(MIN_PER_CLASS, round(n * scale))``."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return {c: max(MIN_PER_CLASS, int(round(n * scale))) for c, n in zip(CLASSES, spec.counts)}
