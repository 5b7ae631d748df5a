"""Training-loop events: what each loop and each function does to training state, in order.

DL101-DL103 and DL004 read these: a loop whose events hold `backward` and `step` but no
`zero_grad`, a scheduler stepped before its optimizer, a clip after the step. Calls to local
functions, and to methods of the class called on `self`, are kept as `call` events and expanded
on demand, so a helper that zeroes the gradients counts where it is called.

A component of the semantic model with state of its own (`LoopEventRecorder`): the model creates
it, tells it where loops and functions open and close and which calls the walk meets, and it
asks the model only what `LoopHost` declares. Rules read its answers through `Facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator, Mapping, Protocol, Sequence

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import dotted_name
from dllint.semantic.syntax import argument
from dllint.semantic.values import INSTANCE, OPTIMIZER, SCHEDULER, Value, first, has, tags

if TYPE_CHECKING:
    from dllint.semantic.project import ProjectIndex


@dataclass
class LoopEvents:
    """What a loop's body does to training state, in source order: ("backward", node),
    ("step", node, optimizer, owners), ("zero_grad", node, receiver), ("scheduler_step", node),
    ("clip", node), ("eval", node, switch), ("train", node, switch), and ("call", node, name)
    for local functions it calls or hands on (`name`: `fit`, or `Trainer.step` for a method of
    a class of the file). `switch` is the `.eval()`/`.train()` call itself (`node` is where the
    loop calls the helper that makes it). `optimizer` and `receiver` are dotted names (None when
    not a plain name); `owners` names what the optimizer was built from (`net` for
    `net.parameters()`).
    A `.grad = None` assignment, `.grad.zero_()`, or a call of a function named `zero_grad`
    (`zero_grad(params)`), is ("zero_grad", node)."""

    node: cst.CSTNode
    events: list[tuple] = field(default_factory=list)


class LoopHost(Protocol):
    """What the loop component asks the semantic model, at the point the walk is at."""

    def qualified(self, node: cst.BaseExpression) -> str | None:
        """The import path an expression names."""

    def value(self, node: cst.BaseExpression) -> Value:
        """The tags of an expression."""

    def callee_key(self, node: cst.Call) -> str | None:
        """The function or method of the file a call runs (`fit`, `Trainer.step`)."""

    def open_branches(self) -> tuple[tuple[cst.If, bool], ...]:
        """The `if` statements the walk is in, outermost first, each with whether the walk is
        in its else branch."""


class LoopEventRecorder:
    """The component of the semantic model that records training events, per loop and per
    function of the file.

    The model calls `enter_loop`/`leave_loop` around each `for` and `while`,
    `enter_function`/`leave_function` around each function, `record_call` at each call and
    `record` for an event it recognises itself (`p.grad = None`). `project`, `path` and
    `top_classes` (the file's top-level classes, each with its methods) are fixed for the walk.
    """

    def __init__(self, host: LoopHost, project: ProjectIndex | None, path: str,
                 top_classes: Mapping[str, set[str]]) -> None:
        self._host = host
        self._project = project
        self._path = path
        self._top_classes = top_classes
        # Per loop (innermost last while open), in the order they close.
        self.open_loops: list[LoopEvents] = []
        self.loops: list[LoopEvents] = []
        # Per function of the file (`fit`) and method of its top-level classes (`Trainer.step`).
        self.function_events: dict[str, list[tuple]] = {}
        # Calls of local functions and methods (id of the call -> its key in function_events).
        self._local_calls: dict[int, str] = {}
        # The events of each function the walk is in, innermost last, below the module's.
        self._event_stack: list[list[tuple]] = [[]]
        # The `if` branches each event's node is in (id of node -> ((id of the if, in its
        # else), ...), outermost first): events in two branches of one `if` are alternatives.
        self._event_branches: dict[int, tuple[tuple[int, bool], ...]] = {}
        # The kinds of the events recorded at each node (id of node -> kinds, in order).
        self._event_kinds: dict[int, list[str]] = {}

    # -- driven by the model's walk ------------------------------------------------------------

    def enter_loop(self, node: cst.For | cst.While) -> None:
        self.open_loops.append(LoopEvents(node))

    def leave_loop(self) -> None:
        self.loops.append(self.open_loops.pop())

    def enter_function(self) -> None:
        self._event_stack.append([])

    def leave_function(self, key: str | None) -> None:
        """The function closes; its events are kept under `key` (the first definition of a
        name wins), or dropped when `key` is None (a method of a nested class)."""
        events = self._event_stack.pop()
        if key is not None:
            self.function_events.setdefault(key, events)

    def record(self, *event) -> None:
        """An event at this point of the walk, in `LoopEvents`' shapes."""
        self._event_stack[-1].append(event)
        self._event_kinds.setdefault(id(event[1]), []).append(event[0])
        self._event_branches[id(event[1])] = tuple(
            (id(branch), in_else) for branch, in_else in self._host.open_branches())
        for loop in self.open_loops:
            loop.events.append(event)

    # -- queries -------------------------------------------------------------------------------

    def local_callee(self, call: cst.CSTNode) -> str | None:
        """The key in `function_events` of the file's function or method a call runs."""
        return self._local_calls.get(id(call))

    def events_at(self, node: cst.CSTNode) -> tuple[str, ...]:
        """The kinds of the events recorded at `node`, in order."""
        return tuple(self._event_kinds.get(id(node), ()))

    def alternatives(self, first: Sequence[cst.CSTNode], second: Sequence[cst.CSTNode]) -> bool:
        """Whether two events, each given by the nodes it is reached through (the call sites,
        outermost first, then its own node: `expand_traced`), lie in different branches of one
        `if` (`if scaler: scaler.step(opt) else: clip(...); opt.step()`): one pass runs one of
        them, never both. Where both go through the same call, the branches inside it decide."""
        for first_node, second_node in zip(first, second):
            if first_node is not second_node:
                first_branches = dict(self._event_branches.get(id(first_node), ()))
                return any(first_branches.get(node, in_else) != in_else
                           for node, in_else in self._event_branches.get(id(second_node), ()))
        return False

    def expand_traced(self, events: Sequence[tuple], seen: frozenset = frozenset()
                      ) -> Iterator[tuple[tuple, tuple]]:
        """`expand`, each event paired with the nodes it is reached through: the calls of the
        file's functions, outermost first, then the event's own node."""
        for event in events:
            if event[0] == "call" and event[2] in self.function_events and event[2] not in seen:
                for inner, trace in self.expand_traced(self.function_events[event[2]],
                                                       seen | {event[2]}):
                    yield (inner[0], event[1], *inner[2:]), (event[1], *trace)
            elif event[0] != "call":
                yield event, (event[1],)

    def expand(self, events: Sequence[tuple], seen: frozenset = frozenset()
                ) -> Iterator[tuple]:
        """Events with calls to local functions replaced by what those functions do."""
        for event in events:
            if event[0] == "call" and event[2] in self.function_events and event[2] not in seen:
                for inner in self.expand(self.function_events[event[2]], seen | {event[2]}):
                    yield (inner[0], event[1], *inner[2:])
            elif event[0] != "call":
                yield event

    def record_call(self, node: cst.Call) -> None:
        """The training events of a call: a backward, an optimizer or scheduler step, a clip,
        a mode switch, what a function of another file does, a call of the file's own."""
        func = node.func
        qualified = self._host.qualified(func)
        if qualified in catalog.CONTEXT_BACKWARDS:
            return  # distributed autograd: the gradients live in the context, nothing adds up
        if qualified in ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_",
                         "torch.nn.utils.clip_grad.clip_grad_norm_"):
            self.record("clip", node)
        elif isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in catalog.BACKWARD_METHODS:
                self.record("backward", node)
            elif method == "zero_grad":
                self.record("zero_grad", node, dotted_name(func.value))
            elif method in catalog.GRADIENT_CLEARING_METHODS and _is_gradient(func.value):
                self.record("zero_grad", node)  # w.grad.zero_(): cleared by hand
            elif method == "eval" and not node.args:
                self.record("eval", node, node)
            elif method == "train":
                flag = argument(node, 0, "mode")
                is_off = flag is not None and isinstance(flag.value, cst.Name) and \
                    flag.value.value == "False"
                self.record("eval" if is_off else "train", node, node)
            elif method == "step":
                receiver = self._host.value(func.value)
                name = (dotted_name(func.value) or "").rsplit(".", 1)[-1].lower()
                # By its name only where nothing says what it is: an instance of a project
                # class that derives from no library scheduler (a hand-written warm-up that
                # sets the coming step's rate) is no scheduler the optimizer must step before.
                if has(receiver, SCHEDULER) or (not has(receiver, OPTIMIZER) and not has(
                        receiver, INSTANCE) and "sched" in name):
                    self.record("scheduler_step", node)
                elif has(receiver, OPTIMIZER) or "optim" in name or "scaler" in name or \
                        name in ("opt", "solver"):
                    self.record("step", node, *self._stepped_optimizer(node, "scaler" in name))
        if isinstance(func, cst.Name) and func.value in catalog.GRADIENT_CLEARING_FUNCTIONS:
            self.record("zero_grad", node)  # zero_grad(params): may clear any of them
        if qualified is not None and self._project is not None and not qualified.startswith(
                "builtins."):
            # A function of another file of the project: what its summary says it does to
            # training state happens here, at its call.
            for kind in self._project.lookup_events(qualified, self._path):
                self.record(*_imported_event(kind, node))
        local = isinstance(func, cst.Name) and qualified is None
        if local or isinstance(func, cst.Attribute):
            self._imported_instance_events(node)
        if local:
            self.record("call", node, func.value)
            self._local_calls[id(node)] = func.value
        elif isinstance(func, cst.Attribute) and func.attr.value not in ("forward", "__call__"):
            # `self.train_epoch()`, `trainer.step()`: a method of a class of this file does
            # what its body does, where it is called.
            key = self._host.callee_key(node)
            if key is not None:
                self.record("call", node, key)
                self._local_calls[id(node)] = key
        # optimizer.step(closure): the closure runs in this step, as does a function handed to a
        # local function. One handed to a library (rpc_async, Thread) runs elsewhere.
        if local or (isinstance(func, cst.Attribute) and func.attr.value == "step"):
            for arg in node.args:
                if isinstance(arg.value, cst.Name) and arg.value.value in self.function_events:
                    self.record("call", node, arg.value.value)

    def _imported_instance_events(self, node: cst.Call) -> None:
        """`loss_scaler(loss, optimizer)`, `trainer.step()`: an instance of a class of another
        file of the project does here what its method (`__call__` for the instance called) does
        there."""
        if self._project is None:
            return
        func = node.func
        receiver, method = (func.value, func.attr.value) if isinstance(func, cst.Attribute) \
            else (func, "__call__")
        for tag in tags(self._host.value(receiver), INSTANCE):  # the same first one every run
            if tag.detail not in self._top_classes:
                for kind in self._project.lookup_method_events(tag.detail, method,
                                                              self._path):
                    self.record(*_imported_event(kind, node))
                return

    def _stepped_optimizer(self, node: cst.Call, by_scaler: bool
                           ) -> tuple[str | None, frozenset[str]]:
        """The optimizer `node` steps (`scaler.step(optimizer)` steps its argument), and the
        modules whose parameters it was built from, where its construction is known."""
        target = node.func.value
        if by_scaler:
            arg = argument(node, 0, "optimizer")
            target = arg.value if arg is not None else None
        if target is None:
            return None, frozenset()
        tag = first(self._host.value(target), OPTIMIZER)
        owners = _parameter_owners(tag.node, self._host.qualified) if tag is not None and \
            isinstance(tag.node, cst.Call) else frozenset()
        return dotted_name(target), owners


