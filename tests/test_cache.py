"""The cache: a damaged cache file is dropped and replaced, an entry is only ever used for the
content it was made from, and dllint writes only into a cache folder it created."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from dllint import runner
from dllint.cli import main

from helpers import CLEAN, PAIRED_LISTINGS

MODEL = ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
         "        super().__init__()\n        self.drop = nn.Dropout(0.5)\n\n"
         "    def forward(self, x):\n        return self.drop(x)\n")
TRAIN = "from model import Net\n\nnet = Net()\n" + PAIRED_LISTINGS


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def check(*args):
    return CliRunner().invoke(main, ["check", "-v", *args])


def from_cache(result) -> int:
    return int(re.search(r"(\d+) from cache", result.output).group(1))


def cache_file(root):
    [path] = (root / ".dllint_cache").glob("v*.json")
    return path


def _first_entry(data, section):
    for by_digest in data[section].values():
        for entry in by_digest.values():
            if entry.get("diagnostics") or entry.get("summary"):
                return entry
    raise AssertionError(f"no {section} entry with content")


def _set(section, key, value):
    def damage(data):
        _first_entry(data, section)[key] = value
        return data
    return damage


def _set_in_diagnostic(key, value):
    def damage(data):
        _first_entry(data, "files")["diagnostics"][0][key] = value
        return data
    return damage


def _set_in_summary(key, value):
    def damage(data):
        _first_entry(data, "summaries")["summary"][key] = value
        return data
    return damage


def _rekey(data):
    data["files"] = {path: {"not-a-content-hash": entry for entry in by_digest.values()}
                     for path, by_digest in data["files"].items()}
    return data


DAMAGES = {
    "a list instead of an object": lambda data: [],
    "files is a list": lambda data: {**data, "files": []},
    "summaries are missing": lambda data: {"files": data["files"]},
    "an entry's diagnostics are a string": _set("files", "diagnostics", ""),
    "an entry's dependencies are a list": _set("files", "dependencies", []),
    "a diagnostic's line is a string": _set_in_diagnostic("line", "2"),
    "a diagnostic's severity is unknown": _set_in_diagnostic("severity", "fatal"),
    "a diagnostic's fix has no edits": _set_in_diagnostic(
        "fix", {"applicability": "safe", "description": "x"}),
    "an entry's key is no content hash": _rekey,
    "a summary's classes are a list": _set_in_summary("classes", []),
    "a summary's path is a number": _set_in_summary("path", 3),
    "a summary's call slot is not a position": _set_in_summary(
        "calls", {"x.f": {"first": []}}),
}


@pytest.mark.parametrize("damage", DAMAGES.values(), ids=DAMAGES.keys())
def test_a_cache_of_the_wrong_shape_is_dropped_and_replaced(project, damage):
    first = check(".")
    assert first.exit_code == 1 and from_cache(first) == 0
    path = cache_file(project)
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    damaged = check(".")
    assert damaged.exit_code == 1, damaged.output
    assert "DL001" in damaged.output and from_cache(damaged) == 0
    again = check(".")  # the damaged file was replaced by a good one
    assert again.exit_code == 1 and from_cache(again) == 2


def test_a_cache_of_deeply_nested_json_is_dropped(project):
    check(".")
    cache_file(project).write_text("[" * 100_000 + "]" * 100_000)
    damaged = check(".")
    assert damaged.exit_code == 1 and "DL001" in damaged.output and from_cache(damaged) == 0


def test_an_entry_is_kept_under_the_hash_of_the_content_that_was_linted(project, monkeypatch):
    # The file changes after the run hashed it and before it is linted: the findings of the
    # content linted (clean) must not be filed under the hash of the buggy content read first.
    opened = runner._open_cache

    def open_then_edit(settings, files, use_cache):
        result = opened(settings, files, use_cache)
        (project / "train.py").write_text(CLEAN)
        return result

    monkeypatch.setattr(runner, "_open_cache", open_then_edit)
    assert check("train.py").exit_code == 0
    monkeypatch.setattr(runner, "_open_cache", opened)
    (project / "train.py").write_text(TRAIN)
    result = check("train.py")
    assert result.exit_code == 1 and "DL001" in result.output


def test_a_new_cache_folder_is_tagged_and_used(project):
    check(".")
    folder = project / ".dllint_cache"
    assert (folder / "CACHEDIR.TAG").read_text().startswith(
        "Signature: 8a477f597d28d172789f06886806bc55")
    assert (folder / ".gitignore").read_text() == "# Created by dllint\n*\n"
    assert from_cache(check(".")) == 2


def test_a_folder_made_by_an_earlier_dllint_is_still_used(project):
    folder = project / ".dllint_cache"
    folder.mkdir()
    (folder / ".gitignore").write_text("# Created by dllint\n*\n")
    check(".")
    assert from_cache(check(".")) == 2


@pytest.mark.parametrize("cache_dir", ["src", "..", "{root}"])
def test_an_existing_folder_dllint_did_not_create_is_never_written_into(project, cache_dir):
    (project / "src").mkdir()
    (project / "src" / "util.py").write_text(CLEAN)
    setting = cache_dir.format(root=project)
    configured = project / setting  # an absolute setting replaces the root
    before = sorted(path.name for path in configured.iterdir())
    (project / "pyproject.toml").write_text(f"[tool.dllint]\ncache-dir = {setting!r}\n")
    result = check(".")
    assert result.exit_code == 1 and "DL001" in result.output
    assert sorted(path.name for path in configured.iterdir()) == before
    assert not (configured / ".gitignore").exists()
    assert f"dllint: warning: cache-dir {configured} exists and was not created by dllint" \
        in result.output
