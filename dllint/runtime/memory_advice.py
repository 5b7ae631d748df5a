"""When a training step does not fit (issue 27, RT017): the verdict against `--memory-budget`
or a real out-of-memory error, and the changes that would make the step fit, ranked by the
bytes each saves.

Pure computations on a `StepMemory` (memory_model.py): no torch import, so everything here is
tested with hand-built values. The tracer hands its `StepMemory` to `judge`
(`checks/rt017_does_not_fit.py`); the text report renders `render`, the JSON report `to_json`.

The largest batch that fits comes from the peaks of forward and backward the tracer measured
(`StepMemory.batch_points`): at two batch sizes (the step's, and half of it replayed in
isolation) the line through them gives the per-sample bytes and the part that does not grow;
at one, everything above the parameters is taken to grow with the batch. A `StepMemory`
without measured points (built by hand, or the fallback's) is scaled from its one batch size:
the memory that does not depend on the batch (`fixed`: the peak less the saved activations, at
least parameters + gradients + optimizer state) plus `activation_bytes / batch_size` per
sample.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from dllint.runtime.memory_model import (  # noqa: F401 - format_size re-exported
    PHASES, ModuleMemory, StepMemory, format_size)

# Optimizers that keep two state tensors per parameter (first and second moments).
TWO_MOMENT_OPTIMIZERS = ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "SparseAdam", "LAMB",
                         "Lamb", "FusedAdam")
# 8-bit Adam keeps both moments in one byte each instead of four: 3/4 of the state saved.
EIGHT_BIT_SAVING = 0.75
# bf16 autocast keeps float32 activations in two bytes instead of four.
AUTOCAST_SAVING = 0.5


@dataclass(frozen=True)
class OutOfMemory:
    """A real out-of-memory error of the traced step: where it was raised (the user's line), in
    which phase and innermost module, and the allocation that failed when the message says."""
    message: str
    phase: str = ""  # "forward", "backward", "optimizer", or "" when not known
    module: str = ""  # the innermost module whose forward was running, "" when not known
    requested_bytes: int | None = None
    where: tuple[str, int] | None = None


@dataclass(frozen=True)
class Advice:
    """One change that saves memory: what, the bytes it frees, how, and the step's peak with
    this change alone (None when the phase peaks were not measured)."""
    change: str
    saved_bytes: int
    how: str
    peak_after: int | None = None


# The phases whose memory each change lowers: saved activations are alive in forward and
# backward only (freed before the optimizer step); optimizer state in every phase of the steps
# after the first; gradients kept as zeros only until backward writes them.
_PHASES_LOWERED = {"activation checkpointing": ("forward", "backward"),
                   "bf16 autocast": ("forward", "backward"),
                   "gradient accumulation": ("forward", "backward"),
                   "optimizer with less state": PHASES,
                   "free gradients before forward": ("forward",)}


@dataclass(frozen=True)
class Judgement:
    """A step that does not fit: under the budget (`reason` "budget") or out of memory."""
    reason: str  # "budget" or "out_of_memory"
    budget: int | None
    peak: int
    phase: str
    module: str
    breakdown: dict[str, int]
    top_activations: list[tuple[str, int, float]]
    batch_size: int | None
    largest_batch: int | None
    requested_bytes: int | None = None
    advice: list[Advice] = field(default_factory=list)
    error: str = ""
    # The batch sizes the largest batch was estimated from: two (the line through them) or
    # one (scaled from it).
    measured_batches: tuple[int, ...] = ()


# ---- recognizing an out-of-memory error -------------------------------------------------------

_CPU_ALLOCATOR = ("DefaultCPUAllocator: can't allocate memory", "DefaultCPUAllocator: not enough "
                  "memory", "not enough memory: you tried to allocate")
_CPU_REQUEST = re.compile(r"you tried to allocate (\d+) bytes")
_CUDA_REQUEST = re.compile(r"Tried to allocate (\d+(?:\.\d+)?) (B|KiB|MiB|GiB|TiB)")
_UNIT_BYTES = {"B": 1, "KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30, "TiB": 2 ** 40}


def is_out_of_memory(error: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA, and other devices' allocators), or the CPU allocator's
    RuntimeError. Read by class name and message so that this module needs no torch."""
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(error).__mro__):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(marker in text for marker in _CPU_ALLOCATOR)


