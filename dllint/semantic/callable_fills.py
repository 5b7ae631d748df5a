"""What each function of a file fills in place: the tensors it is handed, and its instance's.

A fill is an in-place initialiser (`t.uniform_(-b, b)`, `t.data.zero_()`, `t[:k].fill_(1)`,
`t.copy_(src)`) or a `torch.nn.init.*` call on a tensor. A function fills what it fills itself
and what the callables it calls fill of what it hands them: a function of the file
(`init_embedding(emb)`), a method of its own instance (`self.reset_parameters()`,
`self._init(self.bias)`, defined by the class or a base class of the file, or by a base class
of another file of the project), a function of another file (through `resolve_function`), or
a `functools.partial` of any of these bound to a name or to an attribute of the instance
(`self.init = partial(init_uniform, scale=s)`, then `self.init(self.bias)`).

A fill of each element of a container fills the container: `for p in self.table.values():
nn.init.xavier_uniform_(p)` fills `self.table` (so does a loop over the container itself, its
`items()`, `enumerate(...)` of it, a comprehension, or `map(nn.init.zeros_, table)`). A fill of
each of `self.parameters()` (`named_parameters()`) fills every parameter of the instance: the
code `ALL_PARAMETERS`.

Paths do not matter: a fill under a condition, in a loop, in a `try` or an `except` counts, as
does one in the branch a configuration always takes: a tensor is "never filled" only when no
path of the function, or of what it calls, fills it. A method nobody calls fills nothing.

The results key each function by its node (`codes_filled`), and, for the project's summaries,
by name (`exported`): `function` or `Class.method` -> (positions of the positional parameters
it fills, counted without `self`; attributes of `self` it fills).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import ImportMap
from dllint.semantic.init_hooks import FILL_GATE, filled_tensor
from dllint.walk import CachedVisitorNames, walk

# A callable as a call names it: ("function", name) of the file or imported,
# ("method", name) of the instance, ("bound", code) a name or attribute bound to a partial.
Callee = tuple[str, str]
# What a callable of another file fills: (positions of its positional parameters, attributes
# of its instance).
Fills = tuple[frozenset[int], frozenset[str]]
NO_FILLS: Fills = (frozenset(), frozenset())

PARTIAL = "functools.partial"
# What a fill of each of `self.parameters()` fills: every parameter of the instance (exported as
# the attribute `parameters()`).
ALL_PARAMETERS = "self.parameters()"
# (element name, container code) of an open loop: `for p in self.table.values()`.
Loop = tuple[str, str]
# Passes over the calls: a fill handed from helper to helper is followed this many calls deep,
# so the work stays linear in the calls.
MAX_PASSES = 6


@dataclass
class _Call:
    callee: Callee
    positional: list[str | None]  # the code of each positional argument
    keywords: dict[str, str]
    qualified: str | None  # the imported name the callee stands for, if any
    loops: tuple[Loop, ...] = ()  # the loops open at the call, outermost first


@dataclass
class _Partial:
    """`partial(target, *bound, **keywords)`: a call of it is a call of the target with the
    bound arguments first."""
    target: Callee
    qualified: str | None
    bound: int
    keywords: frozenset[str]


@dataclass
class _Function:
    key: str | None  # `f` or `Class.method` (None: nested, or the module)
    params: list[str]  # positional parameters, without the instance's
    owner: "_Class | None"  # the top-level class it is a method of (not a static one)
    filled: set[str] = field(default_factory=set)
    calls: list[_Call] = field(default_factory=list)
    partials: dict[str, _Partial] = field(default_factory=dict)  # local names


@dataclass
class _Class:
    methods: dict[str, _Function] = field(default_factory=dict)
    file_bases: list[str] = field(default_factory=list)  # base classes of the file, by name
    imported_bases: list[str] = field(default_factory=list)  # qualified names
    layer_base: bool = False  # derives from a torch layer (nn.Linear)
    partials: dict[str, _Partial] = field(default_factory=dict)  # `self.init` -> partial


def _code(module: cst.Module, node: cst.BaseExpression) -> str:
    code = module.code_for_node(filled_tensor(node)).strip()
    return code[:-len(".data")] if code.endswith(".data") else code


def _container(module: cst.Module, iterable: cst.BaseExpression,
               paired: bool) -> str | None:
    """The code of the container whose elements iterating `iterable` yields: `self.table` for
    `self.table.values()` or `self.table`, `ALL_PARAMETERS` for `self.parameters()`; with
    `paired`, the iterable yields (key, element) pairs (`.items()`, `named_parameters()`)."""
    method = None
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute) and \
            not any(arg.star or arg.keyword is None for arg in iterable.args):
        method = iterable.func.attr.value
        iterable = iterable.func.value
    if method is None:
        is_pairs = False
    elif method in ("values", *catalog.PARAMETER_ITERATORS):
        is_pairs = False
    elif method in ("items", *catalog.NAMED_PARAMETER_ITERATORS):
        is_pairs = True
    else:
        return None
    if is_pairs != paired or not isinstance(iterable, (cst.Name, cst.Attribute, cst.Subscript)):
        return None
    if isinstance(iterable, cst.Name) and iterable.value == "self" and (
            method in catalog.PARAMETER_ITERATORS or method in catalog.NAMED_PARAMETER_ITERATORS):
        return ALL_PARAMETERS
    return _code(module, iterable)


def loop_element(module: cst.Module, target: cst.BaseExpression,
                 iterable: cst.BaseExpression) -> Loop | None:
    """(element name, container code) of `for target in iterable` when each pass binds one
    element of a container (see `_container`), also through `enumerate(...)`."""
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and \
            iterable.func.value == "enumerate" and len(iterable.args) == 1 and \
            not iterable.args[0].star and iterable.args[0].keyword is None:
        if not (isinstance(target, cst.Tuple) and len(target.elements) == 2):
            return None
        return loop_element(module, target.elements[1].value, iterable.args[0].value)
    if isinstance(target, cst.Name):
        container = _container(module, iterable, paired=False)
        return (target.value, container) if container is not None else None
    if isinstance(target, cst.Tuple) and len(target.elements) == 2 and \
            isinstance(target.elements[1].value, cst.Name):
        container = _container(module, iterable, paired=True)
        return (target.elements[1].value.value, container) if container is not None else None
    return None


def with_containers(code: str, loops: tuple[Loop, ...] | list[Loop]) -> set[str]:
    """`code` and the containers the open loops took it from, through nested loops."""
    codes = {code}
    for element, container in reversed(loops):
        if element in codes:
            codes.add(container)
    return codes


class _Collector(CachedVisitorNames, cst.BatchableCSTVisitor):
    def __init__(self, module: cst.Module, imports: ImportMap) -> None:
        super().__init__()
        self.module = module
        self.imports = imports
        self.module_function = _Function(None, [], None)
        self.functions: dict[int, _Function] = {id(module): self.module_function}
        self.top_level: dict[str, _Function] = {}
        self.classes: dict[str, _Class] = {}
        self.open: list[_Function] = [self.module_function]
        self.open_classes: list[tuple[str, _Class, int]] = []  # name, class, functions open
        # The loops (and comprehensions' clauses) open, outermost first, that bind an element
        # of a container; how many each open comprehension pushed.
        self.loops: list[Loop] = []
        self.comprehension_loops: list[int] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        found = _Class()
        for base in node.bases:
            if isinstance(base.value, cst.Name) and base.value.value in self.classes:
                found.file_bases.append(base.value.value)
                continue
            qualified = self.imports.qualified_name(base.value)
            if qualified is not None:
                found.imported_bases.append(qualified)
                found.layer_base = found.layer_base or \
                    catalog.layer_base_modes(qualified) is not None
        if not self.open_classes and len(self.open) == 1:
            self.classes[node.name.value] = found
        self.open_classes.append((node.name.value, found, len(self.open)))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.open_classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = [param.name.value for param in (*node.params.posonly_params,
                                                  *node.params.params)]
        is_method = bool(self.open_classes) and self.open_classes[-1][2] == len(self.open)
        static = any(isinstance(decorator.decorator, cst.Name)
                     and decorator.decorator.value == "staticmethod"
                     for decorator in node.decorators)
        key, owner = None, None
        if is_method:
            class_name, owner, _ = self.open_classes[-1]
            if self.classes.get(class_name) is not owner:
                owner = None  # a class inside a function: not summarised
            key = f"{class_name}.{node.name.value}" if owner is not None else None
            if not static:
                params = params[1:]  # self (cls)
        elif len(self.open) == 1:
            key = node.name.value
        function = _Function(key, params, owner if not static else None)
        if is_method and owner is not None:
            owner.methods[node.name.value] = function
        elif len(self.open) == 1:
            self.top_level[node.name.value] = function
        self.functions[id(node)] = function
        self.open.append(function)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.open.pop()

    def visit_For(self, node: cst.For) -> None:
        found = loop_element(self.module, node.target, node.iter)
        self.loops.append(found if found is not None else ("", ""))

    def leave_For(self, original_node: cst.For) -> None:
        self.loops.pop()

    def _enter_comprehension(self, node: cst.BaseComp | cst.DictComp) -> None:
        """The element expression is walked before the `for` clauses: bind them all first."""
        clause, pushed = node.for_in, 0
        while clause is not None:
            found = loop_element(self.module, clause.target, clause.iter)
            self.loops.append(found if found is not None else ("", ""))
            pushed += 1
            clause = clause.inner_for_in
        self.comprehension_loops.append(pushed)

    def _leave_comprehension(self) -> None:
        del self.loops[len(self.loops) - self.comprehension_loops.pop():]

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._enter_comprehension(node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._leave_comprehension()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._enter_comprehension(node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._leave_comprehension()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._enter_comprehension(node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._leave_comprehension()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._enter_comprehension(node)

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self._leave_comprehension()

    def _fill(self, function: _Function, node: cst.BaseExpression) -> None:
        """`node` is filled in place, and so is each container an open loop took it from."""
        function.filled |= with_containers(_code(self.module, node), self.loops)

    def _callee(self, func: cst.BaseExpression) -> tuple[Callee, str | None] | None:
        if isinstance(func, cst.Name):
            if func.value in self.open[-1].partials or func.value in self.module_function.partials:
                return ("bound", func.value), None
            return ("function", func.value), self.imports.qualified_name(func)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self":
            return ("method", func.attr.value), None
        qualified = self.imports.qualified_name(func)
        if isinstance(func, cst.Attribute) and qualified is not None:  # utils.init_uniform
            return ("function", qualified), qualified
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if not (isinstance(value, cst.Call) and value.args and not value.args[0].keyword
                and not value.args[0].star and self.imports.call_name(value) == PARTIAL):
            return
        if any(arg.star for arg in value.args[1:]):
            return
        found = self._callee(value.args[0].value)
        if found is None:
            return
        bound = _Partial(found[0], found[1],
                         sum(1 for arg in value.args[1:] if arg.keyword is None),
                         frozenset(arg.keyword.value for arg in value.args[1:]
                                   if arg.keyword is not None))
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.open[-1].partials[target.target.value] = bound
            elif isinstance(target.target, cst.Attribute) and isinstance(
                    target.target.value, cst.Name) and target.target.value.value == "self" \
                    and self.open_classes:
                self.open_classes[-1][1].partials[target.target.attr.value] = bound

    def visit_Call(self, node: cst.Call) -> None:
        function = self.open[-1]
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in catalog.IN_PLACE_INITIALISERS:
            filled = func.value
            while isinstance(filled, cst.Call) and isinstance(filled.func, cst.Attribute) and \
                    filled.func.attr.value in catalog.DEVICE_MOVING_METHODS:
                filled = filled.func.value  # torch.LongTensor(1).cuda().fill_(label)
            self._fill(function, filled)
        qualified = self.imports.call_name(node)
        if catalog.is_init_fill(qualified) and node.args:
            self._fill(function, node.args[0].value)
            return
        if any(arg.star for arg in node.args):
            return  # what lands where is not known
        if qualified == "builtins.map" and len(node.args) == 2 and \
                not any(arg.keyword is not None for arg in node.args):
            self._map(function, node.args[0].value, node.args[1].value)
            return
        found = self._callee(func)
        if found is None:
            return
        callee, imported = found
        if callee[0] == "method" and callee[1] in self._class_partials():
            callee = ("bound", f"self.{callee[1]}")
        elif callee[0] != "method" and not node.args:
            return  # a function handed nothing fills nothing of the caller's
        function.calls.append(_Call(
            callee, [_code(self.module, arg.value) for arg in node.args if arg.keyword is None],
            {arg.keyword.value: _code(self.module, arg.value) for arg in node.args
             if arg.keyword is not None}, imported, tuple(self.loops)))

    def _map(self, function: _Function, mapped: cst.BaseExpression,
             iterable: cst.BaseExpression) -> None:
        """`map(nn.init.zeros_, self.table.values())`: the function called on each element
        of a container, as a loop over it would call it."""
        container = _container(self.module, iterable, paired=False)
        if container is None or not isinstance(mapped, (cst.Name, cst.Attribute)):
            return
        if catalog.is_init_fill(self.imports.qualified_name(mapped)):
            function.filled |= with_containers(container, self.loops)
            return
        found = self._callee(mapped)
        if found is not None:
            function.calls.append(_Call(found[0], [container], {}, found[1], tuple(self.loops)))

    def _class_partials(self) -> dict[str, _Partial]:
        return self.open_classes[-1][1].partials if self.open_classes else {}


class CallableFills:
    """The fills of a file's functions (see the module's docstring), resolved through calls.
    `resolve_function(qualified)` and `resolve_method(qualified_class, method)` answer for
    callables of other files of the project; without them only the file's own count."""

    def __init__(self, module: cst.Module, imports: ImportMap,
                 resolve_function: Callable[[str], Fills] | None = None,
                 resolve_method: Callable[[str, str], Fills] | None = None) -> None:
        collector = _Collector(module, imports)
        walk(module, [collector])
        self._collector = collector
        self._resolve_function = resolve_function
        self._resolve_method = resolve_method
        self._functions: dict[str, Fills] = {}
        self._methods: dict[tuple[str, str], Fills] = {}
        for _ in range(MAX_PASSES):
            if not self._pass():
                break

    def codes_filled(self, node: cst.CSTNode) -> frozenset[str]:
        """The code of each tensor a function (the module, for the module's node) fills, on
        any path: `self.weight`, `embeddings`."""
        function = self._collector.functions.get(id(node))
        return frozenset(function.filled) if function is not None else frozenset()

    def exported(self) -> dict[str, Fills]:
        """`function` or `Class.method` -> what it fills of its parameters and instance."""
        found: dict[str, Fills] = {}
        for function in self._collector.functions.values():
            if function.key is None:
                continue
            fills = self._own(function)
            if fills[0] or fills[1]:
                found[function.key] = fills
        return found

    @staticmethod
    def _own(function: _Function) -> Fills:
        positions = frozenset(position for position, name in enumerate(function.params)
                              if name in function.filled)
        attributes = frozenset(code[len("self."):] for code in function.filled
                               if function.owner is not None and code.startswith("self.")
                               and code.count(".") == 1)
        return positions, attributes

    def _pass(self) -> bool:
        added = False
        for function in list(self._collector.functions.values()):
            for call in function.calls:
                for handed in self._filled_by(function, call):
                    if handed is None:
                        continue
                    for code in with_containers(handed, call.loops):
                        if code not in function.filled:
                            function.filled.add(code)
                            added = True
        return added

    def _filled_by(self, caller: _Function, call: _Call) -> set[str | None]:
        """The codes of the caller's tensors a call fills."""
        callee, positional, keywords, qualified = (call.callee, list(call.positional),
                                                   dict(call.keywords), call.qualified)
        if callee[0] == "bound":
            bound = self._partial(caller, callee[1])
            if bound is None:
                return set()
            callee, qualified = bound.target, bound.qualified
            positional = [None] * bound.bound + positional
        fills, params = self._fills_of(caller, callee, qualified)
        codes: set[str | None] = {positional[position] for position in fills[0]
                                  if position < len(positional)}
        codes |= {keywords[params[position]] for position in fills[0]
                  if params is not None and position < len(params)
                  and params[position] in keywords}
        if callee[0] == "method" and caller.owner is not None:
            codes |= {f"self.{attribute}" for attribute in fills[1]}
        return codes

    def _partial(self, caller: _Function, code: str) -> _Partial | None:
        if code.startswith("self."):
            owner = caller.owner
            return owner.partials.get(code[len("self."):]) if owner is not None else None
        return caller.partials.get(code) or self._collector.module_function.partials.get(code)

    def _fills_of(self, caller: _Function, callee: Callee,
                  qualified: str | None) -> tuple[Fills, list[str] | None]:
        """What a callee fills, and its positional parameters when known."""
        kind, name = callee
        if kind == "function":
            local = self._collector.top_level.get(name)
            if local is not None:
                return self._own(local), local.params
            if qualified is not None and self._resolve_function is not None:
                return self._imported_function(qualified), None
            return NO_FILLS, None
        # The class's own method first, then its bases of the file, nearest first.
        todo, seen = ([caller.owner] if caller.owner is not None else []), set()
        while todo:
            owner = todo.pop(0)
            if id(owner) in seen:
                continue
            seen.add(id(owner))
            method = owner.methods.get(name)
            if method is not None:
                return self._own(method), method.params
            if self._resolve_method is not None:
                for base in owner.imported_bases:
                    fills = self._imported_method(base, name)
                    if fills[0] or fills[1]:
                        return fills, None
            if owner.layer_base and name == "reset_parameters":
                # nn.Linear's (nn.Conv2d's, nn.Embedding's) own reset_parameters fills the
                # weight and bias the subclass assigned again.
                return (frozenset(), frozenset({"weight", "bias"})), []
            todo.extend(self._collector.classes[base] for base in owner.file_bases
                        if base in self._collector.classes)
        return NO_FILLS, None

    def _imported_function(self, qualified: str) -> Fills:
        if qualified not in self._functions:
            self._functions[qualified] = self._resolve_function(qualified)
        return self._functions[qualified]

    def _imported_method(self, qualified_class: str, method: str) -> Fills:
        key = (qualified_class, method)
        if key not in self._methods:
            self._methods[key] = self._resolve_method(qualified_class, method)
        return self._methods[key]


def exported_fills(module: cst.Module, text: str, imports: ImportMap) -> dict[str, Fills]:
    """What each function and method of a file fills (`CallableFills.exported`), for the
    project's summaries; {} without a walk when the text names no fill."""
    if FILL_GATE.search(text) is None:
        return {}
    return CallableFills(module, imports).exported()
