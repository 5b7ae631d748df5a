"""Every analysis is linear in the size of the file: fluent chains, nested calls, attribute
chains and long sums cost evaluations in proportion to their length, not exponentially.

Work is counted (evaluations of an expression's value), never timed, so the tests are
deterministic on a loaded machine. The memo that makes them linear is checked against a fresh
evaluation on every rule example and fixture.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import libcst as cst
import pytest

from dllint.api import settings_for
from dllint.registry import all_rules
from dllint.runner import lint_text, run
from dllint.semantic import model as model_module
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import SemanticModel
from dllint.semantic.values import Tag

ROOT = Path(__file__).resolve().parent.parent


def builder_class(calls: int) -> str:
    methods = "".join(f"    def m{i}(self, x=None):\n        self.v{i} = x\n        return self\n\n"
                      for i in range(calls))
    return ("import torch.nn as nn\n\n\nclass Builder:\n    def __init__(self):\n"
            f"        self.layers = []\n\n{methods}    def build(self):\n"
            "        return nn.Sequential(*self.layers)\n")


def builder_chain(calls: int, *, imported: bool) -> str:
    chain = "".join(f".m{i}({i})" for i in range(calls))
    head = "from builder import Builder\n" if imported else ""
    return f"import torch\n{head}\nmodel = Builder(){chain}.build()\nout = model(torch.zeros(1))\n"


def keras_chain(calls: int) -> str:
    chain = "".join(f".add(tf.keras.layers.Dense({i}))" for i in range(calls))
    return f"import tensorflow as tf\n\nmodel = tf.keras.Sequential(){chain}\nmodel.fit(x, y)\n"


def pandas_chain(calls: int) -> str:
    steps = (".fillna(0)", ".dropna()", ".rename(columns=str)", ".astype('float32')")
    chain = "".join(steps[i % len(steps)] for i in range(calls))
    return ("import pandas as pd\nimport torch\n\n"
            f"frame = pd.read_csv('data.csv'){chain}\ninputs = torch.tensor(frame.values)\n")


def nested_calls(depth: int) -> str:
    return "import torch\n\nx = " + "f(" * depth + "torch.zeros(1)" + ")" * depth + "\n"


def attribute_chain(length: int) -> str:
    return "import torch\n\nx = torch." + ".".join(f"a{i}" for i in range(length)) + "(1)\n"


def long_sum(terms: int) -> str:
    return "import torch\n\nx = torch.ones(1) / 255" + " + 1" * terms + "\nloss = nn.MSELoss()(x, x)\n"


def nested_tuples(depth: int) -> str:
    return "import torch\n\nx = " + "(torch.ones(1), " * depth + "1" + ")" * depth + "\n"


def nested_subscripts(depth: int) -> str:
    return "import torch\n\nx = torch.ones(1)" + "[0]" * depth + "\n"


class TooMuchWork(Exception):
    pass


@pytest.fixture
def evaluations(monkeypatch):
    """How many expression values the model computed (memo hits are not computations)."""
    counter = {"count": 0, "limit": None}
    original_value, original_qualified = SemanticModel._value, ImportMap.qualified_name

    def count() -> None:
        counter["count"] += 1
        if counter["limit"] is not None and counter["count"] > counter["limit"]:
            # Exponential work would take hours: stop it (the engine turns this into DL999).
            raise TooMuchWork(counter["count"])

    def counting_value(self, node):
        count()
        return original_value(self, node)

    def counting_qualified(self, node):
        count()
        return original_qualified(self, node)

    monkeypatch.setattr(SemanticModel, "_value", counting_value)
    monkeypatch.setattr(ImportMap, "qualified_name", counting_qualified)
    return counter


def _all_rules():
    return settings_for(isolated=True, select=[rule.code for rule in all_rules()])


# Makes every rule that uses the model want the file (their text gates look for such names).
_WANTED = "\nimport torch.nn as nn\nloss = nn.CrossEntropyLoss()(torch.softmax(x, 1), y)\n"


def _count_text(evaluations, text: str, limit: int | None = None) -> int:
    evaluations["count"], evaluations["limit"] = 0, limit
    lint_text(text + _WANTED, "chain.py", _all_rules())
    return evaluations["count"]


def _count_project(evaluations, folder: Path, calls: int, limit: int | None = None) -> int:
    project = folder / f"project{calls}"
    project.mkdir()
    (project / "builder.py").write_text(builder_class(calls))
    (project / "train.py").write_text(builder_chain(calls, imported=True))
    evaluations["count"], evaluations["limit"] = 0, limit
    run([str(project)], _all_rules(), jobs=1, use_cache=False)
    return evaluations["count"]


@pytest.mark.parametrize("source", [
    pytest.param(lambda n: builder_class(n) + builder_chain(n, imported=False), id="builder"),
    pytest.param(keras_chain, id="keras"),
    pytest.param(pandas_chain, id="pandas"),
    pytest.param(nested_calls, id="nested-calls"),
    pytest.param(attribute_chain, id="attribute-chain"),
    pytest.param(long_sum, id="long-sum"),
    pytest.param(nested_tuples, id="nested-tuples"),
    pytest.param(nested_subscripts, id="nested-subscripts"),
])
def test_forty_links_cost_about_ten_times_four(evaluations, source):
    short = _count_text(evaluations, source(4))
    assert short > 0
    # Linear growth is 10x (the rest of the file is the same); exponential was 2**36.
    long = _count_text(evaluations, source(40), limit=15 * short)
    assert long <= 15 * short, (short, long)


def test_forty_call_chain_across_two_files_is_linear(evaluations, tmp_path):
    short = _count_project(evaluations, tmp_path, 4)
    assert short > 0
    long = _count_project(evaluations, tmp_path, 40, limit=15 * short)
    assert long <= 15 * short, (short, long)


def test_long_chain_still_carries_its_value():
    """The memo changes the cost, not the answer: probabilities passed through a 40-call chain
    of dtype conversions still reach the loss that wants logits."""
    source = ("import torch\nimport torch.nn as nn\n\n"
              "model = nn.Sequential(nn.Linear(4, 4), nn.Softmax(1))\n"
              f"out = model(x){'.float()' * 40}\nloss = nn.CrossEntropyLoss()(out, y)\n")
    found = [(d.code, d.line) for d in lint_text(source, "chain.py", _all_rules()).diagnostics]
    assert ("DL002", 4) in found


def _sources_to_check():
    for rule in all_rules():
        for kind in ("VALID", "INVALID"):
            for number, example in enumerate(getattr(rule, kind), start=1):
                yield f"{rule.code}-{kind.lower()}-{number}", example.source
    for path in sorted((ROOT / "fixtures" / "static").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "benchmarks" / "planted" / "seeds").glob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def _shape(value):
    """A value as comparable data: tags compare by identity, the same tag computed twice does
    not; nodes stay identities."""
    if isinstance(value, Tag):
        return ("tag", value.kind, id(value.node), value.detail, _shape(value.info),
                value.location, id(value.via))
    if isinstance(value, (frozenset, set)):
        return frozenset(_shape(item) for item in value)
    if isinstance(value, (tuple, list)):
        return tuple(_shape(item) for item in value)
    if isinstance(value, cst.CSTNode):
        return ("node", id(value))
    if dataclasses.is_dataclass(value):
        return (type(value).__name__,
                tuple(_shape(getattr(value, f.name)) for f in dataclasses.fields(value)))
    return value


def test_memoised_values_equal_fresh_evaluations(monkeypatch):
    """On every rule example and fixture, each value the memo answers is the value a fresh
    evaluation (no memo at all) gives at that point of the walk: the memo is invalidated
    wherever a binding can change."""
    original = SemanticModel.value
    mismatches: list[str] = []
    checked = {"count": 0}

    class NoMemo(dict):
        def get(self, key, default=None):
            return default

        def __setitem__(self, key, value):
            pass

    def checking(self, node):
        result = original(self, node)
        if isinstance(self._values, NoMemo):
            return result
        memo, generation, cuts = self._values, self._generation, self._depth_cuts
        self._values = NoMemo()
        try:
            fresh = original(self, node)
        finally:
            self._values = memo
            cut = self._depth_cuts != cuts
            self._generation, self._depth_cuts = generation, cuts
        checked["count"] += 1
        if _shape(fresh) != _shape(result) and not cut:  # a cut fresh evaluation may know less
            mismatches.append(f"{current['name']}: {type(node).__name__} "
                              f"memo {sorted(t.kind for t in result)} "
                              f"fresh {sorted(t.kind for t in fresh)}")
        return result

    monkeypatch.setattr(SemanticModel, "value", checking)
    current = {"name": ""}
    settings = _all_rules()
    for name, source in _sources_to_check():
        current["name"] = name
        lint_text(source, "example.py", settings)
    assert checked["count"] > 1000
    assert mismatches == []


def test_memo_is_dropped_when_a_binding_changes():
    """`x` rebound between two reads of the same node: the second read sees the new value."""
    from dllint.context import FileContext
    from dllint.parsed import parse
    from dllint.semantic.imports import ImportMap
    from dllint.semantic.values import MODULE, has

    module = parse("import torch.nn as nn\nx = 1\n")
    context = FileContext("m.py", "", module, ImportMap.from_module(module),
                          settings=_all_rules())
    semantic = SemanticModel(context)
    read = module.body[1].body[0].targets[0].target  # the name `x`
    assert semantic.value(read) == model_module.EMPTY
    layer = parse("import torch.nn as nn\nnn.Linear(1, 1)\n").body[1].body[0].value
    semantic.bind(read, semantic.value(layer))
    assert has(semantic.value(read), MODULE)
