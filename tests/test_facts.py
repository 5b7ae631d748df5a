"""The facts service on its own: what a rule gets back when it asks about a point of a file.

Each source calls `ask(...)` where a question is put; the asker runs right after the model in
the same walk (as rules do) and records the answer of `question(facts, call)` there.
"""

from __future__ import annotations

import textwrap
from typing import Callable

import libcst as cst

from dllint.context import FileContext
from dllint.semantic.facts import Facts
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.values import MODULE, PROBABILITIES
from dllint.walk import CachedVisitorNames

Question = Callable[[Facts, cst.Call], object]


class Asker(CachedVisitorNames, cst.BatchableCSTVisitor):
    def __init__(self, model: SemanticModel, question: Question) -> None:
        super().__init__()
        self.facts = model.facts
        self.question = question
        self.answers: list[object] = []
        self.at_end: list[object] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "ask":
            self.answers.append(self.question(self.facts, node))

    def leave_Module(self, original_node: cst.Module) -> None:
        self.at_end.append(self.facts)


def ask(source: str, question: Question) -> list[object]:
    return _asker(source, question).answers


def _asker(source: str, question: Question) -> Asker:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    made: list[Asker] = []
    analyse(context, None, lambda model: made.append(Asker(model, question)) or [made[-1]])
    return made[-1]


def test_value_of_an_argument_at_the_point_asked():
    source = """
        import torch
        x = torch.softmax(logits, dim=1)
        ask(x)
        x = logits
        ask(x)
    """
    kinds = ask(source, lambda facts, call: {tag.kind for tag in facts.value(call.args[0].value)})
    assert kinds == [{PROBABILITIES}, set()]


def test_function_facts_name_parameters_class_and_qualified_decorators():
    source = """
        import torch
        from functools import lru_cache

        class Trainer:
            @torch.no_grad()
            def evaluate(self, loader, *, limit=3):
                ask()

        @lru_cache
        def build(depth):
            ask()
        ask()
    """
    answers = ask(source, lambda facts, call: facts.function)
    evaluate, build, top = answers
    assert (evaluate.name, evaluate.class_name, evaluate.parameters, evaluate.decorators,
            evaluate.no_grad, evaluate.is_method) == (
        "evaluate", "Trainer", ("self", "loader", "limit"), ("torch.no_grad",), True, True)
    assert (build.name, build.class_name, build.parameters, build.decorators, build.no_grad) == (
        "build", None, ("depth",), ("functools.lru_cache",), False)
    assert top is None


def test_no_grad_regions_blocks_and_decorated_functions():
    source = """
        import torch

        ask()
        with torch.no_grad():
            ask()
        with torch.inference_mode():
            ask()
        ask()

        @torch.no_grad()
        def predict(model, x):
            ask()
    """
    assert ask(source, lambda facts, call: facts.in_no_grad) == [False, True, True, False, True]


def test_handler_context_names_enclosing_with_blocks_and_caught_exceptions():
    source = """
        import torch
        from torch.serialization import safe_globals

        with safe_globals([dict]):
            try:
                ask()
            except (TypeError, torch.cuda.OutOfMemoryError):
                ask()
            except:
                ask()
        ask()
    """
    answers = ask(source, lambda facts, call: facts.handler_context())
    inside_try, in_handler, in_bare, outside = answers
    assert inside_try.contexts == ("torch.serialization.safe_globals",)
    assert inside_try.caught == ()  # the try body is not inside a handler
    assert in_handler.catches("builtins.TypeError")
    assert in_handler.caught == ("builtins.TypeError", "torch.cuda.OutOfMemoryError")
    assert not in_bare.catches("builtins.TypeError")  # a bare except is not a TypeError handler
    assert in_bare.catches("builtins.BaseException")
    assert in_bare.within(frozenset({"torch.serialization.safe_globals"}))
    assert outside.contexts == () and outside.caught == ()


def test_module_mode_follows_eval_and_the_layers_that_make_modes_differ():
    source = """
        from torch import nn

        net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        ask(net)
        net.eval()
        ask(net)
        plain = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        ask(plain)
        ask(3)
    """
    modes = ask(source, lambda facts, call: facts.module_mode(facts.value(call.args[0].value)))
    trained, evaluated, plain, nothing = modes
    assert trained.mode_dependent is True and not trained.in_eval
    assert evaluated.mode_dependent is True and evaluated.in_eval
    assert plain.mode_dependent is False
    assert nothing is None


