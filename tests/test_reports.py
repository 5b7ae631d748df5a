"""Each output format, on the same findings; SARIF is validated against the official schema."""

from __future__ import annotations

import json
import os
import sys

import jsonschema
import pytest
from click.testing import CliRunner

from dllint.cli import main

sys.path.insert(0, os.path.dirname(__file__))
from conftest import SHARED  # noqa: E402
from helpers import PAIRED_LISTINGS  # noqa: E402


@pytest.fixture
def report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "broken.py").write_text("def (:\n")

    def render(output_format: str) -> str:
        result = CliRunner().invoke(main, [".", "--no-cache", "--format", output_format])
        assert result.exit_code == 1
        return result.output

    return render


def test_json_fields(report):
    data = json.loads(report("json"))
    by_code = {item["code"]: item for item in data}
    item = by_code["DL001"]
    for key in ("code", "name", "message", "severity", "path", "line", "column", "end_line",
                "end_column", "related", "fix"):
        assert key in item
    assert (item["path"], item["line"], item["column"], item["end_line"], item["end_column"]) == (
        "bad.py", 2, 10, 2, 35)
    assert item["related"] == [{"path": "bad.py", "cell": None, "line": 4, "column": 14,
                                "end_line": 4, "end_column": 32, "message": "order matters here"}]
    assert item["cell"] is None
    assert item["fix"]["applicability"] == "safe"
    assert [edit["content"] for edit in item["fix"]["edits"]] == ["sorted(", ")"]
    assert by_code["DL903"]["path"] == "broken.py" and by_code["DL903"]["fix"] is None


def test_github_annotations(report):
    lines = report("github").splitlines()
    assert lines[0].startswith("::error file=bad.py,line=2,col=10,endLine=2,endColumn=35,"
                               "title=DL001 unordered-file-listing::")
    assert "%0Abad.py:4:14: order matters here" in lines[0]
    assert lines[1].startswith("::error file=broken.py,line=1,")


def test_sarif_is_valid_against_the_official_schema(report):
    schema = json.loads((SHARED / "data" / "sarif-schema-2.1.0.json").read_text())
    log = json.loads(report("sarif"))
    jsonschema.validate(log, schema)
    run = log["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert rules["DL001"]["name"] == "unordered-file-listing"
    assert "## Why is this bad?" in rules["DL001"]["fullDescription"]["text"]
    result = next(r for r in run["results"] if r["ruleId"] == "DL001")
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "DL001"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert result["relatedLocations"][0]["physicalLocation"]["region"]["startLine"] == 4
    replacements = result["fixes"][0]["artifactChanges"][0]["replacements"]
    assert [r["insertedContent"]["text"] for r in replacements] == ["sorted(", ")"]


def test_sarif_with_no_findings_is_valid(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.py").write_text("x = 1\n")
    schema = json.loads((SHARED / "data" / "sarif-schema-2.1.0.json").read_text())
    result = CliRunner().invoke(main, [".", "--no-cache", "--format", "sarif"])
    assert result.exit_code == 0
    jsonschema.validate(json.loads(result.output), schema)


def test_text_is_plain_when_not_a_terminal_and_coloured_when_forced(report, tmp_path):
    plain = report("text")
    assert "\x1b[" not in plain and "bad.py:2:10: DL001" in plain
    forced = CliRunner().invoke(main, [".", "--no-cache"], env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[" in forced.output and "\x1b]8;" in forced.output  # colours and hyperlinks
