"""Accumulating methods: which arguments a method of a class adds into the instance's state.

`def update(self, val, n=1): self.sum += val * n` adds its argument `val` into `self.sum`, so a
call `meter.update(loss, n)` made every training step keeps a reference to every step's loss in
the meter, as `total += loss` does. `for i, v in enumerate(values): self._sum[i] += v` adds the
elements of `values`. DL104 reads these for the classes of the file it lints, and the project
summaries carry them, so a meter class of another file counts at its call.

A method's accumulated arguments are (position among the parameters after `self`, name).
"""

from __future__ import annotations

import re

import libcst as cst

from dllint.semantic.imports import dotted_name
from dllint.walk import children

# Calls that iterate a container's elements in a `for` (`enumerate(values)`, `zip(a, b)`).
_ELEMENT_ITERATORS = frozenset({"enumerate", "zip", "reversed", "list", "tuple"})
_ELEMENT_METHODS = frozenset({"values", "items"})


def _iterated_parameters(iterable: cst.BaseExpression, params: dict[str, str]) -> set[str]:
    """The parameters whose elements a `for` over `iterable` visits: `values` for `values`,
    `enumerate(values)`, `zip(values, weights)`, `values.items()`."""
    if isinstance(iterable, cst.Name):
        return {params[iterable.value]} if iterable.value in params else set()
    if isinstance(iterable, cst.Call):
        func = iterable.func
        if isinstance(func, cst.Name) and func.value in _ELEMENT_ITERATORS:
            return {found for arg in iterable.args
                    for found in _iterated_parameters(arg.value, params)}
        if isinstance(func, cst.Attribute) and func.attr.value in _ELEMENT_METHODS:
            return _iterated_parameters(func.value, params)
    return set()


# Conversions that drop the autograd graph: what they read is not kept.
_DETACHING_METHODS = frozenset({"item", "detach", "tolist", "numpy"})
_DETACHING_FUNCTIONS = frozenset({"float", "int"})


def _names_in(node: cst.CSTNode) -> set[str]:
    """The names an expression reads, except through a conversion that detaches them."""
    found: set[str] = set()
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.Call) and (
                (isinstance(current.func, cst.Attribute)
                 and current.func.attr.value in _DETACHING_METHODS)
                or (isinstance(current.func, cst.Name)
                    and current.func.value in _DETACHING_FUNCTIONS)):
            continue
        if isinstance(current, cst.Name):
            found.add(current.value)
        elif isinstance(current, cst.Attribute):
            if current.attr.value == "data":
                continue  # `val.data` shares the storage, not the graph
            pending.append(current.value)  # `val.item()` reads `val`, not an `item`
            continue
        pending.extend(children(current))
    return found


def _instance_state(target: cst.BaseExpression) -> str | None:
    """`sum` for `self.sum` or `self._sum[idx]`: an attribute of the instance, or a slot of
    one."""
    while isinstance(target, cst.Subscript):
        target = target.value
    name = dotted_name(target)
    return name[len("self."):] if name is not None and name.startswith("self.") else None


class _Accumulations:
    """Reads a method's body in source order, by its children (no visitor: libcst's `visit`
    rebuilds every node), skipping nested functions."""

    def __init__(self, params: dict[str, str]) -> None:
        self.params = dict(params)  # local name -> the parameter it is (or is an element of)
        self.accumulated: set[str] = set()

    def read(self, body: cst.CSTNode) -> None:
        pending: list[cst.CSTNode] = [body]
        while pending:
            node = pending.pop()
            if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                continue
            if isinstance(node, cst.For):
                self.visit_For(node)
            elif isinstance(node, cst.AugAssign):
                self.visit_AugAssign(node)
            elif isinstance(node, cst.Assign):
                self.visit_Assign(node)
            if isinstance(node, (cst.BaseSuite, cst.BaseCompoundStatement,
                                 cst.SimpleStatementLine, cst.Else, cst.ExceptHandler,
                                 cst.Finally)):
                pending.extend(reversed(children(node)))

    def visit_For(self, node: cst.For) -> None:
        sources = _iterated_parameters(node.iter, self.params)
        if sources:
            for name in _names_in(node.target):
                self.params.setdefault(name, next(iter(sources)))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.AddAssign) and _instance_state(node.target) is not None:
            self._record(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        # `v = v.data.sum()`: the name no longer holds what was handed in, only a detached copy.
        reads = _names_in(value)
        for target in node.targets:
            if isinstance(target.target, cst.Name) and target.target.value in self.params and \
                    not reads & self.params.keys():
                del self.params[target.target.value]
        # `self.sum = self.sum + val * n`
        if not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add)):
            return
        for target in node.targets:
            state = _instance_state(target.target)
            if state is not None and f"self.{state}" in {dotted_name(side) for side in (
                    value.left, value.right)}:
                self._record(value)

    def _record(self, value: cst.BaseExpression) -> None:
        self.accumulated |= {self.params[name] for name in _names_in(value)
                             if name in self.params}


_ADDING = re.compile(r"\+=|self\.\w+\s*=\s*self\.\w+\s*\+")


def accumulating_methods(module: cst.Module, text: str) -> dict[str, list[tuple[int, str]]]:
    """`Class.method` -> the arguments the method adds into its instance's state, for every
    top-level class of a file (a class defined twice has none). `text` is the file's text: one
    that adds nothing in place is not read."""
    if _ADDING.search(text) is None:
        return {}
    found: dict[str, list[tuple[int, str]]] = {}
    defined: dict[str, int] = {}
    for statement in module.body:
        if not isinstance(statement, cst.ClassDef):
            continue
        defined[statement.name.value] = defined.get(statement.name.value, 0) + 1
        for method in statement.body.body:
            if not isinstance(method, cst.FunctionDef) or method.name.value == "__init__":
                continue
            params = [param.name.value for param in (*method.params.posonly_params,
                                                      *method.params.params)]
            if params[:1] != ["self"]:
                continue
            visitor = _Accumulations({name: name for name in params[1:]})
            visitor.read(method.body)
            if visitor.accumulated:
                found[f"{statement.name.value}.{method.name.value}"] = [
                    (params.index(name) - 1, name) for name in params[1:]
                    if name in visitor.accumulated]
    return {key: value for key, value in found.items()
            if defined[key.partition(".")[0]] == 1}
