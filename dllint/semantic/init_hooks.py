"""Init hooks: what each function of a file fills in place on the modules it receives.

`def _init_weights(self, module): if isinstance(module, Attention): module.r_w_bias.data.normal_()`
fills the `r_w_bias` of every `Attention` the model applies it to (`self.apply(self._init_weights)`);
`def weights_init(m): nn.init.xavier_uniform_(m.weight)` fills the `weight` of any module. DL304
reads these fills for the file it lints, and the project summaries carry them, so a hook defined
in another file (`model.apply(init_weights)` with `init_weights` imported, or an `_init_weights`
inherited from a base class of another file) counts where the tensor is made.

A fill is (class, attribute): the class an `isinstance(module, Class)` test around it names (by
its last name), or None where no such test guards it (`hasattr(m, "r_w_bias")`). A hook may
dispatch on the class's name instead (`classname = m.__class__.__name__`, then
`classname.find('Linear') != -1`, `'Conv' in classname`, `classname == 'Embedding'`,
`classname.startswith('Norm')`): the class is then a pattern, `*Linear*` for a part of the name,
`Norm*` for its start (see `class_matches`). A hook that hands the attribute to a helper of the
file that fills its parameter (`init_weight(m.weight)` with `nn.init.normal_(weight)` in
`init_weight`) fills it as well.
"""

from __future__ import annotations

import re

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import ImportMap
from dllint.walk import CachedVisitorNames, walk

Fill = tuple[str | None, str]

# Text a file must hold to fill anything in place: a cheap gate before the walk.
FILL_GATE = re.compile("|".join(
    [re.escape(f"{method}(") for method in sorted(catalog.IN_PLACE_INITIALISERS)]
    + [r"init\."]))


def filled_tensor(node: cst.BaseExpression) -> cst.BaseExpression:
    """The tensor a fill writes into: `self.weight` for `self.weight.data[:, k]` or
    `w.data[:k]`. Filling it piece by piece (`w[:k].fill_(0)`, `w[k:].fill_(1)`) is the
    author's explicit initialisation of that tensor."""
    while True:
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "data":
            node = node.value
        else:
            return node


def isinstance_classes(test: cst.BaseExpression) -> tuple[str, ...]:
    """`Attention` for `isinstance(module, Attention)`, each class of a tuple, by its last
    name (`nn.Linear` -> `Linear`); () for any other test."""
    if not (isinstance(test, cst.Call) and isinstance(test.func, cst.Name)
            and test.func.value == "isinstance" and len(test.args) == 2):
        return ()
    classes = test.args[1].value
    parts = [element.value for element in classes.elements] if isinstance(
        classes, cst.Tuple) else [classes]
    names = tuple(part.attr.value if isinstance(part, cst.Attribute) else part.value
                  for part in parts if isinstance(part, (cst.Attribute, cst.Name)))
    return names if len(names) == len(parts) else ()


def class_matches(pattern: str | None, class_name: str | None) -> bool:
    """Whether a fill's class (`Attention`, `*Linear*`, `Norm*`, None for any) takes in the
    class `class_name` (None: a class not known, which only a fill for any class takes in)."""
    if pattern is None:
        return True
    if class_name is None:
        return False
    if len(pattern) > 2 and pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in class_name
    if len(pattern) > 1 and pattern.endswith("*"):
        return class_name.startswith(pattern[:-1])
    return pattern == class_name


def _is_class_name_of(node: cst.BaseExpression, received: set[str]) -> bool:
    """`m.__class__.__name__` or `type(m).__name__`, `m` a parameter of the function."""
    if not (isinstance(node, cst.Attribute) and node.attr.value == "__name__"):
        return False
    owner = node.value
    if isinstance(owner, cst.Attribute) and owner.attr.value == "__class__":
        return isinstance(owner.value, cst.Name) and owner.value.value in received
    return isinstance(owner, cst.Call) and isinstance(owner.func, cst.Name) and \
        owner.func.value == "type" and len(owner.args) == 1 and \
        isinstance(owner.args[0].value, cst.Name) and owner.args[0].value.value in received


