"""The journal of `--fix`: what a run is about to write, so that a run cut short is noticed.

Fixes are written through links (`fixes.write_fix`): staged beside the journal and renamed
over the file where that keeps the file as it is, otherwise in place (another hard link, another
file system), which keeps the inode, the owner and the mode. No temporary file is ever made in
the user's tree. A run that is killed while writing may leave a tree partly fixed, and a file
written in place half-written. Before the first write, the run records
every planned write (the real path, the bytes before and after) in one journal file in
`<cache-dir>/fix-journal/`, and deletes the journal once every write is done or has failed
leaving the file as it was.

A journal still there is a run that was interrupted. The next `dllint check` reads it
(`recover`), and for each file says what happened: written, never written, or half-written,
which it finishes (a write of `after` over `before` that stopped at some byte leaves
`after[:k] + before[k:]`, and nothing else does). A file that is none of these (edited
since) is left alone, and its text from before the fix is kept beside the journal. A live
run holds a lock on its journal (where `fcntl` exists), so another run never takes it.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from dllint.cache import CACHEDIR_TAG, claim_cache_folder
from dllint.fixes import STAGED_SUFFIX

try:
    import fcntl
except ImportError:  # Windows: no lock, a journal is taken as soon as it is seen
    fcntl = None  # type: ignore[assignment]

FOLDER = "fix-journal"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PlannedWrite:
    path: str  # the real path: a symbolic link is resolved, the link itself is never written
    before: bytes
    after: bytes


@dataclass
class Recovery:
    """What the next run found of one interrupted `--fix`, by path."""

    started: str = ""
    fixed: list[str] = field(default_factory=list)
    not_fixed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # half-written, written in full now
    # Neither text (edited since, or gone): path -> the file that keeps its text from before
    # the fix.
    kept: dict[str, str] = field(default_factory=dict)
    unreadable: str = ""  # a journal that could not be read or settled: where it is, and why


def journal_folder(cache_dir: Path) -> Path:
    return Path(cache_dir) / FOLDER


class Journal:
    """The open journal of this run's writes; `close` deletes it (all writes are settled)."""

    def __init__(self, folder: Path, writes: Sequence[PlannedWrite]) -> None:
        # Inside the cache folder, claimed as the cache claims it (tagged and git-ignored), so a
        # `cache-dir` naming a folder of the user's is never written into by `--fix` either.
        if not claim_cache_folder(folder.parent):
            raise OSError(errno.EPERM, f"{folder.parent} is a folder dllint did not create")
        folder.mkdir(exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix="run-", suffix=".tmp")
        self.handle = os.fdopen(descriptor, "w", encoding="utf-8")
        self.path = Path(temporary).with_suffix(".json")
        try:
            _lock(self.handle.fileno(), blocking=True)  # held until close, or until death
            json.dump({"version": FORMAT_VERSION, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                       "writes": [{"path": write.path, "before": _encode(write.before),
                                   "after": _encode(write.after)} for write in writes]},
                      self.handle)
            self.handle.flush()
            os.fsync(self.handle.fileno())
            os.replace(temporary, self.path)  # the journal exists whole or not at all
        except BaseException:
            self.handle.close()
            _remove(Path(temporary))
            raise

    def close(self, keep: bool = False) -> None:
        """Settle the journal: delete it, or with `keep` (a file is left half-written) only
        release it, so that the next run reads it."""
        if keep:
            self.handle.close()
            return
        try:
            _remove(self.path)
        except OSError:
            pass  # the next run reports these writes as interrupted, and changes nothing
        self.handle.close()
        _remove_empty(self.path.parent)


def recover(cache_dir: Path) -> list[Recovery]:
    """Settle the journals that interrupted runs left in `cache_dir`, and say what was found."""
    folder = journal_folder(cache_dir)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []  # no journal: the usual case
    recoveries = []
    for name in names:
        path = folder / name
        if name.endswith(".json"):
            try:
                recovery = _recover_one(path)
            except OSError as error:  # it stays for the next run
                recovery = Recovery(unreadable=f"{path} ({error.strerror or error})")
            if recovery is not None:
                recoveries.append(recovery)
    _remove_temporaries(folder)
    _remove_empty(folder)
    return recoveries


