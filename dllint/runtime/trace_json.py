"""`dllint trace --format json`: the whole trace report as one JSON object, schema `dllint-trace/2`.

`SCHEMA` below is its JSON Schema; README.md ("Runtime: `dllint trace`") describes each field.
A change that removes or retypes a field bumps the version; new fields may be added within one.
The output is strict JSON: a non-finite number (an exploding loss, an infinite gradient norm) is
written as the string "NaN", "Infinity" or "-Infinity", which `float()` reads back.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, Sequence

from dllint.runtime import memory_advice
from dllint.serialize import diagnostic_to_dict
from dllint.types import Diagnostic

if TYPE_CHECKING:  # SCHEMA is importable without torch; a report exists only with it
    from dllint.runtime.memory_model import StepMemory
    from dllint.runtime.script import Curve, TraceReport

# 2: the `memory` object (issue 27) joined the required fields.
SCHEMA_VERSION = "dllint-trace/2"

_REAL = {"oneOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
_MODULE = {
    "type": "object",
    "required": ["name", "type", "input", "output", "dtype", "training", "device", "depth",
                 "parameters", "trainable_parameters", "parameter_bytes"],
    "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "input": {"type": "string"},
        "output": {"type": "string"}, "dtype": {"type": "string"},
        "training": {"type": "boolean"}, "device": {"type": "string"},
        # In the module tree: a model is 0, its attributes 1 (`dllint trace --depth`).
        "depth": {"type": "integer", "minimum": 0},
        # Of the module and its children, a shared parameter counted once.
        "parameters": {"type": "integer", "minimum": 0},
        "trainable_parameters": {"type": "integer", "minimum": 0},
        "parameter_bytes": {"type": "integer", "minimum": 0},
    },
}
_VERDICT = {
    "type": "object",
    "required": ["kind", "start", "end", "lowest", "steps", "next_step"],
    "properties": {
        "kind": {"enum": ["passes", "rising", "exploding", "oscillating", "descending",
                          "plateau"]},
        "start": _REAL, "end": _REAL, "lowest": _REAL, "steps": {"type": "integer"},
        "next_step": {"type": "string"},
    },
}
_LOSS = {
    "type": "object",
    "required": ["optimizer", "models", "values", "verdict"],
    "properties": {
        "optimizer": {"type": "string"},
        "models": {"type": "array", "items": {"type": "string"}},
        "values": {"type": "array", "items": _REAL},
        "verdict": {"oneOf": [{"type": "null"}, _VERDICT]},
    },
}
_INITIAL_LOSS = {
    "type": "object",
    "required": ["value", "chance_label", "chance"],
    "properties": {
        "value": _REAL,
        "chance_label": {"type": ["string", "null"]},
        "chance": {"oneOf": [{"type": "null"}, _REAL]},
    },
}
_BYTES = {"type": "integer", "minimum": 0}
# What the first training step's memory is made of (`memory_model.StepMemory`); null when no
# model was called with gradients. Sizes in bytes.
_MEMORY = {
    "type": "object",
    "required": ["device", "measured", "batch_size", "parameter_bytes", "gradient_bytes",
                 "optimizer_bytes", "activation_bytes", "other_activation_bytes", "peaks",
                 "peak_phase", "peak_source", "untracked_bytes", "batch_points",
                 "per_sample_from", "per_sample_note", "activations_partial", "modules",
                 "optimizers", "budget", "advice"],
    "properties": {
        # --memory-budget in bytes, and the RT017 verdict (memory_advice.py): null when the
        # step fits the budget (or none was given) and did not run out of memory.
        **memory_advice.JSON_SCHEMA,
        "device": {"type": "string"},
        # Peaks from the allocator (CUDA) rather than the tracked sums (elsewhere).
        "measured": {"type": "boolean"},
        "batch_size": {"type": ["integer", "null"], "minimum": 0},
        "parameter_bytes": _BYTES, "gradient_bytes": _BYTES, "optimizer_bytes": _BYTES,
        "activation_bytes": _BYTES,
        # Saved for backward outside every module of the models (the loss, the script's ops).
        "other_activation_bytes": _BYTES,
        "peaks": {"type": "object", "required": ["forward", "backward", "optimizer"],
                  "properties": {"forward": _BYTES, "backward": _BYTES, "optimizer": _BYTES}},
        "peak_phase": {"enum": ["forward", "backward", "optimizer"]},
        # Where the peaks come from: the CUDA allocator, the live tensor bytes counted at the
        # dispatcher (CPU), or the tracked sums (a compiled model on CPU).
        "peak_source": {"enum": ["allocator", "live", "tracked"]},
        # In the peaks: what the step took from the C allocator outside tensors (CPU, glibc).
        "untracked_bytes": _BYTES,
        # [batch size, peak of forward and backward] as measured: the step's, and half of it
        # replayed in isolation when the script allows it.
        "batch_points": {"type": "array", "items": {
            "type": "array", "items": _BYTES, "minItems": 2, "maxItems": 2}},
        "per_sample_from": {"enum": ["two batch sizes", "one batch size", ""]},
        "per_sample_note": {"type": "string"},
        # Why the saved activations are only partly counted ("" when all are): the script's
        # own saved_tensors_hooks, or activation checkpointing recomputing in backward.
        "activations_partial": {"type": "string"},
        # Every module of the models, each with its own figures (not its children's).
        "modules": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "type", "parameter_bytes", "gradient_bytes", "activation_bytes"],
            "properties": {"name": {"type": "string"}, "type": {"type": "string"},
                           "parameter_bytes": _BYTES, "gradient_bytes": _BYTES,
                           "activation_bytes": _BYTES}}},
        # Optimizer name ("Adam #1") to the bytes of its state after its first step.
        "optimizers": {"type": "object", "additionalProperties": _BYTES},
    },
}
# Present only for a distributed run (`--nproc N`, or inside torchrun); the other fields then
# describe the lowest rank that reported, and `diagnostics` every rank's findings.
_DISTRIBUTED = {
    "type": "object",
    "required": ["world_size", "backend", "ranks", "failures", "positions", "differences"],
    "properties": {
        "world_size": {"type": "integer", "minimum": 2},
        "backend": {"type": "string"},
        "ranks": {"type": "array", "items": {"type": "object", "required": [
            "rank", "pid", "outcome", "detail", "steps", "device", "first_losses",
            "hooks_restored", "user_traceback"]}},
        "failures": {"type": "object", "additionalProperties": {"type": "string"}},
        "positions": {"type": "object", "additionalProperties": {"type": "string"}},
        "differences": {"type": "array", "items": {"type": "string"}},
        # Values in the job's store that failed their seal or their schema, and were not used.
        "refused": {"type": "array", "items": {"type": "string"}},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_VERSION,
    "title": "dllint trace report",
    "type": "object",
    "required": ["schema", "script", "outcome", "detail", "complete", "incomplete_reason",
                 "device", "steps", "script_exit_code", "modules", "losses", "gradient_norms",
                 "no_gradient", "zero_gradient", "initial_loss", "weights_changed", "user_traceback",
                 "instrument_errors", "diagnostics", "memory"],
    "properties": {
        "schema": {"const": SCHEMA_VERSION},
        "script": {"type": "string"},
        # "ended": a rank of a distributed run that was ended because another rank hung or
        # failed; "failed": no rank of a distributed run reported at all.
        "outcome": {"enum": ["stopped", "finished", "exited", "raised", "timeout",
                             "interrupted", "ended", "failed"]},
        "detail": {"type": "string"},
        "complete": {"type": "boolean"},
        "incomplete_reason": {"type": "string"},
        "device": {"type": "string"},
        "steps": {"type": "integer", "minimum": 0},
        "script_exit_code": {"type": ["integer", "null"]},
        "modules": {"type": "array", "items": _MODULE},
        "losses": {"type": "array", "items": _LOSS},
        "gradient_norms": {"type": "object", "additionalProperties": _REAL},
        "no_gradient": {"type": "array", "items": {"type": "string"}},
        "zero_gradient": {"type": "array", "items": {"type": "string"}},
        "initial_loss": {"oneOf": [{"type": "null"}, _INITIAL_LOSS]},
        "weights_changed": {"type": ["boolean", "null"]},
        "user_traceback": {"type": "string"},
        "instrument_errors": {"type": "array", "items": {"type": "string"}},
        # The objects `dllint check --format json` writes, one per finding.
        "diagnostics": {"type": "array", "items": {"type": "object", "required": [
            "code", "name", "message", "severity", "path", "line", "column", "end_line",
            "end_column", "related", "fix", "evidence"]}},
        "distributed": _DISTRIBUTED,
        "memory": {"oneOf": [{"type": "null"}, _MEMORY]},
    },
}


def _strict(value: Any) -> Any:
    """`value` with every non-finite float written as the string JSON parsers accept."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value


