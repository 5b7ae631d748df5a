"""Lint many paths: discovery, the cache, and worker processes that return data to the parent."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from dllint.cache import Cache, content_hash
from dllint.config import Settings
from dllint.discovery import discover
from dllint.engine import lint_file, lint_source_text
from dllint.registry import all_rules
from dllint.semantic.project import ProjectIndex, summarise, wants_summary
from dllint.source import SourceText, read_source
from dllint.types import Diagnostic, FileResult

# Below this many files to lint, starting processes costs more than it saves.
PARALLEL_THRESHOLD = 16


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


def _summarise_in_worker(path: str) -> tuple[str, dict | None]:
    assert _worker_settings is not None
    source = read_source(path, _worker_settings.max_file_size)
    if isinstance(source, Diagnostic) or path.endswith(".ipynb") or not wants_summary(source.text, path):
        return path, None
    try:
        return path, summarise(path, source.text)
    except Exception:  # noqa: BLE001 - not hidden: phase two runs the same model on this file
        return path, None  # and reports the crash there as DL999, with the file's name


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers in milliseconds with the rules already imported; elsewhere use spawn.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _map(function, paths: Sequence[str], settings: Settings, project: ProjectIndex | None,
         jobs: int | None) -> list:
    """`function` over `paths`, in worker processes when there are enough of them."""
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(paths) < PARALLEL_THRESHOLD:
        _initialise_worker(settings, project)
        return [function(path) for path in paths]
    chunk = max(1, min(32, len(paths) // (jobs * 4)))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context(),
                             initializer=_initialise_worker, initargs=(settings, project)) as pool:
        return list(pool.map(function, paths, chunksize=chunk))


def lint_many(paths: Sequence[str], settings: Settings, *, jobs: int | None = None,
              project: ProjectIndex | None = None) -> list[FileResult]:
    return _map(_lint_in_worker, paths, settings, project, jobs)


def build_index(paths: Sequence[str], settings: Settings, *, jobs: int | None = None,
                cache: Cache | None = None, digests: dict[str, str] | None = None) -> ProjectIndex:
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
    for path, summary in _map(_summarise_in_worker, missing, settings, None, jobs):
        if summary is not None:
            summaries.append(summary)
        if cache is not None and digests is not None and path in digests:
            cache.put_summary(path, digests[path], summary)
    return ProjectIndex.from_summaries(summaries)


def run(paths: Iterable[str], settings: Settings, *, jobs: int | None = None,
        use_cache: bool = True, force_exclude: bool = False) -> RunResult:
    started = time.perf_counter()
    found = discover(paths, settings, force_exclude=force_exclude)
    result = RunResult(files=[FileResult(d.path, (d,)) for d in found.diagnostics])
    cache = Cache(settings.cache_dir, f"{settings.fingerprint}-{_code_fingerprint()}") \
        if use_cache else None
    digests: dict[str, str] = {}
    if cache is not None:
        for path in found.files:
            try:
                with open(path, "rb") as handle:
                    digests[path] = content_hash(handle.read())
            except OSError:
                pass  # the worker reports why it cannot be read
    project = None
    if len(found.files) > 1 and any(rule.uses_model for rule in all_rules()
                                    if rule.code in settings.enabled):
        project = build_index(found.files, settings, jobs=jobs, cache=cache, digests=digests)
    to_lint: list[str] = []
    for path in found.files:
        cached = cache.get(path, digests[path], project) if cache is not None and path in digests \
            else None
        if cached is not None and not (settings.fix and any(d.fix for d in cached)):
            result.files.append(FileResult(path, cached, from_cache=True))
            result.cached += 1
        else:
            to_lint.append(path)
    for file_result in lint_many(to_lint, settings, jobs=jobs, project=project):
        result.files.append(file_result)
        # Files that were fixed in memory are not cached: their text on disk is about to change.
        if cache is not None and file_result.path in digests and file_result.fixed_source is None:
            cache.put(file_result, digests[file_result.path], project)
    if cache is not None:
        cache.save()
    result.files.sort(key=lambda item: item.path)
    result.elapsed = time.perf_counter() - started
    return result


def lint_text(text: str, path: str, settings: Settings) -> FileResult:
    """Lint source held in memory (standard input, an editor buffer)."""
    source = SourceText(path, text, "utf-8", text.encode("utf-8", "surrogateescape"))
    return lint_source_text(source, settings)


