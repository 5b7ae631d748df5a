"""The `dllint` command. It parses options, calls the runner, and is the only place that prints."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import NoReturn, Sequence, TextIO

import click

from dllint import __version__, baseline, extras
from dllint.cache import is_cache_folder
from dllint.config import (ConfigError, ConfigurationSearch, FileConfig, Settings, build_settings,
                           find_config, load_config)
from dllint.engine_codes import ENGINE_CODES, FIX_NOT_WRITTEN, INTERNAL_ERROR, UNUSED_SUPPRESSION
from dllint.fix_journal import Journal, PlannedWrite, journal_folder, recover
from dllint.fixes import (FixNotWrittenError, HalfWrittenError, fix_target, unified_diff,
                          write_fix)
from dllint.registry import all_rules, lookup, runtime_codes
from dllint.reports import (DEFAULT_FORMAT, FORMATS, STATISTICS_FORMATS, TEXT_FORMATS,
                            ReportContext, is_problem, renderer)
from dllint.runner import RunResult, lint_in_project, lint_text, run
from dllint.source import decode_source, file_diagnostic, read_source
from dllint.types import Diagnostic, FileResult

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# `dllint trace` only: the script raised, timed out, exited non-zero, or never trained, so no
# complete training step was checked.
EXIT_TRACE_INCOMPLETE = 3
# `dllint trace` only: the script was interrupted (KeyboardInterrupt), as a shell reports Ctrl-C.
EXIT_TRACE_INTERRUPTED = 130


class Failure(click.ClickException):
    """A problem with what dllint was asked to do (a path, a file to write, the configuration):
    one line on standard error and exit status 2, never a traceback."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:
        click.echo(f"dllint: error: {self.format_message()}", err=True)


def _writable(path: str | Path, what: str) -> None:
    """Fail before any work is done when FILE cannot be created: its folder is missing."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise Failure(f"cannot write {what} {path}: the folder {folder} does not exist")


def _require_paths(paths: Sequence[str]) -> None:
    """A path that does not exist is a mistake in the command, not a finding: stop before any
    work, as mypy and pytest do. (A broken symbolic link exists: it is reported as DL900.)"""
    missing = [path for path in paths if _missing(path)]
    if missing:
        raise Failure(f"no such file or directory: {', '.join(missing)}")


def _missing(path: str) -> bool:
    """Whether nothing is at `path`. A path in a folder we may not search exists as far as we
    know: it is reported as DL900, like an unreadable file."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _emit(stream: TextIO, text: str) -> None:
    """Write to standard output or error; a file name that is not valid in the stream's
    encoding (lone surrogates, PEP 383) goes out as the bytes it came from, as `_write` does."""
    try:
        stream.write(text)
    except UnicodeEncodeError:  # raised before anything is written: the text is encoded whole
        stream.flush()
        stream.buffer.write(text.encode(stream.encoding or "utf-8", "surrogateescape"))
        stream.buffer.flush()


def _cannot_write(what: str, path: str | Path, error: OSError) -> Failure:
    return Failure(f"cannot write {what} {path}: {error.strerror or error}")


def _write(path: str | Path, text: str, what: str) -> None:
    try:
        # A file name that is not valid UTF-8 is held as lone surrogates (PEP 383): write back
        # the bytes it came from, as `ls` shows it, rather than fail.
        Path(path).write_text(text, encoding="utf-8", errors="surrogateescape")
    except OSError as error:
        raise _cannot_write(what, path, error) from None


@contextlib.contextmanager
def _one_line_usage_errors():
    """Click's usage errors (an unknown option, a bad value, a missing argument) as the one line
    every other mistake in the command gets, `dllint: error: ...`, with the same status 2, not
    Click's four-line block of usage, hint and `Error:`. Click's own suggestion stays in the
    message ("No such option '--frobnicate'. Did you mean '--format'?")."""
    try:
        yield
    except click.UsageError as error:
        raise Failure(error.format_message()) from None


