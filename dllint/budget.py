"""Per-file budgets: no file can stall a run.

Two mechanisms enforce the budget, because libcst's parser is native code that a Python signal
cannot interrupt:

- A screen (`screen`), applied to every text before libcst sees it, from every entry point
  alike (files, folders, standard input, the editor, pre-commit), so the same file always gets
  the same answer. It makes one pass over CPython's token stream (linear in the text) and turns
  the shapes libcst parses in super-linear time or memory into a DL909 finding: an expression
  of more than `MAX_LINKS` operators and calls in a row (a generated `1 + 1 + ...`, a
  thousand-call method chain), brackets nested deeper than `MAX_NESTING` (CPython refuses those
  anyway), or a text larger than what can be analysed within the time budget at
  `CHARACTERS_PER_SECOND`.
- Worker processes (`runner.Workers`), whose parent kills a worker that spends more than
  `file-time-budget` seconds on one file and gives that file the DL909 finding; the rest of the
  worker's shard goes on in a fresh worker. Each worker's address space is capped at its size
  when it starts plus `file-memory-budget` MiB (`limit_memory`, where the platform has
  RLIMIT_AS): a file that needs more fails to allocate and gets DL909 too.
"""

from __future__ import annotations

import io
import os
import tokenize

DEFAULT_FILE_TIME_BUDGET = 10.0  # seconds per file and phase
DEFAULT_FILE_MEMORY_BUDGET = 4096  # MiB per worker process, above what it holds at its start

# Operators and calls in a row in one expression: libcst's parse time grows with the square or
# the cube of their number (a 2,000-term sum takes seconds, 20,000 terms take minutes), where a
# hand-written expression has a few dozen.
MAX_LINKS = 1000
# CPython refuses more than 200 nested brackets; libcst accepts them, at quadratic cost.
MAX_NESTING = 200
# What a libcst parse and the analysis get through on a slow machine: a text larger than the
# time budget's worth of it is over budget before it is read (1 MB at the default 10 s).
CHARACTERS_PER_SECOND = 100_000

# Tokens that end a run of operators: separators of list items, arguments, targets, slices.
_SEPARATORS = frozenset({",", ":", "=", ";", ":=", "->"}) | frozenset(
    operator + "=" for operator in ("+", "-", "*", "/", "//", "%", "**", "@", "<<", ">>", "&",
                                     "|", "^"))
_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
# Keywords that join the parts of an expression (`a and b`, `x if c else y`).
_JOINING_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "if", "else", "await"})
_SKIPPED = frozenset({tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
                      tokenize.ENCODING, tokenize.ENDMARKER})


def time_budget_message(seconds: float) -> str:
    return (f"Analysis stopped: over the time budget of {seconds:g} s per file; raise "
            "file-time-budget in [tool.dllint] (or --file-time-budget), or exclude the file")


def memory_budget_message(mebibytes: int) -> str:
    return (f"Analysis stopped: over the memory budget of {mebibytes} MiB; raise "
            "file-memory-budget in [tool.dllint], or exclude the file")


def screen(text: str, time_budget: float) -> tuple[int, str] | None:
    """(line, message) when analysing `text` would not fit the budget; None when it may go on.

    A text the tokenizer rejects goes on: the parser reports the syntax error."""
    limit = int(time_budget * CHARACTERS_PER_SECOND)
    if len(text) > limit:
        return 1, (f"File of {len(text):,} characters is over what fits the time budget of "
                   f"{time_budget:g} s per file ({limit:,} characters); raise file-time-budget "
                   "in [tool.dllint] (or --file-time-budget), or exclude the file")
    try:
        return _shape(text)
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return None


def _shape(text: str) -> tuple[int, str] | None:
    # Per open bracket (and the statement's own level at the bottom): operators in a row.
    runs = [0]
    previous_ends_atom = False
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = token.type
        if kind in _SKIPPED:
            continue
        if kind in (tokenize.NEWLINE, tokenize.ENDMARKER):
            runs, previous_ends_atom = [0], False
            continue
        string = token.string
        if kind == tokenize.OP and string in _OPENING:
            if previous_ends_atom:  # a call or a subscript: one more link of the chain
                runs[-1] += 1
            runs.append(0)
            if len(runs) - 1 > MAX_NESTING:
                return token.start[0], (
                    f"Brackets nested more than {MAX_NESTING} deep (Python allows 200); "
                    "the file is not analysed: split the expression, or exclude the file")
            previous_ends_atom = False
        elif kind == tokenize.OP and string in _CLOSING:
            if len(runs) > 1:
                runs.pop()
            previous_ends_atom = True
            continue
        elif kind == tokenize.OP and string in _SEPARATORS:
            runs[-1] = 0
            previous_ends_atom = False
            continue
        elif kind == tokenize.OP or (kind == tokenize.NAME and string in _JOINING_KEYWORDS):
            runs[-1] += 1  # `+`, `.`, `**`, `and`, `if`: one more link
            previous_ends_atom = False
        elif kind == tokenize.STRING and previous_ends_atom:
            runs[-1] += 1  # "a" "b" "c": implicit concatenation
        previous_ends_atom = kind in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING) and \
            string not in _JOINING_KEYWORDS
        if runs[-1] > MAX_LINKS:
            return token.start[0], (
                f"Expression of more than {MAX_LINKS:,} operators or calls in a row, which "
                "libcst cannot parse in linear time; the file is not analysed: split the "
                "expression, or exclude the file")
    return None


def limit_memory(mebibytes: int) -> None:
    """Cap this process's address space at its present size plus `mebibytes`, where the
    platform allows (Linux; RLIMIT_AS is not enforced on macOS and absent on Windows)."""
    try:
        import resource
    except ImportError:  # Windows
        return
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            present = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return  # no way to know the present size: a fixed cap could starve the worker
    limit = present + mebibytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        return
