"""The shipped fixture projects give exactly the expected findings."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from dllint.api import lint_paths, settings_for
from dllint.config import FileConfig, build_settings
from dllint.runner import run

from conftest import REPO

STATIC = REPO / "fixtures" / "static"

EXPECTED_BUGGY = {
    # DL001 unordered listings: paired by index, numbered, walked, handed to a Dataset, .index()
    ("datasets.py", 28, "DL001"), ("datasets.py", 29, "DL001"), ("datasets.py", 47, "DL001"),
    ("datasets.py", 66, "DL001"), ("datasets.py", 69, "DL001"), ("datasets.py", 77, "DL001"),
    ("train.py", 24, "DL001"),
    # DL002 activation before a logits loss, both across files: a forward returning softmax,
    # a factory returning a Sequential that ends in Sigmoid
    ("train.py", 49, "DL002"), ("train.py", 84, "DL002"),
    # DL003 double scaling: 0-255 Normalize after ToTensor, ToTensor then /255, /255 then div(255)
    ("datasets.py", 20, "DL003"), ("datasets.py", 108, "DL003"), ("datasets.py", 115, "DL003"),
    # DL004 modes: helper without eval(), opaque torchvision model, load_state_dict script,
    # eval() in the epoch loop without train(), bare `.eval`
    ("evaluate.py", 18, "DL004"), ("evaluate.py", 27, "DL004"), ("evaluate.py", 39, "DL004"),
    ("train.py", 52, "DL004"), ("train.py", 71, "DL004"),
    # DL005 dtypes: uint8 - 128 wraps, pandas float64 into a TensorDataset
    ("features.py", 14, "DL005"), ("features.py", 23, "DL005"),
    # DL006 shapes: reductions without keepdims, rank-1 .T, one-sided squeeze() into a loss
    ("features.py", 18, "DL006"), ("features.py", 31, "DL006"), ("features.py", 40, "DL006"),
    ("train.py", 68, "DL006"),
    # DL201 log of the softmax that GradeClassifier (model.py) returns, reaching `validate`
    # through its `model` parameter from train_grades' call site
    ("train.py", 33, "DL201"),
}


def copy_of(project: str, folder: Path) -> Path:
    """The fixture project on its own, as a user's project is: in place, its project would be
    this whole repository (its pyproject.toml), and every run would index every file here."""
    copy = folder / project
    shutil.copytree(STATIC / project, copy)
    return copy


def found(project: str) -> set[tuple[str, int, str]]:
    with tempfile.TemporaryDirectory() as folder:
        copy = copy_of(project, Path(folder))
        settings = settings_for(copy, isolated=True)
        return {(d.path.rsplit("/", 1)[-1], d.line, d.code)
                for d in lint_paths([copy], settings=settings)}


def test_buggy_project_findings_are_exactly_the_seeded_bugs():
    assert found("buggy_project") == EXPECTED_BUGGY


def test_clean_twin_is_clean():
    assert found("clean_project") == set()


def test_fixing_the_buggy_project_leaves_only_what_has_no_fix(tmp_path):
    copy = copy_of("buggy_project", tmp_path)
    settings = build_settings(FileConfig(root=copy), fix=True)
    result = run([str(copy)], settings, use_cache=False)
    remaining = {(d.path.rsplit("/", 1)[-1], d.line, d.code) for d in result.diagnostics}
    fixed = {("datasets.py", 28, "DL001"), ("datasets.py", 29, "DL001"), ("datasets.py", 47, "DL001"),
             ("datasets.py", 77, "DL001"), ("train.py", 24, "DL001"), ("train.py", 71, "DL004"),
             ("features.py", 23, "DL005")}
    assert remaining == EXPECTED_BUGGY - fixed  # only safe fixes ran; the rest need a person
    assert result.fixes_applied == len(fixed)


def test_every_seed_rule_appears_in_more_than_one_form():
    per_rule = {}
    for _, _, code in EXPECTED_BUGGY:
        if code < "DL100":  # a seed bug may show through a wider rule too (DL201)
            per_rule[code] = per_rule.get(code, 0) + 1
    assert sorted(per_rule) == ["DL001", "DL002", "DL003", "DL004", "DL005", "DL006"]
    assert min(per_rule.values()) >= 2


def test_fixture_projects_are_realistic_in_size():
    for project in ("buggy_project", "clean_project"):
        lines = sum(len(path.read_text().splitlines()) for path in (STATIC / project).glob("*.py"))
        assert lines >= 300
