"""`--format sarif`: SARIF 2.1.0, for code-scanning dashboards, with rule metadata and fixes."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath
from typing import Sequence
from urllib.parse import quote

from dllint import __version__
from dllint.registry import Documented, lookup
from dllint.reports import ReportContext
from dllint.types import Diagnostic, Severity, Span

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


# Files under the current directory are named relative to it, through this base id, so the log
# reads the same on every checkout; `run.originalUriBaseIds` gives the base's absolute URI.
BASE_ID = "SRCROOT"


def _base_uri(base: str) -> str:
    uri = Path(base).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _artifact_location(path: str, base: str) -> dict:
    absolute = os.path.abspath(os.path.join(base, path))
    try:
        relative = os.path.relpath(absolute, base)
    except ValueError:  # on another Windows drive
        relative = os.pardir
    if relative == os.curdir or relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return {"uri": Path(absolute).as_uri()}
    # A URI is percent-encoded bytes: the name's own bytes, also when they are not UTF-8.
    return {"uri": quote(os.fsencode(PurePath(relative).as_posix()), safe="/"),
            "uriBaseId": BASE_ID}


def _region(span: Span) -> dict:
    return {"startLine": span.start_line, "startColumn": span.start_column,
            "endLine": span.end_line, "endColumn": span.end_column}


def _location(path: str, span: Span, base: str, message: str | None = None, index: int | None = None,
              cell: int | None = None) -> dict:
    location: dict = {"physicalLocation": {"artifactLocation": _artifact_location(path, base),
                                           "region": _region(span)}}
    if cell is not None:  # lines are within this notebook cell
        location["properties"] = {"cell": cell}
        location["logicalLocations"] = [{"name": f"cell {cell}", "kind": "module"}]
    if message is not None:
        location["message"] = {"text": message}
    if index is not None:
        location["id"] = index
    return location


def _rule_descriptor(code: str, severity: Severity) -> dict:
    entry = lookup(code)
    descriptor: dict = {"id": code, "defaultConfiguration": {"level": _LEVEL[severity]}}
    if entry is not None:
        documentation = help_markdown(entry)
        descriptor.update({
            "name": entry.name,
            "shortDescription": {"text": entry.summary},
            "fullDescription": {"text": entry.documentation() or entry.summary},
            # Code scanning shows `help` as the rule's page beside each alert: the whole
            # documentation, as `dllint explain` prints it.
            "help": {"text": plain_text(documentation), "markdown": documentation},
        })
    return descriptor


def help_markdown(entry: Documented) -> str:
    """A rule's documentation as `dllint explain CODE` shows it: title, summary, whether it can
    fix, then its sections (what it does, why it is bad, example, use instead, fix safety)."""
    fix = getattr(entry, "fix_availability", None)
    fixes = f"Fix: {fix.value} available.\n\n" if fix is not None and fix.value != "none" else ""
    return f"# {entry.code} {entry.name}\n\n{entry.summary}\n\n{fixes}" \
           f"{entry.documentation() or ''}".rstrip() + "\n"


def plain_text(markdown: str) -> str:
    """Markdown for a reader that does not render it (SARIF's help.text): headings without
    their #, fenced code indented instead of fenced; inline `code` reads well as it is."""
    lines = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif in_code:
            lines.append(f"    {line}" if line else "")
        elif line.startswith("#"):
            lines.append(line.lstrip("#").strip())
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    codes = sorted({d.code for d in diagnostics})
    index = {code: position for position, code in enumerate(codes)}
    severities = {d.code: d.severity for d in diagnostics}
    base = os.getcwd()
    results = []
    for d in diagnostics:
        result: dict = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _LEVEL[d.severity],
            "message": {"text": d.message},
            "locations": [_location(d.path, d.span, base, cell=d.cell)],
        }
        if d.related:
            result["relatedLocations"] = [_location(r.path, r.span, base, r.message, position, r.cell)
                                          for position, r in enumerate(d.related)]
        if d.fix is not None and d.cell is None:  # a notebook's fix edits its cells, not its JSON
            result["fixes"] = [{
                "description": {"text": f"{d.fix.description} ({d.fix.applicability.value})"},
                "artifactChanges": [{
                    "artifactLocation": _artifact_location(d.path, base),
                    "replacements": [{"deletedRegion": _region(edit.span),
                                      "insertedContent": {"text": edit.content}}
                                     for edit in d.fix.edits],
                }],
            }]
        results.append(result)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dllint",
                "version": __version__,
                "rules": [_rule_descriptor(code, severities[code]) for code in codes],
            }},
            "originalUriBaseIds": {BASE_ID: {"uri": _base_uri(base)}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
