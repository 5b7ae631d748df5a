"""The command line: every option, every exit status."""

from __future__ import annotations

import json
import os
import sys

import pytest
from click.testing import CliRunner

from dllint.cli import main


sys.path.insert(0, os.path.dirname(__file__))
from helpers import CLEAN, PAIRED_LISTINGS, PAIRED_LISTINGS_FIXED  # noqa: E402


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "src" / "good.py").write_text(CLEAN)
    return tmp_path


def invoke(*args, input=None, env=None):
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def test_findings_exit_1_and_name_the_line(project):
    result = invoke("src", "--no-cache")
    assert result.exit_code == 1
    assert "src/bad.py:2:10: DL001" in result.output
    assert "^^^^" in result.output and "= src/bad.py:4:" in result.output
    assert "Found 1 problem in 2 files checked." in result.output


def test_clean_exit_0(project):
    result = invoke("src/good.py", "--no-cache")
    assert result.exit_code == 0
    assert "All checks passed!" in result.output


def test_default_path_and_check_subcommand_are_the_same(project):
    plain = invoke("--no-cache")
    explicit = invoke("check", ".", "--no-cache")
    assert plain.exit_code == explicit.exit_code == 1
    assert plain.output == explicit.output


def test_exit_zero(project):
    assert invoke("src", "--exit-zero", "--no-cache").exit_code == 0


def test_usage_errors_exit_2(project):
    assert invoke("src", "--select", "XX999").exit_code == 2
    assert invoke("src", "--format", "yaml").exit_code == 2
    assert invoke("explain", "DL777").exit_code == 2


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--select", "DL001", 1), ("--select", "DL9", 0), ("--ignore", "DL001", 0),
    ("--ignore", "DL", 0), ("--extend-select", "DL001", 1),
])
def test_selection(project, flag, value, expected):
    assert invoke("src", flag, value, "--no-cache").exit_code == expected


def test_most_specific_selector_wins(project):
    assert invoke("src", "--select", "DL001", "--ignore", "DL", "--no-cache").exit_code == 1
    assert invoke("src", "--select", "DL", "--ignore", "DL001", "--no-cache").exit_code == 0


def test_format_from_environment_and_output_file(project):
    result = invoke("src", "--no-cache", "-o", "report.json", env={"DLLINT_FORMAT": "json"})
    assert result.exit_code == 1 and result.output == ""
    data = json.loads((project / "report.json").read_text())
    assert [item["code"] for item in data] == ["DL001"]


def test_fix_writes_and_reports_remaining(project):
    result = invoke("src", "--fix", "--no-cache")
    assert (project / "src" / "bad.py").read_text() == PAIRED_LISTINGS_FIXED
    assert result.exit_code == 0
    assert "Fixed 1 problem." in result.output


def test_diff_writes_nothing_and_exits_1(project):
    result = invoke("src", "--diff", "--no-cache")
    assert result.exit_code == 1
    assert "+images = sorted(glob.glob('images/*.png'))" in result.output
    assert (project / "src" / "bad.py").read_text() == PAIRED_LISTINGS


def test_unsafe_fixes_flag_is_needed_for_unsafe_fixes(project, monkeypatch):
    from dllint.types import Applicability
    import dllint.rule as rule_module

    original = rule_module.NodeFix.wrap.__func__

    def unsafe_wrap(cls, node, prefix, suffix, *, description, applicability=Applicability.SAFE):
        return original(cls, node, prefix, suffix, description=description,
                        applicability=Applicability.UNSAFE)

    monkeypatch.setattr(rule_module.NodeFix, "wrap", classmethod(unsafe_wrap))
    result = invoke("src", "--fix", "--no-cache")
    assert result.exit_code == 1 and "1 more fixable with `dllint --fix --unsafe-fixes`" in result.output
    assert (project / "src" / "bad.py").read_text() == PAIRED_LISTINGS
    assert invoke("src", "--fix", "--unsafe-fixes", "--no-cache").exit_code == 0
    assert (project / "src" / "bad.py").read_text() == PAIRED_LISTINGS_FIXED


def test_stdin_filename(project):
    result = invoke("--stdin-filename", "pipe.py", input=PAIRED_LISTINGS)
    assert result.exit_code == 1 and "pipe.py:2:10: DL001" in result.output
    assert "images = glob.glob" in result.output  # the frame comes from stdin, not disk



