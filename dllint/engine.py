"""Lint one source text: prefilter, parse once, one batched traversal, suppressions, fixes.

This is the single loop every front end ends in (CLI, API, LSP, pre-commit): `lint_text` for a
text in memory and `lint_file` for a path.
"""

from __future__ import annotations

import ast
import traceback
import warnings
from dataclasses import replace
from typing import Iterable

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from dllint import budget, notebooks, parsed, suppressions
from dllint.config import Settings
from dllint.engine_codes import (INTERNAL_ERROR, MALFORMED_SUPPRESSION, OVER_BUDGET, SYNTAX_ERROR,
                                 TOO_DEEP)
from dllint.fixes import apply_fixes
from dllint.registry import all_rules
from dllint.context import FileContext, PendingReport
from dllint.rule import NodeEdit, NodeFix, Rule
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import analyse
from dllint.semantic.project import ProjectIndex, imported_modules, statement_imports
from dllint.source import SourceText, content_hash, decode_source, file_diagnostic, read_bytes
from dllint.walk import walk
from dllint.same_cause import SAME_CAUSE, merge_same_cause  # noqa: F401 - merge_same_cause: the engine's API
from dllint.types import Diagnostic, Edit, FileResult, Fix, RelatedLocation, Span

MAX_FIX_ROUNDS = 10


def rules_for(settings: Settings, path: str) -> list[type[Rule]]:
    off = settings.ignored_for(path)
    return [rule for rule in all_rules() if rule.code in settings.enabled and rule.code not in off]


def lint_file(path: str, settings: Settings, project: ProjectIndex | None = None) -> FileResult:
    data = read_bytes(path, settings.max_file_size)
    if isinstance(data, Diagnostic):
        return _file_level(data, settings)
    source = decode_source(data, path)
    if isinstance(source, Diagnostic):
        result = _file_level(source, settings)
    elif path.endswith(".ipynb"):
        result = lint_notebook(source, settings, project)
    else:
        result = lint_source_text(source, settings, project)
    if is_over_budget(result):
        return result  # not cached: with a larger budget, or a faster machine, it may fit
    return replace(result, content_hash=content_hash(data))


def is_over_budget(result: FileResult) -> bool:
    return any(diagnostic.code == OVER_BUDGET.code for diagnostic in result.diagnostics)


def over_budget_result(path: str, settings: Settings, message: str) -> FileResult:
    """The result of a file whose analysis was stopped for its budget (by `runner.Workers`)."""
    return _file_level(file_diagnostic(OVER_BUDGET, path, message), settings)


def lint_notebook(source: SourceText, settings: Settings,
                  project: ProjectIndex | None = None) -> FileResult:
    notebook = notebooks.parse(source.path, source.text)
    if isinstance(notebook, Diagnostic):
        return _file_level(notebook, settings)
    virtual = SourceText(source.path, notebook.text, "utf-8", notebook.text.encode())
    result = lint_source_text(virtual, settings, project)
    if result.fixed_source is not None:
        fixed_json = notebooks.write_back(notebook, result.fixed_source)
        if fixed_json is None:  # a fix changed a cell's line count: report, do not write
            result = lint_source_text(virtual, replace(settings, fix=False), project)
        else:
            result = replace(result, fixed_source=fixed_json, original_source=source.text,
                             encoding=source.encoding)
    # A cell that does not parse is its own DL903; the other cells were linted all the same.
    problems = [diagnostic for problem in notebook.problems
                for diagnostic in _file_level(problem, settings).diagnostics]
    mapped = _cells_of(notebook, [*result.diagnostics, *problems])
    unfixed = _cells_of(notebook, [*result.unfixed_diagnostics, *problems]) \
        if result.unfixed_diagnostics else ()
    # The virtual text's lines are not the file's (JSON): findings name cells, shown frameless.
    return replace(result, diagnostics=mapped, unfixed_diagnostics=unfixed,
                   encoding=source.encoding, text=None, skipped=result.skipped and not problems)


def _cells_of(notebook: notebooks.Notebook,
              diagnostics: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted((notebooks.map_diagnostic(notebook, d) for d in diagnostics),
                        key=Diagnostic.sort_key))


