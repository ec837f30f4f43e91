"""Boxes supplied beside images that come from a PACS or a modality: a folder of LabelImg XML files.

An image is known there by its SOP Instance UID (a PACS image has no file name): its boxes are in
``<SOPInstanceUID>.xml``, or in any XML of the folder whose ``<filename>`` is ``<SOPInstanceUID>`` or
``<SOPInstanceUID>.dcm``. The object names carry class and level as in the study (``Acute-L1``); only
the box and the level are used, the class is the model's to answer.
"""
from __future__ import annotations

import logging
from pathlib import Path

from vcfnet.dicom.findings import Box
from vcfnet.errors import VcfnetError
from vcfnet.io import read_voc

log = logging.getLogger(__name__)


class BoxIndex:
    """LabelImg XML files of a folder, looked up by SOP Instance UID (re-read when files change)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise VcfnetError(f"{self.folder}: the boxes folder does not exist (LabelImg XML files named "
                              f"<SOPInstanceUID>.xml)")
        self._by_filename: dict[str, Path] = {}
        self._seen: set[Path] = set()

    def _index(self) -> None:
        for xml in self.folder.glob("*.xml"):
            if xml in self._seen:
                continue
            self._seen.add(xml)
            try:
                name = read_voc(xml).filename
            except VcfnetError:
                continue      # reported when looked up by its own name; not indexed by filename
            self._by_filename.setdefault(name.removesuffix(".dcm"), xml)

    def path_for(self, sop_uid: str) -> Path | None:
        direct = self.folder / f"{sop_uid}.xml"
        if direct.is_file():
            return direct
        self._index()
        return self._by_filename.get(sop_uid)

    def lookup(self, sop_uid: str) -> tuple[list[Box], list[str | None]] | None:
        """(boxes, levels) of the image, or None when no XML names it. A broken XML raises
        ``InputError`` naming the file."""
        path = self.path_for(sop_uid)
        if path is None:
            return None
        voc = read_voc(path)
        return ([(b.x0, b.y0, b.x1, b.y1) for b in voc.boxes], [b.level or None for b in voc.boxes])
