"""``vcfnet readers analyze`` and ``vcfnet readers plan``: the reader study's statistics."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``analyze`` and ``plan`` to the ``vcfnet readers`` sub-app."""
