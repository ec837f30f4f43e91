"""Study-table rows for one decoded image: ids, pseudonyms, labels, boxes, demographics."""
from __future__ import annotations

import hashlib
import logging

from vcfnet.io import Pseudonymizer
from vcfnet.study.cache import roi_hash
from vcfnet.study.decode import Decoded
from vcfnet.study.sources import ImageItem

log = logging.getLogger(__name__)


def rows_for(item: ImageItem, dec: Decoded, source_id: str, opts, key: bytes,
             file_hash: str) -> tuple[list[dict], list[str]]:
    """One row per box of ``item`` (one for a ready crop) and the cache hash of each crop."""
    patient = _patient(item, dec, opts.site, key)
    base = hashlib.sha256(f"{source_id}|{item.rel}".encode()).hexdigest()[:10]
    common = {
        "image": f"{source_id}/{item.rel}", "patient_id": patient, "site": opts.site, "cohort": opts.cohort,
        "exam_date": item.meta.get("exam_date") or dec.meta.get("study_date") or "",
        "age": _first(item.meta.get("age"), dec.meta.get("patient_age")),
        "sex": item.meta.get("sex") or dec.meta.get("patient_sex") or "",
        "width": float(dec.width), "height": float(dec.height), "source": source_id,
    }
    if dec.boxes is None:
        boxes = [(item.meta["label"], item.meta.get("level", ""), (0.0, 0.0, float(dec.width), float(dec.height)))]
    else:
        boxes = [(b.label, b.level, (b.x0, b.y0, b.x1, b.y1)) for b in dec.boxes]
    if opts.prospective_after and opts.cohort == "development" and common["exam_date"] >= opts.prospective_after:
        common["cohort"] = "prospective"   # the same rule as ingest._cohorts, for one image
    rows, hashes = [], []
    for k, (label, level, box) in enumerate(boxes):
        rows.append({**common, "roi_id": f"{opts.site}-{base}-{k}", "label": label, "level": level or "",
                     "x0": box[0], "y0": box[1], "x1": box[2], "y1": box[3]})
        hashes.append(roi_hash(file_hash, box, opts.size, opts.margin))
    return rows, hashes


def _patient(item: ImageItem, dec: Decoded, site: str, key: bytes) -> str:
    if item.meta.get("raw_patient"):
        return Pseudonymizer(key).patient(f"{site}|{item.meta['raw_patient']}")
    if dec.meta.get("patient_key"):
        return dec.meta["patient_key"]
    log.warning("%s: no patient identity (no DICOM PatientID, no metadata.csv row); "
                "treating the image as its own patient", item.rel)
    return Pseudonymizer(key).patient(f"{site}|image|{item.rel}")


def _first(*values):
    for v in values:
        if v is not None and v == v:
            return float(v)
    return None
