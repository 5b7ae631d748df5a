"""RT004: the model's first float input looks scaled twice, never, or wildly."""

from __future__ import annotations

import torch
from torch import nn

from dllint.runtime import codes
from dllint.runtime.checks import register
from dllint.runtime.dispatch import Check, ModuleCall
from dllint.runtime.tracing import float_tensors, is_finite, shape_of


@register
class InputScale(Check):
    code = codes.INPUT_SCALE
    events = frozenset({"on_forward"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.first_input_checked = False

    def on_forward(self, call: ModuleCall) -> None:
        if self.first_input_checked or not call.root or \
                isinstance(call.module, nn.modules.loss._Loss):
            return
        tensors = float_tensors([*call.args, *call.kwargs.values()])  # `model(pixel_values=x)`
        if tensors:
            self.first_input_checked = True
            self.check_input_scale(tensors[0])

    def check_input_scale(self, tensor: torch.Tensor) -> None:
        data = tensor.detach().float()
        if data.numel() < 2 or not is_finite(data):
            return
        low, high = float(data.min()), float(data.max())
        mean, std = float(data.mean()), float(data.std())
        evidence = {"min": low, "max": high, "mean": mean, "std": std, "shape": shape_of(tensor)}
        find = self.context.find
        if 0 <= low and 0 < high <= codes.TWICE_SCALED_MAX:
            find(self.code, f"the model's input lies in [{low:.3g}, {high:.3g}]: it looks scaled "
                            "to [0, 1] twice (e.g. ToTensor then / 255)", evidence)
        elif low >= 0 and high > codes.UNSCALED_MAX and high <= 255 and data.dim() >= 3:
            find(self.code, f"the model's input lies in [{low:.3g}, {high:.3g}]: it looks like "
                            "0-255 pixels that were never scaled", evidence)
        elif abs(mean) > codes.FAR_FROM_NORMALIZED or std > codes.FAR_FROM_NORMALIZED:
            find(self.code, f"the model's input has mean {mean:.3g} and std {std:.3g}: far from "
                            "normalized", evidence)
