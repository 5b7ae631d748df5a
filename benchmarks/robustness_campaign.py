"""The bad-input matrix and the kill tests: every input class that once crashed or hung dllint,
run through the real command line.

    python benchmarks/robustness_campaign.py [--only NAME] [--limit SECONDS]

Each case builds its input in a fresh temporary folder and runs `python -m dllint ...` there,
with a time limit. A case passes when the run ends within the limit, prints no Python
traceback, exits with the status the README documents for it, and (where the case says so)
still reports the finding of a good file beside the bad one. The kill cases SIGKILL a run and
count what it left behind (worker processes, temporary files). Prints one line per case, the
peak memory of each run, and the totals. The fuzz campaign over generated modules is
`benchmarks/fuzz_campaign.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

GOOD = "import torch.nn.functional as F\n\ndef loss(x, y):\n    return F.cross_entropy(F.softmax(x, dim=1), y)\n"
GOOD_CODE = "DL002"


@dataclass
class Outcome:
    status: int | None  # None: still running at the limit (killed)
    seconds: float
    stdout: str
    stderr: str
    peak_mib: float


@dataclass
class Case:
    name: str
    build: Callable[[Path], list[str]]  # makes the input, returns the dllint arguments
    statuses: tuple[int, ...]  # the documented exit statuses for this input
    keeps_good_finding: bool = False  # a good file beside the bad one is still reported
    stdin: bytes | None = None
    notes: list[str] = field(default_factory=list)


# Runs `python -m dllint ARGS` as its child and reports that child's own peak memory (os.wait4
# gives one process's usage, unlike RUSAGE_CHILDREN, which keeps the largest ever seen).
_MEASURED = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "dllint", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\n@@peak-kib {usage.ru_maxrss}\\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)  # killed by signal N: 128 + N, as a shell says
"""
# A run above this peak memory fails its case (a skipped file must not be read whole).
MEMORY_LIMIT_MIB = 1024


def run_dllint(arguments: list[str], folder: Path, limit: float, stdin: bytes | None = None
               ) -> Outcome:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", _MEASURED, *arguments], cwd=folder,
                               stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(stdin, timeout=limit)
        status: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        status = None
    errors = stderr.decode(errors="replace")
    errors, _, peak = errors.rpartition("\n@@peak-kib ")
    peak_mib = int(peak) / 1024 if peak.strip().isdigit() else float("nan")
    return Outcome(status, time.perf_counter() - started, stdout.decode(errors="replace"),
                   errors if peak else stderr.decode(errors="replace"), peak_mib)


def _write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def _with_good(folder: Path, name: str, content: str | bytes) -> list[str]:
    _write(folder, "src/good.py", GOOD)
    _write(folder, f"src/{name}", content)
    return ["src", "--no-cache"]


def _notebook(cells_or_document) -> str:
    if isinstance(cells_or_document, dict):
        return json.dumps(cells_or_document)
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": cells_or_document})


def _pyproject(folder: Path, body: str) -> list[str]:
    _write(folder, "pyproject.toml", body)
    _write(folder, "good.py", GOOD)
    return ["good.py", "--no-cache"]


def _fifo(folder: Path) -> list[str]:
    os.mkfifo(folder / "pipe.py")
    _write(folder, "good.py", GOOD)
    return ["pipe.py", "good.py", "--no-cache"]


def _fifo_link(folder: Path) -> list[str]:
    os.mkfifo(folder / "pipe")
    _write(folder, "src/good.py", GOOD)
    os.symlink(folder / "pipe", folder / "src" / "link.py")
    return ["src", "--no-cache"]


def _huge_file(folder: Path) -> list[str]:
    with open(folder / "huge.py", "wb") as file:
        file.write(b"x = 1\n")
        file.truncate(1 << 30)  # sparse: 1 GiB on paper, nothing on disk
    _write(folder, "good.py", GOOD)
    return ["huge.py", "good.py", "--no-cache"]


def _symlink_loop(folder: Path) -> list[str]:
    os.symlink(folder / "b", folder / "a")
    os.symlink(folder / "a", folder / "b")
    _write(folder, "good.py", GOOD)
    return ["a", "good.py", "--no-cache"]


def _non_utf8_name(output: list[str]) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        (folder / os.fsdecode(b"bad\xff.py")).write_text(GOOD)
        return [".", "--no-cache", *output]
    return build


def _damaged_cache(content: Callable[[dict], object]) -> Callable[[Path], list[str]]:
    """A first run fills the cache; its file is then replaced by `content(original)`."""
    def build(folder: Path) -> list[str]:
        _write(folder, "good.py", GOOD)
        subprocess.run([sys.executable, "-m", "dllint", "good.py"], cwd=folder,
                       capture_output=True, timeout=120)
        for cache_file in (folder / ".dllint_cache").glob("*.json"):
            original = json.loads(cache_file.read_text())
            cache_file.write_text(json.dumps(content(original)))
        return ["good.py"]
    return build


