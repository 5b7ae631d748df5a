"""One read-only traversal of a libcst tree that dispatches to every visitor.

libcst's own `visit` (and `visit_batched`) goes through `_visit_and_replace_children`, which
rebuilds each node as it goes: on real code that costs as much as parsing. Linting never changes
the tree, so this walker reads each node's dataclass fields instead, skips the subtrees that are
pure tokens (whitespace, commas, brackets, operators: no rule needs to visit them; rules read
`node.operator` directly), and calls `visit_<Type>` before a node's children and `leave_<Type>`
after them, in field order (lexical order, except that decorators and class bases come after the
body). It is iterative, so deeply nested code cannot overflow the stack.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import typing
from typing import Callable, Sequence

import libcst as cst

_TOKEN_TYPES: tuple[type, ...] = (
    cst.BaseParenthesizableWhitespace, cst.Newline, cst.Comma, cst.Colon, cst.Semicolon, cst.Dot,
    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
    cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.TrailingWhitespace, cst.EmptyLine,
    cst.AssignEqual, cst.Comment, cst.BaseBinaryOp, cst.BaseUnaryOp, cst.BaseBooleanOp,
    cst.BaseCompOp, cst.BaseAugOp, cst.Asynchronous, cst.ImportStar, cst.Annotation,
)
_CONTAINERS = (collections.abc.Sequence, list, tuple, collections.abc.Iterable)
_FIELDS: dict[type, tuple[str, ...]] = {}
# Per concrete type: 0 not a node, 1 a token subtree (skipped), 2 a node to walk. isinstance
# against libcst's abstract bases goes through ABC machinery: classify each type only once.
_KIND: dict[type, int] = {}
_NOT_A_NODE, _TOKEN, _NODE = 0, 1, 2


def _fields(node_type: type) -> tuple[str, ...]:
    """The fields of a node type that may hold a node to walk, in order. A field whose declared
    type admits only tokens and plain values (`lpar`, `whitespace_after`, `comma`, a `str`) is
    never read: on real code that is half of all fields."""
    names = _FIELDS.get(node_type)
    if names is None:
        hints = typing.get_type_hints(node_type)
        names = tuple(field.name for field in dataclasses.fields(node_type)
                      if _may_hold_a_node(hints.get(field.name, typing.Any)))
        _FIELDS[node_type] = names
    return names


def _may_hold_a_node(annotation: object) -> bool:
    """Whether a value of this declared type may be (or contain) a node that is no token; when
    the type cannot be read (no class, no known generic), it may."""
    if annotation is type(None):
        return False
    if isinstance(annotation, type):
        if issubclass(annotation, cst.CSTNode):
            return not issubclass(annotation, _TOKEN_TYPES)
        return not issubclass(annotation, (str, bytes, int, float, bool, enum.Enum))
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, typing.Literal) or origin in _CONTAINERS:
        return origin is not typing.Literal and any(
            _may_hold_a_node(argument) for argument in typing.get_args(annotation))
    return annotation is not None


def _kind(value_type: type) -> int:
    kind = _KIND.get(value_type)
    if kind is None:
        if not issubclass(value_type, cst.CSTNode):
            kind = _NOT_A_NODE
        else:
            kind = _TOKEN if issubclass(value_type, _TOKEN_TYPES) else _NODE
        _KIND[value_type] = kind
    return kind


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = []
    for name in _fields(type(node)):
        value = getattr(node, name)
        value_type = type(value)
        if value_type is tuple or value_type is list:
            for item in value:
                kind = _KIND.get(type(item))
                if kind == _NODE or kind is None and _kind(type(item)) == _NODE:
                    found.append(item)
        else:
            kind = _KIND.get(value_type)
            if kind == _NODE or kind is None and _kind(value_type) == _NODE:
                found.append(value)
    return found


def walk(root: cst.CSTNode, visitors: Sequence[cst.BatchableCSTVisitor]) -> None:
    visit: dict[str, list[Callable]] = {}
    leave: dict[str, list[Callable]] = {}
    for visitor in visitors:
        for name, method in visitor.get_visitors().items():
            kind, _, node_type = name.partition("_")
            if "_" in node_type:
                continue  # attribute hooks (visit_Call_func) are not supported
            (visit if kind == "visit" else leave).setdefault(node_type, []).append(method)
    for node, name, entering in _tape(root):
        for method in (visit if entering else leave).get(name, ()):
            method(node)


# The order of a walk is the same every time: a file walked again (the value flow's second walk)
# replays the last tree's tape instead of finding every node's children again.
_last_tape: tuple[cst.CSTNode | None, list[tuple[cst.CSTNode, str, bool]]] = (None, [])


def _tape(root: cst.CSTNode) -> list[tuple[cst.CSTNode, str, bool]]:
    global _last_tape
    if _last_tape[0] is root:
        return _last_tape[1]
    tape: list[tuple[cst.CSTNode, str, bool]] = []
    # (node, entering?) pairs; children pushed in reverse so they pop in order.
    stack: list[tuple[cst.CSTNode, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        tape.append((node, type(node).__name__, entering))
        if entering:
            stack.append((node, False))
            stack.extend((child, True) for child in reversed(children(node)))
    _last_tape = (root, tape)
    return tape


_last_positions: tuple[cst.CSTNode | None, dict[int, int]] = (None, {})


def position(node: cst.CSTNode) -> int:
    """Where `node` comes in the last walked tree's walk (its order in the source, but for
    decorators and class bases, which come after the body), or -1 for a node of no walked tree.
    The same in every run, unlike `id(node)`: code that must order nodes or the tags that hold
    them (`values.stable_order`) asks this. The table is built once per tree, on first use."""
    global _last_positions
    root, tape = _last_tape
    if _last_positions[0] is not root or root is None:
        _last_positions = (root, {id(visited): index for index, (visited, _, entering)
                                  in enumerate(tape) if entering})
    # The tape holds its nodes, so no other object can share the id of one of them.
    return _last_positions[1].get(id(node), -1)


class CachedVisitorNames:
    """libcst finds visitor methods with inspect.getmembers on every instance, which walks ~1,000
    attributes: per file and per visitor that costs more than the visitor. Once per class."""

    @classmethod
    def _visitor_names(cls) -> tuple[str, ...]:
        names = cls.__dict__.get("_visitor_names_cache")
        if names is None:
            names = tuple(
                name for name in dir(cls)
                if name.startswith(("visit_", "leave_"))
                and callable(getattr(cls, name))
                and not getattr(getattr(cls, name), "_is_no_op", False))
            cls._visitor_names_cache = names
        return names

    def get_visitors(self):
        return {name: getattr(self, name) for name in self._visitor_names()}


__all__ = ["CachedVisitorNames", "children", "walk"]
