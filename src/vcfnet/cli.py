"""The ``vcfnet`` command line: one sub-command per stage of the study. Wiring only.

Each module in ``vcfnet.commands`` exposes ``register(app)``; it imports its heavy dependencies
inside the command body so that ``vcfnet --help`` stays instant.
"""
from __future__ import annotations

import importlib
import logging
import sys
import warnings

import typer

from vcfnet.errors import VcfnetError

#: Sub-command modules under ``vcfnet.commands``, in the order of the study's data flow.
COMMAND_MODULES: tuple[str, ...] = (
    "synth",
    "ingest",
    "study",
    "train",
    "calibrate",
    "predict",
    "detect",
    "demo",
    "serve",
    "readers",
    "evaluate",
    "report",
    "bench",
    "pacs",
    "node",
)

app = typer.Typer(
    name="vcfnet",
    help="AI diagnosis of vertebral compression fractures (acute / chronic / pathological) on lateral "
         "spine radiographs, and the clinical study around it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress and debug messages.")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings reach a CLI user as one plain line (e.g. a metric not estimable on a small cohort)."""
    typer.secho(f"warning: {message}", err=True, fg=typer.colors.YELLOW)


for _name in COMMAND_MODULES:
    importlib.import_module(f"vcfnet.commands.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vcfnet`` console script: user mistakes exit 2 with a one-line message."""
    try:
        # without standalone mode click returns a command's ``typer.Exit(code)`` instead of exiting
        code = app(args=argv, standalone_mode=False)
    except VcfnetError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        return 2
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        return 130
    except SystemExit as exc:  # typer/click exit codes (e.g. --help)
        return int(exc.code or 0)
    except typer.Abort:
        return 1
    except Exception as exc:  # click usage errors carry their own formatting
        import click
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return code if type(code) is int else 0


if __name__ == "__main__":
    sys.exit(main())
