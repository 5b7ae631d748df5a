"""Files that cannot be analysed become one diagnostic each, and the run goes on."""

from __future__ import annotations

import os
import sys

import pytest

from dllint.config import FileConfig, build_settings
from dllint.runner import run

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402


def lint_dir(root, **options):
    settings = build_settings(FileConfig(root=root), **options)
    result = run([str(root)], settings, use_cache=False)
    return {os.path.relpath(d.path, root): (d.code, d.line, d.message) for d in result.diagnostics}


@pytest.mark.parametrize(("content", "code", "line", "words"), [
    (b"def broken(:\n    pass\n", "DL903", 1, "Cannot parse"),
    (b"x = 1\nprint 'hello'\n", "DL903", 2, "Cannot parse"),  # Python 2
    (b"x = '\xff\xfe caf\xe9'\n", "DL901", 1, "not valid utf-8"),
    (b"# -*- coding: klingon -*-\nx = 1\n", "DL901", 1, "unknown encoding"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "DL902", 1, "NUL bytes"),
    (b"x = 1\x00\n", "DL902", 1, "NUL bytes"),
    (b"x = (" * 2000 + b"1" + b")" * 2000 + b"\n", "DL903", 1, "Cannot parse"),
])
def test_bad_file_is_one_diagnostic_and_the_run_goes_on(tmp_path, content, code, line, words):
    (tmp_path / "bad.py").write_bytes(content)
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    found = lint_dir(tmp_path)
    assert found["bad.py"][:2] == (code, line)
    assert words in found["bad.py"][2]
    assert found["real.py"][0] == "DL001"


@pytest.mark.parametrize("content", [
    b"",
    "# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n".encode("latin-1"),
    b"\xef\xbb\xbfx = 1\n",
    b"import glob\r\nx = sorted(glob.glob('*'))\r\n",
])
def test_unusual_but_valid_files_are_clean(tmp_path, content):
    (tmp_path / "ok.py").write_bytes(content)
    assert lint_dir(tmp_path) == {}


def test_valid_file_with_findings_in_latin1_and_crlf(tmp_path):
    text = "# -*- coding: latin-1 -*-\r\n# caf\xe9\r\n" + PAIRED_LISTINGS.replace("\n", "\r\n")
    (tmp_path / "a.py").write_bytes(text.encode("latin-1"))
    assert lint_dir(tmp_path)["a.py"][:2] == ("DL001", 4)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.py"
    path.write_text("x = 1\n")
    path.chmod(0)
    assert lint_dir(tmp_path)["secret.py"][0] == "DL900"


def test_unreadable_file_by_simulated_error(tmp_path, monkeypatch):
    """Root can read anything, so simulate the permission error at the point of reading."""
    (tmp_path / "secret.py").write_text("x = 1\n")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    real_open = open

    def guarded_open(file, mode="r", *args, **kwargs):
        if str(file).endswith("secret.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    found = lint_dir(tmp_path)
    assert found["secret.py"][:1] == ("DL900",) and "Permission denied" in found["secret.py"][2]
    assert found["real.py"][0] == "DL001"


def test_unlistable_directory(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    real_scandir = os.scandir

    def guarded_scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("dllint.discovery.os.scandir", guarded_scandir)
    found = lint_dir(tmp_path)
    assert found["locked"][0] == "DL900" and "Cannot list directory" in found["locked"][2]
    assert found["real.py"][0] == "DL001"


def test_symlink_loops_end(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(PAIRED_LISTINGS)
    os.symlink(tmp_path, tmp_path / "pkg" / "loop")
    os.symlink(tmp_path / "pkg" / "self", tmp_path / "pkg" / "self")  # a link to itself
    found = lint_dir(tmp_path)
    assert found["pkg/a.py"][0] == "DL001"
    assert "pkg/self" not in found  # not a .py name: silently not a source file


def test_broken_symlink_named_py(tmp_path):
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    assert lint_dir(tmp_path)["dangling.py"][0] == "DL900"


def test_missing_path_given(tmp_path, run_cli):
    result = run_cli("nowhere.py", "--no-cache")
    assert result.returncode == 1 and b"DL900" in result.stdout and b"No such file" in result.stdout


def test_huge_file_is_skipped_with_a_diagnostic(tmp_path):
    (tmp_path / "generated.py").write_bytes(b"x = 1\n" * (1024 * 1024))
    found = lint_dir(tmp_path)
    assert found["generated.py"][0] == "DL904" and "max-file-size" in found["generated.py"][2]


def test_fix_never_writes_a_file_that_does_not_parse(tmp_path, monkeypatch):
    """A rule whose fix would break the file: the file on disk stays as it was."""
    from dllint.rule import NodeFix
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)

    def broken_wrap(cls, node, prefix, suffix, **kwargs):
        return NodeFix.replace(node, "sorted((", description="broken")

    monkeypatch.setattr(NodeFix, "wrap", classmethod(broken_wrap))
    settings = build_settings(FileConfig(root=tmp_path), fix=True)
    result = run([str(tmp_path)], settings, use_cache=False)
    assert result.files[0].fixed_source is None
    assert [d.code for d in result.diagnostics] == ["DL001"]
