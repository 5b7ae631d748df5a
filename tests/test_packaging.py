"""The wheel, installed as a user installs it (not editable), is a working dllint (issue 26).

The wheel is built offline from a copy of this checkout, installed with no dependencies into a
fresh virtual environment; the dependencies (libcst, torch, pygls...) come from this test's own
environment through a .pth file, which adds its site-packages to the path without running its
.pth files: the editable install of the checkout is not seen. Every command runs from a folder
outside the checkout, and the test checks that `dllint` is imported from the new environment.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

SOURCES = ["pyproject.toml", "setup.py", "README.md", "LICENSE", "dllint", "rules"]


def run(command: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "DLLINT_FORMAT", "VIRTUAL_ENV")}
    environment.update(NO_COLOR="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, env=environment, timeout=timeout)


def checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the checkout (the build writes next to it)."""
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "source"
    source.mkdir()
    for name in SOURCES:
        origin = REPO / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, source / name)
    checked(run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--wheel-dir", scratch / "dist", source], scratch))
    [built] = (scratch / "dist").glob("dllint-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The `bin` folder of a fresh virtual environment with the wheel installed."""
    environment = tmp_path_factory.mktemp("installed") / "venv"
    checked(run([sys.executable, "-m", "venv", "--without-pip", environment], environment.parent))
    python = environment / "bin" / "python"
    checked(run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                 wheel], environment.parent))
    purelib = Path(checked(run([python, "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"], environment.parent))
                   .stdout.strip())
    ours = [*site.getsitepackages(), sysconfig.get_paths()["purelib"],
            *([site.getusersitepackages()] if site.ENABLE_USER_SITE else [])]
    (purelib / "zz_test_dependencies.pth").write_text(
        "".join(f"{folder}\n" for folder in dict.fromkeys(ours)), encoding="utf-8")
    return environment / "bin"


def test_the_wheel_holds_every_package_of_the_checkout_and_the_licence(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {folder.relative_to(REPO).as_posix() for folder in (REPO / "dllint").rglob("*")
                if (folder / "__init__.py").is_file()} | {"dllint"}
    assert "dllint/runtime/distributed" in packages
    for package in packages:
        assert f"{package}/__init__.py" in names, package
    rules = {f"dllint/rules/{file.name}" for file in (REPO / "rules").glob("*.py")}
    assert rules and rules <= names
    [licence] = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    assert zipfile.ZipFile(wheel).read(licence) == (REPO / "LICENSE").read_bytes()


def test_the_installed_wheel_is_the_dllint_that_runs(installed, tmp_path):
    imported = checked(run([installed / "python", "-c", "import dllint; print(dllint.__file__)"],
                           tmp_path)).stdout.strip()
    assert imported.startswith(str(installed.parent)) and str(REPO) not in imported
    version = checked(run([installed / "dllint", "--version"], tmp_path))
    assert version.stdout.startswith("dllint, version ")


def test_the_installed_wheel_lints_and_traces(installed, tmp_path):
    (tmp_path / "train.py").write_text(
        "import os\nnames = os.listdir('data')\nnames.index('a')\n", encoding="utf-8")
    linted = run([installed / "dllint", "check", "--no-cache", "train.py"], tmp_path)
    assert linted.returncode == 1 and "DL001" in linted.stdout, linted.stdout + linted.stderr
    traced = checked(run([installed / "dllint", "trace", "--steps", "2", "--no-static",
                          REPO / "fixtures" / "runtime" / "clean_mlp.py"], tmp_path))
    assert "gradient norms" in traced.stdout and "All checks passed" in traced.stdout
    assert "needs torch" not in traced.stdout + traced.stderr


def test_the_installed_wheel_starts_the_language_server(installed, tmp_path):
    helped = checked(run([installed / "dllint", "lsp", "--help"], tmp_path))
    assert "language server" in helped.stdout


def test_a_package_missing_from_the_installation_is_not_called_a_missing_extra(
        installed, tmp_path):
    """What the wheel without dllint.runtime.distributed did: torch is installed, so saying
    `dllint trace needs torch` sent users to install what they had."""
    site_packages = Path(checked(run([installed / "python", "-c",
                                      "import dllint, os; print(os.path.dirname(dllint.__file__))"],
                                     tmp_path)).stdout.strip())
    # Moved away and back, so that the other tests' installation stays whole.
    distributed, reports = site_packages / "runtime" / "distributed", site_packages / "reports"
    try:
        distributed.rename(tmp_path / "distributed")
        traced = run([installed / "dllint", "trace",
                      REPO / "fixtures" / "runtime" / "clean_mlp.py"], tmp_path)
        assert traced.returncode == 2, traced.stdout + traced.stderr
        assert traced.stderr.strip() == (
            "dllint: error: this installation of dllint is incomplete "
            "(No module named 'dllint.runtime.distributed'); reinstall dllint")
        # A missing module that every command imports is told the same way.
        reports.rename(tmp_path / "reports")
        linted = run([installed / "dllint", "check", "."], tmp_path)
        assert linted.returncode == 2, linted.stdout + linted.stderr
        assert linted.stderr.strip() == (
            "dllint: error: this installation of dllint is incomplete "
            "(No module named 'dllint.reports'); reinstall dllint")
    finally:
        for moved, home in ((tmp_path / "distributed", distributed),
                            (tmp_path / "reports", reports)):
            if moved.exists():
                moved.rename(home)
