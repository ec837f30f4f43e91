"""``vcfnet synth``: write the built-in synthetic multi-site study, ready for ``vcfnet ingest``.

    vcfnet synth synthetic                      # the study's counts: 2031 development vertebrae, ...
    vcfnet synth small --scale 0.1 --format png --workers 2
    vcfnet synth demo --scale 0.25 --resolution 0.5 --real-crops ../shared/data/vcfnet-samples/train
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from vcfnet.errors import VcfnetError


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)


def synth(
    out: Path = typer.Argument(..., help="Output folder (new or empty)."),
    scale: float = typer.Option(1.0, "--scale", help="Fraction of the study's counts (0.1 = a tenth; "
                                "every class keeps at least 3 vertebrae per source)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives identical pixels."),
    fmt: str = typer.Option("dicom", "--format", help="dicom (made-up identifiers in the header, to "
                            "exercise de-identification) or png (with metadata.csv)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    resolution: float = typer.Option(1.0, "--resolution", help="Detector resolution factor: 1.0 = each "
                                     "site's own DR/CR detector (0.14-0.18 mm, 2000-2600 px tall), 0.5 = half "
                                     "as many pixels per side (the demo's)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a synthetic study already in OUT."),
    montage: Optional[Path] = typer.Option(None, "--montage", help="Also draw a montage PNG of the study."),
    real_crops: Optional[Path] = typer.Option(None, "--real-crops", help="Folder of real crops "
                                              "({Acute,Chronic,Pathologic}/*.png): print the realism "
                                              "statistics and domain-probe AUC against them, and put "
                                              "them beside the synthetic crops in the montage."),
    cnn_probe: int = typer.Option(0, "--cnn-probe", min=0, help="With --real-crops: also train a small CNN "
                                  "from scratch to tell the crops apart (5-fold CV) over this many seeds and "
                                  "print its AUCs (0.5: no cue found; 10-60 s per seed on 2 cores, by machine and crop count)."),
) -> None:
    """Synthetic lateral lumbar radiographs from four sites with LabelImg boxes on the fractured vertebrae.

    Sources: site1-development, site1-prospective (later dates), site2/3/4-external; see manifest.json.
    """
    from vcfnet.synth.generate import generate_study

    if cnn_probe and real_crops is None:
        raise VcfnetError("--cnn-probe needs --real-crops (the folder of real crops to tell apart from the synthetic ones)")

    start = time.perf_counter()
    manifest = generate_study(out, scale=scale, seed=seed, fmt=fmt.lower(), workers=workers,
                              resolution=resolution, overwrite=overwrite)
    seconds = time.perf_counter() - start
    counts = manifest["counts"]
    for path, row in counts["by_source"].items():
        per_class = ", ".join(f"{row[c]} {c}" for c in ("acute", "chronic", "pathological"))
        typer.echo(f"{path:20s} {row['images']:5d} images  {per_class}")
    typer.echo(f"-> {out}/manifest.json: {counts['images']} images, {counts['vertebrae']} fractured vertebrae "
               f"in {seconds:.1f} s ({counts['images'] / max(seconds, 1e-9):.1f} images/s)")
    if real_crops is not None:
        from vcfnet.synth.realism import compare, format_table, statistics_matrix, synthetic_crops
        from vcfnet.synth.realism import real_crops as load_real

        real, fake = load_real(real_crops), synthetic_crops(out, limit=120)
        result = compare(statistics_matrix(real), statistics_matrix(fake))
        typer.echo(format_table(result))
        if cnn_probe:
            from vcfnet.synth.cnn_probe import cnn_probe as probe

            aucs = probe(real, fake, seeds=cnn_probe)
            typer.echo(f"CNN domain-probe AUC (5-fold CV, {cnn_probe} seed{'s' * (cnn_probe > 1)}): "
                       + ", ".join(f"{a:.3f}" for a in aucs) + f"; mean {sum(aucs) / len(aucs):.3f}")
    if montage is not None:
        from vcfnet.synth.montage import make_montage
        typer.echo(f"-> {make_montage(out, montage, real=real_crops)}")
