"""What one file's analysis shares between the engine, the semantic model and the rules.

It lives apart from `rule.py` and `semantic/`, so that neither has to import the other: rules
read the model through the context, and the model never needs to know what a rule is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from dllint.types import RelatedLocation

if TYPE_CHECKING:
    from dllint.config import Settings
    from dllint.rule import NodeFix, Rule
    from dllint.semantic.imports import ImportMap
    from dllint.semantic.model import SemanticModel


@dataclass(frozen=True)
class PendingReport:
    rule: type[Rule]
    node: cst.CSTNode
    message: str
    fix: NodeFix | None
    related: tuple[tuple[cst.CSTNode, str] | RelatedLocation, ...]
    cause: tuple[cst.CSTNode, str] | RelatedLocation | None = None


@dataclass
class FileContext:
    """What every rule may read about the file under analysis, computed once per file."""

    path: str
    source: str
    module: cst.Module
    imports: ImportMap
    reports: list[PendingReport] = field(default_factory=list)
    model: SemanticModel | None = None
    # The run's settings, for the few rules that depend on the project (its declared torch).
    settings: Settings | None = None
