"""What `dllint trace` prints: the traced step (modules, loss, gradient norms) and the findings,
static and runtime together, where a runtime finding confirms a static one at the same place."""

from __future__ import annotations

import io
import math
from dataclasses import replace
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dllint.install_hint import install_command
from dllint.runtime.overfit import sparkline
from dllint.runtime.script import TraceReport
from dllint.types import Diagnostic, RelatedLocation

# A static rule and the runtime check that observes the same bug.
CONFIRMS = {"DL002": "RT003", "DL006": "RT002", "DL004": "RT007", "DL005": "RT005",
            "DL003": "RT004"}


def merge(static: Sequence[Diagnostic], runtime: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Static and runtime findings; a static finding the runtime saw at one of its lines says so."""
    merged: list[Diagnostic] = []
    for diagnostic in static:
        lines = {diagnostic.line} | {r.span.start_line for r in diagnostic.related
                                     if r.path == diagnostic.path}
        confirming = [r for r in runtime if r.code == CONFIRMS.get(diagnostic.code)
                      and r.path == diagnostic.path and r.line in lines]
        if confirming:
            observed = confirming[0]
            diagnostic = replace(
                diagnostic, message=f"{diagnostic.message} [confirmed at runtime: {observed.code}]",
                related=(*diagnostic.related, RelatedLocation(
                    observed.path, observed.span, f"{observed.code} observed: {observed.message}")),
                evidence={**diagnostic.evidence, "confirmed_by": observed.code,
                          **{f"runtime_{k}": v for k, v in observed.evidence.items()}})
        merged.append(diagnostic)
    return sorted([*merged, *runtime], key=Diagnostic.sort_key)


def _bar(value: float, low: float, high: float, width: int = 30) -> str:
    if value <= 0 or not math.isfinite(value):
        return ""
    span = max(math.log10(high) - math.log10(low), 1e-9)
    filled = 1 + int((width - 1) * (math.log10(value) - math.log10(low)) / span)
    return "█" * max(1, min(width, filled))


def render_trace(report: TraceReport, color: bool, width: int) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width,
                      highlight=False, soft_wrap=True)
    console.print(f"[bold]dllint trace[/] {escape(report.script)}")
    console.print(f"device: {report.device}   steps: {report.steps}   outcome: {escape(report.detail)}")
    seen = report.observations
    if seen.modules:
        table = Table("module", "type", "input", "output", "dtype", "mode", box=None,
                      header_style="bold", pad_edge=False)
        for record in list(seen.modules.values())[:40]:
            table.add_row(escape(record.name), record.kind, escape(record.inputs),
                          escape(record.outputs), record.dtype, "train" if record.training else "eval")
        console.print(table)
    if seen.losses:
        first_name, first_value = seen.losses[0]
        values = ", ".join(f"{value:.4g}" for _, value in seen.losses[:6])
        console.print(f"loss ({first_name}): {values}")
    if seen.gradient_norms or seen.no_gradient:
        console.print("[bold]gradient norms[/] (first step, log scale)")
        finite = [v for v in seen.gradient_norms.values() if math.isfinite(v) and v > 0]
        low, high = (min(finite), max(finite)) if finite else (1.0, 10.0)
        if high / low < 10:
            low = high / 10
        name_width = min(48, max(len(name) for name in [*seen.gradient_norms, *seen.no_gradient]))
        for name, norm in seen.gradient_norms.items():
            console.print(f"  {escape(name[:name_width]).ljust(name_width)} {norm:10.3e} "
                          f"[green]{_bar(norm, low, high)}[/]")
        for name in seen.no_gradient:
            console.print(f"  {escape(name[:name_width]).ljust(name_width)} "
                          f"{'none':>10} [red]no gradient[/]")
    if report.initial_loss or report.first_step_changed is not None:
        changed = {True: "the first step changed the weights",
                   False: "the first step changed NO weight", None: ""}[report.first_step_changed]
        console.print("; ".join(part for part in (report.initial_loss, changed) if part))
    for curve in report.curves:
        verdict = curve.verdict.kind if curve.verdict else "too short to judge"
        style = "green" if verdict == "passes" else "red"
        finite = [v for v in curve.values if math.isfinite(v)]
        span = f"{curve.values[0]:.4g} -> {curve.values[-1]:.4g}" if curve.values else ""
        console.print(f"[bold]loss curve[/] {escape(curve.optimizer)} ({len(curve.values)} steps, "
                      f"{span}): [{style}]{verdict}[/]")
        if finite:
            console.print(f"  {sparkline(curve.values, min(80, width - 4))}")
    if report.user_traceback:
        console.print("[bold red]The script raised:[/]")
        console.print(escape(report.user_traceback.rstrip()))
    for error in report.instrument_errors:
        console.print(f"[bold yellow]dllint tracer error (not your code):[/] {escape(error)}")
    console.print()
    return buffer.getvalue()


def plot_gradients(report: TraceReport, path: str) -> str | None:
    """A gradient-flow picture; returns why not when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"--plot needs matplotlib: {install_command('plot')}"
    norms = report.observations.gradient_norms
    panels = 2 if report.curves else 1
    figure, axes = plt.subplots(1, panels, figsize=(max(6, len(norms) * 0.5) + 5 * (panels - 1), 4))
    axis = axes[0] if panels > 1 else axes
    if report.curves:
        for curve in report.curves:
            label = f"{curve.optimizer}: {curve.verdict.kind if curve.verdict else '?'}"
            axes[1].plot(curve.values, label=label)
        axes[1].set_yscale("symlog")
        axes[1].set_xlabel("step on the first batch")
        axes[1].set_ylabel("loss")
        axes[1].legend()
        axes[1].set_title("single-batch overfit")
    names = list(norms)
    axis.bar(range(len(names)), [max(norms[n], 1e-12) for n in names], color="tab:blue")
    axis.set_yscale("log")
    axis.set_xticks(range(len(names)), names, rotation=70, ha="right", fontsize=7)
    axis.set_ylabel("gradient norm (first step)")
    axis.set_title(f"gradient flow: {report.script.rsplit('/', 1)[-1]}")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return None
