"""`dllint audit`: a self-contained HTML or Markdown report of inherited code."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from conftest import REPO
from dllint.cli import main

BUGGY = REPO / "fixtures" / "static" / "buggy_project"


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.open, self.text, self.external = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("meta", "br", "img", "link"):
            self.open.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith(("http:", "https:", "//")):
                self.external.append(value)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_and_complete(tmp_path):
    target = tmp_path / "audit.html"
    result = CliRunner().invoke(main, ["audit", str(BUGGY), "-o", str(target)])
    assert result.exit_code == 0, result.output
    page = Collector()
    page.feed(target.read_text())
    assert page.open == ["html"] or page.open == []  # balanced apart from the document itself
    assert page.external == [] and "script" not in page.tags
    text = " ".join(page.text)
    for heading in ("Findings per rule", "Findings per folder", "Worst files", "All findings"):
        assert heading in text
    assert text.count("Why it matters.") == 23
    assert "unordered-file-listing" in text and "datasets.py" in text
    assert "self.image_paths = glob.glob(" in text  # the code frame, escaped and readable


def test_markdown_report_and_runtime_trace(tmp_path):
    pytest.importorskip("torch")
    target = tmp_path / "audit.md"
    result = CliRunner().invoke(main, ["audit", str(BUGGY), "--format", "md", "-o", str(target),
                                       "--trace", str(REPO / "fixtures/runtime/rt006_detached_branch.py")])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# dllint audit") and "| DL001 | unordered-file-listing | 7 |" in text
    assert "## Runtime trace" in text and "RT006" in text and "gradient norms" in text


def test_clean_code_audit(tmp_path):
    target = tmp_path / "clean.html"
    result = CliRunner().invoke(main, ["audit", str(REPO / "fixtures/static/clean_project"),
                                       "-o", str(target)])
    assert result.exit_code == 0 and "No findings." in target.read_text()
