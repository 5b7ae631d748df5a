"""The semantic model's components, tested directly: each is driven by a small source's walk (or
by hand, through its declared host interface) and asked its own questions, not through a rule.

`docs/architecture.md` ("The semantic model's components") says which component owns what."""

from __future__ import annotations

import textwrap

import libcst as cst
import libcst.matchers

from dllint.context import FileContext
from dllint.semantic.binding import CallBinding, FlowHints
from dllint.semantic.imports import ImportMap
from dllint.semantic.loops import LoopEventRecorder
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.summaries import ScopeSummaries
from dllint.semantic.values import EMPTY, LOSS, MODULE, PROBABILITIES, Value
from dllint.walk import walk


def _model(source: str, walks: int | None = None) -> SemanticModel:
    """The model of `source` after every walk the file needs, or after `walks` walks."""
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    if walks == 1:
        model = SemanticModel(context)
        walk(module, [model])
        return model
    return analyse(context, None, lambda model: [])


def _calls(model: SemanticModel) -> dict[str, cst.Call]:
    """The file's calls by their source text (the last of equal texts)."""
    module = model.context.module
    return {module.code_for_node(call): call
            for call in cst.matchers.findall(module, cst.matchers.Call())}


# -- the loop component: training events per loop and per function -----------------------------

class _Host:
    """The least a `LoopHost` can be: nothing is imported, no value is known, no `if` is open
    unless a test opens one."""

    def __init__(self) -> None:
        self.branches: tuple[tuple[cst.If, bool], ...] = ()

    def qualified(self, node: cst.BaseExpression) -> str | None:
        return None

    def value(self, node: cst.BaseExpression) -> Value:
        return EMPTY

    def callee_key(self, node: cst.Call) -> str | None:
        return None

    def open_branches(self) -> tuple[tuple[cst.If, bool], ...]:
        return self.branches


def _call(source: str) -> cst.Call:
    call = cst.parse_expression(source)
    assert isinstance(call, cst.Call)
    return call


def test_loop_component_driven_through_its_host_interface_alone():
    host = _Host()
    loops = LoopEventRecorder(host, None, "example.py", {})
    backward, step, zero, helper = (_call("loss.backward()"), _call("optimizer.step()"),
                                    _call("optimizer.zero_grad()"), _call("train_one(batch)"))
    loops.enter_function()  # def train_one(batch): optimizer.zero_grad()
    loops.record_call(zero)
    loops.leave_function("train_one")
    outer = cst.parse_statement("for epoch in range(3): pass")
    inner = cst.parse_statement("while True: pass")
    loops.enter_loop(outer)
    loops.record_call(helper)
    loops.enter_loop(inner)
    loops.record_call(backward)
    assert [loop.node for loop in loops.open_loops] == [outer, inner]
    loops.leave_loop()
    loops.record_call(step)
    loops.leave_loop()
    inner_events, outer_events = loops.loops
    assert inner_events.node is inner and [event[0] for event in inner_events.events] == [
        "backward"]
    # The helper is a `call` event (its name is a plain call the host could not qualify), and
    # expanding it gives what the function recorded, at the helper's call.
    assert [event[0] for event in outer_events.events] == ["call", "backward", "step"]
    assert [(event[0], event[1]) for event in loops.expand(outer_events.events)] == [
        ("zero_grad", helper), ("backward", backward), ("step", step)]
    assert [trace for _, trace in loops.expand_traced(outer_events.events)] == [
        (helper, zero), (backward,), (step,)]
    assert loops.local_callee(helper) == "train_one" and loops.local_callee(step) is None
    assert loops.events_at(step) == ("step",) and loops.events_at(helper) == ("call",)
    assert loops.function_events == {"train_one": [("zero_grad", zero, "optimizer")]}


def test_loop_component_keeps_the_first_definition_and_drops_unnamed_functions():
    loops = LoopEventRecorder(_Host(), None, "example.py", {})
    first, second = _call("a.backward()"), _call("b.backward()")
    for call, key in ((first, "fit"), (second, "fit"), (_call("c.backward()"), None)):
        loops.enter_function()
        loops.record_call(call)
        loops.leave_function(key)
    assert list(loops.function_events) == ["fit"]
    assert loops.function_events["fit"][0][1] is first


