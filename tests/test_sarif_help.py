"""SARIF carries each rule's documentation (`rules[].help`, text and markdown) so that code
scanning shows it beside an alert, and names no web page that does not exist (issue 26)."""

from __future__ import annotations

import json
import re

import jsonschema

from conftest import TEST_DATA
from dllint.engine_codes import ENGINE_CODES
from dllint.registry import all_rules, runtime_codes
from dllint.reports import ReportContext, renderer
from dllint.reports.sarif import plain_text
from dllint.types import Diagnostic, Severity, Span

EVERY_CODE = [*all_rules(), *ENGINE_CODES.values(), *runtime_codes().values()]


def sarif_with_every_code() -> dict:
    diagnostics = [Diagnostic(entry.code, entry.name, "a finding", Severity.WARNING, "train.py",
                              Span(1, 1, 1, 5)) for entry in EVERY_CODE]
    return json.loads(renderer("sarif")(diagnostics, ReportContext(files_checked=1)))


def test_every_rule_engine_code_and_runtime_check_has_its_documentation_as_help():
    log = sarif_with_every_code()
    jsonschema.validate(log, json.loads((TEST_DATA / "sarif-schema-2.1.0.json").read_text()))
    descriptors = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert set(descriptors) == {entry.code for entry in EVERY_CODE}
    assert len(descriptors) > 40
    for entry in EVERY_CODE:
        markdown = descriptors[entry.code]["help"]["markdown"]
        text = descriptors[entry.code]["help"]["text"]
        assert markdown.startswith(f"# {entry.code} {entry.name}\n\n{entry.summary}\n\n")
        assert entry.documentation().strip() in markdown
        assert "## What it does" in markdown and "## Why is this bad?" in markdown
        assert text.startswith(f"{entry.code} {entry.name}\n\n{entry.summary}\n\n")
        assert "What it does\n" in text and "Why is this bad?\n" in text
        assert not re.search(r"^(#|```)", text, re.MULTILINE), entry.code


def test_help_says_whether_the_rule_can_fix():
    descriptors = {rule["id"]: rule for rule in
                   sarif_with_every_code()["runs"][0]["tool"]["driver"]["rules"]}
    assert "\nFix: sometimes available.\n" in descriptors["DL001"]["help"]["markdown"]
    assert "Fix:" not in descriptors["DL101"]["help"]["markdown"]  # it has no fix
    # A rule's example and its correction, as code in both forms.
    assert "## Example\n```python\nimages = glob.glob(" in descriptors["DL001"]["help"]["markdown"]
    assert "Example\n    images = glob.glob(" in descriptors["DL001"]["help"]["text"]


def test_the_log_names_no_web_page():
    """dllint has no home page on any index: no informationUri, no helpUri. The only URL is
    the schema's."""
    log = sarif_with_every_code()
    driver = log["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver and "downloadUri" not in driver
    assert all("helpUri" not in rule for rule in driver["rules"])
    urls = set(re.findall(r"https?://[^\s\"')]+", json.dumps(log)))
    assert urls == {log["$schema"]}


def test_plain_text_indents_code_and_drops_heading_marks():
    markdown = "# DL000 a-rule\n\nSummary.\n\n## Example\n```python\nx = f(\n\n    y)\n```\nAfter.\n"
    assert plain_text(markdown) == ("DL000 a-rule\n\nSummary.\n\nExample\n    x = f(\n\n"
                                    "        y)\nAfter.\n")
