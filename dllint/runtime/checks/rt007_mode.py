"""RT007: dropout or batch norm in eval mode during a training step, or in training mode
during inference under no_grad.

Eval mode during a training step is reported when the model's root module is in eval while
its parameters train (they require grad, are in an optimizer, and received a gradient in the
step's first backward: the model was never put back with `model.train()`), or when a layer in
eval mode has trainable parameters in an optimizer. It is judged after that backward, when the
gradients exist. A frozen feature extractor in eval is deliberate and silent, however it is
frozen (`requires_grad_(False)`, left out of every optimizer, or run under no_grad) and
whether it is a model of its own or a submodule: a linear probe's backbone, a frozen-norm
detection backbone (`norm_eval`).

Training mode under no_grad is reported only for a no-grad forward whose output the step's
loss does not consume. A forward that belongs to training (GAN fakes drawn under no_grad, a
momentum key encoder, a target network) feeds a later forward or operation with gradients
before the step's backward: its output tensors are remembered by storage, and a later module
call or a watched torch function (matmul, einsum, cat, ...) under grad mode, or a training
loss, that reads one of them consumes it. The torch functions are watched on the first
training step only (the tracer's one-off checks); a line found consuming then stays so. A
batch-norm recalibration (`torch.optim.swa_utils.update_bn`: train mode under no_grad with
the layers' `momentum=None`, a cumulative average of the running statistics) is deliberate
and never reported.
"""

from __future__ import annotations

import torch
from torch import nn

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, LossCall, ModuleCall, StepEvent, TorchCall
from dllint.runtime.tracing import MODE_DEPENDENT, user_location

Tensor = torch.Tensor
# Operations that combine a no-grad output with the step's graph (contrastive logits, BYOL's
# regression, concatenated real and fake batches).
CONSUMING_FUNCTIONS = frozenset({
    torch.einsum, torch.mm, torch.matmul, torch.bmm, torch.cat, torch.stack,
    torch.nn.functional.normalize, torch.nn.functional.cosine_similarity,
    Tensor.mm, Tensor.matmul, Tensor.__matmul__, Tensor.__mul__, Tensor.__rmul__,
    Tensor.__sub__, Tensor.__rsub__, Tensor.__add__, Tensor.__radd__, Tensor.mul, Tensor.sub,
    Tensor.add,
})


def storages(values, found: dict[int, torch.Tensor] | None = None,
             depth: int = 0) -> dict[int, torch.Tensor]:
    """The tensors in `values` (tensors, tuples, lists, dicts such as a transformers
    ModelOutput, a few levels deep) by storage address. A pending output keeps its tensors,
    so that the allocator cannot hand its address to an unrelated tensor meanwhile."""
    found = {} if found is None else found
    for value in values:
        if isinstance(value, torch.Tensor):
            if value.layout == torch.strided and value.device.type != "meta":
                found[value.untyped_storage().data_ptr()] = value
        elif depth < 3 and isinstance(value, (tuple, list)):
            storages(value, found, depth + 1)
        elif depth < 3 and isinstance(value, dict):
            storages(value.values(), found, depth + 1)
    return found


def recalibrating(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm) and module.momentum is None


