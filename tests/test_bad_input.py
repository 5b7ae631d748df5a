"""Files that cannot be analysed become one diagnostic each, and the run goes on."""

from __future__ import annotations

import json
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
    # A documented skip, not an internal error: libcst would take minutes to parse the sum.
    assert found["deep_sum.py"][0] == "DL909"
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


def _codecs_that_are_not_text_encodings() -> list[str]:
    """Every bytes-to-bytes codec this Python registers (rot13, hex, base64, zlib, ...)."""
    import codecs
    import encodings
    import pkgutil
    found = set()
    for module in pkgutil.iter_modules(encodings.__path__):
        try:
            info = codecs.lookup(module.name)
        except LookupError:
            continue
        if not info._is_text_encoding:
            found.add(info.name)
    return sorted(found)


NON_TEXT_CODECS = _codecs_that_are_not_text_encodings()


def test_the_non_text_codecs_are_found():
    assert {"rot-13", "hex", "base64", "zlib"} <= set(NON_TEXT_CODECS)


@pytest.mark.parametrize("codec", [*NON_TEXT_CODECS, "rot13", "undefined", "punycode"])
def test_coding_cookie_naming_a_codec_that_cannot_decode_source(tmp_path, codec):
    """bytes-to-bytes codecs refuse `bytes.decode` (LookupError); `undefined` and `punycode`
    fail with a UnicodeError that has no position. Either way: DL901, and the run goes on."""
    (tmp_path / "odd.py").write_bytes(f"# coding: {codec}\nx = 1\n".encode())
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    found = lint_dir(tmp_path)
    assert found["odd.py"][:2] == ("DL901", 1)
    assert "Cannot decode file" in found["odd.py"][2]
    assert found["real.py"][0] == "DL001"


def test_coding_cookie_of_a_non_text_codec_on_standard_input(tmp_path, run_cli):
    result = run_cli("--no-cache", "--stdin-filename", "odd.py", stdin=b"# coding: hex\nx = 1\n")
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert b"odd.py:1:1: DL901" in result.stdout and b"'hex', which is not a text encoding" \
        in result.stdout


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@needs_fifo
def test_fifo_named_on_the_command_line_is_refused_not_read(tmp_path, run_cli):
    os.mkfifo(tmp_path / "pipe.py")  # opening it for reading would wait for a writer forever
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    result = run_cli("pipe.py", "real.py")  # with the cache: its hashing must not read it either
    assert result.returncode == 1, result.stderr
    assert b"pipe.py:1:1: DL900 Not a regular file: a FIFO (named pipe); not read" in result.stdout
    assert b"real.py:2:10: DL001" in result.stdout


@needs_fifo
def test_a_baseline_never_reads_a_path_for_its_flagged_text(tmp_path, run_cli):
    """The baseline keys findings by their flagged text, taken from the linted text: a FIFO
    named with --baseline must not be opened (it would wait for a writer forever)."""
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    recorded = run_cli("pipe.py", "real.py", "--baseline", "baseline.json", "--no-cache")
    assert recorded.returncode == 0, recorded.stderr
    keys = json.loads((tmp_path / "baseline.json").read_text())["findings"]
    assert {(key["code"], key["path"]) for key in keys} == {("DL900", "pipe.py"),
                                                           ("DL001", "real.py")}
    assert [key["text"] for key in keys if key["code"] == "DL001"] == [
        "glob.glob('images/*.png')"]
    again = run_cli("pipe.py", "real.py", "--baseline", "baseline.json", "--no-cache")
    assert again.returncode == 0 and b"DL0" not in again.stdout, again.stdout


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_device_named_on_the_command_line_is_refused_not_read(tmp_path, run_cli):
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    result = run_cli("/dev/zero", "real.py", "--no-cache")  # read whole, it never ends
    assert result.returncode == 1, result.stderr
    assert b"/dev/zero:1:1: DL900 Not a regular file: a character device" in result.stdout


@needs_fifo
def test_links_to_non_regular_files_in_a_folder_are_reported_and_never_read(tmp_path, run_cli):
    os.mkfifo(tmp_path / "pipe")
    os.symlink(tmp_path / "pipe", tmp_path / "to_pipe.py")  # the text report once read it
    os.mkfifo(tmp_path / "pipe.py")
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", tmp_path / "zero.py")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    result = run_cli(".", "--no-cache")  # the text format, with code frames
    assert result.returncode == 1, result.stderr
    assert b"to_pipe.py:1:1: DL900 Not a regular file: a FIFO" in result.stdout
    assert b"pipe.py:1:1: DL900 Not a regular file: a FIFO" in result.stdout
    if os.path.exists("/dev/zero"):
        assert b"zero.py:1:1: DL900 Not a regular file: a character device" in result.stdout
    assert b"real.py:2:10: DL001" in result.stdout