def _loss(curve: Curve) -> dict[str, Any]:
    verdict = curve.verdict
    return {
        "optimizer": curve.optimizer,
        "models": list(curve.models),
        "values": [float(value) for value in curve.values],
        "verdict": None if verdict is None else {
            "kind": verdict.kind, "start": verdict.start, "end": verdict.end,
            "lowest": verdict.lowest, "steps": verdict.steps, "next_step": verdict.next_step},
    }


def _initial_loss(report: TraceReport) -> dict[str, Any] | None:
    if report.initial_loss_value is None:
        return None
    label, chance = report.chance if report.chance is not None else (None, None)
    return {"value": float(report.initial_loss_value), "chance_label": label,
            "chance": None if chance is None else float(chance)}


def memory_to_dict(memory: StepMemory | None, report: TraceReport) -> dict[str, Any] | None:
    if memory is None:
        return None
    peaks = memory.peaks
    return memory_budget_json(report) | {
        "device": memory.device, "measured": peaks.measured, "batch_size": memory.batch_size,
        "parameter_bytes": memory.parameter_bytes, "gradient_bytes": memory.gradient_bytes,
        "optimizer_bytes": memory.optimizer_bytes, "activation_bytes": memory.activation_bytes,
        "other_activation_bytes": memory.other_activation_bytes,
        "peaks": {"forward": peaks.forward, "backward": peaks.backward,
                  "optimizer": peaks.optimizer},
        "peak_phase": peaks.phase_of_peak(), "peak_source": peaks.source,
        "untracked_bytes": peaks.untracked,
        "batch_points": [[size, peak] for size, peak in memory.batch_points],
        "per_sample_from": memory.per_sample_from, "per_sample_note": memory.per_sample_note,
        "activations_partial": memory.activations_partial,
        "modules": [{"name": module.name, "type": module.type_name,
                     "parameter_bytes": module.parameter_bytes,
                     "gradient_bytes": module.gradient_bytes,
                     "activation_bytes": module.activation_bytes} for module in memory.modules],
        "optimizers": dict(memory.optimizer_state_bytes),
    }


