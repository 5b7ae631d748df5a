"""Lint many paths: discovery, the cache, and worker processes that return data to the parent."""

from __future__ import annotations

import hashlib
import heapq
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from multiprocessing.connection import wait
from typing import Callable, Iterable, Sequence

from dllint import parsed
from dllint.cache import Cache
from dllint.config import Settings
from dllint.discovery import discover
from dllint.engine import lint_file, lint_source_text, merge_same_cause
from dllint.registry import all_rules
from dllint.semantic.project import ProjectIndex, summarise, wants_summary
from dllint.source import SourceText, content_hash, read_bytes, read_source
from dllint.types import Diagnostic, FileResult

# Below this many files to lint, starting processes costs more than it saves.
PARALLEL_THRESHOLD = 16
# Past this many files, a workspace is not one project (a home directory opened in an editor).
MAX_WORKSPACE_FILES = 20_000

# Told how far a run is: (phase, files done in it, files in it), the phase "indexing" (phase one,
# the summaries) then "linting". Called in the parent process only, at the start of each phase
# (files answered from the cache count as done) and after each file; workers never print.
Progress = Callable[[str, int, int], None]
# What `Workers.map` calls after each file it finishes.
Tick = Callable[[], None]


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    elapsed: float = 0.0
    cached: int = 0

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted((d for result in self.files for d in result.diagnostics),
                      key=Diagnostic.sort_key)

    @property
    def fixes_applied(self) -> int:
        return sum(result.fixes_applied for result in self.files)

    @property
    def sources(self) -> dict[str, str]:
        """The linted text of each file with findings, for code frames (reports never read files)."""
        return {result.path: result.text for result in self.files if result.text is not None}


def _code_fingerprint() -> str:
    """Changes whenever dllint's own code does, so a development checkout never reads stale entries."""
    import dllint.rules  # in a checkout, the rules live outside the package folder (rules/)

    folders = {Path(__file__).resolve().parent, Path(dllint.rules.__file__).resolve().parent}
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(path for folder in folders for path in folder.rglob("*.py")):
        status = path.stat()
        digest.update(f"{path}:{status.st_mtime_ns}:{status.st_size}".encode())
    return digest.hexdigest()


_worker_settings: Settings | None = None
_worker_project: ProjectIndex | None = None


def _initialise_worker(settings: Settings, project: ProjectIndex | None) -> None:
    global _worker_settings, _worker_project
    _worker_settings, _worker_project = settings, project


def _lint_in_worker(path: str) -> FileResult:
    assert _worker_settings is not None
    return lint_file(path, _worker_settings, _worker_project)


def _summarise_in_worker(path: str) -> tuple[str, str | None, dict | None]:
    """The file's summary, with the hash of the bytes it was made from (its cache key)."""
    assert _worker_settings is not None
    source = read_source(path, _worker_settings.max_file_size)
    if isinstance(source, Diagnostic):
        return path, None, None
    digest = content_hash(source.raw)
    if path.endswith(".ipynb") or not wants_summary(source.text, path):
        return path, digest, None
    try:
        return path, digest, summarise(path, source.text)
    except Exception:  # noqa: BLE001 - not hidden: phase two runs the same model on this file
        return path, digest, None  # and reports the crash there as DL999, with the file's name


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers in milliseconds with the rules already imported; elsewhere use spawn.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_FUNCTIONS = {"summarise": _summarise_in_worker, "lint": _lint_in_worker}


def _serve(connection, settings: Settings, parent: int, inherited: Sequence = ()) -> None:
    """A worker's loop: run one phase over the paths of its shard, send the results back.

    A worker must not outlive the run (a CI timeout SIGKILLs dllint, not its workers). It
    closes the pipe ends of its siblings that fork copied into it (`inherited`), so that
    when the parent dies no process holds the parent's end of this worker's pipe and an idle
    worker reads EOF; a busy one checks between files that `parent` is still its parent.
    """
    for sibling in inherited:
        sibling.close()
    while True:
        try:
            message = connection.recv()
        except (EOFError, ConnectionResetError):
            return
        if message is None:
            return
        name, paths, project = message
        _initialise_worker(settings, project)
        # Each file's result goes back as soon as it is made (the parent counts them for its
        # progress display), then "done"; or "error" with what was raised.
        try:
            for path in paths:
                if os.getppid() != parent:  # orphaned: nobody will read the results
                    return
                try:
                    result = _FUNCTIONS[name](path)
                except Exception as error:  # noqa: BLE001 - not hidden: re-raised in the parent
                    connection.send(("error", error))
                    break
                connection.send(("result", result))
            else:
                connection.send(("done", None))
        except (BrokenPipeError, ConnectionResetError):
            return  # the parent is gone


