"""The Python API for tests: trace a model's training step without a script.

    report = trace_step(model, (inputs, targets), nn.CrossEntropyLoss(), optimizer)
    assert report.codes == []
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from dllint.runtime.checks.rt017_does_not_fit import DoesNotFit, fallback_step_memory
from dllint.runtime.instruments import Instruments, StopTracing
from dllint.runtime.process_state import ANOMALY_DETECTION, GRAD_MODE, ProcessState
from dllint.runtime.script import TraceReport, check_steps


def trace_step(model: nn.Module, batch: tuple | None = None, loss_fn: Callable | None = None,
               optimizer: torch.optim.Optimizer | None = None, *,
               step_fn: Callable[[], object] | None = None, steps: int = 1,
               memory_budget: int | None = None) -> TraceReport:
    """Run `steps` training steps under the instruments and report what they saw.

    Either give `batch` (inputs, targets), `loss_fn` and optionally `optimizer` (default: SGD,
    lr 1e-3), and the usual zero_grad / forward / loss / backward / step runs; or give `step_fn`,
    a function doing one step of your own. Exceptions from the step propagate, with every hook
    removed, and grad mode and anomaly detection as they were before the call (the step function
    may turn them off, and dllint's stop can cut it before it turns them back on). `steps` below
    1 is refused (ValueError): it would check nothing. `memory_budget` (bytes) judges the step's
    peak against it (RT017, `report.memory_judgement`).
    """
    check_steps(steps, "trace_step")
    if step_fn is None:
        if batch is None or loss_fn is None:
            raise TypeError("trace_step needs batch and loss_fn, or step_fn")
        inputs, targets = batch
        optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=1e-3)

        def step_fn() -> None:
            model.train()
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()

    instruments = Instruments(steps=steps)
    outcome, detail = "finished", f"ran {steps + 1} step function call(s)"
    switches = ProcessState((GRAD_MODE, ANOMALY_DETECTION))
    try:
        with instruments:
            try:
                for _ in range(steps + 1):  # the extra call is stopped at its optimizer step
                    step_fn()
            except StopTracing:
                outcome, detail = "stopped", f"stopped after {steps} optimizer step(s)"
    finally:
        switches.restore()
    instruments.finish()
    # As in script._report: the step's StepMemory handed to the RT017 verdict.
    seen = instruments.seen
    step_memory = seen.memory or fallback_step_memory(instruments.context)
    judgement = instruments.check(DoesNotFit).judge(step_memory, memory_budget, None)
    if judgement is not None and seen.memory is None:
        seen.memory = step_memory
    return TraceReport("<api>", outcome, detail, seen.device or "cpu", seen.steps, seen,
                       instrument_errors=instruments.errors,
                       first_step_changed=instruments.first_step_changed,
                       memory_budget=memory_budget, memory_judgement=judgement)
