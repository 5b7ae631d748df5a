"""`--statistics`: findings counted per rule, as text or JSON, in the shape ruff writes them."""

from __future__ import annotations

import json
import os
import sys

import pytest
from click.testing import CliRunner

from dllint.cli import main
from dllint.reports import ReportContext, renderer, rule_counts
from dllint.types import Applicability, Diagnostic, Edit, Fix, Severity, Span

sys.path.insert(0, os.path.dirname(__file__))
from helpers import CLEAN, PAIRED_LISTINGS  # noqa: E402

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


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Two fixable DL001 findings and one DL002 finding that has no fix."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "src" / "bad2.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "src" / "model.py").write_text(SOFTMAX_MODEL)
    (tmp_path / "src" / "train.py").write_text(TRAIN_WITH_NET)
    (tmp_path / "src" / "good.py").write_text(CLEAN)
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_text_one_line_per_rule_most_frequent_first_then_the_totals(project):
    result = invoke("src", "--statistics", "--no-cache")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "2\tDL001\t[*] unordered-file-listing",
        "1\tDL002\t[ ] activation-before-logit-loss",
        "Found 3 problems in 5 files checked.",
        "[*] 2 fixable with `dllint --fix`.",
    ]


def test_quiet_text_has_the_rule_lines_only(project):
    result = invoke("src", "--statistics", "--no-cache", "-q")
    assert result.exit_code == 1
    assert result.output.splitlines() == ["2\tDL001\t[*] unordered-file-listing",
                                          "1\tDL002\t[ ] activation-before-logit-loss"]


def test_json_is_an_array_of_code_name_count_fixable(project):
    result = invoke("src", "--statistics", "--no-cache", "--format", "json")
    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert rows == [
        {"code": "DL001", "name": "unordered-file-listing", "count": 2, "fixable": True},
        {"code": "DL002", "name": "activation-before-logit-loss", "count": 1, "fixable": False},
    ]
    assert [list(row) for row in rows] == [["code", "name", "count", "fixable"]] * 2


def test_exit_status_is_that_of_a_normal_run(project):
    assert invoke("src", "--statistics", "--no-cache", "--exit-zero").exit_code == 0
    clean = invoke("src/good.py", "--statistics", "--no-cache", "--format", "json")
    assert clean.exit_code == 0 and json.loads(clean.output) == []
    text = invoke("src/good.py", "--statistics", "--no-cache")
    assert text.exit_code == 0 and text.output == "All checks passed! (1 file checked)\n"


@pytest.mark.parametrize("output_format", ["github", "sarif", "gitlab", "junit", "json-lines",
                                           "pylint"])
def test_other_formats_are_refused_before_any_work(project, output_format):
    result = CliRunner().invoke(main, ["src", "--statistics", "--format", output_format])
    assert result.exit_code == 2
    assert result.output == (f"dllint: error: --statistics is written as full, concise or json, "
                             f"not {output_format}\n")
    assert not (project / ".dllint_cache").exists()


def _finding(code: str, line: int, applicability: Applicability | None) -> Diagnostic:
    fix = None if applicability is None else Fix(
        (Edit(Span(line, 1, line, 1), "x"),), applicability, "a fix")
    return Diagnostic(code, f"rule-{code.lower()}", "message", Severity.WARNING, "a.py",
                      Span(line, 1, line, 2), fix=fix)


def test_a_rule_is_fixable_only_when_every_finding_of_it_is():
    findings = [_finding("DL005", 1, Applicability.SAFE), _finding("DL005", 2, None),
                _finding("DL003", 3, Applicability.UNSAFE), _finding("DL004", 4, None),
                _finding("DL004", 5, None)]
    safe_only = rule_counts(findings, unsafe_fixes=False)
    # Ties in count are ordered by code.
    assert [(row.code, row.count, row.fixable, row.fixable_count) for row in safe_only] == [
        ("DL004", 2, False, 0), ("DL005", 2, False, 1), ("DL003", 1, False, 0)]
    with_unsafe = rule_counts(findings, unsafe_fixes=True)
    assert [(row.code, row.fixable) for row in with_unsafe] == [
        ("DL004", False), ("DL005", False), ("DL003", True)]


def test_no_fixable_rule_leaves_out_the_marker_column():
    text = renderer("text")([_finding("DL004", 1, None)],
                            ReportContext(files_checked=1, statistics=True, quiet=True))
    assert text == "1\tDL004\trule-dl004\n"


def test_colour_keeps_the_tabs():
    findings = [_finding("DL001", line, Applicability.SAFE) for line in range(1, 11)]
    text = renderer("text")(findings, ReportContext(files_checked=1, statistics=True,
                                                    quiet=True, color=True))
    assert text.count("\t") == 2 and "\x1b[" in text
    assert "DL001" in text and text.endswith("rule-dl001\n")
