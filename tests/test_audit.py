"""`dllint audit`: a self-contained HTML or Markdown report of inherited code."""

from __future__ import annotations

import os
import re
import shutil
import sys
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from dllint.audit import inline_html
from dllint.cli import main

sys.path.insert(0, os.path.dirname(__file__))
from conftest import REPO  # noqa: E402
from helpers import CLEAN, PAIRED_LISTINGS  # noqa: E402
from test_fixtures import EXPECTED_BUGGY, copy_of  # noqa: E402


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
    result = CliRunner().invoke(main, ["audit", str(copy_of("buggy_project", tmp_path)),
                                       "-o", str(target)])
    assert result.exit_code == 0, result.output
    page = Collector()
    page.feed(target.read_text())
    assert page.open == ["html"] or page.open == []  # balanced apart from the document itself
    assert page.external == [] and "script" not in page.tags
    text = " ".join(page.text)
    for heading in ("Findings per rule", "Findings per folder", "Worst files", "All findings"):
        assert heading in text
    assert text.count("Why it matters.") == len(EXPECTED_BUGGY)  # every finding explained
    assert "unordered-file-listing" in text and "datasets.py" in text
    assert "self.image_paths = glob.glob(" in text  # the code frame, escaped and readable


def test_markdown_report_and_runtime_trace(tmp_path):
    pytest.importorskip("torch")
    target = tmp_path / "audit.md"
    buggy = copy_of("buggy_project", tmp_path)
    result = CliRunner().invoke(main, ["audit", str(buggy), "--format", "md", "-o", str(target),
                                       "--trace", str(REPO / "fixtures/runtime/rt006_detached_branch.py")])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# dllint audit") and "| DL001 | unordered-file-listing | 7 |" in text
    assert "## Runtime trace" in text and "RT006" in text and "gradient norms" in text


def test_clean_code_audit(tmp_path):
    target = tmp_path / "clean.html"
    result = CliRunner().invoke(main, ["audit", str(copy_of("clean_project", tmp_path)),
                                       "-o", str(target)])
    assert result.exit_code == 0 and "No findings." in target.read_text()


BIAS_BEFORE_NORM = ("from torch import nn\n"
                    "block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())\n")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """Two folders to audit, each with one DL001, beside a clean one, and a DL303 (off by default)."""
    monkeypatch.chdir(tmp_path)
    for folder in ("data", "models", "other"):
        (tmp_path / folder).mkdir()
    (tmp_path / "data" / "loader.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "models" / "pairs.py").write_text(PAIRED_LISTINGS)
    (tmp_path / "models" / "clean.py").write_text(CLEAN)
    (tmp_path / "models" / "net.py").write_text(BIAS_BEFORE_NORM)
    (tmp_path / "other" / "skipped.py").write_text(PAIRED_LISTINGS)
    return tmp_path


def audit_md(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args, "--format", "md", "-o", "audit.md"])
    text = open("audit.md", encoding="utf-8").read() if result.exit_code == 0 else ""
    return result.exit_code, result.output, text


def rule_rows(markdown: str) -> dict[str, int]:
    return {code: int(count) for code, count in
            re.findall(r"^\| (\w+) \| [\w-]* \| (\d+) \|$", markdown, re.M)}


def test_audit_takes_several_paths(project):
    status, output, text = audit_md("data", "models")
    assert status == 0, output
    assert text.startswith("# dllint audit: data, models")
    assert "4 files" in text and "2 findings" in text  # other/ is not audited
    assert rule_rows(text) == {"DL001": 2}
    assert "| `data/loader.py` | 1 |" in text and "| `models/pairs.py` | 1 |" in text
    assert "| `data` | 1 |" in text and "| `models` | 1 |" in text
    assert "skipped.py" not in text


