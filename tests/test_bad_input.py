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
    real_open = os.open

    def guarded_open(file, flags, *args, **kwargs):
        if str(file).endswith("secret.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr("dllint.source.os.open", guarded_open)
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
    """A typo on the command line is a usage error (exit 2), not a finding about a file."""
    result = run_cli("nowhere.py", "--no-cache")
    assert result.returncode == 2 and result.stdout == b""
    assert b"no such file or directory: nowhere.py" in result.stderr


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


def test_cookie_that_the_bytes_contradict(tmp_path):
    (tmp_path / "mixed.py").write_bytes(b"# -*- coding: utf-8 -*-\nname = 'caf\xe9'\n")
    found = lint_dir(tmp_path)
    assert found["mixed.py"][:2] == ("DL901", 2) and "utf-8" in found["mixed.py"][2]


def test_ten_megabyte_generated_file_is_a_documented_skip(tmp_path):
    (tmp_path / "weights.py").write_bytes(b"W = [" + b"0.123456789, " * 800_000 + b"]\n")
    assert lint_dir(tmp_path)["weights.py"][0] == "DL904"
    found = lint_dir(tmp_path, ignore=["DL904"])
    assert "weights.py" not in found


def test_deep_nesting_is_analysed_or_skipped_never_a_crash(tmp_path):
    (tmp_path / "deep_sum.py").write_text(
        "import torch.nn.functional as F\nx = " + " + ".join(["a"] * 5000)
        + "\nloss = F.cross_entropy(F.softmax(x, dim=1), y)\n")
    # 60 levels: deep, but within CPython's limit of 100 indentation levels (beyond it, DL903).
    (tmp_path / "deep_blocks.py").write_text(
        "import glob\n" + "".join("    " * i + "if x:\n" for i in range(60))
        + "    " * 60 + "a, b = glob.glob('a'), glob.glob('b')\n" + "    " * 60 + "zip(a, b)\n")
    found = lint_dir(tmp_path)
    assert found["deep_sum.py"][0] == "DL907"  # a documented skip, not an internal error
    assert found["deep_blocks.py"][0] == "DL001"


def test_a_run_over_the_whole_matrix_says_what_happened(tmp_path, run_cli):
    (tmp_path / "syntax.py").write_text("def (:\n")
    (tmp_path / "py2.py").write_text("print 'x'\n")
    (tmp_path / "binary.py").write_bytes(b"\x00\x01\x02")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "crlf.py").write_bytes(b"x = 1\r\n")
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbfx = 1\n")
    (tmp_path / "nb.ipynb").write_text("{not json")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    os.symlink(tmp_path, tmp_path / "loop")
    result = run_cli(".", "--no-cache", "--format", "json")
    assert result.returncode == 1  # findings, not an internal error
    import json
    codes = {os.path.basename(item["path"]): item["code"] for item in json.loads(result.stdout)}
    assert codes == {"syntax.py": "DL903", "py2.py": "DL903", "binary.py": "DL902",
                     "latin.py": "DL901", "nb.ipynb": "DL906", "real.py": "DL001"}


def test_cpython_syntax_warnings_about_user_code_are_not_printed(tmp_path, run_cli):
    # Invalid escapes make CPython's parser warn (loudly from 3.12 on), the rest its compiler.
    (tmp_path / "odd.py").write_text("x = 1()\npattern = '\\d+'\nassert (x, 'never fails')\n")
    result = run_cli("odd.py", "--no-cache")
    assert result.returncode == 0 and result.stderr == b""
