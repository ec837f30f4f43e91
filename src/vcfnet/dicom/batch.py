"""``vcfnet pacs analyze``: re-analyse a list of studies from a PACS, with a resumable manifest.

For each study (given by StudyInstanceUID, or found by a QIDO query) every DX/CR image is retrieved
into a private folder (mode 0700, removed right after), its boxes are read from the LabelImg folder
(``vcfnet.dicom.boxes``), the Predictor answers, and the SR, GSPS and secondary capture are stored
back into the study (STOW-RS) or, with ``store=False``, written to ``OUT/results/``.

``OUT/manifest.json`` records each image (by SOP Instance UID) as ``done`` (with its result UIDs),
``no-boxes`` or ``failed`` (with the reason), and is rewritten atomically after every image: a run
killed at any moment resumes where it stopped (``done`` images are skipped; the others are retried).
It holds UIDs, counts and reasons; never a patient name, ID, birth date or accession number.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfnet.dicom.boxes import BoxIndex
from vcfnet.dicom.dicomweb import Instance, Pacs
from vcfnet.dicom.identity import identity_of
from vcfnet.dicom.results import analyze_file, write_results
from vcfnet.errors import VcfnetError
from vcfnet.fileio import write_json
from vcfnet.progress import progress_iter

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class Manifest:
    """What a batch run has done, image by image; ``save`` after every change."""

    path: Path
    model_hash: str
    images: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, model_hash: str) -> Manifest:
        if not path.is_file():
            return cls(path, model_hash)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            images = dict(data["images"])
            old = str(data["model_card_sha256"])
        except (ValueError, KeyError, TypeError):
            raise VcfnetError(f"{path}: not a vcfnet pacs manifest (delete it or choose another --out)") from None
        if old != model_hash:
            raise VcfnetError(f"{path}: made with another model (card {old[:16]}, now {model_hash[:16]}); "
                              f"choose another --out for the new model's run")
        return cls(path, model_hash, images)

    def done(self, sop_uid: str) -> bool:
        return self.images.get(sop_uid, {}).get("status") == "done"

    def record(self, image: Instance, status: str, **extra: Any) -> None:
        self.images[image.sop_uid] = {"study": image.study_uid, "status": status, **extra}
        self.save()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.images.values():
            out[item["status"]] = out.get(item["status"], 0) + 1
        return out

    def save(self) -> None:
        write_json(self.path, {"manifest_version": MANIFEST_VERSION, "model_card_sha256": self.model_hash,
                               "images": self.images})


def study_list(pacs: Pacs, study_uids: list[str], query: dict[str, str] | None, limit: int) -> list[str]:
    """The studies to analyse: the UIDs given, then those a QIDO query finds (each once, in order)."""
    found = list(study_uids)
    if query:
        found += [str(ds.StudyInstanceUID) for ds in pacs.search_studies(query, limit=limit)]
    if not found:
        raise VcfnetError("no study to analyse: give StudyInstanceUIDs or a --query that finds some")
    return list(dict.fromkeys(found))


def analyze_studies(pacs: Pacs, predictor, studies: list[str], boxes: BoxIndex, out_dir: str | Path, *,
                    store: bool = True, gradcam: bool = False, work_dir: str | Path | None = None) -> Manifest:
    """Analyse every radiograph of ``studies``; returns the manifest (also in ``OUT/manifest.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.open(out / MANIFEST, identity_of(predictor.card).model_hash)
    images = [image for study in studies for image in pacs.radiographs(study)]
    for image in progress_iter(images, "analysing radiographs"):
        if manifest.done(image.sop_uid):
            continue
        _one(pacs, predictor, image, boxes, manifest, out, store=store, gradcam=gradcam, work_dir=work_dir)
    log.info("pacs analyze: %s", manifest.counts())
    return manifest


def _one(pacs: Pacs, predictor, image: Instance, boxes: BoxIndex, manifest: Manifest, out: Path, *,
         store: bool, gradcam: bool, work_dir: str | Path | None) -> None:
    try:
        found = boxes.lookup(image.sop_uid)
    except VcfnetError as exc:
        manifest.record(image, "failed", reason=f"boxes: {exc}")
        return
    if not found:
        manifest.record(image, "no-boxes")
        return
    private = Path(tempfile.mkdtemp(prefix="vcfnet-pacs-", dir=work_dir))   # mode 0700
    try:
        path = pacs.retrieve(image, private)
        results = analyze_file(predictor, path, found[0], found[1], gradcam=gradcam)
        if store:
            pacs.store(results.datasets)
        else:
            write_results(results, out / "results")
    except VcfnetError as exc:
        manifest.record(image, "failed", reason=str(exc).replace(str(private), "<received>"))
        log.warning("pacs analyze: one image failed (see the manifest)")
        return
    finally:
        shutil.rmtree(private, ignore_errors=True)
    manifest.record(image, "done", boxes=len(results.findings), stored=store,
                    results={k: str(d.SOPInstanceUID) for k, d in zip(("sr", "gsps", "sc"), results.datasets)})
