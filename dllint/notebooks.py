"""Jupyter notebooks: their code cells become one virtual Python source, findings go back to cells.

IPython syntax is tolerated without being parsed: a line magic (`%matplotlib inline`), a shell
escape (`!pip install x`, `files = !ls`) or a help query (`obj?`) becomes `pass` (or
`name = None`) with its indentation, so the line count and block structure stay; a cell magic
that is not Python (`%%bash`, `%%html`, ...) turns the whole cell into comments. Fixes are
applied to the virtual source and split back per cell, only when every cell keeps its line
count; outputs and metadata are written back untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from dllint import jsonshape
from dllint.engine_codes import NOTEBOOK_ERROR
from dllint.jsonshape import ANYTHING, INTEGER, NULL, TEXT, ListOf, MapOf, OneOf, Record
from dllint.lines import split_lines
from dllint.source import file_diagnostic
from dllint.types import Diagnostic, Span

PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "python",
                                "python3", "memit", "autoreload"})
_SHELL_ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*)\s*=\s*[!%]")

SUPPORTED_NBFORMAT = 4
# Deeper JSON than any real notebook holds (plotting specs and widget state nest a few dozen
# levels); the bound keeps the copy and the write-back of --fix, which recurse, far from
# Python's recursion limit.
MAX_JSON_DEPTH = 200

# nbformat 4 (https://github.com/jupyter/nbformat, nbformat.v4.schema.json), as far as dllint
# reads or writes it: the notebook's kernel, and each cell's type and source. Fields it does not
# read are not required, since writers differ in what they leave out; a field that is there
# must have its nbformat 4 type.
_MULTILINE = OneOf((TEXT, ListOf(TEXT)))
_NOTEBOOK = Record({
    "nbformat": INTEGER,
    "nbformat_minor": INTEGER,
    "metadata": Record({
        # null is read as "no kernel named" (a Python notebook), as dllint always has.
        "kernelspec": OneOf((NULL, Record({"name": TEXT, "display_name": TEXT,
                                           "language": TEXT}))),
        "language_info": Record({"name": TEXT}),
    }),
    "cells": ListOf(Record({
        "cell_type": TEXT,
        "source": _MULTILINE,
        "metadata": MapOf(ANYTHING),
        "outputs": ListOf(MapOf(ANYTHING)),
        "execution_count": OneOf((NULL, INTEGER)),
    }, required=frozenset({"cell_type"}))),
}, required=frozenset({"cells"}))


@dataclass
class Cell:
    index: int  # 1-based among all cells
    first_line: int  # first line of this cell in the virtual source
    original: list[str]  # the cell's lines as stored (without line endings)
    virtual: list[str]


@dataclass
class Notebook:
    path: str
    data: dict[str, Any]
    cells: list[Cell]
    text: str  # the virtual Python source
    indent: int | None

    def locate(self, line: int) -> tuple[Cell, int] | None:
        for cell in self.cells:
            if cell.first_line <= line < cell.first_line + len(cell.virtual):
                return cell, line - cell.first_line + 1
        return None


def _neutralise(line: str) -> str:
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    assignment = _SHELL_ASSIGNMENT.match(line)
    if assignment:
        return f"{assignment.group(1)}{assignment.group(2)} = None"
    if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
        return f"{indent}pass"
    return line


def _neutralise_all(lines: list[str]) -> list[str]:
    """Each line, with shell and magic lines made harmless; a shell line ending in a backslash
    continues on the next line (`!apt-get install \\` then an indented package list), which is
    shell too."""
    virtual: list[str] = []
    continuing = False
    for line in lines:
        if continuing:
            virtual.append("")  # keeps the line count, so findings map back to their cell line
        else:
            virtual.append(_neutralise(line))
        is_shell = continuing or line.lstrip().startswith(("%", "!"))
        continuing = is_shell and line.rstrip().endswith("\\")
    return virtual


def _cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _depth(data: Any) -> int:
    """How deeply `data` nests lists and objects, counted without recursion."""
    deepest = 0
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _structure_problem(data: Any) -> str | None:
    """Why `data` is not a notebook dllint can read, or None."""
    if _depth(data) > MAX_JSON_DEPTH:
        return f"Notebook JSON nests more than {MAX_JSON_DEPTH} levels deep"
    version = data.get("nbformat") if isinstance(data, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) \
            and version != SUPPORTED_NBFORMAT:
        return (f"Notebook is in nbformat {version}, which dllint does not read: only nbformat "
                f"{SUPPORTED_NBFORMAT} is supported (convert it with `jupyter nbconvert --to "
                f"notebook --inplace`)")
    found = jsonshape.problem(data, _NOTEBOOK)
    return None if found is None else f"Notebook is not valid nbformat 4: {found}"


def parse(path: str, raw: str) -> Notebook | Diagnostic:
    try:
        data = json.loads(raw)
    except ValueError as error:
        return file_diagnostic(NOTEBOOK_ERROR, path, f"Notebook is not valid JSON: {error}")
    except RecursionError:
        return file_diagnostic(NOTEBOOK_ERROR, path,
                               f"Notebook JSON nests more than {MAX_JSON_DEPTH} levels deep")
    problem = _structure_problem(data)
    if problem is not None:
        return file_diagnostic(NOTEBOOK_ERROR, path, problem)
    language = (data.get("metadata", {}).get("kernelspec") or {}).get("language", "python")
    if language and language.lower() != "python":
        return file_diagnostic(NOTEBOOK_ERROR, path, f"Notebook kernel is {language}, not Python")
    cells: list[Cell] = []
    lines: list[str] = []
    for index, cell in enumerate(data["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        original = split_lines(_cell_source(cell))
        if not original:
            continue
        magic = original[0].strip()
        if magic.startswith("%%") and magic[2:].split(" ", 1)[0] not in PYTHON_CELL_MAGICS:
            virtual = ["# " + line for line in original]
        else:
            virtual = _neutralise_all(original)
        cells.append(Cell(index, len(lines) + 1, original, virtual))
        lines.extend(virtual)
    indent = _detect_indent(raw)
    return Notebook(path, data, cells, "\n".join(lines) + "\n", indent)


def _detect_indent(raw: str) -> int | None:
    match = re.search(r"\n( +)\"", raw)
    return len(match.group(1)) if match else None


def _map_span(notebook: Notebook, span: Span) -> tuple[int | None, Span]:
    start = notebook.locate(span.start_line)
    if start is None:
        return None, span
    cell, line = start
    end_line = span.end_line - cell.first_line + 1
    if end_line > len(cell.virtual):  # a span that runs past its cell: cut at the cell's end
        end_line = len(cell.virtual)
        return cell.index, Span(line, span.start_column, end_line, len(cell.virtual[-1]) + 1)
    return cell.index, Span(line, span.start_column, end_line, span.end_column)


def map_diagnostic(notebook: Notebook, diagnostic: Diagnostic) -> Diagnostic:
    cell, span = _map_span(notebook, diagnostic.span)
    related = []
    for item in diagnostic.related:
        if item.path == diagnostic.path and item.cell is None:
            related_cell, related_span = _map_span(notebook, item.span)
            item = replace(item, span=related_span, cell=related_cell)
        related.append(item)
    fix = diagnostic.fix
    if fix is not None:  # edits within the same cell, in its coordinates
        fix = replace(fix, edits=tuple(replace(edit, span=_map_span(notebook, edit.span)[1])
                                       for edit in fix.edits))
    return replace(diagnostic, span=span, cell=cell, related=tuple(related), fix=fix)


def write_back(notebook: Notebook, fixed_virtual: str) -> str | None:
    """The notebook's JSON with fixed cells, or None when a fix changed a cell's line count."""
    fixed_lines = fixed_virtual.rstrip("\n").split("\n")
    total = sum(len(cell.virtual) for cell in notebook.cells)
    if len(fixed_lines) != total:
        return None
    data = json.loads(json.dumps(notebook.data))  # a deep copy, outputs included
    for cell in notebook.cells:
        new = fixed_lines[cell.first_line - 1: cell.first_line - 1 + len(cell.virtual)]
        restored = [original if virtual == fixed else fixed
                    for original, virtual, fixed in zip(cell.original, cell.virtual, new)]
        if restored == cell.original:
            continue
        source = data["cells"][cell.index - 1].get("source", "")
        ends_with_newline = _cell_source(data["cells"][cell.index - 1]).endswith("\n")
        text = "\n".join(restored) + ("\n" if ends_with_newline else "")
        data["cells"][cell.index - 1]["source"] = (
            split_lines(text, keepends=True) if isinstance(source, list) else text)
    return json.dumps(data, indent=notebook.indent, ensure_ascii=False) + "\n"
