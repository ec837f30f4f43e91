"""``vcfnet node``: a DICOM C-STORE node that analyses the radiographs routed to it. Wiring only.

    vcfnet node RUN/best --boxes boxes/ --dest ORTHANC@127.0.0.1:4242 --aet VCFNET --port 11112

The library: ``vcfnet.dicom.node``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("node")(node)


def node(
    checkpoint: Path = typer.Argument(..., help="Checkpoint folder written by `vcfnet train` (e.g. RUN/best)."),
    boxes: Path = typer.Option(..., "--boxes", help="Folder of LabelImg XML files, one per image, named "
                                                   "<SOPInstanceUID>.xml (or whose <filename> is the UID); "
                                                   "read when each image arrives."),
    dest: Optional[str] = typer.Option(None, "--dest", help="C-STORE results to AET@host:port "
                                                            "(e.g. ORTHANC@127.0.0.1:4242)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Also (or instead) write results here."),
    aet: str = typer.Option("VCFNET", "--aet", help="This node's AE title."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(11112, "--port", min=1, max=65535, help="DICOM port to listen on."),
    work_dir: Optional[Path] = typer.Option(None, "--work-dir", help="Parent of the private folder "
                                                                    "(mode 0700) received images wait in."),
    gradcam: bool = typer.Option(False, "--gradcam", help="Burn Grad-CAM heatmaps into the secondary capture."),
    device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:1 ..."),
) -> None:
    """Receive DX/CR radiographs (C-STORE), analyse them, C-STORE the SR + overlays back. Ctrl-C or
    SIGTERM stops (after finishing the queue)."""
    from vcfnet.dicom.boxes import BoxIndex
    from vcfnet.dicom.node import Destination, Node
    from vcfnet.predict import Predictor

    index = BoxIndex(boxes)
    destination = Destination.parse(dest) if dest else None
    server = Node(Predictor(checkpoint, device=device), index, destination, aet=aet, host=host, port=port,
                  out_dir=out, work_dir=work_dir, gradcam=gradcam)
    _stop_on_sigterm()
    server.start()
    typer.echo(f"vcfnet node {aet} listening on {host}:{port}" +
               (f", results to {destination.aet}@{destination.host}:{destination.port}" if destination else "") +
               (f", results written to {out}" if out else "") + " (Ctrl-C stops)")
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        typer.echo("stopping: finishing the queue")
    finally:
        server.stop()
    s = server.stats
    typer.echo(f"{s.received} received, {s.refused} refused, {s.analysed} analysed, {s.no_boxes} without "
               f"boxes, {s.failed} failed, {s.sent} objects sent")


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop) and SIGINT stop the node like Ctrl-C: the queue is finished first.
    SIGINT is set too because a shell starts background jobs with it ignored."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