def test_a_class_of_a_keras_model_package_built_directly_is_a_keras_model():
    source = """
        import keras_hub
        from keras_nlp.models import BertBackbone

        ask(keras_hub.models.Gemma3Backbone(**config))
        ask(BertBackbone(vocabulary_size=100))
        ask(keras_hub.utils.load_weights(path))
    """
    modes = ask(source, lambda facts, call: facts.module_mode(facts.value(call.args[0].value)))
    gemma, bert, helper = modes
    assert gemma.framework == "keras" and bert.framework == "keras"
    assert helper is None  # a function of the package, not one of its model classes


def test_has_mode_dependent_layers_needs_positive_evidence():
    source = """
        import timm
        import torch
        import torchvision
        import torch.nn.functional as F
        from torch import nn
        from elsewhere import Base

        def layer_init(layer, std=1.0):
            torch.nn.init.orthogonal_(layer.weight, std)
            return layer

        class LayerNorm(nn.LayerNorm):
            def forward(self, x):
                return super().forward(x.float()).type(x.dtype)

        class SharedDropout(nn.Dropout):
            def forward(self, x):
                return super().forward(x)

        class Stacked(nn.LSTM):
            pass

        class Unseen(Base):
            def forward(self, x):
                return x

        class Functional(nn.Module):
            def forward(self, x):
                return F.dropout(x, 0.1, self.training)

        ask(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
        ask(nn.Sequential(layer_init(nn.Linear(4, 4)), LayerNorm(4)))
        ask(nn.Sequential(layer_init(nn.Linear(4, 4)), nn.BatchNorm1d(4)))
        ask(SharedDropout(0.5))
        ask(Stacked(4, 4))
        ask(Unseen())
        ask(nn.Sequential(*layers))
        ask(Functional())
        ask(torchvision.models.resnet18())
        ask(timm.create_model(name))
        ask(nn.Sequential(*list(torchvision.models.resnet18().children())[:-1]))
        ask(3)
    """
    answers = ask(source, lambda facts, call: facts.has_mode_dependent_layers(
        facts.value(call.args[0].value)))
    assert answers == [
        False,  # Linear, ReLU
        False,  # a helper handing back its Linear, and a LayerNorm subclass
        True,   # ... beside a batch norm
        True,   # a subclass of nn.Dropout drops by default
        None,   # an LSTM subclass: its dropout= is passed on where it is not read
        None,   # a base class not visible
        None,   # members not visible
        True,   # functional dropout in its forward
        True,   # torchvision's families have batch norm or dropout
        True,   # as have timm's
        True,   # a torchvision model's children, re-assembled
        None,   # no module
    ]


def test_events_at_a_node_name_what_the_model_recorded_there():
    # Asked after the walk (the recording happens as the walk reaches each call): the step of
    # an optimizer, the backward pass, and nothing at a plain call.
    source = """
        import torch

        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        ask(optimizer.step())
        ask(loss.backward())
        ask(print(loss))
    """
    asked = ask(source, lambda facts, call: (facts, call.args[0].value))
    assert [facts.events_at(node) for facts, node in asked] == [("step",), ("backward",), ()]


def test_loops_and_their_training_events_in_source_order():
    source = """
        def zero(optimizer):
            optimizer.zero_grad()

        for batch in loader:
            loss = model(batch)
            zero(optimizer)
            loss.backward()
            optimizer.step()
        ask()
    """
    answers = ask(source, lambda facts, call: [
        [event[0] for event in facts.expand(loop.events)] for loop in facts.loops])
    assert answers == [[["zero_grad", "backward", "step"]]]
    assert ask(source, lambda facts, call: [
        (event[0], event[2]) for event in facts.function_events("zero")]) == [
        [("zero_grad", "optimizer")]]
    assert ask(source, lambda facts, call: facts.function_events("missing")) == [None]


def test_call_sites_of_a_local_function_are_complete_at_the_end():
    source = """
        from torch import nn

        class Net(nn.Module):
            def forward(self, x):
                return x

        def fit(model, data):
            return model(data)

        net = Net()
        fit(net, 1)
        fit(net, data=2)
        net(3)
    """
    asker = _asker(source, lambda facts, call: None)
    facts = asker.at_end[-1]
    assert [cst.Module([]).code_for_node(call) for call in facts.call_sites("fit")] == [
        "fit(net, 1)", "fit(net, data=2)"]
    assert [cst.Module([]).code_for_node(call) for call in facts.call_sites("Net.forward")] == [
        "net(3)"]
    assert facts.call_sites("missing") == ()


