"""``vcfnet node``: a DICOM node (pynetdicom C-STORE SCP) that analyses the radiographs sent to it.

    >>> node = Node(predictor, BoxIndex("boxes/"), Destination.parse("ORTHANC@127.0.0.1:4242"))
    >>> node.start(); ...; node.stop()

A modality or PACS routes DX/CR radiographs to the node. Each C-STORE is written, as received, into
a private folder (mode 0700) and its header checked there (``read_dicom_dataset``): a radiograph
class, Rows x Columns within ``MAX_PIXELS``, the UIDs results need. A bad object is refused with a
failure status and one logged reason; the node keeps running. Accepted images are queued; one worker
predicts (boxes from the LabelImg folder, by SOP Instance UID; an image without boxes is skipped and
logged) and C-STOREs the SR, GSPS and secondary capture to the destination (or writes them to a
folder). The received file is removed as soon as it is processed, whatever the outcome.
Log lines count and give reasons; they never carry a UID, a patient name or ID.
"""
from __future__ import annotations

import logging
import queue
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcfnet.dicom.boxes import BoxIndex
from vcfnet.dicom.dicomweb import RADIOGRAPH_CLASSES
from vcfnet.dicom.results import analyze_file, write_results
from vcfnet.errors import VcfnetError
from vcfnet.io.radiograph import MAX_PIXELS, read_dicom_dataset

log = logging.getLogger(__name__)

#: C-STORE failure statuses (PS3.4 B.2.3 and PS3.7 C): refused, out of resources, cannot understand.
REFUSED, OUT_OF_RESOURCES, CANNOT_UNDERSTAND = 0xA900, 0xA700, 0xC000
RESULT_CLASSES = ("1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.11.1", "1.2.840.10008.5.1.4.1.1.7")


