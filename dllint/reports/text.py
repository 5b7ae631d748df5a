"""`--format text`: what a person reads in a terminal or a CI log.

    train.py:4:10: DL001 `glob.glob` returns entries in arbitrary order, ... [*]
      |
    4 | images = glob.glob("images/*.png")
      |          ^^^^^^^^^^^^^^^^^^^^^^^^^
      = train.py:6:8: order matters here

`path:line:col` is the form editors and terminals make clickable. Colour only on a terminal.
"""

from __future__ import annotations

import io
import os
from typing import Mapping, Sequence

from rich.console import Console
from rich.markup import escape
from rich.color import ColorSystem
from rich.style import Style
from rich.text import Text

from dllint.fixes import is_applicable
from dllint.lines import split_lines
from dllint.reports import ReportContext, is_problem, rule_counts
from dllint.types import Diagnostic, Severity

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}


class _Lines:
    """Lines of the texts that were linted. A file is never opened here: what is on disk now may
    not be what was linted, and reading it could hang (a FIFO) or never end (a device)."""

    def __init__(self, sources) -> None:
        self.sources = sources
        self.cache: dict[str, list[str]] = {}

    def get(self, path: str, line: int) -> str | None:
        if path not in self.cache:
            self.cache[path] = split_lines(self.sources.get(path, ""))
        lines = self.cache[path]
        return lines[line - 1] if 0 < line <= len(lines) else None


def _frame(console: Console, lines: _Lines, d: Diagnostic) -> None:
    if d.cell is not None:
        return  # the file's lines are JSON, not the cell's code
    text = lines.get(d.path, d.span.start_line)
    if text is None or "\0" in text:
        return
    text = text.expandtabs(1)
    gutter = " " * len(str(d.span.start_line))
    start = d.span.start_column - 1
    end = d.span.end_column - 1 if d.span.end_line == d.span.start_line else len(text)
    width = max(1, end - start)
    console.print(f"{gutter} [blue]|[/]", highlight=False)
    # The line as a plain Text, never markup: rich's escape() doubles a trailing backslash (a
    # `\` continuation) in case a tag follows, and none does here.
    console.print(Text.assemble((f"{d.span.start_line} |", "blue"), " ", text), highlight=False)
    console.print(f"{gutter} [blue]|[/] {' ' * start}[{_STYLE[d.severity]}]{'^' * width}[/]",
                  highlight=False)


def _location(path: str, line: int, column: int, color: bool, cell: int | None = None) -> str:
    label = escape(f"{path}:cell {cell}:{line}:{column}" if cell else f"{path}:{line}:{column}")
    if not color:
        return label
    # OSC 8 hyperlinks: a click opens the file in terminals that support them.
    return f"[bold][link=file://{escape(os.path.abspath(path))}]{label}[/link][/bold]"


def _console(buffer: io.StringIO, context: ReportContext) -> Console:
    return Console(file=buffer, emoji=False, force_terminal=context.color,
                   no_color=not context.color, width=context.width, highlight=False,
                   soft_wrap=True)


def render(diagnostics: Sequence[Diagnostic], context: ReportContext) -> str:
    """`--output-format full`: each finding with its code frame and related locations."""
    return render_text(diagnostics, context, frames=True)


def render_text(diagnostics: Sequence[Diagnostic], context: ReportContext, *,
                frames: bool) -> str:
    """The text report; `frames=False` is `concise`: one line per finding, then the summary."""
    buffer = io.StringIO()
    console = _console(buffer, context)
    if context.statistics:
        _statistics(console, diagnostics, context)
        return buffer.getvalue()
    lines = _Lines(context.sources)
    for d in diagnostics:
        fixable = " [cyan]\\[*][/]" if is_applicable(d.fix, context.unsafe_fixes) else ""
        console.print(Text.assemble(
            Text.from_markup(f"{_location(d.path, d.line, d.column, context.color, d.cell)}: ",
                             emoji=False),
            (d.code, _STYLE[d.severity]), " ", d.message, Text.from_markup(fixable, emoji=False)))
        if frames and not context.quiet:  # concise: the finding's line only
            _frame(console, lines, d)
            gutter = " " * len(str(d.span.start_line))
            for related in d.related:
                where = _location(related.path, related.span.start_line,
                                  related.span.start_column, context.color, related.cell)
                console.print(Text.assemble(
                    Text.from_markup(f"{gutter} [blue]=[/] {where}: ", emoji=False),
                    related.message))
            console.print()
    if not context.quiet:
        if context.show_fixes:
            _fix_list(console, diagnostics, context)
        _summary(console, diagnostics, context)
    return buffer.getvalue()


