"""Jupyter notebooks: their code cells become one virtual Python source, findings go back to cells.

Each cell is translated the way IPython reads it (`IPython/core/inputtransformer2.py`), keeping
its line count so that findings map back:

- a pasted console prompt (`>>> `, `... `, `In [3]: `) and the indentation of the cell's first
  line are removed from every line that has them (IPython's cleanup transforms); the columns of
  findings and the lines written back by `--fix` get them back;
- a cell magic that is not Python (`%%bash`, `%%html`, ...) turns the whole cell into comments;
- at the start of a logical line (never inside brackets, a string or a backslash continuation,
  so `x = (a\\n    % b)` stays a modulo), an escape (`%magic`, `!shell`, `?obj`, `,f a b`,
  `;f a`, `/f a`) becomes `pass` with its indentation, and `files = !ls` or `t = %time f()`
  becomes `files = None`; a backslash continues such a line, whose other lines become empty;
- a logical line ending in `?` or `??` (`model.fit?`, `%timeit?`) is a help query, also `pass`;
  a `?` in a comment or a string is not;
- a cell of one line whose first word is a line magic or shell alias run without `%`
  (`pip install x`, `cd data`) and that is not Python as written becomes `pass`: IPython applies
  its automagic only to cells of one line.

A cell that still does not parse is reported as its own DL903 and left out (its lines made
empty), and the other cells are linted. Fixes are applied to the virtual source and split back
per cell, only when every cell keeps its line count; outputs and metadata are written back
untouched.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import libcst as cst

from dllint import jsonshape
from dllint.engine_codes import NOTEBOOK_ERROR, SYNTAX_ERROR
from dllint.jsonshape import ANYTHING, INTEGER, NULL, TEXT, ListOf, MapOf, OneOf, Record
from dllint.lines import split_lines
from dllint.source import file_diagnostic
from dllint.types import Diagnostic, Span

PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "python",
                                "python3", "memit", "autoreload"})
# What IPython reads at the start of a logical line as its own syntax (inputtransformer2's
# ESCAPE_SINGLES): shell `!`/`!!`, magic `%`, help `?`/`??`, auto-quote `,` and `;`, auto-call
# `/`. None of them can start a Python statement.
LINE_ESCAPES = ("!", "%", "?", ",", ";", "/")
# IPython's line magics (`%lsmagic`, IPython 8) and the shell aliases it defines on POSIX, which
# automagic runs without their `%` in a cell of one line (`pip install timm`, `cd data`).
AUTOMAGIC_NAMES = frozenset({
    "alias", "alias_magic", "autoawait", "autocall", "automagic", "autosave", "bookmark", "cat",
    "cd", "clear", "colors", "conda", "config", "connect_info", "cp", "debug", "dhist", "dirs",
    "doctest_mode", "ed", "edit", "env", "gui", "hist", "history", "killbgscripts", "ldir",
    "less", "lf", "lk", "ll", "load", "load_ext", "loadpy", "logoff", "logon", "logstart",
    "logstate", "logstop", "ls", "lsmagic", "lx", "macro", "magic", "mamba", "man", "matplotlib",
    "micromamba", "mkdir", "more", "mv", "notebook", "page", "pastebin", "pdb", "pdef", "pdoc",
    "pfile", "pinfo", "pinfo2", "pip", "popd", "pprint", "precision", "prun", "psearch",
    "psource", "pushd", "pwd", "pycat", "pylab", "qtconsole", "quickref", "recall", "rehashx",
    "reload_ext", "rep", "rerun", "reset", "reset_selective", "rm", "rmdir", "run", "save", "sc",
    "set_env", "store", "sx", "system", "tb", "time", "timeit", "unalias", "unload_ext", "uv",
    "who", "who_ls", "whos", "xdel", "xmode",
})
# A help query at the end of a logical line: a dotted name, maybe a magic's, then `?` or `??`
# (IPython's `_help_end_re`); `f(x)?` is no help query, and IPython rejects it.
_HELP_END = re.compile(r"%{0,2}[a-zA-Z_*][\w*]*(\.[a-zA-Z_*][\w*]*)*\?\??$")
_LEADING_INDENT = re.compile(r"[ \t]+")
# Console prompts (IPython's classic_prompt and ipython_prompt): (any line's, the first line's).
_IPYTHON_PROMPT = re.compile(r"(In \[\d+\]: |\s*\.{3,}: ?)")
_PROMPTS = ((re.compile(r"(>>>|\.\.\.)( |$)"), re.compile(r">>>( |$)")),
            (_IPYTHON_PROMPT, _IPYTHON_PROMPT))
_FIRST_WORD = re.compile(r"\s*(\w+)(\s|$)")
_OPERATOR_BEFORE_EQUALS = frozenset("=!<>+-*/%&|^@:~")

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
    # How many characters at the start of each line the translation removed (the first line's
    # indentation, a console prompt): columns in `virtual` plus these are columns in `original`.
    removed: list[int] = field(default_factory=list)

    def shift(self, line: int) -> int:
        """Characters removed before column 1 of the cell's 1-based virtual `line`."""
        return self.removed[line - 1] if 0 < line <= len(self.removed) else 0


