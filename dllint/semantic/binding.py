"""Call binding: the values a call site passes become the callee's parameters on the next walk.

Binding is context-insensitive: a parameter holds the union of what every call site passes.
Calls within the file are keyed `fit`, `Trainer.__init__`, `Net.forward`; calls into other
files of the run are recorded by qualified name in the caller's summary, and the project index
hands them to the callee's file (`ProjectIndex.incoming_arguments`).

A component of the semantic model with state of its own (`CallBinding`): the model creates it,
hands it each call and each function it enters, and it asks the model only what `BindingHost`
declares. Rules read its answers (`call_sites`) through `Facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Protocol

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.conditions import UNKNOWN, constant
from dllint.semantic.values import (
    COLUMN, DATAFRAME, ELEMENTS, EMPTY, FLOAT64, INSTANCE, LISTING, LOG_PROBABILITIES, LOSS, MODULE,
    OPTIMIZER, PIL_IMAGE, PROBABILITIES, RANK1, REFERENCE, SCHEDULER, SQUEEZED, TRANSFORM, TUPLE,
    UINT8, UNIT_RANGE, UNIT_SCALED, Value)
from dllint.semantic.values import ARGUMENT, RECORDS, Tag
from dllint.semantic.values import AXIS_DROPPED, SINGLE_CHANNEL

if TYPE_CHECKING:
    from dllint.semantic.project import ProjectIndex
    from dllint.semantic.summaries import ClassState


@dataclass
class FlowHints:
    """What one walk of a file learnt that an earlier point of the next walk needs.

    The walk is a single forward pass, so a function's body is analysed before the calls that
    give its parameters their values, and a method may use `self.loss_fn` before the setter
    that assigns it. Walking the file again with the previous walk's hints closes both gaps:
    - `parameters`: per function key (`fit`, `Trainer.__init__`, `Net.forward`), the values
      its call sites pass, by position (int, receiver excluded) and by keyword (str), unioned
      over every call site (context-insensitive);
    - `attributes`: per class, its `self` attributes after all its methods were seen;
    - `forwards`: per class, what its `forward` returns (for `self(x)` before `forward`);
    - `methods`: per class, what each method returns (for `self.build()` before `build`);
    - `functions`: what each function of the module returns (for a call in a function body
      above the helper's `def`, `image = _decode(buf)` with `_decode` at the end of the file).
    """

    parameters: dict[str, dict[int | str, Value]] = field(default_factory=dict)
    attributes: dict[str, dict[str, Value]] = field(default_factory=dict)
    forwards: dict[str, Value] = field(default_factory=dict)
    methods: dict[str, dict[str, Value]] = field(default_factory=dict)
    functions: dict[str, Value] = field(default_factory=dict)
    # Calls into other files of the project: qualified name -> slots, as for `parameters`.
    external: dict[str, dict[int | str, Value]] = field(default_factory=dict)
    # Per top-level function of the file, the literal constants each of its calls passes
    # (`CallConstants`), for the tests its body makes on them (`conditions.decided`).
    constants: dict[str, list[CallConstants]] = field(default_factory=dict)
    # Top-level functions of the file named other than by a call (`partial(f, ...)`,
    # `map(f, xs)`, a decorator): called in ways no call site shows.
    escaping: set[str] = field(default_factory=set)
    # Per top-level function, the names its own `if` tests read, and the names its body
    # binds: a parameter tested and never bound again is decided by constant arguments.
    tested: dict[str, set[str]] = field(default_factory=dict)
    assigned: dict[str, set[str]] = field(default_factory=dict)

    def decidable(self, function: str) -> frozenset[str]:
        """The names `function`'s `if` tests read that its body never binds again."""
        return frozenset(self.tested.get(function, set()) - self.assigned.get(function, set()))

    def signature(self) -> tuple:
        """Changes when what was learnt changes: the walks stop when it no longer does."""
        return (tuple(sorted((key, str(slot), len(value)) for key, slots in self.parameters.items()
                             for slot, value in slots.items() if value)),
                tuple(sorted((name, attribute, len(value)) for name, attributes
                             in self.attributes.items() for attribute, value in attributes.items()
                             if value)),
                tuple(sorted((name, len(value)) for name, value in self.forwards.items())),
                tuple(sorted((name, method, len(value)) for name, methods in self.methods.items()
                             for method, value in methods.items() if value)),
                tuple(sorted((name, len(value)) for name, value in self.functions.items()
                             if value)),
                tuple(sorted((name, len(calls)) for name, calls in self.constants.items())),
                tuple(sorted(self.escaping)))


@dataclass(frozen=True)
class CallConstants:
    """What one call passes, as literal constants (`conditions.constant`; `conditions.UNKNOWN`
    for anything else): by position and by keyword. `unpacked`: it unpacks `*args` or
    `**kwargs`, so any parameter may get anything."""

    positional: tuple[object, ...]
    keywords: tuple[tuple[str, object], ...]
    unpacked: bool


class BindingHost(Protocol):
    """What the binding component asks the semantic model, at the point the walk is at."""

    def qualified(self, node: cst.BaseExpression) -> str | None:
        """The import path an expression names."""

    def value(self, node: cst.BaseExpression) -> Value:
        """The tags of an expression."""

    def lookup(self, name: str) -> Value:
        """What a name holds, innermost scope first."""

    def function_local(self, name: str) -> Value | None:
        """What the innermost frame binds `name` to, when that frame is not the module's (a
        function's, a lambda's); None when it does not bind it."""

    def innermost_class(self) -> ClassState | None:
        """The class the walk is in, innermost."""


class CallBinding:
    """The component of the semantic model that records the file's call sites and seeds the
    parameters of its functions with what they are passed.

    The model calls `record_call_site` at each call and `seed_parameters` when it opens a
    function's frame; `callee_key` answers which function of the file a call runs. `hints` is
    what the previous walk learnt; what this walk passes goes into `learned.parameters` (and,
    `summarising`, `learned.external`), and `needs_hints` says whether some call passed a
    known value."""

    def __init__(self, host: BindingHost, project: ProjectIndex | None, path: str,
                 top_functions: set[str], top_classes: Mapping[str, set[str]],
                 hints: FlowHints, learned: FlowHints, *, summarising: bool,
                 top_function_nodes: Mapping[str, cst.FunctionDef] | None = None) -> None:
        self._host = host
        self._project = project
        self._path = path
        self._top_functions = top_functions
        self._top_classes = top_classes
        self._hints = hints
        self._learned = learned
        self._summarising = summarising
        self._own_module: str | None = None  # this file's receiver key, for calls from others
        # Calls of the file's functions, by callee key (`fit`, `Net.forward`).
        self._call_sites: dict[str, list[cst.Call]] = {}
        self.needs_hints = False
        # The file's top-level functions, by name: their calls record the constants they
        # pass (`parameter_constants`).
        self._top_function_nodes = top_function_nodes or {}

    @property
    def constants_decide(self) -> bool:
        """Whether the calls of this walk give some function's tested parameter the same
        constants everywhere, and the walk did not know it: the next walk decides its tests."""
        learned, known = self._learned.constants, self._hints.constants
        return any(len(calls) != len(known.get(key, ())) and key not in self._learned.escaping
                   and _constant_parameters(self._top_function_nodes[key],
                                            self._learned.decidable(key), calls)
                   for key, calls in learned.items())

    def call_sites(self, key: str) -> tuple[cst.Call, ...]:
        """The calls of the file's function `key` seen so far."""
        return tuple(self._call_sites.get(key, ()))

    def callee_key(self, node: cst.Call) -> str | None:
        """The function of this file a call runs: `fit`, `Trainer.__init__`, `Net.forward`."""
        func = node.func
        if isinstance(func, cst.Name):
            name = func.value
            state = self._host.innermost_class()
            if name == "self" and state is not None:
                return f"{state.name}.forward"
            value = self._host.function_local(name)
            if value is not None:
                return self._instance_key(value, "forward") or \
                    self._instance_key(value, "__call__")
            if name in self._top_functions:
                return name
            if name in self._top_classes:
                return f"{name}.__init__"
            value = self._host.lookup(name)
            # A module called runs its forward; an instance of a plain class, its __call__.
            return self._instance_key(value, "forward") or self._instance_key(value, "__call__")
        if isinstance(func, cst.Attribute):
            method = "forward" if func.attr.value == "__call__" else func.attr.value
            receiver = func.value
            state = self._host.innermost_class()
            if isinstance(receiver, cst.Name) and receiver.value == "self" and state is not None:
                if method in self._top_classes.get(state.name, ()):
                    return f"{state.name}.{method}"
                return None
            key = self._instance_key(self._host.value(func), "forward")
            return key or self._instance_key(self._host.value(receiver), method)
        return self._instance_key(self._host.value(func), "forward")  # EdgeLoss()(prediction, y)

    def _instance_key(self, value: Value, method: str) -> str | None:
        # Of several classes that have it (a value joined from branches), the same one in every
        # run: a value is a set, which iterates in a different order in each.
        found = [name for tag in value
                 if (name := tag.info.name if tag.kind == MODULE else tag.detail
                     if tag.kind == INSTANCE else None) in self._top_classes
                 and method in self._top_classes[name]]
        return f"{min(found)}.{method}" if found else None

    def record_call_site(self, node: cst.Call) -> None:
        key, table = self.callee_key(node), self._learned.parameters
        if key is not None:
            self._call_sites.setdefault(key, []).append(node)
            if key in self._top_function_nodes:
                self._learned.constants.setdefault(key, []).append(_call_constants(node))
        if not node.args:
            return
        if key is None and self._summarising:
            key, table = self._project_callee(node), self._learned.external
        if key is None:
            return
        index = 0
        for arg in node.args:
            if arg.star:
                if arg.star == "*":
                    return  # positions after *args are unknown
                continue
            slot: int | str = arg.keyword.value if arg.keyword is not None else index
            if arg.keyword is None:
                index += 1
            value = _worth_passing(self._host.value(arg.value))
            if value:
                slots = table.setdefault(key, {})
                slots[slot] = slots.get(slot, EMPTY) | value
                self.needs_hints = True

    def _project_callee(self, node: cst.Call) -> str | None:
        """`fit` imported from another module of the project (not a library): its qualified
        name, recorded in this file's summary so the other file binds its parameters."""
        qualified = self._host.qualified(node.func)
        if qualified is None or qualified.startswith("builtins.") or \
                qualified.split(".", 1)[0] in catalog.LIBRARY_ROOTS:
            return None
        return qualified

    def seed_parameters(self, node: cst.FunctionDef, key: str | None, is_method: bool,
                        defaults: dict[str, Value]) -> dict[str, Value]:
        """The frame a function starts with: each parameter bound to what its call sites pass
        and to its default value (`key` as `callee_key` names the function, None when its
        calls are not recorded)."""
        params = node.params
        positional = [*params.posonly_params, *params.params]
        if is_method and positional and not any(
                isinstance(decorator.decorator, cst.Name)
                and decorator.decorator.value == "staticmethod" for decorator in node.decorators):
            positional = positional[1:]
        slots = self._hints.parameters.get(key, {}) if key is not None else {}
        if key is not None and self._project is not None:
            name, _, method = key.partition(".")
            if method in ("", "__init__"):
                if self._own_module is None:
                    # Here, not at the top: project -> model -> binding would import in a cycle.
                    from dllint.semantic.project import receiver_key
                    self._own_module = receiver_key(self._path)
                incoming = self._project.incoming_arguments(self._own_module, name)
                if incoming:
                    slots = {slot: slots.get(slot, EMPTY) | incoming.get(slot, EMPTY)
                             for slot in dict.fromkeys([*slots, *incoming])}
        frame: dict[str, Value] = {}
        # Every parameter is bound, known or not: it hides the enclosing function's name.
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                frame[star.name.value] = EMPTY
        handed = self._handed_slot(key)
        for index, param in enumerate([*positional, *params.kwonly_params]):
            value = slots.get(param.name.value, EMPTY)
            if index < len(positional):
                value = value | slots.get(index, EMPTY)
            if handed is not None:
                position = index if index < len(positional) else -1
                value = value | {Tag(ARGUMENT, param, param.name.value, f"{handed}:{position}")}
            frame[param.name.value] = value | defaults.get(param.name.value, EMPTY)
        return frame

    def parameter_constants(self, node: cst.FunctionDef, key: str | None
                            ) -> dict[str, tuple[object, ...]]:
        """The parameters of a top-level function that every call of the file gives a
        literal constant (itself, or the default it leaves in place), with those constants:
        an `if` on them is decided (`if as_uint8:` where no call passes `as_uint8`).

        Conservative: none when the function has no call in the file, is named other than by
        a call (handed on, decorated), or is called from other files (what those pass is
        not known here); a parameter any call gives something else (a variable, `*args`) is
        left out. Callers in other files are not seen while the project is summarised (phase
        one): there the file's own calls decide."""
        calls = self._hints.constants.get(key or "")
        tested = self._hints.decidable(key or "")
        if not tested or not calls or key in self._hints.escaping:
            return {}
        if self._project is not None:
            if self._own_module is None:
                from dllint.semantic.project import receiver_key
                self._own_module = receiver_key(self._path)
            if self._project.incoming_arguments(self._own_module, key):
                return {}
        return _constant_parameters(node, tested, calls)

    def _handed_slot(self, key: str | None) -> str | None:
        """"init" or "forward" when summarising the constructor or forward of a class of this
        file: what callers in other files hand it is not known here, so each parameter stands
        for it (ARGUMENT), for the callers' files to fill in."""
        if not self._summarising or key is None or "." not in key:
            return None
        name, method = key.split(".", 1)
        if method == "__init__":
            return "init"
        state = self._host.innermost_class()
        forward = state.forward_name if state is not None else "forward"
        return "forward" if method == forward and name in self._top_classes else None


# What a rule can act on at the other end of a call. A module counts when its output carries a
# tag or its mode matters, as does a plain-class instance; an untagged layer does not.
_PASSED_KINDS = frozenset({PROBABILITIES, LOG_PROBABILITIES, UNIT_SCALED, UNIT_RANGE, UINT8,
                           FLOAT64, LISTING, COLUMN, RANK1, SQUEEZED, LOSS, TRANSFORM, OPTIMIZER,
                           SCHEDULER, DATAFRAME, PIL_IMAGE, REFERENCE, RECORDS, SINGLE_CHANNEL,
                           AXIS_DROPPED, ELEMENTS})


def _constant_parameters(function: cst.FunctionDef, tested: frozenset[str],
                         calls: list[CallConstants]) -> dict[str, tuple[object, ...]]:
    """The `tested` parameters of `function` that each of `calls` gives a literal constant
    (passed, or its default left in place), with those constants."""
    params = function.params
    positional = [*params.posonly_params, *params.params]
    found: dict[str, tuple[object, ...]] = {}
    for index, param in enumerate([*positional, *params.kwonly_params]):
        name = param.name.value
        if name not in tested:
            continue
        values: list[object] = []
        for call in calls:
            keywords = dict(call.keywords)
            if call.unpacked:
                value: object = UNKNOWN
            elif name in keywords:
                value = keywords[name]
            elif index < len(positional) and index < len(call.positional):
                value = call.positional[index]
            elif param.default is not None:
                value = constant(param.default)
            else:
                value = UNKNOWN
            if value is UNKNOWN:
                break
            values.append(value)
        else:
            found[name] = tuple(values)
    return found


def _call_constants(node: cst.Call) -> CallConstants:
    positional: list[object] = []
    keywords: list[tuple[str, object]] = []
    unpacked = False
    for arg in node.args:
        if arg.star:
            unpacked = True
        elif arg.keyword is not None:
            keywords.append((arg.keyword.value, constant(arg.value)))
        else:
            positional.append(constant(arg.value))
    return CallConstants(tuple(positional), tuple(keywords), unpacked)


def _worth_passing(value: Value) -> Value:
    kept = set()
    for tag in value:
        if tag.kind in _PASSED_KINDS:
            kept.add(tag)
        elif tag.kind == MODULE and (tag.info.output or tag.info.mode_dependent is not False):
            kept.add(tag)
        elif tag.kind == INSTANCE:
            # A plain-class instance: what it is (a scheduler of the project, a trainer whose
            # methods train) is known at the other end too.
            kept.add(tag)
        elif tag.kind == TUPLE and any(_worth_passing(part) for part in tag.info):
            kept.add(tag)
    return frozenset(kept) if len(kept) != len(value) else value
