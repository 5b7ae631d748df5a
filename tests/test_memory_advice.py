"""RT017's pure computations (dllint/runtime/memory_advice.py) on hand-built StepMemory values:
the verdict against a budget or an out-of-memory error, the largest batch that fits, the
blocks to checkpoint, and the changes ranked by the bytes each saves."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import jsonschema
import pytest

from dllint.runtime.memory_advice import (
    JSON_SCHEMA, OutOfMemory, accumulation_steps, blocks, changes, fixed_bytes, format_size,
    is_out_of_memory, judge, largest_batch_size, message, render, requested_bytes, to_json)
from dllint.runtime.memory_model import ModuleMemory, PhasePeaks, StepMemory

KiB = 1024


def transformer(batch_size: int | None = 32, peak: int = 2000, peak_module: str = "",
                adam_state: int = 200) -> StepMemory:
    """Four blocks saving 400 B each (two modules apiece), an embedding and a head; 100 B of
    parameters and gradients; Adam state `adam_state`; forward peak `peak`."""
    modules = [ModuleMemory("model.embed", "Embedding", 40, 40, 0),
               ModuleMemory("model.head", "Linear", 60, 60, 0)]
    for index in range(4):
        modules.append(ModuleMemory(f"model.layers.{index}.attn", "Attention", 0, 0, 300))
        modules.append(ModuleMemory(f"model.layers.{index}.mlp.0", "Linear", 0, 0, 100))
    return StepMemory("cpu", tuple(modules), {"Adam #1": adam_state},
                      PhasePeaks(forward=peak, backward=peak - 100, optimizer=500,
                                 peak_module=peak_module),
                      batch_size=batch_size)


# ---- the verdict --------------------------------------------------------------------------------

def test_a_step_within_its_budget_or_without_one_gets_no_verdict():
    memory = transformer()
    assert judge(memory, None) is None
    assert judge(memory, 2000) is None  # exactly the budget fits
    assert judge(None, 10) is None  # nothing measured, nothing exceeded


def test_a_step_over_its_budget_says_the_phase_and_module_of_its_peak_and_the_breakdown():
    judgement = judge(transformer(peak_module="model.layers.3.attn"), 1200)
    assert judgement.reason == "budget" and judgement.budget == 1200
    assert judgement.peak == 2000 and judgement.phase == "forward"
    assert judgement.module == "model.layers.3.attn"
    assert judgement.breakdown == {"parameters": 100, "gradients": 100, "optimizer_state": 200,
                                   "activations": 1600}
    # The top modules by saved activations, with their share of them.
    assert judgement.top_activations[0] == ("model.layers.0.attn", 300, 300 / 1600)


def test_the_largest_batch_is_scaled_from_the_per_sample_activations():
    # fixed = peak - activations = 400; 1600 B of activations for 32 samples = 50 B a sample.
    judgement = judge(transformer(), 1200)
    assert judgement.largest_batch == (1200 - 400) // 50 == 16
    assert judgement.batch_size == 32
    assert "largest batch that fits is about 16 (now 32)" in message(judgement)


def test_a_budget_below_what_does_not_grow_with_the_batch_fits_no_batch():
    judgement = judge(transformer(), 300)  # fixed part 400
    assert judgement.largest_batch == 0
    assert "not even one sample fits" in message(judgement)
    assert any(line.startswith("  largest batch that fits: none") for line in render(judgement))


def measured(points, optimizer_peak=500, untracked=0) -> StepMemory:
    """`transformer()` as the tracer measures it: the peaks of forward and backward at the
    batch sizes in `points` (bytes, parameters included)."""
    memory = transformer(batch_size=points[-1][0])
    return replace(memory, batch_points=tuple(points),
                   per_sample_from="two batch sizes" if len(points) > 1 else "one batch size",
                   peaks=replace(memory.peaks, optimizer=optimizer_peak, untracked=untracked))


def test_two_measured_batch_sizes_give_the_line_through_them():
    # 16 -> 1100, 32 -> 1900: 50 B a sample over a fixed 300; Adam's 200 B of state is alive
    # in every later forward, so a 1990 B budget holds (1990 - 200 - 300) // 50 = 29 samples.
    judgement = judge(measured([(16, 1100), (32, 1900)]), 1990)
    assert judgement.largest_batch == 29 and judgement.measured_batches == (16, 32)
    assert "  largest batch that fits: about 29 (measured at 16 and 32, the line through " \
           "them)" in render(judgement)
    assert to_json(1990, judgement)["advice"]["measured_batches"] == [16, 32]


def test_one_measured_batch_size_takes_all_above_the_parameters_as_growing():
    # One point (32, 1900): above the 100 B of parameters, all of it grows: (1900 - 100) / 32
    # bytes a sample, the optimizer state added in later steps. What the step took outside
    # tensors (a CPU library's buffers) is the process's, not the model's: not counted.
    memory = measured([(32, 1900)], untracked=50)
    per_sample = (1900 - 100) / 32
    assert judge(memory, 1500).largest_batch == int((1500 - 100 - 200) // per_sample)
    assert judge(memory, 1500).measured_batches == (32,)


def test_an_optimizer_step_over_the_budget_fits_no_batch():
    assert judge(measured([(16, 1100), (32, 1900)], optimizer_peak=2500), 2000
                 ).largest_batch == 0


def test_without_a_batch_size_there_is_no_batch_estimate():
    assert judge(transformer(batch_size=None), 1200).largest_batch is None


def test_an_out_of_memory_error_is_judged_without_a_budget_where_it_was_raised():
    error = OutOfMemory("CUDA out of memory. Tried to allocate 2.00 GiB", "backward",
                        "model.layers.2.attn", 2 * 2 ** 30, ("train.py", 40))
    judgement = judge(transformer(), None, error)
    assert judgement.reason == "out_of_memory" and judgement.budget is None
    assert (judgement.phase, judgement.module) == ("backward", "model.layers.2.attn")
    assert judgement.requested_bytes == 2 * 2 ** 30 and judgement.largest_batch is None
    assert judgement.error.startswith("CUDA out of memory")
    text = message(judgement)
    assert text.startswith("the step ran out of memory in backward of model.layers.2.attn "
                           "allocating 2GiB")


def test_an_out_of_memory_error_with_nothing_measured_still_says_where():
    judgement = judge(None, None, OutOfMemory("DefaultCPUAllocator: can't allocate memory",
                                              "forward", "model.scores"))
    assert judgement.peak == 0 and judgement.advice == []
    assert message(judgement) == "the step ran out of memory in forward of model.scores (0B " \
                                 "tracked before it)"


# ---- the batch size -------------------------------------------------------------------------------

def test_two_measured_batch_sizes_give_the_fixed_part_and_the_per_sample_bytes():
    # peak(b) = 1000 + 30 b: measured at 8 and 16; `fixed` given is ignored for two points.
    assert largest_batch_size(4000, [(8, 1240), (16, 1480)], fixed=0) == 100
    # One point: per sample = (peak - fixed) / batch.
    assert largest_batch_size(4000, [(16, 1480)], fixed=1000) == 100
    assert largest_batch_size(4000, [(16, 1480)], fixed=200) == 47  # (4000-200) / 80


def test_no_per_sample_memory_gives_no_batch_and_no_room_gives_zero():
    assert largest_batch_size(4000, [(16, 1000)], fixed=1000) is None
    assert largest_batch_size(4000, [], fixed=0) is None
    assert largest_batch_size(500, [(16, 1480)], fixed=1000) == 0


def test_the_fixed_part_is_at_least_what_stays_resident():
    memory = transformer(peak=1700)  # peak - activations = 100 < 400 resident
    assert fixed_bytes(memory) == 400


# ---- the changes ----------------------------------------------------------------------------------

def test_blocks_are_the_outermost_numbered_modules_with_everything_under_them():
    assert blocks(transformer().modules) == {f"model.layers.{index}": 400 for index in range(4)}


def test_a_model_without_repeated_blocks_checkpoints_its_direct_children():
    modules = (ModuleMemory("net", "Net", 0, 0, 10), ModuleMemory("net.stem", "Conv2d", 0, 0, 500),
               ModuleMemory("net.body", "Sequential", 0, 0, 0),
               ModuleMemory("net.body.conv", "Conv2d", 0, 0, 300),
               ModuleMemory("net.head", "Linear", 0, 0, 0))
    assert blocks(modules) == {"net.stem": 500, "net.body": 300}


def test_changes_are_ranked_by_the_bytes_each_saves():
    ranked = changes(transformer(), 1200, gradients_held_in_forward=100)
    assert [(advice.change, advice.saved_bytes) for advice in ranked] == [
        # Every block checkpointed: one block's activations are recomputed at a time.
        ("activation checkpointing", 1600 - 400),
        ("bf16 autocast", 800),  # half the float32 activations
        ("gradient accumulation", 800),  # 2 micro-batches of 16 fit: half the activations
        ("optimizer with less state", 150),  # 8-bit AdamW: 3/4 of Adam's state
        ("free gradients before forward", 100),
    ]
    assert "model.layers.0, model.layers.1, model.layers.2, ..." in ranked[0].how
    assert "micro-batches of 16" in ranked[2].how
    assert "set_to_none=True" in ranked[4].how


def test_a_change_that_frees_memory_below_the_peak_phase_ranks_after_one_that_lowers_it():
    # The peak is the optimizer step (parameters, gradients, Adam state): activations are
    # already freed then, so checkpointing them lowers the peak by nothing.
    memory = transformer(peak=1200, adam_state=1000)
    memory = StepMemory("cpu", memory.modules, memory.optimizer_state_bytes,
                        PhasePeaks(forward=1200, backward=1100, optimizer=1500), batch_size=32)
    ranked = changes(memory, 1000)
    assert ranked[0].change == "optimizer with less state"
    assert all(advice.peak_after == 1500 for advice in ranked[1:])
    by_change = {advice.change: advice for advice in ranked}
    assert by_change["optimizer with less state"].peak_after == 1500 - 750
    assert by_change["activation checkpointing"].peak_after == 1500  # unchanged
    assert by_change["activation checkpointing"].saved_bytes == 1200  # but frees that much
    assert "(peak 750B)" in render(judge(memory, 1000))[-len(ranked)]


def test_without_phase_peaks_the_changes_rank_by_the_bytes_they_free():
    memory = StepMemory("cpu", transformer().modules, {"Adam #1": 200}, batch_size=32)
    ranked = changes(memory)
    assert all(advice.peak_after is None for advice in ranked)
    assert [advice.saved_bytes for advice in ranked] == sorted(
        (advice.saved_bytes for advice in ranked), reverse=True)


def test_accumulation_takes_the_fewest_micro_batches_that_fit_the_budget():
    memory = transformer()  # fixed 400, 50 B a sample, batch 32
    assert accumulation_steps(memory, 1200, 400) == 2  # 16 a micro-batch: 1200
    assert accumulation_steps(memory, 1000, 400) == 4  # 8: 800
    assert accumulation_steps(memory, 420, 400) == 32  # not even one sample: one at a time
    assert accumulation_steps(memory, None, 400) == 2


def test_without_a_batch_size_accumulation_halves_the_activations():
    [accumulation] = [a for a in changes(transformer(batch_size=None), 1200)
                      if a.change == "gradient accumulation"]
    assert accumulation.saved_bytes == 800
    assert accumulation.how.startswith("run 2 micro-batches (each 1/2 of the batch)")


def test_autocast_halves_only_the_float32_activations_when_they_are_known():
    [autocast] = [a for a in changes(transformer(), float32_activation_bytes=600)
                  if a.change == "bf16 autocast"]
    assert autocast.saved_bytes == 300


def test_an_optimizer_without_two_moments_and_gradients_freed_before_forward_get_no_advice():
    memory = StepMemory("cpu", transformer().modules, {"SGD #1": 100}, PhasePeaks(forward=10))
    named = {advice.change for advice in changes(memory, gradients_held_in_forward=0)}
    assert "optimizer with less state" not in named
    assert "free gradients before forward" not in named


def test_a_step_without_saved_activations_gets_only_the_changes_that_apply():
    memory = StepMemory("cpu", (ModuleMemory("m", "Linear", 1000, 1000, 0),),
                        {"AdamW #1": 2000}, PhasePeaks(optimizer=4000), batch_size=8)
    assert [advice.change for advice in changes(memory, 100)] == ["optimizer with less state"]


# ---- recognizing an out-of-memory error -------------------------------------------------------------

class OutOfMemoryError(RuntimeError):
    """Stands for torch.OutOfMemoryError (read by class name: no torch import)."""


@pytest.mark.parametrize("error, expected", [
    (OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't "
                  "allocate memory: you tried to allocate 4611686018427387904 bytes."), True),
    (RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8 bytes."), True),
    (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), False),
    (ValueError("DefaultCPUAllocator: can't allocate memory"), False),
])
def test_out_of_memory_errors_are_recognized(error, expected):
    assert is_out_of_memory(error) is expected


def test_the_failed_allocation_is_read_from_the_allocators_message():
    assert requested_bytes("you tried to allocate 4611686018427387904 bytes. Error") == 2 ** 62
    assert requested_bytes("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0") == \
        20 * 2 ** 20
    assert requested_bytes("out of memory") is None


# ---- rendering ------------------------------------------------------------------------------------

def test_sizes_are_written_in_binary_units():
    assert [format_size(size) for size in (12, 1536, 5 * 2 ** 20, 2 ** 62)] == [
        "12B", "1.5KiB", "5MiB", "4EiB"]


def test_the_report_section_gives_breakdown_batch_and_ranked_changes():
    lines = render(judge(transformer(), 1200, gradients_held_in_forward=100))
    assert lines[0] == "Memory budget 1.17KiB: does not fit: peak 1.95KiB in forward"
    assert lines[1] == "  up to then: parameters 100B, gradients 100B, optimizer state " \
                       "200B, activations 1.56KiB"
    assert "  largest batch that fits: about 16 (measured at 32, scaled by per-sample " \
           "memory)" in lines
    numbered = [line for line in lines if line[2:4] in ("1.", "2.", "3.", "4.", "5.")]
    assert [line.split(":")[0].strip() for line in numbered] == [
        "1. activation checkpointing", "2. bf16 autocast", "3. gradient accumulation",
        "4. optimizer with less state", "5. free gradients before forward"]
    assert render(None) == []


def test_the_json_part_validates_and_keeps_the_ranking():
    schema = {"type": "object", "required": ["budget", "advice"], "properties": JSON_SCHEMA}
    data = to_json(1200, judge(transformer(), 1200))
    jsonschema.validate(data, schema)
    assert json.loads(json.dumps(data)) == data
    saved = [change["saved_bytes"] for change in data["advice"]["changes"]]
    assert saved == sorted(saved, reverse=True) and data["advice"]["largest_batch"] == 16
    fits = to_json(4000, judge(transformer(), 4000))
    jsonschema.validate(fits, schema)
    assert fits == {"budget": 4000, "advice": None}


def test_the_advice_module_imports_no_torch():
    code = ("import sys, dllint.runtime.memory_advice, dllint.runtime.memory_model; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_the_budget_is_judged_on_the_step_that_carries_the_optimizer_state():
    """The first step's forward runs before Adam has state; every later forward carries it."""
    from dllint.runtime.memory_advice import judge
    from dllint.runtime.memory_model import ModuleMemory, PhasePeaks, StepMemory
    memory = StepMemory("cpu", (ModuleMemory("net", "Linear", 100, 100, 500),),
                        {"Adam #1": 200}, PhasePeaks(forward=600, backward=700, optimizer=400),
                        batch_size=4)
    assert judge(memory, 750) is not None  # 100 parameters + 200 state + 500 activations
    assert judge(memory, 800) is None
