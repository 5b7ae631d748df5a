"""Each file uses its nearest configuration, as ruff does (issue 24): `dllint a/ b/` applies each
tree's own settings, a configuration can `extend` another, `--config` names the one
configuration of every file, and the command line's options are laid over each."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dllint.cli import main
from dllint.config import load_config

sys.path.insert(0, os.path.dirname(__file__))
from helpers import PAIRED_LISTINGS  # noqa: E402  (one DL001 at line 2)


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def reported(*args) -> set[tuple[str, str]]:
    """(path, code) of every finding of a JSON run."""
    result = invoke(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return {(d["path"], d["code"]) for d in json.loads(result.output)}


@pytest.fixture
def trees(tmp_path, monkeypatch):
    """a/ switches DL001 off; b/ keeps the defaults. Both hold the same buggy file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    for name, table in (("a", "ignore = ['DL001']\n"), ("b", "")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(f"[tool.dllint]\n{table}")
        (tmp_path / name / "bad.py").write_text(PAIRED_LISTINGS)
    return tmp_path


def test_each_tree_uses_its_own_configuration(trees):
    assert reported("a", "b", "--no-cache") == {("b/bad.py", "DL001")}
    assert reported("b", "a", "--no-cache") == {("b/bad.py", "DL001")}
    assert reported("a/bad.py", "b/bad.py", "--no-cache") == {("b/bad.py", "DL001")}


def test_config_names_the_configuration_of_every_file(trees):
    assert reported("--config", "b/pyproject.toml", "a", "b", "--no-cache") == \
        {("a/bad.py", "DL001"), ("b/bad.py", "DL001")}


def test_command_line_options_are_laid_over_each_configuration(trees):
    assert reported("--ignore", "DL001", "a", "b", "--no-cache") == set()
    (trees / "b" / "pyproject.toml").write_text("[tool.dllint]\nselect = ['DL2']\n")
    # --extend-select adds to each tree's own selection: b selects only DL2, and gets DL001 back.
    assert reported("--extend-select", "DL001", "a", "b", "--no-cache") == \
        {("b/bad.py", "DL001")}


def test_a_nested_configuration_applies_below_it(trees):
    (trees / "b" / "inner").mkdir()
    (trees / "b" / "inner" / "bad.py").write_text(PAIRED_LISTINGS)
    (trees / "b" / "inner" / "pyproject.toml").write_text("[tool.dllint]\nignore = ['DL0']\n")
    assert reported("b", "--no-cache") == {("b/bad.py", "DL001")}


def test_a_nested_configuration_excludes_its_own_files(trees):
    (trees / "b" / "gen").mkdir()
    (trees / "b" / "gen" / "bad.py").write_text(PAIRED_LISTINGS)
    (trees / "pyproject.toml").write_text("[tool.dllint]\n")
    (trees / "b" / "pyproject.toml").write_text("[tool.dllint]\nextend-exclude = ['gen']\n")
    assert reported(".", "--no-cache") == {("b/bad.py", "DL001")}
    # A file named on the command line is linted, whatever excludes it (unless --force-exclude).
    assert reported("b/gen/bad.py", "--no-cache") == {("b/gen/bad.py", "DL001")}


def test_a_dedicated_dllint_toml_is_found(trees):
    (trees / "b" / "pyproject.toml").unlink()
    (trees / "b" / "dllint.toml").write_text("ignore = ['DL001']\n")
    assert reported("a", "b", "--no-cache") == set()


def test_the_cache_keeps_each_configurations_results(trees):
    first = reported("a", "b")
    second = invoke("a", "b", "-v")
    assert "2 files, 2 from cache" in second.output
    assert first == reported("a", "b") == {("b/bad.py", "DL001")}


def test_a_broken_nested_configuration_is_one_error_line(trees):
    (trees / "b" / "pyproject.toml").write_text("[tool.dllint]\nselect = 'DL001'\n")
    result = CliRunner().invoke(main, ["a", "b", "--no-cache"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"dllint: error: {(trees / 'b' / 'pyproject.toml').resolve()}: [tool.dllint] select "
        f"must be a list of strings"]


# ---- extend ---------------------------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_extend_inherits_and_the_child_adds_or_replaces(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.dllint]\nignore = ['DL001']\nextend-exclude = "
          "['gen']\nmax-file-size = 1000\nseverity = {DL002 = 'info'}\n")
    child = write(tmp_path / "sub" / "pyproject.toml",
                  "[tool.dllint]\nextend = '../pyproject.toml'\nignore = ['DL002']\n"
                  "extend-exclude = ['tmp']\nseverity = {DL003 = 'info'}\n")
    config = load_config(child)
    assert config.root == child.parent.resolve()
    assert config.ignore == ("DL001", "DL002")
    assert config.extend_exclude == ("gen", "tmp")
    assert config.max_file_size == 1000
    assert dict(config.severity) == {"DL002": "info", "DL003": "info"}


def test_extend_with_a_selection_of_its_own_starts_afresh(tmp_path):
    write(tmp_path / "base.toml", "ignore = ['DL001']\nextend-select = ['DL303']\n")
    child = write(tmp_path / "sub" / "dllint.toml",
                  "extend = '../base.toml'\nselect = ['DL0']\n")
    config = load_config(child)
    assert config.select == ("DL0",) and config.ignore == () and config.extend_select == ()


def test_extend_through_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pyproject.toml", "[tool.dllint]\nignore = ['DL001']\n")
    write(tmp_path / "inherits" / "pyproject.toml",
          "[tool.dllint]\nextend = '../pyproject.toml'\n")
    write(tmp_path / "inherits" / "bad.py", PAIRED_LISTINGS)
    write(tmp_path / "own" / "pyproject.toml", "[tool.dllint]\n")
    write(tmp_path / "own" / "bad.py", PAIRED_LISTINGS)
    assert reported("inherits", "own", "--no-cache") == {("own/bad.py", "DL001")}


@pytest.mark.parametrize("files, message", [
    ({"a.toml": "extend = 'b.toml'\n", "b.toml": "extend = 'a.toml'\n"},
     "extends, directly or not, this file again"),
    ({"a.toml": "extend = 'a.toml'\n"}, "extends, directly or not, this file again"),
    ({"a.toml": "extend = 'missing.toml'\n"}, "no such file"),
    ({"a.toml": "extend = 3\n"}, "must be the path of another configuration file"),
    ({"a.toml": "extend = 'b.toml'\n", "b.toml": "selekt = []\n"},
     "b.toml: [tool.dllint]: unknown key(s) selekt"),
])
def test_a_bad_extend_is_one_error_line(tmp_path, monkeypatch, files, message):
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        write(tmp_path / name, text)
    write(tmp_path / "x.py", "import os\n")
    result = CliRunner().invoke(main, ["--config", "a.toml", "x.py", "--no-cache"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dllint: error: ") and message in lines[0]


def test_the_api_uses_each_files_nearest_configuration(trees):
    from dllint.api import lint_paths
    assert {(d.path, d.code) for d in lint_paths(["a", "b"])} == {("b/bad.py", "DL001")}


def test_audit_uses_each_files_nearest_configuration(trees):
    result = invoke("audit", "a", "b", "--format", "md", "-o", "audit.md")
    assert result.exit_code == 0
    assert "1 finding(s) in 2 file(s)" in result.output
    report = (trees / "audit.md").read_text()
    assert "b/bad.py" in report and "a/bad.py" not in report
