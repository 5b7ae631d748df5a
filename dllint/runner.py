"""Lint many paths: discovery, the cache, and worker processes that return data to the parent."""

from __future__ import annotations

import hashlib
import heapq
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from dllint import budget, parsed
from dllint.cache import Cache
from dllint.config import Settings
from dllint.discovery import SOURCE_SUFFIXES, Discovery, discover
from dllint.same_cause import merge_same_cause
from dllint.registry import rule_entries
from dllint.requirements import project_root
from dllint.semantic.project import ProjectIndex, summarise, wants_summary
from dllint.source import SourceText, content_hash, read_bytes, read_source
from dllint.types import Diagnostic, FileResult

# Below this many files to lint, starting processes costs more than it saves.
PARALLEL_THRESHOLD = 16
# Told how far a run is: (phase, files done in it, files in it), the phase "indexing" (phase one,
# the summaries) then "linting". Called in the parent process only, at the start of each phase
# (files answered from the cache count as done) and after each file; workers never print.
Progress = Callable[[str, int, int], None]
# What `Workers.map` calls after each file it finishes.
Tick = Callable[[], None]
# Past this many files, a workspace is not one project (a home directory opened in an editor).
MAX_WORKSPACE_FILES = 20_000


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


# The engine (and with it libcst and the rules) is imported by the functions that lint, never
# when this module is: a run whose files all come from the cache imports neither.

def _lint_in_worker(path: str) -> FileResult:
    from dllint.engine import lint_file

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
    if budget.screen(source.text, _worker_settings.file_time_budget) is not None:
        return path, None, None  # linting reports it (DL909); not cached, as budgets change
    try:
        # Summaries name files by absolute path: a cached one is read back from any folder.
        return path, digest, summarise(os.path.abspath(path), source.text)
    except MemoryError:
        return path, None, None  # over the memory budget: linting reports it
    except Exception:  # noqa: BLE001 - not hidden: phase two runs the same model on this file
        return path, digest, None  # and reports the crash there as DL999, with the file's name


def _over_budget(name: str, path: str, message: str) -> object:
    """What a phase gives for a file whose analysis was stopped for its budget."""
    assert _worker_settings is not None
    if name == "summarise":
        return path, None, None
    from dllint.engine import over_budget_result

    return over_budget_result(path, _worker_settings, message)


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers in milliseconds with the rules already imported; elsewhere use spawn.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_FUNCTIONS = {"summarise": _summarise_in_worker, "lint": _lint_in_worker}


def _serve(connection, settings: Settings, parent: int, inherited: Sequence = ()) -> None:
    """A worker's loop: run one phase over the paths of its shard, sending each result back as
    soon as it is ready (the parent times each file against `file-time-budget` from them).

    A worker must not outlive the run (a CI timeout SIGKILLs dllint, not its workers). It
    closes the pipe ends of its siblings that fork copied into it (`inherited`), so that
    when the parent dies no process holds the parent's end of this worker's pipe and an idle
    worker reads EOF; a busy one checks between files that `parent` is still its parent.
    """
    for sibling in inherited:
        sibling.close()
    budget.limit_memory(settings.file_memory_budget)
    while True:
        try:
            message = connection.recv()
        except (EOFError, ConnectionResetError):
            return
        if message is None:
            return
        name, paths, project = message
        _initialise_worker(settings, project)
        try:
            for path in paths:
                if os.getppid() != parent:  # orphaned: nobody will read the results
                    return
                try:
                    result = _FUNCTIONS[name](path)
                except MemoryError:  # over `file-memory-budget` (budget.limit_memory)
                    result = _over_budget(name, path,
                                          budget.memory_budget_message(settings.file_memory_budget))
                connection.send(("result", result))
        except (BrokenPipeError, ConnectionResetError):
            return  # the parent is gone
        except Exception as error:  # noqa: BLE001 - not hidden: re-raised in the parent
            reply = ("error", error)
        else:
            reply = ("done", None)
        try:
            connection.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            return  # the parent is gone


@dataclass
class _Shard:
    """One worker's part of a phase: its paths, how many are done, and since when the one in
    progress has been running."""

    paths: list[str]
    results: list = field(default_factory=list)
    started: float = 0.0
    finished: bool = False
    # Paths during which a worker died: a second death on the same path is the file's doing.
    died_on: set[str] = field(default_factory=set)

    @property
    def current(self) -> str | None:
        return self.paths[len(self.results)] if len(self.results) < len(self.paths) else None


