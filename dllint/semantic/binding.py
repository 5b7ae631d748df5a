"""Call binding: the values a call site passes become the callee's parameters on the next walk.

Binding is context-insensitive: a parameter holds the union of what every call site passes.
Calls within the file are keyed `fit`, `Trainer.__init__`, `Net.forward`; calls into other
files of the run are recorded by qualified name in the caller's summary, and the project index
hands them to the callee's file (`ProjectIndex.incoming_arguments`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.values import (
    COLUMN, DATAFRAME, ELEMENTS, EMPTY, FLOAT64, INSTANCE, LISTING, LOG_PROBABILITIES, LOSS, MODULE,
    OPTIMIZER, PIL_IMAGE, PROBABILITIES, RANK1, REFERENCE, SCHEDULER, SQUEEZED, TRANSFORM, TUPLE,
    UINT8, UNIT_RANGE, UNIT_SCALED, Value)
from dllint.semantic.values import ARGUMENT, RECORDS, Tag
from dllint.semantic.values import AXIS_DROPPED, SINGLE_CHANNEL


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
                             if value)))


class CallBinding:
    """The part of the semantic model that records call sites and seeds parameters."""

    def callee_key(self, node: cst.Call) -> str | None:
        """The function of this file a call runs: `fit`, `Trainer.__init__`, `Net.forward`."""
        func = node.func
        if isinstance(func, cst.Name):
            name = func.value
            if name == "self" and self.classes:
                return f"{self.classes[-1].name}.forward"
            if name in self.frames[-1] and len(self.frames) > 1:
                value = self.frames[-1][name]
                return self._instance_key(value, "forward") or \
                    self._instance_key(value, "__call__")
            if name in self.top_functions:
                return name
            if name in self.top_classes:
                return f"{name}.__init__"
            value = self.lookup(name)
            # A module called runs its forward; an instance of a plain class, its __call__.
            return self._instance_key(value, "forward") or self._instance_key(value, "__call__")
        if isinstance(func, cst.Attribute):
            method = "forward" if func.attr.value == "__call__" else func.attr.value
            receiver = func.value
            if isinstance(receiver, cst.Name) and receiver.value == "self" and self.classes:
                if method in self.top_classes.get(self.classes[-1].name, ()):
                    return f"{self.classes[-1].name}.{method}"
                return None
            key = self._instance_key(self.value(func), "forward")
            return key or self._instance_key(self.value(receiver), method)
        return self._instance_key(self.value(func), "forward")  # EdgeLoss()(prediction, y)

    def _instance_key(self, value: Value, method: str) -> str | None:
        for tag in value:
            name = tag.info.name if tag.kind == MODULE else tag.detail if tag.kind == INSTANCE \
                else None
            if name in self.top_classes and method in self.top_classes[name]:
                return f"{name}.{method}"
        return None

    def _record_call_site(self, node: cst.Call) -> None:
        key, table = self.callee_key(node), self.learned.parameters
        if key is not None:
            self.call_sites.setdefault(key, []).append(node)
        if not node.args:
            return
        if key is None and self.summarising:
            key, table = self._project_callee(node), self.learned.external
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
            value = _worth_passing(self.value(arg.value))
            if value:
                slots = table.setdefault(key, {})
                slots[slot] = slots.get(slot, EMPTY) | value
                self.needs_hints = True

    def _project_callee(self, node: cst.Call) -> str | None:
        """`fit` imported from another module of the project (not a library): its qualified
        name, recorded in this file's summary so the other file binds its parameters."""
        qualified = self.qualified(node.func)
        if qualified is None or qualified.startswith("builtins.") or \
                qualified.split(".", 1)[0] in catalog.LIBRARY_ROOTS:
            return None
        return qualified

    def _seed_parameters(self, node: cst.FunctionDef, key: str | None, is_method: bool,
                         defaults: dict[str, Value]) -> None:
        """Bind each parameter to what its call sites pass and to its default value."""
        params = node.params
        positional = [*params.posonly_params, *params.params]
        if is_method and positional and not any(
                isinstance(decorator.decorator, cst.Name)
                and decorator.decorator.value == "staticmethod" for decorator in node.decorators):
            positional = positional[1:]
        slots = self.hints.parameters.get(key, {}) if key is not None else {}
        if key is not None and self.project is not None:
            name, _, method = key.partition(".")
            if method in ("", "__init__"):
                if self._own_module is None:
                    # Here, not at the top: project -> model -> binding would import in a cycle.
                    from dllint.semantic.project import module_name
                    self._own_module = module_name(self.context.path)
                incoming = self.project.incoming_arguments(self._own_module, name)
                if incoming:
                    slots = {slot: slots.get(slot, EMPTY) | incoming.get(slot, EMPTY)
                             for slot in {*slots, *incoming}}
        frame = self.frames[-1]
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

    def _handed_slot(self, key: str | None) -> str | None:
        """"init" or "forward" when summarising the constructor or forward of a class of this
        file: what callers in other files hand it is not known here, so each parameter stands
        for it (ARGUMENT), for the callers' files to fill in."""
        if not self.summarising or key is None or "." not in key:
            return None
        name, method = key.split(".", 1)
        if method == "__init__":
            return "init"
        forward = self.classes[-1].forward_name if self.classes else "forward"
        return "forward" if method == forward and name in self.top_classes else None


# What a rule can act on at the other end of a call. A module counts when its output carries a
# tag or its mode matters; a plain-class instance or an untagged layer does not.
_PASSED_KINDS = frozenset({PROBABILITIES, LOG_PROBABILITIES, UNIT_SCALED, UNIT_RANGE, UINT8,
                           FLOAT64, LISTING, COLUMN, RANK1, SQUEEZED, LOSS, TRANSFORM, OPTIMIZER,
                           SCHEDULER, DATAFRAME, PIL_IMAGE, REFERENCE, RECORDS, SINGLE_CHANNEL,
                           AXIS_DROPPED, ELEMENTS})


def _worth_passing(value: Value) -> Value:
    kept = set()
    for tag in value:
        if tag.kind in _PASSED_KINDS:
            kept.add(tag)
        elif tag.kind == MODULE and (tag.info.output or tag.info.mode_dependent is not False):
            kept.add(tag)
        elif tag.kind == TUPLE and any(_worth_passing(part) for part in tag.info):
            kept.add(tag)
    return frozenset(kept) if len(kept) != len(value) else value