def test_loop_component_events_in_two_branches_of_one_if_are_alternatives():
    host = _Host()
    loops = LoopEventRecorder(host, None, "example.py", {})
    branch = cst.parse_statement("if scaler: pass")
    scaled, plain, after = (_call("scaler.step(optimizer)"), _call("optimizer.step()"),
                            _call("scheduler.step()"))
    host.branches = ((branch, False),)
    loops.record_call(scaled)
    host.branches = ((branch, True),)
    loops.record_call(plain)
    host.branches = ()
    loops.record_call(after)
    assert loops.alternatives((scaled,), (plain,))
    assert not loops.alternatives((scaled,), (after,))
    # `scaler.step(optimizer)` steps its argument.
    assert loops.events_at(scaled) == ("step",) and loops.events_at(after) == ("scheduler_step",)


def test_loop_component_of_a_walked_file():
    model = _model("""
        import torch

        class Trainer:
            def update(self, loss):
                loss.backward()
                self.optimizer.step()

        def clear(optimizer):
            optimizer.zero_grad()

        trainer = Trainer()
        for batch in loader:
            clear(opt)
            trainer.update(model(batch))
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            model.grad = None
    """)
    loops = model.loop_events
    calls = _calls(model)
    assert sorted(loops.function_events) == ["Trainer.update", "clear"]
    (loop,) = loops.loops
    assert not loops.open_loops
    assert [event[0] for event in loops.expand(loop.events)] == [
        "zero_grad", "backward", "step", "clip", "zero_grad"]
    assert loops.local_callee(calls["trainer.update(model(batch))"]) == "Trainer.update"
    assert loops.local_callee(calls["clear(opt)"]) == "clear"
    assert loops.events_at(calls["torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"]) \
        == ("clip",)


# -- the scope component: open classes and functions, and what each closed one amounts to -------