class Workers:
    """Worker processes that each own a fixed shard of the run's files for both phases.

    A file is summarised (phase one) and linted (phase two) by the same process, so phase two
    reuses the tree phase one parsed (`dllint.parsed`) instead of parsing every file twice.
    Shards are balanced by file size. With one job, or few files, everything runs in this
    process. Each file has `file-time-budget` seconds: a worker that takes longer is killed,
    the file gets DL909, and the rest of its shard goes on in a fresh worker. A worker that
    dies (killed, out of memory) loses nothing: the file it was on is tried once more in a
    fresh worker, and gets DL909 if that worker dies too.
    """

    def __init__(self, paths: Sequence[str], settings: Settings, jobs: int | None) -> None:
        self.settings = settings
        jobs = jobs or os.cpu_count() or 1
        self.jobs = jobs if jobs > 1 and len(paths) >= PARALLEL_THRESHOLD else 1
        self.shard_of: dict[str, int] = {}
        self.processes: list = []
        self.connections: list = []
        # Files stopped for their budget in phase one, with the reason: phase two reports them
        # without spending the budget again.
        self.over_budget: dict[str, str] = {}
        if self.jobs == 1:
            return
        loads = [(0, shard) for shard in range(self.jobs)]
        for size, path in sorted(((_size(path), path) for path in paths), reverse=True):
            load, shard = heapq.heappop(loads)
            self.shard_of[path] = shard
            heapq.heappush(loads, (load + size, shard))

    def _start(self) -> None:
        """Start the processes on first use: a warm run, all from the cache, starts none."""
        for _ in range(self.jobs):
            self.processes.append(None)
            self.connections.append(None)
            self._start_worker(len(self.processes) - 1)

    def _start_worker(self, index: int) -> None:
        """Start worker `index`, in place of the one that was there (dead, or killed)."""
        context = _pool_context()
        forks = context.get_start_method() == "fork"
        parent_end, child_end = context.Pipe()
        # A forked child inherits this process's ends of the pipes of the other workers, and
        # closes them; a spawned child inherits no descriptor.
        others = [connection for connection in self.connections if connection is not None]
        inherited = (*others, parent_end) if forks else ()
        process = context.Process(target=_serve, daemon=True,
                                  args=(child_end, self.settings, os.getpid(), inherited))
        process.start()
        child_end.close()
        self.processes[index] = process
        self.connections[index] = parent_end

    def _stop_worker(self, index: int) -> None:
        process, connection = self.processes[index], self.connections[index]
        if process.is_alive():
            process.kill()
        process.join()
        connection.close()
        self.connections[index] = None

    def map(self, name: str, paths: Sequence[str], project: ProjectIndex | None = None,
            tick: Tick | None = None) -> list:
        if self.jobs == 1 or len(paths) < PARALLEL_THRESHOLD and not self.processes:
            return self._here(name, paths, project, tick)
        if not self.processes:
            self._start()
        _initialise_worker(self.settings, project)  # for the results made here
        shards = [_Shard([]) for _ in range(self.jobs)]
        known: dict[str, object] = {}
        for path in paths:
            if name == "lint" and path in self.over_budget:
                known[path] = _over_budget(name, path, self.over_budget[path])
                if tick is not None:
                    tick()
            else:
                shards[self.shard_of.get(path, 0)].paths.append(path)
        for index, shard in enumerate(shards):
            self._send(index, shard, name, project)
        while not all(shard.finished for shard in shards):
            done = sum(len(shard.results) for shard in shards)
            self._collect(shards, name, project)
            if tick is not None:  # each result counted once, skipped files included
                for _ in range(sum(len(shard.results) for shard in shards) - done):
                    tick()
        return [*known.values(), *(result for shard in shards for result in shard.results)]

    def _send(self, index: int, shard: _Shard, name: str, project: ProjectIndex | None) -> None:
        """Hand worker `index` what is left of its shard (a dead worker is replaced first)."""
        if shard.current is None:
            shard.finished = True
            return
        message = (name, shard.paths[len(shard.results):], project)
        try:
            self.connections[index].send(message)
        except (BrokenPipeError, ConnectionResetError):
            # It died between phases (killed, out of memory): a fresh one takes over.
            self._stop_worker(index)
            self._start_worker(index)
            self.connections[index].send(message)
        shard.started = time.monotonic()

    def _collect(self, shards: list[_Shard], name: str, project: ProjectIndex | None) -> None:
        """Wait for the next results, or for the earliest deadline, and act on them."""
        limit = self.settings.file_time_budget
        waiting = {self.connections[index]: index for index, shard in enumerate(shards)
                   if not shard.finished}
        earliest = min(shards[index].started for index in waiting.values()) + limit
        ready = multiprocessing.connection.wait(list(waiting),
                                                timeout=max(0.0, earliest - time.monotonic()))
        for connection in ready:
            index = waiting[connection]
            shard = shards[index]
            try:
                status, payload = connection.recv()
            except (EOFError, ConnectionResetError, OSError):
                self._died(index, shard, name, project)
                continue
            if status == "error":
                raise payload
            if status == "done":
                shard.finished = True
            else:
                shard.results.append(payload)
                shard.started = time.monotonic()
        now = time.monotonic()
        for index in waiting.values():
            shard = shards[index]
            if not shard.finished and shard.current is not None and \
                    now - shard.started > limit and not self.connections[index].poll():
                self._skip(index, shard, name, project, budget.time_budget_message(limit))

    def _died(self, index: int, shard: _Shard, name: str, project: ProjectIndex | None) -> None:
        path = shard.current
        if path is None:  # it died after its last result: nothing is lost
            self._stop_worker(index)
            self._start_worker(index)
            shard.finished = True
            return
        if path in shard.died_on:  # twice on this file: the file's doing (native memory, a crash)
            self._skip(index, shard, name, project, budget.memory_budget_message(
                self.settings.file_memory_budget) + " (the worker analysing it died twice)")
            return
        shard.died_on.add(path)
        self._stop_worker(index)
        self._start_worker(index)
        self._send(index, shard, name, project)

    def _skip(self, index: int, shard: _Shard, name: str, project: ProjectIndex | None,
              message: str) -> None:
        """Stop the worker on the file in progress, report the file, go on with the rest."""
        path = shard.current
        assert path is not None
        self._stop_worker(index)
        self._start_worker(index)
        self.over_budget[path] = message
        shard.results.append(_over_budget(name, path, message))
        self._send(index, shard, name, project)

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
            if connection is None:
                continue
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


