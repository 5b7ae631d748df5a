"""The language server on a large workspace: first-diagnostic latency, edit latency, index time.

    python benchmarks/lsp_latency.py [--files 300] [--lines 200] [--repeat 3]
                                     [--workspace /work/corpus/huggingface+pytorch-image-models]
                                     [--open timm/models/resnet.py]

Starts `dllint lsp` as a subprocess (a real client: JSON-RPC frames on stdio), on a generated
workspace of --files modules of about --lines lines each (package `proj`, each module importing
its neighbour; `train.py` uses `proj.model.Net`, whose forward ends in a softmax), or on the
given folder. Per run, with a fresh cache each time, it prints:

- first diagnostics: from `textDocument/didOpen` of the opened file to its first
  `publishDiagnostics` (the index is still being built);
- index: from `initialized` to the `$/progress` end of the index build;
- edit: from a `didChange` of the open file to its `publishDiagnostics`: the first edit after
  the index is ready, so it includes the lint worker building its copy of the index, and the
  0.3 s debounce;

and, for comparison, how long linting the opened file alone takes in the benchmark's own
process (no server, no index), for comparison. Then the medians over
--repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

MODULE = '''"""Generated module {index}."""

import torch
import torch.nn.functional as F
from torch import nn

from proj import {neighbour} as neighbour


class Block{index}(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(F.relu(self.fc(x)))

'''
FUNCTION = '''
def helper_{index}_{number}(batch, scale={number}):
    total = 0
    for item in batch:
        if item > scale:
            total += item * scale
        else:
            total -= item
    values = [value * 2 for value in batch if value]
    return total + sum(values) + neighbour.CONSTANT
'''
MODEL = '''import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
'''
MODEL_FIXED = MODEL.replace("F.softmax(self.fc(x), dim=1)", "self.fc(x)")
TRAIN = '''from torch import nn

from proj.model import Net

loss = nn.CrossEntropyLoss()(Net()(x), y)
'''


def generate_workspace(root: Path, files: int, lines: int) -> Path:
    """A package of `files` modules of about `lines` lines, plus model.py and train.py."""
    package = root / "proj"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    per_function = FUNCTION.count("\n")
    for index in range(files):
        text = MODULE.format(index=index, neighbour=f"mod{(index + 1) % files}")
        text += "".join(FUNCTION.format(index=index, number=number) for number in
                        range(max((lines - MODULE.count("\n")) // per_function, 1)))
        (package / f"mod{index}.py").write_text(text + "\nCONSTANT = 1\n")
    (package / "model.py").write_text(MODEL)
    (root / "train.py").write_text(TRAIN)
    (root / "pyproject.toml").write_text("[tool.dllint]\n")
    return root


class LspSession:
    """`dllint lsp` in a subprocess, driven over stdio as an editor would: it answers the
    server's requests (progress tokens, registrations) and keeps every message it received."""

    def __init__(self, root: Path, process_id: int | None = None,
                 command: list[str] | None = None) -> None:
        self.root = root
        self.process = subprocess.Popen(command or [sys.executable, "-m", "dllint", "lsp"],
                                        cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.incoming: queue.Queue = queue.Queue()
        self.received: list[tuple[float, dict]] = []
        self.next_id = 1000
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.request("initialize", {
            "processId": process_id, "rootUri": root.as_uri(),
            "capabilities": {"window": {"workDoneProgress": True},
                             "workspace": {"didChangeWatchedFiles":
                                           {"dynamicRegistration": True}}}})
        self.initialized_at = time.monotonic()
        self.notify("initialized", {})

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
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:  # a request of the server's
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            self.incoming.put((time.monotonic(), message))

    def _send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        with self.lock:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def send_request(self, method: str, params: Any) -> int:
        self.next_id += 1
        self._send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def request(self, method: str, params: Any, timeout: float = 60.0) -> dict:
        number = self.send_request(method, params)
        return self.wait_for(lambda m: m.get("id") == number and "method" not in m, timeout)[1]

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 60.0,
                 after: float = 0.0) -> tuple[float, dict]:
        """The first message received at `after` or later that matches, and when it came."""
        deadline = time.monotonic() + timeout
        while True:
            for arrived, message in self.received:
                if arrived >= after and predicate(message):
                    return arrived, message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no such message within {timeout} s; received: "
                                   f"{[m for _, m in self.received][-20:]}")
            try:
                self.received.append(self.incoming.get(timeout=min(remaining, 0.2)))
            except queue.Empty:
                pass

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version,
            "text": path.read_text() if text is None else text}})
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})

    def published(self, uri: str, after: float = 0.0, timeout: float = 60.0,
                  codes: Callable[[list[str]], bool] = lambda codes: True) -> tuple[float, dict]:
        return self.wait_for(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                             and m["params"]["uri"] == uri
                             and codes([d["code"] for d in m["params"]["diagnostics"]]),
                             timeout, after)

    def progress_end(self, timeout: float = 600.0) -> tuple[float, dict]:
        return self.wait_for(lambda m: m.get("method") == "$/progress"
                             and m["params"]["value"].get("kind") == "end", timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.process.stdin.close()  # not stdout: the reading thread holds it until EOF


ALONE = """
import sys, time
from pathlib import Path
from dllint.config import FileConfig, build_settings
from dllint.runner import lint_text
path = Path(sys.argv[1])
settings = build_settings(FileConfig(root=path.parent), ignore_bad_metadata=True)
text = path.read_text()
started = time.perf_counter()
lint_text(text, str(path), settings)
print(time.perf_counter() - started)
"""


def lint_alone(path: Path) -> float:
    """Lint time of the file on its own, in a fresh process (as a new lint worker is), modules
    imported first."""
    output = subprocess.run([sys.executable, "-c", ALONE, str(path)], capture_output=True,
                            text=True, check=True).stdout
    return float(output)


def measure(root: Path, opened: Path) -> dict[str, float]:
    alone = lint_alone(opened)
    session = LspSession(root)
    try:
        started = time.monotonic()
        uri = session.open(opened)
        first, _ = session.published(uri)
        index_end, end = session.progress_end()
        text = opened.read_text()
        changed = time.monotonic()
        session.change(uri, text + "\nx = 1\n", 2)
        edited, _ = session.wait_for(
            lambda m: m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri and m["params"].get("version") == 2, 600)
        session.request("shutdown", None)
        session.notify("exit", None)
        return {"first": first - started, "index": index_end - session.initialized_at,
                "edit": edited - changed, "alone": alone,
                "summary": end["params"]["value"].get("message", "")}
    finally:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="an existing folder instead")
    parser.add_argument("--open", default="train.py", help="the file to open, in the workspace")
    arguments = parser.parse_args()
    runs = []
    for run in range(arguments.repeat):
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "workspace"
            if arguments.workspace is None:
                generate_workspace(root, arguments.files, arguments.lines)
            else:
                shutil.copytree(arguments.workspace, root, ignore=shutil.ignore_patterns(
                    ".git", ".dllint_cache"))
            kloc = sum(len(path.read_bytes().splitlines()) for path in root.rglob("*.py")) / 1000
            figures = measure(root, root / arguments.open)
            runs.append(figures)
            print(f"run {run + 1}: {kloc:.0f} kLOC; first diagnostics {figures['first']:.2f} s, "
                  f"index {figures['index']:.2f} s ({figures['summary']}), "
                  f"edit {figures['edit']:.2f} s; the file alone {figures['alone']:.2f} s",
                  flush=True)
    for name in ("first", "index", "edit", "alone"):
        print(f"median {name}: {statistics.median(run[name] for run in runs):.2f} s")
    print(f"cpus: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
