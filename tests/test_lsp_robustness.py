"""The language server survives malformed and out-of-order messages (raw JSON-RPC on stdio)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("pygls")

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402



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
        self.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send_bytes(self, data: bytes) -> None:
        self.process.stdin.write(data)
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
        assert client.wait_for(lambda m: m.get("id") == 2)["error"]["code"] == -32602
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


def message(method: str, params, id: int | None = None) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params,
                       **({} if id is None else {"id": id})}).encode()


def shown(client: RawClient, fragment: str) -> str:
    """The text of the window/showMessage that contains `fragment`."""
    found = client.wait_for(lambda m: m.get("method") == "window/showMessage"
                            and fragment in m["params"]["message"])
    return found["params"]["message"]


@pytest.fixture
def server(tmp_path, request):
    client = RawClient(tmp_path)
    capabilities = getattr(request, "param", {})
    client.send("initialize", {"processId": None, "rootUri": tmp_path.as_uri(),
                               "capabilities": capabilities}, id=1)
    client.wait_for(lambda m: m.get("id") == 1 and "result" in m)
    client.send("initialized", {})
    yield client
    client.close()


def open_document(client: RawClient, uri: str, text: str) -> list[dict]:
    client.send("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}})
    return client.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                           and m["params"]["uri"] == uri)["params"]["diagnostics"]


@pytest.mark.parametrize("frame, report", [
    (b"Content-Type: application/vscode-jsonrpc\r\n\r\n",
     "dllint: skipped a message without a Content-Length header"),
    (b"Content-Length: abc\r\n\r\n",
     "dllint: skipped a message with an invalid Content-Length: 'abc'"),
    (b"Content-Length: -5\r\n\r\n",
     "dllint: skipped a message with an invalid Content-Length: '-5'"),
    (b"Content-Length: 99999999999999\r\n\r\n",
     "dllint: skipped a message of 99999999999999 bytes, over the limit of 67108864"),
    (b"Content-Length: 5\r\ncontent-length: 5\r\n\r\n",
     "dllint: skipped a message with more than one Content-Length header"),
    (b"Content-Length: 5\r\nno header here\r\n\r\n",
     "dllint: skipped a message with a header line that is not 'Name: value': "
     "'no header here\\r\\n'"),
    (b"this is no header\r\n\r\n",
     "dllint: skipped a message with a header line that is not 'Name: value': "
     "'this is no header\\r\\n'"),
    (b"", "dllint: skipped a message with a header line that is not 'Name: value': "
          "'{\"jsonrpc\": \"2.0\", \"method\": \"no/suchMet...'"),  # a body with no header at all
])
def test_a_frame_without_a_valid_content_length_is_skipped_and_the_next_one_answered(
        server, tmp_path, frame, report):
    lost = message("no/suchMethod", {}, id=90)  # the bad frame's body: must not be run
    for request in (2, 3):  # the server reads on after the bad frame, and after a second one
        server.send_bytes(frame + lost)
        server.send("no/suchMethod", {}, id=request)  # right after the bad frame's body
        assert server.wait_for(lambda m: m.get("id") == request)["error"]["code"] == -32601
    reports = [m["params"]["message"] for m in server.received
               if m.get("method") == "window/showMessage"]
    assert reports == [report, report]
    uri = (tmp_path / "after.py").as_uri()
    assert [d["code"] for d in open_document(server, uri, PAIRED_LISTINGS)] == ["DL001"]
    assert not [m for m in server.received if m.get("id") == 90]


def test_malformed_bodies_are_answered_or_reported(server, tmp_path):
    missing = (tmp_path / "missing.py").as_uri()
    action = {"textDocument": {"uri": missing},
              "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
              "context": {"diagnostics": []}}
    server.send("textDocument/codeAction", {"bogus": True}, id=2)
    server.send("textDocument/codeAction", action, id=3)
    server.send_raw(b'{"jsonrpc": "1.0", "id": 4, "method": "shutdown"}')
    server.send_raw(b"{this is not json")
    server.send_raw(b"[1, 2]")
    server.send_raw(b"[" * 100000 + b"]" * 100000)
    server.send_raw(b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {}}')
    server.send_raw(b'{"jsonrpc": "2.0", "method": 7}')
    server.send("textDocument/codeAction", action)
    server.send("textDocument/didChange", {"textDocument": {"uri": missing, "version": 2},
                                           "contentChanges": [{"text": "x = 1\n"}]})
    server.send("textDocument/didSave", {"textDocument": {"uri": missing}})
    invalid = server.wait_for(lambda m: m.get("id") == 2)["error"]
    assert invalid == {"code": -32602, "message": (
        "dllint: ignored textDocument/codeAction: "
        "required field missing @ $.params.text_document; required field missing @ "
        "$.params.range; required field missing @ $.params.context")}
    assert server.wait_for(lambda m: m.get("id") == 3)["error"]["message"] == \
        f"dllint: {missing} is not open (no textDocument/didOpen)"
    assert server.wait_for(lambda m: m.get("id") == 4)["error"]["code"] == -32600
    assert shown(server, "not JSON").startswith("dllint: skipped a message that is not JSON: ")
    assert shown(server, "not a JSON-RPC 2.0 object")
    assert shown(server, "nested too deeply")
    assert shown(server, "ignored textDocument/didOpen") == (
        "dllint: ignored textDocument/didOpen: required field missing @ $.params.text_document")
    assert shown(server, "ignored textDocument/codeAction") == (  # a request sent without an id
        "dllint: ignored textDocument/codeAction: required field missing @ $.id")
    assert shown(server, "neither a method name nor a result")
    assert shown(server, "ignored a change to") == \
        f"dllint: ignored a change to {missing}, which was never opened"
    assert shown(server, "ignored a save of")
    uri = (tmp_path / "after.py").as_uri()
    assert [d["code"] for d in open_document(server, uri, PAIRED_LISTINGS)] == ["DL001"]
    assert not [m for m in server.received if "Error in server" in json.dumps(m)]


def apply_edits(text: str, edits: list[dict], encoding: str = "utf-16-le") -> str:
    """What an editor does with LSP text edits: lines end at \\r\\n, \\r or \\n only, and
    characters count code units of the position encoding."""
    starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]

    def offset(position: dict) -> int:
        start = starts[position["line"]]
        units = 0
        for index, char in enumerate(text[start:], start):
            if units >= position["character"] or char in "\r\n":
                return index
            units += len(char.encode(encoding)) // (1 if encoding == "utf-8" else 2)
        return len(text)

    spans = [(offset(e["range"]["start"]), offset(e["range"]["end"]), e["newText"]) for e in edits]
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def code_actions(client: RawClient, uri: str, diagnostics: list[dict]) -> dict[str, list[dict]]:
    client.send("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostics[0]["range"],
        "context": {"diagnostics": diagnostics}}, id=50)
    actions = client.wait_for(lambda m: m.get("id") == 50)["result"]
    return {action["title"]: action["edit"]["changes"][uri] for action in actions}


NOT_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize("comment", [NOT_LINE_BREAKS, "\x0c", "\u2028"])
def test_ranges_and_quick_fixes_count_lines_as_lsp_does(server, tmp_path, comment):
    """Characters `str.splitlines()` breaks at are inside a line for LSP: diagnostics point at the
    right text and every quick fix, applied as an editor would, gives the intended buffer."""
    def page(text: str) -> str:
        return text.replace("import glob", f"import glob  # page{comment}break")

    uri = (tmp_path / "train.py").as_uri()
    text = page(PAIRED_LISTINGS)
    found = open_document(server, uri, text)
    assert [(d["code"], d["range"]) for d in found] == [("DL001", {
        "start": {"line": 1, "character": 9}, "end": {"line": 1, "character": 34}})]
    actions = code_actions(server, uri, found)
    assert apply_edits(text, actions["dllint: Wrap the listing in `sorted()` (line 2)"]) == \
        page(PAIRED_LISTINGS_FIXED)
    assert apply_edits(text, actions["dllint: ignore DL001 on line 2"]) == text.replace(
        "images = glob.glob('images/*.png')",
        "images = glob.glob('images/*.png')  # dllint: ignore[DL001]")
    assert apply_edits(text, actions["dllint: fix all safe fixes"]) == page(PAIRED_LISTINGS_FIXED)


def test_buffers_are_synchronised_whole(server, tmp_path):
    """Incremental changes would be applied by pygls at `str.splitlines()` line numbers."""
    initialized = server.wait_for(lambda m: m.get("id") == 1)
    assert initialized["result"]["capabilities"]["textDocumentSync"]["change"] == 1  # Full
    uri = (tmp_path / "train.py").as_uri()
    assert open_document(server, uri, "x = 1\n") == []
    server.received.clear()
    server.send("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"text": "# \u2028\x0c\n" + PAIRED_LISTINGS}]})
    published = server.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    assert [(d["code"], d["range"]["start"]["line"]) for d in published["params"]["diagnostics"]] \
        == [("DL001", 2)]


@pytest.mark.parametrize("server", [{"general": {"positionEncodings": ["utf-8", "utf-16"]}}],
                         indirect=True)
def test_columns_use_the_negotiated_position_encoding(server, tmp_path):
    uri = (tmp_path / "train.py").as_uri()
    text = PAIRED_LISTINGS.replace("images = glob", "é = '😀'; images = glob")
    found = open_document(server, uri, text)
    start = len("é = '😀'; images = ".encode("utf-8"))
    assert [d["range"]["start"] for d in found] == [{"line": 1, "character": start}]
    fix = code_actions(server, uri, found)["dllint: Wrap the listing in `sorted()` (line 2)"]
    assert apply_edits(text, fix, "utf-8") == PAIRED_LISTINGS_FIXED.replace(
        "images = sorted", "é = '😀'; images = sorted")


def test_a_uri_that_names_no_local_file_is_linted(server):
    # An untitled buffer has no file name to go by: the client's languageId says it is Python.
    for uri in ("file:///tmp/a%00b.py", "untitled:Untitled-1.py", "untitled:Untitled-2"):
        assert [d["code"] for d in open_document(server, uri, PAIRED_LISTINGS)] == ["DL001"]


def test_a_related_location_in_another_file_is_measured_on_that_file(server, tmp_path):
    model_line = "        é = 1; return F.softmax(self.fc(x), dim=1)"
    (tmp_path / "model.py").write_text(
        "import torch.nn.functional as F\nfrom torch import nn\n\n\nclass Net(nn.Module):\n"
        f"    def forward(self, x):\n{model_line}\n", encoding="utf-8")
    server.send("workspace/didChangeWatchedFiles", {"changes": [  # written after the index
        {"uri": (tmp_path / "model.py").as_uri(), "type": 1}]})
    uri = (tmp_path / "train.py").as_uri()
    server.send("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1,
        "text": "from torch import nn\nfrom model import Net\n\n"
                "loss = nn.CrossEntropyLoss()(Net()(x), y)\n"}})
    found = server.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                            and m["params"]["uri"] == uri
                            and m["params"]["diagnostics"])["params"]["diagnostics"]
    location = found[0]["relatedInformation"][0]["location"]
    assert location["uri"].endswith("model.py")
    assert location["range"]["start"] == {"line": 6, "character": model_line.index("F.softmax")}


def actions_of(client: RawClient, uri: str, diagnostics: list[dict],
               only: list[str] | None = None) -> list[dict]:
    context = {"diagnostics": diagnostics, **({"only": only} if only is not None else {})}
    number = next(REQUEST_IDS)
    client.send("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostics[0]["range"], "context": context},
        id=number)
    return client.wait_for(lambda m: m.get("id") == number)["result"]


REQUEST_IDS = itertools.count(1000)


def test_code_actions_honour_context_only(server, tmp_path):
    uri = (tmp_path / "train.py").as_uri()
    found = open_document(server, uri, PAIRED_LISTINGS)
    assert [a["title"] for a in actions_of(server, uri, found, only=["source.fixAll"])] == [
        "dllint: fix all safe fixes"]
    assert [a["title"] for a in actions_of(server, uri, found, only=["source"])] == [
        "dllint: fix all safe fixes"]
    assert [a["title"] for a in actions_of(server, uri, found, only=["quickfix"])] == [
        "dllint: Wrap the listing in `sorted()` (line 2)", "dllint: ignore DL001 on line 2"]
    assert actions_of(server, uri, found, only=["refactor"]) == []


def test_identical_quick_fixes_get_titles_that_tell_them_apart(server, tmp_path):
    uri = (tmp_path / "train.py").as_uri()
    text = ("import glob\nimages = glob.glob('i/*.png'); masks = glob.glob('m/*.png')\n"
            "pairs = list(zip(images, masks))\n")
    found = open_document(server, uri, text)
    assert [d["code"] for d in found] == ["DL001", "DL001"]
    actions = actions_of(server, uri, found, only=["quickfix"])
    assert [a["title"] for a in actions] == [
        "dllint: Wrap the listing in `sorted()` (line 2, column 10)",
        "dllint: Wrap the listing in `sorted()` (line 2, column 40)",
        "dllint: ignore DL001 on line 2"]  # one comment silences both
    assert len(actions[2]["diagnostics"]) == 2


@pytest.mark.parametrize("server", [{"notebookDocument": {"synchronization": {}}}],
                         indirect=True)
def test_notebook_documents_are_linted_cell_by_cell(server, tmp_path):
    initialized = server.wait_for(lambda m: m.get("id") == 1)
    selector = initialized["result"]["capabilities"]["notebookDocumentSync"]["notebookSelector"]
    assert selector == [{"notebook": "*", "cells": [{"language": "python"}]}]
    notebook = (tmp_path / "explore.ipynb").as_uri()
    path = tmp_path / "explore.ipynb"
    texts = ["# Pairs of images", "import glob\n%matplotlib inline\nimages = glob.glob('i/*')\n"
             "masks = sorted(glob.glob('m/*'))\n", "pairs = list(zip(images, masks))\n"]
    cells = [f"vscode-notebook-cell:{path}#C{number}" for number in range(3)]
    server.send("notebookDocument/didOpen", {
        "notebookDocument": {"uri": notebook, "notebookType": "jupyter-notebook", "version": 1,
                             "cells": [{"kind": 1, "document": cells[0]},
                                       {"kind": 2, "document": cells[1]},
                                       {"kind": 2, "document": cells[2]}]},
        "cellTextDocuments": [
            {"uri": cell, "languageId": "markdown" if number == 0 else "python", "version": 1,
             "text": text} for number, (cell, text) in enumerate(zip(cells, texts))]})

    def published(cell: str, version: int) -> list[dict]:
        return server.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                               and m["params"]["uri"] == cell
                               and m["params"].get("version") == version)["params"]["diagnostics"]

    found = published(cells[1], 1)
    assert [(d["code"], d["range"]["start"]) for d in found] == [
        ("DL001", {"line": 2, "character": 9})]  # in the cell's own lines, after the magic
    related = found[0]["relatedInformation"][0]["location"]
    assert related["uri"] == cells[2] and related["range"]["start"]["line"] == 0
    assert published(cells[2], 1) == []
    fix = [a for a in actions_of(server, cells[1], found) if "sorted" in a["title"]][0]
    assert fix["title"] == "dllint: Wrap the listing in `sorted()` (line 3)"
    assert [e["newText"] for e in fix["edit"]["changes"][cells[1]]] == ["sorted(", ")"]

    server.send("notebookDocument/didChange", {
        "notebookDocument": {"uri": notebook, "version": 2},
        "change": {"cells": {"textContent": [{"document": {"uri": cells[2], "version": 2},
                                              "changes": [{"text": "pairs = None\n"}]}]}}})
    assert server.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                           and m["params"]["uri"] == cells[1]
                           and not m["params"]["diagnostics"])
    server.send("notebookDocument/didClose", {
        "notebookDocument": {"uri": notebook},
        "cellTextDocuments": [{"uri": cell} for cell in cells]})
    server.send("notebookDocument/didChange", {  # after the close: reported, not a crash
        "notebookDocument": {"uri": notebook, "version": 3}, "change": {}})
    assert shown(server, "explore.ipynb, which was never opened")
