"""RT009: gradients not zeroed between optimizer steps."""

from __future__ import annotations

import math

import torch

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, StepEvent
from dllint.runtime.tracing import norms, user_location


@register
class Accumulating(Check):
    code = codes.ACCUMULATING
    events = frozenset({"on_backward", "on_step", "on_step_done"})

    def __init__(self, context) -> None:
        super().__init__(context)
        # Parameters an optimizer stepped whose gradient has not been seen cleared at any
        # backward since (id -> parameter), with the norms and places seen.
        self.stale: dict[int, torch.Tensor] = {}
        self.stale_norms: dict[int, float] = {}
        self.stale_location: dict[int, tuple[str, int]] = {}

    def on_backward(self, tensor: torch.Tensor) -> None:
        if self.stale:
            self.refresh_stale()

    def refresh_stale(self) -> None:
        """A parameter seen without gradient at a backward is fresh again (zero_grad or
        grad = None ran); one still holding last step's gradient stays stale. Gradients that are
        None cost nothing to check; the others are read back together."""
        holding = []
        for key, parameter in list(self.stale.items()):
            if parameter.grad is None:
                del self.stale[key]
                self.stale_norms.pop(key, None)
            else:
                holding.append((key, parameter.grad))
        for (key, _), norm in zip(holding, norms([grad for _, grad in holding])):
            if not norm > 0:
                del self.stale[key]
                self.stale_norms.pop(key, None)
            elif key not in self.stale_norms:
                self.stale_norms[key] = norm
                self.stale_location.setdefault(key, user_location())

    def on_step(self, step: StepEvent) -> None:
        if step.count < 1:
            return
        own = [p for group in step.optimizer.param_groups for p in group["params"]]
        stale = [id(p) for p in own if id(p) in self.stale_norms]
        if stale:
            norm = math.sqrt(sum(self.stale_norms[key] ** 2 for key in stale))
            self.context.find(self.code, "gradients from the previous step were never cleared "
                                         "before this step's backward: call "
                                         "`optimizer.zero_grad()` every step",
                              {"gradient_norm_before_backward": norm, "step": step.count + 1},
                              self.stale_location.get(stale[0]),
                              subject=self.context.optimizer_names.get(id(step.optimizer), ""))

    def on_step_done(self, step: StepEvent) -> None:
        for group in step.optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    self.stale[id(parameter)] = parameter
                    self.stale_norms.pop(id(parameter), None)
                    self.stale_location.pop(id(parameter), None)
