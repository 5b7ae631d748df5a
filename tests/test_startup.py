"""What dllint loads before it works (issue 26): `import dllint` and the runtime codes load
neither libcst nor rich nor torch, `dllint --version` loads none of the linter, dllint's modules
import one another without cycles, and linting never loads libcst.matchers. Counted through
sys.modules and `-X importtime` in fresh interpreters, never timed (benchmarks/startup.py
times them)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import dllint
from conftest import REPO
from dllint.cli import main

HEAVY = ("libcst", "rich", "torch", "click", "pathspec")


def fresh(code: str, *options: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "DLLINT_FORMAT"}
    result = subprocess.run([sys.executable, *options, "-c", code], capture_output=True,
                            text=True, cwd=REPO, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    return result


def loaded_after(statement: str) -> set[str]:
    return set(fresh(f"import sys\n{statement}\nprint(*sys.modules)").stdout.split())


def top_level(names: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in names}


@pytest.mark.parametrize("statement", ["import dllint", "import dllint.runtime.codes",
                                       "from dllint.runtime.codes import RUNTIME_CODES"])
def test_importing_the_package_or_the_runtime_codes_loads_no_heavy_dependency(statement):
    loaded = loaded_after(statement)
    assert not top_level(loaded) & set(HEAVY), sorted(top_level(loaded) & set(HEAVY))
    ours = {name for name in loaded if name.partition(".")[0] == "dllint"}
    # The codes, the engine codes they are documented like, and the Severity both use.
    assert ours <= {"dllint", "dllint.runtime", "dllint.runtime.codes", "dllint.engine_codes",
                    "dllint.types"}, sorted(ours)


def test_the_public_names_are_loaded_on_first_use():
    loaded = loaded_after("import dllint\n"
                          "assert 'dllint.api' not in sys.modules\n"
                          "from dllint import lint_source, Diagnostic, Severity\n"
                          "codes = [d.code for d in lint_source('import os\\n"
                          "names = os.listdir(\"x\")\\nnames.index(\"a\")\\n')]\n"
                          "assert codes == ['DL001'], codes\n"
                          "assert isinstance(Severity.ERROR, Severity)")
    assert {"dllint.api", "libcst"} <= loaded
    # The first look-up stores the name, so the package's own attribute is the API's function.
    from dllint import api
    assert dllint.lint_paths is api.lint_paths and "lint_source" in dir(dllint)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        dllint.not_a_name  # noqa: B018


def test_dllint_version_loads_nothing_of_the_linter():
    result = fresh("import runpy, sys\nsys.argv = ['dllint', '--version']\n"
                   "runpy.run_module('dllint', run_name='__main__')", "-X", "importtime")
    imported = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "dllint.entry" in imported
    assert not top_level(imported) & set(HEAVY), sorted(top_level(imported) & set(HEAVY))
    assert not {"dllint.cli", "dllint.config", "dllint.registry"} & imported
    # The same words as click's --version, which `dllint --version --help` and the like reach.
    assert result.stdout == CliRunner().invoke(main, ["--version"]).output \
        == f"dllint, version {dllint.__version__}\n"


def test_linting_never_imports_libcst_matchers():
    """Its import alone cost about half of a five-file pre-commit run."""
    loaded = loaded_after("from dllint.registry import all_rules\n"
                          "from dllint import lint_source\n"
                          "assert len(all_rules()) > 20\n"
                          "lint_source('import torch.nn.functional as F\\n"
                          "class Net:\\n    def forward(self, x):\\n"
                          "        if self.training:\\n            x = F.dropout(x)\\n"
                          "        return F.dropout(x, 0.5)\\n')")
    assert "dllint.rules.dl302_functional_dropout_always_on" in loaded
    assert "libcst.matchers" not in loaded


def module_name(file: Path) -> str:
    relative = file.relative_to(REPO).with_suffix("")
    parts = ["dllint", "rules", *relative.parts[1:]] if relative.parts[0] == "rules" \
        else list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_when_loaded(tree: ast.Module) -> set[str]:
    """The modules a module imports as it is loaded: its top-level statements (in `if`, `try`
    and `with` blocks too), not in functions, not under `if TYPE_CHECKING:`."""
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.Import):
                names.update(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom) and statement.level == 0 \
                    and statement.module:
                names.add(statement.module)
                # `from dllint import api` imports the module dllint.api.
                names.update(f"{statement.module}.{alias.name}" for alias in statement.names)
            elif isinstance(statement, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(statement.test):
                    visit(statement.body)
                visit(statement.orelse)
            elif isinstance(statement, (ast.Try, ast.With)):
                visit(statement.body)
                for handler in getattr(statement, "handlers", []):
                    visit(handler.body)
                visit(getattr(statement, "orelse", []))
                visit(getattr(statement, "finalbody", []))

    visit(tree.body)
    return names


def test_dllint_modules_import_one_another_without_cycles():
    files = [*REPO.joinpath("dllint").rglob("*.py"), *REPO.joinpath("rules").glob("*.py")]
    modules = {module_name(file): file for file in files}
    assert {"dllint", "dllint.api", "dllint.config", "dllint.semantic.binding"} <= set(modules)
    graph: dict[str, set[str]] = {}
    for name, file in modules.items():
        edges = set()
        for imported in imported_when_loaded(ast.parse(file.read_text(encoding="utf-8"))):
            parts = imported.split(".")
            # Importing a.b.c first imports the packages a and a.b.
            edges.update(prefix for prefix in (".".join(parts[:end])
                                               for end in range(1, len(parts) + 1))
                         if prefix in modules and prefix != name)
        graph[name] = edges
    cycles = find_cycles(graph)
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each module that is on one (depth first; iterative, so deep import
    chains cannot exhaust the stack)."""
    done: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if following in on_path:
                cycles.append([*path[path.index(following):], following])
            elif following not in done:
                path.append(following)
                on_path.add(following)
                stack.append(iter(sorted(graph[following])))
    return cycles


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


