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

import ctypes
import ctypes.util
import sys
import weakref

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

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


# What the C allocator handed out beyond the live tensors counts from this much on: below it,
# it is the tracer's own bookkeeping for the step (kilobytes), not the script's.
OUTSIDE_MINIMUM = 2 ** 20


class _StorageRef(weakref.ref):
    """A weak reference to a storage a tracked operation allocated, with its address and size:
    its callback runs when the storage is freed (the storage's Python object lives exactly as
    long as the storage itself)."""
    __slots__ = ("address", "size")


class LiveBytes(TorchDispatchMode):
    """The bytes of the storages that torch operations allocated since `start()` and that are
    still alive, and the highest that sum reached since the last `take_peak()`.

    Each operation's outputs are looked at after it ran: an output that aliases an input (a
    view, an in-place or `out=` operation: the schema's alias annotations) allocates nothing;
    any other output's storage, not seen before, adds its bytes, and a weak reference to the
    storage takes them off when it is freed. This is every allocation a CPU step makes through
    torch (temporaries that no one saves, gradient buffers, the optimizer's intermediates), not
    only what autograd saves; memory a kernel allocates for itself outside torch's tensors
    (oneDNN scratch space) is not seen. Metadata only: no tensor value is read."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self.refs: dict[int, _StorageRef] = {}  # storage address -> its weak reference
        self.fresh: dict[object, bool] = {}  # operation -> whether its outputs are new memory
        self.on_stack = False
        self.counting = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if not self.counting:
            return result
        fresh = self.fresh.get(func)
        if fresh is None:
            schema = getattr(func, "_schema", None)
            fresh = schema is None or all(out.alias_info is None for out in schema.returns)
            self.fresh[func] = fresh
        if fresh:
            if isinstance(result, torch.Tensor):
                self._allocated(result)
            elif isinstance(result, (tuple, list)):
                for value in result:
                    if isinstance(value, torch.Tensor):
                        self._allocated(value)
        return result

    def _allocated(self, tensor: torch.Tensor) -> None:
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError, TypeError):
            return  # a sparse tensor or a wrapper subclass: no storage of its own
        address = storage.data_ptr()
        if address == 0 or address in self.refs:
            return
        reference = _StorageRef(storage, self._freed)
        reference.address, reference.size = address, storage.nbytes()
        self.refs[address] = reference
        self.live += reference.size
        if self.live > self.peak:
            self.peak = self.live

    def _freed(self, reference: _StorageRef) -> None:
        if self.refs.get(reference.address) is reference:
            del self.refs[reference.address]
            self.live -= reference.size

    def take_peak(self) -> int:
        """The highest live sum since the last call; the next period starts from what is
        alive now."""
        peak, self.peak = self.peak, self.live
        return peak

    def start(self) -> None:
        self.__enter__()
        self.on_stack = self.counting = True

    def stop(self) -> None:
        """Stop counting and take the mode off the stack when it is on top (a mode the script
        pushed later and left on stays until it is: ours then only passes operations through;
        the dispatcher's exit tries again). The weak references are dropped: storages still
        alive are no longer followed."""
        self.counting = False
        self.refs = {}
        if not self.on_stack:
            return
        depth = torch._C._len_torch_dispatch_stack()
        if depth and torch._C._get_dispatch_stack_at(depth - 1) is self:
            self.__exit__(None, None, None)
            self.on_stack = False


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _mallinfo2():
    """glibc's `mallinfo2` (2.33 and later), None elsewhere (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    function.argtypes = []
    return function


_MALLINFO2 = _mallinfo2()


def malloc_in_use() -> int | None:
    """The bytes the C allocator has handed out and not taken back, in every arena and in
    mmapped blocks (glibc); None where that cannot be read. Not the resident set: freed blocks
    glibc keeps for reuse are not in it."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return int(info.uordblks + info.hblkhd)


def _halves(value: object, batch: int) -> bool:
    """Whether `value` (a tensor, or a list, tuple or dict of them) has a tensor whose first
    dimension is the batch."""
    if isinstance(value, torch.Tensor):
        return value.dim() >= 1 and value.shape[0] == batch
    if isinstance(value, (list, tuple)):
        return any(_halves(item, batch) for item in value)
    if isinstance(value, dict):
        return any(_halves(item, batch) for item in value.values())
    return False


def _halved(value: object, batch: int) -> object:
    """`value` with every tensor whose first dimension is the batch cut to its first half."""
    if isinstance(value, torch.Tensor):
        return value[: batch // 2] if value.dim() >= 1 and value.shape[0] == batch else value
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_halved(item, batch) for item in value)
    if isinstance(value, list):
        return [_halved(item, batch) for item in value]
    if isinstance(value, dict) and type(value) is dict:
        return {key: _halved(item, batch) for key, item in value.items()}
    return value


def _tensors(value: object) -> list[torch.Tensor]:
    """The tensors in a model's output: a tensor, a tuple or list, a dict (a transformers
    ModelOutput is one)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [tensor for item in value for tensor in _tensors(item)]
    if isinstance(value, dict):
        return [tensor for item in value.values() for tensor in _tensors(item)]
    return []


