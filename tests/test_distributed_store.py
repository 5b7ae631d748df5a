"""The job's store under `dllint trace --nproc`: it listens on loopback only, what is read back
from it is typed JSON (never unpickled), and a value this run did not write is refused and
reported, never used or executed."""

from __future__ import annotations

import json
import math
import pickle
import sys
from datetime import timedelta
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is needed", allow_module_level=True)

from dllint.runtime.distributed.job import Exchange  # noqa: E402
from dllint.runtime.distributed.launcher import TraceOptions, collect, launch  # noqa: E402
from dllint.runtime.distributed.loopback import loopback_store  # noqa: E402
from dllint.runtime.distributed.records import Position, RankReport, Replicas  # noqa: E402
from dllint.runtime.distributed.render import distributed_to_dict, render_distributed  # noqa: E402
from dllint.runtime.distributed.wire import (Refused, from_plain, seal,  # noqa: E402
                                             secret_from_environment, to_plain, unseal)
from dllint.runtime.instruments import ModuleRecord, Observations  # noqa: E402
from dllint.runtime.overfit import Verdict  # noqa: E402
from dllint.runtime.script import Curve, TraceReport  # noqa: E402
from dllint.runtime.trace_json import SCHEMA  # noqa: E402
from dllint.types import (Applicability, Diagnostic, Edit, Fix, RelatedLocation,  # noqa: E402
                          Severity, Span)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "runtime" / "distributed"
SECRET = bytes(range(32))


def _report(rank: int) -> RankReport:
    span = Span(3, 1, 3, 9)
    diagnostic = Diagnostic(
        "RT003", "loss-contract", "a message", Severity.WARNING, "/tmp/train.py", span,
        related=(RelatedLocation("/tmp/model.py", span, "here", None),),
        fix=Fix((Edit(span, "x"),), Applicability.SAFE, "do it"),
        evidence={"ranks": [0, 1], "value": 1.5, "nested": {"a": [1, "b"]}})
    observations = Observations(
        modules={140001: ModuleRecord("model", "Linear", "[(4, 8)]", "(4, 2)", "float32", True,
                                      "cpu")},
        losses=[("cross_entropy", 0.69)], gradient_norms={"model.weight": 0.25},
        steps=2, device="cpu", findings=[diagnostic])
    trace = TraceReport("/tmp/train.py", "stopped", "stopped after 2 steps", "cpu", 2,
                        observations,
                        curves=[Curve("SGD #1", [0.69, float("nan")],
                                      Verdict("passes", 0.69, 0.1, 0.1, 2), ("model",))],
                        chance=("ln(2)", 0.69), first_step_changed=True)
    return RankReport(rank, 2, 1000 + rank, "gloo", trace,
                      replicas=[Replicas("SGD #1", ["w"], [1.0], [[1.0], [1.5]],
                                         ("/tmp/train.py", 9))],
                      first_batch=("(4, 8)", (1.0, 2.0)), gradient_place=("/tmp/train.py", 7),
                      hang=Position(rank, [("/tmp/train.py", 5, "main")], "", None, 0.5))


def test_a_rank_report_crosses_the_wire_unchanged():
    report = _report(1)
    back = unseal("report/1", seal("report/1", report, SECRET), RankReport, SECRET)
    # NaN never equals itself: compare the curve values apart.
    assert math.isnan(back.trace.curves[0].values[1])
    back.trace.curves[0].values[1] = report.trace.curves[0].values[1] = 0.0
    assert back == report
    assert isinstance(back.trace.observations.findings[0].severity, Severity)
    assert list(back.trace.observations.modules) == [140001]


@pytest.mark.parametrize("plain, reason", [
    ({"rank": "0"}, "RankReport"),                       # a field of the wrong type
    ([1, 2], "expected a RankReport object"),            # not an object at all
    ({**to_plain(_report(0)), "extra": 1}, "no field 'extra'"),
    ({k: v for k, v in to_plain(_report(0)).items() if k != "trace"}, "trace is missing"),
])
def test_a_value_of_another_shape_is_refused(plain, reason):
    with pytest.raises(Refused, match=reason):
        from_plain(plain, RankReport)


