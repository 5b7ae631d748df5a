"""Per-file budgets: a file over its time or memory budget becomes DL909 and the run goes on,
with one job and with several; the same file gets the same answer from every entry point."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import dllint.runner as runner
from dllint import budget
from dllint.cli import main
from dllint.config import ConfigError, FileConfig, build_settings, load_config
from dllint.runner import PARALLEL_THRESHOLD, Workers, lint_text, run

ROOT = Path(__file__).resolve().parent.parent
# A bug DL002 finds: probabilities into a loss that wants logits.
BUGGY = ("import torch.nn as nn\nimport torch.nn.functional as F\n\n"
         "loss = nn.CrossEntropyLoss()(F.softmax(logits, dim=1), labels)\n")
# A generated expression libcst would take minutes to parse.
HUGE_SUM = "import torch\n\nx = torch.ones(1)" + " + 1" * 20_000 + "\n"


def _settings(root: Path, **budgets) -> runner.Settings:
    return dataclasses.replace(build_settings(FileConfig(root=root)), **budgets)


def _findings(result) -> list[tuple[str, str]]:
    return sorted((Path(d.path).name, d.code) for d in result.diagnostics)


# -- the screen before libcst --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "line", "words"), [
    ("a = 1\n\nx = " + " + ".join(["1"] * 20_000) + "\n", 3, "operators or calls in a row"),
    ("x = a" + "".join(f".m{i}({i})" for i in range(600)) + "\n", 1, "operators or calls"),
    ("x = (1 if c else " * 1_100 + "2" + ")" * 1_100 + "\n", 1, "nested more than 200"),
    ("x = " + "f(" * 250 + "1" + ")" * 250 + "\n", 1, "nested more than 200"),
    ("x = y or " + " or ".join(["z"] * 1_500) + "\n", 1, "operators or calls"),
    ("x = '' " + " ".join(["'b'"] * 1_500) + "\n", 1, "operators or calls"),
])
def test_the_screen_turns_pathological_shapes_into_a_line_and_reason(text, line, words):
    found = budget.screen(text, 10.0)
    assert found is not None and found[0] == line and words in found[1]


@pytest.mark.parametrize("text", [
    "x = " + " + ".join(["1"] * 500) + "\n",  # long, but parsed in milliseconds
    "x = a" + "".join(f".m{i}({i})" for i in range(300)) + "\n",
    "x = [" + ", ".join(["1"] * 50_000) + "]\n",  # data: many items, none long
    "x = {" + ", ".join(f"'k{i}': {i} + 1" for i in range(20_000)) + "}\n",
    "".join(f"x{i} = foo(a{i}, b={i}) + bar[{i}]\n" for i in range(5_000)),
    "x = (1\n",  # the tokenizer gives up: the parser reports the syntax error
])
def test_the_screen_lets_ordinary_and_broken_text_through(text):
    assert budget.screen(text, 10.0) is None


def test_the_size_limit_grows_with_the_time_budget():
    text = "x = 1\n" * 50_000  # 300,000 characters
    found = budget.screen(text, 2.0)
    assert found is not None and "time budget of 2 s" in found[1] and "300,000" in found[1]
    assert budget.screen(text, 3.0) is None


def test_no_fixture_or_rule_example_is_over_the_default_budget():
    from dllint.registry import all_rules
    texts = [path.read_text(encoding="utf-8") for path in (ROOT / "fixtures").rglob("*.py")]
    texts += [example.source for rule in all_rules() for example in (*rule.VALID, *rule.INVALID)]
    assert len(texts) > 100
    assert [text[:60] for text in texts if budget.screen(text, 10.0) is not None] == []


# -- one job, several jobs, standard input -------------------------------------------------------

def _project(root: Path, extra: int = 0) -> Path:
    (root / "generated.py").write_text(HUGE_SUM)
    (root / "train.py").write_text(BUGGY)
    for index in range(extra):
        (root / f"other{index}.py").write_text(f"import torch\nvalue{index} = torch.ones(1)\n")
    return root


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_pathological_file_is_reported_and_the_run_goes_on(tmp_path, jobs):
    root = _project(tmp_path, extra=PARALLEL_THRESHOLD)  # enough files for workers
    started = time.monotonic()
    result = run([str(root)], _settings(root), jobs=jobs, use_cache=False)
    assert time.monotonic() - started < 120  # minutes, before the screen
    assert ("generated.py", "DL909") in _findings(result)
    assert ("train.py", "DL002") in _findings(result)
    over = next(d for d in result.diagnostics if d.code == "DL909")
    assert over.line == 3 and "operators or calls in a row" in over.message


def test_standard_input_and_a_file_get_the_same_answer(tmp_path):
    root = _project(tmp_path)
    settings = _settings(root)
    from_file = run([str(root / "generated.py")], settings, use_cache=False).diagnostics
    from_text = lint_text(HUGE_SUM, str(root / "generated.py"), settings).diagnostics
    assert [(d.code, d.line, d.message) for d in from_file] == \
        [(d.code, d.line, d.message) for d in from_text]
    assert [d.code for d in from_text] == ["DL909"]


def test_an_over_budget_result_is_not_cached(tmp_path):
    root = _project(tmp_path)
    settings = dataclasses.replace(_settings(root), cache_dir=tmp_path / ".cache")
    first = run([str(root)], settings)
    again = run([str(root)], settings)
    assert ("generated.py", "DL909") in _findings(again)
    assert first.cached == 0 and again.cached == 1  # train.py only


def test_a_larger_time_budget_lets_a_large_file_through(tmp_path):
    text = BUGGY + "x = 1\n" * 50_000  # 300,000 characters
    (tmp_path / "big.py").write_text(text)
    small = run([str(tmp_path)], _settings(tmp_path, file_time_budget=2.0), use_cache=False)
    large = run([str(tmp_path)], _settings(tmp_path, file_time_budget=5.0), use_cache=False)
    assert _findings(small) == [("big.py", "DL909")]
    assert _findings(large) == [("big.py", "DL002")]


# -- the parent enforces the time budget on workers ---------------------------------------------

def _slow_on(name: str, slow_path: str, function):
    def slow(path):
        if Path(path).name == slow_path:
            time.sleep(600)  # libcst stuck in native code, as far as the parent can tell
        return function(path)
    return slow


@pytest.mark.skipif(sys.platform != "linux", reason="the workers inherit the patch by fork")
@pytest.mark.parametrize("phase", ["lint", "summarise"])
def test_a_worker_over_the_time_budget_is_stopped_and_the_rest_goes_on(tmp_path, monkeypatch,
                                                                       phase):
    root = _project(tmp_path, extra=PARALLEL_THRESHOLD)
    (root / "generated.py").write_text("import torch.nn as nn\nslow = nn.Linear(1, 1)\n")
    monkeypatch.setitem(runner._FUNCTIONS, phase,
                        _slow_on(phase, "generated.py", runner._FUNCTIONS[phase]))
    started = time.monotonic()
    result = run([str(root)], _settings(root, file_time_budget=2.0), jobs=2, use_cache=False)
    assert time.monotonic() - started < 60
    findings = _findings(result)
    assert ("generated.py", "DL909") in findings and ("train.py", "DL002") in findings
    over = next(d for d in result.diagnostics if d.code == "DL909")
    assert "time budget of 2 s" in over.message and "--file-time-budget" in over.message
    # Every file has its result: the slow one's shard went on in a fresh worker.
    assert len(result.files) == PARALLEL_THRESHOLD + 2


def _dies_on(dying: str, marker: Path | None, function):
    def die(path):
        if Path(path).name == dying and (marker is None or not marker.exists()):
            if marker is not None:
                marker.write_text("died once")
            os._exit(70)  # as libcst's native code aborts when an allocation fails
        return function(path)
    return die


@pytest.mark.skipif(sys.platform != "linux", reason="the workers inherit the patch by fork")
def test_a_file_that_kills_its_worker_twice_is_reported(tmp_path, monkeypatch):
    root = _project(tmp_path, extra=PARALLEL_THRESHOLD)
    monkeypatch.setitem(runner._FUNCTIONS, "lint",
                        _dies_on("other3.py", None, runner._FUNCTIONS["lint"]))
    result = run([str(root)], _settings(root), jobs=2, use_cache=False)
    findings = _findings(result)
    assert ("other3.py", "DL909") in findings and ("train.py", "DL002") in findings
    assert "died twice" in next(d for d in result.diagnostics
                                if d.path.endswith("other3.py")).message
    assert len(result.files) == PARALLEL_THRESHOLD + 2


@pytest.mark.skipif(sys.platform != "linux", reason="the workers inherit the patch by fork")
def test_a_worker_that_dies_once_costs_its_file_nothing(tmp_path, monkeypatch):
    root = _project(tmp_path, extra=PARALLEL_THRESHOLD)
    (root / "generated.py").unlink()
    marker = tmp_path.parent / f"{tmp_path.name}-died"
    monkeypatch.setitem(runner._FUNCTIONS, "lint",
                        _dies_on("train.py", marker, runner._FUNCTIONS["lint"]))
    result = run([str(root)], _settings(root), jobs=2, use_cache=False)
    assert marker.exists()
    assert _findings(result) == [("train.py", "DL002")]
    assert len(result.files) == PARALLEL_THRESHOLD + 1


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux")
def test_a_file_over_the_memory_budget_is_reported(tmp_path, monkeypatch):
    root = _project(tmp_path, extra=PARALLEL_THRESHOLD)
    function = runner._FUNCTIONS["lint"]

    def hungry(path):
        if Path(path).name == "other5.py":
            bytearray(1024 * 1024 * 1024)  # 1 GiB, four times the budget
        return function(path)

    monkeypatch.setitem(runner._FUNCTIONS, "lint", hungry)
    result = run([str(root)], _settings(root, file_memory_budget=256), jobs=2, use_cache=False)
    findings = _findings(result)
    assert ("other5.py", "DL909") in findings and ("train.py", "DL002") in findings
    over = next(d for d in result.diagnostics if d.path.endswith("other5.py"))
    assert "memory budget of 256 MiB" in over.message


def test_workers_report_each_result_as_it_is_ready(tmp_path):
    """The protocol the deadline rests on: results stream back per file, in shard order."""
    root = _project(tmp_path, extra=PARALLEL_THRESHOLD)
    (root / "generated.py").unlink()
    paths = sorted(str(path) for path in root.glob("*.py"))
    with Workers(paths, _settings(root), jobs=2) as workers:
        results = workers.map("lint", paths)
    assert sorted(result.path for result in results) == paths


# -- configuration ---------------------------------------------------------------------------------

def _config(tmp_path: Path, table: str) -> FileConfig:
    (tmp_path / "pyproject.toml").write_text("[tool.dllint]\n" + table)
    return load_config(tmp_path / "pyproject.toml", tmp_path)


def test_budgets_are_read_from_the_configuration(tmp_path):
    config = _config(tmp_path, "file-time-budget = 2.5\nfile-memory-budget = 512\n")
    settings = build_settings(config)
    assert (settings.file_time_budget, settings.file_memory_budget) == (2.5, 512)
    assert build_settings(config, file_time_budget=7).file_time_budget == 7.0
    defaults = build_settings(FileConfig(root=tmp_path))
    assert (defaults.file_time_budget, defaults.file_memory_budget) == (10.0, 4096)


@pytest.mark.parametrize(("table", "message"), [
    ("file-time-budget = 0", "file-time-budget must be a number of seconds"),
    ("file-time-budget = 'fast'", "file-time-budget must be a number of seconds"),
    ("file-time-budget = true", "file-time-budget must be a number of seconds"),
    ("file-memory-budget = 10", "file-memory-budget must be a whole number of MiB"),
    ("file-memory-budget = 1.5", "file-memory-budget must be a whole number of MiB"),
])
def test_bad_budgets_are_configuration_errors(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, table + "\n")


def test_the_command_line_budget_is_validated_and_used(tmp_path):
    (tmp_path / "big.py").write_text(BUGGY + "x = 1\n" * 50_000)
    cli = CliRunner()
    bad = cli.invoke(main, ["check", str(tmp_path), "--no-cache", "--file-time-budget", "0"])
    assert bad.exit_code == 2 and "dllint: error:" in bad.output
    assert "--file-time-budget must be a number of seconds" in bad.output
    small = cli.invoke(main, ["check", str(tmp_path), "--no-cache", "--file-time-budget", "2"])
    assert "DL909" in small.output and "DL002" not in small.output
    large = cli.invoke(main, ["check", str(tmp_path), "--no-cache", "--file-time-budget", "5"])
    assert "DL002" in large.output and "DL909" not in large.output


def test_brackets_nested_past_what_python_allows_are_a_syntax_error_not_a_stall():
    text = "import torch\nx = " + "f(" * 2_000 + "1" + ")" * 2_000 + "\n"
    started = time.monotonic()
    found = lint_text(text, "nested.py", _settings(ROOT)).diagnostics
    assert time.monotonic() - started < 30  # libcst alone takes minutes and gigabytes
    assert [(d.code, d.line) for d in found] == [("DL903", 2)]
    assert "too many nested parentheses" in found[0].message