class DefaultToCheck(click.Group):
    """`dllint src/` means `dllint check src/`, as `ruff src/` once meant `ruff check src/`.

    So `dllint --help` shows the commands and also the options of `check`, the default command.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        with _one_line_usage_errors():  # the options before the command, and its name
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context):
        with _one_line_usage_errors():  # the command's own options and arguments, and its body
            return super().invoke(ctx)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[CHECK OPTIONS] [PATHS]...")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="       ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)  # global options, then the commands
        check_command = self.commands["check"]
        with click.Context(check_command, info_name="check", parent=ctx) as check_context:
            rows = [record for param in check_command.get_params(check_context)
                    if isinstance(param, click.Option) and "--help" not in param.opts
                    and (record := param.get_help_record(check_context))]
        with formatter.section("Check options (dllint [PATHS] is dllint check [PATHS])"):
            formatter.write_dl(rows)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text("Exit status: 0 no findings, 1 findings, 2 a usage or configuration "
                             "error or an internal error. `dllint COMMAND --help` for more.")


def _codes(values: Sequence[str], option: str) -> list[str]:
    """The codes of a repeatable, comma-separated option. An empty one is refused as the config
    file refuses `select = [""]`: `--select ""` would otherwise turn every rule off and pass."""
    codes = [code.strip() for value in values for code in value.split(",")]
    if "" in codes:
        raise Failure(f"{option}: empty rule code in {', '.join(map(repr, values))}; give codes "
                      f"such as DL001, prefixes such as DL0, or ALL")
    return codes


@click.group(cls=DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dllint")
def main() -> None:
    """Find the silent bugs that make deep-learning code train badly."""


@main.command()
# Not `readable`: a file that cannot be read is a DL900 finding for that file, not a usage error.
@click.argument("paths", nargs=-1, type=click.Path(readable=False, path_type=str))
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the configured set).")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--output-format", "--format", "output_format", type=click.Choice(FORMATS),
              default=DEFAULT_FORMAT, envvar="DLLINT_FORMAT", show_envvar=True, show_default=True,
              metavar="FORMAT",
              help=f"Output format: {', '.join(name for name in FORMATS if name != 'text')} "
                   f"(--format is the same option; text is full).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the report to FILE instead of standard output.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also apply unsafe fixes.")
@click.option("--diff", is_flag=True,
              help="Print the fixes as a diff instead of writing them; exit 1 if any is pending.")
@click.option("--fix-only", is_flag=True,
              help="Apply fixes and report only how many; the findings left do not fail the run.")
@click.option("--show-fixes", is_flag=True,
              help="List the fixes applied (with --fix) or available, per file and rule.")
@click.option("--exit-non-zero-on-fix", is_flag=True,
              help="Exit 1 when --fix or --fix-only changed a file, even if no finding is left.")
@click.option("--add-noqa", is_flag=True,
              help="Add a `# dllint: ignore[CODE]` comment for every finding, instead of reporting.")
@click.option("--watch", is_flag=True, help="Lint again whenever a file changes (Ctrl-C stops).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when problems are found.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--file-time-budget", type=float, metavar="SECONDS",
              help="Seconds one file may take before it is skipped as DL909 (default 10).")
@click.option("--stdin-filename", help="Lint standard input, naming it NAME in reports and config.")
@click.option("--statistics", is_flag=True,
              help="Count findings per rule instead of listing them (full, concise or json).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this pyproject.toml (or dllint.toml) instead of searching for one.")
@click.option("--force-exclude", is_flag=True, help="Apply excludes to paths given on the command line too.")
@click.option("--report-unused-suppressions", is_flag=True, default=None,
              help="Report suppression comments that suppress nothing (DL905).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Report only findings not in FILE; a missing FILE records today's findings.")
@click.option("--update-baseline", is_flag=True, help="Rewrite the --baseline FILE with today's findings.")
@click.option("-q", "--quiet", is_flag=True, help="Print findings only: no source frames, no summary.")
@click.option("-v", "--verbose", is_flag=True, help="Also print what was configured and how long it took.")
def check(paths: tuple[str, ...], select, extend_select, ignore, output_format: str, output: str | None,
          fix: bool, unsafe_fixes: bool, diff: bool, exit_zero: bool, no_cache: bool, jobs: int | None,
          stdin_filename: str | None, statistics: bool, config_path: Path | None, force_exclude: bool,
          report_unused_suppressions: bool | None, baseline_path: Path | None,
          update_baseline: bool, quiet: bool, verbose: bool,
          file_time_budget: float | None = None, fix_only: bool = False, show_fixes: bool = False,
          exit_non_zero_on_fix: bool = False, add_noqa: bool = False,
          watch: bool = False) -> None:
    """Lint PATHS (default: the current directory)."""
    start = Path(stdin_filename).parent if stdin_filename else Path(paths[0] if paths else ".")
    reads_stdin = stdin_filename is not None or paths == ("-",)
    _refuse_conflicting_fix_options(reads_stdin, fix=fix, diff=diff, fix_only=fix_only,
                                    add_noqa=add_noqa, watch=watch,
                                    baseline=baseline_path is not None, statistics=statistics)
    if watch:
        _require_paths(paths)
        _watch(click.get_current_context(), paths or (".",))
    fix = fix or fix_only
    if statistics and output_format not in STATISTICS_FORMATS:
        raise Failure(f"--statistics is written as full, concise or json, not {output_format}")
    _check_stdin_paths(stdin_filename, paths)
    if not reads_stdin:
        _require_paths(paths)
    if output is not None:
        _writable(output, "the report to")
    if baseline_path is not None:
        _writable(baseline_path, "the baseline")
    options = dict(select=_codes(select, "--select") if select else None,
                   extend_select=_codes(extend_select, "--extend-select"),
                   ignore=_codes(ignore, "--ignore"), fix=fix or diff, unsafe_fixes=unsafe_fixes,
                   report_unused_suppressions=report_unused_suppressions,
                   file_time_budget=file_time_budget)

    def settings_over(file_config: FileConfig, project_start: Path) -> Settings:
        return build_settings(file_config, **options, start=project_start)

    try:
        settings = settings_over(load_config(config_path or find_config(start), Path.cwd()),
                                 start)
    except ConfigError as error:
        raise Failure(str(error)) from None
    # Each file uses its nearest configuration, the command line's options over it; --config
    # names the one configuration of every file.
    settings_for = None if config_path is not None else \
        ConfigurationSearch(settings_over, Path.cwd(), known=settings)
    if verbose:
        _note(f"dllint {__version__}; configuration: {settings.config_path or 'defaults'}; "
              f"rules: {', '.join(sorted(settings.enabled)) or 'none'}")

    if not no_cache and not reads_stdin and settings.cache_dir.exists() \
            and not is_cache_folder(settings.cache_dir):
        _note(f"dllint: warning: cache-dir {settings.cache_dir} exists and was not created by "
              f"dllint; nothing is cached there (name a new folder, or remove it)")

    sources: dict[str, str] = {}
    try:
        if reads_stdin:
            name = stdin_filename or "-"
            own = settings_for(name) if settings_for is not None and name != "-" else settings
            results = [_lint_stdin(name, own, sources, use_cache=not no_cache)]
            result = RunResult(files=results)
        else:
            _report_interrupted_fixes(settings.cache_dir)
            shown = _progress_display(quiet)
            with shown if shown is not None else contextlib.nullcontext():
                result = run(paths or (".",), settings, jobs=jobs, use_cache=not no_cache,
                             force_exclude=force_exclude, settings_for=settings_for,
                             progress=shown.update if shown is not None else None)
    except ConfigError as error:  # the configuration of a folder below the first path's
        raise Failure(str(error)) from None
    if verbose:
        _note(f"{len(result.files)} files, {result.cached} from cache, {result.elapsed:.2f} s")
    if not result.files:
        _note(f"dllint: warning: no Python files or notebooks found under "
              f"{', '.join(paths or ('.',))} (after excludes)")

    write_failed = False
    if fix or diff:
        for file_result in result.files:
            if file_result.fixed_source is None:
                continue
            if diff:
                original = file_result.original_source or ""
                _emit(sys.stdout, unified_diff(file_result.path, original, file_result.fixed_source))
            elif file_result.path in sources:
                click.echo(file_result.fixed_source, nl=False)
        if fix and not diff and not sources:
            write_failed = _write_fixes(result, settings)
    if add_noqa:
        sys.exit(_add_noqa(result, settings))
    if diff or fix_only:
        sys.exit(_report_fixes_only(result, diff=diff, write_failed=write_failed,
                                    exit_zero=exit_zero, show_fixes=show_fixes,
                                    exit_non_zero_on_fix=exit_non_zero_on_fix,
                                    to_stderr=bool(sources), output=output,
                                    unsafe_fixes=unsafe_fixes))

    diagnostics = result.diagnostics
    if update_baseline and baseline_path is None:
        raise click.UsageError("--update-baseline needs --baseline FILE")
    if baseline_path is not None:
        if update_baseline or not baseline_path.exists():
            try:
                count = baseline.write(baseline_path, diagnostics, result.sources)
            except OSError as error:
                raise _cannot_write("the baseline", baseline_path, error) from None
            _note(f"Recorded {count} finding(s) in {baseline_path}; later runs report only new ones.")
            sys.exit(EXIT_CLEAN)
        try:
            fresh = baseline.new_findings(baseline_path, diagnostics, result.sources)
        except baseline.BaselineError as error:
            raise Failure(str(error)) from None
        if verbose:
            _note(f"{len(diagnostics) - len(fresh)} finding(s) are in the baseline {baseline_path}")
        diagnostics = fresh
    to_stdout = output is None and not (fix and sources) and not diff
    color = to_stdout and _wants_color()
    context = ReportContext(
        files_checked=len(result.files),
        fixes_applied=0 if diff else result.fixes_applied,
        unsafe_fixes=unsafe_fixes, color=color,
        width=shutil.get_terminal_size((100, 24)).columns, quiet=quiet, statistics=statistics,
        sources=result.sources, show_fixes=show_fixes, fixed=_fixed_table(result) if fix else {})
    report = renderer(output_format)(diagnostics, context)
    if output is not None:
        _write(output, report, "the report to")
    elif to_stdout:
        _emit(sys.stdout, report)
    else:
        _emit(sys.stderr, report)  # stdout carries the fixed source or the diff
    status = _exit_status(diagnostics, exit_zero, write_failed)
    if status == EXIT_CLEAN and exit_non_zero_on_fix and result.fixes_applied:
        status = EXIT_FINDINGS
    sys.exit(status)


def _watch(ctx: click.Context, paths: Sequence[str]) -> NoReturn:
    """`--watch`: run this same check (without --watch) now and after every change to a linted
    file, a folder holding one, or a configuration file; Ctrl-C exits 0."""
    from dllint import watch as watching
    from dllint.discovery import discover

    params = dict(ctx.params, watch=False)

    def lint_once() -> None:
        try:
            ctx.invoke(check, **params)
        except SystemExit:  # each check ends with its exit status; the watch goes on
            pass
        except click.ClickException as error:  # a broken configuration, until it is fixed
            error.show()

    def paths_to_watch() -> list[str]:
        start = Path(paths[0])
        config = params["config_path"] or find_config(start)
        config_name = None if config is None else str(config)
        try:
            settings = build_settings(load_config(config, Path.cwd()), start=start)
        except ConfigError:  # reported by the check; watch the configuration for a fix
            return watching.watched_paths([], paths, config_name)
        found = discover(paths, settings, force_exclude=params["force_exclude"])
        return watching.watched_paths(found.files, paths, config_name)

    sys.exit(watching.watch(lint_once, paths_to_watch))


def _refuse_conflicting_fix_options(reads_stdin: bool, *, fix: bool, diff: bool, fix_only: bool,
                                    add_noqa: bool, watch: bool, baseline: bool,
                                    statistics: bool) -> None:
    """Options that ask for two different runs are a usage error (exit 2), as in ruff."""
    if add_noqa:
        clash = [name for name, given in (("--fix", fix), ("--diff", diff),
                                          ("--fix-only", fix_only), ("--watch", watch),
                                          ("--baseline", baseline),
                                          ("--statistics", statistics)) if given]
        if clash:
            raise Failure(f"--add-noqa cannot be combined with {', '.join(clash)}")
        if reads_stdin:
            raise Failure("--add-noqa writes comments into files; it cannot read standard input")
    if watch and reads_stdin:
        raise Failure("--watch re-lints files as they change; it cannot read standard input")
    if diff and fix_only:
        raise Failure("--diff and --fix-only cannot be combined: --diff writes nothing")


def _fixed_table(result: RunResult) -> dict[str, dict[str, tuple[str, int]]]:
    """Per file written, per rule: (rule name, how many of its findings the fixes removed), the
    findings before the fix less those after, as `--show-fixes` lists them."""
    table: dict[str, dict[str, tuple[str, int]]] = {}
    for file_result in result.files:
        if file_result.fixed_source is None:
            continue
        before = collections.Counter(d.code for d in file_result.unfixed_diagnostics)
        names = {d.code: d.name for d in file_result.unfixed_diagnostics}
        gone = before - collections.Counter(d.code for d in file_result.diagnostics)
        if gone:
            table[file_result.path] = {code: (names[code], count) for code, count in gone.items()}
    return table


def _report_fixes_only(result: RunResult, *, diff: bool, write_failed: bool, exit_zero: bool,
                       show_fixes: bool, exit_non_zero_on_fix: bool, to_stderr: bool,
                       output: str | None, unsafe_fixes: bool) -> int:
    """`--fix-only` and `--diff` report the fixes, never the findings left, as ruff does.

    `--fix-only`: `Fixed N problems.` (with `--show-fixes`, listed per file and rule); exit 0,
    or 1 with `--exit-non-zero-on-fix` when a file was changed. `--diff`: the diff went to
    standard output; `Would fix N problems.` goes to standard error; exit 1 when any fix is
    pending (0 with `--exit-zero`). A fix that could not be written exits 2 either way."""
    from dllint.reports.text import render_fix_only

    fixed = sum(file_result.fixes_applied for file_result in result.files
                if file_result.fixed_source is not None)
    internal = any(d.code == INTERNAL_ERROR.code for d in result.diagnostics)
    for d in result.diagnostics:
        if d.code in (INTERNAL_ERROR.code, FIX_NOT_WRITTEN.code):
            _note(f"dllint: error: {_display_path(d.path)}: {d.message}")
    if diff:
        _note(f"Would fix {fixed} problem{'' if fixed == 1 else 's'}." if fixed else
              "No fixes would be applied.")
        pending = EXIT_FINDINGS if fixed and not exit_zero else EXIT_CLEAN
        return EXIT_ERROR if internal else pending
    context = ReportContext(files_checked=len(result.files), fixes_applied=fixed,
                            unsafe_fixes=unsafe_fixes, show_fixes=show_fixes,
                            fixed=_fixed_table(result))
    summary = render_fix_only(context)
    if output is not None:
        _write(output, summary, "the report to")
    else:
        _emit(sys.stderr if to_stderr else sys.stdout, summary)
    if write_failed or internal:
        return EXIT_ERROR
    return EXIT_FINDINGS if exit_non_zero_on_fix and fixed else EXIT_CLEAN


def _write_fixes(result: RunResult, settings: Settings) -> bool:
    """Write the fixed files, each through its links (renamed over whole from the cache folder,
    or in place where a rename would split hard links), after recording every write in the fix
    journal so that a kill mid-way is noticed and finished by the next run.

    A file whose fixes cannot be written keeps its findings from before the fix, plus a DL908
    saying why, and counts no fix. Returns whether any fix was not written.
    """
    planned: list[tuple[int, PlannedWrite]] = []
    refused: dict[int, str] = {}
    # One file reached by two linted paths (a link, a hard link) is written once.
    first_path: dict[tuple[int, int], int] = {}
    same_as: dict[int, int] = {}
    for index, file_result in enumerate(result.files):
        if file_result.fixed_source is None:
            continue
        try:
            target = fix_target(file_result.path)
            before = (file_result.original_source or "").encode(file_result.encoding)
            after = file_result.fixed_source.encode(file_result.encoding)
            status = os.stat(target)
        except FixNotWrittenError as error:
            refused[index] = str(error)
            continue
        except UnicodeEncodeError as error:
            refused[index] = f"the fixed text has characters that {error.encoding} cannot encode"
            continue
        except OSError as error:
            refused[index] = f"cannot write the file: {error.strerror or error}"
            continue
        identity = (status.st_dev, status.st_ino)
        if identity in first_path:
            first = first_path[identity]
            if result.files[first].fixed_source != file_result.fixed_source:
                refused[index] = (f"it is the same file as {result.files[first].path}, "
                                  f"which is fixed differently")
            else:
                same_as[index] = first
            continue
        first_path[identity] = index
        planned.append((index, PlannedWrite(target, before, after)))
    journal = None
    if planned:
        folder = journal_folder(settings.cache_dir)
        try:
            journal = Journal(folder, [write for _, write in planned])
        except OSError as error:
            _note(f"dllint: warning: cannot record the fixes in {folder} "
                  f"({error.strerror or error}); a run killed now may leave a file half-written")
    half_written = False
    try:
        for index, write in planned:
            try:
                write_fix(write.path, write.after, write.before,
                          staging=journal.path.with_suffix("") if journal is not None else None)
            except FixNotWrittenError as error:
                refused[index] = str(error)
                half_written |= isinstance(error, HalfWrittenError)
            except OSError as error:
                refused[index] = f"cannot write the file: {error.strerror or error}"
    except BaseException:  # Ctrl-C mid-write: the next run must see the journal
        half_written = True
        raise
    finally:
        if journal is not None:
            journal.close(keep=half_written)
    for index, first in same_as.items():
        if first in refused:
            refused[index] = refused[first]
    for index, reason in refused.items():
        file_result = result.files[index]
        why = file_diagnostic(FIX_NOT_WRITTEN, file_result.path,
                              f"The fixes were not written: {reason}")
        result.files[index] = dataclasses.replace(
            file_result, diagnostics=(*file_result.unfixed_diagnostics, why), fixed_source=None,
            fixes_applied=0,
            # Frames of the unfixed text; a notebook's findings name cells and show none.
            text=None if file_result.path.endswith(".ipynb") else file_result.original_source)
    return bool(refused)


def _add_noqa(result: RunResult, settings: Settings) -> int:
    """`--add-noqa`: write a suppression comment for each finding into its file, through the
    `--fix` writer (journalled, whole or not at all, only over the text that was linted), and
    say how many lines got one. Exit 0, or 2 when a file could not be written."""
    import libcst

    from dllint.add_noqa import add_directives, suppressible

    planned = RunResult(files=[])
    added = 0
    for file_result in result.files:
        wanted = [d for d in file_result.diagnostics if suppressible(d)]
        if not wanted:
            continue
        source = read_source(file_result.path)
        linted = file_result.text
        if isinstance(source, Diagnostic) or linted is None or source.text != linted:
            _note(f"dllint: warning: {_display_path(file_result.path)} changed while it was "
                  f"linted (or cannot be read now); no comments added to it")
            continue
        edit = add_directives(source.text, wanted)
        if edit is None:
            _note(f"dllint: warning: {_display_path(file_result.path)}: this Python cannot "
                  f"tokenize the file; no comments added to it")
            continue
        for d in edit.unplaceable:
            _note(f"dllint: warning: {_display_path(d.path)}:{d.line}: {d.code} is inside a "
                  f"string or a continued line; no comment added for it")
        if not edit.added:
            continue
        try:
            libcst.parse_module(edit.text)
        except libcst.ParserSyntaxError:  # a defect of add_directives; never write it
            _note(f"dllint: error: {_display_path(file_result.path)}: the comments would "
                  f"break the file; it is left as it is")
            continue
        planned.files.append(dataclasses.replace(
            file_result, fixed_source=edit.text, original_source=source.text,
            encoding=source.encoding, fixes_applied=edit.added,
            unfixed_diagnostics=file_result.diagnostics))
    failed = _write_fixes(planned, settings) if planned.files else False
    for file_result in planned.files:
        if file_result.fixed_source is None:  # refused: its DL908 says why
            for d in file_result.diagnostics:
                if d.code == FIX_NOT_WRITTEN.code:
                    _note(f"dllint: error: {_display_path(d.path)}: "
                          f"{d.message.replace('fixes', 'comments')}")
        else:
            added += file_result.fixes_applied
    _note(f"Added {added} noqa directive{'' if added == 1 else 's'}.")
    return EXIT_ERROR if failed else EXIT_CLEAN


def _report_interrupted_fixes(cache_dir: Path) -> None:
    """Say what an earlier `--fix` that was killed while writing left, after settling it."""
    try:
        recoveries = recover(cache_dir)
    except OSError as error:
        _note(f"dllint: warning: cannot read the fix journal in {journal_folder(cache_dir)}: "
              f"{error.strerror or error}")
        return
    for recovery in recoveries:
        if recovery.unreadable:
            _note(f"dllint: warning: a fix journal could not be settled; it is kept as "
                  f"{recovery.unreadable}")
            continue
        _note(f"dllint: warning: a `dllint --fix` started {recovery.started} was interrupted "
              f"while writing its fixes:")
        for label, paths in (("fixed", recovery.fixed),
                             ("half-written, now finished", recovery.finished),
                             ("not fixed (run `dllint --fix` again)", recovery.not_fixed)):
            if paths:
                _note(f"  {label}: {', '.join(_display_path(path) for path in paths)}")
        for path, kept in recovery.kept.items():
            _note(f"  neither its old nor its fixed text (edited since?), so left as it is: "
                  f"{_display_path(path)} (its old text is in {_display_path(kept)})")


def _exit_status(diagnostics: Sequence[Diagnostic], exit_zero: bool, write_failed: bool) -> int:
    if write_failed or any(d.code == INTERNAL_ERROR.code for d in diagnostics):
        return EXIT_ERROR
    if diagnostics and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _check_stdin_paths(stdin_filename: str | None, paths: Sequence[str]) -> None:
    """With --stdin-filename only standard input is linted: paths beside it would be silently
    left out, so they are refused, as ruff refuses them (a lone `-` names standard input)."""
    if stdin_filename is not None and paths and tuple(paths) != ("-",):
        raise Failure(f"--stdin-filename lints standard input only, not the paths "
                      f"{', '.join(paths)}: give one or the other")


def _lint_stdin(name: str, settings: Settings, sources: dict[str, str],
                use_cache: bool) -> FileResult:
    data = sys.stdin.buffer.read()
    source = decode_source(data, name)
    if isinstance(source, Diagnostic):
        return FileResult(name, (source,))
    sources[name] = source.text
    if name == "-":
        return lint_text(source.text, name, settings)
    # A named buffer is linted against its project, as `dllint NAME` lints the file.
    return lint_in_project(name, source.text, settings, use_cache=use_cache)


def _display_path(path: str) -> str:
    """A path under the working directory as `dllint check` prints it: relative."""
    if not os.path.isabs(path):
        return path
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def _display_paths(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return [dataclasses.replace(
        d, path=_display_path(d.path),
        related=tuple(dataclasses.replace(r, path=_display_path(r.path)) for r in d.related))
        for d in diagnostics]


def _terminal_width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def _wants_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _note(message: str) -> None:
    click.echo(message, err=True)


def _progress_display(quiet: bool):
    """The progress of a run, drawn on standard error while it runs: only on a terminal, so
    piped or redirected output and CI logs carry none, and not with --quiet."""
    if quiet or not sys.stderr.isatty():
        return None
    from rich.console import Console

    from dllint.reports.progress import TerminalProgress
    return TerminalProgress(Console(file=sys.stderr))


DEFAULT_OVERFIT_STEPS = 200


class ModuleDepth(click.ParamType):
    """`--depth`: a depth of the module tree (0 or more), or `all`."""
    name = "depth"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "all":
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        self.fail(f"{value!r} is neither a depth (0, 1, 2, ...) nor 'all'", param, ctx)


class MemorySize(click.ParamType):
    """`--memory-budget`: a size (`24GiB`, `16GB`, `512MiB`, bytes), as bytes. Parsed before the
    script runs: a bad size is one `dllint: error:` line and exit status 2."""
    name = "size"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        from dllint.runtime.memory_model import parse_size  # no torch: parsed before it loads
        try:
            return parse_size(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class TraceCommand(click.Command):
    """`--overfit` takes an optional step count: `--overfit 50 train.py`, `--overfit=50`, or a bare
    `--overfit train.py` (200 steps). Click would read the script as the count, so a bare
    `--overfit` gets its default before parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        arguments = list(args)
        for index, argument in enumerate(arguments):
            if argument == "--":
                break
            if argument == "--overfit":
                following = arguments[index + 1] if index + 1 < len(arguments) else None
                if following is None or not following.lstrip("-").isdigit():
                    arguments[index] = f"--overfit={DEFAULT_OVERFIT_STEPS}"
        return super().parse_args(ctx, arguments)


