"""A content-hash cache: an unchanged file under unchanged settings is not linted again.

One JSON file per settings fingerprint (dllint version, enabled codes, configuration). Entries are
keyed by path and validated by the BLAKE2 hash of the file's bytes. JSON, never pickle: the cache
directory lives in the user's tree, and loading a pickle from it would run whatever it holds.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from dllint.serialize import diagnostic_from_dict, diagnostic_to_dict
from dllint.types import Diagnostic, FileResult

FORMAT_VERSION = 2


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Cache:
    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory
        self.file = directory / f"v{FORMAT_VERSION}-{fingerprint}.json"
        self.files: dict[str, dict] = {}
        self.summaries: dict[str, dict] = {}
        self.dirty = False
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self.files = data.get("files", {})
                self.summaries = data.get("summaries", {})
        except (OSError, ValueError):
            pass  # no cache yet, or a damaged one: start afresh

    def get(self, path: str, digest: str, project=None) -> tuple[Diagnostic, ...] | None:
        """Cached diagnostics, if the file and the summaries of every module it imports are as
        they were when it was linted."""
        entry = self.files.get(os.path.abspath(path))
        if not isinstance(entry, dict) or entry.get("hash") != digest:
            return None
        dependencies = entry.get("dependencies") or {}
        if dependencies:
            current = project.dependency_digests(dependencies, path) if project is not None \
                else dict.fromkeys(dependencies)
            if current != dependencies:
                return None
        try:
            return tuple(diagnostic_from_dict(item) for item in entry["diagnostics"])
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, result: FileResult, digest: str, project=None) -> None:
        dependencies = (project.dependency_digests(result.dependencies, result.path)
                        if project is not None else dict.fromkeys(result.dependencies))
        self.files[os.path.abspath(result.path)] = {
            "hash": digest,
            "dependencies": dependencies,
            "diagnostics": [diagnostic_to_dict(d) for d in result.diagnostics],
        }
        self.dirty = True

    def get_summary(self, path: str, digest: str) -> tuple[bool, dict | None]:
        entry = self.summaries.get(os.path.abspath(path))
        if isinstance(entry, dict) and entry.get("hash") == digest:
            return True, entry.get("summary")
        return False, None

    def put_summary(self, path: str, digest: str, summary: dict | None) -> None:
        self.summaries[os.path.abspath(path)] = {"hash": digest, "summary": summary}
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            marker = self.directory / ".gitignore"
            if not marker.exists():
                marker.write_text("# Created by dllint\n*\n", encoding="utf-8")
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump({"files": self.files, "summaries": self.summaries}, handle,
                          separators=(",", ":"))
            os.replace(temporary, self.file)
        except OSError:
            pass  # a read-only checkout still lints; it just is not faster next time
