"""`--add-noqa`: a suppression comment for each finding, on a line where the suppression is
honoured, never inside a string or after a backslash, merged with one already there."""

from __future__ import annotations

import os
import stat
import sys

import pytest
from click.testing import CliRunner

from dllint import suppressions
from dllint.add_noqa import add_directives
from dllint.cli import main
from dllint.types import Diagnostic, Severity, Span

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402


def _finding(start: int, end: int | None = None, code: str = "DL202",
             cell: int | None = None) -> Diagnostic:
    end = start if end is None else end
    return Diagnostic(code, "rule", "message", Severity.ERROR, "a.py", Span(start, 1, end, 2),
                      cell=cell)


def _added(text: str, *findings: Diagnostic):
    edit = add_directives(text, findings)
    assert edit is not None
    # Whatever was added suppresses every finding that was placed: the suppression module
    # reads the comments exactly as the linter will.
    placed = [d for d in findings if d not in edit.unplaceable]
    assert suppressions.apply(placed, suppressions.scan(edit.text)) == []
    return edit


def test_a_comment_at_the_end_of_the_line():
    edit = _added("x = f(a)\ny = 1\n", _finding(1))
    assert edit.text == "x = f(a)  # dllint: ignore[DL202]\ny = 1\n" and edit.added == 1


def test_codes_of_one_line_share_one_comment_in_order():
    edit = _added("x = f(a)\n", _finding(1, code="DL202"), _finding(1, code="DL001"),
                  _finding(1, code="DL202"))
    assert edit.text == "x = f(a)  # dllint: ignore[DL001, DL202]\n" and edit.added == 1


def test_codes_join_a_dllint_comment_already_there():
    edit = _added("x = f(a)  # dllint: ignore[DL001] (known)\n", _finding(1, code="DL202"))
    assert edit.text == "x = f(a)  # dllint: ignore[DL001, DL202] (known)\n"


def test_another_tools_comment_is_kept_and_ours_follows():
    edit = _added("x = f(a)  # type: ignore  \n", _finding(1))
    assert edit.text == "x = f(a)  # type: ignore  # dllint: ignore[DL202]\n"


def test_a_statement_starting_in_a_multiline_string_gets_it_on_its_last_line():
    text = 'x = f("""a\nb""",\n      c)\n'
    edit = _added(text, _finding(1, 3))
    assert edit.text == 'x = f("""a\nb""",\n      c)  # dllint: ignore[DL202]\n'


def test_a_line_continued_by_a_backslash_is_left_alone():
    text = "y = 1 + \\\n    f(a)\n"
    edit = _added(text, _finding(1, 2))
    assert edit.text == "y = 1 + \\\n    f(a)  # dllint: ignore[DL202]\n"


def test_a_finding_with_no_line_that_can_hold_a_comment_is_returned_unplaced():
    text = 'x = """a\nb""" + \\\n  "c"\n'
    finding = _finding(1, 2)  # line 1 ends in the string, line 2 in a backslash
    edit = _added(text, finding)
    assert edit.text == text and edit.added == 0 and edit.unplaceable == [finding]


def test_line_endings_and_a_last_line_without_one_are_kept():
    edit = _added("a = f(x)\r\nb = f(y)", _finding(1), _finding(2))
    assert edit.text == "a = f(x)  # dllint: ignore[DL202]\r\nb = f(y)  # dllint: ignore[DL202]"


def test_engine_findings_and_notebook_cells_get_no_comment():
    edit = add_directives("x = 1\n", [_finding(1, code="DL901"), _finding(1, cell=2)])
    assert edit is not None and edit.text == "x = 1\n" and edit.added == 0


def test_text_the_tokenizer_refuses_is_left_alone():
    assert add_directives('x = """never closed\n', [_finding(1)]) is None


# The command


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "sm.py").write_text(
        "import torch.nn.functional as F\np = F.softmax(\n    logits)  # why\n")
    return tmp_path


def lint(*args: str):
    return CliRunner().invoke(main, [*args, "--no-cache"], catch_exceptions=False)


def test_add_noqa_writes_the_comments_and_the_next_run_passes(project):
    result = lint(".", "--add-noqa")
    assert result.exit_code == 0
    assert result.stderr == "Added 2 noqa directives.\n" and result.stdout == ""
    assert (project / "bad.py").read_text() == PAIRED_LISTINGS.replace(
        "glob.glob('images/*.png')", "glob.glob('images/*.png')  # dllint: ignore[DL001]")
    assert (project / "sm.py").read_text() == (
        "import torch.nn.functional as F\np = F.softmax(  # dllint: ignore[DL202]\n"
        "    logits)  # why\n")
    assert lint(".").exit_code == 0
    again = lint(".", "--add-noqa")
    assert again.exit_code == 0 and again.stderr == "Added 0 noqa directives.\n"


def test_add_noqa_keeps_a_byte_order_mark_and_crlf(project):
    (project / "sm.py").unlink()
    path = project / "bad.py"
    path.write_bytes(b"\xef\xbb\xbf" + PAIRED_LISTINGS.replace("\n", "\r\n").encode())
    assert lint("bad.py", "--add-noqa").exit_code == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + PAIRED_LISTINGS.replace(
        "glob.glob('images/*.png')", "glob.glob('images/*.png')  # dllint: ignore[DL001]"
    ).replace("\n", "\r\n").encode()


def test_a_file_that_cannot_be_written_is_named_and_exits_2(project):
    path = project / "bad.py"
    path.chmod(stat.S_IRUSR)
    try:
        result = lint(".", "--add-noqa")
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert result.exit_code == 2
    assert "dllint: error: bad.py: The comments were not written" in result.stderr
    assert result.stderr.endswith("Added 1 noqa directive.\n")
    assert path.read_text() == PAIRED_LISTINGS