@main.command(cls=TraceCommand, context_settings={"ignore_unknown_options": True})
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--steps", type=click.IntRange(min=1), default=1, show_default=True,
              help="Optimizer steps to run before stopping (2+ to see gradient accumulation).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="cpu hides GPUs from the script; the report names the "
                                      "device the model actually ran on.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=300, show_default=True,
              help="Seconds before the script is stopped.")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text",
              envvar="DLLINT_FORMAT",
              help="Output format; json is the whole report (schema dllint-trace/2).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to FILE.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a gradient-flow PNG.")
@click.option("--depth", type=ModuleDepth(), default=None, metavar="N|all",
              help="Module table: rows down to depth N (a model is 0, its attributes 1), or "
                   "every module (all). Default: the deepest view up to 3 that fits in 50 rows.")
@click.option("--no-static", is_flag=True, help="Do not run the static rules over the script.")
@click.option("--overfit", type=click.IntRange(min=5), default=None, metavar="[K]",
              help=f"Replay the first batch for K steps (default {DEFAULT_OVERFIT_STEPS}) and "
                   f"judge the loss curve.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run the script as N ranks under torch.distributed.run (torchrun) and merge "
                   "their reports; inside your own torchrun command, leave it out.")
@click.option("--collective-timeout", type=click.FloatRange(min=0.1), default=60,
              show_default=True, help="Distributed runs: seconds a rank may wait in a "
                                      "collective before the run is ended and every rank's "
                                      "place reported (RT015).")
