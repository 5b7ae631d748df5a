"""The tracer's components that record rather than check: the module table, the loss curves,
and the --overfit replay of the first batch. They subscribe to the dispatcher's events like the
checks (`dispatch.Subscriber`); the report and the RT010 verdicts read what they kept."""

from __future__ import annotations

import math

import torch
from torch import nn

from dllint.runtime.dispatch import LossCall, ModuleCall, StepEvent, Subscriber, TorchCall
from dllint.runtime.overfit import LossAttribution, chance_value
from dllint.runtime.tracing import (ModuleRecord, dtype_of, inputs_of, parameter_counts,
                                    read_all, shape_of, unwrapped, user_location)


class ModuleTable(Subscriber):
    """One row per module, as the first training step saw it (a forward with gradients enabled
    replaces a row recorded in an earlier no_grad pass, such as Lightning's sanity check)."""
    events = frozenset({"on_forward_output"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.training_rows: set[int] = set()  # modules whose row comes from a training forward

    def on_forward_output(self, call: ModuleCall, output) -> None:
        context, module = self.context, call.module
        # A wrapper (DDP, torch.compile) is the model it wraps: one row, for the model; the
        # wrapper's own, only when the model's forward ran unseen (compiled).
        inner = unwrapped(module)
        if context.seen.steps == 0 and (inner is module or id(inner) not in context.seen.modules) \
                and (id(module) not in context.seen.modules or (
                    id(module) not in self.training_rows and torch.is_grad_enabled())):
            parameter = next(module.parameters(recurse=False), None)
            context.seen.modules[id(module)] = ModuleRecord(
                context.name_of(module), type(inner).__name__,
                inputs_of(call.args, call.kwargs), shape_of(output), dtype_of(output),
                module.training, str(parameter.device) if parameter is not None else "",
                *parameter_counts(module), "" if inner is module else type(module).__name__)
            if torch.is_grad_enabled():
                self.training_rows.add(id(module))


class LossCurves(Subscriber):
    """One loss curve per optimizer, one point per step, kept on the device until the end. Each
    training loss is attributed to the optimizer whose step it feeds (`overfit.LossAttribution`):
    that optimizer's curve, initial loss (against its chance value) and loss line are its own,
    so a GAN's generator is judged by the generator's loss."""
    events = frozenset({"on_loss", "on_backward", "on_step", "on_step_done", "on_end"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.curves: dict[int, list[float | torch.Tensor]] = {}
        self.attribution = LossAttribution()
        self.step_backward_values: list[torch.Tensor] = []

    def on_loss(self, call: LossCall) -> None:
        if not call.training:
            return
        seen = self.context.seen
        if seen.steps == 0 and len(seen.losses) < 10000:
            seen.losses.append((call.name, call.value))
        # Per counted target, as the chance value is: a summed loss (transformers divides the
        # sum by the number of tokens outside the loss function) reads as its mean.
        value = call.per_target if not math.isnan(call.per_target) else call.value
        self.attribution.loss_computed(call.result, value, user_location(),
                                       chance_value(call.name, call.prediction))

    def on_backward(self, tensor: torch.Tensor) -> None:
        if tensor.numel() == 1:
            # A GradScaler's scaled loss reads as the loss the user computed.
            loss = self.context.unscaled.get(id(tensor), tensor)
            self.step_backward_values.append(loss.detach())
        if self.context.full_checks:
            self.attribution.backward(tensor, user_location())

    def on_step(self, step: StepEvent) -> None:
        if step.closure is None:
            self.record_point(step.optimizer, first=False)

    def on_step_done(self, step: StepEvent) -> None:
        if step.closure is not None:
            self.record_point(step.optimizer, first=True)

    def record_point(self, optimizer, first: bool) -> None:
        """One loss per step: the loss function's own value when exactly one loss function call
        fed the step's backward (so a flipped sign shows as a rising curve), else the value
        backpropagated (the last one, or with a closure the first: the loss before the step's
        update)."""
        # Outside --overfit the function mode (which sees the loss function) comes off after
        # the first step, so every point is the backpropagated value: one kind of value for the
        # whole curve (a loss scaled before backward, by accumulation or by the number of ranks,
        # would otherwise jump after step 1).
        losses = self.attribution.stepped(id(optimizer)).calls
        if self.context.overfit and (len(losses) == 1 or (first and losses)):
            point: float | torch.Tensor = losses[0].value
        elif self.step_backward_values:
            point = self.step_backward_values[0 if first else -1]
        elif losses:
            point = losses[0].value
        else:
            point = math.nan
        self.curves.setdefault(id(optimizer), []).append(point)
        self.step_backward_values = []

    def on_end(self) -> None:
        for points in self.curves.values():
            on_device = [(i, p) for i, p in enumerate(points) if isinstance(p, torch.Tensor)]
            for (index, _), number in zip(on_device, read_all([p for _, p in on_device])):
                points[index] = number


class OverfitReplay(Subscriber):
    """--overfit: the first batch, captured per (root module, call ordinal, phase) as the call's
    positional and keyword arguments (`model(**batch)`), and the loss targets per (loss-call
    ordinal, phase), replayed at every later step; the phase is the optimizer that stepped last
    (None before the first step), so GAN-style loops replay consistently."""
    events = frozenset({"on_forward", "before_loss", "on_step_done"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.captured_inputs: dict[tuple, tuple[tuple, dict]] = {}  # key: (args, kwargs)
        self.captured_targets: dict[tuple, torch.Tensor] = {}
        self.root_ordinals: dict[int, int] = {}
        self.loss_ordinal = 0
        self.primary_root: nn.Module | None = None
        self.replay_loss: tuple | None = None

    def on_forward(self, call: ModuleCall) -> None:
        module = call.module
        if call.root and torch.is_grad_enabled() and module.training \
                and not isinstance(module, nn.modules.loss._Loss):
            replaced = self.replay_inputs(module, call.args, call.kwargs)
            if replaced is not None:
                call.args, call.kwargs = replaced

    @staticmethod
    def _replaceable(current, captured) -> bool:
        """Same structure and shapes, and nothing that carries gradients (a generator's output
        feeding a discriminator must stay live)."""
        current_tensors = [v for v in current if isinstance(v, torch.Tensor)]
        captured_tensors = [v for v in captured if isinstance(v, torch.Tensor)]
        return len(current) == len(captured) and len(current_tensors) == len(captured_tensors) \
            and all(a.shape == b.shape and not a.requires_grad
                    for a, b in zip(current_tensors, captured_tensors))

    @staticmethod
    def _copy(values):
        return tuple(v.detach().clone() if isinstance(v, torch.Tensor) else v for v in values)

    def replay_inputs(self, module: nn.Module, args: tuple, kwargs: dict):
        """The captured (args, kwargs) to call `module` with instead, or None: this is the
        first call (captured now), or the call does not match the captured one."""
        ordinal = self.root_ordinals.get(id(module), 0)
        self.root_ordinals[id(module)] = ordinal + 1
        if self.primary_root is None:
            self.primary_root = module
        key = (id(module), ordinal, self.context.last_optimizer)
        captured = self.captured_inputs.get(key) or self.captured_inputs.get(
            (id(module), ordinal, None))
        values = (*args, *kwargs.values())
        if captured is None:
            if all(not (isinstance(v, torch.Tensor) and v.requires_grad) for v in values):
                self.captured_inputs[key] = (self._copy(args),
                                             dict(zip(kwargs, self._copy(kwargs.values()))))
            return None
        captured_args, captured_kwargs = captured
        if list(kwargs) != list(captured_kwargs) or not self._replaceable(
                values, (*captured_args, *captured_kwargs.values())):
            return None
        return captured_args, dict(captured_kwargs)

    def before_loss(self, call: TorchCall) -> tuple:
        args = call.args
        if len(args) < 2 or not isinstance(args[1], torch.Tensor) or args[1].requires_grad:
            return args
        ordinal, self.loss_ordinal = self.loss_ordinal, self.loss_ordinal + 1
        key = (ordinal, self.context.last_optimizer)
        captured = self.captured_targets.get(key)
        if captured is None:
            captured = self.captured_targets.get((ordinal, None))
        if captured is None:
            self.captured_targets[key] = args[1].detach().clone()
            if self.replay_loss is None and isinstance(args[0], torch.Tensor):
                self.replay_loss = (call.func, self.captured_targets[key],
                                    {k: v for k, v in call.kwargs.items() if k != "target"},
                                    tuple(args[0].shape))
            return args
        if captured.shape != args[1].shape:
            return args
        return (args[0], captured, *args[2:])

    def on_step_done(self, step: StepEvent) -> None:
        self.root_ordinals = {}
        self.loss_ordinal = 0
