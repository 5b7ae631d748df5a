"""Each suppression form, and reporting the unused ones."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from dllint.config import FileConfig, build_settings
from dllint.runner import lint_text

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402

LISTING_LINE = "images = glob.glob('images/*.png')"
# Settings of a project with no configuration or requirements, wherever pytest runs from.
# (A TemporaryDirectory is removed when the interpreter exits.)
_EMPTY_FOLDER = tempfile.TemporaryDirectory(prefix="dllint-suppressions-")
_EMPTY_PROJECT = Path(_EMPTY_FOLDER.name)


def lint(text: str, **options):
    settings = build_settings(FileConfig(root=_EMPTY_PROJECT), **options)
    return [(d.code, d.line) for d in lint_text(text, "a.py", settings).diagnostics]


@pytest.mark.parametrize("comment", [
    "  # dllint: ignore[DL001]", "  # dllint: ignore", "  # noqa: DL001", "  # noqa",
    "  # NOQA:DL001", "  # dllint: ignore[DL001, DL002]", "  # noqa: E501, DL001",
])
def test_same_line(comment):
    assert lint(PAIRED_LISTINGS.replace(LISTING_LINE, LISTING_LINE + comment)) == []


def test_line_above():
    text = PAIRED_LISTINGS.replace(LISTING_LINE, "# dllint: ignore[DL001]\n" + LISTING_LINE)
    assert lint(text) == []


def test_trailing_comment_on_line_above_does_not_reach_down():
    text = PAIRED_LISTINGS.replace("import glob", "import glob  # dllint: ignore[DL001]")
    assert lint(text) == [("DL001", 2)]


def test_file_ignore():
    assert lint("# dllint: file-ignore[DL001]\n" + PAIRED_LISTINGS) == []
    assert lint("# dllint: file-ignore\n" + PAIRED_LISTINGS) == []
    assert lint("# dllint: file-ignore[DL002]\n" + PAIRED_LISTINGS) == [("DL001", 3)]


@pytest.mark.parametrize("comment", [
    "  # dllint: ignore[DL002]", "  # noqa: E501", "  # dllint ignore", "  # not noqa-ish: DL001x",
])
def test_other_codes_and_near_misses_do_not_suppress(comment):
    assert lint(PAIRED_LISTINGS.replace(LISTING_LINE, LISTING_LINE + comment)) == [("DL001", 2)]


def test_marker_inside_a_string_is_not_a_comment():
    text = PAIRED_LISTINGS.replace(LISTING_LINE, LISTING_LINE + "; note = '# dllint: ignore'")
    assert lint(text) == [("DL001", 2)]


def test_unused_suppressions_reported_on_request():
    text = (PAIRED_LISTINGS.replace(LISTING_LINE, LISTING_LINE + "  # dllint: ignore[DL001]")
            + "x = 1  # noqa: DL001\ny = 2  # dllint: ignore\nz = 3  # noqa: E501\n")
    assert lint(text) == []
    assert lint(text, report_unused_suppressions=True) == [("DL905", 5), ("DL905", 6)]


def test_unused_suppression_of_a_disabled_code_is_not_reported():
    text = "x = 1  # dllint: ignore[DL001]\n"
    assert lint(text, report_unused_suppressions=True, ignore=["DL001"]) == []


def test_unused_suppression_can_itself_be_ignored():
    assert lint("x = 1  # noqa: DL001\n", report_unused_suppressions=True, ignore=["DL905"]) == []


@pytest.mark.parametrize("text", [
    # Bare "\r" line ends: the tokenizer must see four lines, not one.
    PAIRED_LISTINGS.replace(LISTING_LINE, LISTING_LINE + "  # dllint: ignore[DL001]").replace("\n", "\r"),
    # Characters str.splitlines() breaks at, inside a line before the suppression.
    PAIRED_LISTINGS.replace("import glob", "import glob  # \x0c\x1c\x1d\x1e\x85\u2028\u2029\x0b")
    .replace(LISTING_LINE, LISTING_LINE + "  # dllint: ignore[DL001]"),
])
def test_suppression_lines_are_counted_as_python_counts_them(text):
    assert lint(text) == []
    assert lint(text.replace("  # dllint: ignore[DL001]", "")) == [("DL001", 2)]


def test_whole_line_comments_after_a_tokenizer_error_are_kept_once():
    # The tokenizer stops at the unclosed bracket after it has already reported the comment.
    from dllint.suppressions import scan

    text = "# dllint: ignore[DL001]\nx = 1\x0c\ny = (\n"
    assert [(s.line, s.applies_to) for s in scan(text)] == [(1, frozenset({1, 2}))]


def _malformed(text: str, **options):
    settings = build_settings(FileConfig(root=_EMPTY_PROJECT), **options)
    return [(d.line, d.column, d.message) for d in lint_text(text, "a.py", settings).diagnostics
            if d.code == "DL910"]


@pytest.mark.parametrize(("comment", "says", "suppressed"), [
    ("# dllint: noqa: DL001", "is not a suppression dllint reads", False),
    ("# dllint: disable=DL001", "is not a suppression dllint reads", False),
    ("# dllint: ignore-all", "is not a suppression dllint reads", False),
    ("# dllint: ignore DL001", "codes go in brackets", True),
    ("# dllint: ignore[DL001", "not closed with `]`, so every code is suppressed", True),
    ("# dllint: ignore[]", "an empty code list suppresses nothing", False),
    ("# dllint: ignore[DL01]", "unknown code DL01", False),
    ("# noqa DL001", "codes follow a colon", True),
    ("# noqa:", "no code after `noqa:`, so every code is suppressed", True),
    ("# noqa: DL01, E501", "unknown code DL01", False),
])
def test_a_malformed_suppression_is_reported_where_it_is(comment, says, suppressed):
    text = PAIRED_LISTINGS.replace(LISTING_LINE, f"{LISTING_LINE}  {comment}")
    column = len(LISTING_LINE) + 3
    [(line, at, message)] = _malformed(text)
    assert (line, at) == (2, column) and says in message and f"`{comment}`" in message
    # The warning says truly what the comment does to the finding it sits on.
    assert (("DL001", 2) not in lint(text)) == suppressed


def test_a_file_level_noqa_as_ruff_writes_it_points_to_file_ignore():
    [(line, column, message)] = _malformed("# dllint: noqa\n" + PAIRED_LISTINGS)
    assert (line, column) == (1, 1) and "`# dllint: file-ignore` suppresses everything" in message


@pytest.mark.parametrize("comment", [
    "# dllint: ignore[DL001]", "# dllint: ignore", "# noqa: DL001", "# noqa", "# NOQA:DL001",
    "# noqa: E501, DL001", "# noqa: E501", "# dllint: ignore[DL001] sorted below",
    "# dllint: ignore[RT001]", "# noqa - generated", "# dllint: file-ignore[DL001]",
])
def test_well_formed_suppressions_are_not_reported(comment):
    assert _malformed(PAIRED_LISTINGS.replace(LISTING_LINE, f"{LISTING_LINE}  {comment}")) == []


def test_a_malformed_suppression_in_a_file_no_rule_wants_is_reported_too():
    assert [line for line, _, _ in _malformed("x = 1  # dllint: noqa: DL001\n")] == [1]


def test_malformed_suppressions_can_be_ignored():
    assert _malformed("x = 1  # dllint: noqa: DL001\n", ignore=["DL910"]) == []


@pytest.mark.parametrize(("options", "reported"), [
    ({}, False), ({"extend_select": ["DL905"]}, True), ({"select": ["DL001", "DL905"]}, True),
    ({"extend_select": ["DL9"]}, False), ({"extend_select": ["DL905"], "ignore": ["DL905"]}, False),
])
def test_unused_suppression_is_selected_by_its_code(options, reported):
    text = PAIRED_LISTINGS.replace("import glob", "import glob  # dllint: ignore[DL001]")
    assert (("DL905", 1) in lint(text, **options)) == reported


def test_unused_suppression_is_selected_in_the_configuration(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.dllint]\nextend-select = ["DL905"]\n')
    from dllint.config import load_config
    settings = build_settings(load_config(tmp_path / "pyproject.toml", tmp_path), start=tmp_path)
    assert settings.report_unused_suppressions
