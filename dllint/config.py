"""`[tool.dllint]` in pyproject.toml, read and validated once per run into a `Settings` object.

`Settings` is everything a worker needs to lint a file; it is built in the parent, sent to each
worker once, and never recomputed per file.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pathspec

from dllint import __version__
from dllint.budget import DEFAULT_FILE_MEMORY_BUDGET, DEFAULT_FILE_TIME_BUDGET
from dllint.engine_codes import ENGINE_CODES, UNUSED_SUPPRESSION
from dllint.lines import split_lines
from dllint.registry import known_codes, rule_entries
from dllint.requirements import RequirementsError, declared_minimum, project_root
from dllint.source import DEFAULT_MAX_FILE_SIZE
from dllint.types import Severity

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".bzr", ".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".pytest_cache", ".dllint_cache", "node_modules", "site-packages",
    "__pypackages__", ".eggs", "*.egg-info", "build", "dist", ".ipynb_checkpoints",
)

KNOWN_KEYS = frozenset({
    "select", "extend-select", "ignore", "exclude", "extend-exclude", "per-file-ignores",
    "respect-gitignore", "severity", "report-unused-suppressions", "max-file-size", "cache-dir",
    "file-time-budget", "file-memory-budget", "extend",
})
# Files that hold dllint's settings, in the order they are looked for in each folder (as ruff
# looks for .ruff.toml, ruff.toml, pyproject.toml): the dedicated files hold the keys at top level.
CONFIG_NAMES = (".dllint.toml", "dllint.toml", "pyproject.toml")
# How many `extend` links one configuration may follow (a chain longer than this is a loop).
MAX_EXTEND_DEPTH = 32


class ConfigError(Exception):
    """A configuration or command-line value dllint cannot accept; reported with exit status 2."""


@dataclass(frozen=True)
class FileConfig:
    """The raw, validated contents of `[tool.dllint]` (or defaults when there is none)."""

    root: Path
    path: Path | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    severity: tuple[tuple[str, Severity], ...] = ()
    report_unused_suppressions: bool = False
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    cache_dir: str = ".dllint_cache"
    file_time_budget: float = DEFAULT_FILE_TIME_BUDGET
    file_memory_budget: int = DEFAULT_FILE_MEMORY_BUDGET


def find_config(start: Path) -> Path | None:
    """The nearest configuration at or above `start`: a `.dllint.toml` or `dllint.toml`, or a
    pyproject.toml that has a `[tool.dllint]` table."""
    # os.path.realpath leaves a symbolic link loop unresolved where Path.resolve raises
    # (RuntimeError before Python 3.13), and os.path.isdir/isfile answer False where
    # Path.is_dir/is_file raise (a folder we may not search): such a path is reported later,
    # as DL900, and the search goes on from its folder.
    directory = Path(os.path.realpath(start))
    if not os.path.isdir(directory):
        directory = directory.parent
    for candidate in (directory, *directory.parents):
        found = config_in(candidate)
        if found is not None:
            return found
    return None


def config_in(directory: Path) -> Path | None:
    """The configuration file of this folder itself, if it has one (see `CONFIG_NAMES`)."""
    for name in CONFIG_NAMES[:2]:
        if os.path.isfile(directory / name):
            return directory / name
    pyproject = directory / "pyproject.toml"
    if os.path.isfile(pyproject):
        try:
            text = pyproject.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None  # unreadable, and not known to be meant for dllint
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            if "tool.dllint" in text:
                # Meant for dllint: running on defaults would hide the mistake.
                raise ConfigError(_toml_error(pyproject, text, error)) from None
            return None  # someone else's broken file; it is not ours to judge
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "dllint" in tool:
            return pyproject  # a `tool` that is not a table holds no settings for dllint
    return None


def _toml_error(path: Path, text: str, error: Exception) -> str:
    """`path:line: invalid TOML: ...`. tomllib names a line, except for "at end of document"
    (an unclosed array or string), where the line that opened it is the one to fix."""
    message = str(error)
    found = re.search(r"\(at line (\d+), column \d+\)", message)
    if found:
        line = int(found.group(1))
    else:
        line = _unclosed_bracket_line(text) or max(1, text.count("\n"))
    message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    return f"{path}:{line}: invalid TOML: {message}"


def _unclosed_bracket_line(text: str) -> int | None:
    """The line of the outermost `[` or `{` never closed, skipping strings and comments."""
    depth, opened_at = 0, None
    for number, line in enumerate(split_lines(text), 1):
        quote = None
        for index, char in enumerate(line):
            if quote:
                if char == quote and line[index - 1] != "\\":
                    quote = None
            elif char in "\"'":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                if depth == 0:
                    opened_at = number
                depth += 1
            elif char in "]}":
                depth = max(0, depth - 1)
    return opened_at if depth else None


def load_config(path: Path | None, root: Path | None = None) -> FileConfig:
    if path is None:
        return FileConfig(root=(root or Path.cwd()).resolve())
    # Read errors name the file as given; what parse_table reports names it resolved, its root.
    return parse_table(_extended_table(Path(path), ()), Path(os.path.realpath(path)))


def _read_table(path: Path) -> dict[str, Any]:
    """The dllint table of one configuration file, as written."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(_toml_error(path, text, error)) from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: tool must be a table")
    table = tool.get("dllint", {})
    if path.name != "pyproject.toml" and not table:
        table = data  # a dedicated dllint.toml holds the keys at top level
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: [tool.dllint] must be a table")
    return dict(table)


