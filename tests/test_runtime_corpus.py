"""benchmarks/runtime_corpus.py and its corpus: the manifest lists every script of
fixtures/runtime/real/corpus/ once, with a valid expectation and the half its name hashes to; the
scripts compile; the summary arithmetic; one clean script traced end to end."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("runtime_corpus",
                                               ROOT / "benchmarks" / "runtime_corpus.py")
runtime_corpus = importlib.util.module_from_spec(_spec)
sys.modules["runtime_corpus"] = runtime_corpus
_spec.loader.exec_module(runtime_corpus)

SCRIPTS = runtime_corpus.load_manifest()
FILES = sorted(path.name for path in runtime_corpus.CORPUS.glob("*.py"))
# The correct-code patterns issue 25 lists as the ones reported against a careless tracer: each
# must be covered by at least one clean script.
CLEAN_PATTERNS = {
    "sum-reduction-divided", "none-reduction-masked-mean", "gradscaler-amp", "warmup-from-zero",
    "where-discards-log-zero", "neg-inf-masked-logits", "teacher-no-grad", "ema-averaged-model",
    "target-network", "gan-fakes-no-grad", "momentum-encoder-train-mode-no-grad",
    "bn-recalibration", "frozen-norm-backbone", "linear-probe-eval-backbone",
    "prototype-distances", "broadcast-grid", "normalize-inside-model", "keyword-inputs",
    "bf16-autocast-fp32-loss", "aux-head-never-called", "unused-pooler", "sparse-embeddings",
    "contrastive-loss", "metric-loss", "gradient-checkpointing", "torch-compile",
    "lightning-manual-optimization", "accelerate-loop", "peft-lora", "diffusers-unet",
    "hf-trainer",
}


def _entry(name="a.py", expect="[]", frameworks='["pytorch"]', half=None):
    half = half or runtime_corpus.half_of(name)
    return (f'[[script]]\nname = "{name}"\nexpect = {expect}\nframeworks = {frameworks}\n'
            f'patterns = []\nhalf = "{half}"\n\n')


def test_every_script_is_listed_once_and_every_entry_has_its_file():
    assert sorted(script.name for script in SCRIPTS) == FILES


def test_corpus_size_and_mix_are_what_issue_25_asks_for():
    assert len(SCRIPTS) >= 44
    clean = [script for script in SCRIPTS if script.clean]
    assert 0.5 <= len(clean) / len(SCRIPTS) <= 0.7
    for half in runtime_corpus.HALVES:
        in_half = [script for script in SCRIPTS if script.half == half]
        assert any(script.clean for script in in_half) and any(not script.clean for script in in_half)
    frameworks = {framework for script in SCRIPTS for framework in script.frameworks}
    assert frameworks == runtime_corpus.FRAMEWORKS


def test_every_careless_tracer_pattern_has_a_clean_script():
    covered = {pattern for script in SCRIPTS if script.clean for pattern in script.patterns}
    assert CLEAN_PATTERNS <= covered, CLEAN_PATTERNS - covered


def test_halves_follow_the_hash_of_the_file_name():
    for script in SCRIPTS:
        first_byte = hashlib.sha256(script.name.encode("utf-8")).digest()[0]
        assert script.half == ("tuning" if first_byte % 2 == 0 else "held-out"), script.name


@pytest.mark.parametrize("script", [s for s in SCRIPTS if not s.clean], ids=lambda s: s.name)
def test_buggy_scripts_expect_runtime_codes_and_name_them_in_their_docstring(script):
    assert all(runtime_corpus.RUNTIME_CODE.fullmatch(code) for code in script.expect)
    docstring = ast.get_docstring(ast.parse(script.path.read_text(encoding="utf-8")))
    assert docstring and docstring.startswith("Buggy (")
    assert all(code in docstring.split(":")[0] for code in script.expect)


@pytest.mark.parametrize("name", FILES)
def test_scripts_compile_and_describe_themselves(name):
    source = (runtime_corpus.CORPUS / name).read_text(encoding="utf-8")
    tree = compile(source, name, "exec", flags=ast.PyCF_ONLY_AST)
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.split(":")[0] in {"Clean"} | {
        f"Buggy ({', '.join(s.expect)})" for s in SCRIPTS if s.name == name}


@pytest.mark.parametrize("entry, message", [
    (_entry(expect='["DL003"]'), "not a runtime code"),
    (_entry(expect='["RT016"]'), "not a runtime code"),
    (_entry(expect='"RT003"'), "`expect` must be a list"),
    (_entry(frameworks='["keras"]'), "`frameworks` must name"),
    (_entry(frameworks="[]"), "`frameworks` must name"),
    (_entry(half="both"), "`half` must be one of"),
    (_entry(name="sub/a.py"), "`name` must be a file name"),
    (_entry() + _entry(), "listed twice"),
    ("[[script]\n", "not valid TOML"),
])
def test_malformed_manifest_entries_are_refused(entry, message):
    with pytest.raises(runtime_corpus.ManifestError, match=message):
        runtime_corpus.parse_manifest(entry)


def test_only_names_a_subset_and_refuses_unknown_names():
    clean, buggy = SCRIPTS[0], next(s for s in SCRIPTS if not s.clean)
    chosen = runtime_corpus.select(SCRIPTS, "both", f"{clean.name}, {buggy.name}")
    assert [s.name for s in chosen] == [clean.name, buggy.name]
    assert runtime_corpus.select(SCRIPTS, "held-out" if clean.half == "tuning" else "tuning",
                                 clean.name) == []
    with pytest.raises(runtime_corpus.ManifestError, match="not in the manifest: nope.py"):
        runtime_corpus.select(SCRIPTS, "both", "nope.py")


def _report(*codes, severity="error", complete=True, outcome="stopped"):
    return json.dumps({"complete": complete, "outcome": outcome, "detail": outcome,
                       "incomplete_reason": "" if complete else "the script raised",
                       "user_traceback": "" if complete else "Traceback\nValueError: boom\n",
                       "diagnostics": [{"code": code, "severity": severity, "line": 1,
                                        "message": code} for code in codes]})


def test_summary_counts_false_findings_bugs_caught_and_failures():
    clean = runtime_corpus.Script("c.py", (), ("pytorch",), (), "tuning")
    quiet = runtime_corpus.Script("q.py", (), ("pytorch",), (), "tuning")
    bug = runtime_corpus.Script("b.py", ("RT003",), ("pytorch",), (), "tuning")
    missed = runtime_corpus.Script("m.py", ("RT009",), ("pytorch",), (), "tuning")
    outcomes = [
        runtime_corpus.outcome_of(clean, 1, _report("RT006", "RT006", "DL002", severity="warning"),
                                  "", 1.0),
        runtime_corpus.outcome_of(quiet, 0, _report(), "", 1.0),
        runtime_corpus.outcome_of(bug, 1, _report("RT003", "RT006"), "", 1.0),
        runtime_corpus.outcome_of(missed, 3, _report(complete=False, outcome="raised"), "", 1.0),
    ]
    summary = runtime_corpus.summarize("tuning", outcomes)
    assert (summary.clean, summary.clean_flagged, summary.clean_flagged_error) == (2, 1, 0)
    assert summary.false_by_code == {"RT006": (3, 2)}  # the static DL002 is not counted
    assert (summary.buggy, summary.caught) == (2, 1)
    assert summary.missed == ["m.py (expects RT009; got nothing)"]
    assert summary.failed == ["m.py: crashed (the script raised: ValueError: boom)"]
    text = runtime_corpus.render(summary)
    assert "clean scripts with a runtime finding: 1/2 (at error level: 0/2)" in text
    assert "bugs caught (expected code reported): 1/2" in text
    assert "  RT006: 3 in 2" in text


def test_a_dllint_failure_or_a_missing_report_is_a_crash_not_a_clean_result():
    script = runtime_corpus.Script("c.py", (), ("pytorch",), (), "tuning")
    usage = runtime_corpus.outcome_of(script, 2, "", "dllint: error: no such option\n", 1.0)
    assert (usage.status, usage.detail) == ("crashed", "dllint exited 2: dllint: error: no such option")
    empty = runtime_corpus.outcome_of(script, 1, "", "", 1.0)
    assert empty.status == "crashed" and empty.detail.startswith("no JSON report")
    timeout = runtime_corpus.outcome_of(script, 3, _report(complete=False, outcome="timeout"), "", 1.0)
    assert timeout.status == "timed out"


def test_records_write_one_line_per_script_and_per_finding():
    bug = runtime_corpus.Script("b.py", ("RT003",), ("pytorch",), (), "held-out")
    outcome = runtime_corpus.outcome_of(bug, 1, _report("RT003", "RT007"), "", 2.04)
    lines = runtime_corpus.records(outcome)
    assert [line["record"] for line in lines] == ["script", "finding", "finding"]
    assert lines[0]["caught"] is True and lines[0]["codes"] == ["RT003", "RT007"]
    assert [line["expected"] for line in lines[1:]] == [True, False]
    assert all(json.loads(json.dumps(line)) == line for line in lines)


def test_one_clean_script_runs_end_to_end_under_the_benchmark(tmp_path):
    pytest.importorskip("torch")
    name = "token_tagging_masked_mean.py"
    out = tmp_path / "findings.jsonl"
    assert runtime_corpus.main(["--only", name, "--out", str(out), "--timeout", "240"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["record"] == "script" and records[0]["script"] == name
    assert records[0]["status"] == "traced", records[0]["detail"]
    assert records[0]["detail"] == "stopped after 2 optimizer step(s)"  # --steps defaults to 2
    assert records[0]["codes"] == sorted({record["code"] for record in records[1:]})


def test_also_codes_are_neither_required_nor_false():
    bug = runtime_corpus.parse_manifest(
        _entry("b.py", expect='["RT008"]').replace("patterns", 'also = ["RT006"]\npatterns'))[0]
    assert bug.also == ("RT006",)
    outcome = runtime_corpus.outcome_of(bug, 1, _report("RT008", "RT006", "RT007"), "", 1.0)
    assert outcome.caught
    assert [f["code"] for f in outcome.false_findings()] == ["RT007"]
    only_also = runtime_corpus.outcome_of(bug, 1, _report("RT006"), "", 1.0)
    assert not only_also.caught and only_also.false_findings() == []
    with pytest.raises(runtime_corpus.ManifestError, match="`also` is for a buggy script"):
        runtime_corpus.parse_manifest(_entry().replace("patterns", 'also = ["RT006"]\npatterns'))


def test_from_summarizes_stored_records_against_the_current_manifest(tmp_path, capsys):
    clean = next(s for s in SCRIPTS if s.clean and s.half == "held-out")
    bug = next(s for s in SCRIPTS if s.also)
    lines = []
    for script, codes in ((clean, ["RT007"]), (bug, [*bug.expect, *bug.also])):
        lines += runtime_corpus.records(runtime_corpus.outcome_of(script, 1, _report(*codes), "", 1.0))
    stored = tmp_path / "findings.jsonl"
    stored.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert runtime_corpus.main(["--from", str(stored)]) == 0
    text = capsys.readouterr().out
    assert "== held-out half ==\nclean scripts with a runtime finding: 1/1" in text
    assert "  RT007: 1 in 1" in text and "RT006" not in text.split(f"== {bug.half} half ==")[1]
    assert "bugs caught (expected code reported): 1/1" in text
    stored.write_text('{"record": "script", "script": "gone.py"}\n', encoding="utf-8")
    assert runtime_corpus.main(["--from", str(stored)]) == 2
    assert "line 1: gone.py is not in the manifest" in capsys.readouterr().err
    stored.write_text("not json\n", encoding="utf-8")
    assert runtime_corpus.main(["--from", str(stored)]) == 2
    assert "line 1: not a record written by --out" in capsys.readouterr().err


def test_the_stored_baseline_reads_back_for_every_script():
    baseline = ROOT / "benchmarks" / "runtime_corpus" / "findings-cc2b9d8.jsonl"
    outcomes = runtime_corpus.read_records(baseline.read_text(encoding="utf-8").splitlines(),
                                           SCRIPTS)
    assert sorted(o.script.name for o in outcomes) == FILES
