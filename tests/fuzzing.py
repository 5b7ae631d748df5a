"""Shared by the fuzz tests and benchmarks/fuzz_campaign.py: what must hold for any input."""

from __future__ import annotations

import difflib
from pathlib import Path

import libcst as cst
from hypothesis import strategies as st

from dllint.config import FileConfig, build_settings
from dllint.fixes import is_applicable
from dllint.lines import split_lines
from dllint.runner import lint_text

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_SOURCES = sorted((ROOT / "fixtures").rglob("*.py"))
SETTINGS = build_settings(FileConfig(root=ROOT), select=["ALL"])
FIXING = build_settings(FileConfig(root=ROOT), select=["ALL"], fix=True, unsafe_fixes=True)
TOKENS = ["(", ")", ":", ",", "sorted(", " / 255", ".eval", ".eval()", "glob.glob('x')",
          "F.softmax(x, dim=1)", "    ", "\n", "#", "\"", "lambda: ", "[", "]", "torch.no_grad()"]


class Violation(AssertionError):
    pass


def check(source: str) -> str:
    """Lint and fix `source`; raise Violation when a promise breaks. Returns what happened."""
    result = lint_text(source, "fuzz.py", SETTINGS)
    crashes = [d for d in result.diagnostics if d.code == "DL999"]
    if crashes:
        raise Violation(f"internal error: {crashes[0].message}")
    touched = {line for d in result.diagnostics if is_applicable(d.fix, True)
               for edit in d.fix.edits for line in (edit.span.start_line, edit.span.end_line)}
    fixed = lint_text(source, "fuzz.py", FIXING)
    if fixed.fixed_source is None:
        return "no fix" if not touched else "fix refused"
    try:
        cst.parse_module(fixed.fixed_source)
    except cst.ParserSyntaxError as error:
        raise Violation(f"fixed output does not parse: {error}") from error
    again = lint_text(fixed.fixed_source, "fuzz.py", FIXING)
    if again.fixed_source not in (None, fixed.fixed_source):
        raise Violation("fixing twice changed more than fixing once")
    changed = set()
    for tag, start, end, _, _ in difflib.SequenceMatcher(
            None, split_lines(source), split_lines(fixed.fixed_source)).get_opcodes():
        if tag != "equal":
            changed.update(range(start + 1, max(end, start + 1) + 1))
    if not changed <= touched | {max(touched, default=0) + 1}:
        raise Violation(f"fix changed lines {sorted(changed - touched)} outside its edits")
    return "fixed"


@st.composite
def mutated_fixture(draw) -> str:
    """A fixture file with a few random edits: lines dropped, repeated, swapped, tokens put in."""
    path = draw(st.sampled_from(FIXTURE_SOURCES))
    lines = split_lines(path.read_text())
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "repeat", "swap", "token", "dedent"]))
        if action == "drop":
            del lines[index]
        elif action == "repeat":
            lines.insert(index, lines[index])
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif action == "token":
            column = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:column] + draw(st.sampled_from(TOKENS)) + lines[index][column:]
        else:
            lines[index] = lines[index].lstrip()
    return "\n".join(lines) + "\n"
