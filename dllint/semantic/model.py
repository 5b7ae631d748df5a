"""The per-file semantic model: a flow-sensitive pass that tags values by where they came from.

It runs as the first visitor of the file's single batched traversal, so when a rule's
`visit_Call` asks `model.value(node.args[0].value)`, every statement before that call has been
seen. Bindings are applied on `leave_*`, so the right-hand side of `x = f(x)` sees the old `x`.

What it tracks, per function (falling back to module level): names to values; per class: `self`
attributes, whether it is an nn.Module, whether it has dropout or batch norm, and what `forward`
returns; per function: what it returns. Calls into other files of the same run are resolved
through `ProjectIndex` summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import dotted_name
from dllint.walk import CachedVisitorNames, walk
from dllint.semantic.values import (
    COLUMN, DATAFRAME, DTYPE_TAGS, EMPTY, FLOAT64, INSTANCE, LISTING, LOG_PROBABILITIES, LOSS,
    LOSS_VALUE, MODULE, OPTIMIZER, REFERENCE, SCHEDULER, PIL_IMAGE, TUPLE,
    PROBABILITIES, RANK1, SQUEEZED, TRANSFORM, UINT8, UNIT_SCALED, LossInfo, ModuleInfo, Tag,
    ListingInfo, TransformInfo, Value, first, has, keep, without)

from dllint.semantic.project import module_name

if TYPE_CHECKING:
    from dllint.rule import FileContext
    from dllint.semantic.project import ProjectIndex


MAX_VALUE_DEPTH = 200


def number(node: cst.BaseExpression) -> float | None:
    """The value of a numeric literal (`255`, `255.0`, `-1`), else None."""
    if isinstance(node, cst.Integer):
        return float(int(node.value.replace("_", ""), 0))
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = number(node.expression)
        return None if inner is None else -inner
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        left, right = number(node.left), number(node.right)
        if left is not None and right:
            return left / right
    return None


def is_255(node: cst.BaseExpression) -> bool:
    return number(node) == 255.0


def is_inverse_255(node: cst.BaseExpression) -> bool:
    value = number(node)
    return value is not None and abs(value - 1 / 255) < 1e-6


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((arg for arg in call.args if arg.keyword and arg.keyword.value == name), None)


def positional(call: cst.Call, index: int) -> cst.Arg | None:
    args = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return args[index] if index < len(args) else None


def argument(call: cst.Call, index: int, name: str) -> cst.Arg | None:
    return keyword(call, name) or positional(call, index)


def is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


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
class FlowHints:
    """What one walk of a file learnt that an earlier point of the next walk needs.

    The walk is a single forward pass, so a function's body is analysed before the calls that
    give its parameters their values, and a method may use `self.loss_fn` before the setter
    that assigns it. Walking the file again with the previous walk's hints closes both gaps:
    - `parameters`: per function key (`fit`, `Trainer.__init__`, `Net.forward`), the values
      its call sites pass, by position (int, receiver excluded) and by keyword (str), unioned
      over every call site (context-insensitive);
    - `attributes`: per class, its `self` attributes after all its methods were seen;
    - `forwards`: per class, what its `forward` returns (for `self(x)` before `forward`).
    """

    parameters: dict[str, dict[int | str, Value]] = field(default_factory=dict)
    attributes: dict[str, dict[str, Value]] = field(default_factory=dict)
    forwards: dict[str, Value] = field(default_factory=dict)
    # Calls into other files of the project: qualified name -> slots, as for `parameters`.
    external: dict[str, dict[int | str, Value]] = field(default_factory=dict)

    def signature(self) -> tuple:
        """Changes when what was learnt changes: the walks stop when it no longer does."""
        return (tuple(sorted((key, str(slot), len(value)) for key, slots in self.parameters.items()
                             for slot, value in slots.items() if value)),
                tuple(sorted((name, attribute, len(value)) for name, attributes
                             in self.attributes.items() for attribute, value in attributes.items()
                             if value)),
                tuple(sorted((name, len(value)) for name, value in self.forwards.items())))


@dataclass
class LoopEvents:
    """What a loop's body does to training state, in source order: ("backward", node),
    ("step", node), ("zero_grad", node), ("scheduler_step", node), ("clip", node), ("eval", node),
    ("train", node), and ("call", node, name) for local functions it calls or hands on."""

    node: cst.CSTNode
    events: list[tuple] = field(default_factory=list)


@dataclass
class FunctionState:
    name: str
    node: cst.FunctionDef
    class_state: ClassState | None
    returns: list[Value] = field(default_factory=list)
    no_grad: bool = False


class SemanticModel(CachedVisitorNames, cst.BatchableCSTVisitor):
    def __init__(self, context: FileContext, project: ProjectIndex | None = None,
                 hints: FlowHints | None = None, *, summarising: bool = False) -> None:
        super().__init__()
        self.context = context
        self.imports = context.imports
        self.project = project
        self.hints = hints or FlowHints()
        self.learned = FlowHints()
        # Phase one: calls into other modules are recorded, and names imported from them
        # become references that phase two resolves.
        self.summarising = summarising
        self.imported_names = frozenset(context.imports.aliases.values()) if summarising \
            else frozenset()
        # Whether another walk with `learned` as hints could see more: set when a call passes a
        # known value to a function of this file, or a method read `self.x` (or called
        # `self(x)`) before the method that assigns it (or `forward`) was seen.
        self.needs_hints = False
        self._attribute_misses: set[tuple[str, str]] = set()
        self._forward_misses: set[str] = set()
        # Top-level functions and classes (with their methods): the call sites worth recording.
        body = context.module.body
        self.top_functions = {statement.name.value for statement in body
                              if isinstance(statement, cst.FunctionDef)}
        self.top_classes = {
            statement.name.value: {member.name.value for member in statement.body.body
                                   if isinstance(member, cst.FunctionDef)}
            for statement in body if isinstance(statement, cst.ClassDef)}
        # Open `if` statements, for merging what their branches bind.
        self.branches: list[_Branch] = []
        self._own_module: str | None = None  # this file's module name, for calls from others
        self.module_frame: dict[str, Value] = {}
        self.frames: list[dict[str, Value]] = [self.module_frame]
        self.classes: list[ClassState] = []
        self.functions: list[FunctionState] = []
        self.local_classes: dict[str, ModuleInfo | None] = {}
        self.local_functions: dict[str, Value] = {}
        self.no_grad_depth = 0
        self.loop_listings: list[Tag | None] = []
        self.depth = 0
        # Training-loop events: per loop (innermost last while open), and per function.
        self.open_loops: list[LoopEvents] = []
        self.loops: list[LoopEvents] = []
        self.function_events: dict[str, list[tuple]] = {}
        self.event_stack: list[list[tuple]] = [[]]

    # ---- queries for rules ------------------------------------------------------------------

    @property
    def in_no_grad(self) -> bool:
        return self.no_grad_depth > 0 or any(f.no_grad for f in self.functions)

    @property
    def current_function(self) -> FunctionState | None:
        return self.functions[-1] if self.functions else None

    def qualified(self, node: cst.BaseExpression) -> str | None:
        return self.imports.qualified_name(node)

    def value(self, node: cst.BaseExpression) -> Value:
        # Generated code can nest expressions thousands deep (a 5,000-term sum): past a depth no
        # hand-written bug hides at, a value is simply unknown, and the rest of the file is
        # still analysed.
        if self.depth >= MAX_VALUE_DEPTH:
            return EMPTY
        self.depth += 1
        try:
            return self._value(node)
        finally:
            self.depth -= 1

    def _value(self, node: cst.BaseExpression) -> Value:
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.Name):
            return self.lookup(node.value)
        if isinstance(node, cst.Attribute):
            return self._attribute(node)
        if isinstance(node, cst.Subscript):
            inner = self.value(node.value)
            part = _tuple_part(inner, node)
            if part is not None:
                return part
            frame = first(inner, DATAFRAME)
            if frame is not None:
                return frozenset({Tag(DATAFRAME, node, info="series")})
            inner = without(inner, (MODULE, LOSS, TRANSFORM))
            if not all(isinstance(element.slice, cst.Slice) for element in node.slice):
                inner = without(inner, (LISTING,))  # files[i] is one file, not a listing
            if any(isinstance(element.slice, cst.Index) and isinstance(element.slice.value, cst.Name)
                   and element.slice.value.value == "None" for element in node.slice):
                inner = without(inner, (RANK1,))  # x[:, None] adds the missing axis
            return inner
        if isinstance(node, cst.BinaryOperation):
            return self._binary(node, self.value(node.left), node.operator, node.right)
        if isinstance(node, cst.Tuple) and 1 < len(node.elements) <= MAX_TUPLE and not any(
                isinstance(element, cst.StarredElement) for element in node.elements):
            elements = tuple(self.value(element.value) for element in node.elements)
            return frozenset({Tag(TUPLE, node, info=elements)}) if any(elements) else EMPTY
        if isinstance(node, cst.IfExp):
            return self.value(node.body) | self.value(node.orelse)
        if isinstance(node, cst.BooleanOperation):
            return self.value(node.left) | self.value(node.right)
        if isinstance(node, cst.NamedExpr):
            return self.value(node.value)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp)):
            return keep(self.value(node.for_in.iter), (LISTING,))  # keeps the listing's order
        if isinstance(node, cst.Await):
            return self.value(node.expression)
        return EMPTY

    def lookup(self, name: str) -> Value:
        for frame in (self.frames[-1], self.module_frame):
            if name in frame:
                return frame[name]
        return EMPTY

    def attribute_key(self, node: cst.BaseExpression) -> str | None:
        if (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name)
                and node.value.value == "self" and self.classes):
            return node.attr.value
        return None

    # ---- bindings ---------------------------------------------------------------------------

    def bind(self, target: cst.BaseExpression, value: Value) -> None:
        if isinstance(target, cst.Name):
            self.frames[-1][target.value] = value
        elif isinstance(target, cst.Attribute):
            key = self.attribute_key(target)
            if key is not None:
                self.classes[-1].attributes[key] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            # `_, probabilities = discriminator(x)`: a tuple of known length binds by position.
            parts = next((tag.info for tag in value if tag.kind == TUPLE
                          and len(tag.info) == len(target.elements)), None)
            for index, element in enumerate(target.elements):
                self.bind(element.value, parts[index] if parts is not None and not isinstance(
                    element, cst.StarredElement) else EMPTY)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, EMPTY)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(isinstance(target.target, cst.Attribute) and target.target.attr.value == "grad"
               for target in node.targets):
            self.event("zero_grad", node)  # p.grad = None

    def leave_Assign(self, original_node: cst.Assign) -> None:
        value_node = original_node.value
        for target in original_node.targets:
            if isinstance(target.target, (cst.Tuple, cst.List)) and isinstance(
                    value_node, (cst.Tuple, cst.List)) and len(target.target.elements) == len(
                    value_node.elements):
                for element, item in zip(target.target.elements, value_node.elements):
                    self.bind(element.value, self.value(item.value))
            else:
                self.bind(target.target, self.value(value_node))

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        if original_node.value is not None:
            self.bind(original_node.target, self.value(original_node.value))

    def leave_AugAssign(self, original_node: cst.AugAssign) -> None:
        operator = _AUGMENTED.get(type(original_node.operator))
        current = self.value(original_node.target)
        if operator is None:
            self.bind(original_node.target, EMPTY)
            return
        self.bind(original_node.target,
                  self._binary(original_node, current, operator, original_node.value))

    def visit_For(self, node: cst.For) -> None:
        iterated = self.value(node.iter)
        listing = first(iterated, LISTING)
        self.bind(node.target, EMPTY)
        if listing is not None and listing.info.walk and isinstance(node.target, cst.Tuple):
            # for root, dirs, files in os.walk(...): dirs and files come in arbitrary order.
            for element in node.target.elements[1:]:
                self.bind(element.value, frozenset({listing}))
        elif isinstance(node.target, cst.Name):
            rows = keep(iterated, ROW_KEEPING)  # for row in probabilities: each row is too
            if rows:
                self.bind(node.target, rows)
        outer = self.loop_listings[-1] if self.loop_listings else None
        self.loop_listings.append(listing if listing is not None and not listing.info.ordered
                                  else outer)
        self.open_loops.append(LoopEvents(node))

    def leave_For(self, original_node: cst.For) -> None:
        self.loop_listings.pop()
        self.loops.append(self.open_loops.pop())

    def visit_While(self, node: cst.While) -> None:
        self.open_loops.append(LoopEvents(node))

    def leave_While(self, original_node: cst.While) -> None:
        self.loops.append(self.open_loops.pop())

    def event(self, *event) -> None:
        self.event_stack[-1].append(event)
        for loop in self.open_loops:
            loop.events.append(event)

    def expand(self, events, seen: frozenset = frozenset()):
        """Events with calls to local functions replaced by what those functions do."""
        for event in events:
            if event[0] == "call" and event[2] in self.function_events and event[2] not in seen:
                for inner in self.expand(self.function_events[event[2]], seen | {event[2]}):
                    yield (inner[0], event[1], *inner[2:])
            elif event[0] != "call":
                yield event

    def _training_event(self, node: cst.Call) -> None:
        func = node.func
        qualified = self.qualified(func)
        if qualified in ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_",
                         "torch.nn.utils.clip_grad.clip_grad_norm_"):
            self.event("clip", node)
        elif isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == "backward":
                self.event("backward", node)
            elif method == "zero_grad":
                self.event("zero_grad", node)
            elif method == "eval" and not node.args:
                self.event("eval", node)
            elif method == "train":
                flag = argument(node, 0, "mode")
                is_off = flag is not None and isinstance(flag.value, cst.Name) and \
                    flag.value.value == "False"
                self.event("eval" if is_off else "train", node)
            elif method == "step":
                receiver = self.value(func.value)
                name = (dotted_name(func.value) or "").rsplit(".", 1)[-1].lower()
                if has(receiver, SCHEDULER) or (not has(receiver, OPTIMIZER) and "sched" in name):
                    self.event("scheduler_step", node)
                elif has(receiver, OPTIMIZER) or "optim" in name or "scaler" in name or \
                        name in ("opt", "solver"):
                    self.event("step", node)
        if isinstance(func, cst.Name) and qualified is None:
            self.event("call", node, func.value)
        for arg in node.args:  # optimizer.step(closure): the closure runs in this step
            if isinstance(arg.value, cst.Name) and arg.value.value in self.function_events:
                self.event("call", node, arg.value.value)

    def visit_With(self, node: cst.With) -> None:
        if any(self._is_no_grad(item.item) for item in node.items):
            self.no_grad_depth += 1

    def leave_With(self, original_node: cst.With) -> None:
        if any(self._is_no_grad(item.item) for item in original_node.items):
            self.no_grad_depth -= 1
        for item in original_node.items:
            if item.asname is not None:
                self.bind(item.asname.name, EMPTY)

    def _is_no_grad(self, node: cst.BaseExpression) -> bool:
        target = node.func if isinstance(node, cst.Call) else node
        return self.qualified(target) in catalog.NO_GRAD_CONTEXTS

    # ---- scopes and summaries ---------------------------------------------------------------

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
        for base in state.bases:
            if base in catalog.NN_MODULE_BASES:
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
                else:
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

    def visit_Call(self, node: cst.Call) -> None:
        self._training_event(node)
        self._record_call_site(node)
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == "sort":
                listing = first(self.value(func.value), LISTING)
                if listing is not None:
                    self.bind(func.value, frozenset({Tag(LISTING, node, listing.detail,
                                                         ListingInfo(listing.info.function, True))}))
            elif method in ("add_module", "append") and node.args and has(
                    self.value(func.value), MODULE):
                self._grow_sequential(func.value, node)
            elif method in ("append", "extend", "insert") and self.loop_listings and \
                    self.loop_listings[-1] is not None and not has(self.value(func.value), LISTING):
                # A list filled while iterating a listing inherits its order.
                self.bind(func.value, self.value(func.value) | {self.loop_listings[-1]})
        # Functional dropout or batch norm anywhere in a class makes its modes differ.
        if self.classes:
            qualified = self.qualified(node.func)
            if qualified in ("torch.nn.functional.dropout", "torch.nn.functional.batch_norm",
                             "torch.nn.functional.dropout2d", "torch.nn.functional.alpha_dropout"):
                self.classes[-1].mode_evidence.append(f"{qualified.rsplit('.', 1)[1]} in {self.classes[-1].name}")

    # ---- call sites into parameters ---------------------------------------------------------

    def callee_key(self, node: cst.Call) -> str | None:
        """The function of this file a call runs: `fit`, `Trainer.__init__`, `Net.forward`."""
        func = node.func
        if isinstance(func, cst.Name):
            name = func.value
            if name == "self" and self.classes:
                return f"{self.classes[-1].name}.forward"
            if name in self.frames[-1] and len(self.frames) > 1:
                return self._instance_key(self.frames[-1][name], "forward")
            if name in self.top_functions:
                return name
            if name in self.top_classes:
                return f"{name}.__init__"
            return self._instance_key(self.lookup(name), "forward")
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
        if not node.args:
            return
        key, table = self.callee_key(node), self.learned.parameters
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
                    self._own_module = module_name(self.context.path)
                incoming = self.project.incoming_arguments(self._own_module, name)
                if incoming:
                    slots = {slot: slots.get(slot, EMPTY) | incoming.get(slot, EMPTY)
                             for slot in {*slots, *incoming}}
        frame = self.frames[-1]
        for index, param in enumerate([*positional, *params.kwonly_params]):
            value = slots.get(param.name.value, EMPTY)
            if index < len(positional):
                value = value | slots.get(index, EMPTY)
            value = value | defaults.get(param.name.value, EMPTY)
            if value:
                frame[param.name.value] = value

    # ---- branches -----------------------------------------------------------------------------

    def visit_If(self, node: cst.If) -> None:
        if self.branches and self.branches[-1].node.orelse is node:
            self._enter_else()  # an elif is the else branch of the enclosing if
        self.branches.append(_Branch(node, dict(self.frames[-1]), _leaves(node.body)))

    def visit_Else(self, node: cst.Else) -> None:
        if self.branches and self.branches[-1].node.orelse is node:
            self._enter_else()

    def _enter_else(self) -> None:
        branch = self.branches[-1]
        frame = self.frames[-1]
        branch.after_body = None if branch.body_leaves else dict(frame)
        branch.in_else = True
        frame.clear()
        frame.update(branch.before)

    def leave_If(self, original_node: cst.If) -> None:
        """After `if`, a name holds what any branch that falls through may have bound:
        `model = Net()` then `if resume: model = torch.load(p)` is either."""
        branch = self.branches.pop()
        frame = self.frames[-1]
        ends: list[dict[str, Value]] = []
        if branch.in_else:
            if branch.after_body is not None:
                ends.append(branch.after_body)
            if not _leaves(original_node.orelse.body if isinstance(original_node.orelse, cst.Else)
                           else None):
                ends.append(dict(frame))
        else:
            if not branch.body_leaves:
                ends.append(dict(frame))
            ends.append(branch.before)
        if not ends:
            return  # every branch leaves: what follows is unreachable from here
        merged: dict[str, Value] = {}
        for end in ends:
            for name, value in end.items():
                merged[name] = merged.get(name, EMPTY) | value
        frame.clear()
        frame.update(merged)

    # ---- expressions ------------------------------------------------------------------------

    def _attribute(self, node: cst.Attribute) -> Value:
        key = self.attribute_key(node)
        if key is not None:
            for state in reversed(self.classes):
                if key in state.attributes:
                    return state.attributes[key]
            self._attribute_misses.add((self.classes[0].name, key))
            return EMPTY
        receiver = self.value(node.value)
        name = node.attr.value
        if name == "values" and has(receiver, DATAFRAME):
            rank1 = first(receiver, DATAFRAME).info == "series"
            result = {Tag(FLOAT64, node, info="numpy")}
            if rank1:
                result.add(Tag(RANK1, node, detail=".values of a column"))
            return frozenset(result)
        if name in ("T", "data", "mT"):
            return without(receiver, (MODULE, LOSS, TRANSFORM))
        if name in ("forward", "__call__"):
            return keep(receiver, (MODULE, LOSS))  # criterion.forward(out, y) is criterion(out, y)
        return EMPTY

    def _binary(self, node: cst.CSTNode, left: Value, operator: cst.BaseBinaryOp,
                right_node: cst.BaseExpression) -> Value:
        right = self.value(right_node)
        if (isinstance(operator, cst.Divide) and is_255(right_node)) or (
                isinstance(operator, cst.Multiply) and is_inverse_255(right_node)):
            return self.scaled(left, node, "division by 255")
        if isinstance(operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power,
                                 cst.FloorDivide, cst.Modulo)):
            result = without(left | right, (PROBABILITIES, LOG_PROBABILITIES, MODULE, LOSS,
                                            TRANSFORM, DATAFRAME, PIL_IMAGE))
            uint8 = first(result, UINT8)
            if uint8 is not None and (isinstance(operator, cst.Divide) or isinstance(
                    right_node, cst.Float) or has(right, FLOAT64)):
                result = without(result, (UINT8,))
                if uint8.info == "numpy":
                    result |= {Tag(FLOAT64, node, info="numpy")}
            return result
        return EMPTY

    def scaled(self, value: Value, node: cst.CSTNode, how: str) -> Value:
        """The value after a scaling to [0, 1] (division by 255, ToTensor)."""
        if how != "division by 255" and has(value, UNIT_SCALED):
            return value  # ToTensor and friends leave float data as it is: the first scaling stands
        result = without(value, (UINT8, UNIT_SCALED, PIL_IMAGE))
        uint8 = first(value, UINT8)
        if uint8 is not None and uint8.info == "numpy" and how == "division by 255":
            result |= {Tag(FLOAT64, node, info="numpy")}  # numpy true division gives float64
        return result | {Tag(UNIT_SCALED, node, detail=how)}

    def _call(self, node: cst.Call) -> Value:
        func = node.func
        qualified = self.qualified(func)
        if qualified is not None and not qualified.startswith("builtins."):
            return self._library_call(qualified, node)
        if isinstance(func, cst.Name):
            if func.value == "self" and self.classes:
                return self._own_forward()
            if func.value in self.local_classes and func.value not in self.frames[-1]:
                info = self.local_classes[func.value]
                if info is None:  # a plain class: its methods are still this file's functions
                    return frozenset({Tag(INSTANCE, node, func.value)})
                return self._instance(info, node)
            if func.value in self.local_functions and func.value not in self.frames[-1]:
                return self.local_functions[func.value]
            if qualified is not None:
                return self._builtin(qualified, node)
            return self.call_value(self.lookup(func.value), node)
        if isinstance(func, cst.Attribute):
            if func.attr.value in ("forward", "__call__") and isinstance(func.value, cst.Name) \
                    and func.value.value == "self" and self.classes:
                return self._own_forward()
            attribute_value = self._attribute(func)
            if any(tag.kind in (MODULE, TRANSFORM, LOSS) for tag in attribute_value):
                return self.call_value(attribute_value, node)
            return self._method(self.value(func.value), func.attr.value, node)
        return self.call_value(self.value(func), node)

    def _grow_sequential(self, target: cst.BaseExpression, node: cst.Call) -> None:
        """`m.add_module("sm", nn.Softmax(1))` / `m.append(layer)`: the last member added is what
        an nn.Sequential returns."""
        container = first(self.value(target), MODULE)
        if container is None or container.detail != "nn.Sequential":
            return
        layer = first(self.value(node.args[-1].value), MODULE)
        if layer is None:
            return
        old = container.info
        mode = True if old.mode_dependent or layer.info.mode_dependent else (
            None if old.mode_dependent is None or layer.info.mode_dependent is None else False)
        info = ModuleInfo(old.name, layer.info.output, mode,
                          old.evidence or layer.info.evidence)
        self.bind(target, frozenset({Tag(MODULE, container.node, "nn.Sequential", info)}))

    def _own_forward(self) -> Value:
        """`self(x)` inside a module is its own forward: what this walk or the last one saw."""
        state = self.classes[-1]
        if not state.has_forward:
            self._forward_misses.add(state.name)
        return state.forward_output or self.hints.forwards.get(state.name, EMPTY)

    def _instance(self, info: ModuleInfo | None, node: cst.Call) -> Value:
        return EMPTY if info is None else frozenset({Tag(MODULE, node, info.name, info)})

    def call_value(self, callee: Value, node: cst.Call) -> Value:
        """The value of calling a module, a transform or a loss object."""
        result: set[Tag] = set()
        for tag in callee:
            if tag.kind == LOSS:
                result.add(Tag(LOSS_VALUE, node, tag.detail))
            if tag.kind == MODULE:
                result |= tag.info.output
            elif tag.kind == TRANSFORM:
                argument_value = self.value(node.args[0].value) if node.args else EMPTY
                if tag.info.scaling is not None:
                    result |= self.scaled(argument_value, tag.info.scaling, tag.info.scaling_name)
                else:
                    result |= argument_value
        return frozenset(result)

    def _builtin(self, qualified: str, node: cst.Call) -> Value:
        if not node.args:
            return EMPTY
        if qualified in catalog.SORTING:
            return self._sorted(node)
        if qualified in catalog.ORDER_KEEPING:
            # map(f, listing) and filter(f, listing) keep the order of their last argument.
            index = -1 if qualified in ("builtins.map", "builtins.filter") else 0
            return keep(self.value(node.args[index].value), (LISTING,))
        return EMPTY

    def _sorted(self, node: cst.Call) -> Value:
        listing = first(self.value(node.args[0].value), LISTING) if node.args else None
        if listing is None:
            return EMPTY
        return frozenset({Tag(LISTING, node, listing.detail, ListingInfo(listing.info.function, True))})

    def _argument_value(self, node: cst.Call, index: int = 0, name: str = "input") -> Value:
        arg = argument(node, index, name)
        return EMPTY if arg is None else self.value(arg.value)

    def _dtype_keyword(self, node: cst.Call) -> str | None:
        arg = keyword(node, "dtype")
        if arg is None:
            return None
        if isinstance(arg.value, cst.SimpleString):
            return "numpy." + arg.value.evaluated_value if isinstance(
                arg.value.evaluated_value, str) else "?"
        return self.qualified(arg.value) or "?"

    def _library_call(self, qualified: str, node: cst.Call) -> Value:
        last = qualified.rsplit(".", 1)[-1]
        if qualified in catalog.LISTING_FUNCTIONS:
            name = catalog.LISTING_FUNCTIONS[qualified]
            return frozenset({Tag(LISTING, node, name, ListingInfo(name))})
        if qualified in catalog.SORTING:
            return self._sorted(node)
        if qualified in catalog.PROBABILITY_FUNCTIONS:
            return frozenset({Tag(PROBABILITIES, node, catalog.PROBABILITY_FUNCTIONS[qualified])})
        if qualified in catalog.LOG_PROBABILITY_FUNCTIONS:
            return frozenset({Tag(LOG_PROBABILITIES, node, last)})
        if qualified in ("torch.exp", "numpy.exp"):
            inner = self._argument_value(node)
            return frozenset({Tag(PROBABILITIES, node, "exp(log_softmax)")}) if has(
                inner, LOG_PROBABILITIES) else EMPTY
        if qualified in ("torch.autograd.Variable", "torch.autograd.variable.Variable"):
            return self._argument_value(node, 0, "data")  # a no-op wrapper since PyTorch 0.4
        if qualified in catalog.LOG_FUNCTIONS:
            inner = self._argument_value(node)
            return frozenset({Tag(LOG_PROBABILITIES, node, "log")}) if has(inner, PROBABILITIES) \
                else EMPTY
        if qualified in catalog.PROBABILITY_LAYERS:
            output = frozenset({Tag(PROBABILITIES, node, catalog.PROBABILITY_LAYERS[qualified])})
            return self._layer(node, qualified, output, False)
        if qualified in catalog.LOG_PROBABILITY_LAYERS:
            return self._layer(node, qualified, frozenset({Tag(LOG_PROBABILITIES, node, last)}),
                               False)
        if qualified in catalog.MODE_DEPENDENT_LAYERS:
            return self._layer(node, qualified, EMPTY, True)
        if qualified in catalog.CONTAINER_LAYERS:
            return self._sequential(node)
        if qualified in catalog.LOSS_CLASSES:
            info = LossInfo(qualified, catalog.LOSS_CLASSES[qualified],
                            catalog.LOSS_DISPLAY.get(qualified, "nn." + last))
            return frozenset({Tag(LOSS, node, last, info)})
        if qualified == "torch.nn.Linear":
            out = argument(node, 1, "out_features")
            output = frozenset({Tag(COLUMN, node, "Linear(..., 1)")}) if out is not None and \
                number(out.value) == 1.0 else EMPTY
            return self._layer(node, qualified, output, False)
        if qualified.startswith("torch.nn.") and last[:1].isupper() and qualified.count(".") == 2 \
                and not last.startswith("Parameter"):  # a Parameter is not a layer
            return self._layer(node, qualified, EMPTY, False)
        if qualified.startswith("torch.optim.lr_scheduler.") and last[:1].isupper() or (
                qualified.startswith("transformers.") and "schedule" in last):
            return frozenset({Tag(SCHEDULER, node, last)})
        if qualified.startswith("torch.optim.") and last[:1].isupper() and \
                qualified.count(".") == 2:
            return frozenset({Tag(OPTIMIZER, node, last)})
        if qualified in catalog.LOSS_FUNCTIONS:
            return frozenset({Tag(LOSS_VALUE, node, last)})
        if qualified.startswith(catalog.OPAQUE_MODEL_PREFIXES) and not any(
                part in qualified for part in catalog.NOT_MODELS):
            info = ModuleInfo(qualified, EMPTY, None, f"{qualified} (layers not visible)")
            return frozenset({Tag(MODULE, node, qualified, info)})
        if self.summarising and qualified in self.imported_names and \
                qualified.split(".", 1)[0] not in catalog.LIBRARY_ROOTS:
            return frozenset({Tag(REFERENCE, node, qualified)})
        if self.project is not None:
            summary = self.project.lookup_class(qualified, self.context.path)
            if summary is not None:
                return self._instance(summary, node)
            returned = self.project.lookup_function(qualified, self.context.path)
            if returned is not None:
                return returned
        return self._data_call(qualified, last, node)

    def _layer(self, node: cst.Call, qualified: str, output: Value, mode_dependent: bool) -> Value:
        name = "nn." + qualified.rsplit(".", 1)[-1]
        info = ModuleInfo(name, output, mode_dependent, name if mode_dependent else "")
        return frozenset({Tag(MODULE, node, name, info)})

    def _sequential(self, node: cst.Call) -> Value:
        members = []
        for arg in node.args:
            if arg.star:  # Sequential(*layers): members not visible
                return frozenset({Tag(MODULE, node, "nn.Sequential",
                                      ModuleInfo("nn.Sequential", EMPTY, None, ""))})
            members.append(first(self.value(arg.value), MODULE))
        evidence = [m.info.evidence for m in members if m is not None and m.info.mode_dependent]
        unknown = any(m is None or m.info.mode_dependent is None for m in members)
        last = members[-1] if members else None
        output = last.info.output if last is not None else EMPTY
        mode = True if evidence else (None if unknown else False)
        info = ModuleInfo("nn.Sequential", output, mode, evidence[0] if evidence else "")
        return frozenset({Tag(MODULE, node, "nn.Sequential", info)})

    def _data_call(self, qualified: str, last: str, node: cst.Call) -> Value:
        if qualified in catalog.COMPOSE:
            return self._compose(node)
        if qualified in catalog.SCALING_TRANSFORMS or (
                qualified in catalog.SCALE_WHEN_FLAGGED and is_true(
                    (keyword(node, "scale") or cst.Arg(cst.Name("False"))).value)):
            if last[:1].isupper():
                return frozenset({Tag(TRANSFORM, node, last, TransformInfo(node, f"{last}()"))})
            return self.scaled(self._argument_value(node), node, f"{last}()")
        if qualified in catalog.NORMALIZE_TRANSFORMS or qualified in catalog.LAMBDA_TRANSFORMS or (
                qualified.startswith(("torchvision.transforms.", "albumentations."))
                and last[:1].isupper()):
            return frozenset({Tag(TRANSFORM, node, last, TransformInfo(None))})
        if qualified in catalog.UINT8_NUMPY_SOURCES:
            return frozenset({Tag(UINT8, node, last, "numpy")})
        if qualified in catalog.UINT8_TENSOR_SOURCES:
            return frozenset({Tag(UINT8, node, last, "torch")})
        if qualified in catalog.PIL_OPEN:
            return frozenset({Tag(PIL_IMAGE, node)})
        if qualified in catalog.NUMPY_ARRAY:
            inner = self._argument_value(node, 0, "object")
            dtype = self._dtype_keyword(node)
            if dtype is not None:
                return self._cast(inner, node, dtype, "numpy")
            if has(inner, PIL_IMAGE):
                return frozenset({Tag(UINT8, node, "array of a PIL image", "numpy")})
            return inner
        if qualified in catalog.FLOAT64_CONSTRUCTORS:
            dtype = self._dtype_keyword(node)
            result: set[Tag] = set()
            if dtype is None or dtype in ("numpy.float64", "numpy.double", "builtins.float"):
                result.add(Tag(FLOAT64, node, last, "numpy"))
            result |= self._rank1(qualified, node)
            return frozenset(result)
        if qualified in catalog.RANK1_CONSTRUCTORS:
            return self._rank1(qualified, node)
        if qualified in catalog.DATAFRAME_SOURCES:
            return frozenset({Tag(DATAFRAME, node, last, "frame")})
        if qualified in catalog.TO_TENSOR:
            inner = self._argument_value(node, 0, "data")
            dtype = self._dtype_keyword(node)
            if dtype is not None:
                return self._cast(inner, node, dtype, "torch")
            converted = frozenset(
                Tag(tag.kind, tag.node, tag.detail, "torch", tag.location, node)
                if tag.kind in DTYPE_TAGS else tag for tag in inner)
            return converted
        if qualified in ("torch.Tensor", "torch.FloatTensor", "numpy.float32"):
            return without(self._argument_value(node), DTYPE_TAGS)
        if qualified in ("torch.squeeze", "torch.unsqueeze", "torch.flatten", "torch.reshape",
                         "numpy.squeeze", "numpy.expand_dims", "numpy.reshape", "numpy.ravel"):
            shifted = node.with_changes(args=node.args[1:])
            return self._reshaped(self._argument_value(node), last, shifted, original=node)
        return EMPTY

    def _reshaped(self, value: Value, method: str, node: cst.Call,
                  original: cst.Call | None = None) -> Value:
        """Shape bookkeeping for the tags that are about shapes (COLUMN, RANK1, SQUEEZED)."""
        anchor = original or node
        args = [arg for arg in node.args if arg.keyword is None]
        flat = (method in ("flatten", "ravel")
                or (method in ("view", "reshape") and len(args) == 1 and number(args[0].value) == -1))
        if method == "squeeze":
            dims = args or [arg for arg in node.args if arg.keyword and arg.keyword.value in ("dim", "axis")]
            value = without(value, (COLUMN,))
            if not dims:
                value |= {Tag(SQUEEZED, anchor, "squeeze()")}
            return value
        if flat:
            return without(value, (COLUMN,))
        if method in ("unsqueeze", "expand_dims") or (method in ("view", "reshape") and len(args) >= 2):
            return without(value, (RANK1,))
        return value

    def _rank1(self, qualified: str, node: cst.Call) -> Value:
        args = [arg for arg in node.args if arg.keyword is None]
        if qualified in catalog.RANK1_CONSTRUCTORS and len(args) == 1 and not isinstance(
                args[0].value, (cst.Tuple, cst.List)) and keyword(node, "size") is None:
            return frozenset({Tag(RANK1, node, qualified.rsplit(".", 1)[-1])})
        return EMPTY

    def _compose(self, node: cst.Call) -> Value:
        scaling: cst.CSTNode | None = None
        name = ""
        if node.args and isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            for element in node.args[0].value.elements:
                step = first(self.value(element.value), TRANSFORM)
                if step is not None and step.info.scaling is not None and scaling is None:
                    scaling, name = step.info.scaling, step.info.scaling_name
        return frozenset({Tag(TRANSFORM, node, "Compose", TransformInfo(scaling, name))})

    def _cast(self, value: Value, node: cst.CSTNode, dtype: str, library: str) -> Value:
        result = without(value, DTYPE_TAGS | {PIL_IMAGE})
        if dtype in ("numpy.float64", "numpy.double", "torch.float64", "torch.double",
                     "builtins.float") and not (library == "torch" and dtype == "builtins.float"):
            result |= {Tag(FLOAT64, node, dtype, library)}
        elif dtype in ("numpy.uint8", "torch.uint8"):
            result |= {Tag(UINT8, node, "cast", library)}  # chosen on purpose, not read from disk
        return result

    def _method(self, receiver: Value, method: str, node: cst.Call) -> Value:
        if method in catalog.LISTING_METHODS:
            name = f"Path.{method}"
            return frozenset({Tag(LISTING, node, name, ListingInfo(name))})
        if method in catalog.PROBABILITY_METHODS:
            return frozenset({Tag(PROBABILITIES, node, catalog.PROBABILITY_METHODS[method])})
        if method in catalog.LOG_PROBABILITY_METHODS:
            return frozenset({Tag(LOG_PROBABILITIES, node, method)})
        if method == "log" and has(receiver, PROBABILITIES):
            return frozenset({Tag(LOG_PROBABILITIES, node, "log")})
        if method == "exp" and has(receiver, LOG_PROBABILITIES):
            return frozenset({Tag(PROBABILITIES, node, "exp(log_softmax)")})
        if method == "forward" and has(receiver, MODULE):
            return self.call_value(receiver, node)
        if method in ("eval", "train", "cuda", "cpu", "to", "requires_grad_", "half", "float") \
                and has(receiver, MODULE):
            return receiver
        if method in ("cuda", "cpu", "to", "half", "float", "double") and has(receiver, LOSS):
            return keep(receiver, (LOSS,))  # nn.CrossEntropyLoss().cuda() is the same loss
        if method == "to":
            dtypes = [self.qualified(arg.value) for arg in node.args]
            dtype = next((d for d in dtypes if d and d.startswith("torch.") and (
                "float" in d or "int" in d or "half" in d or "double" in d)), None)
            if dtype is None:
                dtype_arg = keyword(node, "dtype")
                dtype = self.qualified(dtype_arg.value) if dtype_arg is not None else None
            return receiver if dtype is None else self._cast(receiver, node, dtype, "torch")
        if method in ("detach", "detach_"):
            receiver = without(receiver, (LOSS_VALUE,))  # no graph any more
        if method in catalog.PASSTHROUGH_METHODS:
            return self._reshaped(without(receiver, (MODULE, LOSS, TRANSFORM)), method, node)
        if method in catalog.FLOAT_CASTS:
            return without(receiver, DTYPE_TAGS)
        if method == "double":
            return without(receiver, DTYPE_TAGS) | {Tag(FLOAT64, node, "double()", "torch")}
        if method == "astype" and node.args:
            arg = node.args[0].value
            dtype = ("numpy." + arg.evaluated_value) if isinstance(arg, cst.SimpleString) and \
                isinstance(arg.evaluated_value, str) else (self.qualified(arg) or "?")
            return self._cast(receiver, node, dtype, "numpy")
        if method in ("div", "div_", "true_divide") and node.args and is_255(node.args[0].value):
            return self.scaled(receiver, node, "division by 255")
        if method in ("mul", "mul_") and node.args and is_inverse_255(node.args[0].value):
            return self.scaled(receiver, node, "division by 255")
        if method in ("convert", "resize", "crop", "rotate", "transpose") and has(receiver, PIL_IMAGE):
            return frozenset({Tag(PIL_IMAGE, node)})
        if method == "to_numpy" and has(receiver, DATAFRAME):
            result = {Tag(FLOAT64, node, info="numpy")}
            if first(receiver, DATAFRAME).info == "series":
                result.add(Tag(RANK1, node, ".to_numpy() of a column"))
            return frozenset(result)
        if method in ("numpy", "copy", "clone"):
            return without(receiver, (MODULE, LOSS, TRANSFORM))
        return EMPTY


@dataclass
class _Branch:
    node: cst.If
    before: dict[str, Value]
    body_leaves: bool  # the body ends in return/raise/continue/break: it never reaches the join
    after_body: dict[str, Value] | None = None
    in_else: bool = False


_LEAVING = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def _leaves(block: cst.BaseSuite | None) -> bool:
    if block is None:
        return False
    statements = block.body if isinstance(block, cst.IndentedBlock) else [block]
    if not statements:
        return False
    last = statements[-1]
    small = last.body if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) \
        else None
    return bool(small) and isinstance(small[-1], _LEAVING)


MAX_FLOW_WALKS = 4  # one walk, then up to three more: three hops of calls
MAX_TUPLE = 8  # longer tuples are data, not a forward's (features, probabilities) pair
# What an element of an iterated tensor still is.
ROW_KEEPING = frozenset({PROBABILITIES, LOG_PROBABILITIES, UNIT_SCALED, UINT8, FLOAT64})


# What a rule can act on at the other end of a call. A module counts when its output carries a
# tag or its mode matters; a plain-class instance or an untagged layer does not.
_PASSED_KINDS = frozenset({PROBABILITIES, LOG_PROBABILITIES, UNIT_SCALED, UINT8, FLOAT64, LISTING,
                           COLUMN, RANK1, SQUEEZED, LOSS, TRANSFORM, OPTIMIZER, SCHEDULER,
                           DATAFRAME, PIL_IMAGE, REFERENCE})


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


def _tuple_part(value: Value, node: cst.Subscript) -> Value | None:
    """`outputs[1]` of a tuple value, for a literal index."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    index = number(node.slice[0].slice.value)
    if index is None or index != int(index):
        return None
    for tag in value:
        if tag.kind == TUPLE and -len(tag.info) <= int(index) < len(tag.info):
            return tag.info[int(index)]
    return None


