"""`--format github`: GitHub Actions workflow commands, shown as annotations on the pull request."""

from __future__ import annotations

from typing import Sequence

from dllint.reports import ReportContext
from dllint.types import Diagnostic, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    lines = []
    for d in diagnostics:
        position = [] if d.cell else [  # a cell's lines are not the file's lines
            f"line={d.span.start_line}", f"col={d.span.start_column}",
            f"endLine={d.span.end_line}", f"endColumn={d.span.end_column}"]
        properties = ",".join([f"file={_escape_property(d.path)}", *position,
                               f"title={_escape_property(f'{d.code} {d.name}')}"])
        where = f"cell {d.cell}, line {d.span.start_line}: " if d.cell else ""
        message = where + d.message + "".join(
            f"\n{r.path}:{r.span.start_line}:{r.span.start_column}: {r.message}" for r in d.related)
        lines.append(f"::{_LEVEL[d.severity]} {properties}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)
