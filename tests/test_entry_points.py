"""One answer from every entry point (issue 24): a file gets the same findings whether it is named
alone, found in its folder, piped through standard input, passed by pre-commit with other files,
or linted through the API or `runner.lint_in_project` (the language server's entry point). The
paths a run prints are its own, never those of the run that filled the cache. Each file uses
its nearest configuration."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from click.testing import CliRunner

from dllint.api import lint_paths
from dllint.cli import main
from dllint.config import FileConfig, build_settings
from dllint.runner import lint_in_project, project_files, project_root_of

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "static" / "buggy_project"


def invoke(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def findings(output: str, name: str) -> set[tuple]:
    """(code, line, column, message) of the JSON report's findings in the file called `name`."""
    return {(d["code"], d["line"], d["column"], d["message"]) for d in json.loads(output)
            if os.path.basename(d["path"]) == name}


@pytest.fixture
def buggy(tmp_path, monkeypatch):
    """The README's fixture as a project of its own (a pyproject.toml marks its root)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    shutil.copytree(FIXTURE, tmp_path / "proj")
    (tmp_path / "proj" / "pyproject.toml").write_text("[project]\nname = 'buggy'\n")
    return tmp_path / "proj"


def test_every_entry_point_gives_the_same_findings_for_train_py(buggy):
    train = "proj/train.py"
    alone = findings(invoke(train, "--no-cache", "--format", "json").output, "train.py")
    # The cross-file findings the README leads with: softmax and sigmoid defined in model.py.
    assert {code for code, *_ in alone} >= {"DL002", "DL201"}
    folder = findings(invoke("proj", "--no-cache", "--format", "json").output, "train.py")
    piped = findings(invoke("--stdin-filename", train, "--no-cache", "--format", "json",
                            input=(buggy / "train.py").read_text()).output, "train.py")
    # pre-commit passes the changed files, in batches, one run per batch.
    committed = findings(invoke("proj/evaluate.py", train, "--no-cache", "--format", "json",
                                "--force-exclude").output, "train.py")
    cached = [findings(invoke(train, "--format", "json").output, "train.py") for _ in range(2)]
    api = {(d.code, d.line, d.column, d.message) for d in lint_paths([train])}
    settings = build_settings(FileConfig(root=buggy))
    editor = {(d.code, d.line, d.column, d.message) for d in lint_in_project(
        train, (buggy / "train.py").read_text(), settings, use_cache=False).diagnostics}
    assert alone == folder == piped == committed == cached[0] == cached[1] == api == editor


def test_only_the_named_files_are_reported(buggy):
    result = invoke("proj/train.py", "--no-cache", "--format", "json")
    assert {d["path"] for d in json.loads(result.output)} == {"proj/train.py"}
    assert "in 1 file checked" in invoke("proj/train.py", "--no-cache").output


CALLER = '''
from torch import nn
from engine import fit
from model import Net

fit(Net(), loader, nn.CrossEntropyLoss())
'''
ENGINE = '''
def fit(model, loader, criterion):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
'''
SOFTMAX_MODEL = '''
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
'''


def test_a_file_named_alone_knows_what_its_callers_pass_it(tmp_path, monkeypatch):
    """engine.py imports nothing: only main.py, which calls it, says that its model ends in a
    softmax. Indexing only what the named file imports would miss this; the project is indexed."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text("[metadata]\nname = two\n")
    (tmp_path / "main.py").write_text(CALLER)
    (tmp_path / "engine.py").write_text(ENGINE)
    (tmp_path / "model.py").write_text(SOFTMAX_MODEL)
    alone = findings(invoke("engine.py", "--no-cache", "--format", "json").output, "engine.py")
    everything = findings(invoke(".", "--no-cache", "--format", "json").output, "engine.py")
    assert alone == everything
    assert {(code, line) for code, line, *_ in alone} == {("DL002", 4)}