@needs_fifo
def test_a_path_replaced_by_a_fifo_after_discovery_is_refused_when_opened(tmp_path):
    """Between the check and the open, a file may be swapped: the type is checked again on
    the open descriptor, which a FIFO does not block."""
    from dllint.source import read_source
    os.mkfifo(tmp_path / "pipe.py")
    real_stat = os.stat

    def stat_says_regular(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if str(path).endswith("pipe.py"):
            return real_stat(__file__)
        return result

    import dllint.source
    original = dllint.source.os.stat
    dllint.source.os.stat = stat_says_regular
    _unblock_a_reader_of(tmp_path / "pipe.py")  # so that a blocking read fails, not hangs
    try:
        found = read_source(str(tmp_path / "pipe.py"))
    finally:
        dllint.source.os.stat = original
    assert found.code == "DL900" and "FIFO" in found.message


def _unblock_a_reader_of(fifo, seconds: float = 10.0) -> None:
    """Write one line to `fifo` if, within `seconds`, someone opens it for reading."""
    import errno
    import threading
    import time

    def write() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:  # ENXIO: no reader yet
                    return
                time.sleep(0.05)
                continue
            os.write(descriptor, b"x = 1\n")
            os.close(descriptor)
            return

    threading.Thread(target=write, daemon=True).start()


def test_a_file_skipped_as_too_large_is_never_opened(tmp_path, monkeypatch):
    """Not to hash it for the cache, not to lint it, not for a code frame (a 1 GiB file was
    read whole for its frame)."""
    from click.testing import CliRunner

    from dllint.cli import main
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\nmax-file-size = 1000\n")
    (tmp_path / "big.py").write_text(PAIRED_LISTINGS + "x = 1\n" * 500)
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    opened = []
    real_open, real_os_open = open, os.open

    def recording_open(file, *args, **kwargs):
        if str(file).endswith("big.py"):
            opened.append(file)
        return real_open(file, *args, **kwargs)

    def recording_os_open(file, *args, **kwargs):
        if str(file).endswith("big.py"):
            opened.append(file)
        return real_os_open(file, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("builtins.open", recording_open)
    monkeypatch.setattr("os.open", recording_os_open)
    result = CliRunner().invoke(main, [".", "-j", "1"])
    assert result.exit_code == 1, result.output
    assert "big.py:1:1: DL904" in result.output and "real.py:2:10: DL001" in result.output
    assert opened == []


def test_code_frames_come_from_the_linted_text_not_the_file(tmp_path):
    """A report never opens a file: a path whose text it was not given gets no frame."""
    from dllint.reports import ReportContext
    from dllint.reports.text import render
    from dllint.types import Diagnostic, Severity, Span
    path = tmp_path / "a.py"
    path.write_text("on_disk = 1\n")
    finding = Diagnostic("DL001", "x", "message", Severity.ERROR, str(path), Span(1, 1, 1, 8))
    without = render([finding], ReportContext(files_checked=1))
    assert "on_disk" not in without
    given = render([finding], ReportContext(files_checked=1, sources={str(path): "linted = 1\n"}))
    assert "1 | linted = 1" in given and "on_disk" not in given


def test_frames_of_cached_findings_are_the_text_that_was_linted(tmp_path, run_cli):
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    first = run_cli("real.py")
    second = run_cli("real.py")  # from the cache
    frame = b"2 | images = glob.glob('images/*.png')"
    assert frame in first.stdout and second.stdout == first.stdout


def test_fixed_text_is_the_frame_of_what_remains_after_fix(tmp_path):
    """After --fix, findings are positioned in the fixed text; that is the text kept."""
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS + "import torch\nx = torch.Tensor(3, 4)\n")
    settings = build_settings(FileConfig(root=tmp_path), fix=True)
    result = run([str(tmp_path)], settings, use_cache=False)
    [file_result] = result.files
    assert file_result.fixed_source is not None and file_result.text == file_result.fixed_source
    assert result.sources == {file_result.path: file_result.fixed_source}


def test_symlink_loop_named_on_the_command_line(tmp_path, run_cli):
    os.symlink(tmp_path / "b.py", tmp_path / "a.py")
    os.symlink(tmp_path / "a.py", tmp_path / "b.py")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    result = run_cli("a.py", "real.py", "--no-cache")  # a.py first: the config search starts there
    assert result.returncode == 1 and b"Traceback" not in result.stderr, result.stderr
    assert b"a.py:1:1: DL900 Cannot read file: " in result.stdout
    assert b"real.py:2:10: DL001" in result.stdout


def test_config_search_from_a_symlink_loop_searches_its_folder(tmp_path):
    from dllint.config import find_config
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    os.symlink(tmp_path / "loop.py", tmp_path / "loop.py")
    assert find_config(tmp_path / "loop.py") == tmp_path / "pyproject.toml"


def test_unreadable_file_named_on_the_command_line(tmp_path, monkeypatch):
    """As pre-commit passes it: a DL900 for that file, the others linted (click's readability
    check once made it a usage error). Root reads anything, so the refusal is simulated."""
    from click.testing import CliRunner

    from dllint.cli import main
    (tmp_path / "secret.py").write_text("x = 1\n")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    real_access, real_open = os.access, os.open
    monkeypatch.setattr("os.access", lambda path, mode, *args, **kwargs: False if str(
        path).endswith("secret.py") else real_access(path, mode, *args, **kwargs))

    def refusing_open(file, flags, *args, **kwargs):
        if str(file).endswith("secret.py"):
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, *args, **kwargs)

    monkeypatch.setattr("os.open", refusing_open)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["secret.py", "real.py", "--no-cache"])
    assert result.exit_code == 1, result.output
    assert "secret.py:1:1: DL900 Cannot read file: Permission denied" in result.output
    assert "real.py:2:10: DL001" in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_files_named_on_the_command_line_for_real(tmp_path, run_cli):
    (tmp_path / "secret.py").write_text("x = 1\n")
    (tmp_path / "secret.py").chmod(0)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.py").write_text("x = 1\n")
    (tmp_path / "locked").chmod(0)
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    try:
        result = run_cli("secret.py", "locked/inside.py", "real.py", "--no-cache")
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert b"secret.py:1:1: DL900 Cannot read file: Permission denied" in result.stdout
    assert b"locked/inside.py:1:1: DL900 Cannot read file: Permission denied" in result.stdout


