"""``vcfnet readers``: the human-AI reader study (design, reading app, audit, import/export, analysis).

The study-management and reading commands live here; ``analyze`` and ``plan`` live in
:mod:`vcfnet.commands.readers_analysis` and join the same sub-app.
"""
from __future__ import annotations

import typer

readers_app = typer.Typer(help="The reader study: radiologists read with and without the model; MRMC analysis.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from vcfnet.commands import readers_analysis

    readers_analysis.register(readers_app)
    app.add_typer(readers_app, name="readers")
