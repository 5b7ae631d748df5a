"""A mistake in what dllint is asked to do gets one clear line and a documented exit status,
never a Python traceback; a trace that could not check a training step never says it passed."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from helpers import CLEAN, PAIRED_LISTINGS


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "good.py").write_text(CLEAN)
    return tmp_path


def one_error_line(result, *fragments):
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dllint: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


def test_baseline_in_a_missing_folder(run_cli, project):
    result = run_cli("bad.py", "--baseline", "missing-dir/b.json", cwd=project)
    assert result.returncode == 2
    one_error_line(result, "missing-dir/b.json", "does not exist")


def test_output_in_a_missing_folder(run_cli, project):
    result = run_cli("bad.py", "-o", "/nonexistent/dir/out.txt", cwd=project)
    assert result.returncode == 2
    one_error_line(result, "/nonexistent/dir/out.txt")


@pytest.mark.parametrize(("toml", "line", "what"), [
    ("[tool.dllint\nselect = ['DL001']\n", 1, "Expected ']'"),
    ("[project]\nname = 'x'\n\n[tool.dllint]\nselect = ['DL001',\n  'DL002'\n", 5,
     "Unclosed array"),
])
def test_malformed_pyproject_names_file_and_line(run_cli, project, toml, line, what):
    (project / "pyproject.toml").write_text(toml)
    result = run_cli("good.py", cwd=project)
    assert result.returncode == 2
    one_error_line(result, f"pyproject.toml:{line}: invalid TOML", what)


def test_someone_elses_broken_pyproject_is_not_ours_to_judge(run_cli, project):
    (project / "pyproject.toml").write_text("[tool.black\nline-length = 99\n")
    assert run_cli("good.py", cwd=project).returncode == 0


def test_a_path_that_does_not_exist_is_a_usage_error(run_cli, project):
    result = run_cli("bad.py", "typo.py", "gone/", cwd=project)
    assert result.returncode == 2 and result.stdout == b""  # nothing linted
    one_error_line(result, "no such file or directory: typo.py, gone/")


def test_a_broken_symlink_is_still_a_finding_for_that_file(run_cli, project):
    (project / "dangling.py").symlink_to(project / "nowhere.py")
    result = run_cli("dangling.py", "good.py", cwd=project)
    assert result.returncode == 1 and b"DL900" in result.stdout


def test_nothing_matched_warns(run_cli, project):
    (project / "empty").mkdir()
    (project / "empty" / "notes.txt").write_text("no python here")
    result = run_cli("empty", cwd=project)
    assert result.returncode == 0
    assert "warning: no Python files or notebooks found under empty" in result.stderr.decode()


def test_help_shows_commands_and_check_options(run_cli, project):
    result = run_cli("--help", cwd=project)
    text = result.stdout.decode()
    assert result.returncode == 0
    for command in ("check", "trace", "audit", "lsp", "rules", "explain"):
        assert f"  {command} " in text
    for option in ("--select", "--fix", "--format", "--baseline", "--statistics"):
        assert option in text
    assert "Exit status" in text


def script(folder, name, body):
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return str(path)


TRAINS = textwrap.dedent("""
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 2, (8,)))
        loss.backward()
        optimizer.step()