@pytest.mark.parametrize("paths", [("src/good.py",), ("src",), ("-", "src/good.py")])
def test_stdin_filename_with_paths_is_refused(project, paths):
    result = invoke("--stdin-filename", "pipe.py", *paths, input=PAIRED_LISTINGS)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (f"dllint: error: --stdin-filename lints standard input only, not "
                             f"the paths {', '.join(paths)}: give one or the other\n")


def test_stdin_filename_with_a_lone_dash_is_standard_input(project):
    result = invoke("--stdin-filename", "pipe.py", "-", input=PAIRED_LISTINGS)
    assert result.exit_code == 1 and "pipe.py:2:10: DL001" in result.output


def _notebook_json(code: str) -> str:
    cell = {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
            "outputs": [], "source": code.splitlines(keepends=True)}
    return json.dumps({"cells": [cell], "metadata": {"kernelspec": {"language": "python",
                       "name": "python3", "display_name": "Python 3"}},
                       "nbformat": 4, "nbformat_minor": 5}, indent=1)


def test_stdin_filename_ipynb_is_read_as_a_notebook(project):
    notebook = _notebook_json(PAIRED_LISTINGS)
    (project / "nb.ipynb").write_text(notebook)
    piped = invoke("--stdin-filename", "nb.ipynb", "--no-cache", "--format", "json",
                   input=notebook)
    from_disk = invoke("nb.ipynb", "--no-cache", "--format", "json")
    assert piped.exit_code == from_disk.exit_code == 1
    found = [(d["code"], d["cell"], d["line"]) for d in json.loads(piped.stdout)]
    assert found == [("DL001", 1, 2)]  # not DL903: the JSON is not read as Python
    assert found == [(d["code"], d["cell"], d["line"]) for d in json.loads(from_disk.stdout)]


def test_stdin_filename_ipynb_fix_prints_the_fixed_notebook(project):
    result = invoke("--stdin-filename", "nb.ipynb", "--fix", "--unsafe-fixes", "--no-cache",
                    input=_notebook_json(PAIRED_LISTINGS))
    fixed = json.loads(result.stdout)
    assert "".join(fixed["cells"][0]["source"]) == PAIRED_LISTINGS_FIXED


SOFTMAX_MODEL = """
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
"""
TRAIN_WITH_NET = "from torch import nn\nfrom model import Net\n\nloss = nn.CrossEntropyLoss()(Net()(x), y)\n"


def test_stdin_inside_the_project_knows_its_other_files(project):
    (project / "src" / "model.py").write_text(SOFTMAX_MODEL)
    inside = invoke("--stdin-filename", "src/train.py", "--no-cache", input=TRAIN_WITH_NET)
    assert "src/train.py:4:8: DL002" in inside.output
    # The same text named outside any project has no model.py beside it.
    alone = invoke("-", "--no-cache", input=TRAIN_WITH_NET)
    assert "DL002" not in alone.output and alone.exit_code == 0


def test_stdin_with_fix_prints_fixed_source(project):
    result = invoke("--stdin-filename", "pipe.py", "--fix", input=PAIRED_LISTINGS)
    assert result.exit_code == 0
    assert result.stdout.startswith(PAIRED_LISTINGS_FIXED)  # the report goes to stderr
    assert "Fixed 1 problem." in result.stderr


def test_statistics(project):
    result = invoke("src", "--statistics", "--no-cache")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "1\tDL001\t[*] unordered-file-listing"


def test_quiet_and_verbose(project):
    quiet = invoke("src", "-q", "--no-cache")
    # The finding's line and nothing else: no frame, no summary (and still exit 1).
    assert quiet.exit_code == 1
    [line] = quiet.output.splitlines()
    assert line.startswith("src/bad.py:2:10: DL001 `glob.glob` returns entries")
    verbose = CliRunner().invoke(main, ["src", "-v", "--no-cache"])
    assert "configuration:" in verbose.output and "files, 0 from cache" in verbose.output


def test_jobs_gives_the_same_result(project):
    for index in range(40):
        (project / "src" / f"copy{index}.py").write_text(PAIRED_LISTINGS)
    serial = invoke("src", "--jobs", "1", "--no-cache", "--format", "json")
    parallel = invoke("src", "--jobs", "2", "--no-cache", "--format", "json")
    assert json.loads(serial.output) == json.loads(parallel.output)
    assert len(json.loads(parallel.output)) == 41