def test_local_class_summaries():
    source = """
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.drop = nn.Dropout(0.1)

            def forward(self, x):
                return self.drop(x)

        class Config:
            pass

        ask()
    """
    answers = ask(source, lambda facts, call: (facts.local_class("Net"), facts.local_class(
        "Config"), facts.is_local_class("Config"), facts.is_local_class("Other")))
    (net, config, config_known, other_known), = answers
    assert net is not None and net.mode_dependent is True
    assert config is None and config_known and not other_known
    value = ask(textwrap.dedent(source) + "net = Net()\nask(net)\n",
                lambda facts, call: call.args and {
                    tag.kind for tag in facts.value(call.args[0].value)})
    assert value[-1] == {MODULE}


def test_enclosing_class_facts_with_the_attributes_assigned_so_far():
    source = """
        import tensorflow as tf

        class Classifier(tf.keras.Model):
            def __init__(self):
                super().__init__()
                ask()
                self.drop = tf.keras.layers.Dropout(0.5)
                ask()
        ask()
    """
    before, after, outside = ask(source, lambda facts, call: facts.enclosing_class)
    assert (before.name, before.bases, before.framework) == (
        "Classifier", ("tensorflow.keras.Model",), "keras")
    assert "drop" in after.attributes
    assert outside is None


def test_function_facts_answer_for_the_function_the_walk_is_in_every_time():
    """Facts made for a closed function must never answer for a later one (a freed state's id
    may be reused), in one walk or when the file is linted again."""
    source = "\n".join(f"def f{index}(x):\n    ask()\n" for index in range(50))
    for _ in range(2):
        names = ask(source, lambda facts, call: facts.function.name)
        assert names == [f"f{index}" for index in range(50)]


def test_classes_defining_a_method():
    source = """
        class Sampler:
            def sample(self, model):
                return model

        class Trainer:
            def fit(self):
                pass

            def sample(self):
                pass

        ask()
    """
    (found,) = ask(source, lambda facts, call: (facts.classes_defining("sample"),
                                                 facts.classes_defining("fit"),
                                                 facts.classes_defining("missing")))
    assert found == (frozenset({"Sampler", "Trainer"}), frozenset({"Trainer"}), frozenset())


class LoopReader(CachedVisitorNames, cst.BatchableCSTVisitor):
    """Asks, when each `for` loop is left (as a rule's `leave_For` does), which of `names` the
    loop reads; loops are reported innermost first, as they close."""

    def __init__(self, model: SemanticModel, names: tuple[str, ...]) -> None:
        super().__init__()
        self.facts = model.facts
        self.names = names
        self.answers: list[set[str]] = []

    def leave_For(self, original_node: cst.For) -> None:
        read = self.facts.names_read(original_node)
        self.answers.append({name for name in self.names if name in read})



def loop_reads(source: str, *names: str) -> list[set[str]]:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    made: list[LoopReader] = []
    analyse(context, None, lambda model: made.append(LoopReader(model, names)) or [made[-1]])
    return made[-1].answers



def test_names_read_by_a_loop_leave_out_attribute_keyword_and_assigned_names():
    source = """
        for image, mask, label, extra in zip(images, masks, labels, extras):
            load(image.mask, label=1)
            extra = 0
    """
    assert loop_reads(source, "image", "mask", "label", "extra") == [{"image"}]



def test_names_read_after_the_body_rebinds_them_are_not_reads_of_the_loop_value():
    source = """
        for image, mask, label in zip(images, masks, labels):
            mask = image.replace("images", "masks")
            save(mask)
            label = label.strip()
            use(label)
    """
    # `label = label.strip()` reads the loop's label before rebinding it; `mask` is only read
    # after its rebinding.
    assert loop_reads(source, "image", "mask", "label") == [{"image", "label"}]



def test_a_rebinding_under_an_if_or_in_a_one_line_body_is_no_rebinding():
    source = """
        for image, mask in zip(images, masks):
            if flip:
                mask = image
            save(mask)
        for image, mask in pairs: mask = image; save(mask)
    """
    assert loop_reads(source, "image", "mask") == [{"image", "mask"}, {"image", "mask"}]



