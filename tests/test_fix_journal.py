"""A `--fix` that is killed while writing leaves nothing in the tree but its journal in the
cache folder; the next run says what was fixed and what not, and finishes a half-written file."""

from __future__ import annotations

import itertools
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from dllint.cli import main
from dllint.fix_journal import Journal, PlannedWrite, is_torn, journal_folder, recover

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# Runs `dllint` whose second file write stops half-way, as a kill in the middle of it would
# leave it, and waits there to be killed.
STALLING_DRIVER = '''
import sys, time
import dllint.cli as cli

real_write, calls = cli.write_fix, []

def write_then_stall(path, data, expected, staging=None):
    calls.append(path)
    if len(calls) == 2:
        with open(path, "r+b") as handle:
            handle.write(data[: len(data) // 2])
        print("stalled", flush=True)
        time.sleep(120)
    return real_write(path, data, expected, staging)

cli.write_fix = write_then_stall
cli.main(sys.argv[1:])
'''


def _killed_fix_run(tree: Path, driver_source: str = STALLING_DRIVER) -> None:
    """Three fixable files; `dllint --fix` is killed where `driver_source` stalls it (by
    default, while writing the second file in place)."""
    for name in ("a.py", "b.py", "c.py"):
        (tree / name).write_text(PAIRED_LISTINGS)
    driver = tree.parent / f"{tree.name}-driver.py"
    driver.write_text(driver_source)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, str(driver), "--fix", "--no-cache", "."],
                               cwd=tree, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout.readline() == "stalled\n"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def test_a_killed_fix_leaves_no_temporary_file_and_the_next_run_settles_it(tmp_path,
                                                                           monkeypatch):
    _killed_fix_run(tmp_path)
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS_FIXED
    assert (tmp_path / "b.py").read_text() not in (PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dllint_cache", "a.py", "b.py",
                                                         "c.py"]
    journal = journal_folder(tmp_path / ".dllint_cache")
    assert [p.suffix for p in journal.iterdir()] == [".json"]
    # In the cache folder, tagged and git-ignored: never committed by mistake.
    assert (journal.parent / ".gitignore").read_text().endswith("*\n")
    assert (journal.parent / "CACHEDIR.TAG").exists()

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-cache", "."])
    assert "a `dllint --fix` started" in result.output and "was interrupted" in result.output
    assert "  fixed: a.py\n" in result.output
    assert "  half-written, now finished: b.py\n" in result.output
    assert "  not fixed (run `dllint --fix` again): c.py\n" in result.output
    assert (tmp_path / "b.py").read_text() == PAIRED_LISTINGS_FIXED
    assert (tmp_path / "c.py").read_text() == PAIRED_LISTINGS
    # c.py's findings are reported by this run, and the journal is settled for good.
    assert "c.py:2:10: DL001" in result.output and "b.py:2:10" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py", "c.py"]
    again = CliRunner().invoke(main, ["check", "--no-cache", "."])
    assert "interrupted" not in again.output


def test_a_file_edited_after_the_kill_is_left_alone_and_its_old_text_kept(tmp_path,
                                                                         monkeypatch):
    _killed_fix_run(tmp_path)
    (tmp_path / "b.py").write_text("# rewritten by hand after the crash\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-cache", "."])
    assert "  neither its old nor its fixed text (edited since?), so left as it is: b.py (its " \
        "old text is in " in result.output
    assert (tmp_path / "b.py").read_text() == "# rewritten by hand after the crash\n"
    [kept] = [p for p in journal_folder(tmp_path / ".dllint_cache").iterdir()
              if p.name.startswith("b.py.")]
    assert kept.read_text() == PAIRED_LISTINGS
    assert str(kept.relative_to(tmp_path)) in result.output


def test_every_write_cut_short_is_recognised_and_nothing_else_is():
    pairs = [(b"abcdef", b"abXYZdef!"), (b"abcdefgh", b"abc"), (b"same", b"SAME"), (b"", b"new")]
    for before, after in pairs:
        for k in range(len(after) + 1):
            assert is_torn(before, after, after[:k] + before[k:]), (before, after, k)
    assert not is_torn(b"abcdef", b"abXYZdef!", b"abcdef edited")
    assert not is_torn(b"abcdefgh", b"abc", b"abXdefgh")
    assert not is_torn(b"abcdefgh", b"abc", b"ab")
    # Exhaustively over short texts: torn exactly when some k gives the text.
    alphabet = (b"", b"a", b"b", b"ab", b"ba", b"aab", b"bba")
    for before, after, current in itertools.product(alphabet, repeat=3):
        expected = any(after[:k] + before[k:] == current for k in range(len(after) + 1))
        assert is_torn(before, after, current) is expected, (before, after, current)


