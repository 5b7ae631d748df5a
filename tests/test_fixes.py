"""Fixes are applied as text edits, written atomically, and never lose anything."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dllint.cli import main
from dllint.fixes import FileChangedError, apply_fixes, diff_name, unified_diff, write_atomically
from dllint.types import Applicability, Diagnostic, Edit, Fix, Severity, Span

sys.path.insert(0, os.path.dirname(__file__))
from helpers import CLEAN, PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402


def fixing(tmp_path, monkeypatch, *args):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(main, [".", "--fix", "--no-cache", *args])


def test_keeps_crlf_bom_encoding_and_mode(tmp_path, monkeypatch):
    path = tmp_path / "a.py"
    text = "# -*- coding: utf-8 -*-\n# ünïcode\n" + PAIRED_LISTINGS
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    path.chmod(0o751)
    fixing(tmp_path, monkeypatch)
    expected = "# -*- coding: utf-8 -*-\n# ünïcode\n" + PAIRED_LISTINGS_FIXED
    assert path.read_bytes() == b"\xef\xbb\xbf" + expected.replace("\n", "\r\n").encode("utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # no temporary file left behind


def test_latin1_file_is_written_back_in_latin1(tmp_path, monkeypatch):
    path = tmp_path / "a.py"
    path.write_bytes(("# -*- coding: latin-1 -*-\n# café\n" + PAIRED_LISTINGS).encode("latin-1"))
    fixing(tmp_path, monkeypatch)
    assert path.read_bytes() == ("# -*- coding: latin-1 -*-\n# café\n"
                                 + PAIRED_LISTINGS_FIXED).encode("latin-1")


def test_unchanged_files_are_untouched(tmp_path, monkeypatch):
    path = tmp_path / "clean.py"
    path.write_text(CLEAN)
    os.utime(path, (1_000_000, 1_000_000))
    result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 0
    assert path.stat().st_mtime == 1_000_000


def test_refuses_to_overwrite_a_file_changed_since_it_was_read(tmp_path):
    path = tmp_path / "a.py"
    path.write_text("someone else's edit\n")
    with pytest.raises(FileChangedError):
        write_atomically(str(path), "fixed\n", "utf-8", expected=b"what dllint read\n")
    assert path.read_text() == "someone else's edit\n"


def test_changed_file_is_reported_and_exits_2(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    import dllint.cli

    real = dllint.cli.write_atomically

    def racing_write(path, text, encoding, expected):
        with open(path, "a") as handle:
            handle.write("# edited meanwhile\n")
        return real(path, text, encoding, expected)

    monkeypatch.setattr(dllint.cli, "write_atomically", racing_write)
    result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 2 and "changed while dllint was running" in result.output
    assert (tmp_path / "a.py").read_text().endswith("# edited meanwhile\n")


def _diagnostic(*edits, applicability=Applicability.SAFE):
    return Diagnostic("DL001", "x", "m", Severity.ERROR, "a.py", edits[0].span,
                      fix=Fix(tuple(edits), applicability, "d"))


def test_overlapping_fixes_wait_for_the_next_round():
    text = "abcdef\n"
    first = _diagnostic(Edit(Span(1, 2, 1, 4), "XY"))
    overlapping = _diagnostic(Edit(Span(1, 3, 1, 5), "ZZ"))
    touching = _diagnostic(Edit(Span(1, 4, 1, 4), "!"))
    assert apply_fixes(text, [first, overlapping, touching], unsafe_fixes=False) == ("aXY!def\n", 2)


def test_unsafe_fixes_only_on_request():
    unsafe = _diagnostic(Edit(Span(1, 1, 1, 2), "Q"), applicability=Applicability.UNSAFE)
    assert apply_fixes("abc\n", [unsafe], unsafe_fixes=False) == ("abc\n", 0)
    assert apply_fixes("abc\n", [unsafe], unsafe_fixes=True) == ("Qbc\n", 1)


def test_edits_on_later_lines_with_crlf():
    edit = _diagnostic(Edit(Span(2, 1, 2, 1), "#"))
    assert apply_fixes("a\r\nb\r\n", [edit], unsafe_fixes=False) == ("a\r\n#b\r\n", 1)


def _diff_headers(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(("--- ", "+++ "))]


def test_diff_of_an_absolute_path_under_the_cwd_is_named_relative_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / "bad.py"
    path.write_text(PAIRED_LISTINGS)
    result = CliRunner().invoke(main, [str(path), "--diff", "--no-cache"])
    assert result.exit_code == 1
    assert _diff_headers(result.output) == ["--- a/src/bad.py", "+++ b/src/bad.py"]
    patch = tmp_path / "fix.patch"
    patch.write_text(result.output)
    for command in (["git", "apply", "--check", str(patch)], ["patch", "-p1", "--dry-run", "-i", str(patch)]):
        if shutil.which(command[0]):  # the diff applies from the current directory as is
            applied = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
            assert applied.returncode == 0, applied.stdout + applied.stderr
    if shutil.which("patch"):
        subprocess.run(["patch", "-p1", "-i", str(patch)], cwd=tmp_path, check=True,
                       capture_output=True)
        assert path.read_text() == PAIRED_LISTINGS_FIXED


def test_diff_of_an_absolute_path_elsewhere_drops_the_root_not_doubles_the_slash(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    path = tmp_path / "bad.py"
    path.write_text(PAIRED_LISTINGS)
    result = CliRunner().invoke(main, [str(path), "--diff", "--no-cache"])
    assert result.exit_code == 1
    name = path.as_posix().lstrip("/")
    assert _diff_headers(result.output) == [f"--- a/{name}", f"+++ b/{name}"]
    assert "//" not in "".join(_diff_headers(result.output))


def test_diff_names_relative_paths_without_dot_segments():
    assert diff_name("./src/x.py") == "src/x.py"
    assert diff_name("src/x.py") == "src/x.py"
    assert unified_diff("./x.py", "a\n", "b\n").splitlines()[:2] == ["--- a/x.py", "+++ b/x.py"]


def test_diff_lines_end_only_where_patch_ends_them():
    """A form feed, "\\u2028" or lone "\\r" is inside a line for patch and git: the diff
    keeps such a line whole (no prefix inserted into it) and counts lines as they do."""
    before = "a = 1  # \x0c\u2028z\rw\nb = 2\nc = 3"
    diff = unified_diff("x.py", before, before.replace("b = 2", "b = 3"))
    assert diff.split("\n")[2:] == [
        "@@ -1,3 +1,3 @@", " a = 1  # \x0c\u2028z\rw", "-b = 2", "+b = 3", " c = 3"]
