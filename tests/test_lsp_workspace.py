"""The language server on a large generated workspace, driven over stdio as an editor would
(benchmarks/lsp_latency.py's client): first diagnostics before the index, cross-file findings
after it, dependents re-published, requests answered while a large buffer is linted, progress
that can be cancelled, and no process left behind when the client goes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pygls")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from lsp_latency import (FUNCTION, MODEL, MODEL_FIXED, MODULE, LspSession,  # noqa: E402
                         generate_workspace)

FILES, LINES = 150, 200  # 30 kLOC: its index takes seconds, the first lint a fraction of one


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [pid for pid in pids if Path(f"/proc/{pid}").exists()
                and "Z" not in (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3])]:
            return True
        time.sleep(0.1)
    return False


def progress(session: LspSession, kind: str, timeout: float = 300.0) -> dict:
    return session.wait_for(lambda m: m.get("method") == "$/progress"
                            and m["params"]["value"].get("kind") == kind, timeout)[1]


def test_a_large_workspace_in_the_editor(tmp_path):
    root = generate_workspace(tmp_path / "workspace", FILES, LINES)
    session = LspSession(root)
    try:
        train = session.open(root / "train.py")
        first, published = session.published(train)
        assert published["params"]["diagnostics"] == []  # the file alone: Net is unknown yet
        begun = progress(session, "begin")["params"]["value"]
        assert begun["cancellable"] and begun["title"] == "dllint: indexing the workspace"
        ended_at, ended = session.progress_end()
        assert first < ended_at, "the first diagnostics waited for the index"
        assert ended["params"]["value"]["message"] == f"{FILES + 3} files"
        # The index is ready: the cross-file finding is published without any edit.
        with_index, _ = session.published(train, codes=lambda codes: codes == ["DL002"])
        assert with_index >= ended_at

        # Editing model.py (not saved) re-publishes train.py, which depends on it.
        model = session.open(root / "proj" / "model.py")
        session.published(model)
        edited = time.monotonic()
        session.change(model, MODEL_FIXED, 2)
        session.published(train, after=edited, codes=lambda codes: codes == [])
        session.change(model, MODEL, 3)
        session.published(train, after=time.monotonic(), codes=lambda codes: codes == ["DL002"])

        # A 20,000-line buffer is linted in a worker: requests are answered meanwhile.
        big_text = MODULE.format(index=0, neighbour="mod1") + "".join(
            FUNCTION.format(index=0, number=number) for number in range(2000))
        assert len(big_text.splitlines()) >= 20_000
        big = session.open(root / "big.py", big_text)
        asked = session.send_request("textDocument/codeAction", {
            "textDocument": {"uri": train},
            "range": {"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 0}},
            "context": {"diagnostics": [], "only": ["quickfix"]}})
        answered, answer = session.wait_for(lambda m: m.get("id") == asked)
        assert [action["title"] for action in answer["result"]] == [
            "dllint: ignore DL002 on line 5"]
        big_published, _ = session.published(big, timeout=300)
        assert answered < big_published, "the code action waited for the large buffer's lint"

        # The client closes the server's input: the server and its workers end.
        workers = children(session.process.pid)
        assert len(workers) >= 2
        session.process.stdin.close()
        assert session.process.wait(timeout=30) is not None
        assert gone(workers)
    finally:
        session.close()


def test_the_index_build_can_be_cancelled(tmp_path):
    root = generate_workspace(tmp_path / "workspace", FILES, LINES)
    session = LspSession(root)
    try:
        token = progress(session, "begin")["params"]["token"]
        session.notify("window/workDoneProgress/cancel", {"token": token})
        ended = session.progress_end(timeout=30)[1]
        assert ended["params"]["token"] == token
        assert ended["params"]["value"]["message"] == "cancelled"
        # The server goes on: a buffer is still linted on its own.
        train = session.open(root / "train.py")
        assert session.published(train)[1]["params"]["diagnostics"] == []
        assert session.request("shutdown", None)["result"] is None
    finally:
        session.close()


@pytest.mark.skipif(not Path("/proc").is_dir() or os.name != "posix", reason="needs /proc")
def test_the_server_ends_when_the_client_process_dies(tmp_path):
    (tmp_path / "train.py").write_text("x = 1\n")
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    session = LspSession(tmp_path, process_id=editor.pid)
    try:
        train = session.open(tmp_path / "train.py")
        session.published(train)
        workers = children(session.process.pid)
        editor.kill()
        editor.wait()
        # The server's input is still open (this test holds it): only the pid tells.
        assert session.process.wait(timeout=30) == 0
        assert gone(workers)
    finally:
        editor.kill()
        session.close()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_killed_workers_are_started_again(tmp_path):
    (tmp_path / "train.py").write_text("x = 1\n")
    session = LspSession(tmp_path)
    try:
        session.published(session.open(tmp_path / "train.py"))
        session.progress_end(timeout=60)
        for pid in children(session.process.pid):  # killed, as by the out-of-memory killer
            os.kill(pid, 9)
        assert gone(children(session.process.pid))
        from helpers import PAIRED_LISTINGS

        again = session.open(tmp_path / "data.py", PAIRED_LISTINGS)
        assert [d["code"] for d in session.published(again)[1]["params"]["diagnostics"]] == [
            "DL001"]
    finally:
        session.close()


def test_a_saved_then_closed_buffer_stands_for_its_file(tmp_path):
    """After a save and a close, the index holds the saved text's summary, not the one it read
    from disk before: train.py does not get its DL002 back."""
    root = tmp_path / "workspace"
    generate_workspace(root, 2, 20)
    session = LspSession(root)
    try:
        session.progress_end(timeout=120)
        train = session.open(root / "train.py")
        session.published(train, codes=lambda codes: codes == ["DL002"])
        model = session.open(root / "proj" / "model.py")
        session.change(model, MODEL_FIXED, 2)
        session.published(train, after=time.monotonic(), codes=lambda codes: codes == [])
        (root / "proj" / "model.py").write_text(MODEL_FIXED)
        session.notify("textDocument/didSave", {"textDocument": {"uri": model}})
        session.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                         and m["params"]["uri"] == model and m["params"].get("version") == 2)
        session.notify("textDocument/didClose", {"textDocument": {"uri": model}})
        text = (root / "train.py").read_text() + "\n"
        session.change(train, text, 2)
        relinted = session.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                                    and m["params"]["uri"] == train
                                    and m["params"].get("version") == 2)[1]
        assert relinted["params"]["diagnostics"] == []
    finally:
        session.close()


@pytest.mark.skipif(os.name != "posix", reason="POSIX process ids")
def test_a_client_pid_that_does_not_exist_here_is_not_watched(tmp_path):
    """A client in a container's host sends a pid this machine does not have: the server
    must not take it for a client that died."""
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    (tmp_path / "train.py").write_text("x = 1\n")
    session = LspSession(tmp_path, process_id=finished.pid)
    try:
        time.sleep(3)  # three of the server's checks of the client's pid
        assert session.process.poll() is None
        assert session.request("shutdown", None)["result"] is None
    finally:
        session.close()


def test_a_lint_worker_keeps_its_index_while_only_the_edited_buffer_changes(tmp_path,
                                                                             monkeypatch):
    """Rebuilding the index on every keystroke would cost a large workspace seconds per edit:
    the worker builds it again only when another file's summary changed."""
    import multiprocessing
    import threading

    from dllint import lsp_workers
    from dllint.config import FileConfig, build_settings

    built: list[dict] = []
    monkeypatch.setattr(lsp_workers, "build_project",
                        lambda summaries: built.append(dict(summaries)))
    server_end, worker_end = multiprocessing.Pipe()
    thread = threading.Thread(target=lsp_workers.serve_lints, args=(worker_end, os.getppid()))
    thread.start()
    settings = build_settings(FileConfig(root=tmp_path), ignore_bad_metadata=True)
    edited = str(tmp_path / "train.py")
    own, other = lsp_workers.summary_key(edited), lsp_workers.summary_key(str(tmp_path / "m.py"))

    def lint(changes, first=False):
        server_end.send((changes, settings if first else None, edited, "x = 1\n", False, False,
                         False))
        assert server_end.recv().diagnostics == ()
        return len(built)

    try:
        assert lint([("reset", {other: {"v": 1}})], first=True) == 1
        assert lint([("put", own, {"v": 1})]) == 1  # the edited buffer's own summary
        assert lint([("put", own, {"v": 2})]) == 1
        assert lint([("put", other, {"v": 1})]) == 1  # the same as before: nothing changed
        assert lint([("put", other, {"v": 2})]) == 2  # another file's: built again, with all
        assert built[-1] == {other: {"v": 2}, own: {"v": 2}}
    finally:
        server_end.send(None)  # ends the worker's loop, as the server's going away does
        thread.join(timeout=10)
