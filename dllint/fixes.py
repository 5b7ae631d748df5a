"""Applying fixes to text, showing them as diffs, and writing them back safely."""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from pathlib import Path, PurePath
from typing import Iterable

from dllint.lines import LINE_BREAK
from dllint.types import Applicability, Diagnostic, Fix



class LineIndex:
    """Converts 1-based (line, column) positions to offsets into the text."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [match.end() for match in LINE_BREAK.finditer(text)]

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


class FixNotWrittenError(Exception):
    """A fix that `write_fix` refused to write; the message says why, for the report."""


class FileChangedError(FixNotWrittenError):
    """The file on disk is no longer what was linted: writing the fix would lose someone's edit."""

    def __init__(self) -> None:
        super().__init__("the file changed while dllint was running")


class ReadOnlyFileError(FixNotWrittenError):
    """The file is read-only: someone made it so on purpose (a vendored or generated copy)."""

    def __init__(self) -> None:
        super().__init__("the file is read-only (make it writable to fix it)")


class NotRegularFileError(FixNotWrittenError):
    def __init__(self) -> None:
        super().__init__("the file is not a regular file")


def fix_target(path: str) -> str:
    """The file a fix of `path` is written to: through any symbolic link to its real target.

    Refuses a file that is read-only: without a write permission bit, or not writable by
    this process. (The superuser may write anything, so the bits are checked too.)
    """
    real = os.path.realpath(path)
    status = os.stat(real)
    if not stat.S_ISREG(status.st_mode):
        raise NotRegularFileError()
    if not status.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) \
            or not os.access(real, os.W_OK):
        raise ReadOnlyFileError()
    return real


def write_fix(path: str, data: bytes, expected: bytes, staging: Path | None = None) -> None:
    """Write `data` over the file `path`, only if it still holds `expected`, through any
    symbolic link to its real target (the link stays a link).

    With `staging` (the fix journal's path, in the git-ignored cache folder) on the same file
    system as a file that has no other hard link, the new text is written beside the journal
    (`<journal>.<random>.staged`) and renamed over the file: the file is whole before or after,
    whatever happens, and a kill can strand a temporary file only in the cache folder, where
    the next run removes it with the journal. The mode is
    copied, and the owner where this process may set it; a file it cannot give back its owner
    is written in place instead.

    Otherwise in place, through the open file: hard links stay one file, and the owner, mode
    and extended attributes are kept. A write cut short by a kill is then left half-written;
    `dllint.fix_journal` records every write first, so the next run finishes it. A write that
    fails part-way (a full disk) puts `expected` back, or if that fails too raises
    `HalfWrittenError`, and the journal must then be kept for the next run.
    """
    target = fix_target(path)
    if staging is not None and _replace_whole(target, data, expected, staging):
        return
    with open(target, "r+b") as handle:
        if handle.read() != expected:
            raise FileChangedError()
        try:
            _overwrite(handle, data)
        except OSError as error:
            try:
                _overwrite(handle, expected)
            except OSError:
                raise HalfWrittenError(error) from error
            raise


STAGED_SUFFIX = ".staged"


def _replace_whole(target: str, data: bytes, expected: bytes, staging: Path) -> bool:
    """Write `data` into `staging` and rename it over `target`; False (nothing done) where a
    rename would not keep the file as it is: another hard link, another file system, an owner
    this process cannot set, or a staging folder it cannot write."""
    if os.name != "posix":
        return False  # no fchown/fchmod, and no rename over an open file
    status = os.stat(target)
    try:
        if status.st_nlink != 1 or os.stat(staging.parent).st_dev != status.st_dev:
            return False
        descriptor, staged = tempfile.mkstemp(dir=staging.parent, prefix=f"{staging.name}.",
                                              suffix=STAGED_SUFFIX)
    except OSError:
        return False
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), stat.S_IMODE(status.st_mode))
            if (status.st_uid, status.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.fchown(handle.fileno(), status.st_uid, status.st_gid)
                except PermissionError:
                    os.unlink(staged)
                    return False
            os.fsync(handle.fileno())
        with open(target, "rb") as current:
            if current.read() != expected:
                raise FileChangedError()
        os.replace(staged, target)
    except BaseException:
        try:
            os.unlink(staged)
        except FileNotFoundError:
            pass
        raise
    return True


class HalfWrittenError(FixNotWrittenError):
    """The write failed part-way and the old text could not be put back either."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"the write failed part-way ({error.strerror or error}) and the file "
                         f"could not be restored; the next dllint run finishes it from the fix "
                         f"journal, or keeps its old text beside the journal")


def _overwrite(handle, data: bytes) -> None:
    handle.seek(0)
    handle.write(data)
    handle.flush()
    handle.truncate()
    os.fsync(handle.fileno())
