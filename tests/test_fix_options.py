"""The fix options as ruff has them: --fix-only, --show-fixes, --exit-non-zero-on-fix, and --diff
reporting what it would fix (never "All checks passed!" while a fix is pending)."""

from __future__ import annotations

import os
import sys

import pytest
from click.testing import CliRunner

from dllint.cli import main

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402

# DL202 has no fix: it is left after --fix.
UNFIXABLE = "import torch.nn.functional as F\np = F.softmax(logits)\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    return tmp_path


def lint(*args: str):
    # `output` is standard output and error together; `stdout` and `stderr` each alone.
    return CliRunner().invoke(main, [*args, "--no-cache"], catch_exceptions=False)


def test_fix_only_fixes_and_reports_only_the_count(project):
    (project / "sm.py").write_text(UNFIXABLE)
    result = lint(".", "--fix-only")
    assert (project / "bad.py").read_text() == PAIRED_LISTINGS_FIXED
    assert result.exit_code == 0  # the DL202 left does not fail the run
    assert result.output == "Fixed 1 problem.\n"


def test_fix_only_with_nothing_to_fix(project):
    (project / "bad.py").write_text(UNFIXABLE)
    result = lint("bad.py", "--fix-only", "--exit-non-zero-on-fix")
    assert result.exit_code == 0 and result.output == "Fixed 0 problems.\n"
    assert (project / "bad.py").read_text() == UNFIXABLE


def test_fix_only_exits_1_with_exit_non_zero_on_fix_when_it_fixed(project):
    result = lint("bad.py", "--fix-only", "--exit-non-zero-on-fix")
    assert result.exit_code == 1 and result.output == "Fixed 1 problem.\n"
    assert (project / "bad.py").read_text() == PAIRED_LISTINGS_FIXED


def test_fix_exits_0_when_all_was_fixed_and_1_with_exit_non_zero_on_fix(project):
    assert lint("bad.py", "--fix").exit_code == 0
    (project / "bad.py").write_text(PAIRED_LISTINGS)
    result = lint("bad.py", "--fix", "--exit-non-zero-on-fix")
    assert result.exit_code == 1
    assert "Fixed 1 problem. All checks passed!" in result.output
    again = lint("bad.py", "--fix", "--exit-non-zero-on-fix")  # nothing left to fix
    assert again.exit_code == 0


def test_fix_only_reads_standard_input_and_writes_the_fixed_text(project):
    result = CliRunner().invoke(main, ["-", "--fix-only", "--no-cache"], input=PAIRED_LISTINGS)
    assert result.exit_code == 0
    assert result.stdout == PAIRED_LISTINGS_FIXED
    assert result.stderr == "Fixed 1 problem.\n"


def test_show_fixes_lists_the_fixes_applied(project):
    (project / "sm.py").write_text(UNFIXABLE)
    result = lint(".", "--fix", "--show-fixes", "--format", "concise")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "sm.py:2:5: DL202 `softmax` without `dim` lets PyTorch choose the axis from the input's "
        "rank, which the code does not show (dim 0 for 1-D and 3-D input, dim 1 otherwise); "
        "pass `dim=-1` or the class axis",
        "Fixed 1 problem:",
        "- bad.py:",
        "    1 x DL001 (unordered-file-listing)",
        "",
        "Fixed 1 problem. Found 1 problem in 2 files checked."]


def test_show_fixes_without_fix_lists_the_fixes_available(project):
    (project / "sm.py").write_text(UNFIXABLE)
    result = lint(".", "--show-fixes", "--format", "concise")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[2:6] == ["1 fixable problem with `dllint --fix`:", "- bad.py:",
                          "    1 x DL001 (unordered-file-listing)", ""]
    assert (project / "bad.py").read_text() == PAIRED_LISTINGS


def test_show_fixes_says_nothing_when_nothing_is_fixable(project):
    (project / "bad.py").write_text(UNFIXABLE)
    plain = lint("bad.py", "--format", "concise")
    shown = lint("bad.py", "--format", "concise", "--show-fixes")
    assert shown.output == plain.output and "fixable" not in shown.output


def test_show_fixes_with_fix_only(project):
    result = lint("bad.py", "--fix-only", "--show-fixes")
    assert result.exit_code == 0
    assert result.output == "Fixed 1 problem:\n- bad.py:\n    1 x DL001 (unordered-file-listing)\n"


def test_diff_says_what_it_would_fix_and_exits_1(project):
    (project / "sm.py").write_text(UNFIXABLE)
    result = lint(".", "--diff")
    assert result.exit_code == 1
    assert "+images = sorted(glob.glob('images/*.png'))" in result.stdout
    assert result.stderr == "Would fix 1 problem.\n"
    assert "All checks passed" not in result.output
    assert (project / "bad.py").read_text() == PAIRED_LISTINGS


def test_diff_with_no_fix_pending_exits_0_even_with_findings(project):
    (project / "bad.py").write_text(UNFIXABLE)
    result = lint("bad.py", "--diff")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == "No fixes would be applied.\n"


@pytest.mark.parametrize("options, message", [
    (["--diff", "--fix-only"], "--diff and --fix-only cannot be combined: --diff writes nothing"),
    (["--add-noqa", "--fix"], "--add-noqa cannot be combined with --fix"),
    (["--add-noqa", "--diff", "--statistics"],
     "--add-noqa cannot be combined with --diff, --statistics"),
])
def test_options_that_ask_for_two_runs_are_refused(project, options, message):
    result = lint("bad.py", *options)
    assert result.exit_code == 2
    assert result.output == f"dllint: error: {message}\n"
    assert (project / "bad.py").read_text() == PAIRED_LISTINGS


def test_stdin_cannot_be_watched_or_given_comments(project):
    for option in ("--watch", "--add-noqa"):
        result = CliRunner().invoke(main, ["-", option], input=PAIRED_LISTINGS)
        assert result.exit_code == 2
        assert result.output.startswith(f"dllint: error: {option} ")


def test_show_fixes_prints_on_an_ascii_terminal(project):
    import subprocess

    environment = {**os.environ, "PYTHONIOENCODING": "ascii"}
    environment.pop("DLLINT_FORMAT", None)
    for options in (["--show-fixes"], ["--fix-only", "--show-fixes"]):
        result = subprocess.run([sys.executable, "-m", "dllint", "bad.py", "--no-cache", *options],
                                capture_output=True, env=environment, cwd=project)
        assert b"Traceback" not in result.stderr and result.returncode in (0, 1), result.stderr
        assert b"    1 x DL001 (unordered-file-listing)" in result.stdout