class Workers:
    """Worker processes that each own a fixed shard of the run's files for both phases.

    A file is summarised (phase one) and linted (phase two) by the same process, so phase two
    reuses the tree phase one parsed (`dllint.parsed`) instead of parsing every file twice.
    Shards are balanced by file size. With one job, or few files, everything runs in this
    process. A worker that dies (killed, out of memory) loses nothing: its shard is run here.
    """

    def __init__(self, paths: Sequence[str], settings: Settings, jobs: int | None) -> None:
        self.settings = settings
        jobs = jobs or os.cpu_count() or 1
        self.jobs = jobs if jobs > 1 and len(paths) >= PARALLEL_THRESHOLD else 1
        self.shard_of: dict[str, int] = {}
        self.processes: list = []
        self.connections: list = []
        if self.jobs == 1:
            return
        loads = [(0, shard) for shard in range(self.jobs)]
        for size, path in sorted(((_size(path), path) for path in paths), reverse=True):
            load, shard = heapq.heappop(loads)
            self.shard_of[path] = shard
            heapq.heappush(loads, (load + size, shard))

    def _start(self) -> None:
        """Start the processes on first use: a warm run, all from the cache, starts none."""
        context = _pool_context()
        forks = context.get_start_method() == "fork"
        for _ in range(self.jobs):
            parent_end, child_end = context.Pipe()
            # A forked child inherits this process's ends of the pipes of the workers started
            # before it, and closes them; a spawned child inherits no descriptor.
            inherited = (*self.connections, parent_end) if forks else ()
            process = context.Process(target=_serve, daemon=True,
                                      args=(child_end, self.settings, os.getpid(), inherited))
            process.start()
            child_end.close()
            self.processes.append(process)
            self.connections.append(parent_end)

    def map(self, name: str, paths: Sequence[str], project: ProjectIndex | None = None,
            tick: Tick | None = None) -> list:
        if self.jobs == 1 or len(paths) < PARALLEL_THRESHOLD and not self.processes:
            return self._here(name, paths, project, tick)
        if not self.processes:
            self._start()
        shards: list[list[str]] = [[] for _ in range(self.jobs)]
        for path in paths:
            shards[self.shard_of.get(path, 0)].append(path)
        received: list[list] = [[] for _ in range(self.jobs)]
        pending: dict = {}  # connection -> its shard's number, until its "done"
        lost: list[int] = []
        for number, (connection, shard) in enumerate(zip(self.connections, shards)):
            try:
                connection.send((name, shard, project))
                pending[connection] = number
            except (BrokenPipeError, ConnectionResetError):
                lost.append(number)
        # Read whichever worker has sent something: a worker never waits on a full pipe while
        # this process waits on another one.
        while pending:
            for connection in wait(list(pending)):
                number = pending[connection]
                try:
                    status, payload = connection.recv()
                except (EOFError, ConnectionResetError):  # the worker died
                    del pending[connection]
                    lost.append(number)
                    continue
                if status == "error":
                    raise payload
                if status == "done":
                    del pending[connection]
                    continue
                received[number].append(payload)
                if tick is not None:
                    tick()
        for number in lost:  # what a dead worker did not send back is run here
            rest = shards[number][len(received[number]):]
            received[number].extend(self._here(name, rest, project, tick))
        return [result for shard in received for result in shard]

    def _here(self, name: str, paths: Sequence[str], project: ProjectIndex | None,
              tick: Tick | None = None) -> list:
        _initialise_worker(self.settings, project)
        results = []
        for path in paths:
            results.append(_FUNCTIONS[name](path))
            if tick is not None:
                tick()
        return results

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.send(None)
            except (BrokenPipeError, ConnectionResetError):
                pass
            connection.close()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        parsed.release()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def lint_many(paths: Sequence[str], settings: Settings, *, jobs: int | None = None,
              project: ProjectIndex | None = None) -> list[FileResult]:
    with Workers(paths, settings, jobs) as workers:
        return workers.map("lint", paths, project)


def build_index(paths: Sequence[str], settings: Settings, *, jobs: int | None = None,
                cache: Cache | None = None, digests: dict[str, str] | None = None,
                workers: Workers | None = None, progress: Progress | None = None
                ) -> ProjectIndex:
    """Phase one: summaries of every file that may define what another file uses."""
    summaries: list[dict] = []
    missing: list[str] = []
    for path in paths:
        if cache is not None and digests is not None and path in digests:
            known, summary = cache.get_summary(path, digests[path])
            if known:
                if summary is not None:
                    summaries.append(summary)
                continue
        missing.append(path)
    tick = _counter(progress, "indexing", len(paths), len(paths) - len(missing))
    if workers is None:
        with Workers(missing, settings, jobs) as own:
            found = own.map("summarise", missing, tick=tick)
    else:
        found = workers.map("summarise", missing, tick=tick)
    for path, digest, summary in found:
        if summary is not None:
            summaries.append(summary)
        if cache is not None and digest is not None:
            cache.put_summary(path, digest, summary)
    return ProjectIndex.from_summaries(summaries)