def test_values_not_sealed_with_the_run_key_are_refused():
    sealed = seal("report/1", _report(1), SECRET)
    with pytest.raises(Refused, match="another process wrote it"):
        unseal("report/1", sealed, RankReport, b"another key")
    # A genuine value moved to another key does not pass either.
    with pytest.raises(Refused, match="another process wrote it"):
        unseal("report/0", sealed, RankReport, SECRET)
    # One byte changed in the body.
    tampered = sealed.replace(b'"pid":1001', b'"pid":1002')
    assert tampered != sealed
    with pytest.raises(Refused, match="another process wrote it"):
        unseal("report/1", tampered, RankReport, SECRET)
    with pytest.raises(Refused, match="not a dllint value"):
        unseal("report/1", pickle.dumps(_report(1)), RankReport, SECRET)


def test_the_secret_comes_from_the_environment_as_hex_or_text():
    assert secret_from_environment({"DLLINT_TRACE_SECRET": "00ff"}) == b"\x00\xff"
    assert secret_from_environment({"DLLINT_TRACE_SECRET": "not hex"}) == b"not hex"
    assert secret_from_environment({}) is None


class _Exploit:
    """Unpickling this writes a file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "executed"))


def test_forged_values_in_the_store_are_refused_and_reported_never_executed(tmp_path):
    store = loopback_store(timedelta(seconds=10))
    exchange = Exchange(store, "run", SECRET)
    exchange.put("report/0", _report(0))
    exchange.put("where/0", _report(0).hang)
    # Someone who reached the port writes under the job's keys, without the run's key.
    intruder = dist.PrefixStore("dllint/run/", dist.TCPStore("127.0.0.1", store.port,
                                                             is_master=False))
    marker = tmp_path / "pwned"
    intruder.set("report/1", pickle.dumps(_Exploit(marker)))
    intruder.set("where/1", seal("where/1", _report(1).hang, b"a guessed key"))
    intruder.set("stop", seal("stop", 1, None))

    trace = collect(exchange, 2)

    assert not marker.exists()
    assert sorted(trace.ranks) == [0] and sorted(trace.positions) == [0]
    assert "refused" in trace.failures[1]
    assert any("`report/1`" in line and "not a dllint value" in line for line in trace.refused)
    assert any("`where/1`" in line and "another process wrote it" in line
               for line in trace.refused)
    assert not exchange.stopped()
    assert any("`stop`" in line for line in exchange.refused.values())
    text = render_distributed(trace, "/tmp/train.py", color=False, width=120)
    assert "Refused from the job's store" in text
    assert "rank 1: published a report that was refused" in text
    data = distributed_to_dict(trace, "/tmp/train.py", trace.findings)
    assert data["distributed"]["refused"] == trace.refused
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads(json.dumps(data)), SCHEMA)


def test_the_launcher_store_listens_on_loopback_only():
    store = loopback_store(timedelta(seconds=10))
    sockets = _listening_sockets_of_this_process()
    assert sockets, "the store listens"
    assert all(address in _LOOPBACK for address in sockets), sockets
    del store


_LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 in /proc/net


def _listening_sockets_of_this_process() -> list[str]:
    import os
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                found.append(fields[1].split(":")[0])
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_every_listener_of_a_nproc_run_is_on_loopback(tmp_path):
    """The launcher (this process: it runs torchrun's agent in-process) and both ranks, read by
    the script itself on rank 0 while the job runs."""
    found = tmp_path / "listeners.json"
    trace = launch(str(FIXTURES / "listeners.py"), [str(found)], 2,
                   TraceOptions(steps=2, timeout=120))
    assert sorted(trace.ranks) == [0, 1], trace.incomplete
    assert trace.refused == []
    seen = json.loads(found.read_text())
    assert len(seen["pids"]) == 3  # the launcher and two ranks
    assert seen["sockets"], "the job's store and gloo listen somewhere"
    outside = [s for s in seen["sockets"] if s["address"] not in _LOOPBACK]
    assert outside == [], seen
