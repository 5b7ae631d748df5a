"""Scopes and summaries: what a class or a function of the file amounts to once its body is seen.

A class summary (`ModuleInfo`) says whether it is an nn.Module, what its `forward` returns, and
whether its train and eval modes differ; its attributes come from every method (constructor
parameters, setters, `add_module`). A function summary is what it returns. Base classes from
other files of the run come from the project index.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.syntax import mode_switch
from dllint.semantic.values import FUNCTION
from dllint.semantic.values import (
    EMPTY, MODULE, UNIT_RANGE, UNIT_SCALED, Members, ModuleInfo, Tag, Value, has, without)


@dataclass
class ClassState:
    name: str
    node: cst.ClassDef
    bases: list[str]
    attributes: dict[str, Value] = field(default_factory=dict)
    forward_output: Value = EMPTY
    has_forward: bool = False
    # What each method seen so far returns (`self.build()`, `trainer.step()`).
    method_returns: dict[str, Value] = field(default_factory=dict)
    mode_evidence: list[str] = field(default_factory=list)
    # Flax modules run `__call__`, not `forward`.
    framework: str = ""
    forward_name: str = "forward"


@dataclass
class FunctionState:
    name: str
    node: cst.FunctionDef
    class_state: ClassState | None
    returns: list[Value] = field(default_factory=list)
    no_grad: bool = False
    # `return image` of one of its own parameters, with the value it returned.
    returned_parameters: list[tuple[cst.Return, Value]] = field(default_factory=list)
    # How many `if` blocks were open where the function starts: those inside are its own.
    branch_depth: int = 0
    # Returns under `if flag:` (True) or its `else:` (False), `flag` a parameter.
    flag_returns: list[tuple[str, bool, Value]] = field(default_factory=list)
    unguarded_returns: Value = frozenset()  # what the other returns give


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
        for base in bases:
            if base in catalog.FRAMEWORK_MODULE_BASES:
                state.framework, state.forward_name = catalog.FRAMEWORK_MODULE_BASES[base]
            elif self.local_classes.get(base) is not None and self.local_classes[base].framework:
                state.framework = self.local_classes[base].framework
                state.forward_name = next(
                    method for framework, method in catalog.FRAMEWORK_MODULE_BASES.values()
                    if framework == state.framework)
        if not self.classes and not self.functions:
            state.attributes.update(self.hints.attributes.get(state.name, {}))
        self.classes.append(state)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        state = self.classes.pop()
        info = self._summarise_class(state)
        members = self._members(state)
        self.local_members[state.name] = members
        self.local_classes[state.name] = info if info is None or members is None \
            else replace(info, members=members)
        if not self.classes and not self.functions:
            self.module_frame.pop(state.name, None)
            self.learned.attributes[state.name] = dict(state.attributes)
            self.learned.forwards[state.name] = state.forward_output
            self.learned.methods[state.name] = dict(state.method_returns)
            if any(state.attributes.get(key) for owner, key in self._attribute_misses
                   if owner == state.name) or (
                    state.name in self._forward_misses and state.forward_output) or any(
                    state.method_returns.get(method) for owner, method in self._method_misses
                    if owner == state.name):
                self.needs_hints = True

    def _members(self, state: ClassState) -> Members | None:
        """What the class's instances hold, for reads outside the class; a base class of this
        file fills in what the class does not set or define itself."""
        attributes = {name: value for name, value in state.attributes.items() if value}
        methods = {name: value for name, value in state.method_returns.items() if value}
        for base in state.bases:
            inherited = self.local_members.get(base)
            if inherited is not None:
                for name, value in inherited.attributes:
                    attributes.setdefault(name, value)
                for name, value in inherited.methods:
                    methods.setdefault(name, value)
        if not attributes and not methods:
            return None
        return Members(tuple(sorted(attributes.items())), tuple(sorted(methods.items())))

    def _own_method(self, method: str) -> Value | None:
        """`self.build()` inside a class: what the class's method returns (the last walk's
        value when the method comes later in the class); None when the class defines no such
        method (`self.parameters()`)."""
        state = self.classes[-1]
        if method in state.method_returns:
            return state.method_returns[method]
        if method not in self.top_classes.get(state.name, ()):
            return None
        self._method_misses.add((state.name, method))
        return self.hints.methods.get(state.name, {}).get(method, EMPTY)

    def _summarise_class(self, state: ClassState) -> ModuleInfo | None:
        inherited: list[ModuleInfo] = []
        is_module = state.has_forward
        unknown_base = False
        lightning = False
        layer_evidence = ""
        # A loss (`class DiceLoss(_Loss)`) is a module whose modes do not differ, unless its
        # own attributes say otherwise (a perceptual loss holding a network).
        is_loss = state.name.endswith(("Loss", "Criterion")) or any(
            base in catalog.LOSS_BASES for base in state.bases)
        for base in state.bases:
            if base in catalog.NN_MODULE_BASES or base in catalog.LOSS_BASES or \
                    base in catalog.FRAMEWORK_MODULE_BASES:
                is_module = True
            elif base in catalog.LIGHTNING_BASES:
                is_module = lightning = True
            elif (layer := catalog.layer_base_modes(base)) is not None:
                is_module = True  # `class LayerNorm(nn.LayerNorm)`: the layer's own modes
                modes, layer_evidence = layer
                unknown_base = unknown_base or modes is None
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
        evidence = [*state.mode_evidence, *([layer_evidence] if layer_evidence else [])]
        # Dropout and batch norm of children built in eval mode (`self.desc = HardNet()`, whose
        # constructor calls `self.eval()`): off until someone calls `train()`.
        dormant: list[str] = []
        unknown = unknown_base
        for value in state.attributes.values():
            for tag in value:
                if tag.kind == MODULE:
                    if tag.info.mode_dependent:
                        (dormant if tag.info.in_eval else evidence).append(tag.info.evidence)
                    elif tag.info.mode_dependent is None:
                        unknown = True
        for parent in inherited:
            lightning = lightning or parent.lightning
            if parent.mode_dependent:
                (dormant if parent.in_eval else evidence).append(parent.evidence)
            elif parent.mode_dependent is None:
                unknown = True
            if not state.has_forward:
                state.forward_output = state.forward_output | parent.output
        # `self.eval()` in the constructor switches every child, even those not visible here.
        in_eval = _constructor_sets_eval(state.node) or bool(dormant and not evidence
                                                               and not unknown)
        # Children in eval mode beside parts not visible: whether the instance runs any dropout
        # before someone calls `train()` is not known (a wrapper over `from_pretrained` models).
        dormant_only = dormant and not evidence and unknown
        evidence += dormant
        mode_dependent = None if dormant_only else (
            True if evidence else (None if unknown else False))
        # A Keras model's dropout and batch norm: its layer attributes' or its base class's.
        training = next((tag.info.training_layer for value in state.attributes.values()
                         for tag in value if tag.kind == MODULE and tag.info.training_layer),
                        "") or next((parent.training_layer for parent in inherited
                                     if parent.training_layer), "")
        return ModuleInfo(state.name, state.forward_output, mode_dependent,
                          evidence[0] if evidence else "", lightning, in_eval=in_eval,
                          framework=state.framework, training_layer=training)

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
        self.functions.append(FunctionState(node.name.value, node, class_state, no_grad=no_grad,
                                            branch_depth=len(self.branches)))
        self.frames.append({})
        self._seed_parameters(node, key, class_state is not None, defaults)
        self.event_stack.append([])
        if class_state is not None and node.name.value == class_state.forward_name:
            class_state.has_forward = True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        state = self.functions.pop()
        self.frames.pop()
        events = self.event_stack.pop()
        if state.class_state is None:
            self.function_events.setdefault(state.name, events)
        elif len(self.classes) == 1 and not self.functions:  # a method: `Trainer.step`
            self.function_events.setdefault(f"{state.class_state.name}.{state.name}", events)
        returned = frozenset().union(*state.returns) if state.returns else EMPTY
        if has(returned, UNIT_SCALED) and _returns_input_unscaled(state):
            returned = without(returned, (UNIT_SCALED, UNIT_RANGE))
        if state.class_state is not None:
            state.class_state.method_returns[state.name] = returned
            if state.name == state.class_state.forward_name:
                state.class_state.forward_output = returned
        elif not self.functions and not self.classes:
            self.local_functions[state.name] = returned
            self.learned.functions[state.name] = returned
            if returned and state.name in self._function_misses:
                self.needs_hints = True  # a call above the def did not know this
            if state.flag_returns:
                self.flag_returns[state.name] = (state.node, state.unguarded_returns,
                                                 tuple(state.flag_returns))
            position = _returned_position(state)
            if position is not None:
                self.module_passthroughs[state.name] = position
            self.module_frame.pop(state.name, None)
        elif self.functions:
            # A function defined inside another one (a closure) is a name of the enclosing
            # function: calling it there returns what its body returns.
            self.frames[-1][state.name] = frozenset(
                {Tag(FUNCTION, state.node, state.name, returned)}) if returned else EMPTY

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None and self.functions:
            state = self.functions[-1]
            value = self.value(node.value)
            state.returns.append(value)
            guard = self._flag_guard(state)
            if guard is not None:
                state.flag_returns.append((*guard, value))
            else:
                state.unguarded_returns = state.unguarded_returns | value
            if isinstance(node.value, cst.Name) and \
                    node.value.value in _parameter_names(state.node):
                state.returned_parameters.append((node, value))

    def _flag_guard(self, state: FunctionState) -> tuple[str, bool] | None:
        """(parameter, value it needs) when the innermost `if` around this point, inside the
        function, tests a parameter alone: `if activation:` (True in the body, False in the
        `else:`), `if not activation:` (the reverse)."""
        if len(self.branches) <= state.branch_depth:
            return None
        branch = self.branches[-1]
        test, wanted = branch.node.test, not branch.in_else
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, wanted = test.expression, not wanted
        if isinstance(test, cst.Name) and test.value in _parameter_names(state.node):
            return test.value, wanted
        return None

    def _own_forward(self) -> Value:
        """`self(x)` inside a module is its own forward: what this walk or the last one saw."""
        state = self.classes[-1]
        if not state.has_forward:
            self._forward_misses.add(state.name)
        return state.forward_output or self.hints.forwards.get(state.name, EMPTY)

    def _instance(self, info: ModuleInfo | None, node: cst.Call) -> Value:
        if info is None:
            return EMPTY
        output = self.hand_in(info.output, node, "init")  # Wrapper(backbone)
        if output is not info.output:
            info = replace(info, output=output)
        return frozenset({Tag(MODULE, node, info.name, info)})


def _returned_position(state: FunctionState) -> int | None:
    """The position of the parameter every `return` of the function hands back unchanged
    (`def layer_init(layer, std=1.0): ...; return layer`), or None."""
    returned = {node.value.value for node, _ in state.returned_parameters
                if isinstance(node.value, cst.Name)}
    if len(returned) != 1 or len(state.returned_parameters) != len(state.returns):
        return None
    params = state.node.params
    names = [param.name.value for param in (*params.posonly_params, *params.params)]
    name = returned.pop()
    return names.index(name) if name in names else None


def _parameter_names(function: cst.FunctionDef) -> set[str]:
    params = function.params
    names = {param.name.value for param in (*params.posonly_params, *params.params,
                                             *params.kwonly_params)}
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.add(star.name.value)
    return names


class _ConditionalReturns(cst.CSTVisitor):
    """The `return` statements of one function that run only under an `if` or a `match` case."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.found: set[int] = set()

    def visit_If(self, node: cst.If) -> None:
        self.depth += 1

    def leave_If(self, original_node: cst.If) -> None:
        self.depth -= 1

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self.depth += 1

    def leave_MatchCase(self, original_node: cst.MatchCase) -> None:
        self.depth -= 1

    def visit_Return(self, node: cst.Return) -> None:
        if self.depth:
            self.found.add(id(node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's returns are its own

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _returns_input_unscaled(state: FunctionState) -> bool:
    """Whether the function hands back its input unchanged on some calls (`if desired_type ==
    UNCHANGED: return image`): its scaling then depends on the arguments, so what it returns is
    not known to be scaled."""
    unscaled = [node for node, value in state.returned_parameters if not has(value, UNIT_SCALED)]
    if not unscaled:
        return False
    conditional = _ConditionalReturns()
    state.node.body.visit(conditional)
    return any(id(node) in conditional.found for node in unscaled)


def _constructor_sets_eval(node: cst.ClassDef) -> bool:
    """Whether `__init__` itself (not under an `if`) calls `self.eval()` or `self.train(False)`:
    every instance starts in eval mode."""
    for member in node.body.body:
        if not (isinstance(member, cst.FunctionDef) and member.name.value == "__init__"):
            continue
        for statement in member.body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                call = small.value if isinstance(small, cst.Expr) else None
                if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
                        isinstance(call.func.value, cst.Name) and \
                        call.func.value.value == "self" and mode_switch(call) == "eval":
                    return True
    return False
