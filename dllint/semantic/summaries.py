"""Scopes and summaries: what a class or a function of the file amounts to once its body is seen.

A class summary (`ModuleInfo`) says whether it is an nn.Module, what its `forward` returns, and
whether its train and eval modes differ; its attributes come from every method (constructor
parameters, setters, `add_module`). A function summary is what it returns. Base classes from
other files of the run come from the project index.

A component of the semantic model with state of its own (`ScopeSummaries`): the model creates
it and tells it where classes, functions and returns are; it asks the model only what
`ScopeHost` declares. Rules read its answers through `Facts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping, Protocol

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import dotted_name
from dllint.semantic.syntax import mode_switch, number
from dllint.semantic.values import FUNCTION, tags
from dllint.semantic.values import (
    EMPTY, MODULE, UNIT_RANGE, UNIT_SCALED, Members, ModuleInfo, Tag, Value, has, without)

if TYPE_CHECKING:
    from dllint.semantic.binding import FlowHints
    from dllint.semantic.project import ProjectIndex


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


class ScopeHost(Protocol):
    """What the scope component asks the semantic model, at the point the walk is at."""

    def qualified(self, node: cst.BaseExpression) -> str | None:
        """The import path an expression names."""

    def value(self, node: cst.BaseExpression) -> Value:
        """The tags of an expression."""

    def is_no_grad_context(self, node: cst.BaseExpression) -> bool:
        """Whether a decorator turns gradients off (`@torch.no_grad()`)."""

    def open_branches(self) -> tuple[tuple[cst.If, bool], ...]:
        """The `if` statements the walk is in, outermost first, each with whether the walk is
        in its else branch."""

    def define_name(self, name: str, value: Value) -> None:
        """Bind `name` in the innermost scope (a nested function, once its body is seen)."""

    def forget_module_name(self, name: str) -> None:
        """A top-level function or class is defined: the module's binding of its name, if any,
        no longer holds (the name now means the definition)."""


@dataclass(frozen=True)
class FunctionEntry:
    """A function the walk enters: its key for call binding (`fit`, `Trainer.step`, None when
    nested), whether it is a method, and its parameters' default values."""

    key: str | None
    is_method: bool
    defaults: dict[str, Value]