def _uses_model(settings: Settings) -> bool:
    return any(rule.uses_model for rule in rule_entries() if rule.code in settings.enabled)


def project_root_of(path: str) -> Path:
    """The root of the project a file (or folder) belongs to: the nearest folder at or above it
    with project metadata or a repository (`requirements.PROJECT_MARKERS`), else its own folder."""
    found = project_root(Path(path))
    if found is not None:
        return found
    real = os.path.realpath(path)
    return Path(real if os.path.isdir(real) else os.path.dirname(real))


def project_discovery(path: str, settings: Settings) -> Discovery:
    """The files of the project `path` belongs to (`project_root_of`), `truncated` when there are
    more than `MAX_WORKSPACE_FILES`. A path in no project (a script in /tmp or ~/Downloads) has
    only the modules beside it: they are what it can import by name, and the trees below its
    folder (a temporary folder's thousands of job folders) are no project of it; walking them
    would stall a one-file run."""
    if project_root(Path(path)) is not None:
        return discover([str(project_root_of(path))], settings, max_files=MAX_WORKSPACE_FILES)
    folder = project_root_of(path)
    try:
        with os.scandir(folder) as entries:
            siblings = []
            for entry in entries:
                if entry.name.endswith(SOURCE_SUFFIXES) and entry.is_file():
                    siblings.append(entry.path)
                    if len(siblings) > MAX_WORKSPACE_FILES:
                        return Discovery(truncated=True)
    except OSError:
        return Discovery()
    return discover(sorted(siblings), settings, force_exclude=True)


def project_files(files: Sequence[str], settings: Settings,
                  walked: Iterable[str] = ()) -> list[str]:
    """`files` and every other Python file of the projects they belong to (discovered from each
    project's root with `settings`: excludes and .gitignore apply): what the project index of a
    run that lints `files` is built from, so that a file is judged with what the rest of its
    project defines and passes to it, whichever of its files were named. A "project" with more
    than `MAX_WORKSPACE_FILES` files (a home directory under git) adds nothing: its named files
    are indexed alone. A root among `walked` (real paths of the folders the run walked with
    these settings) is not walked again: its files are all in `files` already."""
    result = list(files)
    walked = set(walked)
    seen = {os.path.realpath(path) for path in files}
    root_of_folder: dict[str, Path] = {}
    for path in files:
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in root_of_folder:
            root_of_folder[folder] = project_root_of(folder)
    for root in sorted(set(root_of_folder.values())):
        if str(root) in walked:
            continue
        found = project_discovery(str(root), settings)
        if found.truncated:
            continue
        for path in found.files:
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                result.append(path)
    return result


