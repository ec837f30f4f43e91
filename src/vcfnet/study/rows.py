"""Study-table rows for one decoded image: ids, pseudonyms, labels, boxes, demographics.

Nothing of a source's path reaches a row: the ``image`` column is ``SOURCE_ID/F-…``, both keyed
pseudonyms (``io.deid.PathPseudonyms``); ``vcfnet study trace STUDY SOURCE`` maps them back on the
user's own terminal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from vcfnet.io.deid import PathPseudonyms, Pseudonymizer
from vcfnet.study.cache import roi_hash
from vcfnet.study.decode import Decoded
from vcfnet.study.layout import StudyLayout
from vcfnet.study.sources import ImageItem

log = logging.getLogger(__name__)


@dataclass
class SourceContext:
    """What every step of one source's ingest needs (one typed object instead of long parameter lists)."""
    layout: StudyLayout
    opts: Any                                  # ingest.IngestOptions
    key: bytes
    paths: PathPseudonyms
    items: list[ImageItem] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)     # rel -> SHA-256 of the file
    replaces: tuple[str, ...] = ()             # source ids whose rows this ingest replaces

    @property
    def source_id(self) -> str:
        return self.paths.source_id

    def image(self, rel: str) -> str:
        """The ``image`` column of the file at ``rel``."""
        return f"{self.source_id}/{self.paths.file(rel)}"


def cohort_of(cohort: str, exam_date: str, prospective_after: str | None) -> str:
    """The one prospective rule: a development exam dated on/after ``prospective_after`` (ISO dates
    compare as text) belongs to the prospective cohort; every other row keeps its source's cohort."""
    if prospective_after and cohort == "development" and exam_date and exam_date >= prospective_after:
        return "prospective"
    return cohort


def rows_for(item: ImageItem, dec: Decoded, ctx: SourceContext) -> tuple[list[dict], list[str]]:
    """One row per box of ``item`` (one for a ready crop) and the cache hash of each crop."""
    opts, image = ctx.opts, ctx.image(item.rel)
    common = {
        "image": image, "patient_id": _patient(item, dec, ctx), "site": opts.site, "cohort": opts.cohort,
        "exam_date": item.meta.get("exam_date") or dec.meta.get("study_date") or "",
        "age": _first(item.meta.get("age"), dec.meta.get("patient_age")),
        "sex": item.meta.get("sex") or dec.meta.get("patient_sex") or "",
        "width": float(dec.width), "height": float(dec.height), "source": ctx.source_id,
    }
    if dec.boxes is None:
        boxes = [(item.meta["label"], item.meta.get("level", ""), (0.0, 0.0, float(dec.width), float(dec.height)))]
    else:
        boxes = [(b.label, b.level, (b.x0, b.y0, b.x1, b.y1)) for b in dec.boxes]
    common["cohort"] = cohort_of(opts.cohort, common["exam_date"], opts.prospective_after)
    base = image.rsplit("/F-", 1)[-1][:10]
    rows, hashes = [], []
    for k, (label, level, box) in enumerate(boxes):
        rows.append({**common, "roi_id": f"{opts.site}-{base}-{k}", "label": label, "level": level or "",
                     "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]})
        hashes.append(roi_hash(ctx.hashes[item.rel], box, opts.size, opts.margin))
    return rows, hashes


def _patient(item: ImageItem, dec: Decoded, ctx: SourceContext) -> str:
    site = ctx.opts.site
    if item.meta.get("raw_patient"):
        return Pseudonymizer(ctx.key).site_patient(site, item.meta["raw_patient"])
    if dec.meta.get("patient_key"):
        return dec.meta["patient_key"]
    image = ctx.image(item.rel)
    log.warning("image %s: no patient identity (no DICOM PatientID, no metadata.csv row); treating the image "
                "as its own patient (`vcfnet study trace` names its file)", image)
    return Pseudonymizer(ctx.key).site_patient(site, f"image|{image}")


def _first(*values):
    for v in values:
        if v is not None and v == v:
            return float(v)
    return None
