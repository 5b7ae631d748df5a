"""`--output-format` (and its alias `--format`): every format of the table, on the command line
and rendered from findings made here."""

from __future__ import annotations

import json
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

import click
import pytest
from click.testing import CliRunner

from dllint.cli import check, main
from dllint.reports import FORMAT_TABLE, FORMATS, ReportContext, renderer
from dllint.types import Diagnostic, RelatedLocation, Severity, Span

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402

SOFTMAX = "import torch.nn.functional as F\np = F.softmax(logits)\nq = F.softmax(logits)\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    monkeypatch.delenv("CI_PROJECT_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    return tmp_path


def lint(*args: str):
    return CliRunner().invoke(main, [*args, "--no-cache"], catch_exceptions=False)


def _finding(code="DL001", line=2, message="`glob.glob` is unordered", path="a.py",
             severity=Severity.ERROR, cell=None) -> Diagnostic:
    return Diagnostic(code, "some-rule", message, severity, path, Span(line, 5, line, 9),
                      related=(RelatedLocation(path, Span(4, 1, 4, 3), "order matters here"),),
                      cell=cell)


def test_the_option_offers_every_format_of_the_table_and_nothing_else():
    option = next(param for param in check.params if param.name == "output_format")
    assert isinstance(option.type, click.Choice)
    assert list(option.type.choices) == list(FORMAT_TABLE) == list(FORMATS)
    assert {"--output-format", "--format"} == set(option.opts)
    assert option.default == "full"
    for name in FORMATS:  # each module is there and renders an empty run
        assert isinstance(renderer(name)([], ReportContext(files_checked=0)), str)


@pytest.mark.parametrize("output_format", [f for f in FORMATS if f != "text"])
def test_format_is_an_alias_of_output_format(project, output_format):
    long = lint("bad.py", "--output-format", output_format)
    short = lint("bad.py", "--format", output_format)
    assert long.exit_code == short.exit_code == 1
    assert long.output == short.output and "DL001" in long.output


def test_full_is_the_default_and_text_its_old_name(project):
    default, full, text = lint("bad.py"), lint("bad.py", "--output-format", "full"), \
        lint("bad.py", "--format", "text")
    assert default.output == full.output == text.output
    assert "2 | images = glob.glob('images/*.png')" in full.output  # the code frame


def test_the_environment_variable_names_the_format(project):
    result = CliRunner().invoke(main, ["bad.py", "--no-cache"], env={"DLLINT_FORMAT": "pylint"})
    assert result.output.startswith("bad.py:2: [DL001] ")


def test_concise_is_one_line_per_finding_then_the_summary(project):
    (project / "sm.py").write_text(SOFTMAX)
    result = lint(".", "--output-format", "concise")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines[:3]] == [
        ["bad.py:2:10:", "DL001"], ["sm.py:2:5:", "DL202"], ["sm.py:3:5:", "DL202"]]
    assert lines[0].endswith("[*]")
    assert lines[3:] == ["Found 3 problems in 2 files checked.",
                         "[*] 1 fixable with `dllint --fix`."]


def test_concise_of_a_clean_run(project):
    (project / "bad.py").write_text("x = 1\n")
    result = lint("bad.py", "--output-format", "concise")
    assert result.exit_code == 0 and result.output == "All checks passed! (1 file checked)\n"


def test_json_lines_holds_the_objects_of_json_one_per_line(project):
    (project / "sm.py").write_text(SOFTMAX)
    array = json.loads(lint(".", "--output-format", "json").output)
    lines = lint(".", "--output-format", "json-lines").output.splitlines()
    assert len(lines) == 3 and [json.loads(line) for line in lines] == array


def test_json_lines_keeps_a_message_with_line_breaks_on_one_line():
    finding = _finding(message="one\ntwo\u2028three")
    text = renderer("json-lines")([finding, finding], ReportContext(files_checked=1))
    assert text.count("\n") == 2 and len(text.splitlines()) == 2
    assert json.loads(text.splitlines()[0])["message"] == "one\ntwo\u2028three"


def test_pylint_lines(project):
    (project / "sm.py").write_text(SOFTMAX)
    lines = lint(".", "--output-format", "pylint").output.splitlines()
    assert lines[0] == ("bad.py:2: [DL001] `glob.glob` returns entries in arbitrary order, and it "
                        "is paired by position with another listing here; wrap it in `sorted()`")
    assert [line.split(" ", 2)[:2] for line in lines[1:]] == [["sm.py:2:", "[DL202]"],
                                                               ["sm.py:3:", "[DL202]"]]