def analyse(context: FileContext, project: ProjectIndex | None,
            visitors_for: Callable[[SemanticModel], list], *, summarising: bool = False
            ) -> SemanticModel:
    """Walk the file with the model and `visitors_for(model)` (the rules, or nothing).

    When the walk learnt something an earlier point of the file needed (values reaching a
    function's parameters, attributes assigned by a later method), the file is walked again
    with what was learnt as hints, one more hop of calls each time, until nothing new is learnt
    or MAX_FLOW_WALKS walks were made. Most files need one walk. Each walk starts over, rules
    and reports included; the last one stands."""
    hints: FlowHints | None = None
    for _ in range(MAX_FLOW_WALKS):
        context.reports.clear()
        model = SemanticModel(context, project, hints, summarising=summarising)
        context.model = model
        walk(context.module, [model, *visitors_for(model)])
        learned = model.learned
        if not model.needs_hints or (hints is not None
                                     and learned.signature() == hints.signature()):
            break
        hints = learned
    return model


_AUGMENTED = {
    cst.AddAssign: cst.Add(), cst.SubtractAssign: cst.Subtract(), cst.MultiplyAssign: cst.Multiply(),
    cst.DivideAssign: cst.Divide(), cst.FloorDivideAssign: cst.FloorDivide(),
    cst.PowerAssign: cst.Power(), cst.ModuloAssign: cst.Modulo(),
}