def requested_bytes(message: str) -> int | None:
    """The size of the allocation that failed, when the allocator's message says it."""
    match = _CPU_REQUEST.search(message)
    if match:
        return int(match.group(1))
    match = _CUDA_REQUEST.search(message)
    if match:
        return int(float(match.group(1)) * _UNIT_BYTES[match.group(2)])
    return None


# ---- the batch size that fits -----------------------------------------------------------------

def largest_batch_size(budget: int, points: list[tuple[int, int]], fixed: int) -> int | None:
    """The largest batch whose peak stays within `budget`. `points` are (batch size, peak
    bytes) measurements: with two different batch sizes the line through them gives the
    per-sample bytes and the fixed part (`fixed` is then ignored); with one, the per-sample
    bytes are (peak - fixed) / batch. None when nothing grows with the batch (no per-sample
    memory was measured); 0 when even one sample does not fit."""
    distinct = sorted(dict(points).items())
    if len(distinct) >= 2:
        (small, small_peak), (large, large_peak) = distinct[0], distinct[-1]
        per_sample = (large_peak - small_peak) / (large - small)
        fixed = small_peak - per_sample * small
    elif distinct:
        batch, peak = distinct[0]
        per_sample = (peak - fixed) / batch if batch > 0 else 0.0
    else:
        return None
    if per_sample <= 0:
        return None
    return max(0, math.floor((budget - fixed) / per_sample))


# ---- activation checkpointing: which blocks ---------------------------------------------------

def blocks(modules: tuple[ModuleMemory, ...]) -> dict[str, int]:
    """Activation bytes by block: a block is an element of a repeated container (a name whose
    last part is a number: `model.layers.3`, `encoder.layer.11`), holding everything under it.
    A model without repeated blocks gets its direct children (`model.conv1`) as blocks."""
    numbered: dict[str, int] = {}
    for module in modules:
        parts = module.name.split(".")
        # The outermost numbered part: `layers.3.mlp.0` belongs to the block `layers.3`.
        index = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        if index is not None:
            block = ".".join(parts[:index + 1])
            numbered[block] = numbered.get(block, 0) + module.activation_bytes
    if len(numbered) >= 2:
        return {name: size for name, size in numbered.items() if size > 0}
    children: dict[str, int] = {}
    for module in modules:
        parts = module.name.split(".")
        if len(parts) >= 2:
            child = ".".join(parts[:2])
            children[child] = children.get(child, 0) + module.activation_bytes
    return {name: size for name, size in children.items() if size > 0}


# ---- the changes ------------------------------------------------------------------------------

def _checkpointing(memory: StepMemory) -> Advice | None:
    by_block = blocks(memory.modules)
    if len(by_block) < 2:
        return None
    ranked = sorted(by_block.items(), key=lambda item: (-item[1], item[0]))
    # Checkpointed blocks keep only their inputs; backward recomputes one block at a time, so
    # the largest block's activations are still alive once.
    saved = sum(by_block.values()) - ranked[0][1]
    if saved <= 0:
        return None
    named = ", ".join(name for name, _ in ranked[:3]) + (", ..." if len(ranked) > 3 else "")
    return Advice("activation checkpointing", saved,
                  f"wrap each of the {len(ranked)} blocks ({named}) in "
                  f"torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False); "
                  f"costs one more forward of them in backward")


def _autocast(memory: StepMemory, float32_activation_bytes: int | None) -> Advice | None:
    float32 = memory.activation_bytes if float32_activation_bytes is None else \
        float32_activation_bytes
    saved = int(float32 * AUTOCAST_SAVING)
    if saved <= 0:
        return None
    return Advice("bf16 autocast", saved,
                  "run forward and loss under torch.autocast(device_type, dtype=torch.bfloat16): "
                  "float32 activations are saved in half the bytes")