def class_name_patterns(test: cst.BaseExpression, is_class_name) -> tuple[str, ...]:
    """The class patterns a test on the class's name keeps (see `class_matches`):
    `name.find('Linear') != -1` and `'Linear' in name` -> `*Linear*`, `name == 'Linear'` ->
    `Linear`, `name.startswith('Norm')` -> `Norm*`; `a or b` keeps both sides'. () for any
    other test, and for one that keeps a class only by what its name lacks."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        left = class_name_patterns(test.left, is_class_name)
        right = class_name_patterns(test.right, is_class_name)
        return left + right if left and right else ()
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) and \
            test.func.attr.value == "startswith" and is_class_name(test.func.value) and \
            len(test.args) == 1 and isinstance(test.args[0].value, cst.SimpleString):
        prefix = test.args[0].value.evaluated_value
        return (f"{prefix}*",) if isinstance(prefix, str) and prefix else ()
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return ()
    left, target = test.left, test.comparisons[0]
    operator, right = target.operator, target.comparator
    if isinstance(operator, cst.In) and isinstance(left, cst.SimpleString) and \
            is_class_name(right):
        part = left.evaluated_value
        return (f"*{part}*",) if isinstance(part, str) and part else ()
    if isinstance(operator, cst.Equal) and isinstance(right, cst.SimpleString) and \
            is_class_name(left):
        name = right.evaluated_value
        return (name,) if isinstance(name, str) and name else ()
    if isinstance(operator, (cst.NotEqual, cst.GreaterThan, cst.GreaterThanEqual)) and \
            isinstance(left, cst.Call) and isinstance(left.func, cst.Attribute) and \
            left.func.attr.value == "find" and is_class_name(left.func.value) and \
            len(left.args) == 1 and isinstance(left.args[0].value, cst.SimpleString):
        # `name.find('Linear') != -1` (or `>= 0`): the part occurs in the name
        bound = right.expression if isinstance(right, cst.UnaryOperation) and isinstance(
            right.operator, cst.Minus) else None
        found = (isinstance(operator, cst.NotEqual) and isinstance(bound, cst.Integer)
                 and bound.value == "1") or (
            isinstance(operator, cst.GreaterThanEqual) and isinstance(right, cst.Integer)
            and right.value == "0") or (
            isinstance(operator, cst.GreaterThan) and isinstance(bound, cst.Integer)
            and bound.value == "1")
        part = left.args[0].value.evaluated_value
        return (f"*{part}*",) if found and isinstance(part, str) and part else ()
    return ()


class InitHookFills(CachedVisitorNames, cst.BatchableCSTVisitor):
    """The fills of each function of a file, keyed as `function` or `Class.method`."""

    def __init__(self, imports: ImportMap) -> None:
        super().__init__()
        self.imports = imports
        self.fills: dict[str, set[Fill]] = {}
        self.functions: list[tuple[str, set[str]]] = []  # (key, parameters other than self)
        self.classes: list[str] = []
        self.class_depth: list[int] = []  # how many functions were open at each class
        self.guards: list[tuple[cst.If, tuple[str, ...]]] = []  # the open ifs, their classes
        # Loops over listed attributes open (`for param in [module.q, module.k]`).
        self.listed: dict[str, list[cst.BaseExpression]] = {}
        # The parameters of each open function, for a top-level one (None for the others).
        self.positionals: list[list[str] | None] = []
        # Names bound to the received module's class name (`classname = m.__class__.__name__`)
        # in the function being walked.
        self.class_name_vars: list[set[str]] = []
        # Top-level functions -> positions of the parameters they fill themselves
        # (`def init_weight(weight): nn.init.normal_(weight)`), and the hooks' calls of
        # functions by name that hand them an attribute of the module: (hook, guard classes,
        # function, position, attribute), judged at the end.
        self.parameter_fills: dict[str, set[int]] = {}
        self.handed: list[tuple[str, tuple[str, ...] | None, str, int, str]] = []
        # Functions of the file handed to a module's `apply` (`model.apply(weights_init)`,
        # `model.apply(partial(init_weights, std=0.02))`).
        self.applied: set[str] = set()

    def all_fills(self) -> set[Fill]:
        return {fill for fills in self.fills.values() for fill in fills}

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(node.name.value)
        self.class_depth.append(len(self.functions))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()
        self.class_depth.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        is_method = bool(self.classes) and self.class_depth[-1] == len(self.functions)
        key = f"{self.classes[-1]}.{node.name.value}" if is_method else node.name.value
        received = {param.name.value for param in node.params.params
                    if param.name.value not in ("self", "cls")}
        self.functions.append((key, received))
        self.class_name_vars.append(set())
        top_level = not self.classes and len(self.functions) == 1
        if top_level:
            self.parameter_fills.setdefault(key, set())
        self.positionals.append([param.name.value for param in node.params.params]
                                if top_level else None)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()
        self.class_name_vars.pop()
        self.positionals.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.functions and len(node.targets) == 1 and \
                isinstance(node.targets[0].target, cst.Name) and \
                _is_class_name_of(node.value, self.functions[-1][1]):
            self.class_name_vars[-1].add(node.targets[0].target.value)

    def _is_class_name(self, node: cst.BaseExpression) -> bool:
        if not self.functions:
            return False
        return (isinstance(node, cst.Name) and node.value in self.class_name_vars[-1]) or \
            _is_class_name_of(node, self.functions[-1][1])

    def visit_If(self, node: cst.If) -> None:
        if self.guards and self.guards[-1][0].orelse is node:
            self.guards[-1] = (self.guards[-1][0], ())  # an elif: the body's test is over
        self.guards.append((node, isinstance_classes(node.test)
                            or class_name_patterns(node.test, self._is_class_name)))

    def visit_Else(self, node: cst.Else) -> None:
        if self.guards and self.guards[-1][0].orelse is node:
            self.guards[-1] = (self.guards[-1][0], ())

    def leave_If(self, original_node: cst.If) -> None:
        self.guards.pop()

    def visit_For(self, node: cst.For) -> None:
        if isinstance(node.target, cst.Name) and isinstance(node.iter, (cst.List, cst.Tuple)):
            self.listed[node.target.value] = [element.value for element in node.iter.elements]

    def leave_For(self, original_node: cst.For) -> None:
        if isinstance(original_node.target, cst.Name):
            self.listed.pop(original_node.target.value, None)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "apply" and node.args:
            hook = node.args[0].value
            if isinstance(hook, cst.Call) and hook.args:  # partial(init_weights, ...)
                hook = hook.args[0].value
            if isinstance(hook, cst.Name):
                self.applied.add(hook.value)
        if isinstance(func, cst.Attribute) and func.attr.value in catalog.IN_PLACE_INITIALISERS:
            filled = func.value
            while isinstance(filled, cst.Call) and isinstance(filled.func, cst.Attribute) and \
                    filled.func.attr.value in catalog.DEVICE_MOVING_METHODS:
                filled = filled.func.value
            self.note(filled)  # module.weight.data.normal_()
        qualified = self.imports.call_name(node)
        if catalog.is_init_fill(qualified) and node.args:
            self.note(node.args[0].value)  # nn.init.xavier_uniform_(module.weight)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self" and "init" in func.attr.value.lower():
            for arg in node.args:  # self._init_weight(m.r_w_bias): an init helper's argument
                self.note(arg.value)
        if isinstance(func, cst.Name) and self.functions and \
                not any(arg.star or arg.keyword is not None for arg in node.args):
            # init_weight(m.weight): filled if init_weight fills that parameter
            key, received = self.functions[-1]
            for position, arg in enumerate(node.args):
                handed = filled_tensor(arg.value)
                if isinstance(handed, cst.Attribute) and isinstance(handed.value, cst.Name) \
                        and handed.value.value in received:
                    self.handed.append((key, self._guard(), func.value, position,
                                        handed.attr.value))

    def _guard(self) -> tuple[str, ...] | None:
        return next((classes for _, classes in reversed(self.guards) if classes), None)

    def note(self, filled: cst.BaseExpression) -> None:
        """Record `module.q` filled: `module` a parameter of the function
        (`_init_weights(self, module)`), directly or through a loop over such attributes
        (`for param in [module.q, module.k]: param.data.normal_()`)."""
        if not self.functions:
            return
        filled = filled_tensor(filled)  # module.weight.data[:, k]: module.weight
        key, received = self.functions[-1]
        if isinstance(filled, cst.Name) and filled.value in self.listed:
            for attribute in self.listed[filled.value]:
                self.note(attribute)
        elif isinstance(filled, cst.Attribute) and isinstance(filled.value, cst.Name) and \
                filled.value.value in received:
            for class_name in self._guard() or (None,):
                self.fills.setdefault(key, set()).add((class_name, filled.attr.value))
        elif isinstance(filled, cst.Name) and self.positionals[-1] is not None and \
                filled.value in self.positionals[-1]:
            # nn.init.normal_(weight) in `def init_weight(weight)`: it fills what it is handed
            self.parameter_fills[key].add(self.positionals[-1].index(filled.value))

    def resolve_handed(self) -> None:
        """The attributes hooks hand to the file's functions that fill that parameter."""
        for key, guard, function, position, attribute in self.handed:
            if position in self.parameter_fills.get(function, ()):
                for class_name in guard or (None,):
                    self.fills.setdefault(key, set()).add((class_name, attribute))


