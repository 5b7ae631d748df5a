"""`--baseline FILE`: record today's findings so that CI fails only on new ones.

A finding is keyed by its code, its path (relative to the baseline file), its notebook cell and
the flagged source text (the span's text, or its first line's), never by line numbers: edits
elsewhere in the file move findings without making them new. Keys are counted, so a second
identical finding in the same file is new.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

from dllint import jsonshape
from dllint.jsonshape import INTEGER, NULL, TEXT, Choice, ListOf, OneOf, Record
from dllint.lines import split_lines
from dllint.types import Diagnostic

FORMAT_VERSION = 1

_BASELINE = Record({
    "version": Choice((FORMAT_VERSION,)),
    "findings": ListOf(Record(
        {"code": TEXT, "path": TEXT, "cell": OneOf((NULL, INTEGER)), "text": TEXT,
         "count": INTEGER},
        required=frozenset({"code", "path", "text", "count"}))),
}, required=frozenset({"findings"}))


class BaselineError(Exception):
    pass


def _flagged_text(diagnostic: Diagnostic, texts: Mapping[str, str],
                  lines_of: dict[str, list[str]]) -> str:
    """The flagged source text, from the text the file was linted as (never read from disk: a
    path may be a FIFO, or have changed since). Notebooks and files without their text get the
    message, which is as stable."""
    if diagnostic.cell is not None:
        return diagnostic.message  # a notebook cell's lines are not the file's
    lines = lines_of.get(diagnostic.path)
    if lines is None:
        lines = lines_of[diagnostic.path] = split_lines(texts.get(diagnostic.path, ""))
    span = diagnostic.span
    if not lines or span.start_line > len(lines):
        return diagnostic.message
    line = lines[span.start_line - 1]
    if span.start_line == span.end_line and span.end_column > span.start_column:
        return line[span.start_column - 1: span.end_column - 1].strip()
    return line.strip()


def _key(diagnostic: Diagnostic, root: Path, texts: Mapping[str, str],
         lines_of: dict[str, list[str]]) -> tuple:
    try:
        path = Path(os.path.abspath(diagnostic.path)).relative_to(root).as_posix()
    except ValueError:
        path = Path(os.path.abspath(diagnostic.path)).as_posix()
    return (diagnostic.code, path, diagnostic.cell, _flagged_text(diagnostic, texts, lines_of))


def write(path: Path, diagnostics: Iterable[Diagnostic], texts: Mapping[str, str]) -> int:
    """Record `diagnostics`; `texts` holds the text each file was linted as."""
    root = path.resolve().parent
    lines_of: dict[str, list[str]] = {}
    counts = Counter(_key(d, root, texts, lines_of) for d in diagnostics)
    entries = [{"code": code, "path": file, "cell": cell, "text": text, "count": count}
               for (code, file, cell, text), count in sorted(counts.items(), key=str)]
    path.write_text(json.dumps({"version": FORMAT_VERSION, "findings": entries}, indent=2) + "\n",
                    encoding="utf-8")
    return sum(counts.values())


def read(path: Path) -> Counter:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        problem = jsonshape.problem(data, _BASELINE)
    except (OSError, ValueError) as error:
        raise BaselineError(f"{path}: not a dllint baseline ({error})") from error
    except RecursionError:
        raise BaselineError(f"{path}: not a dllint baseline (JSON nested too deeply)") from None
    if problem is not None:
        raise BaselineError(f"{path}: not a dllint baseline ({problem})")
    return Counter({(item["code"], item["path"], item.get("cell"), item["text"]): item["count"]
                    for item in data["findings"]})


def new_findings(path: Path, diagnostics: Iterable[Diagnostic],
                 texts: Mapping[str, str]) -> list[Diagnostic]:
    """The findings that the baseline does not account for."""
    known = read(path)
    root = path.resolve().parent
    lines_of: dict[str, list[str]] = {}
    fresh = []
    for diagnostic in diagnostics:
        key = _key(diagnostic, root, texts, lines_of)
        if known[key] > 0:
            known[key] -= 1
        else:
            fresh.append(diagnostic)
    return fresh