class ScopeSummaries:
    """The component of the semantic model that opens and closes classes and functions and
    sums them up: the open scopes (`classes`, `functions`, innermost last) and what each
    closed one amounts to (`local_classes`, `local_members`, `local_functions`,
    `module_passthroughs`, `flag_returns`).

    The model calls `enter_class`/`leave_class`, `enter_function`/`leave_function` and
    `record_return` as the walk goes; the value computation asks `own_forward`, `own_method`
    and tells `note_attribute_miss`. `hints` is what the previous walk learnt; what this walk
    learns about classes goes into `learned` (its `attributes`, `forwards`, `methods`), and
    `needs_hints` says whether it could help an earlier point of the next walk."""

    def __init__(self, host: ScopeHost, project: ProjectIndex | None, path: str,
                 top_classes: Mapping[str, set[str]], hints: FlowHints,
                 learned: FlowHints) -> None:
        self._host = host
        self._project = project
        self._path = path
        self._top_classes = top_classes
        self._hints = hints
        self._learned = learned
        self.classes: list[ClassState] = []
        self.functions: list[FunctionState] = []
        self.local_classes: dict[str, ModuleInfo | None] = {}
        self.local_members: dict[str, Members | None] = {}
        # The file's classes derived from a library learning-rate scheduler (directly, or
        # through a class of this file or of another): their instances are schedulers.
        self.scheduler_classes: set[str] = set()
        # A class's bases named from another file of the project, which may be schedulers there.
        self.project_bases: dict[str, list[str]] = {}
        self.local_functions: dict[str, Value] = {}
        # Functions of the file that hand back a module they are given, by the position of
        # that parameter (`layer_init(nn.Linear(4, 64))` returns the Linear, initialised).
        self.module_passthroughs: dict[str, int] = {}
        # Functions of the file with returns under `if flag:` / `else:` of a parameter: what
        # each such return gives, with the parameter and the flag value it needs, and the
        # function, so that a call passing `flag=False` gets only the other returns.
        self.flag_returns: dict[str, tuple[cst.FunctionDef, Value,
                                           tuple[tuple[str, bool, Value], ...]]] = {}
        # Set when a method read `self.x` (or called `self(x)`, `self.build()`) before the
        # method that assigns it (or `forward`, `build`) was seen, and a later one did.
        self.needs_hints = False
        self._attribute_misses: set[tuple[str, str]] = set()
        self._forward_misses: set[str] = set()
        self._method_misses: set[tuple[str, str]] = set()
        # functions of the module called (from a function body) before their `def` was seen
        self._function_misses: set[str] = set()

    @property
    def current_function(self) -> FunctionState | None:
        return self.functions[-1] if self.functions else None

    def note_attribute_miss(self, key: str) -> None:
        """`self.key` was read in the outermost open class before anything assigned it."""
        self._attribute_misses.add((self.classes[0].name, key))

    def add_mode_evidence(self, evidence: str) -> None:
        """Something in the innermost class makes its train and eval modes differ."""
        self.classes[-1].mode_evidence.append(evidence)

    def enter_class(self, node: cst.ClassDef) -> None:
        bases = []
        for base in node.bases:
            qualified = self._host.qualified(base.value)
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
            state.attributes.update(self._hints.attributes.get(state.name, {}))
        self.classes.append(state)

    def leave_class(self) -> None:
        state = self.classes.pop()
        info = self._summarise_class(state)
        members = self._members(state)
        self.local_members[state.name] = members
        if any(catalog.is_scheduler_base(base) or base in self.scheduler_classes or (
                self._project is not None and self._project.is_scheduler_class(base, self._path))
               for base in state.bases if base):
            self.scheduler_classes.add(state.name)
        else:
            imported = [base for base in state.bases if base and "." in base
                        and base.split(".", 1)[0] not in catalog.LIBRARY_ROOTS
                        and not base.startswith("builtins.")]
            if imported:
                self.project_bases[state.name] = imported
        self.local_classes[state.name] = info if info is None or members is None \
            else replace(info, members=members)
        if not self.classes and not self.functions:
            self._host.forget_module_name(state.name)
            self._learned.attributes[state.name] = dict(state.attributes)
            self._learned.forwards[state.name] = state.forward_output
            self._learned.methods[state.name] = dict(state.method_returns)
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

    def own_method(self, method: str) -> Value | None:
        """`self.build()` inside a class: what the class's method returns (the last walk's
        value when the method comes later in the class); None when the class defines no such
        method (`self.parameters()`)."""
        state = self.classes[-1]
        if method in state.method_returns:
            return state.method_returns[method]
        if method not in self._top_classes.get(state.name, ()):
            return None
        self._method_misses.add((state.name, method))
        return self._hints.methods.get(state.name, {}).get(method, EMPTY)

    def later_function(self, name: str) -> Value:
        """A function of the module called from a function body above its `def`: what it
        returned on the last walk (the next walk is asked for when it returns something)."""
        self._function_misses.add(name)
        return self._hints.functions.get(name, EMPTY)

    def _plain_project_class(self, base: str) -> bool:
        """A base class of another project file that is a plain class with a `forward`."""
        if self._project is None or base in self.local_classes:
            return False
        summary = self._project.lookup_class(base, self._path)
        return summary is not None and summary.plain

    def _summarise_class(self, state: ClassState) -> ModuleInfo | None:
        inherited: list[ModuleInfo] = []
        is_module = state.has_forward
        # No base but `object` (or other plain classes): no nn.Module behind the forward.
        plain = state.has_forward
        unknown_base = False
        lightning = False
        layer_evidence = ""
        # A loss (`class DiceLoss(_Loss)`) is a module whose modes do not differ, unless its
        # own attributes say otherwise (a perceptual loss holding a network).
        is_loss = state.name.endswith(("Loss", "Criterion")) or any(
            base in catalog.LOSS_BASES for base in state.bases)
        for base in state.bases:
            if base in catalog.PLAIN_BASES:
                continue
            plain = plain and (base in self.local_classes and self.local_classes[base] is not None
                               and self.local_classes[base].plain  # type: ignore[union-attr]
                               or self._plain_project_class(base))
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
                summary = self._project.lookup_class(base, self._path) \
                    if self._project else None
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
        # Dropout whose probability is a constructor parameter: decided per instance.
        parameters = _constructor_parameters(state.node)
        decided: list[str] = []
        for value in state.attributes.values():
            # In the same order every run: `evidence[0]` is in the message.
            for tag in tags(value, MODULE):
                if tag.info.mode_dependent and not tag.info.in_eval and \
                        len(tag.info.decided_by) == 1 and \
                        tag.info.decided_by[0] in parameters:
                    decided.append(tag.info.decided_by[0])
                    evidence.append(tag.info.evidence)
                elif tag.info.mode_dependent:
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
                         for tag in tags(value, MODULE) if tag.info.training_layer),
                        "") or next((parent.training_layer for parent in inherited
                                     if parent.training_layer), "")
        # A torch module whose forward converts its input to float first takes uint8 images,
        # and float64 data too: its own forward's, or the inherited forward of a base class (of
        # another file too) when it defines none.
        converts = _forward_converts_input(state.node) if state.has_forward else any(
            parent.input_pixels == "converted" for parent in inherited)
        pixels = "converted" if not state.framework and converts else ""
        # Every mode-dependent layer decided by a constructor parameter (none inherited, no
        # functional dropout, no layer of unknown kind): an instance's construction decides.
        decided_by = tuple(parameters[name] for name in dict.fromkeys(decided)) \
            if decided and len(decided) == len(evidence) and not unknown and not inherited \
            else ()
        # A method of a base class that runs in eval mode does so unless this class defines
        # its own method of that name.
        own_methods = {member.name.value for member in state.node.body.body
                       if isinstance(member, cst.FunctionDef)}
        eval_methods = _methods_run_in_eval(state.node) | frozenset(
            name for parent in inherited for name in parent.eval_methods
            if name not in own_methods)
        return ModuleInfo(state.name, state.forward_output, mode_dependent,
                          evidence[0] if evidence else "", lightning, in_eval=in_eval,
                          framework=state.framework, training_layer=training,
                          input_pixels=pixels, decided_by=decided_by, plain=plain,
                          eval_methods=eval_methods)

    def enter_function(self, node: cst.FunctionDef) -> FunctionEntry:
        """Open a function's scope; the model then opens its frame and binds its parameters
        (`FunctionEntry`)."""
        class_state = self.classes[-1] if self.classes and (
            not self.functions or self.functions[-1].class_state is not self.classes[-1]) else None
        no_grad = any(self._host.is_no_grad_context(decorator.decorator)
                      for decorator in node.decorators)
        # Defaults are evaluated where the function is defined, before its frame exists.
        defaults = {
            param.name.value: self._host.value(param.default)
            for param in (*node.params.posonly_params, *node.params.params,
                          *node.params.kwonly_params) if param.default is not None}
        if class_state is not None and len(self.classes) == 1 and not self.functions:
            key: str | None = f"{class_state.name}.{node.name.value}"
        elif class_state is None and not self.functions and not self.classes:
            key = node.name.value
        else:
            key = None
        self.functions.append(FunctionState(node.name.value, node, class_state, no_grad=no_grad,
                                            branch_depth=len(self._host.open_branches())))
        if class_state is not None and node.name.value == class_state.forward_name:
            class_state.has_forward = True
        return FunctionEntry(key, class_state is not None, defaults)

    def leave_function(self) -> str | None:
        """Close the innermost function (the model has closed its frame) and sum it up.
        Returns the key its training events are kept under (`fit`, `Trainer.step`), None for
        a method of a nested class."""
        state = self.functions.pop()
        if state.class_state is None:
            events_key: str | None = state.name
        elif len(self.classes) == 1 and not self.functions:  # a method: `Trainer.step`
            events_key = f"{state.class_state.name}.{state.name}"
        else:
            events_key = None
        returned = frozenset().union(*state.returns) if state.returns else EMPTY
        if has(returned, UNIT_SCALED) and _returns_input_unscaled(state):
            returned = without(returned, (UNIT_SCALED, UNIT_RANGE))
        if state.class_state is not None:
            state.class_state.method_returns[state.name] = returned
            if state.name == state.class_state.forward_name:
                state.class_state.forward_output = returned
        elif not self.functions and not self.classes:
            self.local_functions[state.name] = returned
            self._learned.functions[state.name] = returned
            if returned and state.name in self._function_misses:
                self.needs_hints = True  # a call above the def did not know this
            if state.flag_returns:
                self.flag_returns[state.name] = (state.node, state.unguarded_returns,
                                                 tuple(state.flag_returns))
            position = _returned_position(state)
            if position is not None:
                self.module_passthroughs[state.name] = position
            self._host.forget_module_name(state.name)
        elif self.functions:
            # A function defined inside another one (a closure) is a name of the enclosing
            # function: calling it there returns what its body returns.
            self._host.define_name(state.name, frozenset(
                {Tag(FUNCTION, state.node, state.name, returned)}) if returned else EMPTY)
        return events_key

    def record_return(self, node: cst.Return) -> None:
        if node.value is not None and self.functions:
            state = self.functions[-1]
            value = self._host.value(node.value)
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
        branches = self._host.open_branches()
        if len(branches) <= state.branch_depth:
            return None
        branch, in_else = branches[-1]
        test, wanted = branch.test, not in_else
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, wanted = test.expression, not wanted
        if isinstance(test, cst.Name) and test.value in _parameter_names(state.node):
            return test.value, wanted
        return None

    def own_forward(self) -> Value:
        """`self(x)` inside a module is its own forward: what this walk or the last one saw."""
        state = self.classes[-1]
        if not state.has_forward:
            self._forward_misses.add(state.name)
        return state.forward_output or self._hints.forwards.get(state.name, EMPTY)


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
    return any(mode == "eval" for mode in _self_switches(node, "__init__"))


