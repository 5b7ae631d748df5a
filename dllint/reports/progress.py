"""How far a run is, on a terminal: "indexing" then "linting", files done of the total, elapsed.

The runner reports each file it finishes (`dllint.runner.Progress`); this draws those reports
with rich on standard error, only when that is a terminal (the CLI decides), so piped output and
CI logs never carry it. It draws from the reports themselves, with no refresh thread (the worker
processes are forked while it is shown), and at most every REFRESH_SECONDS; it is removed when
the run ends, leaving the report alone on the screen.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn,
                           TimeElapsedColumn)

REFRESH_SECONDS = 0.1
PHASES = ("indexing", "linting")


class TerminalProgress:
    """A context manager whose `update(phase, done, total)` is a `dllint.runner.Progress`."""

    def __init__(self, console: Console) -> None:
        self.display = Progress(TextColumn("{task.description:<8}"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("files"), TimeElapsedColumn(),
                                console=console, auto_refresh=False, transient=True)
        self.tasks: dict[str, TaskID] = {}
        self.last_refresh = 0.0

    def __enter__(self) -> TerminalProgress:
        self.display.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.display.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        task = self.tasks.get(phase)
        if task is None:
            for other in self.tasks.values():  # a phase starts when the one before it ended
                self.display.stop_task(other)
            task = self.tasks[phase] = self.display.add_task(phase, total=total)
        self.display.update(task, completed=done, total=total)
        now = time.monotonic()
        if done in (0, total) or now - self.last_refresh >= REFRESH_SECONDS:
            self.last_refresh = now
            self.display.refresh()
