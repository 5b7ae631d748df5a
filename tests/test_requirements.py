"""The torch version a project declares, and DL501's silence where it guarantees PyTorch >= 2.6."""

from __future__ import annotations

from pathlib import Path

import pytest

from dllint.config import FileConfig, build_settings
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
