"""A PACS over DICOMweb: QIDO-RS search, WADO-RS retrieve, STOW-RS store (``dicomweb-client``).

    >>> pacs = Pacs("http://127.0.0.1:8042/dicom-web", username="u", password="p")
    >>> studies = pacs.search_studies({"ModalitiesInStudy": "DX"})
    >>> images = pacs.radiographs(study_uid)                  # DX / CR image instances of a study
    >>> path = pacs.retrieve(images[0], folder)               # one file, in a private folder
    >>> pacs.store(results.datasets)                          # SR + GSPS + SC into the study

Bounds before anything is allocated: a study with more than ``max_instances`` images, and an image
whose QIDO Rows x Columns exceed ``vcfnet.io.radiograph.MAX_PIXELS``, are refused before retrieval.
Errors name the server (without credentials) and what failed; a PACS answer never reaches a log.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydicom.dataset import Dataset

from vcfnet.errors import VcfnetError
from vcfnet.fileio import atomic_path
from vcfnet.io.radiograph import MAX_PIXELS

log = logging.getLogger(__name__)

#: Image storage classes a lateral spine radiograph comes in: DX (presentation, processing), CR.
RADIOGRAPH_CLASSES = {"1.2.840.10008.5.1.4.1.1.1.1": "DX", "1.2.840.10008.5.1.4.1.1.1.1.1": "DX",
                      "1.2.840.10008.5.1.4.1.1.1": "CR"}
STUDY_FIELDS = ("StudyInstanceUID", "StudyDate", "StudyDescription", "ModalitiesInStudy",
                "NumberOfStudyRelatedInstances", "PatientID", "PatientName", "AccessionNumber")
INSTANCE_FIELDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Rows",
                   "Columns", "InstanceNumber")


class PacsError(VcfnetError):
    """The PACS refused or failed a request; the message names the server and the request."""


class PacsNotFound(PacsError):
    """The PACS has no such study or image."""


@dataclass(frozen=True)
class Instance:
    """One image in a PACS: its three UIDs, class and size (from QIDO)."""

    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class: str
    rows: int
    columns: int


def display_url(url: str) -> str:
    """``url`` without user name or password (for messages and logs)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Pacs:
    """A DICOMweb server (``url``: its DICOMweb root) with optional HTTP basic credentials."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 timeout_s: float = 60.0, max_instances: int = 500):
        import requests
        from dicomweb_client import DICOMwebClient

        if not url.startswith(("http://", "https://")):
            raise VcfnetError(f"PACS URL must start with http:// or https://, got '{display_url(url)}'")
        session = requests.Session()
        if username:
            session.auth = (username, password or "")
        self.name = display_url(url)
        self.url, self.timeout_s, self.max_instances = url.rstrip("/"), timeout_s, max_instances
        self._session = session
        self._client = DICOMwebClient(self.url, session=session, timeout=timeout_s)
        # dicomweb-client retries every failure 5 times, 31 s in all; a busy PACS gets 3 tries in ~1.5 s
        self._client.set_http_retry_params(max_attempts=3, wait_exponential_multiplier=250)

    def _call(self, what: str, fn, *args, **kwargs) -> Any:
        import requests

        try:
            return fn(*args, **kwargs)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            raise PacsError(f"PACS {self.name}: {what} failed (HTTP {status})") from None
        except requests.RequestException as exc:
            raise PacsError(f"PACS {self.name}: {what} failed ({type(exc).__name__})") from None

    def search_studies(self, filters: dict[str, str] | None = None, *, limit: int = 100) -> list[Dataset]:
        """QIDO-RS studies matching ``filters`` (DICOM keywords: ``{"PatientID": "x", "StudyDate": ...}``).

        The query string keeps ``*`` and ``?`` wildcards and ``,``/``-`` as they are: Orthanc's DICOMweb
        plugin (1.x) does not percent-decode query values, so ``XR%2A`` would match nothing."""
        from urllib.parse import quote, urlencode

        params = [*(filters or {}).items(), ("limit", str(limit)), *(("includefield", f) for f in STUDY_FIELDS)]
        url = f"{self.url}/studies?{urlencode(params, safe='*?,-^', quote_via=quote)}"

        def get():
            response = self._session.get(url, headers={"Accept": "application/dicom+json"}, timeout=self.timeout_s)
            response.raise_for_status()
            return response.json() if response.content else []
        return [Dataset.from_json(item) for item in self._call("study search", get)]

    def radiographs(self, study_uid: str, sop_uid: str | None = None) -> list[Instance]:
        """The DX/CR image instances of a study (QIDO-RS; only ``sop_uid`` when given), refused when there
        are too many or one is too big."""
        filters = {"SOPInstanceUID": sop_uid} if sop_uid else None
        found = self._call("instance search", self._client.search_for_instances, study_instance_uid=study_uid,
                           fields=list(INSTANCE_FIELDS), limit=self.max_instances + 1, search_filters=filters)
        if len(found) > self.max_instances:
            raise PacsError(f"PACS {self.name}: a study holds more than {self.max_instances} instances; "
                            f"refused (max_instances)")
        images = [image for image in map(self._instance, found) if image is not None]
        return [replace(i, study_uid=i.study_uid or study_uid) for i in images]

    def radiograph(self, study_uid: str, sop_uid: str) -> Instance:
        """One DX/CR image of a study, checked like ``radiographs``; an error when the PACS has no such image."""
        found = [i for i in self.radiographs(study_uid, sop_uid) if i.sop_uid == sop_uid]
        if not found:
            raise PacsNotFound(f"PACS {self.name}: no DX/CR radiograph with that SOP Instance UID in the study")
        return found[0]

    def _instance(self, item: dict) -> Instance | None:
        ds = Dataset.from_json(item)
        sop_class = str(ds.get("SOPClassUID", ""))
        if sop_class not in RADIOGRAPH_CLASSES:
            return None
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
        if rows * columns > MAX_PIXELS:
            raise PacsError(f"PACS {self.name}: an image of {rows} x {columns} pixels exceeds "
                            f"MAX_PIXELS ({MAX_PIXELS}); refused before retrieval")
        return Instance(str(ds.get("StudyInstanceUID", "") or ""), str(ds.get("SeriesInstanceUID", "")),
                        str(ds.SOPInstanceUID), sop_class, rows, columns)

    def retrieve(self, image: Instance, folder: str | Path) -> Path:
        """WADO-RS the image into ``folder`` as ``<SOPInstanceUID>.dcm`` (atomically)."""
        ds = self._call("retrieve", self._client.retrieve_instance, image.study_uid, image.series_uid,
                        image.sop_uid)
        path = Path(folder) / f"{image.sop_uid}.dcm"
        with atomic_path(path) as tmp:
            ds.save_as(tmp, enforce_file_format=True)
        return path

    def store(self, datasets: list[Dataset]) -> None:
        """STOW-RS ``datasets`` (all of one study); a partial failure is an error."""
        if not datasets:
            return
        study = str(datasets[0].StudyInstanceUID)
        answer = self._call("store", self._client.store_instances, datasets, study_instance_uid=study)
        failed = answer.get("FailedSOPSequence") if answer is not None else None
        if failed:
            raise PacsError(f"PACS {self.name}: {len(failed)} of {len(datasets)} objects were refused on store")
        log.info("stored %d object(s) in the PACS", len(datasets))