@dataclass
class Notebook:
    path: str
    data: dict[str, Any]
    cells: list[Cell]
    text: str  # the virtual Python source
    indent: int | None
    # Cells that do not parse even as IPython reads them: one DL903 each, in virtual lines.
    problems: list[Diagnostic] = field(default_factory=list)

    def locate(self, line: int) -> tuple[Cell, int] | None:
        for cell in self.cells:
            if cell.first_line <= line < cell.first_line + len(cell.virtual):
                return cell, line - cell.first_line + 1
        return None


@dataclass
class _LogicalLines:
    """Where physical lines stand in Python's logical lines: open brackets, a string still open
    at a line's end, a backslash continuation. A scan of each character once; strings and
    comments are skipped, so their brackets and quotes do not count."""
    depth: int = 0
    quote: str | None = None  # the delimiter that closes the string open at the line's end
    continued: bool = False

    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> int:
        """Advances over `line`; returns where its code ends (a comment's `#`, or its length)."""
        index, length = 0, len(line)
        while index < length:
            char = line[index]
            if self.quote is not None:
                if char == "\\":
                    index += 2
                    continue
                if line.startswith(self.quote, index):
                    index += len(self.quote)
                    self.quote = None
                    continue
                index += 1
                continue
            if char == "#":
                self.continued = False
                return index
            if char in "\"'":
                triple = char * 3
                self.quote = triple if line.startswith(triple, index) else char
                index += len(self.quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            index += 1
        if self.quote is not None and len(self.quote) == 1 and not line.endswith("\\"):
            self.quote = None  # an unclosed one-line string: Python's error, the line ends it
        self.continued = self.quote is None and line.endswith("\\")
        return length


def _assignment_of_special(line: str) -> str | None:
    """`target = !cmd` or `target = %magic args` (IPython's SystemAssign, MagicAssign) as
    `target = None`; None for any other line. The `=` is the first one outside brackets and
    strings that is no part of an operator (`==`, `+=`, `<=`)."""
    depth, quote, index = 0, None, 0
    while index < len(line):
        char = line[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return None
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "=" and depth == 0:
            before = line[index - 1] if index else ""
            after = line[index + 1: index + 2]
            if before in _OPERATOR_BEFORE_EQUALS or after == "=":
                return None
            rest = line[index + 1:].lstrip()
            if rest.startswith("!") or re.match(r"%[A-Za-z_]", rest):
                return line[: index + 1] + " None"
            return None
        index += 1
    return None


def _strip_prefixes(lines: list[str]) -> tuple[list[str], list[int]]:
    """IPython's cleanup transforms: the first line's indentation removed from every line that
    starts with it, then console prompts when the first line (or the second) has one. Returns
    the lines and how many characters each lost."""
    removed = [0] * len(lines)
    indent = _LEADING_INDENT.match(lines[0]) if lines else None
    if indent:
        prefix = indent.group(0)
        for number, line in enumerate(lines):
            if line.startswith(prefix):
                lines[number], removed[number] = line[len(prefix):], len(prefix)
    for any_line, first_line in _PROMPTS:
        if first_line.match(lines[0]) or (len(lines) > 1 and any_line.match(lines[1])):
            for number, line in enumerate(lines):
                prompt = any_line.match(line)
                if prompt:
                    lines[number] = line[prompt.end():]
                    removed[number] += prompt.end()
    return lines, removed


def _translate(lines: list[str]) -> list[str]:
    """The cell's lines (already stripped of prompts and indentation) as Python, line for line."""
    virtual: list[str] = []
    state = _LogicalLines()
    shell_continues = False
    logical_start = 0
    for number, line in enumerate(lines):
        if shell_continues:
            virtual.append("")  # keeps the line count, so findings map back to their cell line
            shell_continues = line.endswith("\\")
            continue
        if state.at_start():
            logical_start = number
            stripped = line.lstrip()
            indent = line[: len(line) - len(stripped)]
            special = (indent + "pass" if stripped.startswith(LINE_ESCAPES)
                       else _assignment_of_special(line))
            if special is not None:
                virtual.append(special)
                shell_continues = line.endswith("\\")
                continue
        code_end = state.feed(line)
        virtual.append(line)
        code = line[:code_end]
        if state.at_start() and code_end == len(line) and code.rstrip().endswith("?"):
            _replace_help_query(lines, virtual, logical_start, number)
    if len(lines) == 1 and virtual == lines and _is_automagic(lines[0]):
        virtual = [lines[0][: len(lines[0]) - len(lines[0].lstrip())] + "pass"]
    return virtual


def _replace_help_query(lines: list[str], virtual: list[str], start: int, end: int) -> None:
    """Lines `start`..`end` are one logical line ending in `?`: a help query when what ends it is
    a dotted name (IPython's HelpEnd); otherwise left, as IPython leaves it, to fail."""
    piece = " ".join(lines[start: end + 1]).strip()
    if not _HELP_END.search(piece):
        return
    first = lines[start]
    virtual[start] = first[: len(first) - len(first.lstrip())] + "pass"
    for number in range(start + 1, end + 1):
        virtual[number] = ""


def _is_automagic(line: str) -> bool:
    word = _FIRST_WORD.match(line)
    return bool(word) and word.group(1) in AUTOMAGIC_NAMES and _syntax_error(line) is not None


def _syntax_error(text: str) -> SyntaxError | None:
    """CPython's error for `text`, or None when it parses. CPython's parser in C is cheap; only
    when it refuses does libcst, which knows newer grammars than the running Python, decide."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CPython's remarks on the user's code are not ours
            ast.parse(text)
    except SyntaxError as error:
        found = error
    except ValueError as error:  # a null byte, before Python 3.12
        found = SyntaxError(str(error))
    except (RecursionError, MemoryError):
        return None  # too deep for a parser: the whole source's parse reports it
    else:
        return None
    try:
        cst.parse_module(text)
    except cst.ParserSyntaxError:
        return found
    except (RecursionError, MemoryError):
        return None
    return None


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
    problems: list[Diagnostic] = []
    for index, cell in enumerate(data["cells"], start=1):
        if cell["cell_type"] != "code":
            continue
        original = split_lines(_cell_source(cell))
        if not original:
            continue
        stripped, removed = _strip_prefixes(list(original))
        magic = stripped[0].strip()
        if magic.startswith("%%") and magic[2:].split(" ", 1)[0] not in PYTHON_CELL_MAGICS:
            virtual = ["# " + line for line in original]
            removed = [0] * len(original)
        else:
            virtual = _translate(stripped)
            error = _syntax_error("\n".join(virtual) + "\n")
            if error is not None:
                problems.append(_cell_problem(path, len(lines) + 1, error, len(virtual)))
                virtual = [""] * len(virtual)  # left out; the other cells are still linted
        cells.append(Cell(index, len(lines) + 1, original, virtual, removed))
        lines.extend(virtual)
    indent = _detect_indent(raw)
    return Notebook(path, data, cells, "\n".join(lines) + "\n", indent, problems)


def _cell_problem(path: str, first_line: int, error: SyntaxError, line_count: int) -> Diagnostic:
    line = min(max(error.lineno or 1, 1), line_count)
    return file_diagnostic(SYNTAX_ERROR, path, f"Cannot parse: {error.msg}",
                           Span.point(first_line + line - 1, max(1, error.offset or 1)))


def _detect_indent(raw: str) -> int | None:
    match = re.search(r"\n( +)\"", raw)
    return len(match.group(1)) if match else None


def _map_span(notebook: Notebook, span: Span) -> tuple[int | None, Span]:
    start = notebook.locate(span.start_line)
    if start is None:
        return None, span
    cell, line = start
    start_column = span.start_column + cell.shift(line)
    end_line = span.end_line - cell.first_line + 1
    if end_line > len(cell.virtual):  # a span that runs past its cell: cut at the cell's end
        end_line = len(cell.virtual)
        return cell.index, Span(line, start_column, end_line, len(cell.original[-1]) + 1)
    return cell.index, Span(line, start_column, end_line, span.end_column + cell.shift(end_line))


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
        restored = [original if virtual == fixed else original[:removed] + fixed
                    for original, virtual, fixed, removed
                    in zip(cell.original, cell.virtual, new, cell.removed)]
        if restored == cell.original:
            continue
        source = data["cells"][cell.index - 1].get("source", "")
        ends_with_newline = _cell_source(data["cells"][cell.index - 1]).endswith("\n")
        text = "\n".join(restored) + ("\n" if ends_with_newline else "")
        data["cells"][cell.index - 1]["source"] = (
            split_lines(text, keepends=True) if isinstance(source, list) else text)
    return json.dumps(data, indent=notebook.indent, ensure_ascii=False) + "\n"
