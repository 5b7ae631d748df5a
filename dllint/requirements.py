"""The lowest version of a package that a project declares it needs, read from its metadata.

Some rules depend on the library version the code runs on: `torch.load` loads weights only by
default from PyTorch 2.6. The project says which versions it supports in `pyproject.toml`
(`[project].dependencies`, Poetry's `[tool.poetry.dependencies]`), `requirements*.txt`,
`setup.cfg` (`install_requires`) or the literal strings of `setup.py`. Only required
dependencies count: an optional extra does not say what the code runs on. Files are read as
text; nothing is imported or executed. Read once per run, in the parent process.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

Version = tuple[int, ...]

# `torch>=2.6`, `torch[extra] ~= 2.6.0`, `torch==2.7.1+cu121`, `torch >2.5, <3`.
_CLAUSE = re.compile(r"(>=|==|~=|>|===)\s*v?(\d+(?:\.\d+)*)")
_MAX_BYTES = 1_000_000
# Far longer than any published release number (`2024.10.1`, `0.0.post20240101`); a longer one
# is a typo, or would not even convert to an int past Python's 4300-digit limit.
MAX_VERSION_LENGTH = 64


# What marks a folder as a project's root: its metadata or its repository.
PROJECT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` (a file or a folder) that holds project metadata
    (`PROJECT_MARKERS`, a `requirements*.txt`): the project the linted code belongs to, found
    as the configuration is, from the linted path and not from the current folder. None when
    no folder above holds any."""
    # realpath and os.path answer for link loops and unreadable folders where Path raises
    # (as in config.find_config); a folder that cannot be listed holds no requirements file.
    directory = Path(os.path.realpath(start))
    if not os.path.isdir(directory):
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        if any(os.path.exists(candidate / marker) for marker in PROJECT_MARKERS):
            return candidate
        try:
            if any(entry.startswith("requirements") and entry.endswith(".txt")
                   for entry in os.listdir(candidate)):
                return candidate
        except OSError:
            continue
    return None


class RequirementsError(ValueError):
    """Project metadata of the wrong shape, or a version that is no version: a configuration
    mistake, reported like one (`FILE: ...`, exit status 2)."""


def declared_minimum(root: Path, package: str) -> Version | None:
    """The highest lower bound on `package` over the project's requirement files: the oldest
    version every declared installation has. None when nothing bounds it from below.
    Raises RequirementsError for a `[project]` or Poetry table of the wrong shape, or for a
    version too long to be one."""
    bounds = [bound for specifier, where in _specifiers(root, package)
              if (bound := _lower_bound(specifier, where)) is not None]
    return max(bounds) if bounds else None


def _specifiers(root: Path, package: str) -> list[tuple[str, str]]:
    """Every version specifier given for `package` (the text after its name), with where it
    was found (`requirements.txt:3`)."""
    requirement = re.compile(rf"^\s*{re.escape(package)}\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;#]*)",
                             re.IGNORECASE)
    found: list[tuple[str, str]] = []

    def add(line: str, where: str) -> None:
        match = requirement.match(line)
        if match is not None and not re.match(r"[\w.-]", match.group("spec")[:1] or " "):
            found.append((match.group("spec"), where))

    pyproject = _read(root / "pyproject.toml")
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject)
        except tomllib.TOMLDecodeError:
            data = {}
        for line, where in _pyproject_requirements(data, package, root / "pyproject.toml"):
            add(line, where)
    for path in sorted(root.glob("requirements*.txt")):
        for number, line in enumerate((_read(path) or "").splitlines(), 1):
            add(line, f"{path}:{number}")
    setup_cfg = _read(root / "setup.cfg")
    if setup_cfg is not None:
        parser = configparser.ConfigParser()
        try:
            parser.read_string(setup_cfg)
            requires = parser.get("options", "install_requires", fallback="")
        except configparser.Error:
            requires = ""
        for line in requires.splitlines():
            add(line, f"{root / 'setup.cfg'}: [options] install_requires")
    setup_py = _read(root / "setup.py")
    if setup_py is not None:
        for literal in re.findall(r"""["']([^"'\n]+)["']""", setup_py):
            add(literal, str(root / "setup.py"))
    return found


def _pyproject_requirements(data: dict, package: str, path: Path) -> list[tuple[str, str]]:
    """The requirement strings of `[project].dependencies` and Poetry's entry for `package`.
    Tables of the wrong shape (`project = 1`) are errors: no packaging tool would accept them."""
    found = []
    project = _table(data, "project", path)
    dependencies = project.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(isinstance(line, str)
                                                     for line in dependencies):
        raise RequirementsError(f"{path}: project.dependencies must be an array of strings")
    found.extend((line, f"{path}: project.dependencies") for line in dependencies)
    poetry = _table(_table(_table(data, "tool", path), "poetry", path, "tool."),
                    "dependencies", path, "tool.poetry.")
    value = poetry.get(package)
    if isinstance(value, dict):
        value = value.get("version")
    if isinstance(value, str):
        found.append((package + _poetry_to_pep440(value),
                      f"{path}: tool.poetry.dependencies.{package}"))
    return found


def _table(data: dict, key: str, path: Path, prefix: str = "") -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RequirementsError(f"{path}: {prefix}{key} must be a table")
    return value


def _lower_bound(specifier: str, where: str) -> Version | None:
    bounds = []
    for _operator, version in _CLAUSE.findall(specifier):
        if len(version) > MAX_VERSION_LENGTH:
            raise RequirementsError(f"{where}: the version {version[:20]}... is too long "
                                    f"({len(version)} characters) to be a version number")
        bounds.append(tuple(int(part) for part in version.split(".")))
    return max(bounds) if bounds else None


def _poetry_to_pep440(value: str) -> str:
    """Poetry's `^2.6` and `~2.6` both mean at least 2.6; a bare `2.6` means exactly it."""
    value = value.strip()
    if value[:1] in "^~" and value[1:2] != "=":
        return ">=" + value[1:]
    if value[:1].isdigit():
        return "==" + value
    return value


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