def init_hook_fills(module: cst.Module, text: str, imports: ImportMap) -> dict[str, set[Fill]]:
    """The fills of each function of a file (see `InitHookFills`); {} without a walk when the
    text names no in-place initialiser."""
    return init_hooks_of(module, text, imports)[0]


def init_hooks_of(module: cst.Module, text: str,
                  imports: ImportMap) -> tuple[dict[str, set[Fill]], set[Fill]]:
    """The fills of each function of a file, and those of the file's functions it applies to a
    model (`model.apply(weights_init)`): a model built in this file from classes of other
    files (`MemTransformerLM(...)`, imported) has them filled on each of its submodules,
    whichever file defines them. ({}, set()) without a walk when the text names no in-place
    initialiser."""
    if FILL_GATE.search(text) is None:
        return {}, set()
    collector = InitHookFills(imports)
    walk(module, [collector])
    collector.resolve_handed()
    applied = {fill for name in collector.applied for fill in collector.fills.get(name, ())}
    return collector.fills, applied


# ---- row fills: `def match(..., loc_t, idx): loc_t[idx] = encoded` ---------------------------

RowFill = tuple[int, int]  # (position of the filled parameter, position of the row index)


class RowFills(CachedVisitorNames, cst.CSTVisitor):
    """Each top-level function that writes one row of a parameter at an index another
    parameter gives (`loc_t[idx] = loc` in `match(threshold, ..., loc_t, conf_t, idx)`): a
    caller that calls it for every row (`for idx in range(num): match(..., loc_t, ..., idx)`)
    fills the whole tensor, as if it wrote `loc_t[idx] = ...` in the loop itself."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # functions and classes open
        self.params: list[str] = []  # the positional parameters of the top-level function
        self.name = ""
        self.fills: dict[str, set[RowFill]] = {}

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.depth == 0:
            self.name = node.name.value
            self.params = [param.name.value for param in (*node.params.posonly_params,
                                                          *node.params.params)]
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self.params or self.depth != 1:
            return
        for target in node.targets:
            row = row_written(target.target)
            if row is not None and row[0] in self.params and row[1] in self.params:
                self.fills.setdefault(self.name, set()).add(
                    (self.params.index(row[0]), self.params.index(row[1])))


def row_written(target: cst.BaseExpression) -> tuple[str, str] | None:
    """(tensor, index) of `tensor[index] = ...`, both plain names."""
    if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and \
            len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index) and \
            isinstance(target.slice[0].slice.value, cst.Name):
        return target.value.value, target.slice[0].slice.value.value
    return None


_ROW_GATE = re.compile(r"\w\[\w+\]\s*=[^=]")


def row_fills(module: cst.Module, text: str) -> dict[str, set[RowFill]]:
    """The row fills of each top-level function of a file (see `RowFills`); {} without a walk
    when no line writes `name[name] = ...`."""
    if _ROW_GATE.search(text) is None:
        return {}
    collector = RowFills()
    walk(module, [collector])
    return collector.fills