def _wrong_entry_types(original: dict) -> object:
    def spoil(value):
        if isinstance(value, dict):
            return {key: spoil(item) for key, item in value.items()}
        if isinstance(value, list):
            return [spoil(item) for item in value]
        if isinstance(value, str):
            return 12345
        return value
    return {key: spoil(item) if key != "version" else item for key, item in original.items()}


def _baseline(folder: Path) -> list[str]:
    _write(folder, "good.py", GOOD)
    _write(folder, "baseline.json", json.dumps({"version": 1, "findings": [
        {"path": "good.py", "code": GOOD_CODE, "cell": None, "text": "x", "count": "many"}]}))
    return ["good.py", "--baseline", "baseline.json", "--no-cache"]


def _long_requirement(folder: Path) -> list[str]:
    _write(folder, "requirements.txt", "torch==" + "9" * 100_000 + "\n")
    _write(folder, "good.py", "import torch\ntorch.load('m.pt')\n" + GOOD)
    return ["good.py", "--no-cache", "--select", "DL501,DL002"]


def _only_good(*options: str) -> Callable[[Path], list[str]]:
    def build(folder: Path) -> list[str]:
        _write(folder, "good.py", GOOD)
        return ["good.py", *options]
    return build


CASES = [
    *[Case(f"coding cookie `{codec}`", lambda f, c=codec: _with_good(
        f, "cookie.py", f"# coding: {c}\nx = 1\n"), (1,), keeps_good_finding=True)
      for codec in ("rot13", "hex", "base64", "zlib")],
    Case("coding cookie `rot13` on stdin", lambda f: ["-", "--stdin-filename", "x.py"], (0, 1),
         stdin=b"# coding: rot13\nx = 1\n"),
    *[Case(f"notebook: {label}", lambda f, d=document: _with_good(f, "bad.ipynb", d), (1,),
           keeps_good_finding=True) for label, document in [
        ("metadata null", _notebook({"nbformat": 4, "nbformat_minor": 5, "metadata": None,
                                     "cells": []})),
        ("metadata []", _notebook({"nbformat": 4, "nbformat_minor": 5, "metadata": [],
                                   "cells": []})),
        ("kernelspec a string", _notebook({"nbformat": 4, "nbformat_minor": 5,
                                           "metadata": {"kernelspec": "python"}, "cells": []})),
        ("source [1, 2]", _notebook([{"cell_type": "code", "metadata": {}, "source": [1, 2],
                                      "outputs": [], "execution_count": None}])),
        ("nested 100000 deep", "[" * 100_000 + "]" * 100_000),
        ("nbformat 3", _notebook({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                                  "worksheets": [{"cells": []}]})),
    ]],
    *[Case(f"pyproject: {label}", lambda f, b=body: _pyproject(f, b), (2,)) for label, body in [
        ("tool = 1", "tool = 1\n"),
        ("tool = 'x'", "tool = 'x'\n"),
        ("tool = [1]", "tool = [1]\n"),
        ("project = 1", "project = 1\n[tool.dllint]\n"),
        ("exclude ['!']", "[tool.dllint]\nexclude = ['!']\n"),
        ("per-file-ignores {'!'}", "[tool.dllint.per-file-ignores]\n'!' = ['DL001']\n"),
        ("cache-dir with NUL", "[tool.dllint]\ncache-dir = \"a\\u0000b\"\n"),
    ]],
    Case("requirements: a 100000-digit version", _long_requirement, (2,)),
    Case("cache: valid JSON of another shape", _damaged_cache(lambda original: [1, 2, 3]), (1,),
         keeps_good_finding=True),
    Case("cache: wrong types in every entry", _damaged_cache(_wrong_entry_types), (1,),
         keeps_good_finding=True),
    Case("a FIFO named on the command line", _fifo, (1,), keeps_good_finding=True),
    Case("/dev/zero named on the command line", _only_good("/dev/zero", "--no-cache"), (1,),
         keeps_good_finding=True),
    Case("a symlink to a FIFO inside a folder", _fifo_link, (1,), keeps_good_finding=True),
    Case("a 1 GiB file", _huge_file, (1,), keeps_good_finding=True),
    Case("a symlink loop named", _symlink_loop, (1, 2), keeps_good_finding=False),
    Case("non-UTF-8 file name, --format sarif", _non_utf8_name(["--format", "sarif"]), (1,)),
    Case("non-UTF-8 file name, text -o", _non_utf8_name(["-o", "out.txt"]), (1,)),
    Case("non-UTF-8 file name, github -o", _non_utf8_name(["--format", "github", "-o",
                                                           "out.txt"]), (1,)),
    Case("a baseline whose count is not an integer", _baseline, (2,)),
    Case("a 400-digit literal in a scaling", lambda f: _with_good(
        f, "big.py", "import numpy as np\nimg = np.zeros((2, 2), dtype=np.uint8)\n"
        "y = img / 1" + "0" * 400 + "\nz = y / 255\n"), (1,), keeps_good_finding=True),
    Case("--select ''", _only_good("--select", ""), (2,)),
    Case("cache-dir = '.'", lambda f: _pyproject(f, "[tool.dllint]\ncache-dir = '.'\n")[:1],
         (1, 2)),
]


