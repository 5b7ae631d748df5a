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


def declared_minimum(root: Path, package: str) -> Version | None:
    """The highest lower bound on `package` over the project's requirement files: the oldest
    version every declared installation has. None when nothing bounds it from below."""
    bounds = [bound for specifier in _specifiers(root, package)
              if (bound := _lower_bound(specifier)) is not None]
    return max(bounds) if bounds else None


def _specifiers(root: Path, package: str) -> list[str]:
    """Every version specifier given for `package` (the text after its name)."""
    requirement = re.compile(rf"^\s*{re.escape(package)}\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;#]*)",
                             re.IGNORECASE)
    found: list[str] = []

    def add(line: str) -> None:
        match = requirement.match(line)
        if match is not None and not re.match(r"[\w.-]", match.group("spec")[:1] or " "):
            found.append(match.group("spec"))

    pyproject = _read(root / "pyproject.toml")
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject)
        except tomllib.TOMLDecodeError:
            data = {}
        for line in data.get("project", {}).get("dependencies", []) or []:
            if isinstance(line, str):
                add(line)
        poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {}) or {}
        value = poetry.get(package) if isinstance(poetry, dict) else None
        if isinstance(value, dict):
            value = value.get("version")
        if isinstance(value, str):
            add(package + _poetry_to_pep440(value))
    for path in sorted(root.glob("requirements*.txt")):
        for line in (_read(path) or "").splitlines():
            add(line)
    setup_cfg = _read(root / "setup.cfg")
    if setup_cfg is not None:
        parser = configparser.ConfigParser()
        try:
            parser.read_string(setup_cfg)
            requires = parser.get("options", "install_requires", fallback="")
        except configparser.Error:
            requires = ""
        for line in requires.splitlines():
            add(line)
    setup_py = _read(root / "setup.py")
    if setup_py is not None:
        for literal in re.findall(r"""["']([^"'\n]+)["']""", setup_py):
            add(literal)
    return found


def _lower_bound(specifier: str) -> Version | None:
    bounds = [tuple(int(part) for part in version.split("."))
              for operator, version in _CLAUSE.findall(specifier)]
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
