"""`split_lines` counts lines as CPython, libcst and LSP do, unlike `str.splitlines()`."""

from __future__ import annotations

import ast

import pytest

from dllint.lines import split_lines

NOT_LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", NOT_LINE_BREAKS)
def test_characters_str_splitlines_breaks_at_are_inside_a_python_line(char):
    source = f"x = 1  # a{char}b\ny = '{char}'\nz = 3\n"
    assert len(source.splitlines()) > 3  # the mistake this helper exists for
    lines = split_lines(source)
    tree = ast.parse(source)
    assert [lines[node.lineno - 1][node.col_offset] for node in tree.body] == ["x", "y", "z"]


@pytest.mark.parametrize("text, lines", [
    ("", []), ("\n", [""]), ("a", ["a"]), ("a\n\n", ["a", ""]),
    ("a\r\nb\rc\nd", ["a", "b", "c", "d"]), ("a\r\r\n", ["a", ""]), ("\x0c\u2028", ["\x0c\u2028"]),
])
def test_breaks_at_crlf_cr_and_lf_like_splitlines_otherwise(text, lines):
    assert split_lines(text) == lines
    kept = split_lines(text, keepends=True)
    assert "".join(kept) == text and [line.rstrip("\r\n") for line in kept] == lines


def test_an_unclosed_toml_array_is_located_past_a_line_separator_in_a_comment(tmp_path):
    from dllint.config import ConfigError, load_config

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("# notes\u2028\x85more\n[tool.dllint]\nselect = ['DL001',\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pyproject.toml:3: invalid TOML"):
        load_config(pyproject)
