"""RT001: the first operation whose output is inf or NaN.

Module outputs, the model's inputs and the backpropagated loss are summed into one device scalar
each ("flags": non-finite iff the tensor was) and read back together once per step; the risky
functions (log, exp, division, ...) and the loss are checked as they run while the one-off
checks are on. The non-finite gradients of the first step are found by RT006's gradient read.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dllint.runtime import codes
from dllint.runtime.checks import register
from dllint.runtime.dispatch import Check, LossCall, ModuleCall, StepEvent, TorchCall
from dllint.runtime.tracing import (RISKY, finite_flag, float_tensors, is_finite, read_all,
                                    user_location, value_range)


@register
class NonFinite(Check):
    code = codes.NON_FINITE
    events = frozenset({"on_forward", "on_forward_output", "on_torch_call", "on_loss",
                        "on_backward", "on_step", "on_step_done", "on_stop", "on_end"})
    torch_functions = RISKY

    def __init__(self, context) -> None:
        super().__init__(context)
        # Finiteness flags of this step, on the device, with who made each:
        # (what, name, module type, where).
        self.flag_values: list[torch.Tensor] = []
        self.flag_owners: list[tuple[str, str, str, tuple[str, int]]] = []

    def flag(self, value: torch.Tensor, what: str, name: str, where: tuple[str, int],
             kind: str = "") -> None:
        self.flag_values.append(value)
        self.flag_owners.append((what, name, kind, where))

    def on_forward(self, call: ModuleCall) -> None:
        context = self.context
        if call.root and not context.seen_non_finite and \
                not isinstance(call.module, nn.modules.loss._Loss):
            inputs = float_tensors([*call.args, *call.kwargs.values()])
            if inputs:  # flagged before the modules inside run, so it comes first
                self.flag(finite_flag(inputs), "input", context.name_of(call.module),
                          context.root_location)

    def on_forward_output(self, call: ModuleCall, output) -> None:
        context = self.context
        if not context.seen_non_finite:
            outputs = float_tensors([output])
            if outputs:
                where = user_location() if context.full_checks else context.root_location
                self.flag(finite_flag(outputs), "module", context.name_of(call.module), where,
                          type(call.module).__name__)

    def on_torch_call(self, call: TorchCall) -> None:
        if self.context.seen_non_finite:
            return
        outputs = float_tensors([call.result])
        if not outputs or all(is_finite(t) for t in outputs):
            return
        inputs = float_tensors(list(call.args) + list(call.kwargs.values()))
        if all(is_finite(t) for t in inputs):
            self.context.seen_non_finite = True
            name = getattr(call.func, "__name__", str(call.func))
            self.context.find(self.code, f"`{name}` produced inf/NaN from finite inputs (first "
                                         "non-finite value of the step); add an epsilon or clamp",
                              {"op": name, "input_ranges": [value_range(t) for t in inputs][:3]})

    def on_loss(self, call: LossCall) -> None:
        if isinstance(call.result, torch.Tensor) and not is_finite(call.result.detach()) and \
                not self.context.seen_non_finite:
            self.context.seen_non_finite = True
            self.context.find(self.code, f"the loss `{call.name}` is {call.value}",
                              {"loss": str(call.value),
                               "input_range": value_range(call.prediction)})

    def on_backward(self, tensor: torch.Tensor) -> None:
        if tensor.numel() == 1 and not self.context.seen_non_finite and \
                tensor.is_floating_point():
            self.flag(tensor.detach(), "loss", "loss", user_location())

    def on_step(self, step: StepEvent) -> None:
        self.read_flags()

    def on_step_done(self, step: StepEvent) -> None:
        if step.closure is not None:
            self.read_flags()

    def on_stop(self) -> None:
        self.read_flags()

    def on_end(self) -> None:
        self.read_flags()

    def read_flags(self) -> None:
        """One host read for every flag of the step; the first non-finite one is reported."""
        values, owners = self.flag_values, self.flag_owners
        self.flag_values, self.flag_owners = [], []
        context = self.context
        if not values or context.seen_non_finite:
            return
        first_bad = next((index for index, number in enumerate(read_all(values))
                          if not math.isfinite(number)), None)
        if first_bad is None:
            return
        what, name, kind, where = owners[first_bad]
        context.seen_non_finite = True
        step = context.seen.steps + 1
        if what == "input":
            message = f"the input of `{name}` already holds inf/NaN (step {step}): check the data"
        elif what == "module":
            message = (f"`{name}` ({kind}) produced inf/NaN from finite inputs" if step == 1 else
                       f"`{name}` ({kind}) produced the first inf/NaN output of step {step}")
        else:
            message = f"the loss became inf/NaN at step {step}"
        context.find(self.code, message, {"module": name, "step": step}, where)
