"""A content-hash cache: an unchanged file under unchanged settings is not linted again.

One JSON file per settings fingerprint (dllint version, enabled codes, configuration). An entry
is keyed by the file's path *and* the BLAKE2 hash of the bytes that were linted (the worker hashes
what it read), so an entry can only ever be found for that exact content. JSON, never pickle: the
cache directory lives in the user's tree, and loading a pickle from it would run whatever it
holds. For the same reason what is read is checked against the cache's whole shape
(`_CACHE_FILE`) before anything uses it: a damaged or foreign file is dropped and the run starts
afresh, instead of crashing this run and every later one.

dllint writes only into a cache folder it created itself, marked with a `CACHEDIR.TAG`
(https://bford.info/cachedir/), or one that an earlier dllint marked with its `.gitignore`: a
`cache-dir` naming an existing folder of the user's (the project root, a source folder) is never
written into, so its `.gitignore` is never replaced by one that hides it from git.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from dllint import jsonshape
from dllint.jsonshape import NULL, TEXT, ListOf, MapOf, OneOf, Record
from dllint.semantic.project import SUMMARY
from dllint.serialize import DIAGNOSTIC, diagnostic_from_dict, diagnostic_to_dict
from dllint.types import Diagnostic, FileResult

__all__ = ["Cache", "claim_cache_folder", "is_cache_folder"]

# 4: diagnostics and summaries name files by absolute path.
FORMAT_VERSION = 4

CACHEDIR_TAG = "CACHEDIR.TAG"
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
_TAG_TEXT = (f"{_TAG_SIGNATURE}\n# This file is a cache directory tag created by dllint.\n"
             "# For information about cache directory tags, see https://bford.info/cachedir/\n")
_GITIGNORE_TEXT = "# Created by dllint\n*\n"

_DIGEST = r"[0-9a-f]{32}"  # content_hash's hex digest
_CACHE_FILE = Record({
    # path -> content hash -> what linting those bytes found
    "files": MapOf(MapOf(Record({
        "dependencies": MapOf(OneOf((NULL, TEXT))),
        "diagnostics": ListOf(DIAGNOSTIC),
    }, required=frozenset({"dependencies", "diagnostics"})), key=_DIGEST)),
    # path -> content hash -> the file's summary (null: it defines nothing to share)
    "summaries": MapOf(MapOf(Record({"summary": OneOf((NULL, SUMMARY))},
                                    required=frozenset({"summary"})), key=_DIGEST)),
}, required=frozenset({"files", "summaries"}))


def claim_cache_folder(directory: Path) -> bool:
    """Create the cache folder, tagged (the tag first: a folder without it is refused from then
    on), or confirm that an existing one is a cache folder. False for a folder dllint did not
    create: nothing may be written there. Raises OSError when it cannot be created."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True)
    except FileExistsError:
        return is_cache_folder(directory)
    try:
        (directory / CACHEDIR_TAG).write_text(_TAG_TEXT, encoding="utf-8")
        (directory / ".gitignore").write_text(_GITIGNORE_TEXT, encoding="utf-8")
    except OSError:
        for name in (".gitignore", CACHEDIR_TAG):
            (directory / name).unlink(missing_ok=True)
        directory.rmdir()  # as it was: no folder, not an untagged one
        raise
    return True


def is_cache_folder(directory: Path) -> bool:
    """Whether `directory` is one dllint may write into: tagged as a cache (by dllint or another
    tool; a cache holds nothing of the user's), or created by an earlier dllint."""
    try:
        with open(directory / CACHEDIR_TAG, "rb") as handle:
            if handle.read(len(_TAG_SIGNATURE)) == _TAG_SIGNATURE.encode():
                return True
    except OSError:
        pass
    try:
        return (directory / ".gitignore").read_text(encoding="utf-8") == _GITIGNORE_TEXT
    except (OSError, UnicodeDecodeError):
        return False


def _absolute(diagnostic: Diagnostic) -> Diagnostic:
    def where(location):
        return replace(location, path=os.path.abspath(location.path))
    return replace(diagnostic, path=os.path.abspath(diagnostic.path),
                   related=tuple(where(item) for item in diagnostic.related),
                   cause=None if diagnostic.cause is None else where(diagnostic.cause))


class Cache:
    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        self.file = directory / f"v{FORMAT_VERSION}-{fingerprint}.json"
        self.files: dict[str, dict[str, dict]] = {}
        self.summaries: dict[str, dict[str, dict]] = {}
        self.dirty = False
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            damaged = jsonshape.problem(data, _CACHE_FILE) is not None
        except (OSError, ValueError, RecursionError):
            return  # no cache yet, or not even JSON: start afresh
        if damaged:
            self.dirty = True  # start afresh, and replace the damaged file at the end
            return
        self.files, self.summaries = data["files"], data["summaries"]

    def get(self, path: str, digest: str, project=None) -> tuple[Diagnostic, ...] | None:
        """Cached diagnostics, if the file and the summaries of every module it imports are as
        they were when it was linted. Their paths are absolute (`put`): the caller shows them
        as its own run names the files (`runner.respelled`)."""
        entry = self.files.get(os.path.abspath(path), {}).get(digest)
        if entry is None:
            return None
        dependencies = entry["dependencies"]
        if dependencies:
            current = project.dependency_digests(dependencies, path) if project is not None \
                else dict.fromkeys(dependencies)
            if current != dependencies:
                return None
        return tuple(diagnostic_from_dict(item) for item in entry["diagnostics"])

    def put(self, result: FileResult, digest: str, project=None) -> None:
        dependencies = (project.dependency_digests(result.dependencies, result.path)
                        if project is not None else dict.fromkeys(result.dependencies))
        # Only the content just linted is kept: older contents of the file are gone from disk.
        # Paths are stored absolute, never as this run spelled them: a run from another folder
        # (`cd src && dllint train.py`) must not print `src/train.py`.
        self.files[os.path.abspath(result.path)] = {digest: {
            "dependencies": dependencies,
            "diagnostics": [diagnostic_to_dict(_absolute(d)) for d in result.diagnostics],
        }}
        self.dirty = True

    def get_summary(self, path: str, digest: str) -> tuple[bool, dict | None]:
        entry = self.summaries.get(os.path.abspath(path), {}).get(digest)
        if entry is None:
            return False, None
        return True, entry["summary"]

    def put_summary(self, path: str, digest: str, summary: dict | None) -> None:
        self.summaries[os.path.abspath(path)] = {digest: {"summary": summary}}
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            if not claim_cache_folder(self.directory):
                return
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"files": self.files, "summaries": self.summaries}, handle,
                          separators=(",", ":"))
            os.replace(temporary, self.file)
        except OSError:
            pass  # a read-only checkout still lints; it just is not faster next time
