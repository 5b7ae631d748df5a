"""Output formats. Each takes the run's diagnostics and returns text; only the CLI writes it."""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from dllint.fixes import is_applicable
from dllint.types import Diagnostic


@dataclass(frozen=True)
class ReportContext:
    """What a report may need beyond the diagnostics themselves."""

    files_checked: int
    fixes_applied: int = 0
    unsafe_fixes: bool = False
    color: bool = False
    width: int = 100
    quiet: bool = False
    statistics: bool = False
    # The linted text of each file, by path, for code frames; a file not here gets none.
    sources: Mapping[str, str] = field(default_factory=dict)
    # `dllint trace`: why no complete training step was checked; never "All checks passed" then.
    incomplete: str = ""
    # `--show-fixes`: list the fixes, per file and rule: those applied (`fixed`, after `--fix`)
    # or, without `--fix`, the findings a fix is available for.
    show_fixes: bool = False
    # Per file, per rule code: (rule name, how many of its findings `--fix` fixed).
    fixed: Mapping[str, Mapping[str, tuple[str, int]]] = field(default_factory=dict)


Renderer = Callable[[Sequence[Diagnostic], ReportContext], str]


def is_problem(diagnostic: Diagnostic) -> bool:
    """Whether a finding counts as a problem (in the summary and the exit status). A passing
    single-batch overfit verdict (RT010 "passes", severity info) is information, not a problem."""
    return not (diagnostic.code == "RT010" and diagnostic.evidence.get("verdict") == "passes")


@dataclass(frozen=True)
class RuleCount:
    """One row of `--statistics`: how many findings a rule has, and whether `--fix` (with
    `--unsafe-fixes` when given) fixes every one of them, as ruff's `fixable` means."""

    code: str
    name: str
    count: int
    fixable: bool
    fixable_count: int

    def to_dict(self) -> dict[str, object]:
        # The keys and their order of `ruff check --statistics --output-format json`.
        return {"code": self.code, "name": self.name, "count": self.count,
                "fixable": self.fixable}


def rule_counts(diagnostics: Sequence[Diagnostic], unsafe_fixes: bool) -> list[RuleCount]:
    """Findings counted per rule code, the most frequent first (ties by code)."""
    counts = Counter(d.code for d in diagnostics)
    fixable = Counter(d.code for d in diagnostics if is_applicable(d.fix, unsafe_fixes))
    names = {d.code: d.name for d in diagnostics}
    return [RuleCount(code, names[code], count, fixable[code] == count, fixable[code])
            for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


# The formats `--statistics` can be written in (ruff refuses the others too).
STATISTICS_FORMATS = ("full", "concise", "text", "json")


# Every `--output-format` and the module that renders it (imported only when chosen, so a run
# pays only for its own format). The option's choices come from this table, in this order.
# `text` is the name `full` had before ruff's names were adopted; it is kept for scripts.
FORMAT_TABLE: dict[str, str] = {
    "full": "dllint.reports.text",  # each finding with its code frame (the default)
    "concise": "dllint.reports.concise",  # one line per finding
    "text": "dllint.reports.text",  # the same as full
    "json": "dllint.reports.json_report",
    "json-lines": "dllint.reports.json_lines",
    "github": "dllint.reports.github",
    "gitlab": "dllint.reports.gitlab",
    "junit": "dllint.reports.junit",
    "pylint": "dllint.reports.pylint",
    "sarif": "dllint.reports.sarif",
}
FORMATS = tuple(FORMAT_TABLE)
DEFAULT_FORMAT = "full"
# The formats a person reads: they end with the summary line ("Found 2 problems ...").
TEXT_FORMATS = ("full", "concise", "text")


def renderer(name: str) -> Renderer:
    try:
        module = FORMAT_TABLE[name]
    except KeyError:  # pragma: no cover - click validates the choice
        raise ValueError(name) from None
    return importlib.import_module(module).render
