"""Applying fixes to text, showing them as diffs, and writing them back safely."""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
import tempfile
from pathlib import PurePath
from typing import Iterable

from dllint.types import Applicability, Diagnostic, Fix

# libcst counts lines the way Python does: \r\n, \r and \n end a line (not \f or \x1c).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """Converts 1-based (line, column) positions to offsets into the text."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [match.end() for match in _LINE_BREAK.finditer(text)]

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1


def is_applicable(fix: Fix | None, unsafe_fixes: bool) -> bool:
    return fix is not None and (fix.applicability is Applicability.SAFE or unsafe_fixes)


def apply_fixes(text: str, diagnostics: Iterable[Diagnostic], unsafe_fixes: bool) -> tuple[str, int]:
    """Apply every applicable fix whose edits overlap no fix applied before it.

    Returns the new text and how many fixes went in. Overlapping fixes wait for the next round
    (the engine re-lints the fixed text), as ruff does.
    """
    index = LineIndex(text)
    chosen: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    applied = 0
    for diagnostic in sorted(diagnostics, key=Diagnostic.sort_key):
        if not is_applicable(diagnostic.fix, unsafe_fixes):
            continue
        ranges = [(index.offset(e.span.start_line, e.span.start_column),
                   index.offset(e.span.end_line, e.span.end_column), e.content)
                  for e in diagnostic.fix.edits]  # type: ignore[union-attr]
        if any(_overlaps(start, end, other) for start, end, _ in ranges for other in taken):
            continue
        chosen.extend(ranges)
        taken.extend((start, end) for start, end, _ in ranges)
        applied += 1
    # Inserts at one offset keep their order: "sorted(" before a node and ")" after it stay apart.
    for start, end, content in sorted(chosen, key=lambda item: (item[0], item[1]), reverse=True):
        text = text[:start] + content + text[end:]
    return text, applied


def _overlaps(start: int, end: int, other: tuple[int, int]) -> bool:
    other_start, other_end = other
    if start == end or other_start == other_end:  # insertions touch, they do not overlap
        return other_start < start < other_end or start < other_start < end
    return start < other_end and other_start < end


def diff_name(path: str) -> str:
    """The name a diff header gives `path`, after its `a/` or `b/`, as git would write it.

    A file under the current directory is named relative to it, so `git apply` and `patch -p1`
    run there find it; any other absolute path loses its root (`/tmp/x.py` becomes `tmp/x.py`,
    never `a//tmp/x.py`). Separators are always `/`.
    """
    if os.path.isabs(path):
        try:
            relative = os.path.relpath(path)
        except ValueError:  # on another Windows drive than the current directory
            relative = os.pardir
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            path = relative
        else:
            pure = PurePath(path)
            return PurePath(*pure.parts[1:]).as_posix() if len(pure.parts) > 1 else pure.as_posix()
    return PurePath(path).as_posix()


def _patch_lines(text: str) -> list[str]:
    """Lines as patch and git count them, ended by "\n" only: `str.splitlines()` would also end
    one at a form feed or "\u2028", and the diff would then put its prefix inside the line."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def unified_diff(path: str, before: str, after: str) -> str:
    name = diff_name(path)
    return "".join(difflib.unified_diff(_patch_lines(before), _patch_lines(after),
                                        fromfile=f"a/{name}", tofile=f"b/{name}"))


class FileChangedError(Exception):
    """The file on disk is no longer what was linted: writing the fix would lose someone's edit."""


def write_atomically(path: str, text: str, encoding: str, expected: bytes) -> None:
    """Write `text` over `path` only if it still holds `expected`, via a temp file and rename.

    The file is either the old content or the new, never half-written; its mode is kept.
    """
    data = text.encode(encoding)
    with open(path, "rb") as handle:
        if hashlib.blake2b(handle.read()).digest() != hashlib.blake2b(expected).digest():
            raise FileChangedError(path)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    directory = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".dllint-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


