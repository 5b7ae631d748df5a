"""`--format json`: an array of diagnostic objects, stable for scripts."""

from __future__ import annotations

import json
from typing import Sequence

from dllint.reports import ReportContext
from dllint.serialize import diagnostic_to_dict
from dllint.types import Diagnostic


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    return json.dumps([diagnostic_to_dict(d) for d in diagnostics], indent=2) + "\n"