STEP = """import torch
model = torch.nn.Linear(4, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def step():
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 2, (8,)))
    loss.backward()
    optimizer.step()
"""


def _trace(body: str, *options: str) -> Callable[[Path], list[str]]:
    """`dllint trace` of a script made of a training step and `body`."""
    def build(folder: Path) -> list[str]:
        _write(folder, "train.py", STEP + textwrap.dedent(body))
        return ["trace", *options, "train.py"]
    return build


TRACE_CASES = [
    Case("trace: script ignores SIGALRM and loops", _trace("""
        import signal
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            pass
        """, "--timeout", "2"), (3,)),
    Case("trace: script resets the interval timer", _trace("""
        import signal
        while True:
            signal.setitimer(signal.ITIMER_REAL, 0)
        """, "--timeout", "2"), (3,)),
    Case("trace: script forks after a step (--format json)", _trace("""
        import os
        step()
        if os.fork() != 0:  # the child runs to the end of the script, as the parent does
            os.wait()
        """, "--format", "json", "--steps", "3"), (0, 1, 3)),
    Case("trace: os._exit(0) before any step", _trace("""
        import os
        os._exit(0)
        """), (3,)),
    Case("trace: KeyboardInterrupt", _trace("""
        step()
        raise KeyboardInterrupt
        """, "--steps", "5"), (130,)),
    Case("trace: a non-daemon thread left running", _trace("""
        import threading, time
        threading.Thread(target=time.sleep, args=(3600,)).start()
        for _ in range(3):
            step()
        """), (0, 1)),
    Case("trace: segfault", _trace("""
        import ctypes
        step()
        ctypes.string_at(0)
        """, "--steps", "5"), (139,)),
]


def _checks(case: Case, folder: Path, outcome: Outcome) -> list[str]:
    problems = []
    if outcome.status is None:
        problems.append("still running at the limit")
    elif outcome.status not in case.statuses:
        problems.append(f"exit {outcome.status}, documented {case.statuses}")
    if case.name == "trace: segfault":
        if "Fatal Python error" not in outcome.stderr or "train.py" not in outcome.stderr:
            problems.append("no word of where the script crashed")
    elif "Traceback (most recent call last)" in outcome.stderr + outcome.stdout and \
            f"{os.sep}dllint{os.sep}" in outcome.stderr + outcome.stdout:
        problems.append("a Python traceback of dllint's")  # a script's own is its report's
    if "forks" in case.name and outcome.stdout.count('"schema"') != 1:
        problems.append(f"{outcome.stdout.count(chr(34) + 'schema' + chr(34))} JSON reports")
    if outcome.peak_mib > MEMORY_LIMIT_MIB:
        problems.append(f"peak memory {outcome.peak_mib:.0f} MiB")
    if case.keeps_good_finding and GOOD_CODE not in outcome.stdout:
        problems.append("the good file's finding is missing")
    if case.name.startswith("cache-dir") and (folder / ".gitignore").exists():
        problems.append("wrote .gitignore into the project folder")
    return problems


def bad_input_matrix(limit: float, only: str | None) -> tuple[int, int]:
    passed = failed = 0
    print(f"{'bad input':<45} {'exit':>5} {'seconds':>8} {'peak MiB':>9}  verdict")
    for case in CASES + TRACE_CASES:
        if only and only not in case.name:
            continue
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            arguments = case.build(folder)
            outcome = run_dllint(arguments, folder, limit, case.stdin)
            problems = _checks(case, folder, outcome)
        passed += not problems
        failed += bool(problems)
        verdict = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{case.name[:45]:<45} {str(outcome.status):>5} {outcome.seconds:>8.2f} "
              f"{outcome.peak_mib:>9.0f}  {verdict}")
        if problems and outcome.stderr.strip():
            print(textwrap.indent(outcome.stderr.strip()[-600:], "      | "))
    return passed, failed


# ---- kill tests -----------------------------------------------------------------------------

def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _big_tree(folder: Path, files: int) -> None:
    body = GOOD + "".join(f"\ndef f{i}(x):\n    return x.softmax(1).log()\n" for i in range(300))
    for index in range(files):
        _write(folder, f"src/m{index}.py", body)


