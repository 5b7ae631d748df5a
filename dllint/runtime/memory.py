"""The memory recorder (issue 27): what the first training step's memory is made of.

`MemoryRecorder` subscribes to the dispatcher's events and fills one `StepMemory`
(`memory_model.py`) for the first training step:

- per module: parameter bytes, gradient bytes (read before the first optimizer step, when the
  backward has filled them), and the activation bytes autograd saved for backward while the
  module was the innermost one running (`on_tensor_saved`, from the dispatcher's one
  `saved_tensors_hooks` pair). Each storage counts once: views of one storage share it, and a
  parameter (or a view of one, such as the transposed weight a Linear saves) is no activation;
- per optimizer: the bytes of the tensors in its state after its first step;
- per phase: the peaks of forward, backward and optimizer step. On CUDA the allocator's own
  (`max_memory_allocated`, reset between phases: `measured`); elsewhere the tracked sums at the
  end of each phase, which is when each is highest (estimated);
- the batch size: the leading dimension of the first tensor the model is called with.

Nothing here reads a tensor's values: sizes are metadata, so no host sync is added. The
recorder stops listening once the first step is recorded; later steps cost it nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from dllint.runtime.dispatch import ModuleCall, StepEvent, Subscriber
from dllint.runtime.memory_model import ModuleMemory, PhasePeaks, StepMemory
from dllint.runtime.tracing import unwrapped


def storage_key(tensor: torch.Tensor) -> tuple[int, int] | None:
    """(address, bytes) of the storage under `tensor`, None for one without memory of its own
    (an empty tensor, a meta or a wrapper tensor subclass without a storage)."""
    try:
        storage = tensor.untyped_storage()
    except (RuntimeError, NotImplementedError, TypeError):
        return None
    address = storage.data_ptr()
    if address == 0:
        return None
    return address, storage.nbytes()


def tensor_bytes(value: object) -> int:
    """Bytes of the tensors in `value` (a tensor, or an optimizer's per-parameter state dict)."""
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(item) for item in value)
    return 0


