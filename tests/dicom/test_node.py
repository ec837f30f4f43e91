"""``vcfnet node`` round trip: a pynetdicom SCU sends radiographs -> the node analyses them -> C-STOREs
SR + GSPS + SC to a real Orthanc -> read back from Orthanc. Bad objects are refused, the node runs on."""
from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import time

import pydicom
import pytest
from dicom_toys import boxes_by_uid, check_stored, free_port, results_in

from vcfnet.dicom.boxes import BoxIndex
from vcfnet.dicom.node import Destination, Node


def send(port: int, datasets) -> list[int]:
    """C-STORE ``datasets`` to the node at ``port``; the status of each."""
    from pynetdicom import AE

    ae = AE(ae_title="MODALITY")
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="VCFNET")
    assert assoc.is_established
    try:
        return [int(assoc.send_c_store(ds).Status) for ds in datasets]
    finally:
        assoc.release()


@pytest.fixture(scope="module")
def node_films(synth_study):
    return [sorted(synth_study.glob(f"site{s}-*/*.dcm"))[2] for s in (1, 3, 4)]


def test_node_round_trip_to_orthanc(orthanc, node_films, predictor, tmp_path, caplog):
    boxes = boxes_by_uid(node_films[:2], tmp_path / "boxes")      # the third film has no boxes
    port = free_port()
    node = Node(predictor, BoxIndex(boxes), Destination("ORTHANC", "127.0.0.1", orthanc.dicom_port),
                port=port, work_dir=tmp_path)
    sources = [pydicom.dcmread(f) for f in node_films]
    bad_class = pydicom.dcmread(node_films[0])
    bad_class.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"              # CT Image Storage: not a radiograph
    bad_class.file_meta.MediaStorageSOPClassUID = bad_class.SOPClassUID
    huge = pydicom.dcmread(node_films[1])
    huge.Rows = huge.Columns = 60000                                  # announced size beyond MAX_PIXELS
    with caplog.at_level(logging.INFO, logger="vcfnet"):
        node.start()
        try:
            assert stat.S_IMODE(os.stat(node.private).st_mode) == 0o700
            assert send(port, [sources[0], huge, sources[2]]) == [0x0000, 0xA900, 0x0000]
            from pynetdicom import AE  # a class the node does not accept
            ae = AE(ae_title="MODALITY")
            ae.add_requested_context(bad_class.SOPClassUID)
            assoc = ae.associate("127.0.0.1", port, ae_title="VCFNET")
            assert not assoc.is_established or assoc.accepted_contexts == []
            if assoc.is_established:
                assoc.release()
            assert send(port, [sources[1]]) == [0x0000]               # the node is still running
            node.wait_idle()
            assert list(node.private.iterdir()) == []                 # received data removed
        finally:
            node.stop()
    assert not node.private.exists()
    s = node.stats
    assert (s.received, s.refused, s.analysed, s.no_boxes, s.failed, s.sent) == (4, 1, 2, 1, 0, 6)
    assert "60000 x 60000" in s.reasons[0]
    for film in node_films[:2]:
        check_stored(orthanc, film, predictor)
    assert results_in(orthanc, str(sources[2].StudyInstanceUID)) == {"SR": [], "PR": [], "OT": []}
    for source in sources:
        for keyword in ("PatientName", "PatientID", "SOPInstanceUID", "StudyInstanceUID"):
            assert str(source.get(keyword)) not in caplog.text


def test_destination_is_checked():
    from vcfnet.errors import VcfnetError

    assert Destination.parse("ORTHANC@127.0.0.1:4242") == Destination("ORTHANC", "127.0.0.1", 4242)
    for bad in ("127.0.0.1:4242", "ORTHANC@127.0.0.1", "A@h:0", "WAYTOOLONGAETITLE17@h:1"):
        with pytest.raises(VcfnetError, match="AET@host:port"):
            Destination.parse(bad)


def test_vcfnet_node_command_runs_and_stops(orthanc, node_films, checkpoint, tmp_path):
    """The command as a user runs it: it listens, writes results for a film sent to it, stops on SIGINT."""
    boxes = boxes_by_uid(node_films[:1], tmp_path / "boxes")
    port = free_port()
    cmd = [sys.executable, "-c", "import sys; from vcfnet.cli import main; sys.exit(main())", "node",
           str(checkpoint), "--boxes", str(boxes), "--port", str(port), "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                statuses = send(port, [pydicom.dcmread(node_films[0])])
                break
            except AssertionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.3)
        assert statuses == [0]
        deadline = time.monotonic() + 60
        while len(list((tmp_path / "out").glob("*.dcm"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert f"vcfnet node VCFNET listening on 127.0.0.1:{port}" in output
    assert "1 received, 0 refused, 1 analysed" in output
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "out").glob("*.dcm")) == ["gsps", "sc", "sr"]
