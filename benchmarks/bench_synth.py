"""The synthetic study's cost: this checkout's generator against an older one, back to back, alternating.

Each run is a fresh Python process that generates one study with ``generate_study`` (the demo's
resolution and format) and prints its wall time; the old generator is imported from a ``git worktree`` of
the baseline commit (the editable install's finder is removed from ``sys.meta_path`` first, so that the
old code, not this checkout's, is what runs). Runs alternate old, new, old, new ... so that a drift of the
machine's speed hits both alike. Usage:

    git worktree add /tmp/old-synth COMMIT
    python benchmarks/bench_synth.py /tmp/old-synth [--scale 0.1] [--repeats 2] [--workers 2]

Prints each time, the means and the ratio new / old (mean against mean).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = r'''
import sys, time
tree, out, scale, workers = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
if tree:
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f) and "editable" not in type(f).__module__]
    sys.path.insert(0, tree + "/src")
import vcfnet.synth.generate as g
assert not tree or g.__file__.startswith(tree + "/src/"), f"imported {g.__file__}, not the old tree's"
start = time.perf_counter()
g.generate_study(out, scale=scale, seed=0, fmt="dicom", workers=workers, resolution=0.5)
print(time.perf_counter() - start)
'''


def run_once(tree: str, scale: float, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", RUN, tree, str(Path(tmp) / "study"), str(scale), str(workers)],
                              capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"generator run failed ({'old' if tree else 'new'}):\n{done.stderr}")
    return float(done.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old_tree", type=Path, help="a git worktree of the baseline commit")
    ap.add_argument("--scale", type=float, default=0.1, help="study scale (default 0.1: ~200 films)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not (args.old_tree / "src" / "vcfnet" / "synth" / "generate.py").is_file():
        sys.exit(f"{args.old_tree}: not a vcfnet checkout with src/vcfnet/synth/generate.py")
    times: dict[str, list[float]] = {"old": [], "new": []}
    for _ in range(args.repeats):
        for which, tree in (("old", str(args.old_tree.resolve())), ("new", "")):
            times[which].append(run_once(tree, args.scale, args.workers))
            print(f"{which} {times[which][-1]:.1f} s", flush=True)
    old, new = statistics.mean(times["old"]), statistics.mean(times["new"])
    print(f"old {old:.1f} s, new {new:.1f} s (means of {args.repeats}); ratio new / old {new / old:.2f}")


if __name__ == "__main__":
    main()
