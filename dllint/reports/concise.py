"""`--output-format concise`: one line per finding, `path:line:col: CODE message [*]`, then the
summary; no code frames and no related locations (`full` shows them)."""

from __future__ import annotations

from typing import Sequence

from dllint.reports import ReportContext
from dllint.reports.text import render_text
from dllint.types import Diagnostic


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    return render_text(diagnostics, context, frames=False)
