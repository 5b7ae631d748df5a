"""`dllint --watch`: lint, then poll what was linted and lint again when anything changes.

Polling needs no dependency and behaves the same on every platform and file system (network
folders, containers) where change notifications do not. Each round stats the files linted,
the folders they are in (a file added or removed changes its folder's time) and the
configuration files those folders may hold; that is one `stat` per file every `POLL_SECONDS`.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Callable, Iterable

import click

POLL_SECONDS = 0.5
CONFIG_NAMES = ("pyproject.toml", "dllint.toml", ".dllint.toml")

# Hooks for the tests: the pause between polls, and a bound on how many lints a watch runs
# (None: until Ctrl-C).
sleep: Callable[[float], None] = time.sleep
MAX_ROUNDS: int | None = None

Snapshot = dict[str, "tuple[int, int] | None"]


def watched_paths(files: Iterable[str], roots: Iterable[str],
                  config: str | None = None) -> list[str]:
    """The files, their folders, the configuration files those folders may hold (present or
    not, so that one created is noticed), the paths the run was given with their folders, and
    the configuration in use (which may be in a folder above them all)."""
    roots = [os.path.abspath(root) for root in roots]
    folders = {os.path.dirname(os.path.abspath(path)) for path in files}
    folders |= {root if os.path.isdir(root) else os.path.dirname(root) for root in roots}
    configs = [os.path.join(folder, name) for folder in folders for name in CONFIG_NAMES]
    if config is not None:
        configs.append(os.path.abspath(config))
    return sorted({*map(os.path.abspath, files), *folders, *configs, *roots})


def snapshot(paths: Iterable[str]) -> Snapshot:
    """Modification time and size of each path; None for one that is not there."""
    state: Snapshot = {}
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            state[path] = None
        else:
            state[path] = (status.st_mtime_ns, status.st_size)
    return state


def watch(lint_once: Callable[[], None], paths_to_watch: Callable[[], Iterable[str]]) -> int:
    """Clear the screen and lint; wait for a change; again, until Ctrl-C, which ends the watch
    with exit status 0 as ruff's does. Returns that status."""
    rounds = 0
    message = "Starting linter in watch mode..."
    try:
        while True:
            click.clear()  # only on a terminal; a log or a pipe keeps every report
            click.echo(f"[{datetime.now():%H:%M:%S}] {message}")
            lint_once()
            rounds += 1
            if MAX_ROUNDS is not None and rounds >= MAX_ROUNDS:
                return 0
            before = snapshot(paths_to_watch())
            while True:
                sleep(POLL_SECONDS)
                if snapshot(before) != before:
                    break
            message = "File change detected..."
    except KeyboardInterrupt:
        return 0
