"""`--output-format json-lines`: one finding per line, each the object `json` writes in its
array, so a stream of findings can be read (or grepped) a line at a time."""

from __future__ import annotations

import json
from typing import Sequence

from dllint.reports import ReportContext
from dllint.serialize import diagnostic_to_dict
from dllint.types import Diagnostic


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    # ensure_ascii (the default) keeps a line one line whatever the message holds: a line
    # separator such as U+2028 in a message is written as an escape.
    return "".join(json.dumps(diagnostic_to_dict(d)) + "\n" for d in diagnostics)