def test_audit_select_extend_select_and_ignore(project):
    assert rule_rows(audit_md("data", "models", "--select", "DL303")[2]) == {"DL303": 1}
    assert rule_rows(audit_md("models", "--extend-select", "DL303")[2]) == {"DL001": 1, "DL303": 1}
    status, output, text = audit_md("models", "--ignore", "DL001")
    assert status == 0, output
    assert "No findings." in text


def test_audit_config_file(project):
    (project / "pyproject.toml").write_text('[tool.dllint]\nignore = ["DL001"]\n')
    assert "No findings." in audit_md("models")[2]  # the project's configuration is found
    (project / "audit.toml").write_text('select = ["DL303"]\n')
    assert rule_rows(audit_md("models", "--config", "audit.toml")[2]) == {"DL303": 1}


def test_audit_configuration_errors_exit_2(project):
    (project / "broken.toml").write_text("select = [\n")
    status, output, _ = audit_md("models", "--config", "broken.toml")
    assert status == 2 and "invalid TOML" in output
    status, output, _ = audit_md("models", "--select", "DL9999")
    assert status == 2 and "unknown rule code" in output
    assert not (project / "audit.md").exists()


def test_code_spans_render_as_code_in_html_only(project):
    result = CliRunner().invoke(main, ["audit", "models", "-o", "audit.html"])
    assert result.exit_code == 0, result.output
    page = (project / "audit.html").read_text()
    # the message ("wrap it in `sorted()`") and the rule's explanation carry code spans
    assert "wrap it in <code>sorted()</code>" in page
    why = re.search(r"<p class='why'>.*?</p>", page, re.S).group(0)
    assert "<code>" in why and "`" not in why
    prose = re.sub(r"<pre.*?</pre>", "", page, flags=re.S)
    assert "`" not in prose
    Collector().feed(page)  # still balanced
    markdown = audit_md("models")[2]
    assert "`sorted()`" in markdown and "<code>" not in markdown


def test_inline_html_escapes_before_marking_code():
    assert inline_html("`x < y` & <b>`z`</b>") == (
        "<code>x &lt; y</code> &amp; &lt;b&gt;<code>z</code>&lt;/b&gt;")
    assert inline_html("a `` b`c `` d, a lone ` stays") == "a <code>b`c</code> d, a lone ` stays"


def test_runtime_findings_are_counted_and_listed(project):
    pytest.importorskip("torch")
    shutil.copy(REPO / "fixtures" / "runtime" / "rt006_detached_branch.py", project / "models" / "train.py")
    status, output, text = audit_md("models", "--trace", os.path.join("models", "train.py"))
    assert status == 0, output
    rows = rule_rows(text)
    assert rows["RT006"] == 1 and rows["DL001"] == 1
    header = text.splitlines()[2]
    assert f"{sum(rows.values())} findings" in header
    assert f"| `.` | {sum(rows.values())} |" in text  # per folder
    worst = text.split("## Worst files")[1].split("## All findings")[0]
    assert "| `train.py` |" in worst
    findings = text.split("## All findings")[1].split("## Runtime trace")[0]
    assert "### RT006 `train.py:26:5`" in findings
    assert "got no gradient" in findings and "**Why it matters.**" in findings
    assert "## Runtime trace" in text and "gradient norms" in text
    html = CliRunner().invoke(main, ["audit", "models", "-o", "audit.html",
                                     "--trace", str(project / "models" / "train.py")])
    assert html.exit_code == 0, html.output
    page = (project / "audit.html").read_text()
    assert "<a href='#RT006'>RT006</a>" in page and "id='RT006'" in page


def test_line_counts_never_read_what_the_linter_skipped(tmp_path):
    from dllint.audit import count_lines

    (tmp_path / "small.py").write_text("a = 1\nb = 2\n")
    (tmp_path / "large.py").write_text("x = 1\n" * 1000)
    paths = [str(tmp_path / "small.py"), str(tmp_path / "large.py")]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.py")  # opened for reading, it would wait for a writer
        paths.append(str(tmp_path / "pipe.py"))
    assert count_lines(paths, max_size=100) == 2