def lint_source_text(source: SourceText, settings: Settings,
                     project: ProjectIndex | None = None) -> FileResult:
    rules = rules_for(settings, source.path)
    dependencies: list[str] = []
    diagnostics = _lint_once(source.text, source.path, rules, settings, project, dependencies)
    if diagnostics is None:
        # Skipped today, but a call from another file, or a summary of a module it imports,
        # may make it worth linting tomorrow.
        linked = tuple(imported_modules(statement_imports(source.text), source.path)) \
            if project is not None else ()
        return FileResult(source.path, (), encoding=source.encoding, skipped=True,
                          dependencies=linked)
    if not settings.fix:
        return FileResult(source.path, tuple(diagnostics), encoding=source.encoding,
                          dependencies=tuple(dependencies),
                          text=source.text if diagnostics else None)
    text, applied, unfixed = source.text, 0, tuple(diagnostics)
    for _ in range(MAX_FIX_ROUNDS):
        new_text, count = apply_fixes(text, diagnostics, settings.unsafe_fixes)
        if count == 0:
            break
        new_diagnostics = _lint_once(new_text, source.path, rules, settings, project)
        if new_diagnostics is None:
            new_diagnostics = []  # no rule wants the fixed text any more, and it compiles
        if _has_syntax_error(new_diagnostics):
            # A fix that breaks the file is never written: keep the last text that parsed.
            break
        text, diagnostics, applied = new_text, new_diagnostics, applied + count
    fixed = text if applied else None
    return FileResult(source.path, tuple(diagnostics), fixed_source=fixed, fixes_applied=applied,
                      encoding=source.encoding, original_source=source.text if applied else None,
                      unfixed_diagnostics=unfixed if applied else (),
                      dependencies=tuple(dependencies), text=text if diagnostics else None)


def _file_level(diagnostic: Diagnostic, settings: Settings) -> FileResult:
    if not settings.is_engine_code_on(diagnostic.code, diagnostic.path):
        return FileResult(diagnostic.path, ())
    severity = settings.severity.get(diagnostic.code, diagnostic.severity)
    return FileResult(diagnostic.path, (replace(diagnostic, severity=severity),))


def _has_syntax_error(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.code == SYNTAX_ERROR.code for d in diagnostics)


def _lint_once(text: str, path: str, rules: list[type[Rule]], settings: Settings,
               project: ProjectIndex | None = None,
               dependencies: list[str] | None = None) -> list[Diagnostic] | None:
    """Diagnostics for `text`, or None when no rule wants the file (it is then never parsed)."""
    # A file whose functions receive values from other files' calls, or that imports what
    # another file defines, may hold the other end of a bug whatever its own text says
    # (`criterion(model(x), y)` names no loss).
    linked = project is not None and (project.receives_arguments(path) or
                                      project.summarises_any(statement_imports(text), path))
    wanted = [rule for rule in rules if rule.wants(text) or (linked and rule.uses_model)]
    check_suppressions = settings.report_unused_suppressions and any(
        marker in text for marker in suppressions.MARKERS)
    if not wanted and not check_suppressions:
        if _compiles(text):
            # A malformed suppression is reported in a file no rule wants as in any other.
            return _finish([], text, path, settings, frozenset()) \
                if _reports_malformed_suppressions(text, path, settings) else None
        # CPython refused it; libcst, which knows every version's grammar, has the last word.
    over = budget.screen(text, settings.file_time_budget)
    if over is not None:  # libcst would take minutes, or gigabytes, on this text
        line, message = over
        refusal = _cpython_refusal(text)  # 2,000 nested brackets: not Python at all
        found = file_diagnostic(SYNTAX_ERROR, path, refusal[1], refusal[0]) if refusal \
            else file_diagnostic(OVER_BUDGET, path, message, Span.point(line))
        return _finish([found], text, path, settings, frozenset())
    try:
        module = parsed.parse(text)
    except MemoryError:
        return _finish([_over_memory(path, settings)], text, path, settings, frozenset())
    except cst.ParserSyntaxError as error:
        span, message = _describe_syntax_error(text, error)
        return _finish([file_diagnostic(SYNTAX_ERROR, path, message, span)], text, path, settings,
                       frozenset())
    except RecursionError:
        return _finish([file_diagnostic(SYNTAX_ERROR, path,
                                        "Cannot parse: expressions nested too deeply")],
                       text, path, settings, frozenset())
    if not wanted and not check_suppressions:
        return None  # newer syntax than the running Python knows, but valid
    found: list[Diagnostic] = []
    try:
        context = FileContext(path, text, module, ImportMap.from_module(module),
                              settings=settings)
        if dependencies is not None and any(rule.uses_model for rule in wanted):
            dependencies[:] = imported_modules(context.imports.imported(), path)
        if any(rule.uses_model for rule in wanted):
            # The model is first in the batch: each node is seen by it before any rule asks.
            analyse(context, project, lambda model: [rule(context) for rule in wanted])
        else:
            walk(module, [rule(context) for rule in wanted])
        found.extend(_resolve(context.reports, module, path, settings))
    except RecursionError:
        found = [file_diagnostic(TOO_DEEP, path, "Code nested too deeply to analyse; file skipped")]
    except MemoryError:  # past the worker's cap (`budget.limit_memory`), or the machine's
        found = [_over_memory(path, settings)]
    except Exception as error:  # noqa: BLE001 - a bug in dllint must not end the run; reported
        found.append(_internal_error(path, _describe_crash(error)))
    return _finish(found, text, path, settings, frozenset(rule.code for rule in rules))


def _over_memory(path: str, settings: Settings) -> Diagnostic:
    return file_diagnostic(OVER_BUDGET, path,
                           budget.memory_budget_message(settings.file_memory_budget))