def run(paths: Iterable[str], settings: Settings, *, jobs: int | None = None,
        use_cache: bool = True, force_exclude: bool = False,
        settings_for: Callable[[str], Settings] | None = None,
        progress: Progress | None = None) -> RunResult:
    """Lint `paths` (files and folders). Each file is judged with its whole project (the index
    is built from `project_files`), and findings are reported for the files found under `paths`
    only. `settings_for(path)` gives a path's own settings (its nearest configuration, with
    the command line's options laid over it); without it every file uses `settings`."""
    started = time.perf_counter()
    paths = list(paths)
    result = RunResult()
    groups = _group_by_settings(paths, settings, settings_for, force_exclude, result)
    spelled: dict[str, str] = {}
    for files, _ in groups.values():
        spelled.update((os.path.realpath(path), path) for path in files)
    for files, group_settings in groups.values():
        # A folder walked with these settings, all of whose files kept them, needs no second
        # walk for the index when it is a project's root.
        walked = {os.path.realpath(path) for path in paths if os.path.isdir(path)
                  and (settings_for is None or settings_for(path) is group_settings)}
        _lint_group(files, group_settings, jobs, use_cache, result, spelled,
                    walked if len(groups) == 1 else (), progress)
    result.files = merge_same_cause(result.files)
    result.files.sort(key=lambda item: item.path)
    result.elapsed = time.perf_counter() - started
    return result


def _group_by_settings(paths: Sequence[str], settings: Settings,
                       settings_for: Callable[[str], Settings] | None, force_exclude: bool,
                       result: RunResult) -> dict[int, tuple[list[str], Settings]]:
    """The files to lint, grouped by the settings each one uses (keyed by the settings' id:
    `settings_for` returns one object per configuration). A folder is walked with its own
    settings; a file found there whose nearest configuration excludes it is left out."""
    groups: dict[int, tuple[list[str], Settings]] = {}
    if settings_for is None:
        found = discover(paths, settings, force_exclude=force_exclude)
        result.files.extend(FileResult(d.path, (d,)) for d in found.diagnostics)
        groups[id(settings)] = (found.files, settings)
        return groups
    by_walk: dict[int, tuple[list[str], Settings]] = {}
    for path in paths:
        walk_settings = settings_for(path)
        by_walk.setdefault(id(walk_settings), ([], walk_settings))[0].append(path)
    named = {os.path.normpath(path) for path in paths}
    seen: set[str] = set()
    for walked, walk_settings in by_walk.values():
        found = discover(walked, walk_settings, force_exclude=force_exclude)
        result.files.extend(FileResult(d.path, (d,)) for d in found.diagnostics)
        for path in found.files:
            if path in seen:
                continue
            seen.add(path)
            own = settings_for(path)
            if own is not walk_settings and path not in named and own.excludes(path):
                continue
            groups.setdefault(id(own), ([], own))[0].append(path)
    return groups


def _lint_group(files: list[str], settings: Settings, jobs: int | None, use_cache: bool,
                result: RunResult, spelled: dict[str, str], walked: Iterable[str],
                progress: Progress | None = None) -> None:
    """Lint the files that share `settings`, against the index of their projects. `walked`:
    the folders already walked whole with these settings (see `project_files`)."""
    indexed = project_files(files, settings, walked) if files and _uses_model(settings) \
        else files
    cache, digests = _open_cache(settings, indexed, use_cache)
    with Workers(indexed, settings, jobs) as workers:
        project = None
        if len(indexed) > 1 and _uses_model(settings):
            project = build_index(indexed, settings, cache=cache, digests=digests,
                                  workers=workers, progress=progress)
        _lint_files(files, settings, cache, digests, workers, project, result, spelled,
                    progress)
    if cache is not None:
        cache.save()


