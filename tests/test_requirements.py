"""The torch version a project declares, and DL501's silence where it guarantees PyTorch >= 2.6."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dllint.config import ConfigError, FileConfig, build_settings
from dllint.requirements import declared_minimum
from dllint.runner import lint_text

UNSAFE_LOAD = 'import torch\nstate = torch.load("downloaded.pt")\n'


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("requirements.txt", "numpy\ntorch>=2.6.0\n", (2, 6, 0)),
    ("requirements.txt", "torchvision>=0.20\ntorch==2.7.1+cu121 ; python_version>'3.8'\n",
     (2, 7, 1)),
    ("requirements-train.txt", "torch[opt] ~= 2.6\n", (2, 6)),
    ("requirements.txt", "torch >1.13, <3  # tested on 2.1\n", (1, 13)),
    ("requirements.txt", "torch\ntorchvision>=0.21\n", None),
    ("pyproject.toml", '[project]\ndependencies = ["torch>=2.6", "numpy"]\n', (2, 6)),
    ("pyproject.toml", '[project]\ndependencies = []\n[project.optional-dependencies]\n'
                       'gpu = ["torch>=2.6"]\n', None),
    ("pyproject.toml", '[tool.poetry.dependencies]\ntorch = "^2.6"\n', (2, 6)),
    ("pyproject.toml", '[tool.poetry.dependencies]\ntorch = {version = "2.7.0"}\n', (2, 7, 0)),
    ("setup.cfg", "[options]\ninstall_requires =\n    numpy\n    torch>=2.6\n", (2, 6)),
    ("setup.py", "setup(install_requires=['torch>=2.8', 'numpy'])\n", (2, 8)),
    ("pyproject.toml", "this is [not toml\n", None),
])
def test_declared_minimum(tmp_path: Path, name, text, expected):
    (tmp_path / name).write_text(text)
    assert declared_minimum(tmp_path, "torch") == expected


def _findings(root: Path) -> list[str]:
    settings = build_settings(FileConfig(root=root), select=["DL501"])
    return [d.code for d in lint_text(UNSAFE_LOAD, str(root / "load.py"), settings).diagnostics]


def test_dl501_is_silent_when_the_project_requires_torch_2_6(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("torch>=2.6\n")
    assert _findings(tmp_path) == []


def test_dl501_flags_when_the_project_allows_an_older_torch(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("torch>=2.1\n")
    assert _findings(tmp_path) == ["DL501"]


def test_dl501_is_off_by_default(tmp_path: Path):
    settings = build_settings(FileConfig(root=tmp_path))
    assert "DL501" not in settings.enabled
    assert "DL501" in build_settings(FileConfig(root=tmp_path), extend_select=["DL5"]).enabled


@pytest.mark.parametrize(("name", "text", "message"), [
    ("requirements.txt", "numpy\ntorch>=2." + "9" * 5000 + "\n",
     "requirements.txt:2: the version 2.999999999999999999... is too long (5002 characters)"),
    ("setup.cfg", "[options]\ninstall_requires =\n    torch==" + "1." * 40 + "0\n",
     "setup.cfg: [options] install_requires: the version 1.1.1.1.1.1.1.1.1.1.... is too long"),
    ("pyproject.toml", "project = 1\n", "pyproject.toml: project must be a table"),
    ("pyproject.toml", "[project]\ndependencies = 'torch>=2.6'\n",
     "pyproject.toml: project.dependencies must be an array of strings"),
    ("pyproject.toml", "[project]\ndependencies = ['numpy', 2]\n",
     "pyproject.toml: project.dependencies must be an array of strings"),
    ("pyproject.toml", "tool = 'poetry'\n", "pyproject.toml: tool must be a table"),
    ("pyproject.toml", "[tool]\npoetry = []\n", "pyproject.toml: tool.poetry must be a table"),
    ("pyproject.toml", "[tool.poetry]\ndependencies = 2\n",
     "pyproject.toml: tool.poetry.dependencies must be a table"),
])
def test_project_metadata_dllint_cannot_read_is_a_configuration_error(tmp_path: Path, run_cli,
                                                                      name, text, message):
    (tmp_path / name).write_text(text)
    (tmp_path / "load.py").write_text(UNSAFE_LOAD)
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_settings(FileConfig(root=tmp_path))
    result = run_cli("load.py", "--no-cache")
    assert result.returncode == 2
    [line] = result.stderr.decode().splitlines()
    assert line.startswith(f"dllint: error: {tmp_path / name}" + message[len(name):])


def test_a_long_but_real_version_is_still_read(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("torch>=2.6.0.20240101\n")
    assert declared_minimum(tmp_path, "torch") == (2, 6, 0, 20240101)


def test_the_project_root_is_the_nearest_folder_with_project_metadata(tmp_path: Path):
    from dllint.requirements import project_root
    nested = tmp_path / "repo" / "src" / "pkg"
    nested.mkdir(parents=True)
    (nested / "train.py").write_text("")
    found = project_root(nested / "train.py")
    assert found is None or not found.is_relative_to(tmp_path.resolve())
    (tmp_path / "repo" / ".git").mkdir()
    assert project_root(nested / "train.py") == (tmp_path / "repo").resolve()
    (tmp_path / "repo" / "src" / "requirements-gpu.txt").write_text("torch>=2.6\n")
    assert project_root(nested) == (tmp_path / "repo" / "src").resolve()
    (nested / "setup.cfg").write_text("")
    assert project_root(nested / "train.py") == nested.resolve()


@pytest.mark.parametrize(("project", "elsewhere", "expected"), [
    ("torch>=2.6\n", "torch>=2.1\n", []),
    ("torch>=2.1\n", "torch>=2.6\n", ["DL501"]),
])
def test_dl501_reads_the_linted_projects_requirements_from_any_folder(
        tmp_path: Path, monkeypatch, project, elsewhere, expected):
    """The same tree gives the same findings whichever folder dllint is started from."""
    import json

    from click.testing import CliRunner

    from dllint.cli import main
    repo, other = tmp_path / "repo", tmp_path / "other"
    (repo / "src").mkdir(parents=True)
    other.mkdir()
    (repo / "requirements.txt").write_text(project)
    (repo / "src" / "load.py").write_text(UNSAFE_LOAD)
    (other / "requirements.txt").write_text(elsewhere)
    for cwd, path in ((other, repo / "src" / "load.py"), (repo, Path("src") / "load.py")):
        monkeypatch.chdir(cwd)
        result = CliRunner().invoke(main, ["check", "--no-cache", "--extend-select", "DL5",
                                           "--format", "json", str(path)])
        assert [item["code"] for item in json.loads(result.output)] == expected, cwd
