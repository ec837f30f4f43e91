#!/bin/sh
# The GPU run in one command from the repository root: benchmarks/gpu.sh [--dry-run] [...]
cd "$(dirname "$0")/.." && exec .venv/bin/python benchmarks/gpu.py "$@"
