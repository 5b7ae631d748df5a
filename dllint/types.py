"""Every type shared between the engine, the rules and the front ends.

Lines are 1-based; columns are 1-based and count characters (code points), as editors show them.
End positions are exclusive: `end_column` is the column just after the last character.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Applicability(str, enum.Enum):
    """Whether a fix may be applied without a person reading it (`--fix`) or only on request."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class FixAvailability(str, enum.Enum):
    """What a rule declares about its fixes, for `dllint rules` and the docs."""

    NONE = "none"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


@dataclass(frozen=True, order=True)
class Span:
    start_line: int
    start_column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, line: int, column: int = 1) -> Span:
        return cls(line, column, line, column)


@dataclass(frozen=True)
class Edit:
    """Replace the text in `span` with `content` (an empty span inserts)."""

    span: Span
    content: str


@dataclass(frozen=True)
class Fix:
    edits: tuple[Edit, ...]
    applicability: Applicability
    description: str


@dataclass(frozen=True)
class RelatedLocation:
    path: str
    span: Span
    message: str
    cell: int | None = None  # notebooks: the 1-based cell; the span is then within that cell


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    message: str
    severity: Severity
    path: str
    span: Span
    related: tuple[RelatedLocation, ...] = ()
    fix: Fix | None = None
    # Runtime findings carry what was observed (shapes, value ranges); static ones leave it empty.
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # Notebooks: the 1-based cell (counting every cell, as Jupyter shows them); the span is then
    # within that cell.
    cell: int | None = None
    # Where the bug comes from, when the finding is reported at a use of it (a loss call fed by
    # a sigmoid in another file). Also the first related location. One cause, one finding.
    cause: RelatedLocation | None = None

    @property
    def line(self) -> int:
        return self.span.start_line

    @property
    def column(self) -> int:
        return self.span.start_column

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.span.start_line, self.span.start_column, self.code)


@dataclass(frozen=True)
class FileResult:
    """What linting one file produced. Workers return these; only the front end prints."""

    path: str
    diagnostics: tuple[Diagnostic, ...]
    # Set when fixes were applied in memory: the new text and how many fixes went in.
    fixed_source: str | None = None
    fixes_applied: int = 0
    # The encoding and original text are needed to write a fix back byte-faithfully.
    encoding: str = "utf-8"
    original_source: str | None = None
    # With `fixed_source`: the findings of the original text, which stand if the fix cannot be
    # written.
    unfixed_diagnostics: tuple[Diagnostic, ...] = ()
    from_cache: bool = False
    skipped: bool = False  # no rule wanted this file (prefilter): it was never parsed
    # Modules of the run this file's imports may name: its cache entry depends on their summaries.
    dependencies: tuple[str, ...] = ()
    # BLAKE2 of the bytes that were linted (None when none were read): the result is cached under
    # this hash, never under one taken earlier, so it can only be reused for that very content.
    content_hash: str | None = None
    # The text the diagnostics' positions refer to (the fixed text after --fix), kept only when
    # there are diagnostics, for the reports' code frames. None for a file that was not linted
    # (too large, not a regular file, undecodable) and for notebooks: no frame is then shown.
    text: str | None = None