def test_names_read_in_the_else_block_count_and_outer_loops_see_inner_reads():
    source = """
        for a, b in zip(xs, ys):
            for c, d in zip(a, zs):
                use(c)
            else:
                use(d)
            b = 0
        else:
            done(b)
    """
    # Inner loop first: it reads c, and d in its else block (its `zip(a, zs)` is no part of its
    # body); the outer loop reads a, c and d in its body and, in its else block, b (the body's
    # rebinding of b does not reach the else block).
    assert loop_reads(source, "a", "b", "c", "d") == [{"c", "d"}, {"a", "b", "c", "d"}]



def test_names_read_is_asked_of_loops_nested_ninety_deep():
    depth = 90  # Python allows at most 100 levels of indentation
    lines = [f"{'    ' * level}for i{level}, f{level} in zip(a, b):" for level in range(depth)]
    lines.append(f"{'    ' * depth}use(f{depth - 1}, i0)")
    answers = loop_reads("\n".join(lines) + "\n", "i0", f"f{depth - 1}", "i1")
    assert answers[0] == {"i0", f"f{depth - 1}"}  # the innermost loop
    # Every loop around `for i1, ...` reads i1 there (a loop target is a use): only the outermost.
    assert [answer == {"i0", f"f{depth - 1}", "i1"} for answer in answers] == \
        [False] * (depth - 1) + [True]


def test_events_in_two_branches_of_one_if_are_alternatives():
    source = """
        import torch
        for x, y in loader:
            loss_fn(model(x), y).backward()
            if scaler:
                scaler.step(optimizer)
            elif sharded:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
            else:
                if log:
                    torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
                optimizer.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        ask()
    """

    def pairs(facts, call):
        nodes = [trace for event, trace in facts.expand_traced(facts.loops[0].events)
                 if event[0] in ("step", "clip")]
        lines = ["scaler.step", "clip elif", "step elif", "clip nested", "step else", "clip after"]
        return {(lines[a], lines[b]) for a in range(len(nodes)) for b in range(len(nodes))
                if a < b and facts.alternatives(nodes[a], nodes[b])}

    assert ask(source, pairs) == [{
        ("scaler.step", "clip elif"), ("scaler.step", "step elif"),
        ("scaler.step", "clip nested"), ("scaler.step", "step else"),
        ("clip elif", "clip nested"), ("clip elif", "step else"),
        ("step elif", "clip nested"), ("step elif", "step else")}]



def test_alternatives_inside_a_helper_are_judged_by_its_own_branches():
    source = """
        import torch

        def finish(optimizer, scaler):
            if scaler is not None:
                scaler.step(optimizer)
            else:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()

        for x, y in loader:
            loss_fn(model(x), y).backward()
            finish(optimizer, scaler)
            finish(optimizer, scaler)
        ask()
    """

    def pairs(facts, call):
        traced = [trace for event, trace in facts.expand_traced(facts.loops[0].events)
                  if event[0] in ("step", "clip")]
        return [facts.alternatives(traced[a], traced[b])
                for a in range(len(traced)) for b in range(a + 1, len(traced))]

    # scaler.step, clip, step in the first call, then the same three in the second: within
    # one call the scaler's step is the alternative of the other two; across calls nothing is.
    assert ask(source, pairs) == [[True, True, False, False, False,
                                   False, False, False, False,
                                   False, False, False,
                                   True, True,
                                   False]]



def test_gradients_cleared_by_hand_are_zero_grad_events():
    source = """
        from .fp16_util import zero_grad
        for batch in data:
            zero_grad(params)
            w.grad.zero_()
            w.grad.data.zero_()
            w.detach().zero_()
            w.zero_()
            loss(batch).backward()
            opt.step()
        ask()
    """
    assert ask(source, lambda facts, call: [
        event[0] for event in facts.expand(facts.loops[0].events)]) == [
        ["zero_grad", "zero_grad", "zero_grad", "backward", "step"]]



def test_rules_reach_the_semantic_model_only_through_the_facts_service():
    """The service is the rules' one interface: no rule reads `self.model` or
    `self.context.model` (its examples may, as user code, in strings)."""
    import ast
    import inspect

    from dllint.registry import all_rules
    from dllint.rule import Rule

    assert not hasattr(Rule, "model")
    reaching = []
    for rule in all_rules():
        tree = ast.parse(inspect.getsource(inspect.getmodule(rule)))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "model" and (
                    (isinstance(node.value, ast.Name) and node.value.id == "self")
                    or (isinstance(node.value, ast.Attribute) and node.value.attr == "context")):
                reaching.append((rule.code, node.lineno))
    assert reaching == []
