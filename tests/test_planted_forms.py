"""The planted-forms benchmark (benchmarks/planted_forms.py): its operators keep the planted bug
and produce code that parses, and every seed, as written, is found by its rule."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from planted import forms  # noqa: E402
from planted_forms import lint_variant  # noqa: E402

SEEDS = {seed.name: seed for seed in forms.load_seeds()}

# A slice: one seed whose producer is a return value in a module's forward, one whose
# producer is a loop event, one whose producer is a library call; with what the producer's
# line must still say after any operator (the bug itself).
SLICE = {
    "dl002_pytorch_classifier": "F.softmax(",
    "dl101_pytorch_loop": ".step()",
    "dl501_pytorch_resume": "torch.load(",
}
SLICE_OPERATORS = ("inline", "helper", "other-file-from")


def test_every_rule_has_a_seed_and_every_seed_names_its_marks():
    from dllint.registry import all_rules

    assert {seed.rule for seed in SEEDS.values()} == {rule.code for rule in all_rules()}
    for seed in SEEDS.values():
        assert seed.text.count("# PRODUCER") == 1, seed.name
        assert any(forms.MARK.search(line) and "BUG" in line
                   for line in seed.text.split("\n")), seed.name


@pytest.mark.parametrize("operator", SLICE_OPERATORS)
@pytest.mark.parametrize("seed_name", sorted(SLICE))
def test_operators_keep_the_bug_in_code_that_parses(seed_name, operator):
    variant = forms.apply(SEEDS[seed_name], operator)
    assert variant is not None
    for name, source in variant.python_sources().items():
        ast.parse(source, filename=name)
    producer_lines = [line for source in variant.python_sources().values()
                      for line in source.split("\n") if "# PRODUCER" in line]
    assert any(SLICE[seed_name] in line for line in producer_lines), producer_lines
    if operator != "inline":
        assert variant.files != {forms.PROGRAM: SEEDS[seed_name].text}


def test_moved_producer_reads_its_scope_through_parameters():
    variant = forms.apply(SEEDS["dl002_pytorch_classifier"], "helper")
    program = variant.files[forms.PROGRAM]
    assert "def head(logits):\n    return F.softmax(logits, dim=1)" in program
    assert "return head(logits)  # PRODUCER" in program
    other = forms.apply(SEEDS["dl002_pytorch_classifier"], "other-file-module")
    assert "import helpers" in other.files[forms.PROGRAM]
    assert "helpers.head(logits)" in other.files[forms.PROGRAM]
    assert "import torch.nn.functional as F" in other.files["helpers.py"]


def test_operators_apply_by_structure():
    # dl101's producer is a statement of a plain function: no class, no method, no wrapper.
    loop = SEEDS["dl101_pytorch_loop"]
    assert forms.apply(loop, "method") is None
    assert forms.apply(loop, "wrap-compile") is None
    assert forms.apply(loop, "closure") is not None
    # dl002's producer is the return value of a torch module's forward, built as `model = ...`.
    wrapped = forms.apply(SEEDS["dl002_pytorch_classifier"], "wrap-compile")
    assert "model = torch.compile(Classifier())" in wrapped.files[forms.PROGRAM]
    method = forms.apply(SEEDS["dl002_pytorch_classifier"], "method")
    assert "return self._head(logits)  # PRODUCER" in method.files[forms.PROGRAM]


def test_notebook_puts_a_moved_producer_in_a_cell_of_its_own():
    variant = forms.apply(SEEDS["dl202_pytorch_policy"], "notebook-helper")
    cells = forms.notebook_cells(variant.files["train.ipynb"])
    helper_cells = [cell for cell in cells
                    if cell.startswith("def ") and "F.softmax(scores)" in cell]
    assert len(helper_cells) == 1 and "# PRODUCER" in helper_cells[0]
    assert ("train.ipynb", cells.index(helper_cells[0]) + 1, 2) in variant.marked()


@pytest.mark.parametrize("seed_name", sorted(SEEDS))
def test_every_seed_is_found_inline(seed_name):
    assert lint_variant(forms.apply(SEEDS[seed_name], "inline"))


@pytest.mark.parametrize("seed_name", sorted(SLICE))
def test_slice_is_found_through_a_helper_in_the_same_file(seed_name):
    assert lint_variant(forms.apply(SEEDS[seed_name], "helper"))


def test_a_variant_without_the_bug_is_not_found():
    seed = SEEDS["dl202_pytorch_policy"]
    fixed = forms.Seed(seed.name, seed.rule, seed.framework,
                       seed.text.replace("F.softmax(scores)", "F.softmax(scores, dim=-1)"))
    assert fixed.text != seed.text
    assert not lint_variant(forms.apply(fixed, "inline"))


def test_the_recall_hop_moves_every_line_by_the_helpers_four(tmp_path):
    from planted_recall import add_hops
    text = "import torch\n\nmodel = Net(3).to(device)\n\n\nloss = criterion(model(x), y)\n"
    (tmp_path / "train.py").write_text(text)
    assert add_hops(tmp_path) == 1
    hopped = (tmp_path / "train.py").read_text()
    assert hopped.count("\n") == text.count("\n") + 4
    assert hopped.splitlines()[4 + 2] == "model = _passed_on(Net(3).to(device))"
    assert hopped.splitlines()[4 + 5] == "loss = criterion(model(x), y)"