class MemoryRecorder(Subscriber):
    events = frozenset({"on_forward", "on_tensor_saved", "on_backward", "on_step",
                        "on_step_done", "on_end"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.device = ""
        self.batch_size: int | None = None
        # Saved storages (address -> bytes) and the module each went to (address -> module id).
        self.saved: dict[int, int] = {}
        self.saved_by: dict[int, int] = {}
        self.parameter_storages: set[int] | None = None
        self.optimizer_state_bytes: dict[str, int] = {}
        self.gradient_bytes: dict[int, int] = {}  # module id -> bytes of its own gradients
        self.peaks = {"forward": 0, "backward": 0, "optimizer": 0}
        self.phase = ""  # "forward", "backward" or "optimizer" while the first step runs
        # The activations are those of the first forward with gradients: a model called again
        # after a backward (the next micro-batch of gradient accumulation, a second model of a
        # GAN, a loop that never steps an optimizer) adds none, so the figure stays that of
        # what is alive at once.
        self.backward_seen = False
        self.activations_closed = False
        self.done = False
        self.step: StepMemory | None = None

    # ---- what the step is made of -----------------------------------------------------------

    def _models(self) -> list[nn.Module]:
        return [unwrapped(root) for root in self.context.roots.values()
                if not isinstance(root, nn.modules.loss._Loss)]

    def _parameters(self) -> list[torch.Tensor]:
        seen: dict[int, torch.Tensor] = {}
        for model in self._models():
            for parameter in model.parameters():
                seen.setdefault(id(parameter), parameter)
        return list(seen.values())

    def _cuda(self) -> bool:
        return self.device.startswith("cuda") and torch.cuda.is_available()

    def on_forward(self, call: ModuleCall) -> None:
        if self.done or not call.root or not torch.is_grad_enabled() or \
                isinstance(call.module, nn.modules.loss._Loss):
            return
        if self.backward_seen:
            self.activations_closed = True
        if self.parameter_storages is None:
            self.device = self.context.seen.device or "cpu"
            self.parameter_storages = set()
        # A model called for the first time with gradients: its parameters are no activations.
        for parameter in unwrapped(call.module).parameters():
            key = storage_key(parameter)
            if key is not None:
                self.parameter_storages.add(key[0])
        if self.batch_size is None:
            first = next((value for value in (*call.args, *call.kwargs.values())
                          if isinstance(value, torch.Tensor)), None)
            if first is not None and first.dim() >= 1:
                self.batch_size = int(first.shape[0])
        if not self.phase:
            self.phase = "forward"
            if self._cuda():
                torch.cuda.reset_peak_memory_stats(self.device)

    def on_tensor_saved(self, tensor: torch.Tensor, module: nn.Module | None) -> None:
        if self.done or self.activations_closed or self.parameter_storages is None:
            return
        key = storage_key(tensor)
        if key is None or key[0] in self.parameter_storages or key[0] in self.saved:
            return
        self.saved[key[0]] = key[1]
        # A compiled (or DDP) model runs as its wrapper: its saves belong to the model.
        self.saved_by[key[0]] = id(unwrapped(module)) if module is not None else 0

    def on_backward(self, tensor: torch.Tensor) -> None:
        self.backward_seen = True
        if self.done or self.phase != "forward":
            return
        self._end_phase("forward")
        self.phase = "backward"

    def on_step(self, step: StepEvent) -> None:
        if self.done or step.count > 0:
            return
        if self.phase in ("forward", "backward"):
            self._read_gradients()
            self._end_phase("backward")
        self.phase = "optimizer"

    def on_step_done(self, step: StepEvent) -> None:
        if self.done or step.count > 0:
            return
        name = self.context.optimizer_names.get(id(step.optimizer),
                                                type(step.optimizer).__name__)
        self.optimizer_state_bytes[name] = sum(
            tensor_bytes(state) for state in step.optimizer.state.values())
        if step.closure is not None:  # the forward and backward ran inside the step
            self._read_gradients()
        self._end_phase("optimizer")
        context = self.context
        if all(id(o) in context.optimizer_steps or o is step.optimizer
               for o in context.created_optimizers):
            self.finish()

    def on_end(self) -> None:
        if not self.done and self.parameter_storages is not None:
            self.finish()

    def _read_gradients(self) -> None:
        counted: set[int] = set()
        for model in self._models():
            for module in model.modules():
                total = 0
                for parameter in module.parameters(recurse=False):
                    if parameter.grad is not None and id(parameter) not in counted:
                        counted.add(id(parameter))
                        total += tensor_bytes(parameter.grad)
                if total:
                    self.gradient_bytes[id(module)] = total

    def _tracked(self, phase: str) -> int:
        """The tracked sum at the end of `phase`: parameters, gradients, optimizer state and
        the saved activations alive then (all of them after the forward, none after the
        backward that freed them)."""
        parameters = sum(tensor_bytes(p) for p in self._parameters())
        activations = sum(self.saved.values())
        gradients = sum(self.gradient_bytes.values())
        if phase == "forward":
            return parameters + activations
        if phase == "backward":  # the gradients fill while the activations are freed
            return parameters + gradients + activations
        return parameters + gradients + sum(self.optimizer_state_bytes.values())

    def _end_phase(self, phase: str) -> None:
        if self._cuda():
            self.peaks[phase] = max(self.peaks[phase],
                                    int(torch.cuda.max_memory_allocated(self.device)))
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peaks[phase] = max(self.peaks[phase], self._tracked(phase))

    # ---- the result -------------------------------------------------------------------------

    def snapshot(self) -> StepMemory:
        """The step as recorded so far (the whole step once it is done; up to where it stopped,
        when the script raised, such as on an out-of-memory error)."""
        context = self.context
        by_module: dict[int, int] = {}
        for address, size in self.saved.items():
            owner = self.saved_by[address]
            by_module[owner] = by_module.get(owner, 0) + size
        rows: list[ModuleMemory] = []
        counted: set[int] = set()
        listed: set[int] = set()
        for model in self._models():
            for module in model.modules():
                if id(module) in listed:
                    continue
                listed.add(id(module))
                own = 0
                for parameter in module.parameters(recurse=False):
                    if id(parameter) not in counted:
                        counted.add(id(parameter))
                        own += tensor_bytes(parameter)
                rows.append(ModuleMemory(context.name_of(module), type(module).__name__, own,
                                         self.gradient_bytes.get(id(module), 0),
                                         by_module.get(id(module), 0)))
        other = sum(size for owner, size in by_module.items() if owner not in listed)
        if self.phase and not self._cuda():
            # A phase cut short (the script raised inside it) still has its tracked sum.
            self.peaks[self.phase] = max(self.peaks[self.phase], self._tracked(self.phase))
        return StepMemory(self.device or self.context.seen.device or "cpu", tuple(rows),
                          dict(self.optimizer_state_bytes),
                          PhasePeaks(measured=self._cuda(), **self.peaks), self.batch_size,
                          other_activation_bytes=other)

    def finish(self) -> None:
        self.step = self.snapshot()
        self.context.seen.memory = self.step
        self.done = True
        self.saved, self.saved_by = {}, {}