def _methods_run_in_eval(node: cst.ClassDef) -> frozenset[str]:
    """The methods of the class whose own body (not under an `if`, a loop or a `try`) first
    switches its instance with `self.eval()` or `self.train(False)`: a call of one runs in eval
    mode whatever mode its caller left the instance in (a `generate` that calls `self.train()`
    again at its end still generates in eval mode)."""
    return frozenset(member.name.value for member in node.body.body
                     if isinstance(member, cst.FunctionDef) and member.name.value != "__init__"
                     and next(iter(_self_switches(node, member.name.value)), None) == "eval")


def _self_switches(node: cst.ClassDef, method: str) -> list[str]:
    """The modes the method's own statements switch its instance to, in order."""
    modes = []
    for member in node.body.body:
        if not (isinstance(member, cst.FunctionDef) and member.name.value == method):
            continue
        for statement in member.body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                call = small.value if isinstance(small, cst.Expr) else None
                if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
                        isinstance(call.func.value, cst.Name) and \
                        call.func.value.value == "self" and (mode := mode_switch(call)):
                    modes.append(mode)
    return modes


_FLOAT_METHODS = frozenset({"float", "half", "bfloat16", "double"})


def _forward_converts_input(node: cst.ClassDef) -> bool:
    """Whether `forward` converts its input to a float dtype in its first statement that reads
    it, before any layer sees it (`x = x.float() / 255.0`, `self.conv(x.float() / 255.0)`,
    `x.to(torch.float32)`, `torch.as_tensor(x, dtype=torch.float32)`, or each column it reads:
    `x[:, numeric].float()`, `x[:, ids].long()` for an embedding): the module takes uint8
    images, and float64 data, by design."""
    for member in node.body.body:
        if not (isinstance(member, cst.FunctionDef) and member.name.value == "forward"):
            continue
        params = [param.name.value for param in member.params.params]
        if len(params) < 2:
            return False
        image = params[1]
        for statement in member.body.body:
            calls = [call for call in _calls_in(statement) if isinstance(call.func, cst.Attribute)
                     and _reads_input(call.func.value, image)]
            reads = any(isinstance(name, cst.Name) and name.value == image
                        for name in _names_in(statement))
            if not reads:
                continue
            return any(_converts_to_float(call) for call in calls) or any(
                _tensor_of_float_dtype(call, image) for call in _calls_in(statement))
    return False


