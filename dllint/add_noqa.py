"""`dllint --add-noqa`: a suppression comment for every finding, the inline alternative to a
baseline (ruff's `--add-noqa`).

Each finding gets `# dllint: ignore[CODE]` at the end of a line where `dllint.suppressions`
honours it: the line the finding starts on, or else the line it ends on (a suppression covers a
finding's first and last line). A line qualifies only when it ends outside a string and without
a backslash continuation, which is where the tokenizer ends it with NEWLINE or NL: a comment
added to the first line of a triple-quoted string, or after a `\\`, would change or break the
code. Several codes on one line share one comment, and codes are merged into an existing
`# dllint: ignore[...]` comment on the line rather than starting a second one.
"""

from __future__ import annotations

import functools
import re
import tokenize
from dataclasses import dataclass, field
from typing import Iterable

from dllint.engine_codes import ENGINE_CODES
from dllint.lines import split_lines
from dllint.types import Diagnostic

# An existing code-listing dllint comment, whose codes new ones join.
_DLLINT_IGNORE = re.compile(r"#\s*dllint:\s*ignore\[(?P<codes>[^\]]*)\]")
_TRAILING_BLANKS = re.compile(r"[ \t]*$")


@dataclass
class NoqaEdit:
    """What `add_directives` did to one text."""

    text: str
    # Lines that got a new comment or new codes in an existing one (ruff's "directives").
    added: int = 0
    # Findings no comment could be added for: no line of theirs ends outside a string.
    unplaceable: list[Diagnostic] = field(default_factory=list)


def suppressible(diagnostic: Diagnostic) -> bool:
    """A rule's finding in a Python file. Engine findings (a syntax error, an unreadable file,
    an unused suppression) are not silenced by a comment, and a notebook's findings name
    lines of a cell, not of the file's JSON."""
    return diagnostic.code not in ENGINE_CODES and diagnostic.cell is None


def _comment_lines(lines: list[str]) -> tuple[set[int], dict[int, tuple[int, str]]] | None:
    """The lines a comment may end (1-based), and the comment already on a line: (column,
    text). None when the running Python cannot tokenize the text (newer syntax)."""
    ends: set[int] = set()
    comments: dict[int, tuple[int, str]] = {}
    try:
        for token in tokenize.generate_tokens(functools.partial(next, iter(lines), "")):
            if token.type in (tokenize.NEWLINE, tokenize.NL):
                ends.add(token.start[0])
            elif token.type == tokenize.COMMENT:
                comments[token.start[0]] = (token.start[1], token.string)
    except (tokenize.TokenError, SyntaxError):
        return None
    return ends, comments


def add_directives(text: str, diagnostics: Iterable[Diagnostic]) -> NoqaEdit | None:
    """`text` with a suppression comment for each of `diagnostics` (their positions refer to
    `text`). None when the text cannot be tokenized, so nothing can be placed safely."""
    lines = split_lines(text, keepends=True)
    found = _comment_lines(lines)
    if found is None:
        return None
    ends, comments = found
    edit = NoqaEdit(text)
    codes_at: dict[int, set[str]] = {}
    for diagnostic in diagnostics:
        if not suppressible(diagnostic):
            continue
        line = next((candidate for candidate in (diagnostic.span.start_line,
                                                 diagnostic.span.end_line)
                     if candidate in ends and candidate <= len(lines)), None)
        if line is None:
            edit.unplaceable.append(diagnostic)
            continue
        codes_at.setdefault(line, set()).add(diagnostic.code)
    for number, codes in codes_at.items():
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        existing = comments.get(number)
        match = _DLLINT_IGNORE.search(existing[1]) if existing is not None else None
        if match is not None:
            listed = [code.strip() for code in re.split(r"[\s,]+", match.group("codes"))
                      if code.strip()]
            new = sorted(set(codes) - {code.upper() for code in listed})
            if not new:
                continue
            start = existing[0] + match.start("codes")
            end = existing[0] + match.end("codes")
            body = body[:start] + ", ".join([*listed, *new]) + body[end:]
        else:
            body = _TRAILING_BLANKS.sub("", body)
            body += f"{'  ' if body.strip() else ''}# dllint: ignore[{', '.join(sorted(codes))}]"
        lines[number - 1] = body + ending
        edit.added += 1
    edit.text = "".join(lines)
    return edit