""")


@pytest.mark.slow  # each case runs `dllint trace`, which imports torch: 12-20 s apiece
@pytest.mark.parametrize(("body", "arguments", "status", "says"), [
    ("raise ValueError('no such dataset')\n", (), 3, "the script raised ValueError"),
    ("import time\nwhile True:\n    time.sleep(0.01)\n", ("--timeout", "0.5"), 3,
     "ran past the 0.5 s timeout"),
    ("import sys\nsys.exit(4)\n", (), 3, "the script exited with status 4"),
    ("x = 1\n", (), 3, "no backward pass and no optimizer step were seen"),
    (TRAINS + "import sys\nsys.exit(0)\n", ("--steps", "5"), 0, "All checks passed"),
    (TRAINS + "import sys\nsys.exit(5)\n", ("--steps", "5"), 3, "exited with status 5"),
])
def test_trace_says_what_happened_and_exits_by_the_documented_status(
        run_cli, tmp_path, body, arguments, status, says):
    pytest.importorskip("torch")
    path = script(tmp_path, "train.py", body)
    result = run_cli("trace", *arguments, path, cwd=tmp_path)
    output = result.stdout.decode()
    assert result.returncode == status, output + result.stderr.decode()
    assert says in output
    if status:
        assert "All checks passed" not in output
        assert "The trace is incomplete" in output


@pytest.mark.slow  # runs `dllint trace --overfit` (torch): 65 s on the loaded build machine
def test_overfit_takes_no_value_in_front_of_the_script(run_cli, tmp_path):
    pytest.importorskip("torch")
    path = script(tmp_path, "train.py", TRAINS)
    bare = run_cli("trace", "--overfit", path, "--no-static", cwd=tmp_path)
    assert "steps: 200 " in bare.stdout.decode(), bare.stderr.decode()
    counted = run_cli("trace", "--overfit", "20", path, "--no-static", cwd=tmp_path)
    assert "steps: 20 " in counted.stdout.decode()
    assigned = run_cli("trace", "--overfit=30", path, "--no-static", cwd=tmp_path)
    assert "steps: 30 " in assigned.stdout.decode()


def _baseline(**finding):
    import json
    entry = {"code": "DL001", "path": "bad.py", "cell": None,
             "text": "glob.glob('images/*.png')", "count": 1, **finding}
    return json.dumps({"version": 1, "findings": [entry]})


@pytest.mark.parametrize(("text", "problem"), [
    (_baseline(count="1"), "findings[0].count must be an integer, not a string"),
    (_baseline(count=1.5), "findings[0].count must be an integer, not a number"),
    (_baseline(count=None), "findings[0].count must be an integer, not null"),
    (_baseline(cell="1"), "findings[0].cell must be null or an integer, not a string"),
    (_baseline(text=["glob"]), "findings[0].text must be a string, not a list"),
    ('{"version": 1, "findings": {}}', "findings must be a list of objects, not an object"),
    ('{"version": 2, "findings": []}', "version must be 1, not 2"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_a_baseline_of_the_wrong_shape_is_one_error_line(run_cli, project, text, problem):
    (project / "baseline.json").write_text(text)
    result = run_cli("bad.py", "--no-cache", "--baseline", "baseline.json", cwd=project)
    assert result.returncode == 2
    one_error_line(result, "baseline.json: not a dllint baseline", problem)


def test_a_well_formed_baseline_is_still_read(run_cli, project):
    (project / "baseline.json").write_text(_baseline())
    assert run_cli("bad.py", "--no-cache", "--baseline", "baseline.json", cwd=project).returncode == 0
@pytest.mark.parametrize(("option", "value"), [
    ("--select", ""), ("--select", " "), ("--select", ","), ("--select", "DL001,"),
    ("--extend-select", ""), ("--ignore", ""), ("--ignore", "DL001,,DL002"),
])
def test_an_empty_rule_code_is_refused_as_the_config_file_refuses_it(run_cli, project, option,
                                                                     value):
    """`--select ""` once turned every rule off and passed; `select = [""]` is refused."""
    result = run_cli(option, value, "bad.py", "--no-cache", cwd=project)
    assert result.returncode == 2 and result.stdout == b""
    one_error_line(result, f"{option}: empty rule code in {value!r}")


def test_an_empty_select_in_the_config_file_is_refused_too(run_cli, project):
    (project / "pyproject.toml").write_text("[tool.dllint]\nselect = [\"\"]\n")
    result = run_cli("bad.py", "--no-cache", cwd=project)
    assert result.returncode == 2
    one_error_line(result, "select: unknown rule code ''")


@pytest.fixture
def non_utf8_name(project):
    """A file whose name is not valid UTF-8 (Linux allows any bytes; macOS refuses them)."""
    name = b"caf\xe9.py"
    try:
        with open(os.path.join(os.fsencode(project), name), "wb") as handle:
            handle.write(PAIRED_LISTINGS.encode())
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    (project / "bad.py").unlink()
    (project / "good.py").unlink()
    return name


# A strict UTF-8 standard output, as in a UTF-8 locale: a lone surrogate cannot be written.
STRICT_UTF8 = {"PYTHONIOENCODING": "utf-8:strict"}


@pytest.mark.parametrize("output_format", ["text", "github", "sarif", "json"])
def test_non_utf8_file_names_in_a_report_file(run_cli, project, non_utf8_name, output_format):
    result = run_cli(".", "--no-cache", "--format", output_format, "-o", "report.out",
                     cwd=project, env=STRICT_UTF8)
    assert result.returncode == 1 and result.stderr == b"", result.stderr
    report = (project / "report.out").read_bytes()
    if output_format == "sarif":
        log = json.loads(report)
        uris = [result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for result in log["runs"][0]["results"]]
        assert uris == ["caf%E9.py"]  # a URI percent-encodes the name's own bytes
    elif output_format == "json":
        assert json.loads(report)[0]["path"] == os.fsdecode(non_utf8_name)
    else:
        assert non_utf8_name + b":2:10" in report or b"file=" + non_utf8_name in report


@pytest.mark.parametrize("output_format", ["text", "github", "sarif"])
def test_non_utf8_file_names_on_standard_output(run_cli, project, non_utf8_name,
                                                output_format):
    result = run_cli(".", "--no-cache", "--format", output_format, cwd=project, env=STRICT_UTF8)
    assert result.returncode == 1 and result.stderr == b"", result.stderr
    assert non_utf8_name in result.stdout or b"caf%E9.py" in result.stdout


def test_non_utf8_file_names_in_a_diff(run_cli, project, non_utf8_name):
    result = run_cli(".", "--no-cache", "--diff", cwd=project, env=STRICT_UTF8)
    assert result.returncode == 1 and b"Traceback" not in result.stderr, result.stderr
    assert b"+++ " in result.stdout and non_utf8_name in result.stdout


@pytest.mark.parametrize(("arguments", "fragment"), [
    (("--frobnicate",), "No such option '--frobnicate'. Did you mean '--format'?"),
    (("check", "--format", "xml", "good.py"), "'xml' is not one of"),
    (("check", "--jobs", "0", "good.py"), "--jobs"),
    (("explain",), "Missing argument 'CODE'"),
    (("bad.py", "--update-baseline"), "--update-baseline needs --baseline FILE"),
])
def test_click_usage_errors_are_one_line_with_status_2(run_cli, project, arguments, fragment):
    result = run_cli(*arguments, cwd=project)
    assert result.returncode == 2
    one_error_line(result, fragment)
    assert b"Usage:" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["explain", "rule"])
def test_rule_is_explain_under_ruffs_name(run_cli, project, command):
    result = run_cli(command, "DL001", cwd=project)
    assert result.returncode == 0
    assert result.stdout.decode().startswith("# DL001 unordered-file-listing")


@pytest.mark.parametrize(("typed", "suggestion"), [
    ("DL01", "'DL001'"), ("dl0O2", "'DL002'"), ("unordered-file-listin", "'unordered-file-listing'"),
    ("rt01", "'RT001'"),
])
def test_an_unknown_rule_suggests_the_nearest(run_cli, project, typed, suggestion):
    result = run_cli("rule", typed, cwd=project)
    assert result.returncode == 2
    one_error_line(result, f"unknown rule {typed!r} (did you mean {suggestion}?)")


def test_an_unknown_rule_far_from_any_suggests_nothing(run_cli, project):
    result = run_cli("rule", "zzzzzz", cwd=project)
    assert result.returncode == 2
    one_error_line(result, "unknown rule 'zzzzzz'; `dllint rules` lists them")
