"""The same file gets the same values, summary and findings in every run.

A value is a frozenset of tags, and a tag hashes by identity: a set of them iterates in
memory-address order, which changes from process to process even with PYTHONHASHSEED fixed. Code
that picks one tag of several by iterating (the first tuple of a value joined from branches, the
first class that has a method, the first module with dropout) then answers differently from run
to run. Each source here has several candidates where such a pick would happen; it is read in
fresh processes with six hash seeds, which must all print the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import libcst as cst

from dllint.context import FileContext
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import analyse
from dllint.walk import CachedVisitorNames

# Six branches return a tuple each (one class per branch): the unpacked names, the indexed part
# and the parameter that receives the first element hold all six classes, whichever branch ran.
# The calls pass a variable: a constant would decide the tests (`conditions.decided`).
BRANCHES = """
    import torch.nn.functional as F

    class Alpha: pass
    class Beta: pass
    class Gamma: pass
    class Delta: pass
    class Epsilon: pass
    class Zeta: pass

    def pick(flag):
        if flag == 1:
            return Alpha(), Alpha()
        if flag == 2:
            return Beta(), Beta()
        if flag == 3:
            return Gamma(), Gamma()
        if flag == 4:
            return Delta(), Delta()
        if flag == 5:
            return Epsilon(), Epsilon()
        return Zeta(), Zeta()

    def head(x, flag):
        if flag == 1:
            return F.softmax(x, 1), 1
        if flag == 2:
            return F.sigmoid(x), 2
        if flag == 3:
            return F.softmax(x, -1), 3
        return F.softmax(x, dim=1), 4

    first, second = pick(choice)
    probe(first)
    probe(second)
    probe(pick(choice)[1])
    scores, _ = head(x, choice)
    probe(scores)
"""
CLASSES = {"Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"}


class _Probe(CachedVisitorNames, cst.BatchableCSTVisitor):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model
        self.seen: list[list[str]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.seen.append(sorted(f"{tag.kind}:{tag.detail}"
                                    for tag in self.model.value(node.args[0].value)))


def probed(source: str) -> list[list[str]]:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    made: list[_Probe] = []
    analyse(context, None, lambda model: made.append(_Probe(model)) or [made[-1]])
    return made[-1].seen


def test_a_tuple_joined_from_branches_unpacks_every_branch():
    first, second, indexed, scores = probed(BRANCHES)
    expected = sorted(f"instance:{name}" for name in CLASSES)
    assert first == expected and second == expected and indexed == expected
    assert set(scores) == {"probabilities:sigmoid", "probabilities:softmax"}


# Run in a fresh process: the probes' values, the file's cross-file summary (whose digest decides
# what the cache lints again) and the findings with their messages and related locations.
_CHILD = """
import json, sys
from dllint.api import lint_source
from dllint.semantic.project import digest, summarise
sys.path.insert(0, sys.argv[1])
from test_determinism import BRANCHES, LINTED, probed
import textwrap
summary = summarise("example.py", textwrap.dedent(BRANCHES).lstrip())
findings = [(d.code, d.span.start_line, d.span.start_column, d.message,
             [(r.span.start_line, r.span.start_column, r.message) for r in d.related])
            for d in lint_source(textwrap.dedent(LINTED).lstrip(), "train.py")]
print(json.dumps({"probes": probed(BRANCHES), "summary": digest(summary),
                  "findings": findings}))
"""

# A model whose eval-mode evidence could come from any of several attributes, a softmax that
# reaches the loss from one of several branches (two of them the same text, told apart only by
# where they are): the message and the location name one, the same in every run.
LINTED = """
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Dropout(0.5)
            self.b = nn.BatchNorm1d(4)
            self.c = nn.Dropout(0.1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x, flag):
            if flag == 1:
                return F.softmax(self.fc(x), 1), 1
            if flag == 2:
                return F.softmax(self.fc(x), 1), 2
            return F.softmax(self.fc(x), dim=-1), 3

    net = Net()
    with torch.no_grad():
        out, _ = net(x, 0)
    loss = F.cross_entropy(out, y)
    scores = net(x, 0)[0]
    other = F.cross_entropy(scores, y)
"""


def test_every_run_reads_the_same():
    tests = os.path.dirname(os.path.abspath(__file__))
    outputs = set()
    for seed in ("0", "1", "2", "3", "4", "5"):
        done = subprocess.run([sys.executable, "-c", _CHILD, tests], capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": seed}, check=True,
                              timeout=120)
        outputs.add(done.stdout)
    assert len(outputs) == 1, outputs
    result = json.loads(outputs.pop())
    # Of the softmaxes that reach the loss, the one reported is the first by text, and of two
    # with the same text, the first in the file (line 15, not 17).
    assert [(code, line) for code, line, *_ in result["findings"]] == [
        ("DL002", 15), ("DL004", 22)]