def _reads_input(receiver: cst.BaseExpression, image: str) -> bool:
    """`x`, or a slice of its columns (`x[:, self.numeric_columns]`): what a cast's receiver
    converts of the input."""
    while isinstance(receiver, cst.Subscript):
        receiver = receiver.value
    return isinstance(receiver, cst.Name) and receiver.value == image


def _tensor_of_float_dtype(call: cst.Call, image: str) -> bool:
    """`torch.as_tensor(x, dtype=torch.float32)` / `torch.tensor(x, dtype=...)`: a conversion
    of the input to a float dtype."""
    name = dotted_name(call.func)
    if name is None or name.rsplit(".", 1)[-1] not in ("as_tensor", "tensor") or not call.args:
        return False
    if not _reads_input(call.args[0].value, image):
        return False
    dtype = next((arg.value for arg in call.args[1:] if arg.keyword is not None
                  and arg.keyword.value == "dtype"), None)
    dtype_name = dotted_name(dtype) if dtype is not None else None
    return dtype_name is not None and dtype_name.rsplit(".", 1)[-1] in _FLOAT_DTYPES


def _converts_to_float(call: cst.Call) -> bool:
    method = call.func.attr.value
    # An integer cast (`x[:, ids].long()`) feeds an embedding, which takes ids of any dtype.
    if method in _FLOAT_METHODS or method in ("long", "int"):
        return True
    if method in ("to", "type") and call.args:
        dtype = next((arg.value for arg in call.args if arg.keyword is None
                      or arg.keyword.value == "dtype"), None)
        name = dotted_name(dtype) if dtype is not None else None
        return name is not None and name.rsplit(".", 1)[-1] in _FLOAT_DTYPES
    return False


_FLOAT_DTYPES = frozenset({"float", "float32", "float16", "bfloat16", "half", "float64",
                           "double"})


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _Calls(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

        def visit_FunctionDef(self, inner: cst.FunctionDef) -> bool:
            return False

    node.visit(_Calls())
    return found


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class _Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.append(name)

    node.visit(_Names())
    return found


def _constructor_parameters(node: cst.ClassDef) -> dict[str, tuple[int, str, float | None]]:
    """The parameters of a class's `__init__` (other than `self`), each as (position, or -1 for
    keyword-only; name; its default when a number literal, else None)."""
    for member in node.body.body:
        if isinstance(member, cst.FunctionDef) and member.name.value == "__init__":
            params = member.params
            positional = [*params.posonly_params, *params.params][1:]
            found = {}
            for position, param in [*enumerate(positional),
                                     *((-1, param) for param in params.kwonly_params)]:
                default = number(param.default) if param.default is not None else None
                found[param.name.value] = (position, param.name.value, default)
            return found
    return {}

