"""RT001: the first operation whose output is inf or NaN, when the step's loss is non-finite.

Module outputs, the model's inputs and the backpropagated loss are summed into one device scalar
each ("flags": non-finite iff the tensor was) and read back together once per step; the risky
functions (log, exp, division, ...) and the loss function are checked as they run while the
one-off checks are on. A non-finite value is reported only when the step's loss is non-finite
too, and then the first one of the step is named as the cause: a value that never reaches the
loss is no bug (T5 takes log(0) of relative positions and discards it with `torch.where`;
logits masked with -inf keep a finite cross-entropy). Non-finite gradients under a finite loss
are found by RT006's gradient read, which reports them as RT001.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
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
        self.flag_values: list[torch.Tensor | None] = []
        self.flag_owners: list[tuple[str, str, str, tuple[str, int], dict]] = []

    def flag(self, value: torch.Tensor | None, what: str, name: str, where: tuple[str, int],
             kind: str = "", evidence: dict | None = None) -> None:
        """`value` is a device scalar, non-finite iff what it sums was; None when the value is
        known to be non-finite already (a risky operation's or a loss function's output)."""
        self.flag_values.append(value)
        self.flag_owners.append((what, name, kind, where, evidence or {}))

    def on_forward(self, call: ModuleCall) -> None:
        context = self.context
        if call.root and not context.seen_non_finite and \
                not isinstance(call.module, nn.modules.loss._Loss):
            inputs = float_tensors([*call.args, *call.kwargs.values()])
            if inputs:  # flagged before the modules inside run, so it comes first
                self.flag(finite_flag(inputs), CauseKind.INPUT, context.name_of(call.module),
                          context.root_location)

    def on_forward_output(self, call: ModuleCall, output) -> None:
        context = self.context
        if not context.seen_non_finite:
            outputs = float_tensors([output])
            if outputs:
                where = user_location() if context.full_checks else context.root_location
                self.flag(finite_flag(outputs), CauseKind.MODULE, context.name_of(call.module),
                          where, type(call.module).__name__)

    def on_torch_call(self, call: TorchCall) -> None:
        if self.context.seen_non_finite:
            return
        outputs = float_tensors([call.result])
        if not outputs or all(is_finite(t) for t in outputs):
            return
        inputs = float_tensors(list(call.args) + list(call.kwargs.values()))
        if all(is_finite(t) for t in inputs):
            name = getattr(call.func, "__name__", str(call.func))
            self.known(CauseKind.OPERATION, name, user_location(),
                       {"op": name, "input_ranges": [value_range(t) for t in inputs][:3]})

    def on_loss(self, call: LossCall) -> None:
        if isinstance(call.result, torch.Tensor) and not self.context.seen_non_finite and \
                not is_finite(call.result.detach()):
            self.known(CauseKind.LOSS, call.name, user_location(),
                       {"loss": str(call.value), "input_range": value_range(call.prediction)})

    def known(self, kind: str, name: str, where: tuple[str, int], evidence: dict) -> None:
        """A value already known to be non-finite, in its place among the step's flags."""
        self.flag(None, kind, name, where, evidence=evidence)

    def on_backward(self, tensor: torch.Tensor) -> None:
        if tensor.numel() == 1 and not self.context.seen_non_finite and \
                tensor.is_floating_point():
            self.flag(tensor.detach(), CauseKind.BACKWARD, "loss", user_location())

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
        """One host read for every flag of the step. When the step's loss is non-finite, the
        first non-finite value of the step is reported as its cause; otherwise nothing."""
        values, owners = self.flag_values, self.flag_owners
        self.flag_values, self.flag_owners = [], []
        context = self.context
        if not values or context.seen_non_finite:
            return
        on_device = [value for value in values if value is not None]
        numbers = iter(read_all(on_device))
        finite = [math.isfinite(next(numbers)) if value is not None else False
                  for value in values]
        losses = [index for index, owner in enumerate(owners)
                  if owner[0] in (CauseKind.BACKWARD, CauseKind.LOSS) and not finite[index]]
        if not losses:
            return  # whatever went non-finite did not reach the loss
        first_bad = finite.index(False)
        what, name, kind, where, evidence = owners[first_bad]
        loss_where = owners[losses[0]][3]
        context.seen_non_finite = True
        step = context.seen.steps + 1
        if what == CauseKind.INPUT:
            message = f"the input of `{name}` already holds inf/NaN (step {step}): check the data"
        elif what == CauseKind.MODULE:
            message = (f"`{name}` ({kind}) produced inf/NaN from finite inputs" if step == 1 else
                       f"`{name}` ({kind}) produced the first inf/NaN output of step {step}")
        elif what == CauseKind.OPERATION:
            message = (f"`{name}` produced inf/NaN from finite inputs (the first non-finite "
                       "value of the step, and the loss became non-finite): add an epsilon or "
                       "clamp")
        elif what == CauseKind.LOSS:
            message = f"the loss `{name}` is {evidence.get('loss', 'non-finite')}"
        else:
            message = f"the loss became inf/NaN at step {step}"
        if what in (CauseKind.INPUT, CauseKind.MODULE):
            message += ", and the loss became non-finite"
        related = ((loss_where[0], loss_where[1], "the non-finite loss"),) \
            if loss_where != where else ()
        context.find(self.code, message, {"module": name, "step": step, **evidence}, where,
                     related=related)


class CauseKind:
    """What a flag of the step stands for."""
    INPUT = "input"            # the model's input
    MODULE = "module"          # a module's output
    OPERATION = "operation"    # a risky function's output (log, exp, division, ...)
    LOSS = "loss function"     # a loss function's output
    BACKWARD = "backward"      # the value backpropagated
