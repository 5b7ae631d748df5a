"""The merged report of a distributed run, as text and as JSON (`dllint-trace/2` with a
`distributed` section)."""

from __future__ import annotations

import io
import json
from typing import Any, Sequence

from rich.markup import escape

from dllint.runtime.distributed.merge import DistributedTrace
from dllint.runtime.instruments import Observations
from dllint.runtime.report import render_trace, text_console
from dllint.runtime.script import TraceReport
from dllint.runtime.trace_json import _strict, trace_to_dict
from dllint.types import Diagnostic


def base_report(trace: DistributedTrace, script: str) -> TraceReport:
    """The lowest rank's trace (module table, curves), or an empty one when no rank reported."""
    return trace.base or TraceReport(script, "failed", "no rank reported", "", 0, Observations())


def _rank_line(trace: DistributedTrace, rank: int) -> str:
    report = trace.ranks.get(rank)
    if report is None:
        why = trace.failures.get(rank, "sent no report")
        return f"rank {rank}: {why} (no report)"
    if report.hang is not None:
        return f"rank {rank}: ended the run: it {report.hang.describe()}"
    position = trace.positions.get(rank)
    if report.trace.outcome == "ended" and position is not None:
        return f"rank {rank}: ended with the run; it {position.describe()}"
    return f"rank {rank}: {report.trace.detail} (device {report.trace.device}, pid {report.pid})"


def render_distributed(trace: DistributedTrace, script: str, color: bool, width: int,
                       **table_view: Any) -> str:
    """The merged report: each rank's end, then the lowest rank's trace, whose module table
    takes `table_view` (`depth`, `row_limit`) as the single-process report does (--depth)."""
    base = base_report(trace, script)
    ranks = ", ".join(map(str, range(trace.world_size)))
    shown = min(trace.ranks) if trace.ranks else None
    lines = [f"[bold]dllint trace[/] {escape(script)}   "
             f"{trace.world_size} ranks ({ranks})" + (f", {trace.backend}" if trace.backend else "")]
    lines += [escape(_rank_line(trace, rank)) for rank in range(trace.world_size)]
    if shown is not None:
        lines.append(f"[dim]modules, losses and gradient norms of rank {shown}; where ranks "
                     "differ, below[/]")
    text = render_trace(base, color, width, heading="\n".join(lines), **table_view)
    extra = []
    if trace.refused:
        extra.append("[bold red]Refused from the job's store[/] (not written by this run, "
                     "or damaged; nothing in it was used):")
        extra += [f"  {escape(line)}" for line in trace.refused]
    if trace.differences:
        extra.append("Across ranks:")
        extra += [f"  {escape(line)}" for line in trace.differences]
    for rank, report in sorted(trace.ranks.items()):
        if rank != shown and report.trace.user_traceback:
            extra.append(f"[bold red]The script raised on rank {rank}:[/]")
            extra.append(escape(report.trace.user_traceback.rstrip()))
    if not extra:
        return text
    buffer = io.StringIO()
    console = text_console(buffer, color, width)
    for line in extra:
        console.print(line)
    console.print()
    return text + buffer.getvalue()


def distributed_to_dict(trace: DistributedTrace, script: str,
                        diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    data = trace_to_dict(base_report(trace, script), diagnostics)
    incomplete = trace.incomplete
    data["complete"] = not incomplete
    data["incomplete_reason"] = incomplete
    data["distributed"] = _strict({
        "world_size": trace.world_size,
        "backend": trace.backend,
        "ranks": [{"rank": rank, "pid": report.pid, "outcome": report.trace.outcome,
                   "detail": report.trace.detail, "steps": report.trace.steps,
                   "device": report.trace.device,
                   "first_losses": {curve.optimizer: curve.values[0]
                                    for curve in report.trace.curves if curve.values},
                   "hooks_restored": report.hooks_restored,
                   "user_traceback": report.trace.user_traceback}
                  for rank, report in sorted(trace.ranks.items())],
        "failures": {str(rank): why for rank, why in sorted(trace.failures.items())},
        "positions": {str(rank): position.describe()
                      for rank, position in sorted(trace.positions.items())},
        "differences": trace.differences,
        "refused": trace.refused,
    })
    return data


def render_distributed_json(trace: DistributedTrace, script: str,
                            diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps(distributed_to_dict(trace, script, diagnostics), indent=2,
                      allow_nan=False) + "\n"
