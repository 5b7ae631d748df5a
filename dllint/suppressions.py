"""Suppression comments, indexed by line from the token stream (never by probing node shapes).

    x = glob.glob("*.png")  # dllint: ignore[DL001]      this line
    # dllint: ignore[DL001]                              a comment line: the next line
    x = glob.glob("*.png")  # noqa: DL001                familiar flake8/ruff form
    # dllint: file-ignore[DL001]                         the whole file

Without a code list, `# dllint: ignore` and a bare `# noqa` suppress every finding on the line.
A `# noqa` listing only other tools' codes (E501) is not ours and suppresses nothing.

A comment that looks meant as one of these but is not (`# dllint: noqa: DL001`, `# noqa DL001`,
`# dllint: ignore[DL01]`) is reported as DL910 by `malformed`, at the comment.
"""

from __future__ import annotations

import functools
import re
import tokenize
from dataclasses import dataclass, field
from typing import Iterable

from dllint.engine_codes import MALFORMED_SUPPRESSION, UNUSED_SUPPRESSION
from dllint.lines import split_lines
from dllint.types import Diagnostic, Span

MARKERS = ("dllint:", "noqa", "NOQA")
# The directive ends at a bracket, a space, another comment or the end: `ignore-all` is not one.
_DLLINT = re.compile(r"#\s*dllint:\s*(?P<kind>file-ignore|ignore)(?=[\s\[#]|$)"
                     r"(?:\[(?P<codes>[^\]]*)\])?")
_NOQA = re.compile(r"#\s*noqa\b(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:[\s,]+[A-Za-z]+[0-9]+)*))?",
                   re.IGNORECASE)
_OUR_CODE = re.compile(r"DL[0-9]+")
# What DL910 looks at: every `dllint:` after a `#`, and every `noqa` followed by something.
_DLLINT_PREFIX = re.compile(r"#\s*dllint:\s*")
_DIRECTIVE = re.compile(r"(?P<kind>file-ignore|ignore)(?P<list>\[(?P<codes>[^\]]*)\])?")
_NOQA_WITH_MORE = re.compile(r"#\s*noqa(?P<rest>:\s*[^\s#]*|\s+[A-Za-z]+[0-9]+)", re.IGNORECASE)
_CODE_LIKE = re.compile(r"\s+[A-Za-z]+[0-9]+\b")


@dataclass
class Suppression:
    line: int  # where the comment is
    span: Span  # the comment itself, for reporting it unused
    codes: frozenset[str] | None  # None: every code
    file_wide: bool
    applies_to: frozenset[int]
    used: set[str] = field(default_factory=set)

    def matches(self, code: str) -> bool:
        return self.codes is None or code in self.codes


def _comments(source: str) -> list[tuple[int, int, str, bool]]:
    """(line, column, text, alone_on_its_line) for each comment."""
    # Lines as the parser counts them: a StringIO would break only at "\n", so a file with bare
    # "\r" line ends would be one line to the tokenizer and every suppression would miss.
    lines = split_lines(source, keepends=True)
    found = []
    try:
        for token in tokenize.generate_tokens(functools.partial(next, iter(lines), "")):
            if token.type == tokenize.COMMENT:
                line, column = token.start
                found.append((line, column, token.string, token.line[:column].strip() == ""))
        return found
    except (tokenize.TokenError, SyntaxError):
        # The file parsed with libcst but the running Python's tokenizer disagrees (newer syntax):
        # add the whole-line comments it did not reach, which cannot be inside a string.
        reached = {line for line, _, _, _ in found}
        for number, text in enumerate(lines, start=1):
            stripped = text.strip()
            if stripped.startswith("#") and number not in reached:
                found.append((number, len(text) - len(text.lstrip()), stripped, True))
        return found


def _parse_codes(raw: str | None, *, ours_only: bool) -> frozenset[str] | None:
    if raw is None:
        return None
    codes = [code.strip().upper() for code in re.split(r"[\s,]+", raw) if code.strip()]
    if ours_only:
        codes = [code for code in codes if _OUR_CODE.fullmatch(code)]
    return frozenset(codes)


def scan(source: str) -> list[Suppression]:
    if not any(marker in source for marker in MARKERS):
        return []
    found: list[Suppression] = []
    for line, column, text, alone in _comments(source):
        span = Span(line, column + 1, line, column + 1 + len(text))
        targets = frozenset({line, line + 1} if alone else {line})
        for match in _DLLINT.finditer(text):
            codes = _parse_codes(match.group("codes"), ours_only=False)
            file_wide = match.group("kind") == "file-ignore"
            found.append(Suppression(line, span, codes, file_wide, targets))
        for match in _NOQA.finditer(text):
            raw = match.group("codes")
            codes = _parse_codes(raw, ours_only=True)
            if raw is not None and not codes:
                continue  # another tool's codes only
            found.append(Suppression(line, span, codes, False, targets))
    return found


