"""The pre-commit hook in a real pre-commit run (`pre-commit try-repo` on this repository)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO
from helpers import CLEAN, PAIRED_LISTINGS

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def run(*args, cwd, env):
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def pre_commit_env(tmp_path_factory):
    pytest.importorskip("pre_commit")
    home = tmp_path_factory.mktemp("pre-commit-home")
    return {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def test_hook_lints_only_the_files_handed_to_it(tmp_path, pre_commit_env):
    project = tmp_path / "project"
    project.mkdir()
    run("git", "init", "-q", cwd=project, env=pre_commit_env)
    (project / "bad.py").write_text(PAIRED_LISTINGS)
    (project / "clean.py").write_text(CLEAN)
    (project / "notes.txt").write_text(PAIRED_LISTINGS)
    run("git", "add", ".", cwd=project, env=pre_commit_env)
    try_repo = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "dllint"]

    started = time.monotonic()
    failing = run(*try_repo, "--files", "bad.py", "clean.py", cwd=project, env=pre_commit_env)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "bad.py:2:10: DL001" in failing.stdout and "clean.py" not in failing.stdout.split("Failed")[-1]
    first = time.monotonic() - started

    notebook = json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [],
                                      "execution_count": None, "source": PAIRED_LISTINGS}],
                           "metadata": {"kernelspec": {"language": "python", "name": "python3",
                                                       "display_name": "Python 3"}},
                           "nbformat": 4, "nbformat_minor": 5})
    (project / "explore.ipynb").write_text(notebook)
    run("git", "add", ".", cwd=project, env=pre_commit_env)
    notebook_run = run(*try_repo, "--files", "explore.ipynb", cwd=project, env=pre_commit_env)
    assert notebook_run.returncode == 1 and "explore.ipynb:cell 1:2:10: DL001" in notebook_run.stdout

    started = time.monotonic()
    passing = run(*try_repo, "--files", "clean.py", "notes.txt", cwd=project, env=pre_commit_env)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "Passed" in passing.stdout or "no files to check" in passing.stdout
    print(f"\npre-commit try-repo: first run {first:.1f} s (builds the hook env), "
          f"then {time.monotonic() - started:.1f} s")


def readme_pre_commit_snippet() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## pre-commit", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_snippet_works_as_pasted(tmp_path, pre_commit_env):
    """The README's .pre-commit-config.yaml, byte for byte, in a fresh repository, with dllint
    installed in the environment as the README's set-up installs it."""
    snippet = readme_pre_commit_snippet()
    assert snippet.startswith("# .pre-commit-config.yaml\n") and "dllint" in snippet
    project = tmp_path / "project"
    project.mkdir()
    run("git", "init", "-q", cwd=project, env=pre_commit_env)
    (project / ".pre-commit-config.yaml").write_text(snippet)
    (project / "bad.py").write_text(PAIRED_LISTINGS)
    (project / "clean.py").write_text(CLEAN)
    run("git", "add", ".", cwd=project, env=pre_commit_env)
    env = {**pre_commit_env,
           "PATH": os.path.dirname(sys.executable) + os.pathsep + pre_commit_env["PATH"]}
    hook = [sys.executable, "-m", "pre_commit", "run"]

    failing = run(*hook, "--files", "bad.py", "clean.py", cwd=project, env=env)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert "bad.py:2:10: DL001" in failing.stdout

    passing = run(*hook, "--files", "clean.py", cwd=project, env=env)
    assert passing.returncode == 0 and "Passed" in passing.stdout, passing.stdout + passing.stderr
