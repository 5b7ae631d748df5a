"""Diagnostics to and from plain JSON-compatible dicts (the json report and the cache share it)."""

from __future__ import annotations

from typing import Any

from dllint.jsonshape import ANYTHING, INTEGER, NULL, TEXT, Choice, ListOf, MapOf, OneOf, Record
from dllint.types import (Applicability, Diagnostic, Edit, Fix, RelatedLocation, Severity,
                          Span)

# The shape `diagnostic_to_dict` writes, which `diagnostic_from_dict` can read back: what comes
# from a file (the cache) is checked against it first.
_SPAN_FIELDS = {"line": INTEGER, "column": INTEGER, "end_line": INTEGER, "end_column": INTEGER}
_RELATED = Record({"path": TEXT, "cell": OneOf((NULL, INTEGER)), **_SPAN_FIELDS, "message": TEXT},
                  required=frozenset({"path", *_SPAN_FIELDS, "message"}))
DIAGNOSTIC = Record({
    "code": TEXT, "name": TEXT, "message": TEXT,
    "severity": Choice(tuple(severity.value for severity in Severity)),
    "path": TEXT, **_SPAN_FIELDS, "cell": OneOf((NULL, INTEGER)),
    "related": ListOf(_RELATED),
    "cause": OneOf((NULL, _RELATED)),
    "fix": OneOf((NULL, Record({
        "applicability": Choice(tuple(applicability.value for applicability in Applicability)),
        "description": TEXT,
        "edits": ListOf(Record({**_SPAN_FIELDS, "content": TEXT},
                               required=frozenset({*_SPAN_FIELDS, "content"}))),
    }, required=frozenset({"applicability", "description", "edits"})))),
    "evidence": OneOf((NULL, MapOf(ANYTHING))),
}, required=frozenset({"code", "name", "message", "severity", "path", *_SPAN_FIELDS}))


def span_to_dict(span: Span) -> dict[str, int]:
    return {"line": span.start_line, "column": span.start_column,
            "end_line": span.end_line, "end_column": span.end_column}


def span_from_dict(data: dict[str, int]) -> Span:
    return Span(data["line"], data["column"], data["end_line"], data["end_column"])


def _related_to_dict(item: RelatedLocation) -> dict[str, Any]:
    return {"path": item.path, "cell": item.cell, **span_to_dict(item.span),
            "message": item.message}


def _related_from_dict(data: dict[str, Any]) -> RelatedLocation:
    return RelatedLocation(data["path"], span_from_dict(data), data["message"], data.get("cell"))


def diagnostic_to_dict(diagnostic: Diagnostic) -> dict[str, Any]:
    fix = diagnostic.fix
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "severity": diagnostic.severity.value,
        "path": diagnostic.path,
        **span_to_dict(diagnostic.span),
        "cell": diagnostic.cell,
        "related": [_related_to_dict(item) for item in diagnostic.related],
        "cause": None if diagnostic.cause is None else _related_to_dict(diagnostic.cause),
        "fix": None if fix is None else {
            "applicability": fix.applicability.value,
            "description": fix.description,
            "edits": [{**span_to_dict(edit.span), "content": edit.content} for edit in fix.edits],
        },
        "evidence": dict(diagnostic.evidence),
    }


def diagnostic_from_dict(data: dict[str, Any]) -> Diagnostic:
    fix = data.get("fix")
    return Diagnostic(
        code=data["code"], name=data["name"], message=data["message"],
        severity=Severity(data["severity"]), path=data["path"], span=span_from_dict(data),
        related=tuple(_related_from_dict(item) for item in data.get("related", ())),
        cause=None if data.get("cause") is None else _related_from_dict(data["cause"]),
        fix=None if fix is None else Fix(
            tuple(Edit(span_from_dict(edit), edit["content"]) for edit in fix["edits"]),
            Applicability(fix["applicability"]), fix["description"]),
        evidence=data.get("evidence") or {},
        cell=data.get("cell"),
    )
