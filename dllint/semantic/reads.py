"""Reads: which names a `for` loop's body and `else` block read.

A component of the semantic model with state of its own, fed by the model's hooks during the
file's single walk: no sub-tree is visited again. Every name the walk reads gets the next number
of a clock, and each name keeps the numbers it was read at, in order. A loop keeps the clock
readings where its body and its `else` block begin and end, and, per name, where the first
statement of its body that rebinds the name ends. "Does the loop read `mask`?" is then a search
in `mask`'s readings, so a loop nested in a hundred others costs no more than one on its own.

What counts as a read (the names a loop uses of the values it iterates):

- an attribute's name (`x.mask` reads `x`) and a keyword's name (`f(mask=x)` reads `x`) are
  not reads, nor is a plain name assigned to (`mask = ...`); every other name is one, including
  the names of an unpacking or subscript target (`a, b = ...` and `x[i] = ...` use them);
- in a body of statements, a name read only after a statement of that body rebinds it
  (`mask = image.replace("images", "masks")`) is not a read of the loop's value: the statement
  that rebinds it still reads it (`mask = mask.strip()`). Only plain assignments directly in the
  body rebind; one under an `if` may not run. The `else` block and a one-line body
  (`for a, b in pairs: use(a)`) have no such rebinding.

Names in annotations are not walked (see `dllint.walk`) and are not reads: a local variable's
annotation is never evaluated.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

import libcst as cst

_NEVER = float("inf")


@dataclass
class _LoopReads:
    node: cst.For
    # Ids of the statements directly in the body, whose plain assignments rebind names.
    top_statements: frozenset[int]
    body: tuple[int, int] = (0, 0)  # clock readings [start, end)
    orelse: tuple[int, int] = (0, 0)
    rebound: dict[str, int] = field(default_factory=dict)  # name -> end of its first rebinding


class LoopNamesRead:
    """The names a loop reads, as a membership test: `"mask" in facts.names_read(loop)`."""

    def __init__(self, loop: _LoopReads, readings: dict[str, list[int]]) -> None:
        self._loop = loop
        self._readings = readings

    def __contains__(self, name: object) -> bool:
        readings = self._readings.get(name) if isinstance(name, str) else None
        if not readings:
            return False
        start, end = self._loop.body
        end = min(end, self._loop.rebound.get(name, _NEVER))
        return _any_between(readings, start, end) or _any_between(readings, *self._loop.orelse)


def _any_between(readings: list[int], start: float, end: float) -> bool:
    index = bisect_left(readings, start)
    return index < len(readings) and readings[index] < end


class ReadTracker:
    """The reads of the file's names, in walk order, and the loops' spans over them."""

    def __init__(self) -> None:
        self._clock = 0
        self._readings: dict[str, list[int]] = {}
        self._not_reads: set[int] = set()  # ids of Name nodes that name no read
        self._open: list[_LoopReads] = []
        self._loops: dict[int, _LoopReads] = {}

    # -- the walk ------------------------------------------------------------------------------

    def enter_for(self, node: cst.For) -> None:
        body = node.body
        top = frozenset(id(statement) for statement in body.body) \
            if isinstance(body, cst.IndentedBlock) else frozenset()
        loop = _LoopReads(node, top)
        self._open.append(loop)
        self._loops[id(node)] = loop

    def leave_for(self, node: cst.For) -> None:
        if self._open and self._open[-1].node is node:
            self._open.pop()

    def enter_block(self, node: cst.CSTNode) -> None:
        """A body (`IndentedBlock`, `SimpleStatementSuite`) or an `Else` begins."""
        loop = self._owner(node)
        if loop is not None:
            # Readings are numbered from 1: the block's are those from the next one on.
            if node is loop.node.body:
                loop.body = (self._clock + 1, self._clock + 1)
            else:
                loop.orelse = (self._clock + 1, self._clock + 1)

    def leave_block(self, node: cst.CSTNode) -> None:
        loop = self._owner(node)
        if loop is not None:
            if node is loop.node.body:
                loop.body = (loop.body[0], self._clock + 1)
            else:
                loop.orelse = (loop.orelse[0], self._clock + 1)

    def _owner(self, node: cst.CSTNode) -> _LoopReads | None:
        # A loop's body and else block are its direct children: the innermost open loop.
        if self._open and (node is self._open[-1].node.body
                           or node is self._open[-1].node.orelse):
            return self._open[-1]
        return None

    def not_a_read(self, node: cst.CSTNode) -> None:
        """The walk reaches a node whose names include one that is no read: an attribute's
        name, a keyword's name, a plain name assigned to."""
        if isinstance(node, cst.Attribute):
            self._not_reads.add(id(node.attr))
        elif isinstance(node, cst.Arg):
            if node.keyword is not None:
                self._not_reads.add(id(node.keyword))
        elif isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Name):
            self._not_reads.add(id(node.target))

    def name(self, node: cst.Name) -> None:
        if id(node) in self._not_reads:
            self._not_reads.discard(id(node))
            return
        self._clock += 1
        self._readings.setdefault(node.value, []).append(self._clock)

    def leave_statement(self, node: cst.SimpleStatementLine) -> None:
        """After a statement directly in the innermost loop's body: the names it rebinds."""
        if not self._open or id(node) not in self._open[-1].top_statements:
            return
        rebound = self._open[-1].rebound
        for small in node.body:
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    if isinstance(target.target, cst.Name):
                        # Reads up to here (the statement's own included) count.
                        rebound.setdefault(target.target.value, self._clock + 1)

    # -- queries -------------------------------------------------------------------------------

    def names_read(self, loop: cst.For) -> LoopNamesRead | None:
        """The names `loop` reads; complete once its body and else block were walked (in the
        rules' `leave_For`). None for a loop not walked yet."""
        record = self._loops.get(id(loop))
        return LoopNamesRead(record, self._readings) if record is not None else None
