"""`--output-format gitlab`: a GitLab Code Quality report (a JSON array), which a merge request
shows as new and fixed findings by comparing the reports of its two pipelines.

GitLab tells a finding that stayed from a new one by its `fingerprint`, so the fingerprint must
survive edits elsewhere in the file: it is a hash of the rule code, the path and the text of the
finding's line (not its number), and, for identical lines with the same finding, how many came
before it in the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import PurePath
from typing import Sequence

from dllint.lines import split_lines
from dllint.reports import ReportContext
from dllint.types import Diagnostic, Severity

# GitLab's levels are info, minor, major, critical and blocker.
_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def report_path(path: str) -> str:
    """The path relative to the repository, as GitLab links it: to `$CI_PROJECT_DIR` in a
    GitLab job, else to the working directory; a file outside it keeps its own path."""
    base = os.environ.get("CI_PROJECT_DIR") or os.getcwd()
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, base)
    except ValueError:  # on another Windows drive
        return PurePath(path).as_posix()
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return PurePath(path).as_posix()
    return PurePath(relative).as_posix()


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    lines_of: dict[str, list[str]] = {}
    seen: Counter[tuple[str, ...]] = Counter()
    issues = []
    for d in diagnostics:
        path = report_path(d.path)
        if d.path not in lines_of:
            lines_of[d.path] = split_lines(context.sources.get(d.path, ""))
        lines = lines_of[d.path]
        if d.cell is None and 0 < d.line <= len(lines):
            anchor = lines[d.line - 1].strip()
        else:  # a notebook cell (its lines are not the file's) or a file without text
            anchor = f"cell {d.cell}: {d.message}" if d.cell else d.message
        key = (d.code, path, anchor)
        occurrence = seen[key]
        seen[key] += 1
        digest = hashlib.blake2b(digest_size=16)
        for part in (*key, str(occurrence)):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        where = f"cell {d.cell}, line {d.line}: " if d.cell else ""
        issues.append({
            "description": f"({d.code}) {where}{d.message}",
            "check_name": d.code,
            "fingerprint": digest.hexdigest(),
            "severity": _SEVERITY[d.severity],
            "location": {
                "path": path,
                # A cell's line numbers are not the file's: a notebook finding points at line 1.
                "lines": {"begin": 1 if d.cell else d.span.start_line,
                          "end": 1 if d.cell else d.span.end_line},
            },
        })
    # ensure_ascii: a file name that is not valid UTF-8 (lone surrogates) is written escaped.
    return json.dumps(issues, indent=2) + "\n"