def kill_workers() -> str:
    """SIGKILL a run with 2 workers once they exist; how many workers outlive it, 5 s later."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        _big_tree(folder, 400)
        process = subprocess.Popen([sys.executable, "-m", "dllint", "src", "--no-cache",
                                    "--jobs", "2"], cwd=folder, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2 and process.poll() is None:
            workers = _descendants(process.pid)
            time.sleep(0.05)
        time.sleep(0.5)
        process.kill()
        process.wait()
        time.sleep(5)
        survivors = [pid for pid in workers if _alive(pid)]
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        return f"workers seen {len(workers)}, alive 5 s after SIGKILL: {len(survivors)}"


def kill_fix(tries: int = 5) -> str:
    """SIGKILL `--fix` as soon as its first file is written; how many temporary files it left in
    the tree, how many files were left half-way (some fixed, some not), and whether the next run
    said so."""
    stranded = partial = noticed = 0
    for _ in range(tries):
        with tempfile.TemporaryDirectory() as temporary:
            folder = Path(temporary)
            body = ("import os\n\ndef classes(root):\n"
                    "    return {c: i for i, c in enumerate(os.listdir(root))}\n")
            files = [_write(folder, f"src/m{index}.py", body) for index in range(400)]
            before = {path: path.stat().st_mtime_ns for path in files}
            process = subprocess.Popen([sys.executable, "-m", "dllint", "src", "--fix",
                                        "--no-cache", "--jobs", "1"], cwd=folder,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while process.poll() is None and not any(
                    path.stat().st_mtime_ns != mtime for path, mtime in before.items()):
                time.sleep(0.001)
            process.kill()
            process.wait()
            stranded += sum(1 for path in folder.rglob("*") if ".dllint-" in path.name)
            fixed = sum("sorted(" in path.read_text() for path in files)
            partial += 0 < fixed < len(files)
            again = subprocess.run([sys.executable, "-m", "dllint", "src", "--no-cache"],
                                   cwd=folder, capture_output=True, text=True, timeout=300)
            noticed += "interrupted" in (again.stdout + again.stderr).lower()
    return (f"{tries} kills: temporary files left in the tree {stranded}; runs left part-fixed "
            f"{partial}; next run said a fix was interrupted {noticed} times")


# ---- the language server --------------------------------------------------------------------

def _frame(body: dict) -> bytes:
    data = json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


LSP_BAD_FRAMES = {
    "no Content-Length": b"Content-Type: x\r\n\r\n{}",
    "Content-Length: abc": b"Content-Length: abc\r\n\r\n{}",
    "a negative length": b"Content-Length: -5\r\n\r\n{}",
    "a body that is not JSON": b"Content-Length: 5\r\n\r\nhello",
    "invalid codeAction params": _frame({"jsonrpc": "2.0", "id": 7, "method":
                                         "textDocument/codeAction", "params": {"x": 1}}),
    "didChange of an unopened document": _frame({
        "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": "file:///nowhere.py", "version": 2},
            "contentChanges": [{"text": "x = 1\n"}]}}),
}


def lsp_survives(limit: float = 20.0) -> tuple[int, int]:
    """Each bad frame after `initialize`, then a `shutdown` request: the server must answer it."""
    passed = failed = 0
    for label, bad in LSP_BAD_FRAMES.items():
        initialize = _frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                             "params": {"processId": None, "rootUri": None, "capabilities": {}}})
        shutdown = _frame({"jsonrpc": "2.0", "id": 99, "method": "shutdown"})
        exit_ = _frame({"jsonrpc": "2.0", "method": "exit"})
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", "dllint", "lsp"],
                                  input=initialize + bad + shutdown + exit_,
                                  capture_output=True, timeout=limit)
            replies = done.stdout.replace(b" ", b"")
            # The next request is answered, and so is a bad request that has an id.
            bad_has_id = b'"id":7' in bad.replace(b" ", b"")
            answered = b'"id":99' in replies and (b'"id":7' in replies or not bad_has_id)
        except subprocess.TimeoutExpired:
            answered = False
        passed += answered
        failed += not answered
        print(f"{'lsp: ' + label:<45} {time.perf_counter() - started:>14.2f}  "
              f"{'ok' if answered else 'FAIL: a request got no answer'}")
    return passed, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the cases whose name contains this")
    parser.add_argument("--limit", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--no-kill", action="store_true", help="skip the kill tests")
    options = parser.parse_args()
    passed, failed = bad_input_matrix(options.limit, options.only)
    if not options.only:
        lsp_passed, lsp_failed = lsp_survives()
        passed, failed = passed + lsp_passed, failed + lsp_failed
    print(f"\nbad-input matrix: {passed} passed, {failed} failed")
    if not options.no_kill and sys.platform.startswith("linux"):
        print("\nkill tests")
        print("  SIGKILL during a run with workers:", kill_workers())
        print("  SIGKILL during --fix:", kill_fix())


if __name__ == "__main__":
    main()