HOOK_RUN = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print('MODULES', *sys.modules, file=sys.stderr))\n"
            "sys.argv = ['dllint', 'check', '--force-exclude', *sys.argv[1:]]\n"
            "runpy.run_module('dllint', run_name='__main__')\n")


def hook(root: Path, *files: str) -> tuple[int, str, set[str]]:
    """The pre-commit hook's command on `files`: exit status, output, modules it loaded."""
    environment = {key: value for key, value in os.environ.items() if key != "DLLINT_FORMAT"}
    environment["NO_COLOR"] = "1"
    result = subprocess.run([sys.executable, "-c", HOOK_RUN, *files], capture_output=True,
                            text=True, cwd=root, timeout=120, env=environment)
    modules = set(result.stderr.rpartition("MODULES")[2].split())
    return result.returncode, result.stdout, modules


def test_a_pre_commit_run_answered_from_the_cache_never_imports_libcst_or_a_rule(tmp_path):
    """A hit depends on the summaries of the modules a file imports: a sibling that changed
    (and was not named) is summarised again, and its importer linted again, with libcst."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "model.py").write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Net(nn.Module):\n"
        "    def forward(self, x):\n        return torch.softmax(x, dim=1)\n")
    (tmp_path / "train.py").write_text(
        "import torch.nn as nn\nfrom model import Net\n\nnet = Net()\n"
        "loss = nn.CrossEntropyLoss()(net(1), 2)\n")
    (tmp_path / "other.py").write_text("import os\nprint(os.sep)\n")
    named = ("train.py", "other.py")
    cold = hook(tmp_path, *named)
    assert cold[0] == 1 and "DL002" in cold[1] and "libcst" in cold[2]
    warm = hook(tmp_path, *named)
    assert warm[:2] == cold[:2]
    assert not {name for name in warm[2] if name == "libcst" or name.startswith("libcst.")
                or name.startswith("dllint.rules.") or name == "dllint.engine"}
    # The model no longer ends in a softmax: train.py's entry must not be used.
    (tmp_path / "model.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n"
        "    def forward(self, x):\n        return x\n")
    after = hook(tmp_path, *named)
    assert after[0] == 0 and "DL002" not in after[1] and "libcst" in after[2]
    assert after[:2] == hook(tmp_path, *named, "--no-cache")[:2]
