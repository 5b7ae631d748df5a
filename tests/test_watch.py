"""`--watch`: lint again after a change, found by polling; Ctrl-C ends it with status 0. The loop
is driven through its hooks (the pause between polls, a bound on the lints), never by sleeping."""

from __future__ import annotations

import os
import sys

import pytest
from click.testing import CliRunner

from dllint import watch
from dllint.cli import main

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402


def _at_most(polls: int, action):
    """A stand-in for the pause between polls that runs `action` and fails the test rather
    than poll for ever when the change it makes is never seen."""
    calls = []

    def pause(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) > polls:
            pytest.fail(f"no change seen after {polls} polls")
        action(len(calls))

    return pause


def _bump(path) -> None:
    """Change a file so that a poll sees it whatever the clock's granularity: a new size."""
    path.write_text(path.read_text() + "# edited\n")


def test_a_change_to_a_watched_file_lints_again(tmp_path, monkeypatch):
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    polls = []

    def fake_sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) > 5:
            pytest.fail("the change was not seen")
        if len(polls) == 3:  # nothing changes for two polls, then the file does
            _bump(target)

    monkeypatch.setattr(watch, "sleep", fake_sleep)
    monkeypatch.setattr(watch, "MAX_ROUNDS", 2)
    lints = []
    status = watch.watch(lambda: lints.append(target.read_text()), lambda: [str(target)])
    assert status == 0
    assert lints == ["x = 1\n", "x = 1\n# edited\n"]
    assert polls == [watch.POLL_SECONDS] * 3 and 0.5 <= watch.POLL_SECONDS <= 1


def test_ctrl_c_ends_the_watch_with_status_0(monkeypatch):
    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(watch, "sleep", interrupted)
    lints = []
    assert watch.watch(lambda: lints.append(1), lambda: []) == 0
    assert lints == [1]


def test_a_file_added_or_removed_and_a_configuration_created_are_changes(tmp_path):
    (tmp_path / "pkg").mkdir()
    existing = tmp_path / "pkg" / "a.py"
    existing.write_text("x = 1\n")
    paths = watch.watched_paths([str(existing)], [str(tmp_path)])
    assert str(tmp_path / "pkg" / "pyproject.toml") in paths
    before = watch.snapshot(paths)
    (tmp_path / "pkg" / "pyproject.toml").write_text("[tool.dllint]\n")
    assert watch.snapshot(paths) != before
    before = watch.snapshot(paths)
    existing.unlink()
    after = watch.snapshot(paths)
    assert after != before and after[str(existing)] is None


def test_the_command_reports_again_after_a_fix_is_saved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "src").mkdir()
    bad = tmp_path / "src" / "bad.py"
    bad.write_text(PAIRED_LISTINGS)

    monkeypatch.setattr(watch, "sleep",
                        _at_most(3, lambda poll: bad.write_text(PAIRED_LISTINGS_FIXED + "\n")))
    monkeypatch.setattr(watch, "MAX_ROUNDS", 2)
    result = CliRunner().invoke(main, ["src", "--watch", "--no-cache", "--format", "concise"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    first, second = result.output.split("File change detected...\n")
    assert "Starting linter in watch mode..." in first
    assert "src/bad.py:2:10: DL001" in first and "Found 1 problem in 1 file checked." in first
    assert second == "All checks passed! (1 file checked)\n"


def test_a_broken_configuration_is_reported_and_the_watch_goes_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.dllint]\nselect = 3\n")
    (tmp_path / "a.py").write_text("x = 1\n")

    monkeypatch.setattr(watch, "sleep",
                        _at_most(3, lambda poll: config.write_text("[tool.dllint]\n")))
    monkeypatch.setattr(watch, "MAX_ROUNDS", 2)
    result = CliRunner().invoke(main, ["a.py", "--watch", "--no-cache"], catch_exceptions=False)
    assert result.exit_code == 0
    first, second = result.output.split("File change detected...\n")
    assert "dllint: error:" in first
    assert second == "All checks passed! (1 file checked)\n"


@pytest.mark.parametrize("missing", ["nowhere", "nowhere.py"])
def test_a_missing_path_is_refused_before_watching(tmp_path, monkeypatch, missing):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(watch, "sleep", lambda seconds: pytest.fail("watched"))
    result = CliRunner().invoke(main, [missing, "--watch"])
    assert result.exit_code == 2
    assert result.output == f"dllint: error: no such file or directory: {missing}\n"