@dataclass(frozen=True)
class Destination:
    """Where results are C-STOREd: an AE title, host and port."""

    aet: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``AET@host:port``, e.g. ``ORTHANC@127.0.0.1:4242``."""
        aet, at, rest = text.partition("@")
        host, colon, port = rest.rpartition(":")
        if not (at and colon and aet.strip() and host and port.isdigit() and 0 < int(port) < 65536
                and len(aet.strip()) <= 16):
            raise VcfnetError(f"destination '{text}': expected AET@host:port (AE title of at most 16 "
                              f"characters), e.g. ORTHANC@127.0.0.1:4242")
        return cls(aet.strip(), host, int(port))


@dataclass
class NodeStats:
    received: int = 0
    refused: int = 0
    analysed: int = 0
    no_boxes: int = 0
    failed: int = 0
    sent: int = 0
    reasons: list[str] = field(default_factory=list)


def check_received(path: Path) -> str:
    """Why a received object cannot be analysed ('' if it can), from its header only."""
    try:
        ds = read_dicom_dataset(path, stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 - any damaged header is a refusal, never a crash
        return f"unreadable header ({type(exc).__name__})"
    sop_class = str(ds.get("SOPClassUID", ""))
    if sop_class not in RADIOGRAPH_CLASSES:
        return f"SOP class {sop_class or 'missing'} is not a DX or CR radiograph"
    try:
        rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    except (TypeError, ValueError):
        return "invalid Rows/Columns"
    if rows * columns > MAX_PIXELS or rows * columns == 0:
        return f"image of {rows} x {columns} pixels (1 to MAX_PIXELS = {MAX_PIXELS})"
    missing = [k for k in ("StudyInstanceUID", "SOPInstanceUID") if not str(ds.get(k, "")).strip()]
    return f"no {missing[0]}" if missing else ""


class Node:
    """The C-STORE SCP, its queue and its worker."""

    def __init__(self, predictor, boxes: BoxIndex, destination: Destination | None, *, aet: str = "VCFNET",
                 host: str = "127.0.0.1", port: int = 11112, out_dir: str | Path | None = None,
                 work_dir: str | Path | None = None, gradcam: bool = False, queue_size: int = 64):
        if destination is None and out_dir is None:
            raise VcfnetError("vcfnet node needs a destination (--dest AET@host:port) or an output folder (--out)")
        self.predictor, self.boxes, self.destination = predictor, boxes, destination
        self.aet, self.host, self.port = aet, host, port
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.gradcam = gradcam
        self.private = Path(tempfile.mkdtemp(prefix="vcfnet-node-", dir=work_dir))   # mode 0700
        self.stats = NodeStats()
        self._queue: queue.Queue[Path | None] = queue.Queue(maxsize=queue_size)
        self._server: Any = None
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    # ---- receiving ------------------------------------------------------------------------
    def _on_store(self, event) -> int:
        with self._lock:
            self.stats.received += 1
            number = self.stats.received
        path = self.private / f"received-{number:06d}.dcm"
        try:
            with open(path, "wb") as fh:
                fh.write(b"\0" * 128 + b"DICM")
                from pydicom.filewriter import write_file_meta_info

                write_file_meta_info(fh, event.file_meta, enforce_standard=True)  # type: ignore[arg-type]
                fh.write(event.request.DataSet.getvalue())
        except Exception as exc:  # noqa: BLE001 - a malformed request must not stop the node
            return self._refuse(path, CANNOT_UNDERSTAND, f"cannot write the received object ({type(exc).__name__})")
        problem = check_received(path)
        if problem:
            return self._refuse(path, REFUSED, problem)
        try:
            self._queue.put_nowait(path)
        except queue.Full:
            return self._refuse(path, OUT_OF_RESOURCES, "the analysis queue is full")
        return 0x0000

    def _refuse(self, path: Path, status: int, reason: str) -> int:
        path.unlink(missing_ok=True)
        with self._lock:
            self.stats.refused += 1
            self.stats.reasons.append(reason)
        log.warning("node: refused one object: %s", reason)
        return status

    # ---- analysing --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            path = self._queue.get()
            try:
                if path is None:
                    return
                self._analyse(path)
            finally:
                if path is not None:
                    path.unlink(missing_ok=True)
                self._queue.task_done()

    def _analyse(self, path: Path) -> None:
        sop_uid = str(read_dicom_dataset(path, stop_before_pixels=True).SOPInstanceUID)
        try:
            found = self.boxes.lookup(sop_uid)
            if not found:
                with self._lock:
                    self.stats.no_boxes += 1
                log.info("node: one image has no boxes beside it; skipped")
                return
            results = analyze_file(self.predictor, path, found[0], found[1], gradcam=self.gradcam)
            if self.destination is not None:
                self._send(results.datasets)
            if self.out_dir is not None:
                write_results(results, self.out_dir)
        except VcfnetError as exc:
            with self._lock:
                self.stats.failed += 1
                self.stats.reasons.append(str(exc).replace(str(path), "<received>"))
            log.warning("node: one image failed: %s", str(exc).replace(str(path), "<received>"))
            return
        with self._lock:
            self.stats.analysed += 1
        log.info("node: analysed one image (%d box(es))", len(results.findings))

    def _send(self, datasets) -> None:
        """C-STORE ``datasets`` to the destination in one association; any failure is an error."""
        from pynetdicom import AE

        dest = self.destination
        assert dest is not None
        ae = AE(ae_title=self.aet)
        for sop_class in RESULT_CLASSES:
            ae.add_requested_context(sop_class)
        assoc = ae.associate(dest.host, dest.port, ae_title=dest.aet)
        if not assoc.is_established:
            raise VcfnetError(f"destination {dest.aet}@{dest.host}:{dest.port}: association refused or "
                              f"unreachable")
        try:
            for ds in datasets:
                status = assoc.send_c_store(ds)
                code = int(getattr(status, "Status", -1)) if status else -1
                if code != 0x0000:
                    raise VcfnetError(f"destination {dest.aet}: C-STORE failed (status 0x{code & 0xFFFF:04X})")
                with self._lock:
                    self.stats.sent += 1
        finally:
            assoc.release()

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker and the SCP (non-blocking)."""
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        self._worker = threading.Thread(target=self._work, name="vcfnet-node-worker", daemon=True)
        self._worker.start()
        ae = AE(ae_title=self.aet)
        ae.maximum_pdu_size = 0
        for sop_class in RADIOGRAPH_CLASSES:
            ae.add_supported_context(sop_class)
        ae.add_supported_context(Verification)
        self._server = ae.start_server((self.host, self.port), block=False,
                                       evt_handlers=[(evt.EVT_C_STORE, self._on_store)])
        log.info("node: listening as %s on %s:%d", self.aet, self.host, self.port)

    def wait_idle(self) -> None:
        """Block until every queued image is processed."""
        self._queue.join()

    def stop(self) -> None:
        """Stop receiving, finish the queue, remove the private folder."""
        if self._server is not None:
            self._server.shutdown()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=120)
        shutil.rmtree(self.private, ignore_errors=True)
        log.info("node: stopped (%d received, %d refused, %d analysed, %d without boxes, %d failed)",
                 self.stats.received, self.stats.refused, self.stats.analysed, self.stats.no_boxes,
                 self.stats.failed)
