"""`--output-format pylint`: `path:line: [CODE] message`, the line pylint's parseable output
has, which many editors and CI log parsers read."""

from __future__ import annotations

from typing import Sequence

from dllint.reports import ReportContext
from dllint.types import Diagnostic


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    lines = []
    for d in diagnostics:
        # A notebook cell's lines are not the file's lines: the cell is named in the message.
        where = f"cell {d.cell}, line {d.line}: " if d.cell else ""
        message = " ".join((where + d.message).splitlines())  # one finding, one line
        lines.append(f"{d.path}:{1 if d.cell else d.line}: [{d.code}] {message}\n")
    return "".join(lines)
