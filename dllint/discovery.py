"""Which files a run lints: paths given, directories walked, excludes and .gitignore honoured.

Directories are walked once each (by device and inode), so symlink loops end; a directory that
cannot be listed, and a path that is neither a directory nor a regular file (a FIFO, a device, a
broken link, a link loop), becomes a diagnostic and the walk goes on.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pathspec

from dllint.config import Settings, is_valid_pattern
from dllint.engine_codes import IO_ERROR
from dllint.source import file_diagnostic, not_regular_file
from dllint.types import Diagnostic

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


@dataclass
class Discovery:
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # The walk stopped at `max_files`: `files` is only part of what is there.
    truncated: bool = False


class _Enough(Exception):
    """Raised inside the walk once `max_files` files are found."""


class _GitIgnores:
    """The .gitignore files from the repository root down, read once per directory."""

    def __init__(self, start: Path) -> None:
        self.specs: dict[Path, pathspec.PathSpec | None] = {}
        self.top = _repository_root(start)

    def _spec(self, directory: Path) -> pathspec.PathSpec | None:
        if directory not in self.specs:
            spec = None
            try:
                lines = (directory / ".gitignore").read_text(encoding="utf-8").splitlines()
                try:
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except ValueError:
                    # git skips a line that is no pattern (a lone `!`), and so does dllint:
                    # the lines are compiled one by one only for a file that has one.
                    spec = pathspec.GitIgnoreSpec.from_lines(
                        [line for line in lines if is_valid_pattern(line)])
            except (OSError, UnicodeDecodeError):
                pass
            self.specs[directory] = spec
        return self.specs[directory]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if self.top is None:
            return False
        try:
            path.relative_to(self.top)
        except ValueError:
            return False
        # The deepest .gitignore with a matching pattern decides, as in git.
        directory = path.parent
        while True:
            spec = self._spec(directory)
            if spec is not None:
                relative = path.relative_to(directory).as_posix() + ("/" if is_dir else "")
                result = spec.check_file(relative)
                if result.include is not None:
                    return bool(result.include)
            if directory == self.top or directory == directory.parent:
                return False
            directory = directory.parent


def _repository_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def discover(paths: Iterable[str], settings: Settings, *, force_exclude: bool = False,
             max_files: int | None = None) -> Discovery:
    """The files to lint under `paths`. With `max_files`, the walk stops once more than that
    many are found (`truncated`): a caller that wants a whole project does not walk a home
    directory to the end to learn that it is none."""
    found = Discovery()
    seen_files: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()
    gitignores = _GitIgnores(settings.root) if settings.respect_gitignore else None

    def excluded(path: Path, is_dir: bool) -> bool:
        relative = settings.relative(str(path)) + ("/" if is_dir else "")
        if settings.exclude.match_file(relative) or settings.exclude.match_file(path.name):
            return True
        return gitignores is not None and gitignores.ignored(path, is_dir)

    def add(path: Path) -> None:
        key = os.path.normpath(str(path))
        if key not in seen_files:
            seen_files.add(key)
            found.files.append(key)
            if max_files is not None and len(found.files) > max_files:
                raise _Enough

    def walk(directory: Path) -> None:
        try:
            status = directory.stat()
        except OSError as error:
            found.diagnostics.append(file_diagnostic(
                IO_ERROR, str(directory), f"Cannot read directory: {error.strerror or error}"))
            return
        identity = (status.st_dev, status.st_ino)
        if identity in seen_dirs:
            return  # a symlink loop, or the same directory reached twice
        seen_dirs.add(identity)
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            found.diagnostics.append(file_diagnostic(
                IO_ERROR, str(directory), f"Cannot list directory: {error.strerror or error}"))
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError:
                is_dir = is_file = False
            if is_dir:
                if not excluded(path, True):
                    walk(path)
            elif entry.name.endswith(SOURCE_SUFFIXES) and not excluded(path, False):
                if is_file:
                    add(path)
                else:
                    found.diagnostics.append(_not_a_source_file(str(path)))

    try:
        for raw in paths:
            path = Path(raw)
            try:
                mode = os.stat(raw).st_mode
            except OSError:
                mode = None  # missing, a broken link, a link loop, or in a folder we may not search
            if mode is not None and stat.S_ISDIR(mode):
                if not (force_exclude and excluded(path.resolve(), True)):
                    walk(path)
            elif force_exclude and excluded(path.absolute(), False):
                continue
            elif mode is not None and stat.S_ISREG(mode):
                add(path)  # a file named explicitly is linted whatever its name, unless forced out
            else:
                found.diagnostics.append(_not_a_source_file(raw))
    except _Enough:
        found.truncated = True
    return found


def _not_a_source_file(path: str) -> Diagnostic:
    """Why `path`, which is neither a directory nor a regular file, is not linted. Such a path is
    never opened: reading a FIFO or a device could wait forever or never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if isinstance(error, FileNotFoundError) and os.path.islink(path):
            return file_diagnostic(IO_ERROR, path, "Cannot read file: broken symbolic link")
        if isinstance(error, FileNotFoundError):
            return file_diagnostic(IO_ERROR, path, "No such file or directory")
        return file_diagnostic(IO_ERROR, path, f"Cannot read file: {error.strerror or error}")
    return not_regular_file(path, mode)
