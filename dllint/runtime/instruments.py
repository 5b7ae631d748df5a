"""The runtime tracer as the script runner uses it: the dispatcher (`dispatch.py`) with the
recorders (`recorders.py`) and every registered check (`checks/`) attached.

`Instruments` is entered around the script; it installs the hooks, and removes every one of
them on exit, whatever happened inside. Findings carry the user's own source line, taken from
the stack: the innermost frame outside torch, dllint and the standard library. The attributes
below read what the recorders and checks kept, for the report and the distributed rank.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

from dllint.runtime.checks import all_checks
from dllint.runtime.checks.rt006_gradient_flow import GradientFlow
from dllint.runtime.dispatch import Check, Dispatcher, Subscriber, TraceContext
from dllint.runtime.memory import MemoryRecorder
from dllint.runtime.recorders import LossCurves, ModuleTable, OverfitReplay
# Re-exported: the report, the distributed rank and the tests import these from here.
from dllint.runtime.tracing import (  # noqa: F401
    ELEMENTWISE, ELEMENTWISE_LOSSES, LOSSES, RISKY, ModuleRecord, Observations, StopTracing,
    is_user_file, line_span as _line_span, read_all, read_vectors, unwrapped, user_location)

SubscriberType = TypeVar("SubscriberType", bound=Subscriber)


class Instruments(Dispatcher):
    def __init__(self, steps: int = 1, overfit: int | None = None) -> None:
        context = TraceContext(steps, overfit)
        self.replay = OverfitReplay(context) if overfit else None
        self.module_table = ModuleTable(context)
        self.loss_curves = LossCurves(context)
        self.memory = MemoryRecorder(context)
        self.checks: list[Check] = [check(context) for check in all_checks()]
        recorders: list[Subscriber] = [self.module_table, self.loss_curves, self.memory]
        if self.replay is not None:
            recorders.insert(0, self.replay)  # first: the checks see the replayed batch
        super().__init__(context, [*recorders, *self.checks])

    def check(self, kind: type[SubscriberType]) -> SubscriberType:
        """The attached check of this class."""
        return next(check for check in self.checks if isinstance(check, kind))

    # ---- what the report and the distributed rank read --------------------------------------

    @property
    def seen(self) -> Observations:
        return self.context.seen

    @property
    def errors(self) -> list[str]:
        return self.context.errors

    @property
    def overfit(self) -> int | None:
        return self.context.overfit

    @property
    def depth(self) -> int:
        return self.context.depth

    @property
    def roots(self) -> dict[int, nn.Module]:
        return self.context.roots

    @property
    def root_location(self) -> tuple[str, int]:
        return self.context.root_location

    @property
    def optimizer_names(self) -> dict[int, str]:
        return self.context.optimizer_names

    @property
    def optimizer_created(self) -> dict[int, tuple[str, int]]:
        return self.context.optimizer_created

    @property
    def _optimizers(self) -> dict[int, torch.optim.Optimizer]:
        return self.context.optimizers

    @property
    def training_rows(self) -> set[int]:
        return self.module_table.training_rows

    @property
    def curves(self) -> dict[int, list]:
        return self.loss_curves.curves

    @property
    def loss_attribution(self):
        return self.loss_curves.attribution

    @property
    def pending_no_gradient(self) -> dict[int, tuple[str, torch.Tensor]]:
        return self.check(GradientFlow).pending_no_gradient

    @property
    def gradient_location(self) -> tuple[str, int] | None:
        return self.check(GradientFlow).gradient_location

    @property
    def first_step_changed(self) -> bool | None:
        return self.check(GradientFlow).first_step_changed

    @property
    def captured_inputs(self) -> dict[tuple, tuple]:
        return self.replay.captured_inputs if self.replay is not None else {}

    @property
    def primary_root(self) -> nn.Module | None:
        return self.replay.primary_root if self.replay is not None else None

    @property
    def replay_loss(self) -> tuple | None:
        return self.replay.replay_loss if self.replay is not None else None

    def name_of(self, module: nn.Module) -> str:
        return self.context.name_of(module)

    def model_parameters(self) -> dict[int, tuple[str, torch.Tensor]]:
        return self.context.model_parameters()

    def find(self, *args, **kwargs) -> None:
        self.context.find(*args, **kwargs)

    def instrument_error(self, error: BaseException) -> None:
        self.context.instrument_error(error)
