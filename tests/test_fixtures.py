"""The shipped fixture projects give exactly the expected findings."""

from __future__ import annotations

import shutil

from dllint.api import lint_paths, settings_for
from dllint.config import FileConfig, build_settings
from dllint.runner import run

from conftest import REPO

STATIC = REPO / "fixtures" / "static"

EXPECTED_BUGGY = {
    ("datasets.py", 21, "DL001"),  # images listing indexed with the masks listing
    ("datasets.py", 22, "DL001"),  # masks listing, its twin
    ("datasets.py", 40, "DL001"),  # class folders numbered in listing order
    ("datasets.py", 59, "DL001"),  # os.walk of frames zipped with ...
    ("datasets.py", 62, "DL001"),  # ... os.walk of flows
    ("datasets.py", 70, "DL001"),  # Path.glob handed to a Dataset with a sorted listing
    ("train.py", 21, "DL001"),  # listing.index() as a class index
}


def found(project: str) -> set[tuple[str, int, str]]:
    settings = settings_for(STATIC / project, isolated=True)
    return {(d.path.rsplit("/", 1)[-1], d.line, d.code)
            for d in lint_paths([STATIC / project], settings=settings)}


def test_buggy_project_findings_are_exactly_the_seeded_bugs():
    assert found("buggy_project") == EXPECTED_BUGGY


def test_clean_twin_is_clean():
    assert found("clean_project") == set()


def test_fixing_the_buggy_project_leaves_only_what_has_no_fix(tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(STATIC / "buggy_project", copy)
    settings = build_settings(FileConfig(root=copy), fix=True)
    result = run([str(copy)], settings, use_cache=False)
    remaining = {(d.path.rsplit("/", 1)[-1], d.line) for d in result.diagnostics}
    assert remaining == {("datasets.py", 59), ("datasets.py", 62)}  # os.walk: no mechanical fix
    assert result.fixes_applied == 5
