"""docs/architecture.md, the contributor guide, kept true: every file and module it names exists,
and every module of the package and every benchmark is named in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GUIDE = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")

# A path the guide names: `dllint/semantic/model.py`, `rules/dl202_softmax_without_dim.py`,
# `benchmarks/corpus/`, `.ci/run`; and dotted modules, `dllint.semantic.project`.
_PATH = re.compile(r"(?<![\w./-])((?:dllint|rules|tests|benchmarks|scripts|fixtures|docs|\.ci)"
                   r"/[\w./<>*{},-]*[\w/>}*])")
_MODULE = re.compile(r"(?<![\w./])(dllint(?:\.\w+)+)")
# Written as patterns or placeholders, not as files.
_PATTERNS = ("<", "*", "{", "NNN")


def _named_paths() -> list[str]:
    return sorted({path for path in _PATH.findall(GUIDE)
                   if not any(mark in path for mark in _PATTERNS)})


@pytest.mark.parametrize("path", _named_paths())
def test_every_path_the_guide_names_exists(path):
    assert (REPO / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize("module", sorted(set(_MODULE.findall(GUIDE)) - {"dllint.toml"}))
def test_every_module_the_guide_names_exists(module):
    """`dllint.semantic.project` is a file; `dllint.rules` the top-level rules/ folder."""
    parts = module.split(".")
    folders = {("dllint", "rules"): REPO / "rules"}
    # The longest prefix that is a module or a package; what follows may be an attribute.
    for end in range(len(parts), 1, -1):
        head = tuple(parts[:end])
        where = folders.get(head[:2], REPO / head[0]).joinpath(
            *head[2 if head[:2] in folders else 1:])
        if where.with_suffix(".py").exists() or (where / "__init__.py").exists():
            return
    pytest.fail(f"docs/architecture.md names {module}, which is no module")


def _modules_of_the_project() -> list[str]:
    folders = ["dllint", "dllint/semantic", "dllint/semantic/frameworks", "dllint/runtime",
               "dllint/runtime/distributed", "dllint/reports", "benchmarks", "scripts"]
    return sorted(f"{folder}/{path.name}" for folder in folders
                  for path in (REPO / folder).iterdir()
                  if path.suffix in (".py", ".sh") and path.name != "__init__.py")


@pytest.mark.parametrize("path", _modules_of_the_project())
def test_every_module_and_benchmark_is_in_the_guide(path):
    """By its path, or by its file name in the layout (section 5 lists a folder's files)."""
    name = Path(path).name
    assert path in GUIDE or re.search(rf"(?<![\w/]){re.escape(name)}", GUIDE), \
        f"docs/architecture.md does not mention {path}"


def test_every_slow_module_exists():
    """A renamed module would otherwise leave the list silently and join the fast tier."""
    from conftest import SLOW_MODULES
    assert sorted(name for name in SLOW_MODULES if not (REPO / "tests" / f"{name}.py").exists()) \
        == []


def test_the_fast_tier_keeps_this_module(request):
    assert request.node.get_closest_marker("slow") is None


def test_a_slow_module_is_marked_slow(pytestconfig):
    from conftest import pytest_collection_modifyitems

    class Item:
        def __init__(self, stem):
            self.path, self.markers = REPO / "tests" / f"{stem}.py", []

        def add_marker(self, marker):
            self.markers.append(marker.name)

    items = [Item("test_runtime"), Item("test_cli")]
    pytest_collection_modifyitems(pytestconfig, items)
    assert [item.markers for item in items] == [["slow"], []]