def test_pylint_of_a_cell_and_a_multiline_message():
    text = renderer("pylint")([_finding(cell=3, line=7, message="a\nb")],
                              ReportContext(files_checked=1))
    assert text == "a.py:1: [DL001] cell 3, line 7: a b\n"


# GitLab Code Quality


def _gitlab(project, *args):
    result = lint(".", "--output-format", "gitlab", *args)
    assert result.exit_code == 1
    return json.loads(result.output)


def test_gitlab_fields(project):
    (project / "sm.py").write_text(SOFTMAX)
    issues = _gitlab(project)
    assert [set(issue) for issue in issues] == [
        {"description", "check_name", "fingerprint", "severity", "location"}] * 3
    first = issues[0]
    assert first["check_name"] == "DL001" and first["severity"] == "major"
    assert first["description"].startswith("(DL001) `glob.glob` returns entries")
    assert first["location"] == {"path": "bad.py", "lines": {"begin": 2, "end": 2}}
    assert len({issue["fingerprint"] for issue in issues}) == 3  # two alike lines differ too


def test_gitlab_fingerprints_survive_lines_added_above_and_change_with_the_line(project):
    before = _gitlab(project)[0]
    (project / "bad.py").write_text("# a comment\n\n" + PAIRED_LISTINGS)
    after = _gitlab(project)[0]
    assert after["location"]["lines"]["begin"] == before["location"]["lines"]["begin"] + 2
    assert after["fingerprint"] == before["fingerprint"]
    (project / "bad.py").write_text(PAIRED_LISTINGS.replace("images/", "pictures/"))
    assert _gitlab(project)[0]["fingerprint"] != before["fingerprint"]


def test_gitlab_severities_and_paths_under_the_ci_project_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "repo" / "src").mkdir(parents=True)
    monkeypatch.setenv("CI_PROJECT_DIR", str(tmp_path / "repo"))
    findings = [_finding(path="repo/src/a.py", severity=severity)
                for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO)]
    issues = json.loads(renderer("gitlab")(findings, ReportContext(files_checked=1)))
    assert [issue["severity"] for issue in issues] == ["major", "minor", "info"]
    assert {issue["location"]["path"] for issue in issues} == {"src/a.py"}


# JUnit


def test_junit_parses_and_has_a_failed_case_per_finding(project):
    (project / "sm.py").write_text(SOFTMAX)
    root = ElementTree.fromstring(lint(".", "--output-format", "junit").output.encode())
    assert root.tag == "testsuites" and root.get("failures") == "3"
    (suite,) = root
    assert suite.tag == "testsuite" and suite.get("tests") == "3"
    cases = list(suite)
    assert [(case.get("classname"), case.get("line")) for case in cases] == [
        ("bad.py", "2"), ("sm.py", "2"), ("sm.py", "3")]
    failure = cases[1].find("failure")
    assert failure.get("type") == "DL202" and failure.get("message").startswith("`softmax`")
    assert failure.text.startswith("line 2, col 5, `softmax` without `dim`")


def test_junit_of_a_clean_run_is_one_passing_case(project):
    (project / "bad.py").write_text("x = 1\n")
    result = lint("bad.py", "--output-format", "junit")
    assert result.exit_code == 0
    root = ElementTree.fromstring(result.output.encode())
    assert root.get("failures") == "0" and root.get("tests") == "1"
    assert [case.find("failure") for case in root.iter("testcase")] == [None]


def test_junit_escapes_markup_and_what_xml_cannot_hold():
    message = 'a < b && c > "d" \x1b[31m \x00 end'
    text = renderer("junit")([_finding(message=message, path="caf\udce9 <x>.py")],
                             ReportContext(files_checked=1))
    case = ElementTree.fromstring(text.encode("utf-8")).find("testsuite/testcase")
    assert case.get("classname") == "caf\\udce9 <x>.py"
    assert case.find("failure").get("message") == 'a < b && c > "d" \\x1b[31m \\x00 end'


def test_the_readme_describes_every_format():
    from conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Output formats\n", 1)[1].split("\n## ", 1)[0]
    described = set(re.findall(r"^- `([a-z-]+)`", section, flags=re.MULTILINE))
    assert described == set(FORMATS) - {"text"}
    assert "`text` is its earlier name" in section
