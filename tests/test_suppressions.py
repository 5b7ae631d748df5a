"""Each suppression form, and reporting the unused ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dllint.config import FileConfig, build_settings
from dllint.runner import lint_text

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402

LISTING_LINE = "images = glob.glob('images/*.png')"


def lint(text: str, **options):
    settings = build_settings(FileConfig(root=Path.cwd()), **options)
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