def _recover_one(path: Path) -> Recovery | None:
    try:
        handle = open(path, encoding="utf-8")
    except OSError:
        return None  # settled by its own run meanwhile
    with handle:
        if not _lock(handle.fileno(), blocking=False) or not _same_file(path, handle):
            return None  # a run that is still writing, or one that just finished
        try:
            data = json.load(handle)
            started = str(data["started"])
            writes = [PlannedWrite(str(item["path"]), _decode(item["before"]),
                                   _decode(item["after"])) for item in data["writes"]]
        except (ValueError, KeyError, TypeError) as error:
            # The journal is written whole before the first file, so this is damage from
            # elsewhere: keep it for a person to read, under a name no later run reads again.
            kept = path.with_suffix(".damaged")
            os.replace(path, kept)
            return Recovery(unreadable=f"{kept} ({error})")
        recovery = Recovery(started=started)
        for write in writes:
            _settle(write, recovery, path)
        # A fix staged for a rename when the run died: the file it was for is settled above.
        for staged in path.parent.glob(f"{path.stem}.*{STAGED_SUFFIX}"):
            _remove(staged)
        _remove(path)
    return recovery


def _settle(write: PlannedWrite, recovery: Recovery, journal: Path) -> None:
    try:
        with open(write.path, "rb") as handle:
            current: bytes | None = handle.read()
    except OSError:
        current = None
    if current == write.after:
        recovery.fixed.append(write.path)
    elif current == write.before:
        recovery.not_fixed.append(write.path)
    elif current is not None and is_torn(write.before, write.after, current):
        try:
            with open(write.path, "r+b") as handle:
                handle.write(write.after)
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            _keep(write, recovery, journal)
        else:
            recovery.finished.append(write.path)
    else:
        _keep(write, recovery, journal)


def _keep(write: PlannedWrite, recovery: Recovery, journal: Path) -> None:
    """The file is neither before, after, nor half of both: keep its text from before the fix."""
    kept = journal.parent / f"{Path(write.path).name}.{journal.stem}.before"
    kept.write_bytes(write.before)
    recovery.kept[write.path] = str(kept)


def is_torn(before: bytes, after: bytes, current: bytes) -> bool:
    """Whether `current` is an in-place write of `after` over `before` that stopped at some
    byte k: `after[:k] + before[k:]` (k = len(after) is the moment before the truncation)."""
    common = 0  # how far current agrees with after
    limit = min(len(current), len(after))
    while common < limit and current[common] == after[common]:
        common += 1
    # The rest must be before's tail from some k <= common; the length fixes k when the
    # lengths of current and before differ, and any k from the first mismatch works otherwise.
    if len(current) == len(before):
        tail = len(current)
        while tail > 0 and current[tail - 1] == before[tail - 1]:
            tail -= 1
        return tail <= common
    return len(current) > len(before) and current == after[:len(current)] \
        and len(current) <= len(after)


def _lock(descriptor: int, blocking: bool) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def _same_file(path: Path, handle) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except OSError:
        return False


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decode(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove_temporaries(folder: Path) -> None:
    """A journal still being written when its run died is a `run-*.tmp`: no file was written
    yet (the journal comes first), so it says nothing and goes."""
    for path in folder.glob("run-*.tmp"):
        try:
            with open(path, "rb") as handle:
                if _lock(handle.fileno(), blocking=False):
                    _remove(path)
        except OSError:
            pass


def _remove_empty(folder: Path) -> None:
    """The journal folder goes once it is empty, and the cache folder with it if it holds
    nothing else but its tag and `.gitignore`, so that a run with `--no-cache` leaves nothing."""
    try:
        os.rmdir(folder)
        if set(os.listdir(folder.parent)) <= {CACHEDIR_TAG, ".gitignore"}:
            for name in (CACHEDIR_TAG, ".gitignore"):
                _remove(folder.parent / name)
            os.rmdir(folder.parent)
    except OSError:
        pass  # not empty, or already gone
