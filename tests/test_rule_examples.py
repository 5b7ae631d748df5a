"""Every rule's VALID and INVALID examples are its specification: each one is a test here."""

from __future__ import annotations

import os
import re
from pathlib import Path

import libcst as cst
import pytest

from dllint.config import FileConfig, build_settings
from dllint.registry import all_rules
from dllint.runner import lint_text
from dllint.semantic import catalog
from dllint.semantic.effects import Match, Row
from dllint.semantic.project import SHAREABLE, wants_summary

SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## References")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """An empty project: no configuration, no requirements. The examples' findings must not
    depend on the folder pytest runs from (a requirements.txt there saying torch>=2.6 changes
    what DL501 reports)."""
    return tmp_path_factory.mktemp("rule-examples")


def _settings(rule, root, *, fix=False, unsafe=False):
    # No `start`: the torch version is read from `root` alone, not from the folders above it.
    return build_settings(FileConfig(root=root), select=[rule.code], fix=fix, unsafe_fixes=unsafe)


def _cases(kind):
    return list(_iter_cases(kind))


def _iter_cases(kind):
    for rule in all_rules():
        for number, example in enumerate(getattr(rule, kind), start=1):
            yield pytest.param(rule, example, id=f"{rule.code}-{kind.lower()}-{number}")


@pytest.mark.parametrize(("rule", "example"), _cases("VALID"))
def test_valid_example_is_silent(rule, example, root):
    result = lint_text(example.source, "example.py", _settings(rule, root))
    assert [(d.line, d.message) for d in result.diagnostics] == []


@pytest.mark.parametrize(("rule", "example"), _cases("INVALID"))
def test_invalid_example_is_flagged_at_its_line(rule, example, root):
    result = lint_text(example.source, "example.py", _settings(rule, root))
    lines = sorted(d.line for d in result.diagnostics if d.code == rule.code)
    assert lines == sorted({example.line, *example.more_lines})
    assert all(d.code == rule.code for d in result.diagnostics)
    main = next(d for d in result.diagnostics if d.line == example.line)
    if example.related_lines:
        assert sorted({r.span.start_line for r in main.related}) == sorted(example.related_lines)
    # The example says whether a fix exists: no `fixed`, no fix offered.
    assert (main.fix is not None) == (example.fixed is not None)
    if example.fixed is not None:
        assert (main.fix.applicability.value == "unsafe") == example.unsafe


SNAPSHOTS = Path(__file__).parent / "data" / "rule_messages"
UPDATE_SNAPSHOTS = "DLLINT_UPDATE_SNAPSHOTS"


def _described(diagnostics) -> list[str]:
    """Each finding as a person reads it: where (line:column-line:column), the message, the
    related locations' messages and the fix's description. (The related locations' lines are
    checked against `related_lines`.)"""
    lines = []
    for d in diagnostics:
        span = d.span
        lines.append(f"  {span.start_line}:{span.start_column}-{span.end_line}:{span.end_column} "
                     f"{d.code} {d.message}")
        for related in d.related:
            lines.append(f"    = {related.message}")
        if d.fix is not None:
            lines.append(f"    fix ({d.fix.applicability.value}): {d.fix.description}")
    return lines


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_invalid_examples_messages_and_columns_match_their_snapshot(rule, root):
    """The text and columns of every INVALID example's findings, as ruff snapshots them: a
    change to a message or a span shows up in review as a change to
    tests/data/rule_messages/CODE.txt. `DLLINT_UPDATE_SNAPSHOTS=1 pytest -k snapshot` rewrites
    the files after a deliberate change."""
    text = []
    for number, example in enumerate(rule.INVALID, start=1):
        result = lint_text(example.source, "example.py", _settings(rule, root))
        text += [f"invalid-{number}:", *_described(result.diagnostics)]
    actual = "\n".join(text) + "\n"
    path = SNAPSHOTS / f"{rule.code}.txt"
    if os.environ.get(UPDATE_SNAPSHOTS):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}: run with {UPDATE_SNAPSHOTS}=1 to write it"
    assert actual == path.read_text(encoding="utf-8"), \
        f"{rule.code}'s findings changed; if on purpose, rerun with {UPDATE_SNAPSHOTS}=1"


@pytest.mark.parametrize(("rule", "example"),
                         [case for case in _cases("INVALID") if case.values[1].fixed is not None])
def test_fix_produces_the_fixed_example(rule, example, root):
    settings = _settings(rule, root, fix=True, unsafe=example.unsafe)
    result = lint_text(example.source, "example.py", settings)
    assert result.fixed_source == example.fixed_source
    cst.parse_module(result.fixed_source)
    again = lint_text(result.fixed_source, "example.py", settings)
    assert again.fixed_source is None, "fixing twice must change nothing more"


def _documented_blocks(rule, section):
    """The code blocks of one section of the rule's documentation."""
    text = rule.documentation().split(section, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:python)?\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_use_instead_example_is_clean_under_every_rule(rule, root):
    """What the documentation tells people to write must not be flagged by another rule."""
    blocks = _documented_blocks(rule, "## Use instead")
    assert blocks, f"{rule.code}'s `Use instead` has no code block"
    settings = build_settings(FileConfig(root=root), select=["ALL"])
    for block in blocks:
        found = lint_text(block, "example.py", settings).diagnostics
        assert [(d.code, d.line, d.message) for d in found] == []


