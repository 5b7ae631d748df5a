"""Import resolution: map local names to qualified names, without libcst's scope analysis.

libcst's ScopeProvider and QualifiedNameProvider cost several times the parse on real code. The
bugs dllint looks for need far less: what `F`, `T`, `nn` or `glob` stand for. Imports are read
from statements only (never from expressions), anywhere in the file, and treated as file-wide.
A name that is imported nowhere and is a builtin resolves to `builtins.<name>`. A name bound
nowhere in a file with star imports (`from keras.layers import *`) resolves to the star module
the knowledge tables know it from, else to the last star import of a project module, else to the
last star import.
"""

from __future__ import annotations

import builtins
from typing import Iterator, Sequence

import libcst as cst

from dllint.semantic import catalog

_BUILTIN_NAMES = frozenset(dir(builtins))


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def _import_statements(body: Sequence) -> Iterator[cst.Import | cst.ImportFrom]:
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    yield small
        elif isinstance(statement, cst.BaseCompoundStatement):
            yield from _import_statements(_child_statements(statement))


def _child_statements(statement: cst.BaseCompoundStatement) -> list[cst.BaseStatement]:
    children: list[cst.BaseStatement] = []
    blocks = [statement.body] if hasattr(statement, "body") else []  # `match` has only cases
    for attribute in ("orelse", "finalbody"):
        extra = getattr(statement, attribute, None)
        if extra is not None:
            blocks.append(extra.body if isinstance(extra, (cst.Else, cst.Finally)) else extra)
    for handler in getattr(statement, "handlers", ()):
        blocks.append(handler.body)
    for case in getattr(statement, "cases", ()):
        blocks.append(case.body)
    for block in blocks:
        if isinstance(block, cst.If):  # elif chains hang off orelse
            children.append(block)
        elif isinstance(block, cst.BaseSuite):
            body = block.body
            if isinstance(block, cst.SimpleStatementSuite):
                children.append(cst.SimpleStatementLine(body=body))
            else:
                children.extend(body)
    return children


class _BoundNames(cst.CSTVisitor):
    """Every name a file binds anywhere (definitions, parameters, assignment and loop targets,
    `as` names): with a star import, a name bound nowhere comes from the star."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def _target(self, node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            self.names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self._target(element.value)
        elif isinstance(node, cst.StarredElement):
            self._target(node.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.names.add(node.name.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.names.add(node.name.value)

    def visit_Param(self, node: cst.Param) -> None:
        self.names.add(node.name.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._target(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._target(node.name)


class ImportMap:
    def __init__(self, aliases: dict[str, str], stars: tuple[str, ...] = (),
                 bound: frozenset[str] = frozenset(), modules: frozenset[str] = frozenset()
                 ) -> None:
        self.aliases = aliases
        self.stars = stars  # modules star-imported, in import order
        self.bound = bound  # names the file binds itself (known only when there are stars)
        # modules imported whole (`import train`, `import pkg.model as m`): `train.fit` names a
        # function of that module
        self.modules = modules
        # Library names a star-imported project module binds (`nn` of `from utils import *`,
        # utils having `from torch import nn`), filled in once the project's summaries are known.
        self.star_aliases: dict[str, str] = {}

    @classmethod
    def from_module(cls, module: cst.Module) -> ImportMap:
        aliases: dict[str, str] = {}
        stars: list[str] = []
        modules: set[str] = set()
        for statement in _import_statements(module.body):
            if isinstance(statement, cst.Import):
                for alias in statement.names:
                    full = dotted_name(alias.name)
                    if full is None:
                        continue
                    modules.add(full)
                    if alias.asname is not None:
                        local = dotted_name(alias.asname.name)  # type: ignore[arg-type]
                        if local:
                            aliases[local] = full
                    else:
                        # `import os.path` binds `os`, and `os.path.x` resolves through it.
                        top = full.split(".", 1)[0]
                        aliases[top] = top
            else:
                base = "." * len(statement.relative)
                if statement.module is not None:
                    base += dotted_name(statement.module) or ""
                if isinstance(statement.names, cst.ImportStar):
                    if base and base.strip("."):
                        stars.append(base)
                    continue
                for alias in statement.names:
                    name = dotted_name(alias.name)
                    if name is None:
                        continue
                    local = name
                    if alias.asname is not None:
                        local = dotted_name(alias.asname.name) or name  # type: ignore[arg-type]
                    separator = "" if base.endswith(".") else "."
                    aliases[local] = f"{base}{separator}{name}" if base else name
        if not stars:
            return cls(aliases, modules=frozenset(modules))
        bound = _BoundNames()
        module.visit(bound)
        return cls(aliases, tuple(stars), frozenset(bound.names), frozenset(modules))

    def imported(self) -> list[str]:
        """The qualified names the file imports; `module.*` for each star import."""
        return [*self.aliases.values(), *(f"{star}.*" for star in self.stars)]

    def _from_star(self, name: str) -> str:
        """The qualified name of `name`, bound nowhere in the file, from its star imports."""
        if name in self.star_aliases:
            return self.star_aliases[name]
        if len(self.stars) > 1:
            for by_prefix in (False, True):  # `keras.models.Sequential` before `keras.layers.*`
                for star in reversed(self.stars):  # a later star import shadows an earlier one
                    if catalog.knows(f"{star}.{name}", by_prefix=by_prefix):
                        return f"{star}.{name}"
            for star in reversed(self.stars):
                if star.startswith(".") or star.split(".", 1)[0] not in catalog.LIBRARY_ROOTS:
                    return f"{star}.{name}"
        return f"{self.stars[-1]}.{name}"

    def qualified_name(self, node: cst.BaseExpression) -> str | None:
        """The qualified name an expression refers to, or None if it is not an imported name. A
        builtin re-exported by a compatibility module (`from six.moves import range`) is the
        builtin."""
        qualified = self._qualified_name(node)
        return catalog.BUILTIN_ALIASES.get(qualified, qualified) if qualified else qualified

    def _qualified_name(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.Name):
            if node.value in self.aliases:
                return self.aliases[node.value]
            if node.value in _BUILTIN_NAMES:
                return f"builtins.{node.value}"
            if self.stars and node.value not in self.bound:
                return self._from_star(node.value)
            return None
        if isinstance(node, cst.Attribute):
            base = self._qualified_name(node.value)
            if base is None or base.startswith("builtins."):
                return None
            return f"{base}.{node.attr.value}"
        return None

    def call_name(self, call: cst.Call) -> str | None:
        return self.qualified_name(call.func)