@click.option("--memory-budget", type=MemorySize(), default=None, metavar="SIZE",
              help="Judge the step's peak memory against SIZE (24GiB, 16GB, 512MiB): a step "
                   "over it is reported (RT017) with the batch size that fits and the changes "
                   "that would save the most.")
@click.option("--script-output-to-stderr", is_flag=True, hidden=True,
              help="Send the script's own prints to stderr (set for ranks when the report is "
                   "machine-readable on stdout).")
def trace(script: str, script_args: tuple[str, ...], steps: int, device: str, timeout: float,
          output_format: str, output: str | None, plot: str | None,
          depth: int | str | None, no_static: bool, overfit: int | None, nproc: int,
          collective_timeout: float, memory_budget: int | None,
          script_output_to_stderr: bool) -> None:
    """Run SCRIPT for one real training step under instruments (`dllint trace train.py -- ARGS`).

    With --nproc N (or inside a torchrun command) every rank is traced and one report merged.

    Exit status: 0 the step was checked and nothing was found, 1 problems found (also a step
    over --memory-budget, and a script that ran out of memory: RT017 says where and what to
    change), 2 a usage error or an error inside dllint's instruments, 3 the trace is
    incomplete: the script raised, ran past --timeout, exited (sys.exit(n) or os._exit(n)) with
    n != 0, or never stepped an optimizer (on any rank), or the --overfit replay ran fewer than
    K steps (no verdict), 130 the script was interrupted (KeyboardInterrupt).
    """
    try:
        from dllint.runtime.distributed.job import current_rank
        from dllint.runtime.script import TraceInterrupted, trace_script
    except ImportError as error:
        raise Failure(extras.import_failure(error, "dllint trace", "runtime")) from None
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise Failure("--device cuda: no CUDA device is available")
    if output is not None:
        _writable(output, "the report to")
    if plot is not None:
        _writable(plot, "the plot to")
        if not extras.is_installed("plot"):  # before the script runs, not after
            raise Failure(extras.missing_extra_message("plot", "--plot"))
    arguments = list(script_args[1:] if script_args[:1] == ("--",) else script_args)
    # A JSON or SARIF report on stdout must parse: the script's own prints go to stderr.
    to_stderr = script_output_to_stderr or (output is None and output_format != "text")
    printer = TracePrinter(script, output_format, output, plot, no_static, depth)
    script_output = contextlib.redirect_stdout(sys.stderr) if to_stderr else \
        contextlib.nullcontext()
    place = current_rank()
    if place is not None or nproc > 1:
        if memory_budget is not None:
            raise Failure("--memory-budget judges one process's step; it is not available with "
                          "--nproc or inside torchrun")
        from dllint.runtime.distributed.launcher import TraceOptions, launch
        options = TraceOptions(steps, timeout, device, overfit, collective_timeout, to_stderr)
        if place is not None:
            _trace_as_rank(script, arguments, place, options, printer, script_output)
        printer.distributed(launch(script, arguments, nproc, options))
    with script_output:
        try:
            report = trace_script(script, arguments, steps=steps, timeout=timeout,
                                  device=device, overfit=overfit,
                                  on_unstoppable=printer.end_unstoppable,
                                  memory_budget=memory_budget)
        except TraceInterrupted as interrupted:
            report = interrupted.report
    printer.single(report)