def test_cache_is_used_and_invalidated(project):
    first = CliRunner().invoke(main, ["src", "-v"])
    second = CliRunner().invoke(main, ["src", "-v"])
    assert "0 from cache" in first.output and "2 from cache" in second.output
    assert first.exit_code == second.exit_code == 1
    (project / "src" / "bad.py").write_text(CLEAN)
    third = CliRunner().invoke(main, ["src", "-v"])
    assert "1 from cache" in third.output and third.exit_code == 0


def test_no_cache_writes_no_cache(project):
    invoke("src", "--no-cache")
    assert not (project / ".dllint_cache").exists()
    invoke("src")
    assert (project / ".dllint_cache" / ".gitignore").exists()


def test_config_option_and_force_exclude(project):
    (project / "other.toml").write_text("[tool.dllint]\nignore = ['DL001']\n")
    assert invoke("src", "--config", "other.toml", "--no-cache").exit_code == 0
    (project / "pyproject.toml").write_text("[tool.dllint]\nextend-exclude = ['src/bad.py']\n")
    assert invoke("src/bad.py", "--no-cache").exit_code == 1  # named explicitly: linted
    assert invoke("src/bad.py", "--force-exclude", "--no-cache").exit_code == 0


def test_report_unused_suppressions(project):
    (project / "src" / "good.py").write_text(CLEAN.replace("print(images)", "print(images)  # dllint: ignore[DL001]"))
    assert invoke("src/good.py", "--no-cache").exit_code == 0
    result = invoke("src/good.py", "--report-unused-suppressions", "--no-cache")
    assert result.exit_code == 1 and "DL905" in result.output


def test_rules_and_explain(project):
    table = invoke("rules")
    assert "DL001" in table.output and "unordered-file-listing" in table.output
    rows = json.loads(invoke("rules", "--format", "json").output)
    assert {"code": "DL001", "name": "unordered-file-listing", "fix": "sometimes"}.items() <= rows[0].items()
    for key in ("DL001", "unordered-file-listing", "dl001"):
        text = invoke("explain", key).output
        assert "## What it does" in text and "## Use instead" in text


def test_version():
    from dllint import __version__
    assert __version__ in invoke("--version").output


def test_python_dash_m_and_real_exit_status(run_cli, tmp_path):
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    result = run_cli("bad.py", "--no-cache")
    assert result.returncode == 1 and b"bad.py:2:10: DL001" in result.stdout
    piped = run_cli("--stdin-filename", "x.py", stdin=CLEAN.encode())
    assert piped.returncode == 0


def test_internal_error_exits_2(project, monkeypatch):
    from dllint.registry import all_rules

    def visit_Call(self, node):
        raise ValueError("boom")

    rule = all_rules()[0]
    monkeypatch.setattr(rule, "visit_Call", visit_Call)
    monkeypatch.setattr(rule, "_visitor_names_cache", None, raising=False)
    result = invoke("src", "--no-cache")
    assert result.exit_code == 2
    assert "DL999" in result.output and "ValueError: boom" in result.output


def test_baseline_records_then_reports_only_new_findings(project):
    assert invoke("src", "--no-cache", "--baseline", "dllint-baseline.json").exit_code == 0
    data = json.loads((project / "dllint-baseline.json").read_text())
    assert data["findings"] == [{"code": "DL001", "path": "src/bad.py", "cell": None,
                                 "text": "glob.glob('images/*.png')", "count": 1}]
    assert invoke("src", "--no-cache", "--baseline", "dllint-baseline.json").exit_code == 0
    # An unrelated edit moves the finding down two lines: still known.
    (project / "src" / "bad.py").write_text("# a\n# b\n" + PAIRED_LISTINGS)
    assert invoke("src", "--no-cache", "--baseline", "dllint-baseline.json").exit_code == 0
    # A second, identical listing elsewhere is new.
    (project / "src" / "more.py").write_text(PAIRED_LISTINGS)
    result = invoke("src", "--no-cache", "--baseline", "dllint-baseline.json")
    assert result.exit_code == 1 and "src/more.py:2:10: DL001" in result.output
    assert "src/bad.py" not in result.output
    assert invoke("src", "--no-cache", "--baseline", "dllint-baseline.json",
                  "--update-baseline").exit_code == 0
    assert invoke("src", "--no-cache", "--baseline", "dllint-baseline.json").exit_code == 0


def test_bad_baseline_is_a_usage_error(project):
    (project / "broken.json").write_text("{}")
    assert invoke("src", "--no-cache", "--baseline", "broken.json").exit_code == 2
    assert invoke("src", "--no-cache", "--update-baseline").exit_code == 2
