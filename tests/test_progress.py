"""Progress: the runner reports each phase's start and each file done, in order, to a callback in
the parent process; the CLI draws it on a terminal's standard error, and never when piped."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from dllint import cli, runner
from dllint.cli import main
from dllint.config import FileConfig, build_settings
from dllint.reports.progress import TerminalProgress
from dllint.runner import PARALLEL_THRESHOLD, Workers, run

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402
from test_workers import MODEL, TRAIN  # noqa: E402


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for index in range(PARALLEL_THRESHOLD):
        (tmp_path / f"model{index}.py").write_text(MODEL.format(index=index))
        (tmp_path / f"train{index}.py").write_text(TRAIN.format(index=index))
    (tmp_path / "listing.py").write_text(PAIRED_LISTINGS)
    return tmp_path


FILES = 2 * PARALLEL_THRESHOLD + 1


def _events(root: Path, jobs: int, use_cache: bool = False) -> list[tuple[str, int, int]]:
    events: list[tuple[str, int, int]] = []
    settings = build_settings(FileConfig(root=root, cache_dir=str(root / ".cache")))
    run([str(root)], settings, jobs=jobs, use_cache=use_cache,
        progress=lambda *event: events.append(event))
    return events


def _expected(phase: str, first: int) -> list[tuple[str, int, int]]:
    return [(phase, done, FILES) for done in range(first, FILES + 1)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_phase_counts_every_file_once_in_order(tree, jobs):
    assert _events(tree, jobs) == _expected("indexing", 0) + _expected("linting", 0)


def test_files_from_the_cache_count_as_done_when_the_phase_starts(tree):
    _events(tree, jobs=1, use_cache=True)
    assert _events(tree, jobs=1, use_cache=True) == [("indexing", FILES, FILES),
                                                     ("linting", FILES, FILES)]
    (tree / "listing.py").write_text(PAIRED_LISTINGS + "# changed\n")
    assert _events(tree, jobs=1, use_cache=True) == [
        ("indexing", FILES - 1, FILES), ("indexing", FILES, FILES),
        ("linting", FILES - 1, FILES), ("linting", FILES, FILES)]


def test_a_worker_that_dies_mid_shard_loses_nothing_and_counts_each_file_once(tree, monkeypatch):
    """The worker dies on one file, and again on it in the fresh worker that replaces it: that
    file is reported over its budget (no summary), every other file is as in a run of one job,
    and each file is counted once."""
    settings = build_settings(FileConfig(root=tree))
    paths = sorted(str(path) for path in tree.glob("*.py"))
    parent = os.getpid()
    real = runner._FUNCTIONS["summarise"]
    victim = paths[len(paths) // 2]

    def dies_at_the_victim(path):
        if path == victim and os.getpid() != parent:
            os._exit(9)  # after the files before it in its shard were sent back
        return real(path)

    with Workers(paths, settings, jobs=1) as alone:
        expected = alone.map("summarise", paths)
    monkeypatch.setitem(runner._FUNCTIONS, "summarise", dies_at_the_victim)
    ticks = []
    with Workers(paths, settings, jobs=2) as workers:
        found = workers.map("summarise", paths, tick=lambda: ticks.append(1))
    expected = [(path, None, None) if path == victim else (path, digest, summary)
                for path, digest, summary in expected]
    assert sorted(found, key=str) == sorted(expected, key=str)
    assert len(ticks) == len(paths)


def test_the_terminal_display_shows_both_phases_and_their_totals(tree):
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    settings = build_settings(FileConfig(root=tree))
    with TerminalProgress(console) as shown:
        run([str(tree)], settings, jobs=2, use_cache=False, progress=shown.update)
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())  # colours, cursor moves
    assert "indexing" in drawn and "linting" in drawn
    assert f"{FILES}/{FILES} files" in drawn
    assert drawn.index("indexing") < drawn.index("linting")


def test_piped_output_has_no_progress(tree, monkeypatch):
    monkeypatch.chdir(tree)
    result = CliRunner().invoke(main, [".", "--no-cache"])
    assert result.exit_code == 1
    assert "indexing" not in result.output and "files 0:" not in result.output
    assert "linting" not in result.stderr


def test_progress_only_on_a_terminal_and_not_when_quiet(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert cli._progress_display(quiet=False) is None

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert isinstance(cli._progress_display(quiet=False), TerminalProgress)
    assert cli._progress_display(quiet=True) is None
