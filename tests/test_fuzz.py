"""Property tests: linting never raises, and --fix output parses, is idempotent and changes
nothing outside its edits. A short run here; benchmarks/fuzz_campaign.py runs the long one."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from fuzzing import check, mutated_fixture  # noqa: E402

# hypothesmith compiles what it generates; CPython's remarks on that code are not ours.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

QUICK = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))


@QUICK
@given(hypothesmith.from_grammar())
def test_generated_modules_from_the_grammar(source):
    check(source)


@QUICK
@given(hypothesmith.from_node())
def test_generated_modules_from_libcst_nodes(source):
    check(source)


@QUICK
@given(mutated_fixture())
def test_mutated_fixtures(source):
    check(source)


def test_the_checker_catches_a_broken_fix(monkeypatch):
    """The property test must be able to fail: a fix that breaks the text is caught."""
    from dllint import fixes

    original = fixes.apply_fixes

    def breaking(text, diagnostics, unsafe):
        new, count = original(text, diagnostics, unsafe)
        return (new + "\nx = 1\n", count) if count else (new, count)

    monkeypatch.setattr("dllint.engine.apply_fixes", breaking)
    from fuzzing import ROOT, Violation
    source = (ROOT / "fixtures/static/buggy_project/train.py").read_text()
    with pytest.raises(Violation, match="outside its edits|fixing twice"):
        check(source)


def test_the_checker_counts_lines_as_python_does():
    """A form feed, `\\x1c` or `\\u2028` inside a line is not a line break: the fix after them
    changes only its own line, which the checker must see (str.splitlines would shift it)."""
    source = ("import glob\x0c\n# a\x1cb\x85c\u2028d\nimages = glob.glob('images/*.png')\n"
              "masks = sorted(glob.glob('masks/*.png'))\npairs = list(zip(images, masks))\n")
    assert check(source) == "fixed"
