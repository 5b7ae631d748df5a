"""`--format json`: an array of diagnostic objects, stable for scripts; with `--statistics`, an
array of per-rule counts (`code`, `name`, `count`, `fixable`), the shape ruff writes."""

from __future__ import annotations

import json
from typing import Sequence

from dllint.reports import ReportContext, rule_counts
from dllint.serialize import diagnostic_to_dict
from dllint.types import Diagnostic


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    if context.statistics:
        rows = [row.to_dict() for row in rule_counts(diagnostics, context.unsafe_fixes)]
        return json.dumps(rows, indent=2) + "\n"
    return json.dumps([diagnostic_to_dict(d) for d in diagnostics], indent=2) + "\n"