def _lint_files(files: Sequence[str], settings: Settings, cache: Cache | None,
                digests: dict[str, str], workers: Workers, project: ProjectIndex | None,
                result: RunResult, spelled: dict[str, str],
                progress: Progress | None = None) -> None:
    to_lint: list[str] = []
    for path in files:
        cached = cache.get(path, digests[path], project) if cache is not None and path in digests \
            else None
        if cached is not None and not (settings.fix and any(d.fix for d in cached)):
            text = _text_hashed_as(path, digests[path], settings) if cached else None
            result.files.append(FileResult(path, _respell(cached, path, spelled),
                                           from_cache=True, text=text))
            result.cached += 1
        else:
            to_lint.append(path)
    tick = _counter(progress, "linting", len(files), len(files) - len(to_lint))
    for file_result in workers.map("lint", to_lint, project, tick):
        # Files that were fixed in memory are not cached: their text on disk is about to change.
        if cache is not None and file_result.content_hash is not None \
                and file_result.fixed_source is None:
            cache.put(file_result, file_result.content_hash, project)
        result.files.append(respelled(file_result, spelled))


def display_path(path: str) -> str:
    """A path as this run shows a file it was not asked about (a related location in another
    file of the project): relative to the working directory when under it, else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith(os.pardir) else relative


def _respell(diagnostics: Iterable[Diagnostic], path: str,
             spelled: Mapping[str, str]) -> tuple[Diagnostic, ...]:
    """Findings with the paths this run shows: the file's own as given (`path`), a file of the
    run as it was found, any other by `display_path`; never as spelled by whichever run
    filled the cache or summarised the file (the cache holds absolute paths)."""
    own = os.path.realpath(path)
    names: dict[str, str] = {}

    def shown(location: str) -> str:
        if location not in names:
            real = os.path.realpath(location)
            names[location] = path if real == own else spelled.get(real) or display_path(location)
        return names[location]

    return tuple(
        replace(diagnostic, path=shown(diagnostic.path),
                related=tuple(replace(item, path=shown(item.path)) for item in diagnostic.related),
                cause=None if diagnostic.cause is None
                else replace(diagnostic.cause, path=shown(diagnostic.cause.path)))
        for diagnostic in diagnostics)


def respelled(file_result: FileResult, spelled: Mapping[str, str]) -> FileResult:
    return replace(file_result,
                   diagnostics=_respell(file_result.diagnostics, file_result.path, spelled))


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
    of the files around it (`project_index`), so a model defined elsewhere is known."""
    from dllint.engine import lint_notebook, lint_source_text

    source = SourceText(path, text, "utf-8", text.encode("utf-8", "surrogateescape"))
    if path.endswith(".ipynb"):  # a notebook's JSON (`--stdin-filename a.ipynb`), as lint_file reads it
        return lint_notebook(source, settings, project)
    return lint_source_text(source, settings, project)


def project_index(path: str, settings: Settings, *, use_cache: bool = True,
                  jobs: int | None = None) -> ProjectIndex | None:
    """The index of the project `path` (a file, which need not exist yet, or a folder) belongs
    to, as `run` builds it for a file of that project: for linting one text in it (standard
    input, an editor buffer). Summaries come from the cache when the files did not change, so
    only the first call pays for phase one. None when no enabled rule uses the model."""
    if not _uses_model(settings):
        return None
    return _files_index(project_discovery(path, settings), settings, use_cache, jobs)


def _folder_index(folder: Path, settings: Settings, use_cache: bool,
                  jobs: int | None) -> ProjectIndex | None:
    found = discover([str(folder)], settings, max_files=MAX_WORKSPACE_FILES)
    return _files_index(found, settings, use_cache, jobs)


def _files_index(found: Discovery, settings: Settings, use_cache: bool,
                 jobs: int | None) -> ProjectIndex | None:
    if found.truncated:
        return None  # a home directory under git: lint the text on its own
    cache, digests = _open_cache(settings, found.files, use_cache)
    index = build_index(found.files, settings, jobs=jobs, cache=cache, digests=digests)
    if cache is not None:
        cache.save()
    return index


def lint_in_project(path: str, text: str, settings: Settings, *,
                    project: ProjectIndex | None = None, use_cache: bool = True,
                    jobs: int | None = None) -> FileResult:
    """Lint `text`, the content of the file `path`, against the index of `path`'s project
    (`project`, when the caller keeps one, else `project_index`): the findings `dllint path`
    gives when the file holds `text`. For standard input and the language server."""
    if project is None:
        project = project_index(path, settings, use_cache=use_cache, jobs=jobs)
    return respelled(lint_text(text, path, settings, project),
                     {os.path.realpath(path): path})


def workspace_index(settings: Settings, *, use_cache: bool = True,
                    jobs: int | None = None) -> ProjectIndex | None:
    """The project index of every file under the settings' root (the language server's
    workspace; `project_index` finds the project of a given file)."""
    if not _uses_model(settings):
        return None
    return _folder_index(settings.root, settings, use_cache, jobs)
