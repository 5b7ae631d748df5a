"""RT005: float64 or integer tensors reaching float32 layers; a float64 target or prediction
mixed into a float32 loss.

Only the mismatches that matter: a half-precision activation against a float32 target or weight
is what autocast produces on purpose (it runs the loss in float32), so bfloat16/float16 against
float32 is never reported; float64 (numpy's default) silently doubles the cost and changes the
loss's dtype, and integer data reaching a float layer is a preprocessing step that was skipped."""

from __future__ import annotations

import torch

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, LossCall, ModuleCall
from dllint.runtime.tracing import ELEMENTWISE_LOSSES, INTEGER_INPUT_LAYERS, dtype_of


@register
class Dtypes(Check):
    code = codes.DTYPES
    events = frozenset({"on_forward", "on_loss"})

    def on_forward(self, call: ModuleCall) -> None:
        if not self.context.full_checks:
            return
        module = call.module
        parameter = next(module.parameters(recurse=False), None)
        if parameter is None or not parameter.is_floating_point():
            return
        # Integer ids are what embeddings take, and a module of the script's own (or of a
        # library) may index with them: only torch's float layers must not get integers.
        integers_wrong = type(module).__module__.startswith("torch.nn.") and \
            not isinstance(module, INTEGER_INPUT_LAYERS)
        for value in call.args[:1]:
            if isinstance(value, torch.Tensor) and value.dtype != parameter.dtype and (
                    value.dtype == torch.float64 or (not value.is_floating_point()
                                                     and integers_wrong)):
                name = self.context.name_of(module)
                self.context.find(self.code, f"a {dtype_of(value)} tensor reaches `{name}` "
                                             f"({type(module).__name__}), whose weights are "
                                             f"{dtype_of(parameter)}; convert the input with "
                                             "`.float()`",
                                  {"module": name, "input_dtype": dtype_of(value),
                                   "weight_dtype": dtype_of(parameter)},
                                  subject=self.context.model_of(module))

    def on_loss(self, call: LossCall) -> None:
        prediction, target = call.prediction, call.target
        if call.name in ELEMENTWISE_LOSSES and prediction.is_floating_point() and \
                target.is_floating_point() and prediction.dtype != target.dtype and \
                torch.float64 in (prediction.dtype, target.dtype):
            self.context.find(self.code, f"`{call.name}` mixes {dtype_of(prediction)} input and "
                                         f"{dtype_of(target)} target",
                              {"input": dtype_of(prediction), "target": dtype_of(target)})