def _describe_syntax_error(text: str, error: cst.ParserSyntaxError) -> tuple[Span, str]:
    """CPython's message and position when it agrees the file is invalid (they read better:
    "'(' was never closed"), libcst's otherwise."""
    return _cpython_refusal(text) or (Span.point(error.raw_line, error.raw_column + 1),
                                      f"Cannot parse: {error.message}")


def _cpython_refusal(text: str) -> tuple[Span, str] | None:
    """CPython's syntax error in `text` (its parser is in C, and linear), or None."""
    try:
        _quiet_parse(text)
    except SyntaxError as cpython:
        if cpython.lineno:
            return Span.point(cpython.lineno, max(1, cpython.offset or 1)), \
                f"Cannot parse: {cpython.msg}"
    except (ValueError, RecursionError, MemoryError):
        pass
    return None


def _compiles(text: str) -> bool:
    """A file no rule wants is still checked for syntax errors, by CPython's parser in C: about
    a tenth of what a libcst parse costs."""
    try:
        _quiet_parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _quiet_parse(text: str) -> None:
    # CPython warns about suspicious code it parses ("'int' object is not callable"): those are
    # remarks on the user's code, not dllint's to print.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ast.parse(text)


def _finish(found: list[Diagnostic], text: str, path: str, settings: Settings,
            enabled: frozenset[str]) -> list[Diagnostic]:
    index = suppressions.scan(text)
    kept = suppressions.apply(found, index)
    if settings.report_unused_suppressions:
        kept.extend(suppressions.unused(index, path, enabled))
    if settings.is_engine_code_on(MALFORMED_SUPPRESSION.code, path):
        # Not passed through `apply`: `# noqa DL001` would suppress its own warning.
        kept.extend(suppressions.malformed(text, path))
    kept = [d for d in kept if d.code in enabled or settings.is_engine_code_on(d.code, path)]
    if settings.severity:
        kept = [replace(d, severity=settings.severity.get(d.code, d.severity)) for d in kept]
    return sorted(kept, key=Diagnostic.sort_key)


def _reports_malformed_suppressions(text: str, path: str, settings: Settings) -> bool:
    return settings.is_engine_code_on(MALFORMED_SUPPRESSION.code, path) and \
        bool(suppressions.malformed(text, path))


def _internal_error(path: str, message: str) -> Diagnostic:
    return file_diagnostic(INTERNAL_ERROR, path, f"Internal error: {message}")


def _describe_crash(error: Exception) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "dllint" in frame.filename] or frames
    where = f" at {ours[-1].filename}:{ours[-1].lineno}" if ours else ""
    return f"{type(error).__name__}: {error}{where}"


def _resolve(reports: list[PendingReport], module: cst.Module, path: str,
             settings: Settings) -> list[Diagnostic]:
    if not reports:
        return []
    # Positions are computed only here, for files that have findings: it costs more than parsing.
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)

    def span(node: cst.CSTNode) -> Span:
        code_range = positions[node]
        return Span(code_range.start.line, code_range.start.column + 1,
                    code_range.end.line, code_range.end.column + 1)

    def locate(item: tuple[cst.CSTNode, str] | RelatedLocation) -> RelatedLocation:
        return item if isinstance(item, RelatedLocation) else \
            RelatedLocation(path, span(item[0]), item[1])

    # One cause, one finding: a softmax that reaches two loss calls is reported once, with
    # both uses as related locations (the first message and fix stand). A report made at a use
    # names its cause; reports at the same node share it.
    merged: dict[tuple, list[PendingReport]] = {}
    for report in reports:
        cause = report.cause
        key = (id(cause[0]) if isinstance(cause, tuple) else cause) if cause is not None \
            else id(report.node)
        merged.setdefault((report.rule.code, key), []).append(report)
    diagnostics = []
    for group in merged.values():
        report = group[0]
        cause = locate(report.cause) if report.cause is not None else None
        items = [item for member in group for item in member.related]
        items += [(member.node, SAME_CAUSE) for member in group[1:] if member.node is not report.node]
        related: list[RelatedLocation] = [cause] if cause is not None else []
        for item in items:
            location = locate(item)
            if location not in related:
                related.append(location)
        fix = _resolve_fix(report.fix, module, span) if report.fix else None
        diagnostics.append(Diagnostic(report.rule.code, report.rule.name, report.message,
                                      report.rule.severity, path, span(report.node),
                                      tuple(related), fix, cause=cause))
    return diagnostics


def _resolve_fix(fix: NodeFix, module: cst.Module, span) -> Fix:
    return Fix(tuple(_resolve_edit(edit, module, span) for edit in fix.edits), fix.applicability,
               fix.description)


def _resolve_edit(edit: NodeEdit, module: cst.Module, span) -> Edit:
    where: Span = span(edit.node)
    content = edit.content if isinstance(edit.content, str) else module.code_for_node(edit.content)
    if edit.kind == "before":
        return Edit(Span(where.start_line, where.start_column, where.start_line, where.start_column),
                    content)
    if edit.kind == "after":
        return Edit(Span(where.end_line, where.end_column, where.end_line, where.end_column), content)
    return Edit(where, content)