def _compiled(module: nn.Module) -> bool:
    """A torch.compile'd model: a dispatch mode on the stack would make dynamo fall back."""
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    return eval_frame is not None and isinstance(module, eval_frame.OptimizedModule)


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
        # CPU (and any device but CUDA): the live bytes of the step's allocations, on top of
        # what was resident when the step began (parameters, gradients, optimizer state).
        self.live: LiveBytes | None = None
        self.resident_before = 0
        self.step_measured = False  # every phase of the first step has its peak
        # The C allocator's bytes in use when the step began (glibc), to see what the step
        # allocated outside torch's tensors (a BLAS library's buffers on first use).
        self.malloc_before: int | None = None
        self.outside_bytes = 0
        self.allocated_before = 0  # CUDA: the allocator's bytes in use when the step began
        # Each phase's peak above what was in use when the step began (live bytes on CPU).
        self.step_growth = {"forward": 0, "backward": 0, "optimizer": 0}
        self.root_calls: list[tuple[nn.Module, tuple, dict]] = []
        # (batch size, peak of forward and backward) measured; how the per-sample memory was
        # found ("two batch sizes", "one batch size") and, with one, why not two.
        self.batch_points: tuple[tuple[int, int], ...] = ()
        self.per_sample_from = ""
        self.per_sample_note = ""

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
        if not self.activations_closed:
            # The model calls of the step's forward: one call can be replayed at half its
            # batch (`_measure_half_batch`). Their inputs are alive through the step anyway.
            self.root_calls.append((call.module, call.args, dict(call.kwargs)))
        if not self.phase:
            self.phase = "forward"
            if self._cuda():
                self.allocated_before = int(torch.cuda.memory_allocated(self.device))
                torch.cuda.reset_peak_memory_stats(self.device)
            elif not any(_compiled(root) for root in self.context.roots.values()):
                self.resident_before = self._resident()
                self.live = LiveBytes()
                self.malloc_before = malloc_in_use()
                self.live.start()
                self.context.on_exit.append(self.live.stop)

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
            self.step_measured = True  # the replay below is not part of the step
            if self.live is not None:
                self._outside()
                self.live.stop()
            self._batch_points()
            self.finish()

    # ---- the per-sample memory: two batch sizes ---------------------------------------------

    def _batch_points(self) -> None:
        """The peak of forward and backward at the step's batch size and, when the step can be
        replayed at half of it, at that size too: the line through the two gives the memory
        each sample adds and what does not grow with the batch (`memory_advice`)."""
        batch = self.batch_size
        if not batch or self.live is None and not self._cuda():
            return
        base = self.allocated_before if self._cuda() else \
            self.resident_before
        full = max(self.step_growth["forward"], self.step_growth["backward"])
        self.batch_points = ((batch, base + full),)
        self.per_sample_from = "one batch size"
        reason = self._cannot_replay()
        if reason:
            self.per_sample_note = reason
            return
        half = self._measure_half_batch()
        if half is not None:
            self.batch_points = ((batch // 2, base + half), (batch, base + full))
            self.per_sample_from = "two batch sizes"

    def _cannot_replay(self) -> str:
        """Why the step's model call cannot be replayed at half its batch ("" when it can)."""
        batch = self.batch_size or 0
        if batch < 2:
            return "a batch of one cannot be halved"
        if len(self.root_calls) != 1:
            return f"the step called its models {len(self.root_calls)} times"
        module = self.root_calls[0][0]
        if _compiled(module):
            return "a compiled model would compile again for the new shape"
        distributed = sys.modules.get("torch.distributed")
        if distributed is not None and distributed.is_available() and \
                distributed.is_initialized():
            return "a distributed step would run collectives the other ranks do not"
        if not any(_halves(value, batch) for value in self._inputs()):
            return f"no input has the batch ({batch}) as its first dimension"
        return ""

    def _inputs(self) -> list:
        _, args, kwargs = self.root_calls[0]
        return [*args, *kwargs.values()]

    def _measure_half_batch(self) -> int | None:
        """Run the step's model call once more on the first half of its own batch, forward and
        backward of every output that carries gradients, isolated: no event reaches the checks
        (`TraceContext.muted`), the gradients, the modules' buffers (batch-norm statistics) and
        the random-number state are put back, and no optimizer steps. The peak above what was
        in use before it, or None when the model raised on the halved batch (then the note
        says why)."""
        module, args, kwargs = self.root_calls[0]
        batch = self.batch_size or 0
        half_args = tuple(_halved(value, batch) for value in args)
        half_kwargs = {key: _halved(value, batch) for key, value in kwargs.items()}
        model = unwrapped(module)
        parameters = list(model.parameters())
        gradients = [parameter.grad for parameter in parameters]
        buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
        rng = torch.get_rng_state()
        cuda = self._cuda()
        cuda_rng = torch.cuda.get_rng_state(self.device) if cuda else None
        live = None
        self.context.muted = True
        try:
            for parameter in parameters:
                parameter.grad = None
            if cuda:
                torch.cuda.synchronize(self.device)
                before = int(torch.cuda.memory_allocated(self.device))
                torch.cuda.reset_peak_memory_stats(self.device)
            else:
                live = LiveBytes()
                live.start()
            with torch.enable_grad():
                output = module(*half_args, **half_kwargs)
                roots = [value for value in _tensors(output) if value.requires_grad]
                del output
                if roots:
                    torch.autograd.backward(roots, [torch.ones_like(root) for root in roots])
                del roots
            if cuda:
                return int(torch.cuda.max_memory_allocated(self.device)) - before
            return live.peak
        except Exception as error:  # noqa: BLE001 - the script's model on a halved batch: said
            self.per_sample_note = (f"the model raised {type(error).__name__} on half the "
                                    f"batch: {str(error)[:200]}")
            return None
        finally:
            if live is not None:
                live.stop()
            self.context.muted = False
            with torch.no_grad():
                for parameter, gradient in zip(parameters, gradients):
                    parameter.grad = gradient
                for buffer, saved in buffers:
                    buffer.copy_(saved)
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state(cuda_rng, self.device)
            if cuda:
                torch.cuda.reset_peak_memory_stats(self.device)

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

    def _resident(self) -> int:
        """Parameters, their gradients and every optimizer's state, as they are now."""
        parameters = self._parameters()
        state = sum(tensor_bytes(list(optimizer.state.values()))
                    for optimizer in {id(o): o for o in self.context.created_optimizers}.values())
        return sum(tensor_bytes(p) + tensor_bytes(p.grad) for p in parameters) + state

    def _outside(self) -> int:
        """What the step has allocated so far outside torch's tensors and still holds (memory
        the C allocator handed out beyond the live tensors': a library's buffers made on first
        use), at least what was seen at an earlier phase's end; 0 where it cannot be read."""
        if self.malloc_before is None or self.live is None:
            return 0
        now = malloc_in_use()
        if now is not None:
            outside = now - self.malloc_before - self.live.live
            if outside >= OUTSIDE_MINIMUM:
                self.outside_bytes = max(self.outside_bytes, outside)
        return self.outside_bytes

    def _source(self) -> str:
        return "allocator" if self._cuda() else "live" if self.live is not None else "tracked"

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
            peak = int(torch.cuda.max_memory_allocated(self.device))
            self.peaks[phase] = max(self.peaks[phase], peak)
            self.step_growth[phase] = max(self.step_growth[phase], peak - self.allocated_before)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.live is not None:
            growth = self.live.take_peak()
            self.step_growth[phase] = max(self.step_growth[phase], growth)
            self.peaks[phase] = max(self.peaks[phase],
                                    self.resident_before + growth)
            self._outside()
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
        if self.phase and not self.done and not self._cuda() and not self.step_measured:
            # A phase cut short (the script raised inside it) still has its peak so far.
            self.peaks[self.phase] = max(
                self.peaks[self.phase],
                self.resident_before + self.live.peak
                if self.live is not None else self._tracked(self.phase))
        return StepMemory(self.device or self.context.seen.device or "cpu", tuple(rows),
                          dict(self.optimizer_state_bytes),
                          PhasePeaks(measured=self._cuda(), source=self._source(),
                                     untracked=self.outside_bytes, **self.peaks),
                          self.batch_size,
                          other_activation_bytes=other,
                          batch_points=self.batch_points,
                          per_sample_from=self.per_sample_from,
                          per_sample_note=self.per_sample_note,
                          activations_partial=context.saved_partial)

    def finish(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.step = self.snapshot()
        self.context.seen.memory = self.step
        self.done = True
        self.saved, self.saved_by = {}, {}
        self.root_calls = []