@register
class Mode(Check):
    code = codes.MODE
    events = frozenset({"on_forward", "on_forward_output", "on_torch_call", "on_loss",
                        "on_backward", "on_backward_done", "on_step_done", "on_end"})
    torch_functions = CONSUMING_FUNCTIONS

    def __init__(self, context) -> None:
        super().__init__(context)
        # The mode-dependent layers of this step's forward with gradients: (layer, training,
        # where, its model's root); judged after the first backward, which shows that the step
        # trains and which parameters got gradients.
        self.step_forward_modes: list[tuple[nn.Module, bool, tuple[str, int], nn.Module]] = []
        self.root: nn.Module | None = None
        # Layers in train mode in the current no-grad root forward: (layer, where).
        self.no_grad_training: list[tuple[nn.Module, tuple[str, int]]] = []
        # No-grad forwards in train mode not consumed yet: (output storages, layers).
        self.pending: list[tuple[dict[int, torch.Tensor],
                                 list[tuple[nn.Module, tuple[str, int]]]]] = []
        self.consuming_lines: set[tuple[str, int]] = set()

    def on_forward(self, call: ModuleCall) -> None:
        module, context = call.module, self.context
        grad_enabled = torch.is_grad_enabled()
        if call.root:
            self.root = module
            self.no_grad_training = []
            if grad_enabled:
                self.consume(storages([*call.args, *call.kwargs.values()]))
        elif grad_enabled and self.pending:
            self.consume(storages(call.args))
        if not isinstance(module, MODE_DEPENDENT) or not (context.full_checks or (
                module.training and not grad_enabled)):
            return
        where = user_location()
        if grad_enabled:
            self.step_forward_modes.append((module, module.training, where, self.root or module))
        elif module.training and not recalibrating(module) and where not in self.consuming_lines:
            self.no_grad_training.append((module, where))

    def on_forward_output(self, call: ModuleCall, output) -> None:
        if call.root and self.no_grad_training:
            layers, self.no_grad_training = self.no_grad_training, []
            self.pending.append((storages([output]), layers))

    def on_torch_call(self, call: TorchCall) -> None:
        if not self.pending:
            return
        inputs = storages([*call.args, *call.kwargs.values()])
        if torch.is_grad_enabled():
            self.consume(inputs)
            return
        # Still under no_grad (`key = normalize(key_encoder(x))`): the result carries the
        # output on, and a later consumer of the result consumes the forward's output.
        for outputs, _ in self.pending:
            if outputs.keys() & inputs.keys():
                outputs.update(storages([call.result]))

    def on_loss(self, call: LossCall) -> None:
        if self.pending and call.training:
            self.consume(storages([*call.args, *call.kwargs.values()]))

    def consume(self, inputs: dict[int, torch.Tensor]) -> None:
        if not inputs or not self.pending:
            return
        kept = []
        for outputs, layers in self.pending:
            if outputs.keys() & inputs.keys():
                self.consuming_lines.update(where for _, where in layers)
            else:
                kept.append((outputs, layers))
        self.pending = kept

    def report_unconsumed(self) -> None:
        pending, self.pending = self.pending, []
        context = self.context
        for _, layers in pending:
            for module, where in layers:
                if where in self.consuming_lines:
                    continue
                name = context.name_of(module)
                context.find(self.code, f"`{name}` ({type(module).__name__}) is in training "
                                        "mode during inference under no_grad: call "
                                        "`model.eval()` first",
                             {"module": name, "mode": "train", "grad_enabled": False}, where,
                             subject=context.model_of(module))

    def on_backward(self, tensor: torch.Tensor) -> None:
        self.report_unconsumed()  # the step's loss is computed: what it did not read is unused

    def on_backward_done(self, tensor: torch.Tensor) -> None:
        context = self.context
        if context.seen.backward_calls != 1:
            return
        optimized = {id(p) for p in context.optimizer_parameters()}
        roots_train: dict[int, bool] = {}
        for module, training, where, root in self.step_forward_modes:
            if training:
                continue
            trained = any(p.requires_grad and id(p) in optimized
                          for p in module.parameters(recurse=False))
            if id(root) not in roots_train:
                # A root in eval whose parameters train this step: never put back in train mode.
                roots_train[id(root)] = not root.training and any(
                    p.requires_grad and id(p) in optimized and p.grad is not None
                    for p in root.parameters())
            if roots_train[id(root)] or trained:
                name = context.name_of(module)
                context.find(self.code, f"`{name}` ({type(module).__name__}) is in eval mode "
                                        "during a training step: call `model.train()`",
                             {"module": name, "mode": "eval",
                              "root_mode": "train" if root.training else "eval",
                              "optimized_parameters": trained}, where,
                             subject=context.model_of(module))

    def on_step_done(self, step: StepEvent) -> None:
        self.step_forward_modes = []

    def on_end(self) -> None:
        self.report_unconsumed()
