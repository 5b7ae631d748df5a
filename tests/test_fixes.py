"""Fixes are applied as text edits, written whole (or journaled), and never lose anything."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dllint.cli import main
from dllint.fixes import FileChangedError, apply_fixes, diff_name, unified_diff, write_fix
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
        write_fix(str(path), b"fixed\n", expected=b"what dllint read\n")
    assert path.read_text() == "someone else's edit\n"


def test_changed_file_is_reported_and_exits_2(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    import dllint.cli

    real = dllint.cli.write_fix

    def racing_write(path, data, expected, staging=None):
        with open(path, "a") as handle:
            handle.write("# edited meanwhile\n")
        return real(path, data, expected, staging)

    monkeypatch.setattr(dllint.cli, "write_fix", racing_write)
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


def test_a_symbolic_link_is_fixed_through_and_stays_a_link(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "shared.py"
    target.write_text(PAIRED_LISTINGS)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").symlink_to(target)
    result = fixing(tree, monkeypatch)
    assert result.exit_code == 0, result.output
    assert (tree / "a.py").is_symlink() and os.readlink(tree / "a.py") == str(target)
    assert target.read_text() == PAIRED_LISTINGS_FIXED
    assert sorted(p.name for p in elsewhere.iterdir()) == ["shared.py"]


def test_hard_links_stay_one_file(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    os.link(tmp_path / "a.py", tmp_path / "b.py")  # both are linted, the file is written once
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    os.link(tmp_path / "a.py", outside)
    inode = (tmp_path / "a.py").stat().st_ino
    result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "Fixed 2 problems" in result.output
    for path in (tmp_path / "a.py", tmp_path / "b.py", outside):
        assert path.stat().st_ino == inode and path.stat().st_nlink == 3
        assert path.read_text() == PAIRED_LISTINGS_FIXED


def test_a_read_only_file_is_refused_with_a_diagnostic_and_its_findings(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "b.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "a.py").chmod(0o444)
    result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert "a.py:1:1: DL908 The fixes were not written: the file is read-only" in result.output
    assert "a.py:2:10: DL001" in result.output  # still in the file, so still listed
    assert "b.py:2:10: DL001" not in result.output
    assert "Fixed 1 problem." in result.output  # b.py's, not a.py's
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS
    assert stat.S_IMODE((tmp_path / "a.py").stat().st_mode) == 0o444
    assert (tmp_path / "b.py").read_text() == PAIRED_LISTINGS_FIXED


def test_a_failed_write_counts_no_fix_and_lists_what_is_still_in_the_file(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    import dllint.cli

    def failing_write(path, data, expected, staging=None):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(dllint.cli, "write_fix", failing_write)
    result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert "DL908 The fixes were not written: cannot write the file: Input/output error" \
        in result.output
    assert "a.py:2:10: DL001" in result.output
    assert "Fixed" not in result.output
    assert "Found 2 problems" in result.output
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS


def test_a_fix_the_file_encoding_cannot_hold_is_refused(tmp_path, monkeypatch):
    import dllint.cli
    from dllint.config import FileConfig, build_settings
    from dllint.runner import RunResult
    from dllint.types import FileResult

    path = tmp_path / "a.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nx = 1\n")
    unfixed = Diagnostic("DL001", "n", "m", Severity.ERROR, str(path), Span(2, 1, 2, 2))
    result = RunResult(files=[FileResult(
        str(path), (), fixed_source="# -*- coding: latin-1 -*-\nx = '\u20ac'\n", fixes_applied=1,
        encoding="iso-8859-1", original_source="# -*- coding: latin-1 -*-\nx = 1\n",
        unfixed_diagnostics=(unfixed,))])
    settings = build_settings(FileConfig(root=tmp_path))
    assert dllint.cli._write_fixes(result, settings) is True
    [codes] = [[d.code for d in file.diagnostics] for file in result.files]
    assert codes == ["DL001", "DL908"] and result.fixes_applied == 0
    assert "latin-1 cannot encode" in result.files[0].diagnostics[1].message
    assert path.read_bytes() == b"# -*- coding: latin-1 -*-\nx = 1\n"


def test_a_file_reached_by_two_paths_is_written_once_and_fails_for_both(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    import dllint.cli

    writes = []

    def failing_write(path, data, expected, staging=None):
        writes.append(path)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dllint.cli, "write_fix", failing_write)
    result = fixing(tmp_path, monkeypatch)
    assert writes == [str(tmp_path / "a.py")]
    assert result.exit_code == 2 and "Fixed" not in result.output
    for name in ("a.py", "b.py"):
        assert f"{name}:1:1: DL908 The fixes were not written: cannot write the file: No space " \
            f"left on device" in result.output
        assert f"{name}:2:10: DL001" in result.output


def _failing_part_way(monkeypatch, failures: int) -> None:
    """The next in-place write stops half-way with a full disk, and the `failures - 1` after
    it fail before they write anything."""
    import dllint.fixes

    real, calls = dllint.fixes._overwrite, []

    def overwrite(handle, data):
        calls.append(data)
        if len(calls) > failures:
            return real(handle, data)
        if len(calls) == 1:
            handle.seek(0)
            handle.write(data[: len(data) // 2])
            handle.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dllint.fixes, "_overwrite", overwrite)


def _with_another_hard_link(path) -> None:
    """A second hard link (outside the tree): the file is written in place, not renamed over."""
    os.link(path, path.parent.parent / f"{path.parent.name}-{path.name}")


def test_a_write_that_fails_part_way_puts_the_old_text_back(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    _with_another_hard_link(tmp_path / "a.py")
    _failing_part_way(monkeypatch, failures=1)
    result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert "DL908 The fixes were not written: cannot write the file: No space left on device" \
        in result.output
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS
    assert [p.name for p in tmp_path.iterdir()] == ["a.py"]  # the journal is settled


def test_a_file_left_half_written_is_finished_by_the_next_run(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    _with_another_hard_link(tmp_path / "a.py")
    with monkeypatch.context() as patched:
        _failing_part_way(patched, failures=2)  # the write, then putting the old text back
        result = fixing(tmp_path, monkeypatch)
    assert result.exit_code == 2
    assert "DL908 The fixes were not written: the write failed part-way (No space left on " \
        "device)" in result.output
    assert (tmp_path / "a.py").read_text() not in (PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED)
    later = CliRunner().invoke(main, [".", "--no-cache"])
    assert "  half-written, now finished: a.py\n" in later.output
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS_FIXED


def test_fixes_are_written_when_the_journal_cannot_be(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    (tmp_path / ".dllint_cache").write_text("a file where the cache folder would be\n")
    result = fixing(tmp_path, monkeypatch)
    assert "dllint: warning: cannot record the fixes in " in result.output
    assert "a run killed now may leave a file half-written" in result.output
    assert result.exit_code == 0
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS_FIXED


def test_diff_lines_end_only_where_patch_ends_them():
    """A form feed, "\\u2028" or lone "\\r" is inside a line for patch and git: the diff
    keeps such a line whole (no prefix inserted into it) and counts lines as they do."""
    before = "a = 1  # \x0c\u2028z\rw\nb = 2\nc = 3"
    diff = unified_diff("x.py", before, before.replace("b = 2", "b = 3"))
    assert diff.split("\n")[2:] == [
        "@@ -1,3 +1,3 @@", " a = 1  # \x0c\u2028z\rw", "-b = 2", "+b = 3", " c = 3"]