def trace_to_dict(report: TraceReport, diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    """The whole report; `diagnostics` are the findings to list (static and runtime merged)."""
    from dllint.runtime.report import module_rows

    seen = report.observations
    incomplete = report.incomplete
    return _strict({
        "schema": SCHEMA_VERSION,
        "script": report.script,
        "outcome": report.outcome,
        "detail": report.detail,
        "complete": not incomplete,
        "incomplete_reason": incomplete,
        "device": report.device,
        "steps": report.steps,
        "script_exit_code": report.exit_code,
        "modules": [{"name": record.name, "type": record.kind, "input": record.inputs,
                     "output": record.outputs, "dtype": record.dtype,
                     "training": record.training, "device": record.device, "depth": depth,
                     "parameters": record.parameters,
                     "trainable_parameters": record.trainable,
                     "parameter_bytes": record.parameter_bytes}
                    for record, depth in module_rows(list(seen.modules.values()))],
        "losses": [_loss(curve) for curve in report.curves],
        "gradient_norms": {name: float(norm) for name, norm in seen.gradient_norms.items()},
        "no_gradient": list(seen.no_gradient),
        "zero_gradient": list(seen.zero_gradient),
        "initial_loss": _initial_loss(report),
        "weights_changed": report.first_step_changed,
        "user_traceback": report.user_traceback,
        "instrument_errors": list(report.instrument_errors),
        "diagnostics": [diagnostic_to_dict(diagnostic) for diagnostic in diagnostics],
        "memory": memory_to_dict(seen.memory, report),
    })


def memory_budget_json(report: TraceReport) -> dict[str, Any]:
    """`memory.budget` and `memory.advice`: the --memory-budget and the RT017 verdict."""
    return memory_advice.to_json(report.memory_budget, report.memory_judgement)


def render_json(report: TraceReport, diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps(trace_to_dict(report, diagnostics), indent=2, allow_nan=False) + "\n"
