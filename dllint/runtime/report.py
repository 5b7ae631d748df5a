"""What `dllint trace` prints: the traced step (modules, loss, gradient norms) and the findings,
static and runtime together, where a runtime finding confirms a static one at the same place."""

from __future__ import annotations

import io
import linecache
import os
import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dllint.install_hint import install_command
from dllint.runtime.instruments import ModuleRecord
from dllint.runtime.overfit import sparkline
from dllint.runtime.script import Curve, TraceReport
from dllint.types import Diagnostic, RelatedLocation

# A static rule and the runtime check that observes the same bug.
CONFIRMS = {"DL002": "RT003", "DL006": "RT002", "DL004": "RT007", "DL005": "RT005",
            "DL003": "RT004", "DL101": "RT009", "DL107": "RT008", "DL301": "RT008",
            "DL105": "RT013"}


def _places(diagnostic: Diagnostic) -> set[tuple[str, int]]:
    """(file, line) of a finding and of its related locations. Static paths are as given
    (relative, `./train.py`), runtime paths absolute: both are resolved."""
    return {(os.path.realpath(path), line) for path, line in [
        (diagnostic.path, diagnostic.line),
        *((r.path, r.span.start_line) for r in diagnostic.related)]}


def _observes(observed: Diagnostic, static: Diagnostic) -> bool:
    """Whether a runtime finding saw the static finding's bug: they share a place (the line,
    or a related one such as the loss call in the training script or where the optimizer was
    built), or, for layers kept in a plain list, the runtime found them in the list the static
    finding points at (`self.hidden = [...]`)."""
    if _places(observed) & _places(static):
        return True
    source = linecache.getline(static.path, static.line)
    return any(f"self.{attribute}" in source for attribute in observed.evidence.get(
        "attributes", ()))