def _fix_list(console: Console, diagnostics: Sequence[Diagnostic], context: ReportContext) -> None:
    """`--show-fixes`, as ruff lists them: after `--fix` the fixes applied, otherwise the
    findings `--fix` would fix, per file and rule. Nothing when there are none."""
    if context.fixed:
        table = context.fixed
        heading = "Fixed {count} problem{s}:"
    else:
        pending: dict[str, dict[str, tuple[str, int]]] = {}
        for d in diagnostics:
            if is_applicable(d.fix, context.unsafe_fixes):
                name, count = pending.setdefault(d.path, {}).get(d.code, (d.name, 0))
                pending[d.path][d.code] = (name, count + 1)
        table = pending
        heading = "{count} fixable problem{s} with `dllint --fix`:"
    listing = _fix_table(table, heading)
    if listing:
        console.print(listing)
        console.print()


def _fix_table(table: Mapping[str, Mapping[str, tuple[str, int]]], heading: str) -> str:
    """Rich markup of `Fixed 2 problems:` then `- path:` and `    1 x DL001 (name)` lines, the
    shape of ruff's `--show-fixes`; empty when the table is."""
    total = sum(count for codes in table.values() for _, count in codes.values())
    if not total:
        return ""
    lines = [heading.format(count=total, s="" if total == 1 else "s")]
    for path in sorted(table):
        lines.append(f"- {escape(path)}:")
        for code in sorted(table[path]):
            name, count = table[path][code]
            # "x", not ruff's "×": a report must print on a terminal whose encoding is ASCII.
            lines.append(f"    {count} x [bold]{code}[/] ({escape(name)})")
    return "\n".join(lines)


def render_fix_only(context: ReportContext) -> str:
    """`--fix-only`: nothing but how many problems were fixed (`Fixed 2 problems.`), with
    `--show-fixes` the fixes listed per file and rule instead."""
    buffer = io.StringIO()
    console = _console(buffer, context)
    total = context.fixes_applied
    listing = _fix_table(context.fixed, "Fixed {count} problem{s}:") if context.show_fixes else ""
    console.print(listing or f"Fixed {total} problem{'' if total == 1 else 's'}.")
    return buffer.getvalue()


def _summary(console: Console, diagnostics: Sequence[Diagnostic], context: ReportContext) -> None:
    fixed = (f"Fixed {context.fixes_applied} problem{'s' if context.fixes_applied != 1 else ''}. "
             if context.fixes_applied else "")
    problems = [d for d in diagnostics if is_problem(d)]
    notes = len(diagnostics) - len(problems)
    if context.incomplete:
        found = (f"Found {len(problems)} problem{'s' if len(problems) != 1 else ''} "
                 f"before it stopped. " if problems else "")
        console.print(f"{found}[bold yellow]The trace is incomplete:[/] "
                      f"{escape(context.incomplete)}; the rest of the training step was not "
                      f"checked.")
        return
    files = f"{context.files_checked} file{'s' if context.files_checked != 1 else ''}"
    if not problems:
        # Information shown above (a passing overfit verdict) is not a problem.
        shown = f", {notes} note{'s' if notes != 1 else ''} above" if notes else ""
        console.print(f"{fixed}[green]All checks passed![/] ({files} checked{shown})")
        return
    fixable = sum(1 for d in diagnostics if is_applicable(d.fix, context.unsafe_fixes))
    hidden = sum(1 for d in diagnostics if d.fix is not None) - fixable
    noun = "problem" if len(problems) == 1 else "problems"
    line = f"{fixed}Found {len(problems)} {noun} in {files} checked."
    if fixable:
        line += f"\n[cyan][*][/] {fixable} fixable with `dllint --fix`."
    if hidden:
        line += f"\n{hidden} more fixable with `dllint --fix --unsafe-fixes`."
    console.print(line)


def _statistics(console: Console, diagnostics: Sequence[Diagnostic], context: ReportContext) -> None:
    """One line per rule, as ruff (and flake8) print them: count, code, `[*]` when `--fix` fixes
    every finding of the rule (`[ ]` otherwise; no column when nothing is fixable), rule name,
    tab-separated; then the summary with its fixable count, unless quiet."""
    rows = rule_counts(diagnostics, context.unsafe_fixes)
    if rows:
        count_width = max(len(str(row.count)) for row in rows)
        code_width = max(len(row.code) for row in rows)
        any_fixable = any(row.fixable for row in rows)

        def styled(text: str, style: str) -> str:
            # Written past rich, which would expand the tabs into spaces.
            return Style.parse(style).render(text, color_system=ColorSystem.STANDARD) \
                if context.color else text

        for row in rows:
            mark = (f"[{styled('*', 'cyan')}] " if row.fixable else "[ ] ") if any_fixable else ""
            console.file.write(f"{styled(str(row.count).rjust(count_width), 'bold')}\t"
                               f"{styled(row.code.ljust(code_width), 'bold red')}\t"
                               f"{mark}{row.name}\n")
    if not context.quiet:
        _summary(console, diagnostics, context)