def test_file_in_a_folder_that_cannot_be_searched_is_a_finding_not_missing(tmp_path,
                                                                          monkeypatch):
    """`locked/inside.py` when `locked` may not be searched: stat fails with EACCES, which is
    not 'no such file' (a usage error) but a DL900 for that path. Simulated, for root."""
    from click.testing import CliRunner

    from dllint.cli import main
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.py").write_text("x = 1\n")
    (tmp_path / "real.py").write_text(PAIRED_LISTINGS)
    real_stat, real_lstat = os.stat, os.lstat

    def refusing(real):
        def stat(path, *args, **kwargs):
            if str(path).endswith("inside.py"):
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args, **kwargs)
        return stat

    monkeypatch.setattr("os.stat", refusing(real_stat))
    monkeypatch.setattr("os.lstat", refusing(real_lstat))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["locked/inside.py", "real.py", "--no-cache"])
    assert result.exit_code == 1, result.output
    assert "locked/inside.py:1:1: DL900 Cannot read file: Permission denied" in result.output
    assert "real.py:2:10: DL001" in result.output


def test_a_huge_integer_in_a_scaling_expression_is_not_a_known_constant(tmp_path):
    digits = "1" + "0" * 5000  # past Python's int-string limit (4300 digits)
    (tmp_path / "scale.py").write_text(
        "import torch\nx = torch.randn(3)\n"
        f"a = x / {digits}\n"
        f"b = x / 0x{'f' * 400}\n"  # no digit limit for hex, but too large for a float
        "c = x / 1e999\n"  # a float literal that is infinite
        "d = x / (1e308 / 1e-10)\n"  # finite operands, infinite quotient
        f"e = x.float() / 255 / {digits}\n"
        f"f = x.squeeze({digits})\n"
        f"g = torch.Tensor({digits}, 3)\n")
    found = lint_dir(tmp_path, select=["ALL"])
    assert all(code != "DL999" for code, _, _ in found.values()), found


@pytest.mark.parametrize(("literal", "expected"), [
    ("255", 255.0), ("1_000", 1000.0), ("0xff", 255.0), ("-1", -1.0), ("1 / 255", 1 / 255),
    ("1" + "0" * 5000, None), ("0x" + "f" * 400, None), ("1e999", None), ("-1e999", None),
    ("1e308 / 1e-10", None), ("1 / 0", None), ("'255'", None),
])
def test_number_reads_only_constants_a_float_holds(literal, expected):
    import libcst as cst

    from dllint.semantic.syntax import number
    assert number(cst.parse_expression(literal)) == expected