def apply(diagnostics: Iterable[Diagnostic], suppressions: list[Suppression]) -> list[Diagnostic]:
    """Drop suppressed diagnostics, recording on each suppression which codes it used."""
    if not suppressions:
        return list(diagnostics)
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        lines = {diagnostic.span.start_line, diagnostic.span.end_line}
        suppressed = False
        for suppression in suppressions:
            if suppression.matches(diagnostic.code) and (
                    suppression.file_wide or lines & suppression.applies_to):
                suppression.used.add(diagnostic.code)
                suppressed = True
        if not suppressed:
            kept.append(diagnostic)
    return kept


def unused(suppressions: list[Suppression], path: str, enabled: frozenset[str]) -> list[Diagnostic]:
    """Suppressions that matched nothing, for codes that were enabled (a disabled code cannot fire)."""
    diagnostics = []
    for suppression in suppressions:
        if suppression.codes is None:
            if suppression.used:
                continue
            message = "Unused blanket suppression: nothing on this line is reported"
        else:
            stale = sorted(code for code in suppression.codes - suppression.used if code in enabled)
            if not stale:
                continue
            message = f"Unused suppression for {', '.join(stale)}: nothing to suppress here"
        diagnostics.append(Diagnostic(UNUSED_SUPPRESSION.code, UNUSED_SUPPRESSION.name, message,
                                      UNUSED_SUPPRESSION.severity, path, suppression.span))
    return diagnostics


def malformed(source: str, path: str) -> list[Diagnostic]:
    """DL910 for each comment that reads as a suppression dllint does not understand, or that
    suppresses more or less than it appears to (see the code's documentation)."""
    if "dllint:" not in source and "noqa" not in source.lower():
        return []
    known = _known_codes()
    found = []
    for line, column, text, _ in _comments(source):
        for offset, message in [*_malformed_directives(text, known),
                                *_malformed_noqa(text, known)]:
            found.append(Diagnostic(
                MALFORMED_SUPPRESSION.code, MALFORMED_SUPPRESSION.name, message,
                MALFORMED_SUPPRESSION.severity, path,
                Span(line, column + offset + 1, line, column + 1 + len(text.rstrip()))))
    return found


def _known_codes() -> frozenset[str]:
    from dllint.registry import known_codes, runtime_codes  # the registry imports every rule
    return known_codes() | frozenset(runtime_codes())


def _malformed_directives(text: str, known: frozenset[str]) -> list[tuple[int, str]]:
    problems = []
    for prefix in _DLLINT_PREFIX.finditer(text):
        written = text[prefix.start():].rstrip()
        directive = _DIRECTIVE.match(text, prefix.end())
        rest = text[directive.end():] if directive else ""
        if directive is None or (rest and not rest[0].isspace() and rest[0] != "#"
                                 and not rest.startswith("[")):
            word = re.match(r"[^\s\[#]*", text[prefix.end():]).group()
            file_level = "; `# dllint: file-ignore` suppresses everything in the file" \
                if word.lower() == "noqa" and not text[prefix.end() + len(word):].strip() else ""
            problems.append((prefix.start(), f"`{written}` is not a suppression dllint reads "
                             f"(it suppresses nothing): write `# dllint: ignore[CODES]` or "
                             f"`# noqa: CODES` for this line, `# dllint: file-ignore[CODES]` "
                             f"for the file{file_level}"))
        elif rest.startswith("["):
            problems.append((prefix.start(), f"`{written}`: the code list is not closed with "
                             f"`]`, so every code is suppressed"))
        elif directive.group("list") is None and _CODE_LIKE.match(rest):
            problems.append((prefix.start(), f"`{written}`: codes go in brackets "
                             f"(`# dllint: {directive.group('kind')}[DL001]`); as written it "
                             f"suppresses every code"))
        elif directive.group("list") is not None:
            codes = _parse_codes(directive.group("codes"), ours_only=False) or frozenset()
            if not codes:
                problems.append((prefix.start(), f"`{written}`: an empty code list "
                                 f"suppresses nothing"))
            unknown = sorted(codes - known)
            if unknown:
                problems.append((prefix.start(), f"`{written}`: unknown code "
                                 f"{', '.join(unknown)} (`dllint rules` lists them)"))
    return problems


def _malformed_noqa(text: str, known: frozenset[str]) -> list[tuple[int, str]]:
    problems = []
    for noqa in _NOQA_WITH_MORE.finditer(text):
        written = text[noqa.start():].rstrip()
        rest = noqa.group("rest")
        if not rest.startswith(":"):
            problems.append((noqa.start(), f"`{written}`: codes follow a colon "
                             f"(`# noqa: DL001`); as written it suppresses every code"))
            continue
        well_formed = _NOQA.match(text, noqa.start())
        if well_formed is None or well_formed.group("codes") is None:
            problems.append((noqa.start(), f"`{written}`: no code after `noqa:`, so every "
                             f"code is suppressed; name them (`# noqa: DL001`) or drop the colon"))
            continue
        unknown = sorted(_parse_codes(well_formed.group("codes"), ours_only=True) - known)
        if unknown:
            problems.append((noqa.start(), f"`{written}`: unknown code {', '.join(unknown)} "
                             f"(`dllint rules` lists them)"))
    return problems