def _trace_as_rank(script: str, arguments: list[str], place, options, printer: TracePrinter,
                   script_output: contextlib.AbstractContextManager) -> NoReturn:
    """One rank of a torchrun job. Under `dllint trace --nproc` the launcher prints; inside a
    user's own torchrun, rank 0 gathers the other ranks' reports and prints."""
    from dllint.runtime.distributed.job import Exchange, StoreUnreachable
    from dllint.runtime.distributed.launcher import run_rank, wait_and_collect

    def print_from_rank_zero() -> int:
        exchange = Exchange.connect(place)
        printer.distributed(wait_and_collect(exchange, place.world_size,
                                             options.collective_timeout), exit=False)
        return printer.status

    prints = not place.launched and place.rank == 0
    try:
        with script_output:
            report = run_rank(script, arguments, place, options,
                              print_report=print_from_rank_zero if prints else None)
    except StoreUnreachable as error:
        raise Failure(str(error)) from None
    if prints:
        print_from_rank_zero()
        sys.exit(printer.status)
    # A rank whose script raised exits non-zero so that torchrun stops the others at once.
    sys.exit(EXIT_TRACE_INCOMPLETE if report.trace.outcome in ("raised", "timeout") else
             EXIT_CLEAN)


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):  # closed, or a broken pipe
                stream.flush()


