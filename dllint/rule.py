"""The base class every rule in the catalog derives from.

A rule is a libcst batchable visitor: all rules enabled for a file share one traversal of its tree.
It reports nodes, not positions; the engine turns nodes into line/column spans only for files that
have findings, because computing positions costs more than parsing the file.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Sequence, Union

import libcst as cst

from dllint.context import FileContext, PendingReport
from dllint.semantic import catalog
from dllint.semantic.effects import Effect, minimal_tokens
from dllint.walk import CachedVisitorNames
from dllint.types import Applicability, FixAvailability, RelatedLocation, Severity

if TYPE_CHECKING:
    from dllint.semantic.imports import ImportMap
    from dllint.semantic.facts import Facts

__all__ = ["FileContext", "Invalid", "NodeEdit", "NodeFix", "PendingReport", "Rule", "Valid"]


@dataclass(frozen=True)
class Valid:
    """Code the rule must stay silent on: a near miss taken from how correct code is written."""

    code: str

    @property
    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")


@dataclass(frozen=True)
class Invalid:
    """Code the rule must flag at `line` (1-based, in the dedented example).

    `fixed` is the code after the rule's fix; `unsafe=True` when that fix is marked unsafe.
    `related_lines` are the lines of the other end of the bug, reported as related locations;
    `more_lines` are further findings of the same rule in the example (the second listing).
    """

    code: str
    line: int
    fixed: str | None = None
    unsafe: bool = False
    related_lines: tuple[int, ...] = ()
    more_lines: tuple[int, ...] = ()

    @property
    def source(self) -> str:
        return textwrap.dedent(self.code).lstrip("\n")

    @property
    def fixed_source(self) -> str | None:
        return None if self.fixed is None else textwrap.dedent(self.fixed).lstrip("\n")


@dataclass(frozen=True)
class NodeEdit:
    """A text edit anchored to a node: replace it, or insert text just before or after it."""

    node: cst.CSTNode
    kind: str  # "replace" | "before" | "after"
    content: Union[str, cst.CSTNode]


@dataclass(frozen=True)
class NodeFix:
    edits: tuple[NodeEdit, ...]
    applicability: Applicability
    description: str

    @classmethod
    def wrap(cls, node: cst.CSTNode, prefix: str, suffix: str, *, description: str,
             applicability: Applicability = Applicability.SAFE) -> NodeFix:
        """Surround `node` with text, leaving the node's own text (and its line breaks) untouched."""
        return cls((NodeEdit(node, "before", prefix), NodeEdit(node, "after", suffix)),
                   applicability, description)

    @classmethod
    def replace(cls, node: cst.CSTNode, content: Union[str, cst.CSTNode], *, description: str,
                applicability: Applicability = Applicability.SAFE) -> NodeFix:
        return cls((NodeEdit(node, "replace", content),), applicability, description)


def derived_fix_availability(examples: Sequence[Invalid]) -> FixAvailability:
    """ALWAYS when every INVALID example carries its fixed text, NONE when none does,
    SOMETIMES otherwise (a rule that cannot always fix shows a case it cannot fix)."""
    fixed = sum(example.fixed is not None for example in examples)
    if fixed == 0:
        return FixAvailability.NONE
    return FixAvailability.ALWAYS if fixed == len(examples) else FixAvailability.SOMETIMES


class Rule(CachedVisitorNames, cst.BatchableCSTVisitor):
    """Subclass this in one module under rules/; the registry finds it there, nowhere else.

    The docstring is the rule's documentation, in the sections `## What it does`,
    `## Why is this bad?`, `## Example`, `## Use instead` and `## References`.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR
    # Derived from INVALID when the class is made (`derived_fix_availability`), never declared:
    # the examples are the specification, so what `dllint rules` says cannot drift from them.
    fix_availability: ClassVar[FixAvailability] = FixAvailability.NONE
    enabled_by_default: ClassVar[bool] = True
    # The cheap semantic gate: the rule runs only on files whose text contains one of these.
    # An empty tuple means the rule wants every file.
    requires_any: ClassVar[tuple[str, ...]] = ()
    # The effects (dllint/semantic/effects.py) one of whose rows every finding of the rule
    # involves: the names of their rows join `requires_any` when the class is made, so a row
    # added to a framework's table can never be kept off by the rule's gate. `requires_any`
    # then holds only what no row describes (syntax, such as "255" or ".T").
    consumes: ClassVar[tuple[Effect, ...]] = ()
    # Rules that read value origins set this; the engine then runs the semantic model first.
    uses_model: ClassVar[bool] = False
    VALID: ClassVar[Sequence[Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "fix_availability" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: fix_availability is derived from the INVALID "
                            f"examples (those with `fixed=`); do not declare it")
        cls.fix_availability = derived_fix_availability(cls.INVALID)
        if cls.consumes and ("consumes" in cls.__dict__ or "requires_any" in cls.__dict__):
            cls.requires_any = minimal_tokens(
                {*cls.requires_any, *catalog.REGISTRY.tokens(*cls.consumes)})

    def __init__(self, context: FileContext) -> None:
        super().__init__()
        self.context = context

    @property
    def imports(self) -> ImportMap:
        return self.context.imports

    @property
    def facts(self) -> Facts:
        """The semantic model's answers about this file (values, functions, loops, regions,
        modes, call sites): rules ask here instead of tracking the tree themselves."""
        assert self.context.model is not None, f"{self.code} must set uses_model = True"
        return self.context.model.facts

    def report(self, node: cst.CSTNode, message: str, *, fix: NodeFix | None = None,
               related: Sequence[tuple[cst.CSTNode, str] | RelatedLocation] = (),
               cause: tuple[cst.CSTNode, str] | RelatedLocation | None = None) -> None:
        """Report `node`. When the finding sits at a use of the bug rather than at the bug
        itself, `cause` says where it comes from: every use of one cause, in this file or in
        others of the run, then makes one finding, with the other uses as related locations."""
        self.context.reports.append(PendingReport(type(self), node, message, fix, tuple(related),
                                                  cause))

    @staticmethod
    def origin_of(tag, message: str) -> list:
        """A related location for where a value's property arose: a node here, or a place in
        another file (from a cross-file summary)."""
        if tag.node is not None:
            return [(tag.node, message)]
        return [tag.location] if tag.location is not None else []

    @classmethod
    def wants(cls, source: str) -> bool:
        return not cls.requires_any or any(token in source for token in cls.requires_any)

    @classmethod
    def documentation(cls) -> str:
        return textwrap.dedent(cls.__doc__ or "").strip()
