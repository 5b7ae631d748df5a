"""RT002: an elementwise operation or a loss that broadcasts (N, 1) against (N,)."""

from __future__ import annotations

import torch

from dllint.runtime import codes
from dllint.runtime.checks import register
from dllint.runtime.dispatch import Check, LossCall, TorchCall
from dllint.runtime.tracing import ELEMENTWISE, ELEMENTWISE_LOSSES, shape_of


@register
class Broadcast(Check):
    code = codes.BROADCAST
    events = frozenset({"on_torch_call", "on_loss"})
    torch_functions = ELEMENTWISE

    def on_torch_call(self, call: TorchCall) -> None:
        if self.context.depth:
            return  # inside a model: its own arithmetic (attention scores) broadcasts by design
        tensors = [value for value in call.args[:2] if isinstance(value, torch.Tensor)]
        if len(tensors) != 2 or not isinstance(call.result, torch.Tensor):
            return
        small = min(tensor.numel() for tensor in tensors)
        if small > 1 and call.result.numel() > max(tensor.numel() for tensor in tensors):
            shapes = [shape_of(tensor) for tensor in tensors]
            self.context.find(self.code, f"{shapes[0]} and {shapes[1]} broadcast to "
                                         f"{shape_of(call.result)}: a size-1 axis met a size-N "
                                         "axis", {"shapes": shapes, "result": shape_of(call.result)})

    def on_loss(self, call: LossCall) -> None:
        prediction, target = call.prediction, call.target
        if call.name in ELEMENTWISE_LOSSES and prediction.shape != target.shape:
            self.context.find(self.code, f"`{call.name}` gets input {shape_of(prediction)} and "
                                         f"target {shape_of(target)}: they broadcast instead of "
                                         "matching",
                              {"input": shape_of(prediction), "target": shape_of(target)})
