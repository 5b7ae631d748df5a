"""Scopes and summaries: what a class or a function of the file amounts to once its body is seen.

A class summary (`ModuleInfo`) says whether it is an nn.Module, what its `forward` returns, and
whether its train and eval modes differ; its attributes come from every method (constructor
parameters, setters, `add_module`). A function summary is what it returns. Base classes from
other files of the run come from the project index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.values import EMPTY, MODULE, ModuleInfo, Tag, Value


@dataclass
class ClassState:
    name: str
    node: cst.ClassDef
    bases: list[str]
    attributes: dict[str, Value] = field(default_factory=dict)
    forward_output: Value = EMPTY
    has_forward: bool = False
    mode_evidence: list[str] = field(default_factory=list)


@dataclass
class FunctionState:
    name: str
    node: cst.FunctionDef
    class_state: ClassState | None
    returns: list[Value] = field(default_factory=list)
    no_grad: bool = False


class ScopeSummaries:
    """The part of the semantic model that opens and closes classes and functions."""

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        bases = []
        for base in node.bases:
            qualified = self.qualified(base.value)
            if qualified is None and isinstance(base.value, cst.Name):
                qualified = base.value.value
            bases.append(qualified or "")
        state = ClassState(node.name.value, node, bases)
        if not self.classes and not self.functions:
            state.attributes.update(self.hints.attributes.get(state.name, {}))
        self.classes.append(state)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        state = self.classes.pop()
        self.local_classes[state.name] = self._summarise_class(state)
        if not self.classes and not self.functions:
            self.module_frame.pop(state.name, None)
            self.learned.attributes[state.name] = dict(state.attributes)
            self.learned.forwards[state.name] = state.forward_output
            if any(state.attributes.get(key) for owner, key in self._attribute_misses
                   if owner == state.name) or (
                    state.name in self._forward_misses and state.forward_output):
                self.needs_hints = True

    def _summarise_class(self, state: ClassState) -> ModuleInfo | None:
        inherited: list[ModuleInfo] = []
        is_module = state.has_forward
        unknown_base = False
        lightning = False
        # A loss (`class DiceLoss(_Loss)`) is a module whose modes do not differ, unless its
        # own attributes say otherwise (a perceptual loss holding a network).
        is_loss = state.name.endswith(("Loss", "Criterion")) or any(
            base in catalog.LOSS_BASES for base in state.bases)
        for base in state.bases:
            if base in catalog.NN_MODULE_BASES or base in catalog.LOSS_BASES:
                is_module = True
            elif base in catalog.LIGHTNING_BASES:
                is_module = lightning = True
            elif base in self.local_classes and self.local_classes[base] is not None:
                inherited.append(self.local_classes[base])  # type: ignore[arg-type]
                is_module = True
            elif base and base not in ("object", "builtins.object"):
                summary = self.project.lookup_class(base, self.context.path) if self.project else None
                if summary is not None:
                    inherited.append(summary)
                    is_module = True
                elif not is_loss:
                    unknown_base = True
        if not is_module:
            return None
        evidence = list(state.mode_evidence)
        unknown = unknown_base
        for value in state.attributes.values():
            for tag in value:
                if tag.kind == MODULE:
                    if tag.info.mode_dependent:
                        evidence.append(tag.info.evidence)
                    elif tag.info.mode_dependent is None:
                        unknown = True
        for parent in inherited:
            lightning = lightning or parent.lightning
            if parent.mode_dependent:
                evidence.append(parent.evidence)
            elif parent.mode_dependent is None:
                unknown = True
            if not state.has_forward:
                state.forward_output = state.forward_output | parent.output
        mode_dependent = True if evidence else (None if unknown else False)
        return ModuleInfo(state.name, state.forward_output, mode_dependent,
                          evidence[0] if evidence else "", lightning)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        class_state = self.classes[-1] if self.classes and (
            not self.functions or self.functions[-1].class_state is not self.classes[-1]) else None
        no_grad = any(self._is_no_grad(decorator.decorator) for decorator in node.decorators)
        # Defaults are evaluated where the function is defined, before its frame exists.
        defaults = {
            param.name.value: self.value(param.default)
            for param in (*node.params.posonly_params, *node.params.params,
                          *node.params.kwonly_params) if param.default is not None}
        if class_state is not None and len(self.classes) == 1 and not self.functions:
            key: str | None = f"{class_state.name}.{node.name.value}"
        elif class_state is None and not self.functions and not self.classes:
            key = node.name.value
        else:
            key = None
        self.functions.append(FunctionState(node.name.value, node, class_state, no_grad=no_grad))
        self.frames.append({})
        self._seed_parameters(node, key, class_state is not None, defaults)
        self.event_stack.append([])
        if class_state is not None and node.name.value == "forward":
            class_state.has_forward = True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        state = self.functions.pop()
        self.frames.pop()
        events = self.event_stack.pop()
        if state.class_state is None:
            self.function_events.setdefault(state.name, events)
        returned = frozenset().union(*state.returns) if state.returns else EMPTY
        if state.class_state is not None:
            if state.name == "forward":
                state.class_state.forward_output = returned
        elif not self.functions and not self.classes:
            self.local_functions[state.name] = returned
            self.module_frame.pop(state.name, None)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None and self.functions:
            self.functions[-1].returns.append(self.value(node.value))

    def _own_forward(self) -> Value:
        """`self(x)` inside a module is its own forward: what this walk or the last one saw."""
        state = self.classes[-1]
        if not state.has_forward:
            self._forward_misses.add(state.name)
        return state.forward_output or self.hints.forwards.get(state.name, EMPTY)

    def _instance(self, info: ModuleInfo | None, node: cst.Call) -> Value:
        return EMPTY if info is None else frozenset({Tag(MODULE, node, info.name, info)})
