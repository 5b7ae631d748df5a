"""RT006: parameters without gradients, all-zero, vanishing or exploding gradients, and an
optimizer step that changed no weight.

Gradient flow is judged over every step run, not the first alone: a zero-initialized residual
branch gets zero gradients on step one only. The first step's gradient norms are read here,
so a non-finite one is reported here too, as RT001 (the first non-finite value).
"""

from __future__ import annotations

import math

import torch

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, StepEvent
from dllint.runtime.tracing import fingerprints, norms, user_location
from dllint.types import Severity


@register
class GradientFlow(Check):
    code = codes.GRADIENT_FLOW
    events = frozenset({"on_step_limit", "on_step", "on_step_done", "on_end"})

    def __init__(self, context) -> None:
        super().__init__(context)
        # Parameters without gradient (or with an all-zero one) so far, by id: (name, parameter).
        self.pending_no_gradient: dict[int, tuple[str, torch.Tensor]] = {}
        self.pending_zero_gradient: dict[int, tuple[str, torch.Tensor]] = {}
        self.gradient_location: tuple[str, int] | None = None
        self.weights_before: dict[int, tuple[float, float]] = {}
        # By optimizer id: whether a step changed a weight yet, the steps judged, those with
        # every learning rate 0, where the first one ran, the last learning rates.
        self.update_judged: dict[int, dict] = {}
        self.extended_for_lr = False
        self.first_step_changed: bool | None = None

    def on_step_limit(self, step: StepEvent) -> None:
        if step.closure is None:
            self.recheck_gradients(step.optimizer)  # this last backward's gradients
        elif self.pending_for(step.optimizer) and not self.context.extended_for_closure:
            # The gradients to judge by appear only inside a step: allow one more.
            self.context.extended_for_closure = True
            self.context.max_steps += 1
        judged = self.update_judged.get(id(step.optimizer))
        if judged and judged["steps"] == judged["zero_lr_steps"] and not self.extended_for_lr:
            # Every step so far ran at a learning rate of 0: a warm-up from 0 moves the
            # weights one step later, so allow one more before judging.
            self.extended_for_lr = True
            self.context.max_steps += 1

    def on_step(self, step: StepEvent) -> None:
        if step.count == 0:
            if step.closure is None:
                self.check_gradients(step.optimizer)
        elif step.closure is None:
            self.recheck_gradients(step.optimizer)
        self.fingerprint_before_step(step)

    def fingerprint_before_step(self, step: StepEvent) -> None:
        """Whether a step changes weights is judged over every step run (a warm-up starts at a
        learning rate of 0), on the groups whose learning rate is not 0; an optimizer is read
        only until one of its steps changed a weight."""
        judged = self.update_judged.setdefault(
            id(step.optimizer), {"changed": False, "steps": 0, "zero_lr_steps": 0,
                                 "where": None, "learning_rates": []})
        if judged["changed"]:
            return
        judged["steps"] += 1
        judged["where"] = judged["where"] or user_location()
        learning_rates = [float(group.get("lr", 0.0)) for group in step.optimizer.param_groups]
        judged["learning_rates"] = learning_rates
        parameters = [p for group, lr in zip(step.optimizer.param_groups, learning_rates)
                      if lr != 0 for p in group["params"]]
        if not parameters:
            judged["zero_lr_steps"] += 1
        self.weights_before = dict(zip((id(p) for p in parameters), fingerprints(parameters)))

    def on_step_done(self, step: StepEvent) -> None:
        if step.closure is not None:
            if step.count == 0:
                self.check_gradients(step.optimizer)
            else:
                self.recheck_gradients(step.optimizer)
        judged = self.update_judged.get(id(step.optimizer))
        if judged is None or judged["changed"]:
            return
        before, self.weights_before = self.weights_before, {}
        parameters = [p for group in step.optimizer.param_groups for p in group["params"]
                      if id(p) in before]
        changed = any(after != before[id(p)]
                      for p, after in zip(parameters, fingerprints(parameters)))
        judged["changed"] = changed
        if step.count == 0 and self.first_step_changed is None:
            self.first_step_changed = changed

    def check_gradients(self, optimizer) -> None:
        """The first step's gradients: their norms (read back at once), and candidates for "no
        gradient" / "all-zero gradient", which are judged over every step run (see `on_end`)."""
        context = self.context
        optimizer_ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        stepping_now = {key: value for key, value in context.model_parameters().items()
                        if key in optimizer_ids}
        if self.gradient_location is None:
            self.gradient_location = user_location()
        with_gradient = []
        for key, (name, parameter) in stepping_now.items():
            if not parameter.requires_grad:
                continue
            if parameter.grad is None:
                context.seen.no_gradient.append(name)
                self.pending_no_gradient[key] = (name, parameter)
            else:
                with_gradient.append((key, name, parameter))
        gradient_norms = norms([parameter.grad for _, _, parameter in with_gradient])
        for (key, name, parameter), norm in zip(with_gradient, gradient_norms):
            context.seen.gradient_norms[name] = norm
            if not math.isfinite(norm) and not context.seen_non_finite:
                context.seen_non_finite = True
                context.find(codes.NON_FINITE, f"gradient of `{name}` is {norm}",
                             {"parameter": name})
            elif norm == 0 and parameter.dim() > 1:
                # Biases are left out: a bias feeding batch norm gets no gradient, rightly.
                self.pending_zero_gradient[key] = (name, parameter)
        weights = {name for name, parameter in stepping_now.values() if parameter.dim() > 1}
        finite = {n: v for n, v in context.seen.gradient_norms.items()
                  if math.isfinite(v) and v > 0 and n in weights}
        if finite:
            tiny = [n for n, v in finite.items() if v < codes.VANISHING_GRADIENT]
            huge = [n for n, v in finite.items() if v > codes.EXPLODING_GRADIENT]
            if tiny:
                context.find(self.code, f"vanishing gradients (norm < "
                                        f"{codes.VANISHING_GRADIENT}) in {', '.join(tiny[:5])}",
                             {"norms": {n: finite[n] for n in tiny[:20]}})
            if huge:
                context.find(self.code, f"exploding gradients (norm > "
                                        f"{codes.EXPLODING_GRADIENT}) in {', '.join(huge[:5])}",
                             {"norms": {n: finite[n] for n in huge[:20]}})

    def pending_for(self, optimizer) -> list[int]:
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        return [key for key in (*self.pending_no_gradient, *self.pending_zero_gradient)
                if key in own]

    def recheck_gradients(self, optimizer) -> None:
        """A later step's gradients clear the candidates that now got a (non-zero) gradient:
        costs nothing once none is left, else one read for all of them."""
        pending = self.pending_for(optimizer)
        if not pending:
            return
        holding = []
        for key in pending:
            name, parameter = self.pending_no_gradient.get(key) or \
                self.pending_zero_gradient[key]
            if parameter.grad is not None:
                holding.append((key, parameter))
        for (key, parameter), norm in zip(holding, norms([p.grad for _, p in holding])):
            if key in self.pending_no_gradient:
                name, _ = self.pending_no_gradient.pop(key)
                if norm == 0 and parameter.dim() > 1:
                    self.pending_zero_gradient[key] = (name, parameter)
            elif norm != 0:
                del self.pending_zero_gradient[key]

    def on_end(self) -> None:
        context = self.context
        steps = f"{context.seen.steps} step{'s' if context.seen.steps != 1 else ''}"
        no_gradient = [name for name, _ in self.pending_no_gradient.values()]
        zero = [name for name, _ in self.pending_zero_gradient.values()]
        if no_gradient:
            context.find(self.code, f"{len(no_gradient)} trainable parameters got no gradient in "
                                    f"{steps} ({', '.join(no_gradient[:5])}): a detached branch "
                                    "or an unused layer",
                         {"no_gradient": no_gradient[:20]}, self.gradient_location)
        if zero and not context.constant_loss:
            context.find(self.code, f"all-zero gradients in every one of {steps} for "
                                    f"{', '.join(zero[:5])}",
                         {"zero_gradient": zero[:20]}, self.gradient_location)
        context.seen.zero_gradient = zero
        self.report_unchanged_weights()

    def report_unchanged_weights(self) -> None:
        context = self.context
        if context.constant_loss:
            return
        for key, judged in self.update_judged.items():
            if judged["changed"] or not judged["steps"]:
                continue
            steps = f"{judged['steps']} step{'s' if judged['steps'] != 1 else ''}"
            severity = None
            if judged["zero_lr_steps"] == judged["steps"]:
                message = (f"the optimizer step changed no weight: the learning rate was 0 in "
                           f"every one of {steps} traced (a long warm-up from 0? trace more "
                           "steps with --steps)")
                severity = Severity.WARNING
            else:
                message = (f"the optimizer step changed no weight in {steps} (zero gradients "
                           "or a zero learning rate)")
            context.find(self.code, message, {"learning_rates": judged["learning_rates"],
                                              "steps": judged["steps"]},
                         judged["where"], severity,
                         subject=context.optimizer_names.get(key, ""))