def merge(static: Sequence[Diagnostic], runtime: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Static and runtime findings, one finding per cause: a static finding the runtime saw at
    one of its lines says so and carries the runtime evidence; the runtime findings that
    confirmed it are not reported a second time."""
    merged: list[Diagnostic] = []
    absorbed: set[int] = set()
    for diagnostic in static:
        confirming = [r for r in runtime if r.code == CONFIRMS.get(diagnostic.code)
                      and _observes(r, diagnostic)]
        if confirming:
            observed = confirming[0]
            absorbed.update(id(r) for r in confirming)
            diagnostic = replace(
                diagnostic, message=f"{diagnostic.message} [confirmed at runtime: {observed.code}]",
                related=(*diagnostic.related, *(RelatedLocation(
                    r.path, r.span, f"{r.code} observed: {r.message}") for r in confirming)),
                evidence={**diagnostic.evidence, "confirmed_by": observed.code,
                          **{f"runtime_{k}": v for k, v in observed.evidence.items()}})
        merged.append(diagnostic)
    return sorted([*merged, *(r for r in runtime if id(r) not in absorbed)],
                  key=Diagnostic.sort_key)


# The module table: the text report shows at most this many rows (the JSON report has them all).
MAX_MODULE_ROWS = 50
# Gradient norms: beyond this many parameters the text report shows the first and the last half
# (the layers next to the input and next to the loss, where vanishing and exploding show first).
MAX_GRADIENT_ROWS = 40
# Losses quoted per optimizer before the line says how many more there are.
SHOWN_LOSSES = 6
# Module names are shortened (from the left) to fit the terminal, but never below this width.
MIN_NAME_WIDTH = 16


@dataclass(eq=False)
class _ModuleNode:
    record: ModuleRecord
    # The smallest recording index in this subtree. Records are made when a forward returns,
    # children before their parent, so this orders siblings by when their calls started.
    first_seen: int
    children: list[_ModuleNode] = field(default_factory=list)
    # The subtree's structure (types, shapes, dtypes, modes, devices), names left out: siblings
    # with equal signatures are repeated blocks.
    signature: tuple = ()


def _module_tree(records: Sequence[ModuleRecord]) -> list[_ModuleNode]:
    """The recorded modules as trees: a module's parent is the longest recorded prefix of its
    dotted name. Parents come before children, siblings in the order their calls started."""
    nodes = [_ModuleNode(record, index) for index, record in enumerate(records)]
    by_name: dict[str, _ModuleNode] = {}
    for node in nodes:
        by_name.setdefault(node.record.name, node)
    roots: list[_ModuleNode] = []
    for node in nodes:
        parent, prefix = None, node.record.name
        while parent is None and "." in prefix:
            prefix = prefix.rsplit(".", 1)[0]
            parent = by_name.get(prefix)
        (parent.children if parent is not None else roots).append(node)

    def settle(node: _ModuleNode) -> None:
        for child in node.children:
            settle(child)
        node.children.sort(key=lambda child: child.first_seen)
        node.first_seen = min([node.first_seen, *(child.first_seen for child in node.children)])
        record = node.record
        node.signature = (record.kind, record.inputs, record.outputs, record.dtype,
                          record.training, record.device,
                          tuple(child.signature for child in node.children))

    for root in roots:
        settle(root)
    roots.sort(key=lambda root: root.first_seen)
    return roots


def module_rows(records: Sequence[ModuleRecord]) -> list[ModuleRecord]:
    """Every recorded module, parents before their children and siblings in call order: the
    order of the text table and of the JSON report."""
    ordered: list[ModuleRecord] = []

    def walk(nodes: list[_ModuleNode]) -> None:
        for node in nodes:
            ordered.append(node.record)
            walk(node.children)

    walk(_module_tree(records))
    return ordered


@dataclass(frozen=True)
class TableRow:
    """A row of the text module table: one module, or `count` consecutive numbered siblings
    with the same structure (`blocks.0–2`, the record of the first standing for all)."""
    name: str
    count: int
    record: ModuleRecord


def _numbered(name: str) -> tuple[str, int] | None:
    """`stages.0.blocks.2` -> (`stages.0.blocks`, 2): an item of a ModuleList or Sequential."""
    prefix, _, last = name.rpartition(".")
    return (prefix, int(last)) if prefix and last.isdigit() else None


def folded_rows(records: Sequence[ModuleRecord]) -> list[TableRow]:
    """The module table with repeated blocks folded: consecutive numbered siblings whose whole
    subtrees have the same structure become one row, and their children are not listed."""
    rows: list[TableRow] = []

    def fold(nodes: list[_ModuleNode]) -> None:
        index = 0
        while index < len(nodes):
            node, run = nodes[index], 1
            numbered = _numbered(node.record.name)
            if numbered is not None:
                prefix, number = numbered
                while index + run < len(nodes) and nodes[index + run].signature == node.signature \
                        and _numbered(nodes[index + run].record.name) == (prefix, number + run):
                    run += 1
            if run > 1:
                rows.append(TableRow(f"{prefix}.{number}–{number + run - 1}", run, node.record))
            else:
                rows.append(TableRow(node.record.name, 1, node.record))
                fold(node.children)
            index += run

    fold(_module_tree(records))
    return rows


def shorten_left(name: str, width: int) -> str:
    """`name` in at most `width` characters, cut from the left where the path is least telling
    (`…blocks.2.conv_dw`), at a dot when that keeps at least half the width."""
    if len(name) <= width:
        return name
    if width <= 1:
        return "…"[:width]
    tail = name[len(name) - (width - 1):]
    dot = tail.find(".")
    if 0 <= dot < len(tail) - 1 and len(tail) - dot - 1 >= width // 2:
        tail = tail[dot + 1:]
    return "…" + tail


def _module_table(rows: list[TableRow], width: int) -> Table:
    folded = any(row.count > 1 for row in rows)
    others = [["type", *(row.record.kind for row in rows)],
              ["input", *(row.record.inputs for row in rows)],
              ["output", *(row.record.outputs for row in rows)],
              ["dtype", *(row.record.dtype for row in rows)], ["train"]]
    if folded:
        others.append([f"×{row.count}" for row in rows])
    # Rich separates columns by two spaces (padding 1 on each side, none at the edges).
    taken = sum(max(len(value) for value in column) for column in others) + 2 * len(others)
    # Shapes are what the table is for, so names give way first, down to a usable minimum.
    name_width = min(max(len(row.name) for row in rows), max(MIN_NAME_WIDTH, width - taken))
    table = Table(box=None, header_style="bold", pad_edge=False)
    # Names are shortened here, from the left; the minimum keeps Rich from cutting their ends.
    table.add_column("module", no_wrap=True, min_width=name_width)
    if folded:
        table.add_column("", no_wrap=True)
    table.add_column("type", overflow="ellipsis", no_wrap=True)
    for header in ("input", "output"):
        table.add_column(header, overflow="ellipsis", no_wrap=True)
    table.add_column("dtype", no_wrap=True)
    table.add_column("mode", no_wrap=True)
    for row in rows:
        record = row.record
        count = [f"×{row.count}" if row.count > 1 else ""] if folded else []
        table.add_row(escape(shorten_left(row.name, name_width)), *count, record.kind,
                      escape(record.inputs), escape(record.outputs), record.dtype,
                      "train" if record.training else "eval")
    return table


def _curve_label(curve: Curve) -> str:
    return curve.optimizer + (f" ({', '.join(curve.models)})" if curve.models else "")


def _render_curve(console: Console, curve: Curve, width: int) -> None:
    """One optimizer's training loss: the first values; and, judged (--overfit) or long, the
    curve's start and end, its verdict and a sparkline across the line."""
    label = escape(_curve_label(curve))
    values = curve.values
    if not values:
        return
    shown = ", ".join(f"{value:.4g}" for value in values[:SHOWN_LOSSES])
    if len(values) > SHOWN_LOSSES:
        shown += f", … {values[-1]:.4g} ({len(values)} steps)"
    console.print(f"loss per step, {label}: {shown}")
    if curve.verdict is None and len(values) <= SHOWN_LOSSES:
        return
    if curve.verdict is not None:
        # The verdict's own start and end (medians of the first 3 and the last 10 %), so the
        # header and the RT010 message quote the same numbers.
        start, end, kind = curve.verdict.start, curve.verdict.end, curve.verdict.kind
        style = "green" if kind == "passes" else "red"
    else:
        start, end, kind, style = values[0], values[-1], "not judged (--overfit judges it)", "dim"
    console.print(f"[bold]loss curve[/], {label}: {len(values)} steps, {start:.4g} -> {end:.4g}: "
                  f"[{style}]{kind}[/]")
    if any(math.isfinite(value) for value in values):
        console.print(f"  {sparkline(values, max(10, min(80, width - 4)))}")


def _bar(value: float, low: float, high: float, width: int = 30) -> str:
    if value <= 0 or not math.isfinite(value):
        return ""
    span = max(math.log10(high) - math.log10(low), 1e-9)
    filled = 1 + int((width - 1) * (math.log10(value) - math.log10(low)) / span)
    return "█" * max(1, min(width, filled))


def _render_gradient_norms(console: Console, norms: dict[str, float], no_gradient: list[str],
                           width: int) -> None:
    console.print("[bold]gradient norms[/] (first step, log scale)")
    finite = [v for v in norms.values() if math.isfinite(v) and v > 0]
    low, high = (min(finite), max(finite)) if finite else (1.0, 10.0)
    if high / low < 10:
        low = high / 10
    # Parameters without a gradient are always listed (each one is a finding); of the others,
    # a long list keeps its two ends.
    names = list(norms)
    room = max(2, MAX_GRADIENT_ROWS - len(no_gradient))
    if len(names) > room:
        head, tail = names[:room - room // 2], names[len(names) - room // 2:]
    else:
        head, tail = names, []
    hidden = len(names) - len(head) - len(tail)
    listed = [*head, *tail, *no_gradient]
    # 2 indent, a 10-wide number, a bar of up to 30 and the spaces between.
    name_width = max(16, min(48, max(len(name) for name in listed), width - 44))

    def show(name: str) -> None:
        norm = norms[name]
        console.print(f"  {escape(shorten_left(name, name_width)).ljust(name_width)} "
                      f"{norm:10.3e} [green]{_bar(norm, low, high)}[/]")

    for name in head:
        show(name)
    if hidden:
        console.print(f"  … {hidden} more parameters (see --format json)")
    for name in tail:
        show(name)
    for name in no_gradient:
        console.print(f"  {escape(shorten_left(name, name_width)).ljust(name_width)} "
                      f"{'none':>10} [red]no gradient[/]")


def text_console(buffer: io.StringIO, color: bool, width: int) -> Console:
    """The console the trace report is written with. No emoji: rich would read `:100:` in
    `train.py:100:5` as an emoji code."""
    return Console(file=buffer, emoji=False, force_terminal=color, no_color=not color,
                   width=width, highlight=False, soft_wrap=True)


def render_trace(report: TraceReport, color: bool, width: int, heading: str = "") -> str:
    """The traced step as text; `heading` replaces the title and outcome lines (a distributed
    run says them for every rank)."""
    buffer = io.StringIO()
    console = text_console(buffer, color, width)
    if heading:
        console.print(heading)
    else:
        console.print(f"[bold]dllint trace[/] {escape(report.script)}")
        console.print(f"device: {report.device}   steps: {report.steps}   "
                      f"outcome: {escape(report.detail)}")
    seen = report.observations
    if seen.modules:
        rows = folded_rows(list(seen.modules.values()))
        console.print(_module_table(rows[:MAX_MODULE_ROWS], width))
        if len(rows) > MAX_MODULE_ROWS:
            console.print(f"… {len(rows) - MAX_MODULE_ROWS} more rows (see --format json)")
    if seen.gradient_norms or seen.no_gradient:
        _render_gradient_norms(console, seen.gradient_norms, seen.no_gradient, width)
    if report.initial_loss or report.first_step_changed is not None:
        changed = {True: "the first step changed the weights",
                   False: "the first step changed NO weight", None: ""}[report.first_step_changed]
        console.print("; ".join(part for part in (report.initial_loss, changed) if part))
    for curve in report.curves:
        _render_curve(console, curve, width)
    if report.user_traceback:
        console.print("[bold red]The script raised:[/]")
        console.print(escape(report.user_traceback.rstrip()))
    for error in report.instrument_errors:
        console.print(f"[bold yellow]dllint tracer error (not your code):[/] {escape(error)}")
    console.print()
    return buffer.getvalue()


# The loss plot uses a log axis only when the curve spans more than this many decades: over a
# smaller range a log axis turns a plateau into what looks like a steep fall.
LOG_AXIS_DECADES = 2
# A linear loss axis never spans less than this fraction of the loss level, so that noise in
# the fourth digit of a flat loss stays flat on the picture.
MIN_AXIS_FRACTION = 0.05
# Gradient-chart tick labels are shortened from the left to this many characters.
PLOT_LABEL_WIDTH = 32


def loss_axis(values: Sequence[float]) -> tuple[str, tuple[float, float] | None]:
    """The y scale of the loss plot and, for a linear one, its limits (None: matplotlib's)."""
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return "linear", None
    low, high = min(finite), max(finite)
    if low > 0 and high / low > 10 ** LOG_AXIS_DECADES:
        return "log", None
    span = max(high - low, MIN_AXIS_FRACTION * abs(statistics.median(finite)), 1e-12)
    middle, margin = (low + high) / 2, 0.05 * span
    return "linear", (middle - span / 2 - margin, middle + span / 2 + margin)


def _loss_panel(axis, curves: Sequence[Curve]) -> None:
    from matplotlib.ticker import MaxNLocator

    for curve in curves:
        verdict = f": {curve.verdict.kind}" if curve.verdict else ""
        # Non-finite losses are left as gaps; the verdict says the loss exploded.
        axis.plot(range(1, len(curve.values) + 1),
                  [value if math.isfinite(value) else math.nan for value in curve.values],
                  label=f"{_curve_label(curve)}{verdict}")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    scale, limits = loss_axis([value for curve in curves for value in curve.values])
    axis.set_yscale(scale)
    if limits is not None:
        axis.set_ylim(*limits)
    judged = any(curve.verdict for curve in curves)
    axis.set_xlabel("step on the first batch" if judged else "optimizer step")
    axis.set_ylabel("training loss")
    axis.legend()
    axis.set_title("single-batch overfit" if judged else "training loss")


def _gradient_panel(axis, report: TraceReport) -> None:
    """Bars of the first step's gradient norms (log scale); a parameter with no gradient, or a
    zero or non-finite one, gets a red cross at the bottom of the chart with the reason."""
    from matplotlib.transforms import blended_transform_factory

    norms = report.observations.gradient_norms
    drawn = {name: norm for name, norm in norms.items() if math.isfinite(norm) and norm > 0}
    # A log axis cannot draw these as bars: "zero", "nan" or "inf" is written instead.
    missing = {name: "zero" if norm == 0 else f"{norm}"
               for name, norm in norms.items() if name not in drawn}
    missing.update({name: "no gradient" for name in report.observations.no_gradient})
    names = [*norms, *(name for name in report.observations.no_gradient if name not in norms)]
    positions = {name: index for index, name in enumerate(names)}
    axis.bar([positions[name] for name in drawn], list(drawn.values()), color="tab:blue",
             label="gradient norm")
    axis.set_yscale("log")
    if drawn:
        axis.set_ylim(bottom=min(drawn.values()) / 10)
    else:
        axis.set_ylim(1e-3, 1.0)
    if missing:
        # x in data coordinates, y in axes coordinates: the bottom of the chart, whatever scale.
        bottom = blended_transform_factory(axis.transData, axis.transAxes)
        xs = [positions[name] for name in missing]
        axis.scatter(xs, [0.03] * len(xs), transform=bottom, marker="x", color="tab:red",
                     zorder=3, clip_on=False, label="no gradient")
        for name, reason in missing.items():
            axis.text(positions[name], 0.07, reason, transform=bottom, rotation=90, ha="center",
                      va="bottom", fontsize=7, color="tab:red")
        axis.legend(fontsize=7)
    axis.set_xticks(range(len(names)), [shorten_left(name, PLOT_LABEL_WIDTH) for name in names],
                    rotation=70, ha="right", fontsize=7)
    # The crosses do not take part in autoscaling: every parameter gets its slot.
    axis.set_xlim(-0.6, len(names) - 0.4)
    for label, name in zip(axis.get_xticklabels(), names):
        if name in missing:
            label.set_color("tab:red")
    axis.set_ylabel("gradient norm (first step)")
    axis.set_title(f"gradient flow: {report.script.rsplit('/', 1)[-1]}")


def gradient_figure(report: TraceReport):
    """The matplotlib figure of plot_gradients (matplotlib must be importable)."""
    import matplotlib.pyplot as plt

    bars = len(report.observations.gradient_norms) + len(report.observations.no_gradient)
    curves = [curve for curve in report.curves if len(curve.values) > 1]
    panels = 2 if curves else 1
    # Wide enough to read a label per bar, but never a poster: a big model's bars get thinner.
    width = min(24.0, max(6.0, bars * 0.5)) + 5 * (panels - 1)
    figure, axes = plt.subplots(1, panels, figsize=(width, 4.5), squeeze=False)
    _gradient_panel(axes[0][0], report)
    if curves:
        _loss_panel(axes[0][1], curves)
    figure.tight_layout()
    return figure


def plot_gradients(report: TraceReport, path: str) -> str | None:
    """A gradient-flow picture (and the loss curves); returns why not when matplotlib is
    missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"--plot needs matplotlib: {install_command('plot')}"
    figure = gradient_figure(report)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return None