def _lighter_optimizer(memory: StepMemory) -> Advice | None:
    adam_like = {name: size for name, size in memory.optimizer_state_bytes.items()
                 if name.split(" #")[0] in TWO_MOMENT_OPTIMIZERS and size > 0}
    if not adam_like:
        return None
    state = sum(adam_like.values())
    names = ", ".join(sorted(adam_like))
    return Advice("optimizer with less state", int(state * EIGHT_BIT_SAVING),
                  f"{names} keeps two moments per parameter ({format_size(state)}): 8-bit AdamW "
                  f"(bitsandbytes.optim.AdamW8bit) saves 3/4 of it, Adafactor nearly all, SGD "
                  f"with momentum half")


def accumulation_steps(memory: StepMemory, budget: int | None, fixed: int) -> int:
    """The fewest micro-batches per step (a divisor of the batch size) whose activations fit
    the budget; 2 without a budget, a batch size or room for one sample."""
    batch = memory.batch_size
    if budget is None or not batch or batch < 2 or memory.activation_bytes <= 0:
        return 2
    per_sample = memory.activation_bytes / batch
    for steps in range(2, batch + 1):
        if batch % steps == 0 and fixed + per_sample * (batch // steps) <= budget:
            return steps
    return batch


def _accumulation(memory: StepMemory, budget: int | None, fixed: int) -> Advice | None:
    if memory.activation_bytes <= 0 or (memory.batch_size is not None and memory.batch_size < 2):
        return None
    steps = accumulation_steps(memory, budget, fixed)
    saved = int(memory.activation_bytes * (1 - 1 / steps))
    batch = memory.batch_size
    micro = f"micro-batches of {batch // steps}" if batch else \
        f"micro-batches (each 1/{steps} of the batch)"
    return Advice("gradient accumulation", saved,
                  f"run {steps} {micro}, calling backward on loss / {steps} for each and "
                  f"optimizer.step() once: the effective batch stays the same")


def _set_to_none(memory: StepMemory, gradients_held_in_forward: int | None) -> Advice | None:
    # Gradients kept as zeros through forward (zero_grad(set_to_none=False)) add to the forward
    # peak; freed, they are allocated again only in backward.
    held = gradients_held_in_forward or 0
    if held <= 0:
        return None
    return Advice("free gradients before forward", held,
                  "optimizer.zero_grad(set_to_none=True) (the default since torch 2.0) instead of "
                  "zeroing them in place: the gradients are freed until backward")


def changes(memory: StepMemory, budget: int | None = None, *,
            float32_activation_bytes: int | None = None,
            gradients_held_in_forward: int | None = None) -> list[Advice]:
    """Every change that would save memory for this step, ranked by how much it lowers the
    step's peak (a change that frees memory only in a phase below the peak lowers it by
    nothing), then by the bytes it frees."""
    fixed = fixed_bytes(memory)
    found = [_checkpointing(memory), _autocast(memory, float32_activation_bytes),
             _lighter_optimizer(memory), _accumulation(memory, budget, fixed),
             _set_to_none(memory, gradients_held_in_forward)]
    peak = memory.peaks.peak
    ranked = []
    for advice in found:
        if advice is None:
            continue
        if peak > 0:
            lowered = _PHASES_LOWERED[advice.change]
            after = max(max(0, getattr(memory.peaks, phase) -
                            (advice.saved_bytes if phase in lowered else 0))
                        for phase in PHASES)
            advice = Advice(advice.change, advice.saved_bytes, advice.how, after)
        ranked.append(advice)
    return sorted(ranked, key=lambda advice: (
        -(peak - advice.peak_after) if advice.peak_after is not None else 0,
        -advice.saved_bytes, advice.change))


def measured_largest_batch(memory: StepMemory, budget: int) -> int | None:
    """The largest batch that fits from the peaks of forward and backward the tracer measured
    (`StepMemory.batch_points`): at two batch sizes, the line through them; at one, everything
    above the parameters (and what the step allocated outside tensors) grows with the batch.
    The optimizer's state, made by the first step, is alive in every later forward and
    backward, so it is added to both; an optimizer step over the budget fits no batch."""
    if memory.peaks.optimizer > budget:
        return 0
    steady = memory.optimizer_bytes
    points = [(size, peak + steady) for size, peak in memory.batch_points]
    fixed = memory.parameter_bytes + steady
    return largest_batch_size(budget, points, fixed)


def fixed_bytes(memory: StepMemory) -> int:
    """What the step needs whatever its batch size: the peak less the saved activations, and
    at least the parameters, gradients and optimizer state."""
    resident = memory.parameter_bytes + memory.gradient_bytes + memory.optimizer_bytes
    return max(resident, memory.peaks.peak - memory.activation_bytes)


def steady_forward_bytes(memory: StepMemory, gradients_held_in_forward: int | None = None
                         ) -> int:
    """The forward's peak from the second step on: the first step's forward runs before the
    optimizer has any state, every later one carries it (and the gradients, when the script
    zeroes them instead of freeing them), so a step that fitted once can fail on the next."""
    return (memory.parameter_bytes + memory.optimizer_bytes + memory.activation_bytes
            + (gradients_held_in_forward or 0))


def breakdown(memory: StepMemory) -> dict[str, int]:
    return {"parameters": memory.parameter_bytes, "gradients": memory.gradient_bytes,
            "optimizer_state": memory.optimizer_bytes, "activations": memory.activation_bytes}


def judge(memory: StepMemory | None, budget: int | None, out_of_memory: OutOfMemory | None = None,
          *, float32_activation_bytes: int | None = None,
          gradients_held_in_forward: int | None = None) -> Judgement | None:
    """The verdict on one traced step: None when it fits the budget (or no budget was given)
    and it did not run out of memory. `memory` is what was measured up to the end of the step
    or up to the error (None: nothing was measured)."""
    memory = memory or StepMemory(device="")
    peak = max(memory.peaks.peak, steady_forward_bytes(memory, gradients_held_in_forward))
    if out_of_memory is None and (budget is None or peak <= budget):
        return None
    resident = memory.parameter_bytes + memory.gradient_bytes + memory.optimizer_bytes
    peak = max(peak, resident + memory.activation_bytes) if out_of_memory else peak
    largest = None
    if budget is not None and memory.batch_size:
        largest = measured_largest_batch(memory, budget) if memory.batch_points else \
            largest_batch_size(budget, [(memory.batch_size, max(peak, resident))],
                               fixed_bytes(memory))
    if out_of_memory is not None:
        phase, module = out_of_memory.phase, out_of_memory.module
    else:
        phase, module = memory.peaks.phase_of_peak(), memory.peaks.peak_module
    return Judgement(
        "out_of_memory" if out_of_memory else "budget", budget, peak, phase, module,
        breakdown(memory),
        [(entry.name, entry.activation_bytes, share) for entry, share in
         memory.top_activations(3)],
        memory.batch_size, largest,
        out_of_memory.requested_bytes if out_of_memory else None,
        changes(memory, budget, float32_activation_bytes=float32_activation_bytes,
                gradients_held_in_forward=gradients_held_in_forward),
        out_of_memory.message if out_of_memory else "",
        tuple(size for size, _ in memory.batch_points) if memory.batch_points else
        ((memory.batch_size,) if memory.batch_size else ()))


# ---- rendering --------------------------------------------------------------------------------

def _place(judgement: Judgement) -> str:
    where = f"in {judgement.phase}" if judgement.phase else "in the step"
    return where + (f" of {judgement.module}" if judgement.module else "")


def message(judgement: Judgement) -> str:
    """The RT017 finding's message: what did not fit, where, and the best change."""
    if judgement.reason == "out_of_memory":
        text = f"the step ran out of memory {_place(judgement)}"
        if judgement.requested_bytes is not None:
            text += f" allocating {format_size(judgement.requested_bytes)}"
        text += f" ({format_size(judgement.peak)} tracked before it)"
    else:
        text = (f"the step's peak of {format_size(judgement.peak)} {_place(judgement)} exceeds "
                f"the {format_size(judgement.budget or 0)} budget")
    if judgement.largest_batch == 0:
        text += "; not even one sample fits: what does not grow with the batch is over it"
    elif judgement.largest_batch is not None:
        text += (f"; the largest batch that fits is about {judgement.largest_batch} "
                 f"(now {judgement.batch_size})")
    if judgement.advice:
        best = judgement.advice[0]
        text += f"; best change: {best.change} (saves {format_size(best.saved_bytes)})"
    return text


def render(judgement: Judgement | None) -> list[str]:
    """The text report's "does not fit" section: breakdown, batch size, ranked changes."""
    if judgement is None:
        return []
    title = "Out of memory" if judgement.reason == "out_of_memory" else \
        f"Memory budget {format_size(judgement.budget or 0)}: does not fit"
    lines = [f"{title}: peak {format_size(judgement.peak)} {_place(judgement)}"]
    parts = ", ".join(f"{name.replace('_', ' ')} {format_size(size)}"
                      for name, size in judgement.breakdown.items() if size > 0)
    if parts:
        lines.append(f"  up to then: {parts}")
    for name, size, share in judgement.top_activations:
        lines.append(f"  activations of {name}: {format_size(size)} ({share:.0%})")
    if judgement.largest_batch == 0:
        lines.append(f"  largest batch that fits: none; what does not grow with the batch "
                     f"(parameters, gradients, optimizer state) is over the budget (measured "
                     f"at {judgement.batch_size})")
    elif judgement.largest_batch is not None:
        sizes = judgement.measured_batches
        how = (f"measured at {sizes[0]} and {sizes[-1]}, the line through them"
               if len(sizes) >= 2 else
               f"measured at {judgement.batch_size}, scaled by per-sample memory")
        lines.append(f"  largest batch that fits: about {judgement.largest_batch} ({how})")
    for rank, advice in enumerate(judgement.advice, 1):
        after = "" if advice.peak_after is None else \
            f" (peak {format_size(advice.peak_after)})"
        lines.append(f"  {rank}. {advice.change}: saves {format_size(advice.saved_bytes)}"
                     f"{after}: {advice.how}")
    return lines


# The JSON report's `memory.budget` and `memory.advice` (trace_json.py adds them to `memory`).
JSON_SCHEMA = {
    "budget": {"type": ["integer", "null"], "minimum": 1},
    "advice": {"oneOf": [{"type": "null"}, {
        "type": "object",
        "required": ["reason", "peak", "phase", "module", "breakdown", "top_activations",
                     "batch_size", "largest_batch", "measured_batches", "requested_bytes",
                     "changes", "error"],
        "properties": {
            "reason": {"enum": ["budget", "out_of_memory"]},
            "peak": {"type": "integer", "minimum": 0},
            "phase": {"type": "string"}, "module": {"type": "string"},
            "breakdown": {"type": "object", "additionalProperties": {"type": "integer"}},
            "top_activations": {"type": "array", "items": {
                "type": "object", "required": ["module", "bytes", "share"]}},
            "batch_size": {"type": ["integer", "null"]},
            "largest_batch": {"type": ["integer", "null"]},
            # The batch sizes it was estimated from: two (a line) or one (scaled).
            "measured_batches": {"type": "array", "items": {"type": "integer"}},
            "requested_bytes": {"type": ["integer", "null"]},
            "changes": {"type": "array", "items": {
                "type": "object", "required": ["change", "saved_bytes", "how", "peak_after"],
                "properties": {"change": {"type": "string"},
                               "saved_bytes": {"type": "integer", "minimum": 0},
                               "how": {"type": "string"},
                               "peak_after": {"type": ["integer", "null"]}}}},
            "error": {"type": "string"},
        },
    }]},
}


def to_json(budget: int | None, judgement: Judgement | None) -> dict:
    """`{"budget": ..., "advice": ...}` for the JSON report's `memory` object."""
    if judgement is None:
        return {"budget": budget, "advice": None}
    return {"budget": budget, "advice": {
        "reason": judgement.reason, "peak": judgement.peak, "phase": judgement.phase,
        "module": judgement.module, "breakdown": dict(judgement.breakdown),
        "top_activations": [{"module": name, "bytes": size, "share": share}
                            for name, size, share in judgement.top_activations],
        "batch_size": judgement.batch_size, "largest_batch": judgement.largest_batch,
        "measured_batches": list(judgement.measured_batches),
        "requested_bytes": judgement.requested_bytes,
        "changes": [{"change": a.change, "saved_bytes": a.saved_bytes, "how": a.how,
                     "peak_after": a.peak_after} for a in judgement.advice],
        "error": judgement.error}}