def test_a_fix_never_writes_its_journal_into_a_folder_dllint_did_not_create(tmp_path,
                                                                             monkeypatch):
    """cache-dir naming a folder of the user's: the fixes are written, the journal is not (and
    no file lands in that folder)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "pyproject.toml").write_text('[tool.dllint]\ncache-dir = "src"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["src", "--fix", "--no-cache"])
    assert "cannot record the fixes" in result.output
    assert (tmp_path / "src" / "a.py").read_text() == PAIRED_LISTINGS_FIXED
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["a.py"]


def test_the_journal_of_a_run_still_writing_is_not_taken(tmp_path):
    (tmp_path / "a.py").write_bytes(b"old")
    folder = journal_folder(tmp_path / "cache")
    journal = Journal(folder, [PlannedWrite(str(tmp_path / "a.py"), b"old", b"new")])
    assert recover(tmp_path / "cache") == []
    assert journal.path.exists()
    journal.close()
    assert not (tmp_path / "cache").exists()


def test_a_damaged_journal_is_reported_and_kept_aside(tmp_path, monkeypatch):
    folder = journal_folder(tmp_path / ".dllint_cache")
    folder.mkdir(parents=True)
    (folder / "run-x.json").write_text("{not json")
    (folder / "run-y.tmp").write_text("{\"version\": 1, \"wri")  # its run died writing it
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-cache", "."])
    assert "dllint: warning: a fix journal could not be settled; it is kept as " in result.output
    assert sorted(p.name for p in folder.iterdir()) == ["run-x.damaged"]
    assert result.exit_code == 0


def test_a_journal_that_cannot_be_settled_stays_for_the_next_run(tmp_path, monkeypatch):
    import dllint.fix_journal

    (tmp_path / "a.py").write_bytes(b"edited since")
    cache = tmp_path / ".dllint_cache"
    journal = Journal(journal_folder(cache), [PlannedWrite(str(tmp_path / "a.py"), b"old",
                                                           b"new")])
    journal.close(keep=True)

    def cannot_keep(write, recovery, journal):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(dllint.fix_journal, "_keep", cannot_keep)
    [recovery] = recover(cache)
    assert recovery.unreadable == f"{journal.path} (Permission denied)"
    assert journal.path.exists()
    monkeypatch.undo()
    [recovery] = recover(cache)
    assert list(recovery.kept) == [str(tmp_path / "a.py")]
    assert not journal.path.exists()


# Runs `dllint --fix` that stops when its second file is staged for the rename over it, and
# waits there to be killed.
STALLING_RENAME_DRIVER = '''
import os, sys, time
import dllint.cli as cli

real_replace, staged = os.replace, []

def replace_then_stall(source, destination):
    if str(source).endswith(".staged"):
        staged.append(source)
        if len(staged) == 2:
            print("stalled", flush=True)
            time.sleep(120)
    return real_replace(source, destination)

os.replace = replace_then_stall
cli.main(sys.argv[1:])
'''


def test_a_fix_killed_before_its_rename_leaves_every_file_whole(tmp_path, monkeypatch):
    """A file with no other hard link is staged in the cache folder and renamed over: a kill
    leaves each file as it was or fully fixed, never half-written, and the staged copy only in
    the cache folder, which the next run clears."""
    _killed_fix_run(tmp_path, STALLING_RENAME_DRIVER)
    assert (tmp_path / "a.py").read_text() == PAIRED_LISTINGS_FIXED
    assert (tmp_path / "b.py").read_text() == PAIRED_LISTINGS  # whole: the rename never came
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dllint_cache", "a.py", "b.py",
                                                         "c.py"]
    journal = journal_folder(tmp_path / ".dllint_cache")
    assert sorted(p.suffix for p in journal.iterdir()) == \
        [".json", ".staged"]

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check", "--no-cache", "."])
    assert "  fixed: a.py\n" in result.output
    assert "  not fixed (run `dllint --fix` again): b.py, c.py\n" in result.output
    assert "half-written" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py", "c.py"]


def test_a_file_with_one_link_is_renamed_over_and_keeps_its_mode(tmp_path, monkeypatch):
    path = tmp_path / "a.py"
    path.write_text(PAIRED_LISTINGS)
    path.chmod(0o640)
    inode = path.stat().st_ino
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [".", "--fix"])
    assert result.exit_code == 0, result.output
    assert path.read_text() == PAIRED_LISTINGS_FIXED
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert not journal_folder(tmp_path / ".dllint_cache").exists()
