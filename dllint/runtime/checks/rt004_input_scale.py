"""RT004: the input of the model's first layer with weights looks scaled twice, never, or
wildly.

The first layer with weights that takes a tensor of the input's size (reshaped or not), not the
model's own argument: a model that normalizes inside
`forward` gets raw pixels rightly, and a model called with keyword inputs
(`model(pixel_values=x)`) is checked like any other. A normalization layer first (BatchNorm
on raw features) normalizes the input itself; an embedding first takes indices: neither is
judged."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, ModuleCall
from dllint.runtime.tracing import float_tensors, is_finite, shape_of


# Layers with weights that normalize their own input.
NORMALIZING = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)


@register
class InputScale(Check):
    code = codes.INPUT_SCALE
    events = frozenset({"on_forward"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.first_input_checked = False
        # The size (elements) of the first model call's first float input, while inside that
        # call: a layer that takes it flattened or reshaped still takes the input.
        self.input_size: int | None = None

    def on_forward(self, call: ModuleCall) -> None:
        if self.first_input_checked:
            return
        module = call.module
        if call.root:
            self.input_size = None
            if isinstance(module, nn.modules.loss._Loss):
                return
            inputs = float_tensors([*call.args, *call.kwargs.values()])  # `model(pixel_values=x)`
            if not inputs:
                self.first_input_checked = True  # token ids: nothing to judge
                return
            self.input_size = inputs[0].numel()
        if self.input_size is None or next(module.parameters(recurse=False), None) is None:
            return
        # The first layer with weights that takes the input (normalized or not), not another
        # input's layer (a diffusion model's timestep embedding runs before its first conv).
        tensors = [t for t in float_tensors([*call.args, *call.kwargs.values()])
                   if t.numel() == self.input_size]
        if not tensors:
            return
        self.first_input_checked = True
        if not isinstance(module, NORMALIZING):
            self.check_input_scale(tensors[0], self.context.name_of(module))

    def check_input_scale(self, tensor: torch.Tensor, layer: str) -> None:
        data = tensor.detach().float()
        if data.numel() < 2 or not is_finite(data):
            return
        low, high = float(data.min()), float(data.max())
        mean, std = float(data.mean()), float(data.std())
        evidence = {"min": low, "max": high, "mean": mean, "std": std, "shape": shape_of(tensor),
                    "layer": layer}
        context = self.context
        find = partial(context.find, where=context.root_location)  # the line calling the model
        if 0 <= low and 0 < high <= codes.TWICE_SCALED_MAX:
            find(self.code, f"the model's input lies in [{low:.3g}, {high:.3g}]: it looks scaled "
                            "to [0, 1] twice (e.g. ToTensor then / 255)", evidence)
        elif low >= 0 and high > codes.UNSCALED_MAX and high <= 255 and data.dim() >= 3:
            find(self.code, f"the model's input lies in [{low:.3g}, {high:.3g}]: it looks like "
                            "0-255 pixels that were never scaled", evidence)
        elif abs(mean) > codes.FAR_FROM_NORMALIZED or std > codes.FAR_FROM_NORMALIZED:
            find(self.code, f"the model's input has mean {mean:.3g} and std {std:.3g}: far from "
                            "normalized", evidence)