def _awaited_at_exit() -> set[object]:
    """The non-daemon threads and multiprocessing children running now: the interpreter waits
    for them at exit."""
    main_thread = threading.main_thread()
    running: set[object] = {thread for thread in threading.enumerate()
                            if thread is not main_thread and not thread.daemon
                            and thread.is_alive()}
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None:
        running.update(multiprocessing.active_children())
    return running


def _end_trace(status: int, running_before: set[object]) -> NoReturn:
    """Exit after the report with `status`. When the script left threads or multiprocessing
    children running (that were not running before it), the interpreter's exit would wait for
    them, maybe forever: the children are terminated (the script was stopped) and the process
    ends at once."""
    left = _awaited_at_exit() - running_before
    if left:
        for child in left:
            if not isinstance(child, threading.Thread):
                child.terminate()
        _flush_standard_streams()
        os._exit(status)
    sys.exit(status)


# `audit --trace`: the width the embedded trace report is rendered at.
AUDIT_TRACE_WIDTH = 200


class TracePrinter:
    """Writes a trace report (one process, or merged from every rank) with the static findings
    of the script and its own modules, and knows the exit status it implies."""

    def __init__(self, script: str, output_format: str, output: str | None, plot: str | None,
                 no_static: bool, depth: int | str | None = None) -> None:
        self.script = script
        # The module table's view: the default (depth and row limit), or what --depth asked for.
        self.table_view = {} if depth is None else {
            "depth": None if depth == "all" else depth, "row_limit": None}
        self.output_format = output_format
        self.output = output
        self.plot = plot
        self.no_static = no_static
        self.status = EXIT_CLEAN
        self.running_before = _awaited_at_exit()
        # Where the report goes when no file is given: stdout as it is now, even if the
        # script's prints are later sent elsewhere (rank 0 may print from its watchdog).
        self.stream = sys.stdout

    def _static(self, local_files: Sequence[str]) -> list[Diagnostic]:
        if self.no_static:
            return []
        from dllint.api import lint_paths, settings_for
        # The script and its own modules that it imported (where the model usually lives).
        return lint_paths([self.script, *local_files], settings=settings_for(self.script))

    def single(self, report) -> NoReturn:
        self._write_single(report)
        _end_trace(self.status, self.running_before)

    def end_unstoppable(self, report) -> NoReturn:
        """From the timeout's watchdog thread: the script ran past --timeout and did not stop
        when interrupted. The report of what was seen is written, and the process ends, whatever
        the script is doing."""
        self.status = EXIT_TRACE_INCOMPLETE
        try:
            self._write_single(report)
        finally:
            _flush_standard_streams()
            os._exit(self.status)

    def _write_single(self, report) -> None:
        from dllint.runtime.report import render_trace
        from dllint.runtime.trace_json import render_json
        report.script = _display_path(report.script)
        self._write_report(
            report.diagnostics, report.local_files, report.incomplete,
            bool(report.instrument_errors), report,
            lambda color, width: render_trace(report, color, width, **self.table_view),
            # The whole report (modules, losses, gradient norms, findings), not only findings.
            lambda diagnostics: render_json(report, diagnostics))
        if report.outcome == "interrupted":
            self.status = EXIT_TRACE_INTERRUPTED
        elif report.out_of_memory and self.status == EXIT_TRACE_INCOMPLETE:
            # The script raised, but the trace found why: RT017 is the answer, not a gap.
            self.status = EXIT_FINDINGS

    def distributed(self, trace, exit: bool = True) -> None:
        from dllint.runtime.distributed.render import (base_report, render_distributed,
                                                       render_distributed_json)
        script = _display_path(self.script)
        errors = any(r.trace.instrument_errors or not r.hooks_restored
                     for r in trace.ranks.values())
        self._write_report(
            trace.findings, base_report(trace, self.script).local_files, trace.incomplete,
            errors, trace.base,
            lambda color, width: render_distributed(trace, script, color, width,
                                                    **self.table_view),
            lambda diagnostics: render_distributed_json(trace, script, diagnostics))
        if exit:
            sys.exit(self.status)

    def _write_report(self, runtime: Sequence[Diagnostic], local_files: Sequence[str],
                      incomplete: str, errors: bool, plotted, render_text, render_json) -> None:
        """The runtime findings merged with the static ones, written in the chosen format (the
        trace itself by `render_text(color, width)` or `render_json(diagnostics)`), the plot,
        and the exit status they imply."""
        from dllint.runtime.report import merge, plot_gradients
        static = self._static(local_files)
        diagnostics = merge(_display_paths(static), _display_paths(runtime))
        color, width = self.output is None and _wants_color(), _terminal_width()
        if self.output_format == "json":
            text = render_json(diagnostics)
        else:
            text = render_text(color, width) if self.output_format in TEXT_FORMATS else ""
            text += renderer(self.output_format)(diagnostics, self._context(
                local_files, incomplete, color, width))
        if self.plot and plotted is not None:
            problem = plot_gradients(plotted, self.plot)
            if problem:
                _note(problem)
        self._emit(text)
        self.status = self._status(diagnostics, incomplete, errors)

    def _context(self, local_files: Sequence[str], incomplete: str, color: bool,
                 width: int) -> ReportContext:
        return ReportContext(files_checked=1 + (0 if self.no_static else len(local_files)),
                             color=color, width=width, incomplete=incomplete,
                             sources=_traced_sources([self.script, *local_files]))

    def _emit(self, text: str) -> None:
        if self.output is not None:
            _write(self.output, text, "the report to")
        else:
            _emit(self.stream, text)
            self.stream.flush()

    @staticmethod
    def _status(diagnostics: Sequence[Diagnostic], incomplete: str, errors: bool) -> int:
        if errors:
            return EXIT_ERROR
        if incomplete:
            return EXIT_TRACE_INCOMPLETE
        # A passing overfit verdict is information, not a problem.
        return EXIT_FINDINGS if any(is_problem(d) for d in diagnostics) else EXIT_CLEAN