class _ScopeHost(_Host):
    """A `ScopeHost` that keeps the frames it is told about."""

    def __init__(self) -> None:
        super().__init__()
        self.module_names: dict[str, Value] = {"fit": frozenset({"stale"}), "Net": EMPTY}
        self.defined: list[tuple[str, Value]] = []

    def is_no_grad_context(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == "no_grad"

    def define_name(self, name: str, value: Value) -> None:
        self.defined.append((name, value))

    def forget_module_name(self, name: str) -> None:
        self.module_names.pop(name, None)


def _scopes(host: _ScopeHost) -> ScopeSummaries:
    return ScopeSummaries(host, None, "example.py", {"Net": {"forward"}}, FlowHints(),
                          FlowHints())


def test_scope_component_driven_through_its_host_interface_alone():
    host = _ScopeHost()
    scopes = _scopes(host)
    module = cst.parse_module(textwrap.dedent("""
        @no_grad
        def fit(model, criterion=None):
            def inner():
                pass
            return model

        class Net(Module):
            def forward(self, x):
                pass
    """))
    fit, net = module.body
    inner = fit.body.body[0]
    entry = scopes.enter_function(fit)
    assert (entry.key, entry.is_method, set(entry.defaults)) == ("fit", False, {"criterion"})
    assert scopes.current_function.no_grad and scopes.current_function.name == "fit"
    assert scopes.enter_function(inner).key is None  # nested: no call-site key
    assert scopes.leave_function() == "inner"
    assert host.defined == [("inner", EMPTY)]  # a closure is a name of the enclosing function
    scopes.record_return(fit.body.body[1].body[0])
    assert scopes.leave_function() == "fit"
    assert "fit" not in host.module_names  # the name now means the definition
    assert scopes.local_functions == {"fit": EMPTY}
    assert scopes.module_passthroughs == {"fit": 0}  # `return model` hands back parameter 0
    scopes.enter_class(net)
    assert scopes.classes[-1].bases == ["Module"]
    method = net.body.body[0]
    entry = scopes.enter_function(method)
    assert (entry.key, entry.is_method) == ("Net.forward", True)
    assert scopes.classes[-1].has_forward
    assert scopes.leave_function() == "Net.forward"
    scopes.leave_class()
    assert not scopes.classes and not scopes.functions
    assert "Net" in scopes.local_classes and "Net" not in host.module_names
    assert scopes.local_classes["Net"] is not None  # it has a forward: a module
    assert not scopes.needs_hints


def test_scope_component_of_a_walked_file():
    model = _model("""
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.drop = nn.Dropout(0.5)

            def forward(self, x):
                return F.softmax(self.head(x), dim=1)

        class Plain:
            def loss(self):
                return nn.CrossEntropyLoss()

        def scale(image, normalise):
            if normalise:
                return image / 255
            return image

        def init(layer):
            return layer
    """)
    scopes = model.scopes
    net = scopes.local_classes["Net"]
    assert net.mode_dependent is True and net.evidence
    assert PROBABILITIES in {tag.kind for tag in net.output}
    assert scopes.local_classes["Plain"] is None  # no module, but its instances hold members
    assert [name for name, _ in scopes.local_members["Plain"].methods] == ["loss"]
    node, unguarded, guarded = scopes.flag_returns["scale"]
    assert node.name.value == "scale" and [(name, wanted) for name, wanted, _ in guarded] == [
        ("normalise", True)]
    assert scopes.module_passthroughs == {"init": 0}
    assert scopes.current_function is None


def test_scope_component_asks_for_another_walk_when_an_attribute_was_read_too_early():
    source = """
        import torch

        class Trainer:
            def step(self, x):
                return self.criterion(x)

            def set_loss(self):
                self.criterion = torch.nn.CrossEntropyLoss()
    """
    first = _model(source, walks=1)
    # `self.criterion` was read before `set_loss` assigned it: the next walk would see it.
    assert first.scopes.needs_hints and first.needs_hints
    assert LOSS in {tag.kind for tag in first.learned.attributes["Trainer"]["criterion"]}
    # The walk that starts with what the first one learnt misses nothing.
    assert not _model(source).scopes.needs_hints


# -- the binding component: call sites, and the parameters they seed ---------------------------

class _BindingHost(_Host):
    """A `BindingHost` with a frame of its own and, optionally, an open class."""

    def __init__(self, values: dict[str, Value]) -> None:
        super().__init__()
        self.values = values
        self.local: dict[str, Value] = {}
        self.state = None

    def value(self, node: cst.BaseExpression) -> Value:
        return self.values.get(cst.Module([]).code_for_node(node), EMPTY)

    def lookup(self, name: str) -> Value:
        return self.values.get(name, EMPTY)

    def function_local(self, name: str) -> Value | None:
        return self.local.get(name)

    def innermost_class(self):
        return self.state


def test_binding_component_driven_through_its_host_interface_alone():
    loss = _model("import torch\nloss = torch.nn.CrossEntropyLoss()\n").lookup("loss")
    assert LOSS in {tag.kind for tag in loss}
    host = _BindingHost({"criterion": loss})
    learned = FlowHints()
    binding = CallBinding(host, None, "example.py", {"fit"}, {"Net": {"__init__", "forward"}},
                          FlowHints(), learned, summarising=False)
    fit_call, net_call, other = (_call("fit(model, criterion, epochs=3)"), _call("Net(4)"),
                                 _call("library.fit(criterion)"))
    for call in (fit_call, net_call, other):
        binding.record_call_site(call)
    assert binding.call_sites("fit") == (fit_call,) and binding.call_sites("Net.__init__") == (
        net_call,)
    assert binding.callee_key(other) is None and binding.call_sites("missing") == ()
    # Only what a rule can act on is passed on: the loss at position 1, nothing for `model`.
    assert learned.parameters == {"fit": {1: loss}} and binding.needs_hints
    # The next walk seeds `fit`'s parameters with it.
    function = cst.parse_statement("def fit(model, criterion, epochs=1): pass")
    seeded = CallBinding(host, None, "example.py", {"fit"}, {}, learned, FlowHints(),
                         summarising=False)
    frame = seeded.seed_parameters(function, "fit", False, {"epochs": EMPTY})
    assert frame == {"model": EMPTY, "criterion": loss, "epochs": EMPTY}


def test_binding_component_names_the_method_a_call_runs():
    model = _model("""
        import torch.nn as nn
        import torch.nn.functional as F

        class Net(nn.Module):
            def forward(self, x):
                return F.softmax(self.head(x), dim=1)

            def head(self, x):
                return x

        class Runner:
            def __call__(self, batch):
                return batch

        def fit(net):
            net(1)
            net.forward(3)

        net = Net()
        fit(net)
        net(4)
        runner = Runner()
        runner(2)
    """)
    binding = model.binding
    calls = _calls(model)
    assert binding.call_sites("fit") == (calls["fit(net)"],)
    assert binding.call_sites("Runner.__call__") == (calls["runner(2)"],)
    assert binding.call_sites("Net.forward") == (calls["net(1)"], calls["net.forward(3)"],
                                                 calls["net(4)"])
    assert binding.call_sites("Net.head") == (calls["self.head(x)"],)
    assert binding.call_sites("Net.__init__") == (calls["Net()"],)
    # What the call sites pass reached the parameters: `net` is the module.
    assert MODULE in {tag.kind for tag in model.learned.parameters["fit"][0]}