def test_the_project_root_is_the_nearest_folder_with_metadata(tmp_path):
    (tmp_path / "repo" / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "repo" / "setup.py").write_text("")
    assert project_root_of(str(tmp_path / "repo" / "src" / "pkg" / "a.py")) == \
        (tmp_path / "repo").resolve()
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "a.py").write_text("")
    assert project_root_of(str(lone / "a.py")) == lone.resolve()


def test_the_projects_excluded_files_stay_out_of_the_index(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\nextend-exclude = ['gen']\n")
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "big.py").write_text("import torch\n")
    (tmp_path / "a.py").write_text("import torch\n")
    (tmp_path / "b.py").write_text("import torch\n")
    from dllint.config import find_config, load_config
    settings = build_settings(load_config(find_config(tmp_path)))
    files = project_files([str(tmp_path / "a.py")], settings)
    assert sorted(os.path.basename(path) for path in files) == ["a.py", "b.py"]


# ---- paths: as this run names them, never as the run that filled the cache did ----------------

@pytest.fixture
def src_project(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "model.py").write_text(SOFTMAX_MODEL)
    (tmp_path / "src" / "train.py").write_text(
        "from torch import nn\nfrom model import Net\n\nloss = nn.CrossEntropyLoss()(Net()(x), y)\n")
    return tmp_path


def test_a_cached_finding_is_shown_with_this_runs_path(src_project, monkeypatch):
    monkeypatch.chdir(src_project)
    first = json.loads(invoke("src", "--format", "json").output)
    assert [(d["path"], d["code"]) for d in first] == [("src/train.py", "DL002")]
    assert first[0]["related"][0]["path"] == "src/model.py"
    monkeypatch.chdir(src_project / "src")
    result = invoke("train.py", "-v")
    assert "1 from cache" in result.output  # the entry the first run wrote serves this one
    assert "train.py:4:8: DL002" in result.output and "src/" not in result.output
    assert "= model.py:" in result.output
    again = json.loads(invoke("train.py", "--format", "json").output)
    assert again[0]["path"] == "train.py" and again[0]["related"][0]["path"] == "model.py"


def test_sarif_locations_point_at_the_file_from_any_folder(src_project, monkeypatch):
    monkeypatch.chdir(src_project)
    invoke("src")  # fills the cache from the root
    monkeypatch.chdir(src_project / "src")
    sarif = json.loads(invoke("train.py", "--format", "sarif").output)
    run = sarif["runs"][0]
    base = urlparse(run["originalUriBaseIds"]["SRCROOT"]["uri"]).path
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    resolved = os.path.join(unquote(base), unquote(location["uri"]))
    assert os.path.samefile(resolved, src_project / "src" / "train.py")


def test_an_absolute_path_from_elsewhere_is_shown_as_given(src_project, tmp_path_factory,
                                                           monkeypatch):
    monkeypatch.chdir(src_project)
    invoke("src")  # fills the cache with paths relative to the root
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    absolute = str(src_project / "src" / "train.py")
    reported = json.loads(invoke(absolute, "--format", "json").output)
    assert [d["path"] for d in reported] == [absolute]
    assert reported[0]["related"][0]["path"] == str(src_project / "src" / "model.py")


def test_a_project_too_large_to_be_one_adds_nothing_to_the_index(tmp_path, monkeypatch):
    """A home directory under git is no project: its named files are indexed alone, and the
    walk stops as soon as it knows (it never lists the whole tree)."""
    import dllint.runner as runner
    from dllint.discovery import discover

    (tmp_path / ".git").mkdir()
    for name in ("a.py", "b.py", "c.py", "d.py"):
        (tmp_path / name).write_text("import torch\n")
    settings = build_settings(FileConfig(root=tmp_path))
    monkeypatch.setattr(runner, "MAX_WORKSPACE_FILES", 2)
    assert project_files([str(tmp_path / "a.py")], settings) == [str(tmp_path / "a.py")]
    monkeypatch.setattr(runner, "MAX_WORKSPACE_FILES", 4)
    assert len(project_files([str(tmp_path / "a.py")], settings)) == 4
    found = discover([str(tmp_path)], settings, max_files=2)
    assert found.truncated and len(found.files) == 3


