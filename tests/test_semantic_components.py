"""The semantic model's components, tested directly: each is driven by a small source's walk (or
by hand, through its declared host interface) and asked its own questions, not through a rule.

`docs/architecture.md` ("The semantic model's components") says which component owns what."""

from __future__ import annotations

import textwrap

import libcst as cst
import libcst.matchers

from dllint.context import FileContext
from dllint.semantic.imports import ImportMap
from dllint.semantic.loops import LoopEventRecorder
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.values import EMPTY, Value


def _model(source: str) -> SemanticModel:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
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