def _extended_table(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """The table of `path` laid over the one its `extend` names (a path relative to `path`'s
    folder), as ruff does: the keys it sets replace the inherited ones, except that
    `extend-select`, `ignore` and `extend-exclude` add to them (unless it sets `select`, which
    starts the selection afresh), and `per-file-ignores` and `severity` are merged by key."""
    table = _read_table(path)
    if "extend" not in table:
        if chain:
            parse_table(table, Path(os.path.realpath(path)))  # as above, before the merge
        return table
    where = f"{path}: [tool.dllint] extend"
    target = table.pop("extend")
    if not isinstance(target, str) or not target or "\0" in target:
        raise ConfigError(f"{where} must be the path of another configuration file")
    here = Path(os.path.realpath(path))
    base_path = Path(os.path.realpath(here.parent / os.path.expanduser(target)))
    if base_path in chain or base_path == here:
        raise ConfigError(f"{where}: {target!r} extends, directly or not, this file again")
    if len(chain) >= MAX_EXTEND_DEPTH:
        raise ConfigError(f"{where}: more than {MAX_EXTEND_DEPTH} configurations extend each other")
    if not os.path.isfile(base_path):
        raise ConfigError(f"{where}: no such file {base_path}")
    base = _extended_table(base_path, (*chain, here))
    parse_table(table, here)  # a mistake is reported in the file that makes it
    return _lay_over(base, table)


def _lay_over(base: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **table}
    if "select" in table:
        for key in ("extend-select", "ignore"):  # a new selection: nothing inherited adds to it
            merged.pop(key, None)
            if key in table:
                merged[key] = table[key]
    else:
        for key in ("extend-select", "ignore"):
            merged[key] = _joined(base, table, key)
    merged["extend-exclude"] = _joined(base, table, "extend-exclude")
    for key in ("per-file-ignores", "severity"):
        if isinstance(base.get(key), Mapping) and isinstance(table.get(key), Mapping):
            merged[key] = {**base[key], **table[key]}
    return {key: value for key, value in merged.items() if value is not None}


def _joined(base: Mapping[str, Any], table: Mapping[str, Any], key: str) -> list | None:
    """`base[key] + table[key]`; a value of the wrong type is kept as it is for `parse_table`
    to report."""
    if key not in base or key not in table:
        return table.get(key, base.get(key))
    if not isinstance(base[key], list):
        return base[key]
    if not isinstance(table[key], list):
        return table[key]
    return base[key] + table[key]


def parse_table(table: Mapping[str, Any], path: Path) -> FileConfig:
    where = f"{path}: [tool.dllint]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        hints = [_hint(key, KNOWN_KEYS) for key in unknown]
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}{''.join(hints)}")
    values: dict[str, Any] = {"root": path.parent, "path": path}
    table = {key: value for key, value in table.items() if key != "extend"}  # see load_config
    for key in ("select", "extend-select", "ignore"):
        if key in table:
            values[key.replace("-", "_")] = validate_selectors(_strings(table[key], where, key),
                                                               f"{where} {key}")
    for key in ("exclude", "extend-exclude"):
        if key in table:
            values[key.replace("-", "_")] = _patterns(_strings(table[key], where, key),
                                                      f"{where} {key}")
    if "per-file-ignores" in table:
        mapping = table["per-file-ignores"]
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{where} per-file-ignores must be a table of glob = [codes]")
        values["per_file_ignores"] = tuple(
            (_patterns([glob], f"{where} per-file-ignores")[0],
             validate_selectors(_strings(codes, where, f"per-file-ignores.{glob}"),
                                f"{where} per-file-ignores {glob!r}"))
            for glob, codes in mapping.items())
    for key in ("respect-gitignore", "report-unused-suppressions"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{where} {key} must be true or false")
            values[key.replace("-", "_")] = table[key]
    if "severity" in table:
        values["severity"] = _severities(table["severity"], where)
    if "max-file-size" in table:
        size = table["max-file-size"]
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ConfigError(f"{where} max-file-size must be a positive number of bytes")
        values["max_file_size"] = size
    if "cache-dir" in table:
        values["cache_dir"] = _cache_dir(table["cache-dir"], f"{where} cache-dir")
    if "file-time-budget" in table:
        values["file_time_budget"] = validate_time_budget(table["file-time-budget"],
                                                          f"{where} file-time-budget")
    if "file-memory-budget" in table:
        memory = table["file-memory-budget"]
        if not isinstance(memory, int) or isinstance(memory, bool) or memory < 64:
            raise ConfigError(f"{where} file-memory-budget must be a whole number of MiB, "
                              "64 or more")
        values["file_memory_budget"] = memory
    return FileConfig(**values)


def validate_time_budget(seconds: object, where: str) -> float:
    """Seconds a file may take: a number from 0.1 (nothing real parses faster) to a day."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or \
            not 0.1 <= seconds <= 86_400:
        raise ConfigError(f"{where} must be a number of seconds from 0.1 to 86400")
    return float(seconds)


def is_valid_pattern(pattern: str) -> bool:
    """Whether git accepts `pattern` in a .gitignore (a lone `!` negates nothing; a trailing
    backslash escapes nothing)."""
    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except ValueError:  # pathspec's pattern errors are ValueErrors in every version
        return False
    return True


def _patterns(patterns: tuple[str, ...], where: str) -> tuple[str, ...]:
    for pattern in patterns:
        if not is_valid_pattern(pattern):
            raise ConfigError(f"{where}: invalid pattern {pattern!r} (not a gitignore pattern)")
    return patterns


def _cache_dir(value: Any, where: str) -> str:
    """A folder for the cache: a name the file system can hold, and never the project root
    itself (the cache would then be the whole project)."""
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    if "\0" in value:
        raise ConfigError(f"{where} must not contain a NUL character")
    if os.path.normpath(value) == ".":  # "", ".", "./", "src/.."
        raise ConfigError(f"{where} must name a folder of its own for the cache, not the "
                          f"project root ({value!r})")
    return value


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where} {key} must be a list of strings")
    return tuple(value)


def _severities(value: Any, where: str) -> tuple[tuple[str, Severity], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} severity must be a table of CODE = \"error|warning|info\"")
    result = []
    for code, level in value.items():
        validate_selectors([code], f"{where} severity", exact=True)
        try:
            result.append((code, Severity(level)))
        except ValueError:
            raise ConfigError(f"{where} severity.{code} must be one of error, warning, info; "
                              f"got {level!r}") from None
    return tuple(result)


def _hint(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_selectors(selectors: Iterable[str], where: str, *, exact: bool = False) -> tuple[str, ...]:
    """Check each selector names a code, a code prefix (`DL`, `DL00`) or ALL."""
    codes = known_codes()
    result = []
    for selector in selectors:
        normalized = selector.strip().upper()
        ok = normalized in codes if exact else (
            normalized == "ALL" or any(code.startswith(normalized) for code in codes))
        if not normalized or not ok:
            raise ConfigError(f"{where}: unknown rule code {selector!r}{_hint(normalized, codes)}")
        result.append(normalized)
    return tuple(result)


def _specificity(code: str, selectors: Iterable[str]) -> int:
    """Length of the longest selector matching `code` (ALL counts as 0), or -1 for none."""
    best = -1
    for selector in selectors:
        if selector == "ALL":
            best = max(best, 0)
        elif code.startswith(selector):
            best = max(best, len(selector))
    return best


def resolve_enabled(select: Iterable[str] | None, extend_select: Iterable[str],
                    ignore: Iterable[str]) -> frozenset[str]:
    """The rule codes that run. The most specific selector wins; on a tie, ignore wins.

    Without `select`, the default set counts as the least specific selection (like `ALL`), so
    `ignore = ["DL"]` switches the defaults off.
    """
    chosen = list(select or ()) + list(extend_select)
    ignore = list(ignore)
    enabled = set()
    for rule in rule_entries():  # the table, not the classes: settings never import libcst
        on = _specificity(rule.code, chosen)
        if select is None and rule.enabled_by_default:
            on = max(on, 0)
        if on >= 0 and on > _specificity(rule.code, ignore):
            enabled.add(rule.code)
    return frozenset(enabled)


def _gitwildmatch(patterns: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(patterns))


@dataclass(frozen=True)
class Settings:
    """Everything resolved for one run. Picklable: sent once to each worker process."""

    root: Path
    config_path: Path | None
    enabled: frozenset[str]
    ignored_engine_codes: frozenset[str]
    exclude: pathspec.PathSpec
    per_file_ignores: tuple[tuple[pathspec.PathSpec, tuple[str, ...]], ...]
    severity: Mapping[str, Severity]
    respect_gitignore: bool
    report_unused_suppressions: bool
    max_file_size: int
    cache_dir: Path
    fix: bool = False
    file_time_budget: float = DEFAULT_FILE_TIME_BUDGET
    file_memory_budget: int = DEFAULT_FILE_MEMORY_BUDGET
    unsafe_fixes: bool = False
    # The oldest PyTorch the project declares it supports (requirements, pyproject), if any.
    torch_minimum: tuple[int, ...] | None = None
    fingerprint: str = field(default="", compare=False)

    def relative(self, path: str) -> str:
        """`path` relative to the project root in posix form, as globs in the config expect."""
        absolute = os.path.abspath(path)
        try:
            return Path(absolute).relative_to(self.root).as_posix()
        except ValueError:
            return Path(absolute).as_posix()

    def ignored_for(self, path: str) -> frozenset[str]:
        """Codes switched off for this file by per-file-ignores."""
        if not self.per_file_ignores:
            return frozenset()
        relative = self.relative(path)
        off: set[str] = set()
        for spec, selectors in self.per_file_ignores:
            if spec.match_file(relative):
                off.update(code for code in known_codes()
                           if _specificity(code, selectors) >= 0)
        return frozenset(off)

    def excludes(self, path: str) -> bool:
        """Whether `exclude`/`extend-exclude` leave out this file (or a folder above it, up to
        the root) when a folder is walked."""
        relative = self.relative(path)
        if self.exclude.match_file(relative) or self.exclude.match_file(Path(path).name):
            return True
        parts = relative.split("/")[:-1]
        return any(self.exclude.match_file("/".join(parts[:end]) + "/")
                   or self.exclude.match_file(parts[end - 1])
                   for end in range(1, len(parts) + 1))

    def is_engine_code_on(self, code: str, path: str) -> bool:
        if code in self.ignored_engine_codes or code in self.ignored_for(path):
            return False
        return code != UNUSED_SUPPRESSION.code or self.report_unused_suppressions


def build_settings(config: FileConfig, *, select: Iterable[str] | None = None,
                   extend_select: Iterable[str] = (), ignore: Iterable[str] = (),
                   fix: bool = False, unsafe_fixes: bool = False,
                   report_unused_suppressions: bool | None = None,
                   ignore_bad_metadata: bool = False, start: Path | None = None,
                   file_time_budget: float | None = None) -> Settings:
    """Merge command-line choices over the file: --select replaces, the others extend.

    The torch version is read from the project `start` (the first linted path) belongs to,
    found by `requirements.project_root` as the configuration is found, so a run started from
    another folder reads the same requirements; without `start`, or with no project above it,
    from the configuration's root.

    Project metadata dllint cannot read (`project = 1`) is a ConfigError, unless
    `ignore_bad_metadata`: then no torch version is known (the editor's fallback to defaults,
    which must always give settings)."""
    select = validate_selectors(select, "--select") if select is not None else config.select
    extend = config.extend_select + validate_selectors(extend_select, "--extend-select")
    ignores = config.ignore + validate_selectors(ignore, "--ignore")
    enabled = resolve_enabled(select, extend, ignores)
    engine_off = frozenset(code for code in ENGINE_CODES if _specificity(code, ignores) > 0)
    # DL905 is off by default (a prefix or ALL leaves it off, as it reports comments, not code);
    # naming it in select or extend-select turns it on, as --report-unused-suppressions does.
    named = UNUSED_SUPPRESSION.code in (*(select or ()), *extend)
    unused = (config.report_unused_suppressions or named if report_unused_suppressions is None
              else report_unused_suppressions)
    try:
        project = project_root(start) if start is not None else None
        torch_minimum = declared_minimum(project or config.root, "torch")
    except RequirementsError as error:
        if not ignore_bad_metadata:
            raise ConfigError(str(error)) from None
        torch_minimum = None
    settings = Settings(
        root=config.root,
        config_path=config.path,
        enabled=enabled,
        ignored_engine_codes=engine_off,
        exclude=_gitwildmatch(config.exclude + config.extend_exclude),
        per_file_ignores=tuple((_gitwildmatch([glob]), codes)
                               for glob, codes in config.per_file_ignores),
        severity=dict(config.severity),
        respect_gitignore=config.respect_gitignore,
        report_unused_suppressions=unused,
        max_file_size=config.max_file_size,
        cache_dir=(config.root / config.cache_dir),
        fix=fix,
        unsafe_fixes=unsafe_fixes,
        torch_minimum=torch_minimum,
        file_time_budget=config.file_time_budget if file_time_budget is None
        else validate_time_budget(file_time_budget, "--file-time-budget"),
        file_memory_budget=config.file_memory_budget,
    )
    fingerprint = hashlib.blake2b(repr((
        __version__, sorted(enabled), sorted(engine_off), config.per_file_ignores,
        config.severity, unused, config.max_file_size, settings.torch_minimum,
    )).encode(), digest_size=12).hexdigest()
    object.__setattr__(settings, "fingerprint", fingerprint)
    return settings


class ConfigurationSearch:
    """Each path's settings: its nearest configuration (`find_config`) with the command line's
    options laid over it (`make_settings`), as ruff resolves a hierarchy of configurations.
    One `Settings` object per configuration file, built once; each folder is searched once."""

    def __init__(self, make_settings: Callable[[FileConfig, Path], Settings],
                 default_root: Path, known: Settings | None = None) -> None:
        self._make_settings = make_settings
        self._default_root = default_root
        self._config_of_folder: dict[str, Path | None] = {}
        self._settings: dict[Path | None, Settings] = {}
        if known is not None:  # already built for the same configuration: use that object
            self._settings[known.config_path] = known

    def config_path(self, path: str) -> Path | None:
        """The configuration that applies to `path` (a file or a folder), or None."""
        real = os.path.realpath(path)
        folder = real if os.path.isdir(real) else os.path.dirname(real)
        walked = []
        found: Path | None = None
        while True:
            if folder in self._config_of_folder:
                found = self._config_of_folder[folder]
                break
            walked.append(folder)
            found = config_in(Path(folder))
            parent = os.path.dirname(folder)
            if found is not None or parent == folder:
                break
            folder = parent
        for folder in walked:
            self._config_of_folder[folder] = found
        return found

    def __call__(self, path: str) -> Settings:
        config_path = self.config_path(path)
        if config_path not in self._settings:
            config = load_config(config_path, self._default_root)
            self._settings[config_path] = self._make_settings(
                config, config.root if config_path is not None else Path(path))
        return self._settings[config_path]
