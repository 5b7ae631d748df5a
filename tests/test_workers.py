"""Worker processes: each owns a shard of the files for both phases, so phase two reuses the
trees phase one parsed; a worker that dies loses nothing; a cross-file bug is still found when
its two files land in different shards."""

from __future__ import annotations

import os
import signal
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
    monkeypatch.setattr(parsed.cst, "parse_module",
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
