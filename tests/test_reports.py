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
from conftest import TEST_DATA  # noqa: E402
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
    schema = json.loads((TEST_DATA / "sarif-schema-2.1.0.json").read_text())
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
    schema = json.loads((TEST_DATA / "sarif-schema-2.1.0.json").read_text())
    result = CliRunner().invoke(main, [".", "--no-cache", "--format", "sarif"])
    assert result.exit_code == 0
    jsonschema.validate(json.loads(result.output), schema)


def test_text_is_plain_when_not_a_terminal_and_coloured_when_forced(report, tmp_path):
    plain = report("text")
    assert "\x1b[" not in plain and "bad.py:2:10: DL001" in plain
    forced = CliRunner().invoke(main, [".", "--no-cache"], env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert "\x1b[" in forced.output and "\x1b]8;" in forced.output  # colours and hyperlinks


def _artifacts(log: dict) -> list[dict]:
    """Every artifactLocation of the results: locations, related locations and fixes."""
    found = []
    for result in log["runs"][0]["results"]:
        for location in (*result["locations"], *result.get("relatedLocations", ())):
            found.append(location["physicalLocation"]["artifactLocation"])
        for fix in result.get("fixes", ()):
            found += [change["artifactLocation"] for change in fix["artifactChanges"]]
    return found


def test_sarif_names_files_under_the_cwd_relative_to_a_base_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my src").mkdir()
    (tmp_path / "my src" / "bad é.py").write_text(PAIRED_LISTINGS)
    schema = json.loads((TEST_DATA / "sarif-schema-2.1.0.json").read_text())
    # a relative and an absolute path on the command line give the same relative URIs
    for target in ("my src", str(tmp_path / "my src")):
        result = CliRunner().invoke(main, [target, "--no-cache", "--format", "sarif"])
        assert result.exit_code == 1, result.output
        log = json.loads(result.output)
        jsonschema.validate(log, schema)
        run = log["runs"][0]
        assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": tmp_path.as_uri() + "/"}}
        artifacts = _artifacts(log)
        assert len(artifacts) == 3  # the finding, its related line and its fix
        assert all(artifact == {"uri": "my%20src/bad%20%C3%A9.py", "uriBaseId": "SRCROOT"}
                   for artifact in artifacts), artifacts
        assert "file:" not in json.dumps(run["results"])


def test_sarif_keeps_absolute_uris_for_files_outside_the_cwd(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    (tmp_path / "bad.py").write_text(PAIRED_LISTINGS)
    schema = json.loads((TEST_DATA / "sarif-schema-2.1.0.json").read_text())
    for target in (str(tmp_path / "bad.py"), os.path.join("..", "bad.py")):
        result = CliRunner().invoke(main, [target, "--no-cache", "--format", "sarif"])
        assert result.exit_code == 1, result.output
        log = json.loads(result.output)
        jsonschema.validate(log, schema)
        assert log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == (
            (tmp_path / "elsewhere").as_uri() + "/")
        artifacts = _artifacts(log)
        assert len(artifacts) == 3
        assert all(artifact == {"uri": (tmp_path / "bad.py").as_uri()} for artifact in artifacts)


def test_line_numbers_that_spell_an_emoji_code_stay_numbers(tmp_path, monkeypatch):
    """Rich reads `:100:` as the emoji code for a hundred-points sign: line 100 must print."""
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    source = ["import torch", "import torch.nn.functional as F"] + ["x = 1"] * 97
    source.append("y = F.softmax(torch.randn(2, 3, 4))")
    script = tmp_path / "train.py"
    script.write_text("\n".join(source) + "\n")
    result = CliRunner().invoke(main, [str(script), "--no-cache", "--select", "DL202"])
    assert f"{script}:100:5: DL202" in result.output, result.output


def test_text_frame_shows_the_flagged_line_after_a_form_feed_or_line_separator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text(
        PAIRED_LISTINGS.replace("import glob", "import glob  # page\x0c\u2028break"), newline="")
    output = CliRunner().invoke(main, ["bad.py", "--no-cache"]).output
    assert "bad.py:2:10: DL001" in output
    assert "2 | images = glob.glob('images/*.png')" in output


@pytest.mark.parametrize("color", [False, True])
def test_text_frame_keeps_a_trailing_backslash_single(color):
    """rich's escape() doubles a trailing backslash: a `\\` continuation must print as written."""
    from dllint.reports import ReportContext
    from dllint.reports.text import render
    from dllint.types import Diagnostic, RelatedLocation, Severity, Span
    source = 'images = glob.glob("i/*") + \\\n    []\n'
    finding = Diagnostic("DL001", "unordered-file-listing", "ends in a backslash \\",
                         Severity.ERROR, "a.py", Span(1, 10, 1, 26),
                         related=(RelatedLocation("a.py", Span(2, 5, 2, 7), "and here \\"),))
    text = render([finding], ReportContext(files_checked=1, color=color,
                                           sources={"a.py": source}))
    plain = __import__("re").sub(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\", "", text)
    lines = plain.splitlines()
    assert lines[0] == "a.py:1:10: DL001 ends in a backslash \\"
    assert lines[2] == '1 | images = glob.glob("i/*") + \\'
    assert lines[3] == "  |          " + "^" * 16
    assert lines[4] == "  = a.py:2:5: and here \\"