def _traced_sources(paths: Sequence[str]) -> dict[str, str]:
    """The text of the files a trace ran, by the path its report shows, for code frames; read as
    the linter reads (regular files only, at most the default max-file-size)."""
    sources = {}
    for path in paths:
        source = read_source(path)
        if not isinstance(source, Diagnostic):
            sources[_display_path(path)] = source.text
    return sources


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=str))
@click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the configured set).")
@click.option("--extend-select", multiple=True, help="Rule codes or prefixes to enable in addition.")
@click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use this pyproject.toml (or dllint.toml) instead of searching for one.")
@click.option("--format", "output_format", type=click.Choice(["html", "md"]), default="html",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Report file (default: dllint-audit.html or dllint-audit.md).")
@click.option("--trace", "trace_script_path", type=click.Path(exists=True, dir_okay=False),
              help="Also trace this training script for one step and include the runtime report.")
def audit(paths: tuple[str, ...], select, extend_select, ignore, config_path: Path | None,
          output_format: str, output: str | None, trace_script_path: str | None) -> None:
    """Write a self-contained report on the code under PATHS (default: the current directory)."""
    from dllint.audit import AuditData, count_lines, render_html, render_markdown
    from dllint.discovery import discover

    paths = paths or (".",)
    _require_paths(paths)
    target = Path(output or f"dllint-audit.{output_format}")
    _writable(target, "the audit to")
    options = dict(select=_codes(select, "--select") if select else None,
                   extend_select=_codes(extend_select, "--extend-select"),
                   ignore=_codes(ignore, "--ignore"))

    def settings_over(file_config: FileConfig, project_start: Path) -> Settings:
        return build_settings(file_config, **options, start=project_start)

    try:
        settings = settings_over(
            load_config(config_path or find_config(Path(paths[0])), Path.cwd()), Path(paths[0]))
        # As `check`: each file its nearest configuration, unless --config names one for all.
        settings_for = None if config_path is not None else \
            ConfigurationSearch(settings_over, Path.cwd(), known=settings)
        result = run(paths, settings, use_cache=False, settings_for=settings_for)
    except ConfigError as error:
        raise Failure(str(error)) from None
    files = discover(paths, settings).files
    data = AuditData(", ".join(paths), len(files), count_lines(files, settings.max_file_size),
                     result.diagnostics,
                     paths=paths, sources=result.sources)
    if trace_script_path:
        try:
            from dllint.runtime.report import merge, plot_gradients, render_trace
            from dllint.runtime.script import trace_script
        except ImportError as error:
            raise Failure(extras.import_failure(error, "--trace", "runtime")) from None
        report = trace_script(trace_script_path)
        # The runtime findings join the static ones: counted in every table, listed with them.
        data.diagnostics = merge(result.diagnostics, report.diagnostics)
        data.sources = {**_traced_sources([trace_script_path, *report.local_files]),
                        **result.sources}
        # A page scrolls sideways: the table is never squeezed to a terminal's width.
        data.trace_text = render_trace(report, False, AUDIT_TRACE_WIDTH)
        import tempfile
        with tempfile.TemporaryDirectory() as folder:
            picture = os.path.join(folder, "trace.png")
            if plot_gradients(report, picture) is None:
                data.trace_png = Path(picture).read_bytes()
    text = render_html(data) if output_format == "html" else render_markdown(data)
    _write(target, text, "the audit to")
    _note(f"Wrote {target}: {len(data.diagnostics)} finding(s) in {data.files} file(s).")


@main.command()
def lsp() -> None:
    """Start the language server on standard input and output (for editors)."""
    try:
        from dllint.lsp import main as serve
    except ImportError as error:
        raise Failure(extras.import_failure(error, "dllint lsp", "lsp")) from None
    serve()


@main.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def list_rules(output_format: str) -> None:
    """List every rule: code, name, summary, whether it can fix, whether it is on by default."""
    rows = [{"code": rule.code, "name": rule.name, "summary": rule.summary,
             "fix": rule.fix_availability.value, "default": rule.enabled_by_default}
            for rule in all_rules()]
    rows += [{"code": entry.code, "name": entry.name, "summary": entry.summary, "fix": "none",
              "default": entry.code != UNUSED_SUPPRESSION.code} for entry in ENGINE_CODES.values()]
    rows += [{"code": entry.code, "name": entry.name, "summary": entry.summary, "fix": "none",
              "default": True} for entry in runtime_codes().values()]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("Code", "Name", "Summary", "Fix", "Default", box=None, header_style="bold")
    for row in rows:
        table.add_row(row["code"], row["name"], row["summary"],
                      "" if row["fix"] == "none" else row["fix"], "yes" if row["default"] else "no")
    Console(emoji=False, width=max(120, shutil.get_terminal_size((120, 24)).columns)).print(table)


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Show the documentation of a rule, by code (DL001) or name (unordered-file-listing)."""
    entry = lookup(code)
    if entry is None:
        raise Failure(f"unknown rule {code!r}{_closest_rule(code)}; `dllint rules` lists them")
    from rich.console import Console
    from rich.markdown import Markdown

    header = f"# {entry.code} {entry.name}\n\n{entry.summary}\n\n"
    fix = getattr(entry, "fix_availability", None)
    if fix is not None and fix.value != "none":
        header += f"Fix: {fix.value} available.\n\n"
    text = header + entry.documentation()
    if sys.stdout.isatty():
        Console().print(Markdown(text))
    else:
        click.echo(text)


# `dllint rule DL001`, as `ruff rule F401`: the same command under the name ruff users type.
main.add_command(explain, "rule")


def _closest_rule(word: str) -> str:
    """' (did you mean 'DL001'?)' for the code or name nearest `word`, or nothing. On a tie
    the first in the order `dllint rules` lists wins: `DL01` is nearer DL001 than DL901."""
    import difflib
    wanted = word.strip()
    candidates = [candidate
                  for entry in (*all_rules(), *ENGINE_CODES.values(), *runtime_codes().values())
                  for candidate in (entry.code, entry.name)]

    def likeness(candidate: str) -> float:
        typed = wanted.upper() if candidate.isupper() else wanted.lower()
        return difflib.SequenceMatcher(None, typed, candidate).ratio()

    best = max(candidates, key=likeness)  # max keeps the first of equals
    return f" (did you mean {best!r}?)" if likeness(best) >= 0.6 else ""


if __name__ == "__main__":  # pragma: no cover
    main()
