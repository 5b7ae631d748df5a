"""The per-file semantic model: a flow-sensitive pass that tags values by where they came from.

It runs as the first visitor of the file's single batched traversal, so when a rule's
`visit_Call` asks `model.value(node.args[0].value)`, every statement before that call has been
seen. Bindings are applied on `leave_*`, so the right-hand side of `x = f(x)` sees the old `x`.

What it tracks, per function (falling back to the enclosing functions', then the module's):
names to values; per class: `self` attributes, whether it is an nn.Module, whether it has dropout
or batch norm, what `forward` and each method return (an instance carries them as `Members`, for
`trainer.model` outside the class); per function: what it returns. Calls into other files of the
same run are resolved through `ProjectIndex` summaries.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.conditions import decided, dtype_narrowings, names_in
from dllint.semantic.conditions import FLOAT64_BUCKET, UINT8_BUCKET
from dllint.semantic.binding import CallBinding, FlowHints
from dllint.semantic.facts import Facts
from dllint.semantic.imports import dotted_name
from dllint.semantic.loops import LoopEventRecorder
from dllint.semantic.reads import ReadTracker
from dllint.semantic.regions import RegionTracker
from dllint.semantic.summaries import ClassState, ScopeSummaries
from dllint.semantic.transfer import (
    _AUGMENTED, MAX_FLOW_WALKS, MAX_TUPLE, ValueTransfer, _tuple_part, as_array, elements_of,
    list_of, with_module_mode)
from dllint.semantic.syntax import argument, inspects_dtype_or_range, mode_switch, number
from dllint.semantic.syntax import runs_once
from dllint.semantic.syntax import leaves as _leaves
from dllint.semantic.values import FLOAT64, UINT8
from dllint.semantic.values import (
    DATAFRAME, EMPTY, LISTING, LOSS, MODULE, TRANSFORM, TUPLE, ListingInfo, Tag, Value, first,
    has, keep, without)
from dllint.semantic.values import LOG_PROBABILITIES, PROBABILITIES, RECORDS, UNIT_SCALED
from dllint.semantic.values import RESCALED, UNIT_RANGE
from dllint.semantic.values import FUNCTION, LossInfo, tuple_parts
from dllint.walk import CachedVisitorNames, children, walk

if TYPE_CHECKING:
    from dllint.context import FileContext
    from dllint.semantic.project import ProjectIndex


MAX_VALUE_DEPTH = 200
# The model's callbacks that only record (which names are read, which blocks are open) or that
# change bindings only through `bind`: the memo of values survives them. Every other callback,
# one added later included, invalidates it before and after it runs.
_MEMO_KEEPING_CALLBACKS = frozenset({
    "visit_Call", "visit_Name", "visit_Attribute", "visit_Arg", "visit_AssignTarget",
    "leave_SimpleStatementLine", "visit_IndentedBlock", "leave_IndentedBlock",
    "visit_SimpleStatementSuite", "leave_SimpleStatementSuite", "visit_NamedExpr", "visit_Del"})
# Methods that grow a sequential container in place (`add_module`, Keras `add`).
GROWING = frozenset().union(*catalog.GROWING_METHODS.values())


class SemanticModel(ValueTransfer, CachedVisitorNames, cst.BatchableCSTVisitor):
    """The model of one file, one walk. Its core is this class with `transfer` (values of
    expressions): the name frames and the bindings. Components with state of their own,
    created here and driven by this class's callbacks: `scopes` (the open classes and functions
    and their summaries, `summaries.py`), `binding` (call sites into parameters, `binding.py`),
    `loop_events` (training-loop events, `loops.py`), `regions` (`with`/`except`), `reads`
    (the names a loop reads). See docs/architecture.md, "The semantic model's components"."""

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
        self._expanding_partials: set[cst.CSTNode] = set()  # partials being expanded (cycles)
        # Top-level functions and classes (with their methods): the call sites worth recording.
        body = context.module.body
        # A name defined twice (a notebook's cells redefine `train` or `Net`) is ambiguous:
        # the calls of one definition must not feed the parameters of the other.
        defined = Counter(statement.name.value for statement in body
                          if isinstance(statement, (cst.FunctionDef, cst.ClassDef)))
        self.top_functions = {statement.name.value for statement in body
                              if isinstance(statement, cst.FunctionDef)
                              and defined[statement.name.value] == 1}
        self.top_classes = {
            statement.name.value: {member.name.value for member in statement.body.body
                                   if isinstance(member, cst.FunctionDef)}
            for statement in body if isinstance(statement, cst.ClassDef)
            and defined[statement.name.value] == 1}
        # Open `if` statements, for merging what their branches bind.
        self.branches: list[_Branch] = []
        self.module_frame: dict[str, Value] = {}
        self.frames: list[dict[str, Value]] = [self.module_frame]
        # The open classes and functions, and what each closed one amounts to.
        self.scopes = ScopeSummaries(self, project, context.path, self.top_classes, self.hints,
                                     self.learned)
        self.regions = RegionTracker(self.qualified)
        self.reads = ReadTracker()
        # Calls of the file's functions, and what they pass to their parameters.
        self.binding = CallBinding(self, project, context.path, self.top_functions,
                                   self.top_classes, self.hints, self.learned,
                                   summarising=summarising, top_function_nodes={
                                       statement.name.value: statement for statement in body
                                       if isinstance(statement, cst.FunctionDef)
                                       and statement.name.value in self.top_functions})
        # Per open function, innermost last: its parameters that every call gives the same
        # constants (`CallBinding.parameter_constants`), which decide the `if` tests on them.
        self.parameter_constants: list[dict[str, tuple[object, ...]]] = []
        # Names that are no reference to a function of the file: called names, `def` names,
        # attribute and keyword names (for `learned.escaping`).
        self._not_references: set[int] = set()
        self.loop_listings: list[Tag | None] = []
        self.depth = 0
        # Training-loop events: per loop and per function of the file (`loops.py`).
        self.loop_events = LoopEventRecorder(self, project, context.path, self.top_classes)
        # The typed query interface rules read all of the above through.
        self.facts = Facts(self)
        # The value of each expression node, memoised for as long as the bindings it was
        # computed under stand (id of node -> (generation, node, value); the node is held so
        # that its id cannot be reused). A fluent chain `Builder().a().b()...` asks for its
        # receiver's value at every level, twice at some: without the memo that is exponential
        # in the chain's length. Anything that may change a binding starts a new generation.
        self._values: dict[int, tuple[int, cst.CSTNode, Value]] = {}
        self._generations = itertools.count(1)
        self._generation = 0
        # How many times the depth limit cut an evaluation short: a value computed under a cut
        # depends on how deep it was asked for, and is not memoised.
        self._depth_cuts = 0

    def get_visitors(self):
        visitors = super().get_visitors()
        return {name: method if name in _MEMO_KEEPING_CALLBACKS else self._invalidating(method)
                for name, method in visitors.items()}

    def _invalidating(self, method: Callable[[cst.CSTNode], None]
                      ) -> Callable[[cst.CSTNode], None]:
        def callback(node: cst.CSTNode) -> None:
            self.bindings_changed()
            method(node)
            self.bindings_changed()
        return callback

    def bindings_changed(self) -> None:
        """Forget the memoised values: a name, an attribute or a scope may now hold another.
        Generations are never reused, so one can be restored (`restore_generation`)."""
        self._generation = next(self._generations)

    def restore_generation(self, generation: int) -> None:
        """The bindings are exactly as they were in `generation` again (a comprehension's frame
        restored): the values memoised then hold again."""
        self._generation = generation

    def open_branches(self) -> tuple[tuple[cst.If, bool], ...]:
        """The `if` statements the walk is in, outermost first, each with whether the walk is in
        its else branch. Part of `LoopHost` and `ScopeHost`."""
        return tuple((branch.node, branch.in_else) for branch in self.branches)

    def is_no_grad_context(self, node: cst.BaseExpression) -> bool:
        """Whether a context manager or decorator (`torch.no_grad()`, `@torch.inference_mode`)
        turns gradients off."""
        target = node.func if isinstance(node, cst.Call) else node
        return self.qualified(target) in catalog.NO_GRAD_CONTEXTS

    def define_name(self, name: str, value: Value) -> None:
        """Part of `ScopeHost`: `name` holds `value` in the innermost frame."""
        self.frames[-1][name] = value

    def forget_module_name(self, name: str) -> None:
        """Part of `ScopeHost`: the module frame no longer binds `name`."""
        self.module_frame.pop(name, None)

    def function_local(self, name: str) -> Value | None:
        """Part of `BindingHost`: what the innermost frame, not the module's, binds `name` to."""
        frame = self.frames[-1]
        return frame[name] if name in frame and len(self.frames) > 1 else None

    def innermost_class(self) -> ClassState | None:
        """Part of `BindingHost`: the class the walk is in, innermost."""
        classes = self.scopes.classes
        return classes[-1] if classes else None

    def callee_key(self, node: cst.Call) -> str | None:
        """Part of `LoopHost`: the function of the file a call runs (`binding.py`)."""
        return self.binding.callee_key(node)

    @property
    def needs_hints(self) -> bool:
        """Whether another walk with `learned` as hints could see more: a call passed a known
        value to a function of this file, or a method read `self.x` (or called `self(x)`,
        `self.build()`) before the method that assigns it (or `forward`, `build`) was seen, or
        every call of a function gives a parameter its `if` tests the same constants."""
        return self.binding.needs_hints or self.scopes.needs_hints or \
            self.binding.constants_decide

    @property
    def in_no_grad(self) -> bool:
        return self.regions.no_grad or any(f.no_grad for f in self.scopes.functions)

    def qualified(self, node: cst.BaseExpression) -> str | None:
        return self.imports.qualified_name(node)

    def keras_input(self, call: cst.Call) -> tuple[Tag | None, cst.Arg | None]:
        """The model a Keras input call feeds and the data it gets: `model.fit(x, ...)` (also
        evaluate, predict, ...) or `model(inputs)`. The model is None when it is no module."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in catalog.KERAS_INPUT_METHODS:
            model, data = self.value(func.value), argument(call, 0, "x")
        else:
            model, data = self.value(func), argument(call, 0, "inputs")
        return first(model, MODULE), data

    def value(self, node: cst.BaseExpression) -> Value:
        # Generated code can nest expressions thousands deep (a 5,000-term sum): past a depth no
        # hand-written bug hides at, a value is simply unknown, and the rest of the file is
        # still analysed.
        known = self._values.get(id(node))
        if known is not None and known[0] == self._generation and known[1] is node:
            return known[2]
        if self.depth >= MAX_VALUE_DEPTH:
            self._depth_cuts += 1
            return EMPTY
        cuts = self._depth_cuts
        self.depth += 1
        try:
            result = self._value(node)
        finally:
            self.depth -= 1
        if cuts == self._depth_cuts:
            # Stored under the generation it ends in: an evaluation that binds on its way (a
            # comprehension's variables) restores the frame, and that ends a generation.
            self._values[id(node)] = (self._generation, node, result)
        return result

    def _value(self, node: cst.BaseExpression) -> Value:
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.Name):
            return self.lookup(node.value) or self._function_reference(node) \
                or self._loss_function_reference(node)
        if isinstance(node, cst.Attribute):
            return self._attribute(node) or self._loss_function_reference(node)
        if isinstance(node, cst.Subscript):
            inner = self.value(node.value)
            part = _tuple_part(inner, node)
            if part is not None:
                return self._walk_entries(part, node)
            frame = first(inner, DATAFRAME)
            if frame is not None:
                # frame["price"] is a column (a Series); frame[["price"]] is still a frame.
                columns = "frame" if any(isinstance(element.slice, cst.Index) and isinstance(
                    element.slice.value, cst.List) for element in node.slice) else "series"
                return frozenset({Tag(DATAFRAME, node, info=columns)}) | keep(inner, (RECORDS,))
            inner = without(inner, (MODULE, LOSS, TRANSFORM))
            if not all(isinstance(element.slice, cst.Slice) for element in node.slice):
                inner = without(inner, (LISTING,))  # files[i] is one file, not a listing
                inner = as_array(inner)  # images[i] is one of the images
            return self._indexed(inner, node)
        if isinstance(node, cst.BinaryOperation):
            return self._binary(node, self.value(node.left), node.operator, node.right)
        if isinstance(node, cst.Tuple) and 1 < len(node.elements) <= MAX_TUPLE and not any(
                isinstance(element, cst.StarredElement) for element in node.elements):
            elements = tuple(self.value(element.value) for element in node.elements)
            return frozenset({Tag(TUPLE, node, info=elements)}) if any(elements) else EMPTY
        if isinstance(node, cst.IfExp):
            return _join([self.value(node.body), self.value(node.orelse)], node.test)
        if isinstance(node, cst.BooleanOperation):
            return self.value(node.left) | self.value(node.right)
        if isinstance(node, cst.NamedExpr):
            return self.value(node.value)
        if isinstance(node, (cst.List, cst.ListComp, cst.GeneratorExp)):
            return self.sequence_value(node)
        if isinstance(node, cst.Await):
            return self.value(node.expression)
        if isinstance(node, cst.Lambda):
            return self._lambda_value(node)
        return EMPTY

    def _loss_function_reference(self, node: cst.Name | cst.Attribute) -> Value:
        """A library loss function named without a call (`self.loss_fn = F.cross_entropy`,
        `criterion = cross_entropy`) is that loss, held as a value: calling it later is calling
        the loss. A Keras loss whose activation depends on `from_logits=` at the call is left
        out: held, it cannot say what it wants."""
        qualified = self.imports.qualified_name(node)
        loss = catalog.LOSS_FUNCTIONS.get(qualified) if qualified else None
        if loss is None or loss.logits_flag:
            return EMPTY
        info = LossInfo(qualified, loss.wants, loss.display, loss.argument, loss.keyword)
        return frozenset({Tag(LOSS, node, qualified.rsplit(".", 1)[-1], info)})

    def _function_reference(self, node: cst.Name) -> Value:
        """A function of the file named without a call (`self.head = compute`, `fn=compute`)
        is a function held as a value, unless a scope binds the name to something else. It is one
        whether or not what it returns is known: a function has no train/eval modes."""
        if node.value not in self.scopes.local_functions or any(node.value in frame
                                                                for frame in self.frames):
            return EMPTY
        return frozenset({Tag(FUNCTION, node, node.value, self.scopes.local_functions[node.value])})

    def _lambda_value(self, node: cst.Lambda) -> Value:
        """A lambda is a function held as a value: calling it returns its body's value, read
        with its parameters unknown (they hide the enclosing names of the same spelling). It is a
        function even when what its body returns is unknown."""
        self.frames.append(_parameter_frame(node.params))
        try:
            returned = self.value(node.body)
        finally:
            self.frames.pop()
        return frozenset({Tag(FUNCTION, node, "lambda", returned)})

    # A lambda's body reads its own parameters, not the enclosing names they hide.
    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.frames.append(_parameter_frame(node.params))

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.frames.pop()

    def lookup(self, name: str) -> Value:
        # Innermost first: a nested function reads its enclosing functions' names (closures
        # over their parameters), then the module's.
        for frame in reversed(self.frames):
            if name in frame:
                return frame[name]
        return EMPTY

    def attribute_key(self, node: cst.BaseExpression) -> str | None:
        if (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name)
                and node.value.value == "self" and self.scopes.classes):
            return node.attr.value
        return None

    def bind(self, target: cst.BaseExpression, value: Value) -> None:
        self.bindings_changed()
        if isinstance(target, cst.Name):
            self.frames[-1][target.value] = value
            self._note_bound(target.value)
        elif isinstance(target, cst.Attribute):
            key = self.attribute_key(target)
            if key is not None:
                self.scopes.classes[-1].attributes[key] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            # `_, probabilities = discriminator(x)`: a tuple of known length binds by position.
            # A value joined from branches holds one tuple per branch: each position gets what
            # every tuple of that length holds there.
            parts = tuple_parts(value, len(target.elements))
            for index, element in enumerate(target.elements):
                self.bind(element.value, parts[index] if parts is not None and not isinstance(
                    element, cst.StarredElement) else EMPTY)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, EMPTY)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(isinstance(target.target, cst.Attribute) and target.target.attr.value == "grad"
               for target in node.targets):
            self.loop_events.record("zero_grad", node)  # p.grad = None

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
            rows = self.rows(iterated)  # for row in probabilities: each row is too
            if rows:
                self.bind(node.target, rows)
        outer = self.loop_listings[-1] if self.loop_listings else None
        # A walk whose body breaks unconditionally takes only its first step, the top folder
        # (as `next(os.walk(root))` does): no folder order reaches what the body collects; its
        # `dirs` and `files` keep their own.
        one_step = listing is not None and listing.info.walk and runs_once(node)
        self.loop_listings.append(listing if listing is not None and not listing.info.ordered
                                  and not one_step else outer)
        self.loop_events.enter_loop(node)
        self.reads.enter_for(node)

    def leave_For(self, original_node: cst.For) -> None:
        self.loop_listings.pop()
        self.loop_events.leave_loop()
        self.reads.leave_for(original_node)

    def visit_While(self, node: cst.While) -> None:
        self.loop_events.enter_loop(node)

    def leave_While(self, original_node: cst.While) -> None:
        self.loop_events.leave_loop()

    # Classes and functions: the scope component opens and sums them up; their frames and
    # parameters are the core's, their training events the loop component's.
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.enter_class(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scopes.leave_class()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        entry = self.scopes.enter_function(node)
        self.frames.append(self.binding.seed_parameters(node, entry.key, entry.is_method,
                                                        entry.defaults))
        self.parameter_constants.append(
            self.binding.parameter_constants(node, entry.key) if not entry.is_method else {})
        self._not_references.add(id(node.name))
        self.loop_events.enter_function()

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.frames.pop()
        self.parameter_constants.pop()
        self.loop_events.leave_function(self.scopes.leave_function())

    def visit_Return(self, node: cst.Return) -> None:
        if not self._in_dead_branch():
            self.scopes.record_return(node)

    def _in_dead_branch(self) -> bool:
        """Whether the walk is in a branch of the current function that no call takes: the
        body of an `if` decided false, or the else branch of one decided true."""
        function = self.scopes.current_function
        if function is None:
            return False
        return any(branch.decided is not None and branch.decided == branch.in_else
                   for branch in self.branches[function.branch_depth:])

    # Which names each loop reads (`reads.py`): every name, the nodes whose names are no
    # reads, and the bounds of loop bodies and else blocks.
    def visit_Name(self, node: cst.Name) -> None:
        self.reads.name(node)
        if node.value in self.top_functions and id(node) not in self._not_references:
            self.learned.escaping.add(node.value)  # handed on, not called: any call may come

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.reads.not_a_read(node)
        self._not_references.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        self.reads.not_a_read(node)
        if node.keyword is not None:
            self._not_references.add(id(node.keyword))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.reads.not_a_read(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.reads.leave_statement(original_node)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.reads.enter_block(node)
        self._enter_body(node)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.reads.leave_block(original_node)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self.reads.enter_block(node)
        self._enter_body(node)

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self.reads.leave_block(original_node)

    def leave_Else(self, original_node: cst.Else) -> None:
        self.reads.leave_block(original_node)

    def visit_With(self, node: cst.With) -> None:
        self.regions.enter_with(node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.regions.enter_handler(node)

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        self.regions.leave(original_node)

    def leave_With(self, original_node: cst.With) -> None:
        self.regions.leave(original_node)
        for item in original_node.items:
            if item.asname is not None:
                self.bind(item.asname.name, EMPTY)

    def visit_Call(self, node: cst.Call) -> None:
        self._not_references.add(id(node.func))
        self.loop_events.record_call(node)
        self.binding.record_call_site(node)
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == "sort":
                listing = first(self.value(func.value), LISTING)
                if listing is not None:
                    self.bind(func.value, frozenset({Tag(LISTING, node, listing.detail,
                                                         ListingInfo(listing.info.function, True))}))
            elif method in GROWING and node.args and has(
                    self.value(func.value), MODULE):
                self._grow_sequential(func.value, node)
            elif method in ("eval", "train") and isinstance(func.value, cst.Name) and has(
                    self.value(func.value), MODULE):
                # The switch is in place: after `model.eval()`, `return model` hands on a model
                # in eval mode.
                self.bind(func.value, with_module_mode(self.value(func.value),
                                                       mode_switch(node) == "eval"))
            elif method in ("append", "extend", "insert") and self.loop_listings and \
                    self.loop_listings[-1] is not None and not has(self.value(func.value), LISTING):
                # A list filled while iterating a listing inherits its order.
                self.bind(func.value, self.value(func.value) | {self.loop_listings[-1]})
            if method in ("append", "extend") and node.args:
                # images.append(load(p)): the list holds what load returns, for np.stack(images).
                added = self.value(node.args[0].value)
                added = list_of(node, added if method == "append" else elements_of(added))
                if added:
                    self.bind(func.value, self.value(func.value) | added)
        # Functional dropout or batch norm anywhere in a class makes its modes differ.
        if self.scopes.classes:
            qualified = self.qualified(node.func)
            if qualified in catalog.MODE_DEPENDENT_FUNCTIONS and \
                    not _dropout_always_off(node, qualified):
                self.scopes.add_mode_evidence(
                    f"{qualified.rsplit('.', 1)[1]} in {self.scopes.classes[-1].name}")

    def _top_function(self) -> str | None:
        """The top-level function of the file the walk is directly in (not in a function or
        class nested in it)."""
        function = self.scopes.current_function
        if function is None or len(self.scopes.functions) > 1 or self.scopes.classes or \
                function.name not in self.top_functions:
            return None
        return function.name

    def _note_bound(self, name: str) -> None:
        """A top-level function binds `name` again: a test on it is no longer decided by what
        the calls pass."""
        function = self._top_function()
        if function is not None:
            self.learned.assigned.setdefault(function, set()).add(name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if isinstance(node.target, cst.Name):
            self._note_bound(node.target.value)

    def visit_Del(self, node: cst.Del) -> None:
        for name in names_in(node.target):
            self._note_bound(name.value)

    def visit_If(self, node: cst.If) -> None:
        if self.branches and self.branches[-1].node.orelse is node:
            self._enter_else()  # an elif is the else branch of the enclosing if
        function = self._top_function()
        if function is not None:
            self.learned.tested.setdefault(function, set()).update(
                name.value for name in names_in(node.test))
        state = self.scopes.classes[-1] if self.scopes.classes else None
        # Where the test fails (the else branch, or past an `if` whose body returns), what it
        # tested is known not to hold: `before` is that path's frame.
        before = dict(self.frames[-1])
        _narrow(before, node.test, False, self.qualified)
        constants = self.parameter_constants[-1] if self.parameter_constants and \
            len(self.frames) > 1 else {}
        self.branches.append(_Branch(node, before, _leaves(node.body), state=state,
                                     attributes_before=dict(state.attributes) if state else {},
                                     decided=decided(node.test, constants) if constants
                                     else None))

    def _enter_body(self, node: cst.BaseSuite) -> None:
        """The body of the innermost `if` starts: what its test checked holds there."""
        if self.branches and self.branches[-1].node.body is node and _narrow(
                self.frames[-1], self.branches[-1].node.test, True, self.qualified):
            self.bindings_changed()

    def leave_Assert(self, original_node: cst.Assert) -> None:
        """After `assert image.dtype == np.float32`, the image is float32."""
        _narrow(self.frames[-1], original_node.test, True, self.qualified)

    def visit_Else(self, node: cst.Else) -> None:
        self.reads.enter_block(node)
        if self.branches and self.branches[-1].node.orelse is node:
            self._enter_else()

    def _enter_else(self) -> None:
        branch = self.branches[-1]
        frame = self.frames[-1]
        branch.after_body = None if branch.body_leaves else dict(frame)
        branch.in_else = True
        frame.clear()
        frame.update(branch.before)
        if branch.state is not None:  # `self.x` set in the body is not set in the else branch
            attributes = branch.state.attributes
            branch.attributes_after_body = None if branch.body_leaves else dict(attributes)
            attributes.clear()
            attributes.update(branch.attributes_before)

    def leave_If(self, original_node: cst.If) -> None:
        """After `if`, a name holds what any branch that falls through may have bound:
        `model = Net()` then `if resume: model = torch.load(p)` is either."""
        branch = self.branches.pop()
        frame = self.frames[-1]
        ends = _reaching_ends(branch, original_node, frame, branch.before, branch.after_body)
        if not ends:
            return  # every branch leaves: what follows is unreachable from here
        # In the order the branches bound them, not a set's (which changes with the hash seed):
        # what iterates the frame or the class's attributes later sees the same order every run.
        names = dict.fromkeys(name for end in ends for name in end)
        merged = {name: _join([end.get(name, EMPTY) for end in ends], original_node.test)
                  for name in names}
        frame.clear()
        frame.update(merged)
        self._join_attributes(branch, original_node)

    def _join_attributes(self, branch: _Branch, node: cst.If) -> None:
        """`self.x` after `if`, like a name: what any branch that falls through set
        (`if conditional: self.d_logits, self.d = ... else: self.d, self.d_logits = ...`)."""
        state = branch.state
        if state is None or not self.scopes.classes or self.scopes.classes[-1] is not state:
            return
        attributes = state.attributes
        ends = _reaching_ends(branch, node, attributes, branch.attributes_before,
                              branch.attributes_after_body)
        if not ends:
            return
        keys = dict.fromkeys(key for end in ends for key in end)  # an order the same every run
        merged = {key: _join([end.get(key, EMPTY) for end in ends], node.test) for key in keys}
        attributes.clear()
        attributes.update(merged)


# `if not is_training: out = tf.nn.softmax(out)`: an activation applied only outside training is
# the deliberate way to give a logits loss logits and callers probabilities.
_TRAINING_FLAG = re.compile(r"^(is_)?train(ing)?$|^mode$|^deterministic$")
_ACTIVATIONS = (PROBABILITIES, LOG_PROBABILITIES)


def _join(values: list[Value], test: cst.BaseExpression) -> Value:
    """What a value is after a branch join: any branch's value, except that an activation
    applied in only some branches of a test on a training flag is not carried on, and neither
    is a scaling to [0, 1] done in only some branches of a test on the dtype or the range
    (`if image.max() > 1: image = image / 255`): the pixels are then only maybe scaled, and a
    later scaling may be the one that counts."""
    joined = frozenset().union(*values)
    if any(not has(value, kind) for value in values for kind in _ACTIVATIONS
           if has(joined, kind)) and (_tests_training_flag(test) or _tests_scale(joined, test)):
        joined = without(joined, _ACTIVATIONS)
    if has(joined, UNIT_SCALED) and not all(has(value, UNIT_SCALED) for value in values) \
            and inspects_dtype_or_range(test):
        joined = without(joined, (UNIT_SCALED, UNIT_RANGE))
    return joined


def _tests_scale(joined: Value, test: cst.BaseExpression) -> bool:
    """`if self.scale: scores = scores * self.scale` after an activation: the branch that
    rescaled tests whether the scale is set, so the scores go on as the activation only where no
    scale was configured at all; the scaled scores are the design, not the activation."""
    scales = {tag.info for tag in joined if tag.kind == RESCALED and tag.info}
    return bool(scales) and any(isinstance(node, (cst.Name, cst.Attribute))
                                and dotted_name(node) in scales for node in _nodes_in(test))


def _tests_training_flag(test: cst.BaseExpression) -> bool:
    return any(isinstance(node, cst.Name) and _TRAINING_FLAG.match(node.value)
               or isinstance(node, cst.Attribute) and _TRAINING_FLAG.match(node.attr.value)
               for node in _nodes_in(test))


def _nodes_in(node: cst.CSTNode):
    yield node
    for child in children(node):
        yield from _nodes_in(child)


def _reaching_ends(branch: _Branch, node: cst.If, current: dict[str, Value],
                   before: dict[str, Value], after_body: dict[str, Value] | None
                   ) -> list[dict[str, Value]]:
    """The bindings at the end of each branch of `node` that reaches what follows it
    (`current`: where the walk is, at the end of the last branch walked). A branch reaches it
    unless it ends in return/raise/continue/break, or its test is decided the other way
    (`_Branch.decided`)."""
    body_taken, else_taken = branch.decided is not False, branch.decided is not True
    ends: list[dict[str, Value]] = []
    if branch.in_else:
        if after_body is not None and body_taken:
            ends.append(after_body)
        if else_taken and not _leaves(node.orelse.body if isinstance(node.orelse, cst.Else)
                                      else None):
            ends.append(dict(current))
    else:
        if body_taken and not branch.body_leaves:
            ends.append(dict(current))
        if else_taken:
            ends.append(before)
    return ends


def _narrow(frame: dict[str, Value], test: cst.BaseExpression, holds: bool,
            qualify: Callable[[cst.BaseExpression], str | None]) -> bool:
    """Drop, from the names of `frame` whose dtype `test` checks, the dtype tags that
    contradict what it says where it `holds` (True) or fails (False): in the float branch of
    `if image.dtype == np.uint8: ... else: ...` the image is no uint8. Whether any changed."""
    changed = False
    for name, buckets in dtype_narrowings(test, holds, qualify):
        value = frame.get(name)
        if not value:
            continue
        contradicted = [kind for kind, bucket in ((UINT8, UINT8_BUCKET), (FLOAT64, FLOAT64_BUCKET))
                        if bucket not in buckets and has(value, kind)]
        if contradicted:
            frame[name] = without(value, contradicted)
            changed = True
    return changed


@dataclass
class _Branch:
    node: cst.If
    before: dict[str, Value]
    body_leaves: bool  # the body ends in return/raise/continue/break: it never reaches the join
    after_body: dict[str, Value] | None = None
    in_else: bool = False
    # The class whose `self.x` the branches may set, and those attributes before and after the
    # body, joined at the end like names.
    state: ClassState | None = None
    attributes_before: dict[str, Value] = field(default_factory=dict)
    attributes_after_body: dict[str, Value] | None = None
    # The test's truth where it reads only parameters every call gives the same constants
    # (`conditions.decided`): the branch it rules out reaches nothing. None: not decided.
    decided: bool | None = None


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
    if project is not None and context.imports.stars:
        context.imports.star_aliases = project.star_aliases(context.imports.stars, context.path)
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


def _parameter_frame(params: cst.Parameters) -> dict[str, Value]:
    """Every parameter a function or lambda takes, bound to nothing known."""
    frame: dict[str, Value] = {
        param.name.value: EMPTY
        for param in (*params.posonly_params, *params.params, *params.kwonly_params)}
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            frame[star.name.value] = EMPTY
    return frame


def _dropout_always_off(node: cst.Call, qualified: str) -> bool:
    """`F.dropout(x, training=False)` or `F.dropout(x, p=0.0)`: a constant that turns the
    functional dropout off in both modes, so it gives its class no mode to get right."""
    position = catalog.FUNCTIONAL_DROPOUTS.get(qualified)
    if position is None:
        return False
    training = argument(node, position, "training")
    if training is not None and isinstance(training.value, cst.Name) and \
            training.value.value == "False":
        return True
    probability = argument(node, 1, "p")
    return probability is not None and number(probability.value) == 0.0