def test_examples_do_not_depend_on_the_folder_pytest_runs_from(tmp_path, monkeypatch, root):
    """Run from a project that declares torch>=2.6 (where `torch.load` is safe by default), the
    examples still say what they say; the same examples linted as that project's files do not."""
    (tmp_path / "requirements.txt").write_text("torch>=2.6\n")
    monkeypatch.chdir(tmp_path)
    rule = next(rule for rule in all_rules() if rule.code == "DL501")
    for example in rule.INVALID:
        lines = [d.line for d in lint_text(example.source, "example.py",
                                           _settings(rule, root)).diagnostics]
        assert example.line in lines
    in_that_project = _settings(rule, tmp_path)
    assert any(not lint_text(example.source, "example.py", in_that_project).diagnostics
               for example in rule.INVALID), "the folder no longer matters: the test proves nothing"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_rule_is_documented_and_specified(rule):
    doc = rule.documentation()
    for section in SECTIONS:
        assert section in doc, f"{rule.code} docstring lacks {section!r}"
    assert rule.code.startswith("DL") and rule.name == rule.name.lower() and " " not in rule.name
    # The seed rules (DL00x) carry at least 8 of each; the wider catalog at least 6.
    minimum = 8 if rule.code < "DL100" else 6
    assert len(rule.VALID) >= minimum and len(rule.INVALID) >= minimum
    for example in [*rule.VALID, *rule.INVALID]:
        cst.parse_module(example.source)  # an example that does not parse specifies nothing
    assert rule.requires_any, "a cheap text gate keeps the rule off files it cannot match"
    for example in rule.INVALID:
        assert rule.wants(example.source), "the text gate must let every INVALID example through"


def _use_of(row: Row) -> str:
    """A line of user code that uses the row, written as people write it: the callable imported
    from its module and called by its own name, or a method called on some value."""
    if row.gate:  # what the row says any use of it contains (`.to(torch.float64)`)
        return f"y = x.{row.name}({row.gate[0]})\n"
    if row.match is Match.METHOD:
        return f"y = x.{row.name}(1)\n"
    module, _, last = row.name.rstrip(".").rpartition(".")
    if row.match is Match.PREFIX:  # a class of the prefix's module, reached through it
        return f"from {module} import {last}\ny = {last}.Anything{row.last_contains}(x)\n"
    return f"from {module} import {last}\ny = {last}(x)\n"


@pytest.mark.parametrize("rule", [rule for rule in all_rules() if rule.consumes],
                         ids=lambda rule: rule.code)
def test_no_row_a_rule_consumes_is_kept_off_by_its_gate(rule):
    for row in catalog.REGISTRY.of(*rule.consumes):
        assert rule.wants(_use_of(row)), f"{rule.code}'s gate filters out {row.name}"


def test_every_row_that_originates_a_shared_tag_makes_its_file_summarised():
    for row in catalog.REGISTRY.of(*catalog.REGISTRY.producing(SHAREABLE)):
        assert wants_summary(_use_of(row), "model.py"), row.name


@pytest.mark.parametrize(("fixed", "expected"), [
    ((None, None), "none"), (("x = 1\n", None), "sometimes"), (("x = 1\n", "y = 1\n"), "always"),
])
def test_fix_availability_is_derived_from_the_examples(fixed, expected):
    from dllint.rule import Invalid, Rule

    class Made(Rule):
        INVALID = [Invalid("x = 0\n", line=1, fixed=text) for text in fixed]

    assert Made.fix_availability.value == expected


def test_fix_availability_cannot_be_declared():
    from dllint.rule import Rule
    from dllint.types import FixAvailability

    with pytest.raises(TypeError, match="derived from the INVALID examples"):
        class Declared(Rule):  # noqa: F841 - made only to be refused
            fix_availability = FixAvailability.ALWAYS
