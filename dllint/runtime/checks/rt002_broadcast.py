"""RT002: two operands of the same size that broadcast into a square, (N, 1) against (N,),
and so reach the loss as N^2 pairs instead of N.

The bug's signature, not any broadcast: the two operands hold the same number of elements n > 1,
the result holds n^2, the operands differ in rank (the (N,) one is promoted to (1, N) silently:
nobody wrote the outer product), they are two different tensors (not views of one), and the
result reaches the loss that is backpropagated. Outer broadcasts written on purpose have other
signatures: prototype distances `q[:, None] - p[None]` (two sets of different sizes), offset
grids `(1, K) - (N, 1)` and pairwise differences `s[:, None] - s[None]` (the same rank on both
sides), `s[:, None] - s` (one tensor against itself), and results that never reach the loss.
"""

from __future__ import annotations

import torch

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, LossCall, StepEvent, TorchCall
from dllint.runtime.tracing import (ELEMENTWISE, ELEMENTWISE_LOSSES, graph_nodes, shape_of,
                                    user_location)


@register
class Broadcast(Check):
    code = codes.BROADCAST
    events = frozenset({"on_torch_call", "on_loss", "on_backward", "on_step_done"})
    torch_functions = ELEMENTWISE

    def __init__(self, context) -> None:
        super().__init__(context)
        # Square broadcasts of this step not yet seen reaching a loss: by autograd node.
        self.candidates: dict[object, tuple[str, dict, tuple[str, int]]] = {}

    def on_torch_call(self, call: TorchCall) -> None:
        if self.context.depth:
            return  # inside a model: its own arithmetic (attention scores) broadcasts by design
        tensors = [value for value in call.args[:2] if isinstance(value, torch.Tensor)]
        result = call.result
        if len(tensors) != 2 or not isinstance(result, torch.Tensor) or result.grad_fn is None:
            return
        first, second = tensors
        size = first.numel()
        if size <= 1 or second.numel() != size or result.numel() != size * size or \
                first.dim() == second.dim() or _same_storage(first, second):
            return
        shapes = [shape_of(tensor) for tensor in tensors]
        self.candidates[result.grad_fn] = (
            f"{shapes[0]} and {shapes[1]} broadcast to {shape_of(result)}, and it reaches the "
            f"loss: {size} values meet {size} values as {size * size} pairs; make the shapes "
            "equal (`.squeeze(-1)`, `.view_as`, or no `keepdim=True`)",
            {"shapes": shapes, "result": shape_of(result)}, user_location())

    def on_backward(self, tensor: torch.Tensor) -> None:
        if not self.candidates or tensor.grad_fn is None:
            return
        reached = graph_nodes(tensor.grad_fn, {id(node) for node in self.candidates})
        for node in [node for node in self.candidates if id(node) in reached]:
            message, evidence, where = self.candidates.pop(node)
            self.context.find(self.code, message, evidence, where)

    def on_step_done(self, step: StepEvent) -> None:
        self.candidates.clear()

    def on_loss(self, call: LossCall) -> None:
        prediction, target = call.prediction, call.target
        if call.name in ELEMENTWISE_LOSSES and prediction.shape != target.shape and \
                prediction.numel() == target.numel() > 1:
            self.context.find(self.code, f"`{call.name}` gets input {shape_of(prediction)} and "
                                         f"target {shape_of(target)}: they broadcast instead of "
                                         "matching",
                              {"input": shape_of(prediction), "target": shape_of(target)})


def _same_storage(first: torch.Tensor, second: torch.Tensor) -> bool:
    """Views of one tensor (`s[:, None] - s`): a tensor compared with itself, on purpose."""
    try:
        return first.untyped_storage().data_ptr() == second.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage (functorch, meta)
        return False