# ---- model-based rules run on a file that imports a summarised module ------------------------

LOSS_FACTORY = "from torch import nn\n\n\ndef make_loss():\n    return nn.CrossEntropyLoss()\n"
# Names no loss and no activation: no rule's text gate wants it on its own.
TRAIN_WITH_FACTORY = ("from model import Net\nfrom losses import make_loss\n\n"
                      "criterion = make_loss()\nout = criterion(Net()(x), y)\n")


def factory_project(root: Path, model: str = SOFTMAX_MODEL) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "setup.py").write_text("")
    (root / "model.py").write_text(model)
    (root / "losses.py").write_text(LOSS_FACTORY)
    (root / "train.py").write_text(TRAIN_WITH_FACTORY)
    return root


def test_a_file_importing_a_summarised_module_is_linted_whatever_its_text(tmp_path):
    root = factory_project(tmp_path / "proj")
    settings = build_settings(FileConfig(root=root))
    for named in ([str(root)], [str(root / "train.py")]):
        diagnostics = lint_paths(named, settings=settings)
        assert {(os.path.basename(d.path), d.line, d.code) for d in diagnostics} == \
            {("train.py", 5, "DL002")}


def test_the_cache_notices_that_a_skipped_files_import_gained_a_summary(tmp_path):
    """train.py is skipped while model.py defines nothing to share; its cache entry must not
    outlive model.py's change."""
    root = factory_project(tmp_path / "proj", model="VERSION = 1\n")
    settings = build_settings(FileConfig(root=root, cache_dir=str(tmp_path / "cache")))
    assert lint_paths([str(root / "train.py")], settings=settings, use_cache=True) == []
    (root / "model.py").write_text(SOFTMAX_MODEL)
    assert [d.code for d in lint_paths([str(root / "train.py")], settings=settings,
                                       use_cache=True)] == ["DL002"]


@pytest.mark.parametrize("text, names", [
    ("import os, torch.nn as nn\n", ["os", "torch.nn"]),
    ("from .model import Net as N, build\n", [".model", ".model.Net", ".model.build"]),
    ("from . import model\n", [".", ".model"]),
    ("from data import (\n    Folder,\n)\n", ["data"]),
    ("    from x.y import *  # comment\n", ["x.y"]),
    ("text = 'no import here'\n", []),
])
def test_imports_are_read_from_the_text(text, names):
    from dllint.semantic.project import statement_imports
    assert statement_imports(text) == names


def test_a_file_in_no_project_is_indexed_with_its_neighbours_only(tmp_path, monkeypatch):
    """A script in a folder without project metadata (/tmp, ~/Downloads) is judged with the
    modules beside it, which it can import by name, and not with the trees below its folder:
    walking a temporary folder's thousands of job folders stalled a one-file run."""
    import dllint.requirements as requirements

    lone = tmp_path / "lone"
    (lone / "jobs" / "job1").mkdir(parents=True)
    (lone / "train.py").write_text("import torch\nfrom model import Net\n")
    (lone / "model.py").write_text("import torch\n")
    (lone / "jobs" / "job1" / "other.py").write_text("import torch\n")
    # Whatever lies above the test's temporary folder, this folder is in no project.
    real_root = requirements.project_root
    monkeypatch.setattr("dllint.runner.project_root", lambda start: None
                        if str(os.path.realpath(start)).startswith(str(lone.resolve()))
                        else real_root(start))
    settings = build_settings(FileConfig(root=lone))
    files = project_files([str(lone / "train.py")], settings)
    assert sorted(os.path.basename(path) for path in files) == ["model.py", "train.py"]
