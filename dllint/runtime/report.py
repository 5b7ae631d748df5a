"""What `dllint trace` prints: the traced step (modules, loss, gradient norms) and the findings,
static and runtime together, where a runtime finding confirms a static one at the same place."""

from __future__ import annotations

import io
import linecache
import os
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dllint.install_hint import install_command
from dllint.runtime import memory_advice
from dllint.runtime.instruments import ModuleRecord
from dllint.runtime.memory_model import StepMemory, format_size
from dllint.runtime.overfit import sparkline
from dllint.runtime.script import Curve, TraceReport
from dllint.types import Diagnostic, RelatedLocation

# A static rule and the runtime check that observes the same bug.
CONFIRMS = {"DL002": "RT003", "DL006": "RT002", "DL004": "RT007", "DL005": "RT005",
            "DL003": "RT004", "DL101": "RT009", "DL107": "RT008", "DL301": "RT008",
            "DL105": "RT013", "DL104": "RT016"}


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


# The module table's default view: modules down to the deepest depth in the module tree, at
# most this one, whose table fits in MAX_MODULE_ROWS rows (a model itself is depth 0, its
# attributes depth 1, theirs depth 2); the modules below a row of that depth are folded into
# its `+N`. `dllint trace --depth N|all` chooses another view.
DEFAULT_DEPTH = 3
# The default view shows at most this many rows (the JSON report has every module).
MAX_MODULE_ROWS = 50
# How the memory line names where its peaks come from (`PhasePeaks.source`).
PEAK_SOURCES = {"allocator": "measured by the CUDA allocator",
                "live": "live tensor bytes", "tracked": "estimated from tracked tensors"}
# "Where the memory goes": the modules listed by the activation memory they save.
TOP_MEMORY_MODULES = 3
# Gradient norms: beyond this many parameters the text report shows the first and the last half
# (the layers next to the input and next to the loss, where vanishing and exploding show first).
MAX_GRADIENT_ROWS = 40
# Losses quoted per optimizer before the line says how many more there are.
SHOWN_LOSSES = 6
# Module names are shortened (in the middle) to fit the terminal, but never below this width.
MIN_NAME_WIDTH = 16
# The input and output columns give way first when the table is too wide, down to this width.
MIN_SHAPE_WIDTH = 14
# Class names longer than this are cut (the name column says where the module is).
MAX_TYPE_WIDTH = 16
# Short dtype names: the column must stay, so it must stay narrow.
SHORT_DTYPES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16", "float64": "f64",
                "int64": "i64", "int32": "i32", "int8": "i8", "uint8": "u8",
                "complex64": "c64", "float8_e4m3fn": "f8e4m3", "float8_e5m2": "f8e5m2"}


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
    # Modules in the subtree below this one.
    descendants: int = 0


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
        node.descendants = sum(1 + child.descendants for child in node.children)
        record = node.record
        node.signature = (record.kind, record.inputs, record.outputs, record.dtype,
                          record.training, record.device, record.parameters, record.trainable,
                          tuple(child.signature for child in node.children))

    for root in roots:
        settle(root)
    roots.sort(key=lambda root: root.first_seen)
    return roots


def module_rows(records: Sequence[ModuleRecord]) -> list[tuple[ModuleRecord, int]]:
    """Every recorded module with its depth in the module tree (a model is 0), parents before
    their children and siblings in call order: the order of the text table and of the JSON
    report."""
    ordered: list[tuple[ModuleRecord, int]] = []

    def walk(nodes: list[_ModuleNode], depth: int) -> None:
        for node in nodes:
            ordered.append((node.record, depth))
            walk(node.children, depth + 1)

    walk(_module_tree(records), 0)
    return ordered


@dataclass(frozen=True)
class TableRow:
    """A row of the text module table: one module, or `count` consecutive numbered siblings
    with the same structure (`blocks.0–2`, the record of the first standing for all); `folded`
    modules below it are not shown (they lie deeper than the table's depth)."""
    name: str
    count: int
    record: ModuleRecord
    folded: int = 0

    @property
    def parameters(self) -> int:
        return self.count * self.record.parameters

    @property
    def trainable(self) -> int:
        return self.count * self.record.trainable

    @property
    def parameter_bytes(self) -> int:
        return self.count * self.record.parameter_bytes


