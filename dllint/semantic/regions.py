"""Regions: the `with` blocks and `except` handlers that enclose the point the walk is at.

A component of the semantic model with state of its own. The model opens a region when the
walk enters a `with` statement or an `except` handler and closes it on the way out, so a rule's
`visit_Call` inside the block sees the region open (the model visits each node before the
rules do, and leaves it after them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import libcst as cst

from dllint.semantic import catalog

Qualify = Callable[[cst.BaseExpression], "str | None"]


@dataclass(frozen=True)
class HandlerContext:
    """What encloses a point of the code, outermost first.

    `contexts` are the qualified names of the context managers of the enclosing `with` blocks
    (`torch.serialization.safe_globals`, `torch.no_grad`); `caught` are the exceptions named by
    the enclosing `except` handlers (`TypeError`, `builtins.TypeError` when imported oddly:
    both spellings are given as written and as qualified)."""

    contexts: tuple[str, ...] = ()
    caught: tuple[str, ...] = ()

    def within(self, names: frozenset[str] | set[str]) -> bool:
        return any(name in names for name in self.contexts)

    def catches(self, *exceptions: str) -> bool:
        """Whether an enclosing handler names one of `exceptions` (qualified names, such as
        `builtins.TypeError`). A handler of a base class (`except Exception`) is not counted:
        it says the code expects some failure, not this one."""
        return any(name in exceptions for name in self.caught)


@dataclass(frozen=True)
class _Region:
    node: cst.CSTNode
    contexts: tuple[str, ...]
    caught: tuple[str, ...]
    no_grad: bool


class RegionTracker:
    """The open regions, innermost last."""

    def __init__(self, qualify: Qualify) -> None:
        self._qualify = qualify
        self._open: list[_Region] = []
        self._no_grad_depth = 0

    # -- the walk ------------------------------------------------------------------------------

    def enter_with(self, node: cst.With) -> None:
        names = tuple(name for item in node.items
                      if (name := self._context_name(item.item)) is not None)
        self._push(_Region(node, names, (), any(name in catalog.NO_GRAD_CONTEXTS
                                                for name in names)))

    def enter_handler(self, node: cst.ExceptHandler) -> None:
        self._push(_Region(node, (), _caught_names(node, self._qualify), False))

    def leave(self, node: cst.CSTNode) -> None:
        if self._open and self._open[-1].node is node:
            region = self._open.pop()
            self._no_grad_depth -= region.no_grad

    def _push(self, region: _Region) -> None:
        self._open.append(region)
        self._no_grad_depth += region.no_grad

    def _context_name(self, item: cst.BaseExpression) -> str | None:
        target = item.func if isinstance(item, cst.Call) else item
        return self._qualify(target)

    # -- queries -------------------------------------------------------------------------------

    @property
    def no_grad(self) -> bool:
        """Inside a `with torch.no_grad()` / `inference_mode()` block."""
        return self._no_grad_depth > 0

    def context(self) -> HandlerContext:
        return HandlerContext(tuple(name for region in self._open for name in region.contexts),
                              tuple(name for region in self._open for name in region.caught))


_CATCH_ALL = ("builtins.BaseException",)


def _caught_names(node: cst.ExceptHandler, qualify: Qualify) -> tuple[str, ...]:
    caught = node.type
    if caught is None:
        return _CATCH_ALL  # a bare `except:`
    elements = [element.value for element in caught.elements] \
        if isinstance(caught, cst.Tuple) else [caught]
    names: list[str] = []
    for element in elements:
        qualified = qualify(element)
        if qualified is not None:
            names.append(qualified)
        elif isinstance(element, cst.Name):
            names.append(element.value)
        elif isinstance(element, cst.Attribute):
            names.append(element.attr.value)
    return tuple(names)
