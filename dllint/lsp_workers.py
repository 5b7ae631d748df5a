"""The language server's worker processes: linting and the workspace index, off the event loop.

Linting is CPU-bound Python: in a thread it would hold the GIL and the server would answer no
request while a large buffer is linted. So buffers are linted in long-lived child processes
(`LintWorker`), each holding the settings and its own copy of the workspace's summaries, kept
up to date by the changes that ride along with every job. The index is built by another child
(`IndexWorker`), which reports its progress, can be killed to cancel it, and saves what it
summarised to the cache, so a workspace opened again starts from the cache.

Children are forked at start-up, before the server has threads, with everything imported; one
started again later (it died, or a build was cancelled) is spawned, since a process forked while
another thread holds a lock can wait on it for ever. Children never outlive the server: they are daemon processes (ended when the server exits),
the server kills them on shutdown and when the client's process dies, and a child that finds
itself orphaned (its parent killed with SIGKILL) exits between two jobs or two files.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from dllint import runner
from dllint.config import Settings
from dllint.discovery import discover
from dllint.engine import lint_notebook
from dllint.registry import all_rules
from dllint.semantic.project import ProjectIndex, summarise, wants_summary
from dllint.source import SourceText
from dllint.types import FileResult

# How often the index worker tells the server how far it got, at most.
PROGRESS_INTERVAL = 0.2
# The index worker yields the CPU to the lint workers (POSIX niceness, 0 to 19).
INDEX_NICENESS = 10
# How often an idle child checks that its parent is still there.
ORPHAN_CHECK_SECONDS = 1.0

Summaries = dict[str, "dict[str, Any] | None"]


def summary_key(path: str) -> str:
    """One key per file, however a path to it is spelled (the index and buffers both use it)."""
    return str(Path(path).resolve())


def _orphaned(parent: int) -> bool:
    return os.getppid() != parent


def _receive(connection, parent: int):
    """The next message from the server; None when it is gone."""
    while not connection.poll(ORPHAN_CHECK_SECONDS):
        if _orphaned(parent):
            return None
    try:
        return connection.recv()
    except (EOFError, ConnectionResetError, OSError):
        return None


def _summary_of_text(path: str, text: str) -> dict[str, Any] | None:
    """What the buffer defines for the other files (as phase one would summarise it saved)."""
    if path.endswith(".ipynb") or not wants_summary(text, path):
        return None
    try:
        return summarise(path, text)
    except Exception:  # noqa: BLE001 - not hidden: linting the same text reports it as DL999
        return None


def lint_buffer_text(text: str, path: str, settings: Settings, project: ProjectIndex | None,
                     notebook: bool) -> FileResult:
    """The one place the server's buffers are linted: a notebook's JSON (its cells), or text as
    the file `path`."""
    if notebook:
        source = SourceText(path, text, "utf-8", text.encode("utf-8", "surrogateescape"))
        return lint_notebook(source, settings, project)
    return runner.lint_text(text, path, settings, project)


_ABSENT = object()


def build_project(summaries: Summaries) -> ProjectIndex | None:
    present = [summary for summary in summaries.values() if summary is not None]
    return ProjectIndex.from_summaries(present) if summaries else None


def serve_lints(connection, parent: int) -> None:
    """A lint worker's loop. A job is `(changes, settings, path, text, fix, summarise_it,
    notebook)`:
    `changes` are `("reset", summaries)` or `("put", key, summary)`, applied before linting;
    `settings` is None when unchanged. Replies the `FileResult`, then, when `summarise_it`,
    the summary of the text (or None)."""
    settings: Settings | None = None
    summaries: Summaries = {}
    project: ProjectIndex | None = None
    reset = True
    changed: set[str] = set()  # files whose summaries changed since `project` was built
    while (job := _receive(connection, parent)) is not None:
        changes, new_settings, path, text, fix, summarise_it, notebook = job
        if new_settings is not None:
            settings = new_settings
        for change in changes:
            if change[0] == "reset":
                summaries, reset = dict(change[1]), True
            elif summaries.get(change[1], _ABSENT) != change[2]:
                summaries[change[1]] = change[2]
                changed.add(change[1])
        # While one buffer is edited, only its own summary changes, and its findings come from
        # its text and what the other files define: the index (costly to build for a large
        # workspace) is kept until another file's summary changed.
        if reset or changed - {summary_key(path)}:
            project = build_project(summaries)
            reset = False
            changed.clear()
        assert settings is not None  # the server sends them with the first job
        result = lint_buffer_text(text, path, replace(settings, fix=True) if fix else settings,
                                  project, notebook)
        try:
            connection.send(result)
            if summarise_it:  # after the findings, which the server publishes meanwhile
                connection.send(_summary_of_text(path, text))
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


def serve_index(connection, parent: int) -> None:
    """The index worker's loop. A job is `settings`; the replies are `("cached", summaries)`
    (what the cache already held), `("progress", done, total)`, and `("done", summaries)` (the
    rest), or `("skipped", reason)` when the workspace gets no index. It runs at a lower
    priority: the buffer being edited comes first."""
    if hasattr(os, "nice"):
        os.nice(INDEX_NICENESS)
    while (settings := _receive(connection, parent)) is not None:
        try:
            if not _build(connection, settings, parent):
                return
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


def _build(connection, settings: Settings, parent: int) -> bool:
    if not any(rule.uses_model for rule in all_rules() if rule.code in settings.enabled):
        connection.send(("skipped", "no enabled rule reads other files"))
        return True
    files = discover([str(settings.root)], settings).files
    if len(files) > runner.MAX_WORKSPACE_FILES:
        connection.send(("skipped", f"over {runner.MAX_WORKSPACE_FILES} files: buffers are "
                                    "linted on their own"))
        return True
    cache, digests = runner._open_cache(settings, files, True)
    cached: Summaries = {}
    missing: list[str] = []
    for path in files:
        known, summary = cache.get_summary(path, digests[path]) if cache is not None \
            and path in digests else (False, None)
        if known:
            cached[summary_key(path)] = summary
        else:
            missing.append(path)
    connection.send(("cached", cached))
    runner._initialise_worker(settings, None)
    found: Summaries = {}
    reported = time.monotonic()
    for done, path in enumerate(missing, start=1):
        if _orphaned(parent):
            return False
        _, digest, summary = runner._summarise_in_worker(path)
        found[summary_key(path)] = summary
        if cache is not None and digest is not None:
            cache.put_summary(path, digest, summary)
        if time.monotonic() - reported >= PROGRESS_INTERVAL:
            connection.send(("progress", done, len(missing)))
            reported = time.monotonic()
    if cache is not None:
        cache.save()
    connection.send(("done", found))
    return True


class Child:
    """One child process and the server's end of its pipe."""

    def __init__(self, target) -> None:
        self.target = target
        self.process = None
        self.connection = None

    def start(self) -> bool:
        """Start it unless it runs; True when a new process was started."""
        if self.process is not None and self.process.is_alive():
            return False
        # A process forked while another thread holds a lock would wait on it for ever: the
        # thread reading the server's stdin holds sys.stdin's, which a new process closes. So
        # fork (fast, with everything imported) only while this is the one thread: at start-up.
        context = runner._pool_context() if threading.active_count() == 1 \
            else multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        self.process = context.Process(target=self.target, args=(child_end, os.getpid()),
                                       daemon=True)
        self.process.start()
        child_end.close()
        self.connection = parent_end
        return True

    def stop(self) -> None:
        """Kill it now (a cancelled build, the server's end): its work is no longer wanted."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        if self.connection is not None:
            self.connection.close()
        self.process = self.connection = None

    def call(self, message) -> Any:
        """Send a job and wait for the reply (in a thread of the server, never its loop)."""
        assert self.connection is not None
        self.connection.send(message)
        return self.connection.recv()

    def receive(self) -> Any:
        """A further reply to the last job (in a thread of the server)."""
        assert self.connection is not None
        return self.connection.recv()

