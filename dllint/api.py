"""The Python API: the same two entry points every front end uses.

    >>> from dllint import lint_source, lint_paths
    >>> [d.code for d in lint_source("import os\\nnames = os.listdir('x')\\nnames.index('a')\\n")]
    ['DL001']
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from dllint.config import (ConfigurationSearch, FileConfig, Settings, build_settings, find_config,
                           load_config)
from dllint.runner import lint_text, run
from dllint.types import Diagnostic


def settings_for(start: str | Path = ".", *, select: Sequence[str] | None = None,
                 ignore: Sequence[str] = (), config: Path | None = None,
                 isolated: bool = False) -> Settings:
    """Settings as the CLI would build them for a run started at `start`."""
    if isolated:
        file_config = FileConfig(root=Path(start).resolve() if Path(start).is_dir()
                                 else Path.cwd().resolve())
    else:
        file_config = load_config(config or find_config(Path(start)), Path(start))
    return build_settings(file_config, select=select, ignore=ignore, start=Path(start))


def lint_source(source: str, path: str = "<string>", *, settings: Settings | None = None,
                select: Sequence[str] | None = None) -> list[Diagnostic]:
    """Lint Python source held in memory; `path` names it in diagnostics and for per-file-ignores."""
    settings = settings or settings_for(isolated=True, select=select)
    return list(lint_text(source, path, settings).diagnostics)


def lint_paths(paths: Iterable[str | Path], *, settings: Settings | None = None,
               select: Sequence[str] | None = None, use_cache: bool = False,
               jobs: int | None = None) -> list[Diagnostic]:
    """Lint files and directories (walked as the CLI walks them) and return every diagnostic.
    Without `settings`, each file uses its nearest configuration, as in the CLI."""
    paths = [str(path) for path in paths]
    if settings is not None:
        return run(paths, settings, use_cache=use_cache, jobs=jobs).diagnostics
    first = settings_for(paths[0] if paths else ".", select=select)
    search = ConfigurationSearch(
        lambda config, start: build_settings(config, select=select, start=start), Path.cwd(),
        known=first)
    return run(paths, first, use_cache=use_cache, jobs=jobs, settings_for=search).diagnostics
