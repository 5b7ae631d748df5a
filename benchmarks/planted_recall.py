"""Recall on real code: plant known bugs into a source tree you did not write, lint, count.

    python benchmarks/planted_recall.py TREE [--kinds softmax-in-forward,drop-eval,...] [-v]

TREE is a checkout of real training code (e.g. pytorch/examples). For each kind of bug, every
site where it can be planted is mutated on its own, in a temporary copy of the file's folder
(the folder is what cross-file analysis sees), and that folder is linted. A plant counts as
found when the expected rule reports a finding that the unmutated folder did not have, at the
planted line (or with it as a related location) where the rule reports there, else in the file.

Kinds (rule, what is planted):
- softmax-in-forward (DL002): the last `return X` of an nn.Module's forward becomes
  `return torch.nn.functional.softmax(X, dim=-1)`, in folders that train with cross-entropy;
- softmax-through-helper (DL002): the same, with the model passed through one more function
  (`model = _passed_on(model)` after its construction);
- drop-eval (DL004): a `model.eval()` statement is removed;
- drop-zero-grad (DL101): an `optimizer.zero_grad()` statement is removed;
- drop-sorted (DL001): `sorted(<listing>)` becomes the bare listing.
Not every plant is a bug the rule should see (a softmax model never trained with
cross-entropy, an eval() before a loop without dropout); the figures are a floor.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from dllint.config import FileConfig, build_settings
from dllint.runner import run

CE = re.compile(r"cross_entropy|CrossEntropyLoss")


@dataclass(frozen=True)
class Plant:
    kind: str
    rule: str
    path: Path
    line: int  # 1-based line of the planted change
    text: str  # the mutated file
    at_line: bool  # the rule reports at (or related to) the planted line


def statement_call(line_node: cst.CSTNode, method: str) -> bool:
    """`something.method()` as a whole statement."""
    if not isinstance(line_node, cst.SimpleStatementLine) or len(line_node.body) != 1:
        return False
    expression = line_node.body[0]
    return (isinstance(expression, cst.Expr) and isinstance(expression.value, cst.Call)
            and isinstance(expression.value.func, cst.Attribute)
            and expression.value.func.attr.value == method and not expression.value.args)


def replace_line(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    indent = re.match(r"\s*", lines[line - 1]).group(0)
    lines[line - 1] = f"{indent}{new}\n"
    return "".join(lines)


def with_torch_import(text: str) -> str:
    return text if re.search(r"^import torch\b", text, re.MULTILINE) else "import torch\n" + text


def plants_in(path: Path, text: str, folder_uses_ce: bool) -> list[Plant]:
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return []
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    found: list[Plant] = []
    source_lines = text.splitlines()

    class Finder(cst.CSTVisitor):
        def __init__(self) -> None:
            self.classes: list[str] = []

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.classes.append(node.name.value)

        def leave_ClassDef(self, node: cst.ClassDef) -> None:
            self.classes.pop()

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            if node.name.value == "forward" and self.classes and folder_uses_ce:
                body = node.body.body
                last = body[-1] if body else None
                if isinstance(last, cst.SimpleStatementLine) and isinstance(
                        last.body[0], cst.Return) and last.body[0].value is not None and not \
                        isinstance(last.body[0].value, cst.Tuple):
                    line = positions[last].start.line
                    value = module.code_for_node(last.body[0].value)
                    if "\n" not in value:
                        new = f"return torch.nn.functional.softmax({value}, dim=-1)"
                        mutated = replace_line(text, line, new)
                        imported = with_torch_import(mutated)
                        found.append(Plant("softmax-in-forward", "DL002", path,
                                           line + (imported != mutated), imported, True))
                        found.append(Plant("softmax-through-helper", "DL002", path,
                                           line + (imported != mutated), imported, True))

        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            line = positions[node].start.line
            if statement_call(node, "eval"):
                found.append(Plant("drop-eval", "DL004", path, line,
                                   replace_line(text, line, "pass"), False))
            elif statement_call(node, "zero_grad"):
                found.append(Plant("drop-zero-grad", "DL101", path, line,
                                   replace_line(text, line, "pass"), False))

        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Name) and node.func.value == "sorted" and \
                    len(node.args) == 1 and re.search(
                        r"glob|listdir|scandir|iterdir", module.code_for_node(node.args[0].value)):
                start, end = positions[node].start, positions[node].end
                if start.line != end.line:
                    return
                line_text = source_lines[start.line - 1]
                inner = module.code_for_node(node.args[0].value)
                new_line = line_text[:start.column] + inner + line_text[end.column:]
                lines = text.splitlines(keepends=True)
                lines[start.line - 1] = new_line + "\n"
                found.append(Plant("drop-sorted", "DL001", path, start.line, "".join(lines),
                                   True))

    module.visit(Finder())
    return found


# Spaces only around the statement: `\s` would take the line's newline (and blank lines) with it,
# and every line below would move.
HOP = re.compile(r"^([ \t]*)(model|net|network|classifier)[ \t]*=[ \t]*([A-Z]\w*\(.*\))[ \t]*$",
                 re.MULTILINE)


def add_hops(folder: Path) -> int:
    """`model = Net(...)` becomes `model = _passed_on(Net(...))` with a local identity helper."""
    count = 0
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8", errors="replace")
        new, changes = HOP.subn(lambda m: f"{m.group(1)}{m.group(2)} = _passed_on({m.group(3)})",
                                text)
        if changes:
            path.write_text("def _passed_on(model):\n    return model\n\n\n" + new,
                            encoding="utf-8")
            count += changes
    return count


Finding = tuple[str, str, int, frozenset]


def findings(folder: Path) -> set[Finding]:
    """(code, file name, line, {(file name, line) of each related location})."""
    settings = build_settings(FileConfig(root=folder))
    result = run([str(folder)], settings, use_cache=False, jobs=1)
    return {(d.code, Path(d.path).name, d.line,
             frozenset((Path(r.path).name, r.span.start_line) for r in d.related))
            for d in result.diagnostics}


def is_found(plant: Plant, line: int, new: set[Finding]) -> bool:
    name = plant.path.name
    for code, file, found_line, related in new:
        if code != plant.rule:
            continue
        if not plant.at_line and file == name:
            return True
        if (file == name and found_line == line) or (name, line) in related:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree")
    parser.add_argument("--kinds", default="softmax-in-forward,softmax-through-helper,drop-eval,"
                                           "drop-zero-grad,drop-sorted")
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args()
    kinds = set(options.kinds.split(","))
    tree = Path(options.tree).resolve()

    plants: list[Plant] = []
    for path in sorted(tree.rglob("*.py")):
        folder_text = "".join(p.read_text(encoding="utf-8", errors="replace")
                              for p in path.parent.glob("*.py"))
        text = path.read_text(encoding="utf-8", errors="replace")
        plants.extend(plants_in(path, text, bool(CE.search(folder_text))))
    plants = [plant for plant in plants if plant.kind in kinds]

    planted, detected = Counter(), Counter()
    baselines: dict[tuple[Path, bool], set[Finding]] = {}
    for plant in plants:
        hop = plant.kind == "softmax-through-helper"
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / plant.path.parent.name
            shutil.copytree(plant.path.parent, copy,
                            ignore=shutil.ignore_patterns("*.pt", "*.pth", "data", "__pycache__"))
            if hop and not add_hops(copy):
                continue  # no `model = Net(...)` to pass through a helper in this folder
            key = (plant.path.parent, hop)
            if key not in baselines:
                baselines[key] = findings(copy)
            target = copy / plant.path.name
            target.write_text(plant.text, encoding="utf-8")
            line = plant.line
            if hop:
                before = target.read_text(encoding="utf-8")
                add_hops(copy)
                line += target.read_text(encoding="utf-8").count("\n") - before.count("\n")
            hit = is_found(plant, line, findings(copy) - baselines[key])
        planted[plant.kind] += 1
        detected[plant.kind] += hit
        if options.verbose:
            status = "found" if hit else "MISSED"
            print(f"{status:6} {plant.kind:22} {plant.path.relative_to(tree)}:{plant.line}")
    print_recall(tree, plants, planted, detected)


def print_recall(tree: Path, plants: list[Plant], planted: Counter, detected: Counter) -> None:
    """The recall table: per kind of plant, how many were planted and found."""
    print(f"tree: {tree}")
    print(f"{'kind':24} {'rule':6} {'planted':>8} {'found':>6} {'recall':>7}")
    for kind in sorted(planted):
        rule = next(plant.rule for plant in plants if plant.kind == kind)
        print(f"{kind:24} {rule:6} {planted[kind]:8} {detected[kind]:6} "
              f"{detected[kind] / planted[kind]:7.2f}")
    total, hits = sum(planted.values()), sum(detected.values())
    if total:
        print(f"{'all':24} {'':6} {total:8} {hits:6} {hits / total:7.2f}")


if __name__ == "__main__":
    main()