def _numbered(name: str) -> tuple[str, int] | None:
    """`stages.0.blocks.2` -> (`stages.0.blocks`, 2): an item of a ModuleList or Sequential."""
    prefix, _, last = name.rpartition(".")
    return (prefix, int(last)) if prefix and last.isdigit() else None


def folded_rows(records: Sequence[ModuleRecord], depth: int | None = None) -> list[TableRow]:
    """The module table with repeated blocks folded: consecutive numbered siblings whose whole
    subtrees have the same structure become one row, and their children are not listed. With a
    `depth`, the modules below that depth are folded into their container's row (None: all)."""
    rows: list[TableRow] = []

    def fold(nodes: list[_ModuleNode], level: int) -> None:
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
            elif depth is not None and level >= depth:
                rows.append(TableRow(node.record.name, 1, node.record, node.descendants))
            else:
                rows.append(TableRow(node.record.name, 1, node.record))
                fold(node.children, level + 1)
            index += run

    fold(_module_tree(records), 0)
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


def shorten_text(text: str, width: int) -> str:
    """`text` in at most `width` characters, its middle replaced by `…`: a shape list keeps its
    first and its last shapes, a name its first and last characters."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    return text[:width - 1 - tail] + "…" + text[len(text) - tail:]


def _elisions(parts: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every way to keep a head (maybe none) and a tail (at least the last part) of a dotted
    name's parts, dropping at least one part between them."""
    return [(tuple(parts[:head]), tuple(parts[len(parts) - tail:]))
            for head in range(0, len(parts) - 1) for tail in range(1, len(parts) - head)]


def shorten_names(names: Sequence[str], width: int) -> dict[str, str]:
    """Each name in at most `width` characters, shortened in the middle (`unet…resnets.0.norm1`)
    so that its last parts (the layer) and, where they fit, its first parts (the model) stay.
    Of the ways to shorten a name, the one keeping most parts that no other name in `names`
    could also be shortened to is chosen, so that rows stay told apart
    (`unet.down_blocks.0…norm1`, `unet.down_blocks.1…norm1`)."""
    split = {name: name.split(".") for name in names}
    shared = Counter(elision for parts in split.values() for elision in set(_elisions(parts)))
    shortened: dict[str, str] = {}
    for name, parts in split.items():
        if len(name) <= width:
            shortened[name] = name
            continue
        # A tail of a bare number (`…1`) does not say what the module is: one part more does.
        fitting = [(shared[(head, tail)] == 1, len(tail) > 1 or not tail[0][:1].isdigit(),
                    len(head) + len(tail), len(tail), head, tail)
                   for head, tail in _elisions(parts)
                   if len(".".join(head)) + 1 + len(".".join(tail)) <= width]
        if fitting:
            *_, head, tail = max(fitting)
            shortened[name] = ".".join(head) + "…" + ".".join(tail)
        else:  # even `…last_part` is too long: its end is kept
            shortened[name] = shorten_left(name, width)
    # Where no whole parts both fit and tell two rows apart, a cut inside the parts may
    # (`model.encod…l_layer_norm`, `model.decod…l_layer_norm`).
    uses = Counter(shortened.values())
    for name, short in shortened.items():
        if uses[short] > 1:
            shortened[name] = shorten_text(name, width)
    return shortened


def human_count(count: int) -> str:
    """A parameter count as torchinfo and Lightning print it: 950, 12.3k, 4.5M, 1.2B."""
    for unit, size in (("B", 10 ** 9), ("M", 10 ** 6), ("k", 10 ** 3)):
        if count >= size:
            value = count / size
            return f"{value:.3g}{unit}" if value < 1000 else f"{value:.0f}{unit}"
    return str(count)


def human_bytes(size: int) -> str:
    """Bytes as every part of the trace report writes them (`memory_model.format_size`)."""
    return format_size(size)


def _shapes(shapes: str) -> str:
    """A recorded shape list as the table shows it, compact: `(2,7,16)`, `None`, and one
    positional input without its brackets."""
    shapes = re.sub(r"(\d), (?=\d)", r"\1,", shapes).replace("NoneType", "None")
    if shapes.startswith("[(") and shapes.endswith(")]") and "), " not in shapes:
        return shapes[1:-1]
    return shapes


