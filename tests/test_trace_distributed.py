"""Tracing distributed runs: each fixture of fixtures/runtime/distributed runs as 2 ranks (gloo,
CPU) under torch.distributed.run, and the merged report is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is needed", allow_module_level=True)

from dllint.runtime.distributed.launcher import TraceOptions, launch  # noqa: E402
from dllint.runtime.distributed.merge import DistributedTrace, merge_ranks  # noqa: E402
from dllint.runtime.distributed.records import RankReport, Replicas  # noqa: E402
from dllint.runtime.instruments import Observations  # noqa: E402
from dllint.runtime.script import TraceReport  # noqa: E402

FIXTURES = Path(__file__).parent.parent / "fixtures" / "runtime" / "distributed"
DISTRIBUTED_CODES = {"RT011", "RT012", "RT013", "RT014", "RT015"}


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _line(name: str, text: str) -> int:
    """The line of the fixture holding `text`: findings are checked against the source."""
    lines = (FIXTURES / name).read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def _run(name: str, **options) -> DistributedTrace:
    trace = launch(str(FIXTURES / name), [], 2, TraceOptions(timeout=120, **options))
    # Every rank's processes are gone, whatever happened to the run.
    assert not [report.pid for report in trace.ranks.values() if _alive(report.pid)]
    return trace


def _codes(trace: DistributedTrace) -> set[str]:
    return {finding.code for finding in trace.findings}


def test_clean_ddp_script_passes_every_distributed_check():
    trace = _run("ddp_clean.py", steps=5)  # through two epochs of two steps each
    assert sorted(trace.ranks) == [0, 1]
    assert trace.incomplete == ""
    assert not _codes(trace) & DISTRIBUTED_CODES, trace.findings
    assert trace.findings == []
    for report in trace.ranks.values():
        assert report.trace.steps == 5 and report.trace.outcome == "stopped"
        assert report.hooks_restored
        assert report.backend == "gloo"
        # DDP keeps the replicas equal: every checksum agrees after every step.
        assert report.replicas and len(report.replicas[0].after) == 5
    assert trace.ranks[0].replicas[0].after == trace.ranks[1].replicas[0].after
    # Losses differ (each rank has its own batches); gradient norms agree (all-reduced).
    assert any(line.startswith("first loss") for line in trace.differences)
    assert not any(line.startswith("gradient norm") for line in trace.differences)


def test_replicas_that_drift_apart_are_reported():
    trace = _run("rt011_not_wrapped.py", steps=2)
    [finding] = [f for f in trace.findings if f.code == "RT011"]
    assert finding.line == _line("rt011_not_wrapped.py", "optimizer.step()")
    assert finding.evidence["step"] == 1
    assert finding.evidence["differed_before_first_step"] is False
    assert "gradients are not averaged" in finding.message
    assert _codes(trace) & DISTRIBUTED_CODES == {"RT011"}


def test_ranks_training_on_identical_batches_are_reported():
    trace = _run("rt012_same_batches.py")
    [finding] = [f for f in trace.findings if f.code == "RT012"]
    assert finding.line == _line("rt012_same_batches.py", "loader = DataLoader")
    assert "RandomSampler" in finding.message and finding.evidence["ranks"] == [0, 1]
    assert _codes(trace) & DISTRIBUTED_CODES == {"RT012"}


def test_identical_keyword_batches_are_reported():
    # `model(**batch)`: the batch is the model's keyword inputs, fingerprinted together.
    trace = _run("rt012_same_keyword_batches.py", steps=2)
    [finding] = [f for f in trace.findings if f.code == "RT012"]
    assert finding.line == _line("rt012_same_keyword_batches.py", "loader = DataLoader")
    assert finding.evidence["shape"] == "input_ids=(4, 12), attention_mask=(4, 12)"
    assert _codes(trace) & DISTRIBUTED_CODES == {"RT012"}


def test_keyword_batches_of_each_rank_differ_though_positions_are_embedded_first():
    # The first layer the model calls gets the positions, the same on every rank: judged by
    # that tensor, the ranks looked identical; judged by the keyword inputs, they differ.
    trace = _run("ddp_keyword_batches.py", steps=2)
    assert trace.incomplete == ""
    assert not _codes(trace) & DISTRIBUTED_CODES, trace.findings
    fingerprints = {rank: report.first_batch for rank, report in trace.ranks.items()}
    assert fingerprints[0][0] == "input_ids=(4, 12), attention_mask=(4, 12)"
    assert fingerprints[0] != fingerprints[1]


def test_sampler_epoch_that_never_changes_is_reported_on_every_rank():
    trace = _run("rt013_sampler_epoch.py", steps=5)
    [finding] = [f for f in trace.findings if f.code == "RT013"]
    assert finding.line == _line("rt013_sampler_epoch.py", "sampler = DistributedSampler")
    assert finding.evidence["ranks"] == [0, 1]
    assert finding.related[0].span.start_line == _line("rt013_sampler_epoch.py", "in loader:")
    assert _codes(trace) & DISTRIBUTED_CODES == {"RT013"}


def test_a_sampler_is_only_judged_once_the_trace_reaches_its_second_epoch():
    trace = _run("rt013_sampler_epoch.py", steps=2)  # stops as the second epoch begins
    assert not _codes(trace) & DISTRIBUTED_CODES


def test_layer_used_on_some_ranks_only_is_reported():
    trace = _run("rt014_uneven_use.py")
    [finding] = [f for f in trace.findings if f.code == "RT014"]
    assert finding.line == _line("rt014_uneven_use.py", "logits = model(")
    assert finding.evidence["run_on_some_ranks"] == {"model.aux": [0]}
    assert _codes(trace) & DISTRIBUTED_CODES == {"RT014"}


def test_rank_that_never_reaches_the_collective_ends_the_run_with_both_places():
    started = time.monotonic()
    trace = _run("rt015_hang.py", collective_timeout=3)
    assert time.monotonic() - started < 60
    [finding] = [f for f in trace.findings if f.code == "RT015"]
    assert finding.evidence["rank"] == 0
    assert finding.line == _line("rt015_hang.py", ".backward()")
    assert "DDP's gradient all-reduce" in finding.message
    assert "rank 1 is at" in finding.message and "next_batch()" in finding.message
    [rank_one] = finding.related
    assert rank_one.span.start_line == _line("rt015_hang.py", "time.sleep")
    assert "rank 0 waited in" in trace.incomplete


def test_rank_that_raises_is_named_and_the_others_are_ended():
    trace = _run("rank_raises.py", collective_timeout=60)
    assert trace.ranks[1].trace.outcome == "raised"
    assert "ValueError: corrupt sample 17" in trace.ranks[1].trace.user_traceback
    assert trace.incomplete.startswith("rank 1: the script raised ValueError")
    # Rank 0 waited for rank 1 in DDP's all-reduce: it was ended and said where it was,
    # long before the 60 s collective timeout.
    assert trace.ranks[0].trace.outcome == "ended"
    assert "backward" in trace.positions[0].describe()
    assert trace.ranks[1].hooks_restored


def test_rank_that_is_killed_is_named():
    trace = _run("rank_killed.py", collective_timeout=60)
    assert trace.failures[1] == "was killed by SIGKILL"
    assert trace.incomplete.startswith("rank 1 was killed by SIGKILL")
    # Rank 0 either saw its peer vanish (gloo raises) and reported, or torchrun stopped it
    # first: either way the report says so, after the rank that failed first.
    if 0 in trace.ranks:
        assert trace.ranks[0].trace.outcome == "raised" and trace.ranks[0].hooks_restored
    else:
        assert trace.failures[0] == "was stopped by torchrun (SIGTERM) after rank 1 failed"


def test_launcher_leaves_this_process_as_it_found_it():
    import signal
    handlers = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    environment = dict(os.environ)
    _run("rt012_same_batches.py")
    assert {number: signal.getsignal(number) for number in handlers} == handlers
    assert dict(os.environ) == environment


def _cli(*arguments: str, timeout: float = 180,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True,
                          timeout=timeout, cwd=FIXTURES.parent.parent.parent,
                          env={**os.environ, **(env or {})})


def test_cli_nproc_prints_one_merged_report_and_confirms_the_static_finding():
    result = _cli("-m", "dllint", "trace", "--nproc", "2", "--steps", "5", "--format", "json",
                  "fixtures/runtime/distributed/rt013_sampler_epoch.py")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    jsonschema = pytest.importorskip("jsonschema")
    from dllint.runtime.trace_json import SCHEMA
    jsonschema.validate(report, SCHEMA)
    assert report["distributed"]["world_size"] == 2
    assert [rank["steps"] for rank in report["distributed"]["ranks"]] == [5, 5]
    static = [d for d in report["diagnostics"] if d["code"] == "DL105"]
    assert static and "confirmed at runtime: RT013" in static[0]["message"]


@pytest.mark.parametrize("secret", [None, "a shared key of the job"])
def test_inside_torchrun_rank_zero_prints_the_merged_report_once(secret):
    """Without a key the ranks' values are typed JSON; with DLLINT_TRACE_SECRET (the same on
    every rank) they are also sealed, and rank 0 still reads every one."""
    result = _cli("-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                  "-m", "dllint", "trace", "--steps", "2", "--no-static",
                  "fixtures/runtime/distributed/rt011_not_wrapped.py",
                  env={"DLLINT_TRACE_SECRET": secret} if secret else None)
    assert "Refused" not in result.stdout
    assert result.stdout.count("dllint trace") == 1, result.stdout + result.stderr
    assert "2 ranks" in result.stdout and "RT011" in result.stdout


# ---- the merge on its own: near misses ----------------------------------------------------------

def _report(rank: int, after: list[float], before: list[float] | None = None,
            batch: tuple | None = None, modules=("model.fc",), no_gradient=()) -> RankReport:
    batch = batch or ("(4, 8)", (float(rank), 2.0))  # each rank its own batch
    trace = TraceReport("train.py", "stopped", "stopped", "cpu", 1, Observations())
    replicas = Replicas("SGD #1", ["model.fc.weight", "model.fc.bias"],
                        before or [1.0, 0.5], [after], ("train.py", 9))
    return RankReport(rank, 2, 0, "gloo", trace, [replicas], batch, [],
                      list(modules), list(no_gradient), ("train.py", 8), ("train.py", 7))


def test_rounding_noise_between_replicas_is_not_drift():
    trace = merge_ranks(2, {0: _report(0, [1.25, 0.5]), 1: _report(1, [1.25 * (1 + 1e-7), 0.5])})
    assert not _codes(trace) & {"RT011"}
    drifted = merge_ranks(2, {0: _report(0, [1.25, 0.5]), 1: _report(1, [1.26, 0.5])})
    assert _codes(drifted) & DISTRIBUTED_CODES == {"RT011"}


def test_replicas_that_started_apart_blame_the_missing_wrapper():
    trace = merge_ranks(2, {0: _report(0, [1.25, 0.5]),
                            1: _report(1, [1.3, 0.5], before=[1.1, 0.5])})
    [finding] = trace.findings
    assert "not wrapped in DistributedDataParallel" in finding.message


def test_different_batches_and_the_same_layers_are_silent():
    trace = merge_ranks(2, {0: _report(0, [1.0, 0.5], batch=("(4, 8)", (1.0, 2.0))),
                            1: _report(1, [1.0, 0.5], batch=("(4, 8)", (1.5, 2.0)))})
    assert trace.findings == []
    skipped = merge_ranks(2, {0: _report(0, [1.0, 0.5], batch=("(4, 8)", (1.0, 2.0))),
                              1: _report(1, [1.0, 0.5], batch=("(4, 8)", (1.5, 2.0)),
                                         modules=(), no_gradient=("model.fc.weight",))})
    assert _codes(skipped) == {"RT014"}


def test_inside_torchrun_a_hang_is_reported_by_rank_zero_and_every_rank_ends():
    started = time.monotonic()
    result = _cli("-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                  "-m", "dllint", "trace", "--collective-timeout", "3", "--no-static",
                  "fixtures/runtime/distributed/rt015_hang.py", timeout=120)
    assert time.monotonic() - started < 90
    assert result.stdout.count("dllint trace") == 1, result.stdout + result.stderr
    assert "RT015 rank 0 waited" in result.stdout and "rank 1 is at" in result.stdout
    assert result.returncode != 0
