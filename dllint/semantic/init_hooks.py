"""Init hooks: what each function of a file fills in place on the modules it receives.

`def _init_weights(self, module): if isinstance(module, Attention): module.r_w_bias.data.normal_()`
fills the `r_w_bias` of every `Attention` the model applies it to (`self.apply(self._init_weights)`);
`def weights_init(m): nn.init.xavier_uniform_(m.weight)` fills the `weight` of any module. DL304
reads these fills for the file it lints, and the project summaries carry them, so a hook defined
in another file (`model.apply(init_weights)` with `init_weights` imported, or an `_init_weights`
inherited from a base class of another file) counts where the tensor is made.

A fill is (class, attribute): the class an `isinstance(module, Class)` test around it names (by
its last name), or None where no such test guards it (`hasattr(m, "r_w_bias")`).
"""

from __future__ import annotations

import re

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import ImportMap
from dllint.walk import CachedVisitorNames, walk

Fill = tuple[str | None, str]

# Text a file must hold to fill anything in place: a cheap gate before the walk.
_FILL_GATE = re.compile("|".join(
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

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_If(self, node: cst.If) -> None:
        if self.guards and self.guards[-1][0].orelse is node:
            self.guards[-1] = (self.guards[-1][0], ())  # an elif: the body's test is over
        self.guards.append((node, isinstance_classes(node.test)))

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
        if isinstance(func, cst.Attribute) and func.attr.value in catalog.IN_PLACE_INITIALISERS:
            filled = func.value
            while isinstance(filled, cst.Call) and isinstance(filled.func, cst.Attribute) and \
                    filled.func.attr.value in catalog.DEVICE_MOVING_METHODS:
                filled = filled.func.value
            self.note(filled)  # module.weight.data.normal_()
        qualified = self.imports.call_name(node)
        if qualified is not None and qualified.startswith("torch.nn.init.") and node.args:
            self.note(node.args[0].value)  # nn.init.xavier_uniform_(module.weight)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self" and "init" in func.attr.value.lower():
            for arg in node.args:  # self._init_weight(m.r_w_bias): an init helper's argument
                self.note(arg.value)

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
            guard = next((classes for _, classes in reversed(self.guards) if classes), None)
            for class_name in guard or (None,):
                self.fills.setdefault(key, set()).add((class_name, filled.attr.value))


def init_hook_fills(module: cst.Module, text: str, imports: ImportMap) -> dict[str, set[Fill]]:
    """The fills of each function of a file (see `InitHookFills`); {} without a walk when the
    text names no in-place initialiser."""
    if _FILL_GATE.search(text) is None:
        return {}
    collector = InitHookFills(imports)
    walk(module, [collector])
    return collector.fills


def applied_hooks(module: cst.Module, hooks: set[str]) -> set[str]:
    """Which of the file's hook functions `hooks` it applies to a model: handed to `.apply`
    (`model.apply(init_weights)`, also through `partial(init_weights, ...)`). Read by the
    nodes' children, without a visitor (libcst's `visit` rebuilds every node)."""
    applied: set[str] = set()
    pending: list[cst.CSTNode] = [module]
    while pending:
        node = pending.pop()
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value == "apply" and node.args:
            hook = node.args[0].value
            if isinstance(hook, cst.Call) and hook.args:  # partial(init_weights, std=0.02)
                hook = hook.args[0].value
            if isinstance(hook, cst.Name) and hook.value in hooks:
                applied.add(hook.value)
        pending.extend(node.children)
    return applied

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