def _open_cache(settings: Settings, files: Sequence[str],
                use_cache: bool) -> tuple[Cache | None, dict[str, str]]:
    """The run's cache, and each readable file's content hash (its key there)."""
    if not use_cache:
        return None, {}
    cache = Cache(settings.cache_dir, f"{settings.fingerprint}-{_code_fingerprint()}")
    digests: dict[str, str] = {}
    for path in files:
        data = read_bytes(path, settings.max_file_size)
        if not isinstance(data, Diagnostic):  # if it is, the worker reports why it was not read
            digests[path] = content_hash(data)
    return cache, digests


def _counter(progress: Progress | None, phase: str, total: int, done: int) -> Tick | None:
    """Report the start of `phase` to `progress`, and return what counts each file done."""
    if progress is None:
        return None
    progress(phase, done, total)
    count = done

    def tick() -> None:
        nonlocal count
        count += 1
        progress(phase, count, total)

    return tick


def run(paths: Iterable[str], settings: Settings, *, jobs: int | None = None,
        use_cache: bool = True, force_exclude: bool = False,
        progress: Progress | None = None) -> RunResult:
    started = time.perf_counter()
    found = discover(paths, settings, force_exclude=force_exclude)
    result = RunResult(files=[FileResult(d.path, (d,)) for d in found.diagnostics])
    cache, digests = _open_cache(settings, found.files, use_cache)
    with Workers(found.files, settings, jobs) as workers:
        _lint_files(found.files, settings, cache, digests, workers, result, progress)
    if cache is not None:
        cache.save()
    result.files = merge_same_cause(result.files)
    result.files.sort(key=lambda item: item.path)
    result.elapsed = time.perf_counter() - started
    return result


def _lint_files(files: Sequence[str], settings: Settings, cache: Cache | None,
                digests: dict[str, str], workers: Workers, result: RunResult,
                progress: Progress | None = None) -> None:
    project = None
    if len(files) > 1 and any(rule.uses_model for rule in all_rules()
                              if rule.code in settings.enabled):
        project = build_index(files, settings, cache=cache, digests=digests, workers=workers,
                              progress=progress)
    to_lint: list[str] = []
    for path in files:
        cached = cache.get(path, digests[path], project) if cache is not None and path in digests \
            else None
        if cached is not None and not (settings.fix and any(d.fix for d in cached)):
            text = _text_hashed_as(path, digests[path], settings) if cached else None
            result.files.append(FileResult(path, cached, from_cache=True, text=text))
            result.cached += 1
        else:
            to_lint.append(path)
    tick = _counter(progress, "linting", len(files), len(files) - len(to_lint))
    for file_result in workers.map("lint", to_lint, project, tick):
        result.files.append(file_result)
        # Files that were fixed in memory are not cached: their text on disk is about to change.
        if cache is not None and file_result.content_hash is not None \
                and file_result.fixed_source is None:
            cache.put(file_result, file_result.content_hash, project)


def _text_hashed_as(path: str, digest: str, settings: Settings) -> str | None:
    """The text of a file whose findings came from the cache, for their code frames: only if its
    bytes still hash as the text those findings were computed from, and never a notebook's JSON."""
    if path.endswith(".ipynb"):
        return None
    source = read_source(path, settings.max_file_size)
    if isinstance(source, Diagnostic) or content_hash(source.raw) != digest:
        return None
    return source.text


def lint_text(text: str, path: str, settings: Settings,
              project: ProjectIndex | None = None) -> FileResult:
    """Lint source held in memory (standard input, an editor buffer); `project` is the index
    of the files around it (`workspace_index`), so a model defined elsewhere is known."""
    source = SourceText(path, text, "utf-8", text.encode("utf-8", "surrogateescape"))
    return lint_source_text(source, settings, project)


def workspace_index(settings: Settings, *, use_cache: bool = True,
                    jobs: int | None = None) -> ProjectIndex | None:
    """The project index of every file under the settings' root, for linting one file in it
    (an editor buffer, standard input). Summaries come from the cache when the files did not
    change, so only the first call in a workspace pays for phase one."""
    if not any(rule.uses_model for rule in all_rules() if rule.code in settings.enabled):
        return None
    files = discover([str(settings.root)], settings).files
    if len(files) > MAX_WORKSPACE_FILES:
        return None  # a home directory opened as a workspace: lint buffers on their own
    cache, digests = _open_cache(settings, files, use_cache)
    index = build_index(files, settings, jobs=jobs, cache=cache, digests=digests)
    if cache is not None:
        cache.save()
    return index


