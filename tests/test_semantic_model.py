"""The semantic model on its own: which tags an expression carries at a point of the file.

Each source calls `probe(expr)`; the probe visitor runs right after the model in the same walk
(as rules do) and records the tag kinds of `expr` there.
"""

from __future__ import annotations

import textwrap

import libcst as cst

from dllint.context import FileContext
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.values import LOSS, MODULE, PROBABILITIES, TUPLE
from dllint.walk import CachedVisitorNames, walk


class Probe(CachedVisitorNames, cst.BatchableCSTVisitor):
    def __init__(self, model: SemanticModel) -> None:
        super().__init__()
        self.model = model
        self.seen: list[set[str]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.seen.append({tag.kind for tag in self.model.value(node.args[0].value)})


def probes(source: str, *, flow: bool = True) -> list[set[str]]:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    if not flow:  # one walk, no hints: what the model knew before value flow
        model = SemanticModel(context)
        probe = Probe(model)
        walk(module, [model, probe])
        return probe.seen
    made: list[Probe] = []
    analyse(context, None, lambda model: made.append(Probe(model)) or [made[-1]])
    return made[-1].seen  # the last walk is the one that stands


FIT = """
    import torch.nn.functional as F
    from torch import nn

    def fit(model, criterion):
        probe(model)
        probe(criterion)
        probe(model(x))

    fit(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)), nn.CrossEntropyLoss())
"""


def test_call_sites_bind_parameters():
    model, criterion, output = probes(FIT)
    assert MODULE in model and LOSS in criterion and PROBABILITIES in output


def test_without_the_flow_walks_parameters_are_unknown():
    assert probes(FIT, flow=False) == [set(), set(), set()]


def test_several_hops():
    [seen] = probes("""
        import torch
        def inner(p):
            probe(p)
        def middle(p):
            inner(p)
        def outer(p):
            middle(p)
        outer(torch.softmax(z, 1))
    """)
    assert PROBABILITIES in seen


def test_constructor_and_setter_injection_reach_attributes():
    constructed, injected = probes("""
        from torch import nn
        class Trainer:
            def __init__(self, criterion):
                self.criterion = criterion
            def step(self):
                probe(self.criterion)
                probe(self.extra)
            def set_extra(self, loss):
                self.extra = loss
        trainer = Trainer(nn.CrossEntropyLoss())
        trainer.set_extra(nn.BCEWithLogitsLoss().cuda())
    """)
    assert LOSS in constructed and LOSS in injected


def test_default_parameter_values():
    [seen] = probes("""
        from torch import nn
        def train(model, loss=nn.CrossEntropyLoss()):
            probe(loss)
    """)
    assert LOSS in seen


def test_self_call_is_the_modules_own_forward_even_before_forward_is_defined():
    [seen] = probes("""
        import torch
        from torch import nn
        class Net(nn.Module):
            def predict(self, x):
                probe(self(x))
            def forward(self, x):
                return torch.softmax(x, 1)
    """)
    assert PROBABILITIES in seen


def test_tuples_unpack_and_index_by_position():
    whole, first, second, indexed = probes("""
        import torch
        pair = (logits, torch.sigmoid(logits))
        probe(pair)
        a, b = pair
        probe(a)
        probe(b)
        probe(pair[-1])
    """)
    assert whole == {TUPLE} and first == set() and PROBABILITIES in second
    assert PROBABILITIES in indexed


def test_branches_merge_and_leaving_branches_do_not():
    merged, left_early = probes("""
        import torch
        out = logits
        if calibrated:
            out = torch.softmax(logits, 1)
        probe(out)
        result = logits
        if debug:
            result = torch.softmax(logits, 1)
            return result
        probe(result)
    """)
    assert PROBABILITIES in merged and PROBABILITIES not in left_early


def test_else_branch_replaces_not_accumulates():
    [seen] = probes("""
        import torch
        if a:
            out = torch.softmax(z, 1)
        else:
            out = z
        out = z
        probe(out)
    """)
    assert seen == set()


def test_rows_of_a_tensor_and_exp_of_log_softmax():
    row, exp = probes("""
        import torch
        import torch.nn.functional as F
        for row in F.softmax(z, 1):
            probe(row)
        probe(torch.exp(F.log_softmax(z, 1)))
    """)
    assert PROBABILITIES in row and PROBABILITIES in exp
