"""Worker processes: each owns a shard of the files for both phases, so phase two reuses the
trees phase one parsed; a worker that dies loses nothing; a cross-file bug is still found when
its two files land in different shards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import libcst
import pytest

from dllint import parsed
from dllint.config import FileConfig, build_settings
from dllint.runner import PARALLEL_THRESHOLD, Workers, run

MODEL = '''
import torch.nn.functional as F
from torch import nn


class Net{index}(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
'''
TRAIN = '''
from torch import nn
from model{index} import Net{index}

criterion = nn.CrossEntropyLoss()
loss = criterion(Net{index}()(images), labels)
'''


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    count = PARALLEL_THRESHOLD
    for index in range(count):
        # Sizes differ a lot, so the size-balanced shards split each model from its script.
        (tmp_path / f"model{index}.py").write_text(MODEL.format(index=index) + "\n" * (index * 50))
        (tmp_path / f"train{index}.py").write_text(TRAIN.format(index=index))
    return tmp_path


def _findings(root: Path, jobs: int) -> list[tuple[str, int, str]]:
    settings = build_settings(FileConfig(root=root))
    result = run([str(root)], settings, jobs=jobs, use_cache=False)
    return [(Path(d.path).name, d.line, d.code) for d in result.diagnostics]


def test_two_workers_find_what_one_process_finds(tree):
    serial = _findings(tree, jobs=1)
    assert serial.count(("train3.py", 6, "DL002")) == 1
    assert len([f for f in serial if f[2] == "DL002"]) == PARALLEL_THRESHOLD
    assert _findings(tree, jobs=2) == serial


def test_phase_two_reuses_the_trees_of_phase_one(tree, monkeypatch):
    calls = []
    real_parse = libcst.parse_module
    monkeypatch.setattr(libcst, "parse_module",  # parsed imports it on its first parse
                        lambda text, *args, **kwargs: calls.append(text) or real_parse(text))
    _findings(tree, jobs=1)
    # Every model file is summarised and linted, and parsed once for both.
    model_parses = [text for text in calls if "class Net" in text]
    assert len(model_parses) == PARALLEL_THRESHOLD
    assert parsed._trees == {}, "the run releases what phase two did not take"


def test_a_worker_that_dies_loses_nothing(tree):
    settings = build_settings(FileConfig(root=tree))
    paths = sorted(str(path) for path in tree.glob("*.py"))
    with Workers(paths, settings, jobs=2) as workers:
        first = workers.map("summarise", paths)
        os.kill(workers.processes[0].pid, signal.SIGKILL)
        workers.processes[0].join()
        again = workers.map("summarise", paths)
    assert sorted(first, key=str) == sorted(again, key=str)
    assert all(not process.is_alive() for process in workers.processes)


def test_an_error_in_a_worker_reaches_the_caller(tree, monkeypatch):
    settings = build_settings(FileConfig(root=tree))
    paths = sorted(str(path) for path in tree.glob("*.py"))

    def broken(path):
        raise ValueError(f"cannot summarise {Path(path).name}")

    monkeypatch.setitem(__import__("dllint.runner").runner._FUNCTIONS, "summarise", broken)
    with Workers(paths, settings, jobs=2) as workers, pytest.raises(ValueError, match="cannot"):
        workers.map("summarise", paths)


# A driver that runs dllint with every file taking a while, so that the workers are busy when
# the run is killed. Its top level runs again in a spawned worker, which is slowed down too.
SLOW_DRIVER = '''
import multiprocessing, os, sys, time
from pathlib import Path
import dllint.runner as runner

def slowed(function):
    def slow(path):
        time.sleep(float(os.environ["SLOW_SECONDS"]))
        return function(path)
    return slow

runner._FUNCTIONS.update({name: slowed(f) for name, f in list(runner._FUNCTIONS.items())})
runner._pool_context = lambda: multiprocessing.get_context(os.environ["START_METHOD"])

if __name__ == "__main__":
    if sys.argv[1] == "idle":  # workers that finished a phase and wait for the next one
        from dllint.config import FileConfig, build_settings
        paths, settings = sys.argv[2:], build_settings(FileConfig(root=Path.cwd()))
        with runner.Workers(paths, settings, jobs=3) as workers:
            workers.map("summarise", paths)
            print("idle", flush=True)
            time.sleep(120)
    else:
        from dllint.cli import main
        main(sys.argv[1:])
'''


def _children(parent: int) -> set[int]:
    """Live (not zombie) processes whose parent is `parent`; `ps` has these columns on Linux
    and macOS alike."""
    listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,stat="], capture_output=True,
                             text=True, check=True).stdout
    rows = (line.split() for line in listing.splitlines())
    return {int(pid) for pid, ppid, state, *_ in rows if int(ppid) == parent and
            not state.startswith("Z")}


def _alive(pid: int) -> bool:
    listing = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True,
                             text=True).stdout.strip()
    return bool(listing) and not listing.startswith("Z")


def _kill_run_and_watch_workers(command: list[str], environment: dict, ready) -> set[int]:
    """Start `command`, wait until `ready(process)` and its three workers run, SIGKILL it, and
    return the workers still alive 5 seconds later."""
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while len(workers) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(process.pid)
        assert len(workers) >= 3, "the run never started its workers"
        ready(process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        return {pid for pid in workers if _alive(pid)}
    finally:
        process.kill()
        process.wait()


def _environment(start_method: str, slow_seconds: float) -> dict:
    root = Path(__file__).resolve().parent.parent
    return {**os.environ, "START_METHOD": start_method, "SLOW_SECONDS": str(slow_seconds),
            "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_busy_workers_end_when_the_run_is_killed(tree, start_method):
    driver = tree.parent / "driver.py"
    driver.write_text(SLOW_DRIVER)
    # Each worker has about 10 files of 1 s each to go: without a check they would run on.
    command = [sys.executable, str(driver), "check", str(tree), "--no-cache", "-j", "3"]
    left = _kill_run_and_watch_workers(command, _environment(start_method, 1.0),
                                       lambda process: time.sleep(1.5))
    assert not left, f"workers {sorted(left)} outlived the killed run"


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_idle_workers_end_when_the_run_is_killed(tree, start_method):
    driver = tree.parent / "driver.py"
    driver.write_text(SLOW_DRIVER)
    paths = sorted(str(path) for path in tree.glob("*.py"))
    command = [sys.executable, str(driver), "idle", *paths]
    left = _kill_run_and_watch_workers(command, _environment(start_method, 0.0),
                                       lambda process: process.stdout.readline())
    assert not left, f"workers {sorted(left)} outlived the killed run"
