"""User-facing errors.

A ``VcfnetError`` is a mistake in what the user gave (a file, a row, an option). The CLI prints its
message without a traceback and exits with status 2. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

from pathlib import Path


class VcfnetError(Exception):
    """An error in user input; the message says what was given and what was expected."""


class InputError(VcfnetError):
    """Bad input file or record: names the file (and row/field where there is one)."""

    def __init__(self, source: str | Path, problem: str, *, row: int | str | None = None,
                 field: str | None = None):
        self.source = str(source)
        self.problem = problem
        self.row = row
        self.field = field
        where = self.source
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):  # survive the trip back from a worker process
        return (_rebuild_input_error, (self.source, self.problem, self.row, self.field))


def _rebuild_input_error(source, problem, row, field):
    return InputError(source, problem, row=row, field=field)
