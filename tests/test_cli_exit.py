"""``vcfnet.cli.main`` returns the exit status a command asks for with ``typer.Exit(code)``."""
from __future__ import annotations

import typer

from vcfnet import cli


def test_typer_exit_code_reaches_the_exit_status():
    def failing() -> None:
        raise typer.Exit(3)

    def fine() -> bool:
        return True          # a command's return value is not an exit status

    before = list(cli.app.registered_commands)
    cli.app.command("zz-exit-three")(failing)
    cli.app.command("zz-returns-true")(fine)
    try:
        assert cli.main(["zz-exit-three"]) == 3
        assert cli.main(["zz-returns-true"]) == 0
    finally:
        cli.app.registered_commands[:] = before
