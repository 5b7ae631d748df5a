"""RT007: dropout or batch norm in eval mode during a training step, or in training mode
during inference under no_grad."""

from __future__ import annotations

import torch
from torch import nn

from dllint.runtime import codes
from dllint.runtime.checks import register
from dllint.runtime.dispatch import Check, ModuleCall, StepEvent
from dllint.runtime.tracing import MODE_DEPENDENT, user_location


@register
class Mode(Check):
    code = codes.MODE
    events = frozenset({"on_forward", "on_backward", "on_step_done"})

    def __init__(self, context) -> None:
        super().__init__(context)
        # The mode-dependent layers of this step's forward with gradients: (layer, training,
        # where); judged at the first backward, which shows that the step trains.
        self.step_forward_modes: list[tuple[nn.Module, bool, tuple[str, int]]] = []

    def on_forward(self, call: ModuleCall) -> None:
        module, context = call.module, self.context
        if not isinstance(module, MODE_DEPENDENT) or not (context.full_checks or (
                module.training and not torch.is_grad_enabled())):
            return
        where = user_location()
        if torch.is_grad_enabled():
            self.step_forward_modes.append((module, module.training, where))
        elif module.training:
            name = context.name_of(module)
            context.find(self.code, f"`{name}` ({type(module).__name__}) is in training mode "
                                    "during inference under no_grad: call `model.eval()` first",
                         {"module": name, "mode": "train", "grad_enabled": False}, where,
                         subject=context.model_of(module))

    def on_backward(self, tensor: torch.Tensor) -> None:
        context = self.context
        if context.seen.backward_calls != 1:
            return
        for module, training, where in self.step_forward_modes:
            if not training:
                name = context.name_of(module)
                context.find(self.code, f"`{name}` ({type(module).__name__}) is in eval mode "
                                        "during a training step: call `model.train()`",
                             {"module": name, "mode": "eval"}, where,
                             subject=context.model_of(module))

    def on_step_done(self, step: StepEvent) -> None:
        self.step_forward_modes = []