def _imported_event(kind: str, call: cst.Call) -> tuple:
    """An event of a function of another file, at its call here, in `LoopEvents`' shapes: which
    optimizer it steps, or what it zeroes, is not known at the caller."""
    if kind == "step":
        return ("step", call, None, frozenset())
    if kind == "zero_grad":
        return ("zero_grad", call, None)
    return (kind, call)


def _is_gradient(node: cst.BaseExpression) -> bool:
    """`w.grad` or `w.grad.data`: a tensor's gradient itself."""
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        node = node.value
    return isinstance(node, cst.Attribute) and node.attr.value == "grad"


def _parameter_owners(call: cst.Call, qualified) -> frozenset[str]:
    """`net` for `Adam(net.parameters())`, `list(net.parameters())`, a parameter group
    `{"params": net.parameters()}`, or `itertools.chain(a.parameters(), b.parameters())`: the
    modules an optimizer updates. `qualified` resolves a call's function to its import path."""
    owners = set()
    for arg in call.args:
        for node in _parameter_sources(arg.value, qualified):
            if isinstance(node, cst.Call) and dotted_name(node.func) == "list" and node.args:
                node = node.args[0].value
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value in ("parameters", "named_parameters"):
                owner = dotted_name(node.func.value)
                if owner:
                    owners.add(owner)
    return frozenset(owners)


def _parameter_sources(node: cst.BaseExpression, qualified) -> list[cst.BaseExpression]:
    if isinstance(node, cst.BinaryOperation):  # list(a.parameters()) + list(b.parameters())
        return _parameter_sources(node.left, qualified) + \
            _parameter_sources(node.right, qualified)
    if isinstance(node, (cst.List, cst.Tuple)):
        return [part for element in node.elements
                for part in _parameter_sources(element.value, qualified)]
    if isinstance(node, cst.Call) and qualified(node.func) in catalog.ITERABLE_CONCATENATIONS:
        return [part for arg in node.args if not arg.star
                for part in _parameter_sources(arg.value, qualified)]
    if isinstance(node, cst.Dict):
        return [element.value for element in node.elements
                if isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value == "params"]
    return [node]
