"""benchmarks/corpus.py: the manifest, the fixed-hash split, the stable finding keys and the
precision arithmetic of `report`."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("corpus", ROOT / "benchmarks" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules["corpus"] = corpus
_spec.loader.exec_module(corpus)


def _entry(name: str, commit: str = "0" * 40, kind: str = "library",
           frameworks: str = '["pytorch"]') -> str:
    return (f'[[repository]]\nname = "{name}"\ncommit = "{commit}"\nframeworks = {frameworks}\n'
            f'kind = "{kind}"\n\n')


def test_manifest_parses_and_is_the_size_issue_23_asks_for():
    repositories = corpus.load_manifest()
    assert len(repositories) >= 60
    frameworks = [set(r.frameworks) for r in repositories]
    assert sum("pytorch" in f for f in frameworks) >= 25
    assert sum(bool(f & {"keras", "tensorflow"}) for f in frameworks) >= 10
    assert sum(bool(f & {"jax", "flax"}) for f in frameworks) >= 8
    kinds = {r.kind for r in repositories}
    assert kinds == corpus.KINDS
    assert not {r.name.lower() for r in repositories} & corpus.EXCLUDED


@pytest.mark.parametrize("name", ["huggingface/diffusers", "Lightning-AI/litgpt", "deepmind/optax",
                                  "TensorFlow/Examples"])
def test_an_excluded_repository_is_refused(name):
    with pytest.raises(ValueError, match="excluded"):
        corpus.parse_manifest(_entry(name))


@pytest.mark.parametrize("entry, problem", [
    (_entry("nameonly"), "owner/name"),
    (_entry("a/b", commit="abc"), "40 hex"),
    (_entry("a/b", kind="tutorial"), "kind"),
    (_entry("a/b", frameworks="[]"), "no frameworks"),
    (_entry("a/b") + _entry("A/B"), "twice"),
    ('[[repository]]\nname = "a/b"\nkind = "library"\n', "a/b: no commit, frameworks"),
])
def test_a_malformed_manifest_is_refused(entry, problem):
    with pytest.raises(ValueError, match=problem):
        corpus.parse_manifest(entry)


def test_the_split_is_a_fixed_hash_of_the_name():
    # sha256("karpathy/nanoGPT") starts with an odd byte, sha256("pytorch/examples") an even one.
    assert corpus.half_of("karpathy/nanoGPT") == "held-out"
    assert corpus.half_of("pytorch/examples") == "tuning"
    names = [f"owner{i}/repo{i}" for i in range(400)]
    assert [corpus.half_of(n) for n in names] == [corpus.half_of(n) for n in names]
    tuning = sum(corpus.half_of(n) == "tuning" for n in names)
    assert 160 <= tuning <= 240  # a hash splits names about evenly


def test_a_repository_the_team_has_seen_is_never_held_out():
    # sha256("karpathy/nanoGPT") is odd: held out by the hash, tuning once marked as seen
    assert corpus.half_of("karpathy/nanoGPT") == "held-out"
    [seen] = corpus.parse_manifest(_entry("karpathy/nanoGPT")
                                   + 'seen_in = "README.md, Precision on real code"\n')
    assert seen.half == "tuning"
    [unseen] = corpus.parse_manifest(_entry("karpathy/nanoGPT"))
    assert unseen.half == "held-out"
    held_out = [r for r in corpus.load_manifest() if r.half == "held-out"]
    assert held_out and not any(r.seen_in for r in held_out)


def test_the_manifest_split_is_balanced_and_printed_the_same_each_time():
    repositories = corpus.load_manifest()
    halves = [r.half for r in repositories]
    assert halves.count("held-out") >= len(repositories) // 3
    assert halves.count("tuning") >= len(repositories) // 3
    run = [sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "split"]
    first = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert first == subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert f"held-out: {halves.count('held-out')} repositories" in first


def _finding(code: str, text: str, repository: str = "a/b", path: str = "train.py") -> dict:
    return {"repository": repository, "path": path, "code": code,
            "line_hash": corpus.line_digest(text), "line": 1, "cell": None, "message": "m"}


def test_keys_name_the_line_text_not_its_number_and_count_repeats():
    findings = [_finding("DL101", "  loss.backward()"), _finding("DL101", "loss.backward()  "),
                _finding("DL004", "loss.backward()")]
    keys = corpus.finding_keys(findings)
    assert keys[0] == f"a/b|train.py|DL101|{corpus.line_digest('loss.backward()')}"
    assert keys[1] == keys[0] + "#2"
    assert keys[2] != keys[0] and len(set(keys)) == 3
    moved = dict(findings[0], line=40)
    assert corpus.finding_keys([moved]) == keys[:1]


def test_the_flagged_line_of_a_notebook_is_read_from_its_cell(tmp_path):
    notebook = tmp_path / "n.ipynb"
    notebook.write_text('{"cells": [{"cell_type": "markdown", "source": ["# title"]},'
                        ' {"cell_type": "code", "source": ["x = 1\\n", "y = x.softmax()"]}]}')
    assert corpus._flagged_line(notebook, 2, 2, {}) == "y = x.softmax()"
    script = tmp_path / "s.py"
    script.write_text("a = 1\nb = 2\n")
    assert corpus._flagged_line(script, 2, None, {}) == "b = 2"
    assert corpus._flagged_line(script, 9, None, {}) == ""


def test_report_arithmetic_on_a_small_classification():
    findings = [_finding("DL101", "a"), _finding("DL101", "b"), _finding("DL101", "c"),
                _finding("DL004", "d", repository="c/d"), _finding("DL004", "e", repository="c/d")]
    keys = corpus.finding_keys(findings)
    for finding, key in zip(findings, keys):
        finding["key"] = key
    verdicts = corpus.parse_classifications(
        "\n".join(f'[[finding]]\nkey = "{key}"\nverdict = "{verdict}"\nreason = "r"\n'
                  for key, verdict in zip(keys, ["real", "false", "harmless", "false"])))
    repositories = [corpus.Repository("a/b", "0" * 40, ("pytorch",), "library"),
                    corpus.Repository("c/d", "0" * 40, ("jax", "flax"), "library")]
    per_rule, per_framework, total = corpus.tally(
        findings, verdicts, {r.name: r.frameworks for r in repositories})
    dl101 = per_rule["DL101"]
    assert (dl101.real, dl101.harmless, dl101.false) == (1, 1, 1)
    assert per_rule["DL101"].false_share == pytest.approx(1 / 3)
    assert per_rule["DL101"].kept_share == pytest.approx(2 / 3)
    assert per_rule["DL004"].false_share == 1.0 and per_rule["DL004"].unclassified == 1
    assert per_framework["jax"].false == per_framework["flax"].false == 1
    assert per_framework["pytorch"].classified == 3
    assert (total.classified, total.unclassified, total.false_share) == (4, 1, 0.5)
    text = "\n".join(corpus.report(findings, verdicts, repositories))
    assert "unclassified (1):" in text and keys[4] in text
    assert " 33.3%" in text and " 50.0%" in text
    # five findings on five different line texts; the first verdict of a pair counts
    assert ("distinct (code, line text) pairs: 5, classified 4: real 1 (25.0%), "
            "harmless 1 (25.0%), false 2 (50.0%)") in text


def test_a_verdict_of_an_opt_in_rule_is_stale_only_where_that_rule_was_linted():
    findings = [_finding("DL101", "a")]
    for finding, key in zip(findings, corpus.finding_keys(findings)):
        finding["key"] = key
    verdicts = {findings[0]["key"]: ("real", "r"),
                "a/b|gone.py|DL101|000000000000": ("false", "r"),
                "a/b|load.py|DL501|000000000000": ("harmless", "r")}
    repositories = [corpus.Repository("a/b", "0" * 40, ("pytorch",), "library")]
    default_lint = "\n".join(corpus.report(findings, verdicts, repositories))
    assert "classified but no longer found (1):" in default_lint
    assert "gone.py" in default_lint and "load.py" not in default_lint
    opt_in_lint = "\n".join(corpus.report(findings + [dict(_finding("DL501", "b"), key="k")],
                                           verdicts, repositories))
    assert "classified but no longer found (2):" in opt_in_lint and "load.py" in opt_in_lint


def test_engine_notices_are_counted_apart_from_precision():
    findings = [_finding("DL101", "a"), _finding("DL903", "b")]
    for finding, key in zip(findings, corpus.finding_keys(findings)):
        finding["key"] = key
    verdicts = {findings[0]["key"]: ("false", "r")}
    repositories = [corpus.Repository("a/b", "0" * 40, ("pytorch",), "library")]
    text = corpus.report(findings, verdicts, repositories)
    totals = [line.split() for line in text if line.startswith("TOTAL")]
    assert totals[0] == ["TOTAL", "1", "0", "0", "1", "0", "100.0%", "0.0%", "0.0%"]
    assert "unclassified" not in "\n".join(text)
    assert text[-1].endswith("DL903:1")


@pytest.mark.parametrize("table, problem", [
    ('[[finding]]\nkey = "k"\nverdict = "maybe"\nreason = "r"\n', "verdict"),
    ('[[finding]]\nkey = "k"\nverdict = "real"\nreason = " "\n', "reason"),
    ('[[finding]]\nkey = "k"\nverdict = "real"\nreason = "r"\n' * 2, "twice"),
])
def test_a_malformed_classification_is_refused(table, problem):
    with pytest.raises(ValueError, match=problem):
        corpus.parse_classifications(table)


def test_export_writes_the_recorded_commit_without_the_network(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    git = ["git", "-C", str(source), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(source)], check=True)
    (source / "train.py").write_text("print('first')\n")
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "one"], check=True)
    first = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True,
                           text=True).stdout.strip()
    (source / "train.py").write_text("print('second')\n")
    subprocess.run(git + ["commit", "-qam", "two"], check=True)
    mirrors = tmp_path / "mirrors"
    (mirrors / "o+r").mkdir(parents=True)
    (mirrors / "o+r" / "repo").symlink_to(source / ".git")
    repository = corpus.Repository("o/r", first, ("pytorch",), "training-scripts")
    tree, written, left_out = corpus.export(repository, mirrors, tmp_path / "dest")
    assert tree == tmp_path / "dest" / "o+r"
    assert (tree / "train.py").read_text() == "print('first')\n"
    assert (written, left_out) == (1, 0)
    # a manifest moved to another commit replaces the tree; the same commit keeps it
    second = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    moved = corpus.Repository("o/r", second, ("pytorch",), "training-scripts")
    corpus.export(moved, mirrors, tmp_path / "dest")
    assert (tree / "train.py").read_text() == "print('second')\n"
    (tree / "train.py").write_text("edited")
    assert corpus.export(moved, mirrors, tmp_path / "dest") == (tree, 1, 0)
    assert (tree / "train.py").read_text() == "edited"


def test_a_finding_counts_for_the_frameworks_its_file_imports():
    assert corpus.file_frameworks("import torch.nn as nn\nfrom jax import numpy as jnp\n") \
        == ("jax", "pytorch")
    notebook = '{"source": ["import tensorflow as tf\\n", "from keras import layers"]}'
    assert corpus.file_frameworks(notebook) == ("keras", "tensorflow")
    assert corpus.file_frameworks("import torchx\nimport numpy\n") == ("none",)
    finding = dict(_finding("DL004", "a"), key="k", frameworks=["pytorch"])
    _, per_framework, _ = corpus.tally([finding], {"k": ("false", "r")},
                                       {"a/b": ("pytorch", "tensorflow", "keras")})
    assert set(per_framework) == {"pytorch"}


def test_lint_writes_each_finding_with_its_key_and_the_lines_per_framework(tmp_path, capsys):
    tree = tmp_path / "dest" / "o+r"
    tree.mkdir(parents=True)
    (tree / corpus.EXPORTED_MARK).write_text("0" * 40 + " 2 0\n")
    (tree / "model.py").write_text("import torch\nimport torch.nn.functional as F\n\n\n"
                                   "def f(x):\n    return F.softmax(x)\n")
    (tree / "util.py").write_text("def g():\n    return 1\n")
    (tree / "broken.py").write_text("import torch\ndef (:\n")  # an engine notice, DL903
    repository = corpus.Repository("o/r", "0" * 40, ("pytorch",), "training-scripts")
    out = tmp_path / "findings.jsonl"
    corpus.lint([repository], tmp_path / "dest", ["DL202"], 1, out)
    notice, finding = sorted(corpus.read_findings(out), key=lambda f: f["path"])
    assert notice["code"] == "DL903"
    assert finding["key"] == f"o/r|model.py|DL202|{corpus.line_digest('return F.softmax(x)')}"
    assert (finding["line"], finding["frameworks"]) == (6, ["pytorch"])
    printed = capsys.readouterr().out
    assert "    pytorch             8 lines    1 findings" in printed  # DL202; DL903 left out
    assert "    none                2 lines    0 findings" in printed


def test_the_recall_table_of_a_planted_recall_script_is_read():
    output = ("tree: /x\nkind                     rule    planted  found  recall\n"
              "drop-eval                DL004         4      3    0.75\n"
              "softmax-in-forward       DL002         2      0    0.00\n"
              "all                               6      3    0.50\n")
    assert corpus.parse_recall(output) == {("drop-eval", "DL004"): (4, 3),
                                           ("softmax-in-forward", "DL002"): (2, 0)}


def test_a_repository_is_of_round_one_unless_the_manifest_says_otherwise():
    first, second = corpus.parse_manifest(_entry("a/b") + _entry("c/d") + "round = 2\n")
    assert (first.round, second.round) == (1, 2)


@pytest.mark.parametrize("value", ["0", "-1", '"2"', "true", "1.5"])
def test_a_round_that_is_no_whole_number_from_one_up_is_refused(value):
    with pytest.raises(ValueError, match="round"):
        corpus.parse_manifest(_entry("a/b") + f"round = {value}\n")


def test_the_second_round_is_fresh_code_in_both_halves():
    repositories = corpus.load_manifest()
    second = corpus.in_half(repositories, None, 2)
    assert len(second) >= 20
    assert not any(r.seen_in for r in second)  # nobody had read them when they came
    assert {r.name for r in second}.isdisjoint(r.name for r in corpus.in_half(repositories, None, 1))
    held_out = corpus.in_half(repositories, "held-out", 2)
    assert held_out and all(r.half == "held-out" and r.round == 2 for r in held_out)
    assert len(held_out) + len(corpus.in_half(repositories, "tuning", 2)) == len(second)
    # without a round, every round: the commands of round one see the same half plus the new ones
    rounds = {r.round for r in repositories}
    assert set(corpus.in_half(repositories, "held-out")) \
        == set().union(*(corpus.in_half(repositories, "held-out", n) for n in rounds))


def test_the_third_round_is_fresh_code_of_every_framework():
    repositories = corpus.load_manifest()
    third = corpus.in_half(repositories, None, 3)
    assert len(third) >= 30 and not any(r.seen_in for r in third)
    earlier = {r.name.lower() for r in repositories if r.round < 3}
    assert earlier.isdisjoint(r.name.lower() for r in third)
    frameworks = [set(r.frameworks) for r in third]
    assert sum("pytorch" in f for f in frameworks) >= len(third) // 2
    assert sum(bool(f & {"keras", "tensorflow"}) for f in frameworks) >= len(third) // 4
    assert sum(bool(f & {"jax", "flax"}) for f in frameworks) >= len(third) // 7
    assert sum(r.kind == "notebooks" for r in third) >= 5
    assert len(corpus.in_half(repositories, "held-out", 3)) >= len(third) // 3


def test_a_round_has_its_own_findings_file_and_no_round_keeps_the_old_one():
    assert corpus.default_findings_path("held-out", None).name == "findings-held-out.jsonl"
    assert corpus.default_findings_path("held-out", 2).name == "findings-held-out-round2.jsonl"
    assert corpus.default_findings_path("tuning", 1).name == "findings-tuning-round1.jsonl"


def test_report_counts_only_the_repositories_of_the_chosen_half_and_round():
    findings = [_finding("DL101", "a"), _finding("DL101", "b", repository="old/one"),
                _finding("DL903", "c", repository="old/one")]
    for finding, key in zip(findings, corpus.finding_keys(findings)):
        finding["key"] = key
    chosen = [corpus.Repository("a/b", "0" * 40, ("pytorch",), "library", round=2)]
    text = corpus.report(findings, {findings[0]["key"]: ("real", "r")}, chosen)
    totals = [line.split() for line in text if line.startswith("TOTAL")]
    assert totals[0][:6] == ["TOTAL", "1", "1", "0", "0", "0"]
    assert "unclassified" not in "\n".join(text) and "DL903" not in "\n".join(text)
    assert text[-1] == ("left out: 2 findings of 1 repositories outside the chosen half and "
                        "round: old/one")


def _run_corpus(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "corpus.py"), *arguments],
                          capture_output=True, text=True)


def test_the_commands_select_a_round(tmp_path):
    manifest = tmp_path / "manifest.toml"
    # sha256 puts karpathy/nanoGPT in the held-out half and pytorch/examples in the tuning half
    manifest.write_text(_entry("karpathy/nanoGPT") + _entry("pytorch/examples") + "round = 2\n")
    both = _run_corpus("--manifest", str(manifest), "split")
    assert both.returncode == 0
    assert "karpathy/nanoGPT" in both.stdout and "pytorch/examples" in both.stdout
    second = _run_corpus("--manifest", str(manifest), "split", "--round", "2")
    assert second.returncode == 0
    assert "pytorch/examples" in second.stdout and "nanoGPT" not in second.stdout
    assert "held-out: 0 repositories" in second.stdout
    findings = tmp_path / "findings.jsonl"
    rows = [dict(_finding("DL101", "a", repository="karpathy/nanoGPT"), key="k1"),
            dict(_finding("DL101", "b", repository="pytorch/examples"), key="k2")]
    findings.write_text("".join(corpus.json.dumps(row) + "\n" for row in rows))
    first = _run_corpus("--manifest", str(manifest), "report", "--half", "held-out",
                        "--round", "1", "--findings", str(findings))
    assert first.returncode == 0, first.stderr
    assert "unclassified (1):" in first.stdout and "k1" in first.stdout
    assert "left out: 1 findings of 1 repositories" in first.stdout


@pytest.mark.parametrize("arguments, message", [
    (("split", "--round", "3"), "--round 3: the manifest has rounds 1"),
    (("report", "--half", "held-out", "--round", "two"), "invalid int value"),
])
def test_a_round_the_manifest_lacks_is_one_error_line(tmp_path, arguments, message):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(_entry("a/b"))
    completed = _run_corpus("--manifest", str(manifest), *arguments)
    assert completed.returncode == 2
    assert message in completed.stderr and "Traceback" not in completed.stderr


def test_a_malformed_manifest_is_one_error_line(tmp_path):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(_entry("a/b") + "round = 0\n")
    completed = _run_corpus("--manifest", str(manifest), "split")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert "round 0 is not a whole number from 1 up" in completed.stderr


def test_a_missing_findings_file_or_tree_is_one_error_line(tmp_path):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(_entry("karpathy/nanoGPT"))
    absent = tmp_path / "absent.jsonl"
    report = _run_corpus("--manifest", str(manifest), "report", "--half", "held-out",
                         "--findings", str(absent))
    assert report.returncode == 2 and "Traceback" not in report.stderr
    assert report.stderr.startswith("corpus.py: error:") and "absent.jsonl" in report.stderr
    lint = _run_corpus("--manifest", str(manifest), "lint", "--dest", str(tmp_path),
                       "--half", "held-out", "--out", str(tmp_path / "out.jsonl"))
    assert lint.returncode == 2 and "Traceback" not in lint.stderr
    assert "is not exported; run `corpus.py export` first" in lint.stderr

def test_merge_replaces_only_the_relinted_repositories_findings_in_manifest_order():
    def at(repository, key):
        return dict(_finding("DL004", key, repository=repository), key=key)
    old = [at("a/x", "1"), at("b/y", "2"), at("b/y", "3"), at("c/z", "4")]
    update = [at("a/x", "5")]
    merged = corpus.merge(old, update, ["a/x", "b/y"], ["a/x", "b/y", "c/z"])
    assert [f["key"] for f in merged] == ["5", "4"]  # b/y re-linted to nothing loses its own
    with pytest.raises(ValueError, match="c/z"):
        corpus.merge(old, [at("c/z", "6")], ["a/x"], ["a/x", "c/z"])


def test_lint_only_refuses_a_repository_not_in_the_half(capsys):
    with pytest.raises(SystemExit, match="not in this half: nobody/nothing"):
        corpus.main(["lint", "--dest", "/nonexistent", "--half", "tuning",
                     "--only", "karpathy/nanoGPT,nobody/nothing"])


def test_the_merge_command_runs_from_the_command_line(tmp_path):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(_entry("a/b") + _entry("c/d"))
    findings, update = tmp_path / "findings.jsonl", tmp_path / "update.jsonl"
    findings.write_text("".join(json.dumps(f) + "\n" for f in (
        _finding("DL101", "x", repository="a/b"), _finding("DL004", "y", repository="c/d"))))
    update.write_text(json.dumps(_finding("DL002", "z", repository="c/d")) + "\n")
    completed = _run_corpus("--manifest", str(manifest), "merge", "--findings", str(findings),
                            "--update", str(update), "--only", "c/d")
    assert completed.returncode == 0, completed.stderr
    merged = [json.loads(line) for line in findings.read_text().splitlines()]
    assert [(f["repository"], f["code"]) for f in merged] == [("a/b", "DL101"), ("c/d", "DL002")]


def test_report_gives_figures_per_framework_of_the_file_and_of_the_repository():
    # a.py of a PyTorch-and-JAX repository imports only torch; b.py imports nothing
    findings = [dict(_finding("DL004", "a", repository="o/mixed", path="a.py"),
                     frameworks=["pytorch"]),
                dict(_finding("DL003", "b", repository="o/mixed", path="b.py"),
                     frameworks=["none"])]
    for finding, key in zip(findings, corpus.finding_keys(findings)):
        finding["key"] = key
    verdicts = {findings[0]["key"]: ("false", "r"), findings[1]["key"]: ("real", "r")}
    repositories = [corpus.Repository("o/mixed", "0" * 40, ("pytorch", "jax"), "library")]
    by_repository = corpus.tally_by_repository_framework(
        findings, verdicts, {r.name: r.frameworks for r in repositories})
    assert set(by_repository) == {"pytorch", "jax"}
    assert (by_repository["jax"].real, by_repository["jax"].false) == (1, 1)
    text = "\n".join(corpus.report(findings, verdicts, repositories))
    of_file, of_repository = text.split("per framework of the repository")
    assert "per framework of the flagged file" in of_file
    # the file table: pytorch 1 false, none 1 real; no jax row
    assert re.search(r"^none\s+1\s+1\s+0\s+0", of_file, re.MULTILINE)
    assert not re.search(r"^jax ", of_file, re.MULTILINE)
    assert re.search(r"^jax\s+2\s+1\s+0\s+1\s+0\s+50\.0%", of_repository, re.MULTILINE)
    assert re.search(r"^pytorch\s+2\s+1\s+0\s+1", of_repository, re.MULTILINE)


def test_count_prints_a_half_s_files_and_lines_without_linting(tmp_path, capsys, monkeypatch):
    tree = tmp_path / "dest" / "o+r"
    tree.mkdir(parents=True)
    (tree / corpus.EXPORTED_MARK).write_text("0" * 40 + " 2 0\n")
    (tree / "model.py").write_text("import torch\nimport torch.nn.functional as F\n\n\n"
                                   "def f(x):\n    return F.softmax(x)\n")
    (tree / "util.py").write_text("def g():\n    return 1\n")
    monkeypatch.setattr(corpus, "lint_tree", None)  # count must not lint
    corpus.count([corpus.Repository("o/r", "0" * 40, ("pytorch",), "library")], tmp_path / "dest")
    printed = capsys.readouterr().out
    assert re.search(r"^o/r\s+2 files\s+8 lines$", printed, re.MULTILINE)
    assert re.search(r"^TOTAL\s+2 files\s+8 lines \(1 repositories\)$", printed, re.MULTILINE)
    assert re.search(r"^    pytorch\s+6 lines$", printed, re.MULTILINE)
    assert re.search(r"^    none\s+2 lines$", printed, re.MULTILINE)


def test_a_classified_engine_notice_still_reported_is_not_listed_as_no_longer_found():
    findings = [_finding("DL101", "a"), _finding("DL903", "b")]
    for finding, key in zip(findings, corpus.finding_keys(findings)):
        finding["key"] = key
    verdicts = {findings[1]["key"]: ("harmless", "a cell of pseudo-code"),
                "a/b|gone.py|DL101|000000000000": ("false", "r")}
    text = "\n".join(corpus.report(findings, verdicts,
                                   [corpus.Repository("a/b", "0" * 40, ("pytorch",), "library")]))
    assert "classified but no longer found (1):" in text
    assert "gone.py" in text and findings[1]["key"] not in text.split("no longer found")[1]
