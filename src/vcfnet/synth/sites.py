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
    """How one site acquires, processes and stores a lateral lumbar radiograph."""
    site: str                     # "site1"
    number: int                   # 1; file names start with "s<number>-"
    modality: str                 # "DX" or "CR"
    manufacturer: str
    model: str
    institution: str
    spacing_mm: float             # detector pixel spacing at resolution 1.0 (DR: 0.14-0.2 mm)
    fov_mm: tuple[float, float]   # field of view (height, width) in mm
    bits_stored: int
    bits_allocated: int
    photometric: str              # "MONOCHROME1" (high stored value = dark) or "MONOCHROME2"
    rescale: tuple[float, float]  # (slope, intercept) of the Modality LUT
    kvp: float
    anterior_left: bool           # patient faces left (anterior on the image's left side)
    # image formation (``vcfnet.synth.imaging.acquire``)
    bone_gain: float              # bone attenuation against soft tissue (lower at higher kVp)
    scatter: float                # scatter-to-primary ratio reaching the detector (grid quality)
    heel: float                   # heel effect: fractional intensity drop from cathode to anode end
    quanta: float                 # effective photons per mm^2 behind the spine (dose x DQE)
    electronic: float             # detector read-out noise, fraction of the signal behind the spine
    blur_mm: float                # detector + focal spot blur (Gaussian sigma, mm): the MTF
    # the vendor's processing
    detail: float                 # fine-detail gain of the multi-scale processing (0.5 mm kernel)
    edge_enhance: float           # unsharp-mask gain (2.5 mm kernel)
    range_compression: float      # share of the broad (20 mm) brightness removed (dynamic range compression)
    contrast: float               # display contrast: log-exposure range the window spans, relative
    gamma: float                  # tone curve exponent

    def shape(self, resolution: float = 1.0) -> tuple[int, int]:
        """Image (rows, columns) at ``resolution`` (1.0 = the site's detector, 0.5 = half)."""
        s = self.spacing(resolution)
        return int(round(self.fov_mm[0] / s)), int(round(self.fov_mm[1] / s))

    def spacing(self, resolution: float = 1.0) -> float:
        return self.spacing_mm / resolution


def _site(site: str, number: int, modality: str, manufacturer: str, model: str, institution: str, *,
          spacing: float, fov: tuple[float, float], bits: int, allocated: int, photometric: str,
          rescale: tuple[float, float], kvp: float, anterior_left: bool, **imaging: float) -> SiteProfile:
    return SiteProfile(site, number, modality, manufacturer, model, institution, spacing, fov, bits, allocated,
                       photometric, rescale, kvp, anterior_left, **imaging)


# Sites 2 and 4 flatten the broad brightness harder (0.9) at a lower display contrast (1.2, 1.1): with 0.6-0.64
# at 1.8-2.0 the trend left along the spine was magnified, and their T12 crops came out with means from 68 to
# 172 of 255 (real crops: 78-151), some near black; now 96-151 (p10 of one site to p90 of the other, 9 patients
# each).
SITES: dict[str, SiteProfile] = {p.site: p for p in (
    _site("site1", 1, "DX", "Synthetica Imaging", "SynthDR 4000", "Synthetic General Hospital 1",
          spacing=0.148, fov=(350.0, 290.0), bits=12, allocated=16, photometric="MONOCHROME2",
          rescale=(1.0, 0.0), kvp=85, anterior_left=True, bone_gain=1.0, scatter=1.2, heel=0.18,
          quanta=2100000.0, electronic=0.0050, blur_mm=0.25, detail=0.75, edge_enhance=0.15, range_compression=0.64,
          contrast=1.4, gamma=1.0),
    _site("site2", 2, "CR", "Virtual Radiology", "VR-CR 200", "Synthetic University Hospital 2",
          spacing=0.175, fov=(360.0, 300.0), bits=10, allocated=16, photometric="MONOCHROME1",
          rescale=(2.0, -512.0), kvp=90, anterior_left=True, bone_gain=0.9, scatter=1.8, heel=0.22,
          quanta=780000.0, electronic=0.0040, blur_mm=0.22, detail=0.3, edge_enhance=0.09, range_compression=0.9,
          contrast=1.2, gamma=1.1),
    _site("site3", 3, "DX", "Imaginary Medical", "IM-DR Flex", "Synthetic County Hospital 3",
          spacing=0.139, fov=(340.0, 280.0), bits=14, allocated=16, photometric="MONOCHROME2",
          rescale=(1.0, 0.0), kvp=80, anterior_left=False, bone_gain=1.1, scatter=1.0, heel=0.15,
          quanta=1890000.0, electronic=0.0050, blur_mm=0.13, detail=0.3, edge_enhance=0.27, range_compression=0.72,
          contrast=1.053, gamma=0.9),
    _site("site4", 4, "DX", "Phantom Healthcare", "PH-Digital 8", "Synthetic Regional Hospital 4",
          spacing=0.16, fov=(370.0, 300.0), bits=8, allocated=8, photometric="MONOCHROME1",
          rescale=(1.0, 0.0), kvp=77, anterior_left=True, bone_gain=1.2, scatter=1.4, heel=0.2,
          quanta=1500000.0, electronic=0.0040, blur_mm=0.2, detail=0.3, edge_enhance=0.15, range_compression=0.9,
          contrast=1.1, gamma=1.05),
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
