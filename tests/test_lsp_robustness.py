"""The language server survives malformed and out-of-order messages (raw JSON-RPC on stdio)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("pygls")

from helpers import PAIRED_LISTINGS  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))


class RawClient:
    def __init__(self, cwd) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "dllint", "lsp"], cwd=cwd,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.received: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = stream.read(1)
                if not byte:
                    return
                header += byte
            length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
            self.messages.put(json.loads(stream.read(length)))

    def send_raw(self, body: bytes) -> None:
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def send(self, method: str, params, id: int | None = None) -> None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if id is not None:
            message["id"] = id
        self.send_raw(json.dumps(message).encode())

    def wait_for(self, predicate, timeout: float = 30.0):
        """The first message, received so far or soon, that matches (none is thrown away)."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self.received:
                if predicate(message):
                    return message
            if time.monotonic() > deadline:
                raise AssertionError(f"no such message among {self.received}")
            try:
                self.received.append(self.messages.get(timeout=0.2))
            except queue.Empty:
                pass

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdin.close()
        self.process.stdout.close()


def test_garbage_and_out_of_order_messages(tmp_path):
    client = RawClient(tmp_path)
    uri = (tmp_path / "train.py").as_uri()
    try:
        client.send_raw(b"{this is not json")  # malformed JSON
        client.send("textDocument/didChange", {  # a change before any open
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"text": "x = 1\n"}]})
        client.send("no/suchMethod", {}, id=1)  # unknown request
        client.send("textDocument/codeAction", {"bogus": True}, id=2)  # invalid params
        client.send("initialize", {"processId": None, "rootUri": tmp_path.as_uri(),
                                   "capabilities": {}}, id=3)  # initialize comes late
        assert client.wait_for(lambda m: m.get("id") == 3 and "result" in m)
        assert client.wait_for(lambda m: m.get("id") == 1 and "error" in m)
        client.send("initialized", {})
        client.send("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": PAIRED_LISTINGS}})
        published = client.wait_for(
            lambda m: m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri and m["params"]["diagnostics"])
        assert [d["code"] for d in published["params"]["diagnostics"]] == ["DL001"]
        client.send("shutdown", None, id=4)
        assert client.wait_for(lambda m: m.get("id") == 4)
        client.send("exit", None)
        assert client.process.wait(timeout=10) == 0
    finally:
        client.close()


def test_project_metadata_dllint_cannot_read_falls_back_to_defaults(tmp_path, monkeypatch):
    from dllint.lsp import DllintLanguageServer

    (tmp_path / "pyproject.toml").write_text("project = 1\n[tool.dllint]\n")
    monkeypatch.chdir(tmp_path)
    server = DllintLanguageServer()  # started in the broken project: still gets settings
    shown = []
    monkeypatch.setattr(server, "window_show_message", shown.append)
    server.configure(tmp_path)
    assert server.config_error is not None and "project must be a table" in server.config_error
    assert [message.message for message in shown] == [
        f"dllint: {server.config_error}; using defaults"]
    assert "DL001" in server.settings.enabled and server.settings.torch_minimum is None
