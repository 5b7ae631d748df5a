"""Every `[tool.dllint]` key, and the clear errors for what is not one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dllint.config import ConfigError, build_settings, find_config, load_config
from dllint.runner import run

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402


def lint_tree(root: Path, table: str, files: dict[str, str]) -> list:
    (root / "pyproject.toml").write_text("[tool.dllint]\n" + table)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    settings = build_settings(load_config(find_config(root)))
    return run([str(root)], settings, use_cache=False).diagnostics


def codes_by_file(diagnostics, root):
    return sorted((os.path.relpath(d.path, root), d.code) for d in diagnostics)


def test_found_by_walking_up_and_skipping_foreign_pyprojects(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\nignore = ['DL001']\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text("[tool.black]\n")
    assert find_config(tmp_path / "pkg") == tmp_path / "pyproject.toml"
    config = load_config(find_config(tmp_path / "pkg"))
    assert config.ignore == ("DL001",) and config.root == tmp_path.resolve()


def test_select_and_extend_select(tmp_path):
    files = {"a.py": PAIRED_LISTINGS}
    assert codes_by_file(lint_tree(tmp_path, "select = ['DL9']\n", files), tmp_path) == []
    assert codes_by_file(lint_tree(tmp_path, "select = ['DL9']\nextend-select = ['DL001']\n", files),
                         tmp_path) == [("a.py", "DL001")]


def test_ignore(tmp_path):
    assert lint_tree(tmp_path, "ignore = ['DL001']\n", {"a.py": PAIRED_LISTINGS}) == []


def test_exclude_replaces_defaults_and_extend_exclude_adds(tmp_path):
    files = {"gen/a.py": PAIRED_LISTINGS, "build/b.py": PAIRED_LISTINGS, "c.py": PAIRED_LISTINGS}
    found = codes_by_file(lint_tree(tmp_path, "extend-exclude = ['gen']\n", files), tmp_path)
    assert found == [("c.py", "DL001")]  # build/ is a default exclude, gen/ an extra one
    found = codes_by_file(lint_tree(tmp_path, "exclude = ['gen']\n", files), tmp_path)
    assert found == [("build/b.py", "DL001"), ("c.py", "DL001")]


def test_per_file_ignores(tmp_path):
    files = {"tests/test_a.py": PAIRED_LISTINGS, "src/a.py": PAIRED_LISTINGS}
    found = lint_tree(tmp_path, "[tool.dllint.per-file-ignores]\n'tests/*' = ['DL001']\n", files)
    assert codes_by_file(found, tmp_path) == [("src/a.py", "DL001")]


def test_respect_gitignore(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("scratch/\n")
    files = {"scratch/a.py": PAIRED_LISTINGS, "b.py": PAIRED_LISTINGS}
    assert codes_by_file(lint_tree(tmp_path, "", files), tmp_path) == [("b.py", "DL001")]
    found = lint_tree(tmp_path, "respect-gitignore = false\n", files)
    assert codes_by_file(found, tmp_path) == [("b.py", "DL001"), ("scratch/a.py", "DL001")]


def test_a_gitignore_line_that_is_no_pattern_is_skipped_as_git_skips_it(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("!\n\\\nscratch/\n")
    files = {"scratch/a.py": PAIRED_LISTINGS, "b.py": PAIRED_LISTINGS}
    assert codes_by_file(lint_tree(tmp_path, "", files), tmp_path) == [("b.py", "DL001")]


def test_nested_gitignore_negation(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / ".gitignore").write_text("!*.py\n")
    files = {"a.py": PAIRED_LISTINGS, "keep/b.py": PAIRED_LISTINGS}
    assert codes_by_file(lint_tree(tmp_path, "", files), tmp_path) == [("keep/b.py", "DL001")]


def test_severity_override(tmp_path):
    found = lint_tree(tmp_path, "[tool.dllint.severity]\nDL001 = 'warning'\n", {"a.py": PAIRED_LISTINGS})
    assert [d.severity.value for d in found] == ["warning"]


def test_report_unused_suppressions_key(tmp_path):
    text = "x = 1  # dllint: ignore[DL001]\n"
    assert lint_tree(tmp_path, "", {"a.py": text}) == []
    found = lint_tree(tmp_path, "report-unused-suppressions = true\n", {"a.py": text})
    assert [d.code for d in found] == ["DL905"]


def test_max_file_size(tmp_path):
    found = lint_tree(tmp_path, "max-file-size = 50\n", {"a.py": PAIRED_LISTINGS})
    assert [d.code for d in found] == ["DL904"]


def test_cache_dir(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\ncache-dir = 'elsewhere'\n")
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    run([str(tmp_path)], build_settings(load_config(find_config(tmp_path))))
    assert (tmp_path / "elsewhere").is_dir() and not (tmp_path / ".dllint_cache").exists()


@pytest.mark.parametrize(("table", "message"), [
    ("selct = ['DL001']", "unknown key(s) selct (did you mean 'select'?)"),
    ("select = ['DL0O1']", "unknown rule code 'DL0O1'"),
    ("ignore = ['E501']", "unknown rule code 'E501'"),
    ("select = 'DL001'", "select must be a list of strings"),
    ("respect-gitignore = 'yes'", "respect-gitignore must be true or false"),
    ("max-file-size = -1", "max-file-size must be a positive number"),
    ("cache-dir = 3", "cache-dir must be a string"),
    ("per-file-ignores = ['x']", "per-file-ignores must be a table"),
    ("[tool.dllint.per-file-ignores]\n'a/*' = ['XX1']", "unknown rule code 'XX1'"),
    ("[tool.dllint.severity]\nDL001 = 'fatal'", "must be one of error, warning, info"),
    ("[tool.dllint.severity]\nDL00 = 'info'", "unknown rule code 'DL00'"),
    ("severity = 3", "severity must be a table"),
    ("select = [", "invalid TOML"),
    ("exclude = ['build', '!']", "[tool.dllint] exclude: invalid pattern '!'"),
    ("extend-exclude = ['\\']", "[tool.dllint] extend-exclude: invalid pattern '\\\\'"),
    ("[tool.dllint.per-file-ignores]\n'!' = ['DL001']",
     "[tool.dllint] per-file-ignores: invalid pattern '!'"),
    ('cache-dir = "cache\\u0000dir"', "cache-dir must not contain a NUL character"),
    ("cache-dir = ''", "cache-dir must name a folder of its own for the cache, not the project root"),
    ("cache-dir = '.'", "not the project root"),
    ("cache-dir = 'src/..'", "not the project root"),
])
def test_invalid_configuration_is_a_clear_error(tmp_path, table, message):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.dllint]\n" + table + "\n")
    with pytest.raises(ConfigError) as error:
        build_settings(load_config(path))
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_invalid_configuration_exits_2_from_the_cli(tmp_path, run_cli):
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\nignroe = ['DL001']\n")
    result = run_cli(".")
    assert result.returncode == 2
    assert b"did you mean 'ignore'?" in result.stderr


@pytest.mark.parametrize("text", ["tool = 1\n", "tool = 'dllint'\n", "tool = [1]\n"])
def test_a_tool_key_that_is_not_a_table_is_one_error_line(tmp_path, run_cli, text):
    (tmp_path / "pyproject.toml").write_text(text)
    (tmp_path / "a.py").write_text(PAIRED_LISTINGS)
    for arguments in (("a.py",), ("--config", "pyproject.toml", "a.py")):
        result = run_cli(*arguments, "--no-cache")
        assert result.returncode == 2
        assert result.stderr.decode().splitlines() == [
            f"dllint: error: {tmp_path / 'pyproject.toml' if len(arguments) == 1 else 'pyproject.toml'}"
            ": tool must be a table"]
