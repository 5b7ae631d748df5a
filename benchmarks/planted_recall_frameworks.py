"""Recall on real Keras / TensorFlow / JAX code: plant known bugs, lint, count.

    python benchmarks/planted_recall_frameworks.py TREE [--kinds keras-softmax-head,...] [-v]

The companion of planted_recall.py (whose helpers this reuses) for framework code. Every site
where a kind of bug can be planted is mutated on its own, in a temporary copy of the file's
folder, and that folder is linted. A plant counts as found when the expected rule reports a
finding in the mutated file that the unmutated folder did not have. Notebooks (.ipynb) are
planted into as the virtual Python source dllint lints them as (their code cells, IPython
lines neutralised), written beside them as NAME.ipynb.py. Plants are regex / line based.

Kinds (rule, what is planted):
- keras-softmax-head (DL002): in a file containing `from_logits=True`, the last one-line
  `Dense(...)` call without `activation=` gets `, activation="softmax"`;
- tf-softmax-logits (DL002): `NAME = <expr>`, where NAME is later passed as `logits=NAME` to
  tf.nn.*_cross_entropy_with_logits or first to optax.softmax_cross_entropy*, becomes
  `NAME = tf.nn.softmax(<expr>)` (`jax.nn.softmax` for optax), importing tf / jax if needed;
- drop-float-scaling (DL005): `X = X.astype(float32) / 255` in a file calling `.fit(` or
  `.predict(` becomes `pass`;
- double-255 (DL003): after `X = X / 255` or `X = X.astype(...) / 255`, a second
  `X = X / 255.0` is inserted.
The figures are a floor: not every plant is a bug a rule should see in that context.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from planted_recall import (  # noqa: E402
    Finding, Plant, findings, is_found, print_recall, replace_line)

from dllint import notebooks  # noqa: E402

KINDS = ("keras-softmax-head", "tf-softmax-logits", "drop-float-scaling", "double-255")
IGNORE = shutil.ignore_patterns("*.pt", "*.pth", "*.h5", "*.keras", "*.ckpt*", "*.npz", "*.npy",
                                "*.csv", "*.tgz", "*.gz", "*.zip", "*.ipynb", "*.png", "*.jpg",
                                "data", "datasets", "images", "__pycache__", ".git")

DENSE = re.compile(r"\bDense\(((?:[^()]|\([^()]*\))*)\)")
TF_LOSS = re.compile(r"\b(?:sparse_softmax_cross_entropy_with_logits|"
                     r"softmax_cross_entropy_with_logits(?:_v2)?|"
                     r"sigmoid_cross_entropy_with_logits)\s*\(")
OPTAX_LOSS = re.compile(r"\boptax\.softmax_cross_entropy\w*\(\s*(?:logits\s*=\s*)?(\w+)\s*[,)]")
NUM = r"255(?:\.0*)?"
FLOAT = r"""\.astype\((?:["']float32["']|np\.float32|numpy\.float32|tf\.float32)\)"""
TARGET = r"\w+(?:\.\w+)*"
FLOAT_SCALING = re.compile(rf"^\s*({TARGET})\s*=\s*\1{FLOAT}\s*/\s*{NUM}\s*(#.*)?$")
SCALING = re.compile(rf"^(\s*)({TARGET})\s*=\s*\2(?:\.astype\([^()]*\))?\s*/\s*{NUM}\s*(#.*)?$")


def with_import(text: str, module: str) -> str:
    """`import module` on top (after `from __future__` imports) unless already there."""
    if re.search(rf"^import {module}\b", text, re.MULTILINE):
        return text
    lines = text.splitlines(keepends=True)
    at = max((i + 1 for i, line in enumerate(lines) if line.startswith("from __future__")),
             default=0)
    return "".join(lines[:at] + [f"import {module}\n"] + lines[at:])


def one_line_expression(expr: str) -> bool:
    return (bool(expr) and expr.count("(") == expr.count(")") and expr.count("[") ==
            expr.count("]") and not expr.endswith(("\\", ",", ":")))


def logits_plants(path: Path, text: str) -> list[Plant]:
    uses: list[tuple[int, str, str]] = []  # (offset of the call, name, softmax to plant)
    for match in TF_LOSS.finditer(text):
        argument = re.search(r"\blogits\s*=\s*(\w+)\s*[,)\n]", text[match.end():match.end() + 400])
        if argument:
            uses.append((match.start(), argument.group(1), "tf.nn.softmax"))
    for match in OPTAX_LOSS.finditer(text):
        uses.append((match.start(), match.group(1), "jax.nn.softmax"))
    lines = text.splitlines()
    plants, seen = [], set()
    for offset, name, softmax in uses:
        call_line = text.count("\n", 0, offset) + 1
        assignment = re.compile(rf"^\s*{re.escape(name)}\s*=(?!=)\s*(.+?)\s*$")
        for index in range(call_line - 1, -1, -1):
            match = assignment.match(lines[index])
            if match:
                expr = match.group(1)
                if one_line_expression(expr) and "#" not in expr and index + 1 not in seen:
                    seen.add(index + 1)
                    mutated = replace_line(text, index + 1, f"{name} = {softmax}({expr})")
                    imported = with_import(mutated, "jax" if softmax.startswith("jax")
                                           else "tensorflow as tf")
                    plants.append(Plant("tf-softmax-logits", "DL002", path,
                                        index + 1 + (imported != mutated), imported, False))
                break
    return plants


def plants_in(path: Path, text: str) -> list[Plant]:
    found: list[Plant] = []
    lines = text.splitlines()
    if "from_logits=True" in text:
        for index in range(len(lines) - 1, -1, -1):
            heads = [m for m in DENSE.finditer(lines[index]) if "activation" not in m.group(1)]
            if heads:
                head = heads[-1]
                close = head.end() - 1
                new = lines[index][:close].rstrip() + ', activation="softmax"' + \
                    lines[index][close:]
                all_lines = text.splitlines(keepends=True)
                all_lines[index] = new + "\n"
                found.append(Plant("keras-softmax-head", "DL002", path, index + 1,
                                   "".join(all_lines), False))
                break
    found.extend(logits_plants(path, text))
    trains = re.search(r"\.(fit|predict)\(", text) is not None
    for index, line in enumerate(lines):
        if trains and FLOAT_SCALING.match(line):
            found.append(Plant("drop-float-scaling", "DL005", path, index + 1,
                               replace_line(text, index + 1, "pass"), False))
        scaling = SCALING.match(line)
        if scaling:
            indent, target = scaling.group(1), scaling.group(2)
            all_lines = text.splitlines(keepends=True)
            all_lines.insert(index + 1, f"{indent}{target} = {target} / 255.0\n")
            found.append(Plant("double-255", "DL003", path, index + 2, "".join(all_lines),
                               False))
    return found


def virtual_source(path: Path) -> str | None:
    """The text dllint lints for a file: a notebook's virtual source, a .py file as is."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return raw
    notebook = notebooks.parse(str(path), raw)
    return notebook.text if isinstance(notebook, notebooks.Notebook) else None


def copy_folder(folder: Path, scratch: str) -> Path:
    """The folder without data, its notebooks as their virtual sources (NAME.ipynb.py)."""
    copy = Path(scratch) / folder.name
    shutil.copytree(folder, copy, ignore=IGNORE)
    for notebook in folder.glob("*.ipynb"):
        text = virtual_source(notebook)
        if text is not None:
            (copy / f"{notebook.name}.py").write_text(text, encoding="utf-8")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("-v", "--verbose", action="store_true")
    options = parser.parse_args()
    kinds = set(options.kinds.split(","))
    tree = Path(options.tree).resolve()

    plants: list[Plant] = []
    for path in sorted([*tree.rglob("*.py"), *tree.rglob("*.ipynb")]):
        if ".git" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        text = virtual_source(path)
        if text is None:
            continue
        planted_as = path.with_name(path.name + ".py") if path.suffix == ".ipynb" else path
        plants.extend(plant for plant in plants_in(planted_as, text) if plant.kind in kinds)

    planted, detected = Counter(), Counter()
    baselines: dict[Path, set[Finding]] = {}
    for plant in plants:
        with tempfile.TemporaryDirectory() as scratch:
            copy = copy_folder(plant.path.parent, scratch)
            if plant.path.parent not in baselines:
                baselines[plant.path.parent] = findings(copy)
            (copy / plant.path.name).write_text(plant.text, encoding="utf-8")
            hit = is_found(plant, plant.line, findings(copy) - baselines[plant.path.parent])
        planted[plant.kind] += 1
        detected[plant.kind] += hit
        if options.verbose:
            status = "found" if hit else "MISSED"
            print(f"{status:6} {plant.kind:22} {plant.path.relative_to(tree)}:{plant.line}")
    print_recall(tree, plants, planted, detected)


if __name__ == "__main__":
    main()