def _column_widths(natural: dict[str, int], room: int) -> dict[str, int]:
    """Widths of the name, input and output columns in `room` characters: the shapes give way
    first (down to MIN_SHAPE_WIDTH, the longer one first), then the names (to MIN_NAME_WIDTH)."""
    shapes = max(room - natural["module"], 2 * MIN_SHAPE_WIDTH)
    if natural["input"] + natural["output"] <= shapes:
        inputs, outputs = natural["input"], natural["output"]
    else:
        inputs = min(natural["input"], max(shapes // 2, shapes - natural["output"]))
        outputs = min(natural["output"], shapes - inputs)
    name = min(natural["module"], max(MIN_NAME_WIDTH, room - inputs - outputs))
    widths = {"module": name, "input": inputs, "output": outputs}
    # A narrow terminal: below their minimums, shapes keep 6 characters and names 8.
    over = sum(widths.values()) - room
    for column, floor in (("input", 6), ("output", 6), ("module", 8)):
        cut = max(0, min(over, widths[column] - floor))
        widths[column] -= cut
        over -= cut
    return widths


def subtree_memory(memory: StepMemory | None) -> dict[str, int]:
    """Each module's memory in the first step with its children's (parameters, gradients and
    the activations saved for backward), by module name: what a row of the table stands for."""
    totals: dict[str, int] = {}
    if memory is None:
        return totals
    names = {module.name for module in memory.modules}
    for module in memory.modules:
        size = module.parameter_bytes + module.gradient_bytes + module.activation_bytes
        name = module.name
        while True:
            totals[name] = totals.get(name, 0) + size
            name, dot, _ = name.rpartition(".")
            if not dot:
                break
            # Only the prefixes that are modules (a root named `net.model`, say, is one name).
            while name and name not in names:
                name, dot, _ = name.rpartition(".")
            if not name:
                break
    return totals


def _module_table(rows: list[TableRow], width: int,
                  memory: dict[str, int] | None = None) -> Table:
    """The module table in `width` columns. The dtype and mode always show whole (the mode is
    RT007's evidence), and the parameter counts and memory unless the terminal is very narrow;
    the input and output shapes, then the names, are shortened in the middle to make room.
    `memory`: each module's subtree memory (`subtree_memory`); a repeated row counts each
    block."""
    memory = memory or {}
    repeated = any(row.count > 1 for row in rows)
    deep = any(row.folded for row in rows)
    frozen = any(row.trainable != row.parameters for row in rows)
    weighted = any(row.parameters for row in rows)
    # One narrow column for both: `×3` repeated blocks, `+17` modules folded below the row.
    fixed: list[tuple[str, list[str]]] = [
        *([("", [f"×{row.count}" if row.count > 1 else f"+{row.folded}" if row.folded else ""
                 for row in rows])] if repeated or deep else []),
        ("type", [shorten_text(row.record.kind, MAX_TYPE_WIDTH) for row in rows])]
    flexible = {"module": [row.name for row in rows],
                "input": [_shapes(row.record.inputs) for row in rows],
                "output": [_shapes(row.record.outputs) for row in rows]}
    after: list[tuple[str, list[str]]] = [
        ("dtype", [SHORT_DTYPES.get(row.record.dtype, row.record.dtype) for row in rows]),
        ("mode", ["train" if row.record.training else "eval" for row in rows]),
        # Without a parameter anywhere (a test's records), the column would say nothing. Sizes
        # are in the total line (as torchinfo and Lightning print them) and in the JSON report.
        *([("params", [human_count(row.parameters) for row in rows])] if weighted else []),
        *([("trainable", [human_count(row.trainable) for row in rows])] if frozen else []),
        *([("memory", [human_bytes(row.count * memory[row.record.name])
                       if row.record.name in memory else "" for row in rows])]
          if memory else [])]
    # Rich separates columns by two spaces (padding 1 on each side, none at the edges).
    def taken_by(kept: list[tuple[str, list[str]]]) -> int:
        return sum(max(len(header), *map(len, values)) for header, values in [*fixed, *kept]) \
            + 2 * (len(fixed) + len(flexible) + len(kept) - 1)

    # A narrow terminal: the parameter counts (in the total line and the JSON report) give way
    # before the names and shapes would be cut below a few characters.
    if width - taken_by(after) < MIN_NAME_WIDTH + 2 * 6:
        after = [(header, values) for header, values in after
                 if header not in ("params", "trainable", "memory")]
    taken = taken_by(after)
    natural = {header: max(len(header), *map(len, values)) for header, values in flexible.items()}
    widths = _column_widths(natural, width - taken)
    names = shorten_names(flexible["module"], widths["module"])
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("module", no_wrap=True, min_width=widths["module"])
    for header, _ in fixed:
        table.add_column(header, no_wrap=True)
    for header in ("input", "output"):
        table.add_column(header, no_wrap=True, min_width=min(widths[header], natural[header]))
    for header, _ in after:
        table.add_column(header, no_wrap=True,
                         justify="right" if header in ("params", "trainable", "memory")
                         else "left")
    for index, row in enumerate(rows):
        table.add_row(escape(names[row.name]), *(escape(values[index]) for _, values in fixed),
                      *(escape(shorten_text(flexible[header][index], widths[header]))
                        for header in ("input", "output")),
                      *(values[index] for _, values in after))
    return table


def default_depth(records: Sequence[ModuleRecord], row_limit: int = MAX_MODULE_ROWS) -> int:
    """The depth of the default view: the deepest, at most DEFAULT_DEPTH, whose table fits in
    `row_limit` rows (at least 1: each model's own parts)."""
    depth = DEFAULT_DEPTH
    while depth > 1 and len(folded_rows(records, depth)) > row_limit:
        depth -= 1
    return depth


def _render_modules(console: Console, records: Sequence[ModuleRecord], width: int,
                    depth: int | str | None, row_limit: int | None,
                    memory: StepMemory | None = None) -> None:
    """The module table, what it folded, the parameter totals and, for a model seen only from
    outside (torch.compile), why it has no rows inside."""
    if depth == "auto":
        depth = default_depth(records, row_limit or MAX_MODULE_ROWS)
    rows = folded_rows(records, depth)
    if row_limit is not None and len(rows) > row_limit + 1:  # never elide a single row
        shown, hidden = rows[:row_limit], len(rows) - row_limit
    else:
        shown, hidden = rows, 0
    console.print(_module_table(shown, width, subtree_memory(memory)))
    if hidden:
        console.print(f"… {hidden} more rows (--depth all shows them; --format json lists "
                      f"every module)")
    folded = sum(row.folded for row in rows)
    if folded:
        console.print(f"+N: N modules below depth {depth} folded into the row (--depth N "
                      f"expands, --depth all shows all {len(records)} modules)")
    roots = [record for record, level in module_rows(records) if level == 0]
    total = sum(record.parameters for record in roots)
    trainable = sum(record.trainable for record in roots)
    if total:
        console.print(f"parameters: {human_count(total)} total, {human_count(trainable)} "
                      f"trainable, {human_count(total - trainable)} frozen; "
                      f"{human_bytes(sum(record.parameter_bytes for record in roots))}")
    compiled = [record.name for record in roots if record.wrapper == "OptimizedModule"
                and not any(other.name.startswith(record.name + ".") for other in records)]
    if compiled:
        console.print(f"{escape(', '.join(compiled))}: compiled by torch.compile; the modules "
                      f"inside the compiled graph run without dllint's hooks, so only the "
                      f"model's own row is shown (trace without torch.compile for every module)")


def render_memory(console: Console, memory: StepMemory) -> None:
    """Where the first step's memory goes: the totals, the peak and its phase, and the modules
    that save the most for backward, with their share of the modules' activations."""
    source = PEAK_SOURCES.get(memory.peaks.source, memory.peaks.source)
    outside = f" (+{human_bytes(memory.other_activation_bytes)} outside the modules)" \
        if memory.other_activation_bytes else ""
    batch = f", batch {memory.batch_size}" if memory.batch_size is not None else ""
    console.print(f"[bold]memory[/] (first step{batch}): peak {human_bytes(memory.peaks.peak)} "
                  f"in {memory.peaks.phase_of_peak()} ({source})")
    console.print(f"  parameters {human_bytes(memory.parameter_bytes)}, gradients "
                  f"{human_bytes(memory.gradient_bytes)}, optimizer state "
                  f"{human_bytes(memory.optimizer_bytes)}, activations "
                  f"{human_bytes(memory.activation_bytes)}{outside}")
    if memory.activations_partial:
        console.print(f"  activations counted in part: {escape(memory.activations_partial)}")
    points = memory.batch_points
    if len(points) >= 2:
        (small, small_peak), (large, large_peak) = points[0], points[-1]
        per_sample = max(0, large_peak - small_peak) / (large - small)
        console.print(f"  per sample: {human_bytes(int(per_sample))} (forward and backward "
                      f"measured at batch {small} and {large})")
    elif points and memory.per_sample_from:
        note = f": {escape(memory.per_sample_note)}" if memory.per_sample_note else ""
        console.print(f"  per sample: scaled from batch {points[0][0]} alone{note}")
    top = memory.top_activations(TOP_MEMORY_MODULES)
    if top:
        console.print("  most activation memory: " + ", ".join(
            f"{escape(module.name)} ({escape(module.type_name)}) "
            f"{human_bytes(module.activation_bytes)} {share:.0%}" for module, share in top))


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
    if len(names) > room + 1:  # a single hidden row is shown instead of a line saying so
        head, tail = names[:room - room // 2], names[len(names) - room // 2:]
    else:
        head, tail = names, []
    hidden = len(names) - len(head) - len(tail)
    listed = [*head, *tail, *no_gradient]
    # 2 indent, a 10-wide number, a bar of up to 30 and the spaces between.
    name_width = max(16, min(48, max(len(name) for name in listed), width - 44))
    shortened = shorten_names(listed, name_width)

    def show(name: str) -> None:
        norm = norms[name]
        console.print(f"  {escape(shortened[name].ljust(name_width))} "
                      f"{norm:10.3e} [green]{_bar(norm, low, high)}[/]")

    for name in head:
        show(name)
    if hidden:
        console.print(f"  … {hidden} more parameters (see --format json)")
    for name in tail:
        show(name)
    for name in no_gradient:
        console.print(f"  {escape(shortened[name].ljust(name_width))} "
                      f"{'none':>10} [red]no gradient[/]")


def text_console(buffer: io.StringIO, color: bool, width: int) -> Console:
    """The console the trace report is written with. No emoji: rich would read `:100:` in
    `train.py:100:5` as an emoji code."""
    return Console(file=buffer, emoji=False, force_terminal=color, no_color=not color,
                   width=width, highlight=False, soft_wrap=True)


def render_trace(report: TraceReport, color: bool, width: int, heading: str = "",
                 depth: int | str | None = "auto", row_limit: int | None = MAX_MODULE_ROWS) -> str:
    """The traced step as text; `heading` replaces the title and outcome lines (a distributed
    run says them for every rank). The module table goes down to `depth` ("auto": the default
    view, see DEFAULT_DEPTH; None: every module) and stops after `row_limit` rows (None: no
    limit)."""
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
        _render_modules(console, list(seen.modules.values()), width, depth, row_limit,
                        seen.memory)
    if seen.memory is not None and seen.memory.modules:
        render_memory(console, seen.memory)
    if seen.gradient_norms or seen.no_gradient:
        _render_gradient_norms(console, seen.gradient_norms, seen.no_gradient, width)
    if report.initial_loss or report.first_step_changed is not None:
        changed = {True: "the first step changed the weights",
                   False: "the first step changed NO weight", None: ""}[report.first_step_changed]
        console.print("; ".join(part for part in (report.initial_loss, changed) if part))
    for curve in report.curves:
        _render_curve(console, curve, width)
    for line in memory_advice.render(report.memory_judgement):  # RT017: does not fit
        console.print(escape(line))
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
# Gradient-chart tick labels are shortened (in the middle) to this many characters.
PLOT_LABEL_WIDTH = 32
# The gradient chart draws at most this many bars: a bigger model's parameters are grouped per
# block, so that every label stays readable.
MAX_PLOT_BARS = 40
# The gradient panel is never wider than this (inches, at 120 dpi: 1680 pixels).
MAX_PLOT_INCHES = 14.0


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


@dataclass(frozen=True)
class GradientBar:
    """A bar of the gradient chart: one parameter, or a block's parameters together (`members`
    of them), drawn at the norm of their gradients together; `missing` says why no bar (or,
    for a block, how many of its parameters had none)."""
    label: str
    norm: float | None
    missing: str = ""
    members: int = 1


def gradient_bars(norms: dict[str, float], no_gradient: Sequence[str],
                  limit: int = MAX_PLOT_BARS) -> list[GradientBar]:
    """One bar per parameter, or, beyond `limit`, one per block: the parameters are grouped by
    the longest name prefix (in dotted parts) that makes at most `limit` groups, and a group's
    norm is the norm of all its gradients (the root of the sum of their squares)."""
    names = [*norms, *(name for name in no_gradient if name not in norms)]
    missing = {name: "zero" if norms[name] == 0 else f"{norms[name]}"
               for name in norms if not (math.isfinite(norms[name]) and norms[name] > 0)}
    missing.update({name: "no gradient" for name in no_gradient})
    if len(names) <= limit:
        return [GradientBar(name, None if name in missing else norms[name], missing.get(name, ""))
                for name in names]
    split = {name: name.split(".") for name in names}
    longest = max(len(parts) for parts in split.values())
    level = 1
    while level < longest and len({tuple(parts[:level + 1]) for parts in split.values()}) <= limit:
        level += 1
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(".".join(split[name][:level]), []).append(name)
    bars = []
    for prefix, members in groups.items():
        drawn = [norms[name] for name in members if name not in missing]
        norm = math.sqrt(sum(value * value for value in drawn)) if drawn else None
        without = sum(1 for name in members if name in missing)
        reason = ("" if not without else missing[members[0]] if len(members) == 1 else
                  f"{without} of {len(members)} without gradient")
        label = members[0] if len(members) == 1 else f"{prefix}.* ({len(members)})"
        bars.append(GradientBar(label, norm, reason, len(members)))
    return bars


def _gradient_panel(axis, report: TraceReport) -> None:
    """Bars of the first step's gradient norms (log scale), per parameter or, for a big model,
    per block; a parameter with no gradient, or a zero or non-finite one, gets a red cross at
    the bottom of the chart with the reason (a block with some: a red label)."""
    from matplotlib.transforms import blended_transform_factory

    bars = gradient_bars(report.observations.gradient_norms, report.observations.no_gradient)
    drawn = [(index, bar.norm) for index, bar in enumerate(bars) if bar.norm is not None]
    axis.bar([index for index, _ in drawn], [norm for _, norm in drawn], color="tab:blue",
             label="gradient norm")
    axis.set_yscale("log")
    if drawn:
        axis.set_ylim(bottom=min(norm for _, norm in drawn) / 10)
    else:
        axis.set_ylim(1e-3, 1.0)
    crossed = [index for index, bar in enumerate(bars) if bar.norm is None]
    if crossed:
        # x in data coordinates, y in axes coordinates: the bottom of the chart, whatever scale.
        bottom = blended_transform_factory(axis.transData, axis.transAxes)
        axis.scatter(crossed, [0.03] * len(crossed), transform=bottom, marker="x",
                     color="tab:red", zorder=3, clip_on=False, label="no gradient")
        for index in crossed:
            axis.text(index, 0.07, bars[index].missing, transform=bottom, rotation=90,
                      ha="center", va="bottom", fontsize=7, color="tab:red")
        axis.legend(fontsize=7)
    labels = shorten_names([bar.label for bar in bars], PLOT_LABEL_WIDTH)
    axis.set_xticks(range(len(bars)), [labels[bar.label] for bar in bars], rotation=60,
                    ha="right", fontsize=8)
    # The crosses do not take part in autoscaling: every bar gets its slot.
    axis.set_xlim(-0.6, len(bars) - 0.4)
    for label, bar in zip(axis.get_xticklabels(), bars):
        if bar.missing:
            label.set_color("tab:red")
    grouped = any(bar.members > 1 for bar in bars)
    axis.set_ylabel("gradient norm (first step" + (", per block)" if grouped else ")"))
    axis.set_title(f"gradient flow: {report.script.rsplit('/', 1)[-1]}")


def gradient_figure(report: TraceReport):
    """The matplotlib figure of plot_gradients (matplotlib must be importable)."""
    import matplotlib.pyplot as plt

    bars = len(gradient_bars(report.observations.gradient_norms,
                             report.observations.no_gradient))
    curves = [curve for curve in report.curves if len(curve.values) > 1]
    panels = 2 if curves else 1
    # Wide enough to read a label per bar, but never a poster: a big model's parameters are
    # grouped per block (at most MAX_PLOT_BARS bars).
    width = min(MAX_PLOT_INCHES, max(6.0, bars * 0.35)) + 5 * (panels - 1)
    figure, axes = plt.subplots(1, panels, figsize=(width, 5), squeeze=False)
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
