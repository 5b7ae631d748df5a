"""Hooks that watch one real training step and record what they see.

`Instruments` installs, as a context manager, global module forward hooks, a TorchFunctionMode,
global optimizer step hooks and a wrapper around `Tensor.backward`; on exit it removes every one
of them, whatever happened inside. Findings carry the user's own source line, taken from the
stack: the innermost frame outside torch, dllint and the standard library.
"""

from __future__ import annotations

import linecache
import math
import os
import sys
import warnings
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks
from torch.overrides import TorchFunctionMode

from dllint.runtime import codes
from dllint.semantic import catalog
from dllint.types import Diagnostic, RelatedLocation, Severity, Span

_LIBRARY_ROOTS = tuple(os.path.dirname(path) + os.sep for path in (
    torch.__file__, os.path.dirname(os.path.dirname(__file__)) + os.sep + "x")) + tuple(
    path + os.sep for path in {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib",
                                                                      "purelib", "platlib")})
# The losses the runtime checks are the static catalog's PyTorch functional losses (its loss
# classes call these): one table for both, so a loss added there is checked here too. Each is
# keyed by its function and named by `F.<name>`'s name.
_FUNCTIONAL = "torch.nn.functional."
LOSSES = {getattr(F, name[len(_FUNCTIONAL):]): name[len(_FUNCTIONAL):]
          for name in catalog.LOSS_FUNCTIONS
          if name.startswith(_FUNCTIONAL) and hasattr(F, name[len(_FUNCTIONAL):])}
# Losses whose target must have the prediction's shape (they broadcast, or raise, otherwise).
ELEMENTWISE_LOSSES = frozenset(name[len(_FUNCTIONAL):] for name in catalog.SAME_SHAPE_LOSSES
                               if name.startswith(_FUNCTIONAL))
RISKY = frozenset({
    torch.log, torch.log2, torch.log10, torch.log1p, torch.exp, torch.sqrt, torch.rsqrt,
    torch.div, torch.true_divide, torch.pow, torch.reciprocal, torch.logsumexp,
    torch.Tensor.log, torch.Tensor.log2, torch.Tensor.log10, torch.Tensor.log1p,
    torch.Tensor.exp, torch.Tensor.sqrt, torch.Tensor.rsqrt, torch.Tensor.div,
    torch.Tensor.__truediv__, torch.Tensor.__rtruediv__, torch.Tensor.pow, torch.Tensor.__pow__,
    torch.Tensor.reciprocal, F.log_softmax, F.softmax, torch.Tensor.logsumexp,
})
ELEMENTWISE = frozenset({
    torch.Tensor.__sub__, torch.Tensor.__rsub__, torch.Tensor.__add__, torch.Tensor.__radd__,
    torch.Tensor.__mul__, torch.Tensor.__rmul__, torch.Tensor.__truediv__, torch.sub, torch.add,
    torch.mul, torch.div, torch.Tensor.sub, torch.Tensor.add, torch.Tensor.mul,
})
MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm)
# Layers whose input is integer ids (token ids, class indices), by design.
INTEGER_INPUT_LAYERS = (nn.Embedding, nn.EmbeddingBag)


def unwrapped(module: nn.Module) -> nn.Module:
    """The model inside torch.compile / DDP / DataParallel / FSDP wrappers, whose names the user
    knows. torch._dynamo and FSDP are looked up only if the script imported them."""
    for _ in range(4):
        dynamo = sys.modules.get("torch._dynamo.eval_frame")
        fsdp = sys.modules.get("torch.distributed.fsdp.fully_sharded_data_parallel")
        if dynamo is not None and isinstance(module, dynamo.OptimizedModule):
            inner = module._orig_mod
        elif isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)) or (
                fsdp is not None and isinstance(module, fsdp.FullyShardedDataParallel)):
            inner = module.module
        else:
            return module
        if not isinstance(inner, nn.Module):
            return module
        module = inner
    return module


def _variable_name(module: nn.Module, inner: nn.Module) -> str | None:
    """The name the script's own code holds `module` under, looking through the user frames
    from the innermost out: a local or global variable, or `Owner.path` inside an `nn.Module`
    bound to `self` that contains it (a LightningModule's `self.net`)."""
    frame = sys._getframe(2)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            owner = frame.f_locals.get("self")
            if isinstance(owner, nn.Module) and owner is not module and owner is not inner:
                for path, child in owner.named_modules():
                    if path and (child is module or child is inner):
                        return f"{type(owner).__name__}.{path}"
            for namespace in (frame.f_locals, frame.f_globals):
                for name, value in namespace.items():
                    if (value is module or value is inner) and not name.startswith("_") \
                            and name != "self":
                        return name
        frame = frame.f_back
    return None


def _compiling() -> bool:
    """Whether torch.compile is tracing the model right now. The instruments then stay out of
    the graph: instrumenting every layer would break a compiled model into pieces (and change
    what is measured), so the compiled model is observed as one module from outside."""
    is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    return bool(is_compiling and is_compiling())


class StopTracing(BaseException):
    """Raised from the optimizer hook once enough steps ran. A BaseException, so a script's
    `except Exception` does not swallow it."""


def is_user_file(filename: str) -> bool:
    return not filename.startswith(_LIBRARY_ROOTS) and not filename.startswith("<")


def user_location() -> tuple[str, int]:
    frame = sys._getframe(1)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return "<unknown>", 1


def _line_span(path: str, line: int) -> Span:
    """The code on a source line (the runtime knows lines, not columns)."""
    text = linecache.getline(path, line).rstrip("\r\n")
    code = text.split("#", 1)[0].rstrip() if "#" in text else text.rstrip()
    indent = len(text) - len(text.lstrip())
    if not code.strip():
        return Span.point(line)
    return Span(line, indent + 1, line, len(code) + 1)


def _shape(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        sizes = [str(size) for size in value.shape]
        return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_shape(item) for item in value[:4]) + "]"
    entries = _entries(value)
    if entries:  # a ModelOutput or another dict or dataclass: the tensors it carries, by name
        return "{" + ", ".join(f"{key}: {_shape(item)}" for key, item in entries[:4]) + \
            (", …" if len(entries) > 4 else "") + "}"
    return type(value).__name__


def _entries(value: Any) -> list[tuple[str, Any]]:
    """The named items of a dict-like or dataclass output, tensors first (an output object's
    loss and logits before the caches it also carries)."""
    if isinstance(value, Mapping):
        items = [(str(key), item) for key, item in value.items()]
    elif is_dataclass(value) and not isinstance(value, type):
        items = [(item.name, getattr(value, item.name, None)) for item in fields(value)]
    else:
        return []
    items = [(key, item) for key, item in items if item is not None]
    return sorted(items, key=lambda entry: not isinstance(entry[1], torch.Tensor))


def _dtype(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(value.dtype).replace("torch.", "")
    if isinstance(value, (tuple, list)) and value:
        return _dtype(value[0])
    entries = _entries(value)
    return _dtype(entries[0][1]) if entries else "-"


def _parameter_counts(module: nn.Module) -> tuple[int, int, int]:
    """(parameters, trainable parameters, bytes of parameters) of a module and its children, a
    shared parameter counted once; a lazy module's unmaterialized parameters count nothing."""
    total = trainable = size = 0
    for parameter in module.parameters():
        if isinstance(parameter, nn.parameter.UninitializedParameter):
            continue
        total += parameter.numel()
        trainable += parameter.numel() if parameter.requires_grad else 0
        size += parameter.numel() * parameter.element_size()
    return total, trainable, size


def _float_tensors(values) -> list[torch.Tensor]:
    found = []
    for value in values:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(_float_tensors(value))
    return found


def _finite(tensor: torch.Tensor) -> bool:
    # A sum is non-finite whenever an element is (NaN and inf propagate), and it allocates no
    # mask the size of the activation: the exact check runs only when the sum is suspicious.
    with torch.no_grad():
        if bool(torch.isfinite(tensor.sum())):
            return True
        return bool(torch.isfinite(tensor).all())


def local(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's own part of a DTensor (FSDP2, tensor parallel): what the tracer reads, since
    reading the whole would be a collective the other ranks are not making."""
    to_local = getattr(tensor, "to_local", None)
    return to_local() if to_local is not None and type(tensor).__name__ == "DTensor" else tensor


def read_vectors(tensors: list[torch.Tensor]) -> list[list[float]]:
    """Every value of many tensors, one list per tensor, with one host read per device rather
    than one per tensor: every read waits for the device to finish its queue, which is what
    makes a traced step slow."""
    tensors = [local(tensor) for tensor in tensors]
    by_device: dict[torch.device, list[int]] = {}
    for index, tensor in enumerate(tensors):
        by_device.setdefault(tensor.device, []).append(index)
    result: list[list[float]] = [[] for _ in tensors]
    for indices in by_device.values():
        numbers = torch.cat([tensors[i].detach().reshape(-1).to(
            torch.float64 if tensors[i].device.type != "mps" else torch.float32)
            for i in indices]).tolist()
        offset = 0
        for index in indices:
            size = tensors[index].numel()
            result[index] = numbers[offset:offset + size]
            offset += size
    return result


def read_all(values: list[torch.Tensor]) -> list[float]:
    """0-dim tensors as floats, with one host read per device."""
    return [numbers[0] if numbers else math.nan for numbers in read_vectors(values)]


def _sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    """One device scalar that is finite iff every tensor is (NaN and inf propagate through a
    sum). Half-precision tensors are summed in float32 so that large finite values do not
    overflow; no mask the size of the activation is allocated, and nothing is read back."""
    with torch.no_grad():
        total = None
        for tensor in map(local, tensors):
            part = tensor.detach().sum(dtype=torch.float64 if tensor.dtype == torch.float64
                                       else torch.float32)
            total = part if total is None else total + part.to(total.device)
        return total


def _norms(tensors: list[torch.Tensor]) -> list[float]:
    """The norms of many tensors (gradients) with one host read per device."""
    if not tensors:
        return []
    with torch.no_grad():
        return read_all([local(tensor).detach().float().norm() for tensor in tensors])


def _fingerprints(parameters: list[torch.Tensor]) -> list[tuple[float, float]]:
    """Sum and sum of squares of each parameter, read back at once: the sum alone misses real
    updates (a cross-entropy gradient for a linear classifier sums to zero over the classes, so
    SGD leaves each layer's sum as it was)."""
    with torch.no_grad():
        values = []
        for parameter in map(local, parameters):
            data = parameter.detach().double() if parameter.device.type != "mps" else \
                parameter.detach().float()
            values += [data.sum(), (data * data).sum()]
        numbers = read_all(values)
    return list(zip(numbers[0::2], numbers[1::2]))


def _made_by(tensor: torch.Tensor, operation: str, depth: int = 4) -> bool:
    """Whether `tensor` comes from `operation` (SigmoidBackward...) through a few view-like steps:
    logits of an untrained net can lie in [0, 1] too, so the value range alone is no proof."""
    node = tensor.grad_fn
    for _ in range(depth):
        if node is None:
            return False
        if operation in type(node).__name__:
            return True
        node = next((child for child, _ in node.next_functions if child is not None), None)
    return False


def _range(tensor: torch.Tensor) -> str:
    detached = tensor.detach()
    if detached.numel() == 0:
        return "empty"
    finite = detached[torch.isfinite(detached)] if detached.is_floating_point() else detached
    if finite.numel() == 0:
        return "all non-finite"
    return f"[{float(finite.min()):.4g}, {float(finite.max()):.4g}]"


@dataclass
class ModuleRecord:
    name: str
    kind: str
    inputs: str
    outputs: str
    dtype: str
    training: bool
    device: str
    # Of the module and its children (the report's params column and total line).
    parameters: int = 0
    trainable: int = 0
    parameter_bytes: int = 0
    # The wrapper the model was called through when it alone was seen ("OptimizedModule": the
    # modules inside a torch.compile graph run without hooks).
    wrapper: str = ""


@dataclass
class Observations:
    # The module table: one row per module, as the first training step saw it (a forward with
    # gradients enabled replaces a row recorded in an earlier no_grad pass, such as Lightning's
    # sanity-check validation).
    modules: dict[int, ModuleRecord] = field(default_factory=dict)
    # Training losses of the first step (loss function name, value); eval losses are left out.
    losses: list[tuple[str, float]] = field(default_factory=list)
    gradient_norms: dict[str, float] = field(default_factory=dict)
    no_gradient: list[str] = field(default_factory=list)  # no gradient on the first step
    zero_gradient: list[str] = field(default_factory=list)  # all-zero in every step run
    steps: int = 0
    backward_calls: int = 0
    device: str = ""
    findings: list[Diagnostic] = field(default_factory=list)


class _Watcher(TorchFunctionMode):
    def __init__(self, instruments: Instruments) -> None:
        super().__init__()
        self.instruments = instruments

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not self.instruments.full_checks or _compiling():
            return func(*args, **kwargs)
        if self.instruments.overfit and func in LOSSES:
            args = self.instruments.replay_target(func, args, kwargs)
        result = func(*args, **kwargs)
        instruments = self.instruments
        try:
            if func in LOSSES:
                instruments.check_loss(LOSSES[func], args, kwargs, result)
            elif func in RISKY and not instruments.seen_non_finite:
                instruments.check_risky(func, args, kwargs, result)
            if func in ELEMENTWISE and not instruments.depth:
                instruments.check_broadcast(func, args, result)
        except StopTracing:
            raise
        except Exception as error:  # noqa: BLE001 - an instrument bug must not look like the user's
            instruments.instrument_error(error)
        return result


class Instruments:
    def __init__(self, steps: int = 1, overfit: int | None = None) -> None:
        self.max_steps = overfit or steps
        self.overfit = overfit
        # Overfit mode: the first batch, captured per (root module, call ordinal, phase), and
        # the loss targets per (loss-call ordinal, phase); the phase is the optimizer that
        # stepped last (None before the first step), so GAN-style loops replay consistently.
        self.captured_inputs: dict[tuple, tuple] = {}
        self.captured_targets: dict[tuple, torch.Tensor] = {}
        self.root_ordinals: dict[int, int] = {}
        self.loss_ordinal = 0
        self.last_optimizer: int | None = None
        self.primary_root: nn.Module | None = None
        self.replay_loss: tuple | None = None
        # Loss curves, one per optimizer, and what the verdict points at.
        # One point per optimizer step, kept on the device until `finish` reads them all.
        self.curves: dict[int, list[float | torch.Tensor]] = {}
        self.optimizer_names: dict[int, str] = {}
        self.optimizer_created: dict[int, tuple[str, int]] = {}
        self.loss_location: tuple[str, int] | None = None
        self.step_loss_values: list[float] = []
        self.step_backward_values: list[torch.Tensor] = []
        self.chance: tuple[str, float] | None = None
        self.initial_loss: float | None = None
        # Gradient accumulation: parameters an optimizer stepped whose gradient has not been
        # seen cleared at any backward since (id -> parameter), with the norms and places seen.
        self.stale: dict[int, torch.Tensor] = {}
        self.stale_norms: dict[int, float] = {}
        self.stale_location: dict[int, tuple[str, int]] = {}
        self.created_optimizers: list[torch.optim.Optimizer] = []
        self.first_step_changed: bool | None = None
        self.seen = Observations()
        self.depth = 0
        self.names: dict[int, str] = {}
        self.roots: dict[int, nn.Module] = {}
        self.unregistered: dict[int, nn.Module] = {}
        self.seen_non_finite = False
        self.reported: set[tuple[str, str, int]] = set()
        self.optimizer_steps: dict[int, int] = {}
        self.backward_since_step = 0
        self.weights_before: dict[int, float] = {}
        self.step_forward_modes: list[tuple[nn.Module, bool, tuple[str, int]]] = []
        self.first_input_checked = False
        self.first_cross_entropy = True
        # The first training step runs every check; later steps run only those that cost no
        # host read beyond one per step (the finiteness flags), so a traced step stays close to
        # a plain one. --overfit keeps every check on: it replays batches through them.
        self.full_checks = True
        # Finiteness flags of this step, on the device: a scalar per module output (and per
        # root input and backpropagated loss) that is non-finite iff the tensor was, with who
        # made it: (what, name, module type, where). Gradients are checked on the first step.
        self.flag_values: list[torch.Tensor] = []
        self.flag_owners: list[tuple[str, str, str, tuple[str, int]]] = []
        self.training_rows: set[int] = set()
        self.root_location: tuple[str, int] = ("<unknown>", 1)
        self.root_names: set[str] = set()
        # Gradient flow is judged over every step run, not the first alone: a zero-initialized
        # residual branch gets zero gradients on step one only. Parameters without gradient (or
        # with an all-zero one) so far, by id: (name, parameter).
        self.pending_no_gradient: dict[int, tuple[str, torch.Tensor]] = {}
        self.pending_zero_gradient: dict[int, tuple[str, torch.Tensor]] = {}
        self.gradient_location: tuple[str, int] | None = None
        self.extended_for_closure = False
        # A loss that is constant by construction (cross_entropy over one class): the zero
        # gradients it causes are reported as its consequence, not on their own.
        self.constant_loss = False
        self.finished = False
        self.in_backward = False
        self.errors: list[str] = []
        self._handles: list[Any] = []
        self._watcher: _Watcher | None = None
        self._original_backward: Callable | None = None

    # ---- installing and removing ------------------------------------------------------------

    def __enter__(self) -> Instruments:
        # torch.compile warns, every step, that global module hooks exist: they are ours, and
        # the compiled model is observed from outside on purpose.
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=r"Using `torch.compile\(module\)` when there "
                                                  r"are global hooks on modules")
        self._handles = [
            module_hooks.register_module_forward_pre_hook(self.before_forward),
            module_hooks.register_module_forward_hook(self.after_forward, always_call=True),
            optimizer_hooks.register_optimizer_step_pre_hook(self.before_step),
            optimizer_hooks.register_optimizer_step_post_hook(self.after_step),
        ]
        self._original_backward = torch.Tensor.backward
        instruments = self

        def backward(tensor, *args, **kwargs):
            # A function mode on the stack (ours, or the script's) dispatches Tensor.backward
            # through __torch_function__, which calls this wrapper again: count it once.
            if instruments.in_backward:
                return instruments._original_backward(tensor, *args, **kwargs)
            instruments.in_backward = True
            try:
                instruments.before_backward(tensor)
                return instruments._original_backward(tensor, *args, **kwargs)
            finally:
                instruments.in_backward = False

        torch.Tensor.backward = backward  # type: ignore[method-assign]
        self._original_optimizer_init = torch.optim.Optimizer.__init__

        def optimizer_init(optimizer, *args, **kwargs):
            instruments.optimizer_created.setdefault(id(optimizer), user_location())
            result = instruments._original_optimizer_init(optimizer, *args, **kwargs)
            instruments.created_optimizers.append(optimizer)
            return result

        torch.optim.Optimizer.__init__ = optimizer_init  # type: ignore[method-assign]
        self._watcher = _Watcher(self)
        self._watcher.__enter__()
        self.watcher_on_stack = True
        return self

    def suspend_watcher(self) -> None:
        """Take the function mode off once the one-off checks are done: every torch call of the
        script pays for a mode on the stack. Only when it is on top (a mode the script pushed
        later stays, and ours then only passes calls through)."""
        compiled = (sys.modules.get("torch._dynamo.eval_frame") is not None and any(
            isinstance(root, sys.modules["torch._dynamo.eval_frame"].OptimizedModule)
            for root in self.roots.values()))
        if compiled:
            return  # the compiled graphs guard on the mode stack: popping it would recompile
        if self.watcher_on_stack and torch._C._len_torch_function_stack() > 0 and \
                torch._C._get_function_stack_at(
                    torch._C._len_torch_function_stack() - 1) is self._watcher:
            torch.overrides._pop_mode()
            self.watcher_on_stack = False

    def __exit__(self, *exc_info) -> None:
        # Undo in reverse order; each step runs even if an earlier one fails.
        try:
            if self._watcher is not None and self.watcher_on_stack:
                self.watcher_on_stack = False
                self._watcher.__exit__(None, None, None)
        finally:
            if self._original_backward is not None:
                torch.Tensor.backward = self._original_backward  # type: ignore[method-assign]
            if getattr(self, "_original_optimizer_init", None) is not None:
                torch.optim.Optimizer.__init__ = self._original_optimizer_init  # type: ignore
            for handle in self._handles:
                handle.remove()
            self._handles = []
            if getattr(self, "_warnings", None) is not None:
                self._warnings.__exit__(None, None, None)
                self._warnings = None

    # ---- findings ---------------------------------------------------------------------------

    def find(self, entry, message: str, evidence: dict | None = None,
             where: tuple[str, int] | None = None, severity: Severity | None = None,
             related: tuple[tuple[str, int, str], ...] = ()) -> None:
        path, line = where or user_location()
        key = (entry.code, path, line)
        if key in self.reported:
            return
        self.reported.add(key)
        self.seen.findings.append(Diagnostic(
            entry.code, entry.name, message, severity or entry.severity, path,
            _line_span(path, line),
            tuple(RelatedLocation(other, _line_span(other, number), note)
                  for other, number, note in related if other != "<unknown>"),
            evidence=evidence or {}))

    def instrument_error(self, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"
        if text not in self.errors:
            self.errors.append(text)

    def name_of(self, module: nn.Module) -> str:
        return self.names.get(id(module), type(module).__name__)

    # ---- modules ----------------------------------------------------------------------------

    def before_forward(self, module: nn.Module, args):
        if _compiling():
            return None  # see `_compiling`
        replaced = None
        try:
            if self.depth == 0 and self.overfit and torch.is_grad_enabled() and module.training \
                    and not isinstance(module, nn.modules.loss._Loss):
                replaced = self.replay_inputs(module, args)
                if replaced is not None:
                    args = replaced
            if self.depth == 0:
                self.enter_root(module, args)
            elif id(module) not in self.names:
                # Called inside a model but not registered in it: a layer with weights kept in a
                # plain list or dict (a loss or an activation built inline is harmless).
                if next(module.parameters(), None) is not None:
                    self.unregistered[id(module)] = module
                    self.names[id(module)] = f"{type(module).__name__} (not registered)"
                else:
                    self.names[id(module)] = type(module).__name__
            if isinstance(module, MODE_DEPENDENT) and (self.full_checks or (
                    module.training and not torch.is_grad_enabled())):
                where = user_location()
                if torch.is_grad_enabled():
                    self.step_forward_modes.append((module, module.training, where))
                elif module.training:
                    self.find(codes.MODE, f"`{self.name_of(module)}` ({type(module).__name__}) is "
                                          "in training mode during inference under no_grad: "
                                          "call `model.eval()` first",
                              {"module": self.name_of(module), "mode": "train",
                               "grad_enabled": False}, where)
            if self.full_checks:
                self.check_layer_dtype(module, args)
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)
        self.depth += 1
        return replaced

    @staticmethod
    def _replaceable(current, captured) -> bool:
        """Same structure and shapes, and nothing that carries gradients (a generator's output
        feeding a discriminator must stay live)."""
        current_tensors = [v for v in current if isinstance(v, torch.Tensor)]
        captured_tensors = [v for v in captured if isinstance(v, torch.Tensor)]
        return len(current) == len(captured) and len(current_tensors) == len(captured_tensors) \
            and all(a.shape == b.shape and not a.requires_grad
                    for a, b in zip(current_tensors, captured_tensors))

    def replay_inputs(self, module: nn.Module, args):
        ordinal = self.root_ordinals.get(id(module), 0)
        self.root_ordinals[id(module)] = ordinal + 1
        if self.primary_root is None:
            self.primary_root = module
        key = (id(module), ordinal, self.last_optimizer)
        captured = self.captured_inputs.get(key) or self.captured_inputs.get(
            (id(module), ordinal, None))
        if captured is None:
            if all(not (isinstance(v, torch.Tensor) and v.requires_grad) for v in args):
                self.captured_inputs[key] = tuple(
                    v.detach().clone() if isinstance(v, torch.Tensor) else v for v in args)
            return None
        return captured if self._replaceable(args, captured) else None

    def replay_target(self, func, args, kwargs):
        if len(args) < 2 or not isinstance(args[1], torch.Tensor) or args[1].requires_grad:
            return args
        ordinal, self.loss_ordinal = self.loss_ordinal, self.loss_ordinal + 1
        key = (ordinal, self.last_optimizer)
        captured = self.captured_targets.get(key)
        if captured is None:
            captured = self.captured_targets.get((ordinal, None))
        if captured is None:
            self.captured_targets[key] = args[1].detach().clone()
            if self.replay_loss is None and isinstance(args[0], torch.Tensor):
                self.replay_loss = (func, self.captured_targets[key],
                                    {k: v for k, v in kwargs.items() if k != "target"},
                                    tuple(args[0].shape))
            return args
        if captured.shape != args[1].shape:
            return args
        return (args[0], captured, *args[2:])

    def enter_root(self, module: nn.Module, args) -> None:
        if id(module) not in self.roots:
            self.roots[id(module)] = module
            root_name = self.root_name(module)
            for name, child in unwrapped(module).named_modules():
                self.names.setdefault(id(child), f"{root_name}.{name}" if name else root_name)
            self.names.setdefault(id(module), root_name)  # the wrapper (torch.compile, DDP)
        self.root_location = user_location()
        if not self.seen_non_finite and not isinstance(module, nn.modules.loss._Loss):
            inputs = _float_tensors(args)
            if inputs:  # flagged before the modules inside run, so it comes first
                self.flag(_sum(inputs), "input", self.name_of(module), self.root_location)
        parameter = next(module.parameters(), None)
        if parameter is not None and not self.seen.device:
            self.seen.device = str(parameter.device)
        if not self.first_input_checked and not isinstance(module, nn.modules.loss._Loss):
            tensors = _float_tensors(args)
            if tensors:
                self.first_input_checked = True
                self.check_input_scale(tensors[0])

    def root_name(self, module: nn.Module) -> str:
        """The name a person knows the model by: the script's variable holding it (`generator`,
        `discriminator`), else `Owner.attribute` when it lives in a module that is never called
        itself (a LightningModule's `net`), else its class; wrappers (torch.compile, DDP) are
        looked through. Two models of one class never share a name."""
        inner = unwrapped(module)
        name = _variable_name(module, inner) or type(inner).__name__
        unique, number = name, 2
        while unique in self.root_names:
            unique, number = f"{name}#{number}", number + 1
        self.root_names.add(unique)
        return unique

    def after_forward(self, module: nn.Module, args, output) -> None:
        if _compiling():
            return
        self.depth = max(0, self.depth - 1)
        try:
            # A wrapper (DDP, torch.compile) is the model it wraps: one row, for the model; the
            # wrapper's own, only when the model's forward ran unseen (compiled).
            inner = unwrapped(module)
            if self.seen.steps == 0 and (inner is module or id(inner) not in self.seen.modules) \
                    and (id(module) not in self.seen.modules or (
                        id(module) not in self.training_rows and torch.is_grad_enabled())):
                parameter = next(module.parameters(recurse=False), None)
                self.seen.modules[id(module)] = ModuleRecord(
                    self.name_of(module), type(inner).__name__, _shape(list(args)),
                    _shape(output), _dtype(output), module.training,
                    str(parameter.device) if parameter is not None else "",
                    *_parameter_counts(module), "" if inner is module else type(module).__name__)
                if torch.is_grad_enabled():
                    self.training_rows.add(id(module))
            if not self.seen_non_finite:
                outputs = _float_tensors([output])
                if outputs:
                    where = user_location() if self.full_checks else self.root_location
                    self.flag(_sum(outputs), "module", self.name_of(module), where,
                              type(module).__name__)
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)

    # ---- finiteness flags: kept on the device, read once per step ---------------------------

    def flag(self, value: torch.Tensor, what: str, name: str, where: tuple[str, int],
             kind: str = "") -> None:
        self.flag_values.append(value)
        self.flag_owners.append((what, name, kind, where))

    def read_flags(self) -> None:
        """One host read for every flag of the step; the first non-finite one is reported."""
        values, owners = self.flag_values, self.flag_owners
        self.flag_values, self.flag_owners = [], []
        if not values or self.seen_non_finite:
            return
        first_bad = next((index for index, number in enumerate(read_all(values))
                          if not math.isfinite(number)), None)
        if first_bad is None:
            return
        what, name, kind, where = owners[first_bad]
        self.seen_non_finite = True
        step = self.seen.steps + 1
        if what == "input":
            message = f"the input of `{name}` already holds inf/NaN (step {step}): check the data"
        elif what == "module":
            message = (f"`{name}` ({kind}) produced inf/NaN from finite inputs" if step == 1 else
                       f"`{name}` ({kind}) produced the first inf/NaN output of step {step}")
        else:
            message = f"the loss became inf/NaN at step {step}"
        self.find(codes.NON_FINITE, message, {"module": name, "step": step}, where)

    def check_layer_dtype(self, module: nn.Module, args) -> None:
        parameter = next(module.parameters(recurse=False), None)
        if parameter is None or not parameter.is_floating_point():
            return
        # Integer ids are what embeddings take, and a module of the script's own (or of a
        # library) may index with them: only torch's float layers must not get integers.
        integers_wrong = type(module).__module__.startswith("torch.nn.") and \
            not isinstance(module, INTEGER_INPUT_LAYERS)
        for value in args[:1]:
            if isinstance(value, torch.Tensor) and value.dtype != parameter.dtype and (
                    value.dtype == torch.float64 or (not value.is_floating_point()
                                                     and integers_wrong)):
                self.find(codes.DTYPES, f"a {_dtype(value)} tensor reaches `{self.name_of(module)}` "
                                        f"({type(module).__name__}), whose weights are "
                                        f"{_dtype(parameter)}; convert the input with `.float()`",
                          {"module": self.name_of(module), "input_dtype": _dtype(value),
                           "weight_dtype": _dtype(parameter)})

    def check_input_scale(self, tensor: torch.Tensor) -> None:
        data = tensor.detach().float()
        if data.numel() < 2 or not _finite(data):
            return
        low, high = float(data.min()), float(data.max())
        mean, std = float(data.mean()), float(data.std())
        evidence = {"min": low, "max": high, "mean": mean, "std": std, "shape": _shape(tensor)}
        if 0 <= low and 0 < high <= codes.TWICE_SCALED_MAX:
            self.find(codes.INPUT_SCALE, f"the model's input lies in [{low:.3g}, {high:.3g}]: it "
                                         "looks scaled to [0, 1] twice (e.g. ToTensor then / 255)",
                      evidence)
        elif low >= 0 and high > codes.UNSCALED_MAX and high <= 255 and data.dim() >= 3:
            self.find(codes.INPUT_SCALE, f"the model's input lies in [{low:.3g}, {high:.3g}]: it "
                                         "looks like 0-255 pixels that were never scaled", evidence)
        elif abs(mean) > codes.FAR_FROM_NORMALIZED or std > codes.FAR_FROM_NORMALIZED:
            self.find(codes.INPUT_SCALE, f"the model's input has mean {mean:.3g} and std "
                                         f"{std:.3g}: far from normalized", evidence)

    # ---- functions --------------------------------------------------------------------------

    def check_risky(self, func, args, kwargs, result) -> None:
        outputs = _float_tensors([result])
        if not outputs or all(_finite(t) for t in outputs):
            return
        inputs = _float_tensors(list(args) + list(kwargs.values()))
        if all(_finite(t) for t in inputs):
            self.seen_non_finite = True
            name = getattr(func, "__name__", str(func))
            self.find(codes.NON_FINITE, f"`{name}` produced inf/NaN from finite inputs (first "
                                        "non-finite value of the step); add an epsilon or clamp",
                      {"op": name, "input_ranges": [_range(t) for t in inputs][:3]})

    def check_broadcast(self, func, args, result) -> None:
        tensors = [value for value in args[:2] if isinstance(value, torch.Tensor)]
        if len(tensors) != 2 or not isinstance(result, torch.Tensor):
            return
        small = min(tensor.numel() for tensor in tensors)
        if small > 1 and result.numel() > max(tensor.numel() for tensor in tensors):
            shapes = [_shape(tensor) for tensor in tensors]
            self.find(codes.BROADCAST, f"{shapes[0]} and {shapes[1]} broadcast to "
                                       f"{_shape(result)}: a size-1 axis met a size-N axis",
                      {"shapes": shapes, "result": _shape(result)})

    def check_loss(self, name: str, args, kwargs, result) -> None:
        prediction = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if not isinstance(prediction, torch.Tensor) or not isinstance(target, torch.Tensor):
            return
        value = float(result.detach()) if isinstance(result, torch.Tensor) and result.numel() == 1 \
            else math.nan
        # A training loss carries the graph; a validation loss (under no_grad, or a test()
        # function's) is checked for its contract but is no point of the training curve.
        training = isinstance(result, torch.Tensor) and result.requires_grad
        if training:
            if self.seen.steps == 0 and len(self.seen.losses) < 10000:
                self.seen.losses.append((name, value))
            self.step_loss_values.append(value)
            if self.initial_loss is None:
                self.initial_loss = value
            if self.loss_location is None:
                self.loss_location = user_location()
        if self.chance is None and training:
            if name == "cross_entropy" and prediction.dim() >= 2 and prediction.shape[1] > 1:
                self.chance = (f"ln({prediction.shape[1]})", math.log(prediction.shape[1]))
            elif name in ("binary_cross_entropy_with_logits", "binary_cross_entropy"):
                self.chance = ("ln(2)", math.log(2))
        if isinstance(result, torch.Tensor) and not _finite(result.detach()):
            if not self.seen_non_finite:
                self.seen_non_finite = True
                self.find(codes.NON_FINITE, f"the loss `{name}` is {value}",
                          {"loss": str(value), "input_range": _range(prediction)})
        data = prediction.detach()
        if name in ELEMENTWISE_LOSSES and prediction.shape != target.shape:
            self.find(codes.BROADCAST, f"`{name}` gets input {_shape(prediction)} and target "
                                       f"{_shape(target)}: they broadcast instead of matching",
                      {"input": _shape(prediction), "target": _shape(target)})
        if name in ELEMENTWISE_LOSSES and prediction.is_floating_point() and \
                target.is_floating_point() and prediction.dtype != target.dtype:
            self.find(codes.DTYPES, f"`{name}` mixes {_dtype(prediction)} input and "
                                    f"{_dtype(target)} target",
                      {"input": _dtype(prediction), "target": _dtype(target)})
        if name in ("cross_entropy", "nll_loss") and data.dim() >= 2:
            self.check_classification(name, data, target, kwargs, value, training)
        if name == "binary_cross_entropy_with_logits" and _made_by(prediction, "Sigmoid") and \
                float(data.min()) >= 0 and float(data.max()) <= 1:
            self.find(codes.LOSS_CONTRACT, "`binary_cross_entropy_with_logits` gets values all in "
                                           f"{_range(data)}: these look like sigmoid outputs, "
                                           "but the loss applies sigmoid itself; pass the logits",
                      {"input_range": _range(data)})

    def check_classification(self, name, data, target, kwargs, value, training) -> None:
        classes = data.shape[1]
        if name == "cross_entropy" and classes == 1:
            # Softmax over one class is 1 whatever the logit: the loss is 0 (or constant with
            # probability targets) and every gradient is zero. Seen in a public tutorial.
            self.constant_loss = True
            self.find(codes.LOSS_CONTRACT, "`cross_entropy` gets a single class (input "
                                           f"{_shape(data)}): softmax over one class is always "
                                           "1, so the loss is constant and nothing is learned; "
                                           "for a binary target use one output with "
                                           "`binary_cross_entropy_with_logits`, or two outputs "
                                           "with `cross_entropy`",
                      {"classes": 1, "loss": value, "target": _shape(target)})
            return
        rows = data.transpose(0, 1).reshape(classes, -1)
        non_negative = float(data.min()) >= 0
        sums = rows.sum(dim=0)
        sums_to_one = bool(((sums - 1).abs() <= codes.ROW_SUM_TOLERANCE).all())
        evidence = {"input_range": _range(data),
                    "row_sums": f"[{float(sums.min()):.4g}, {float(sums.max()):.4g}]"}
        if name == "cross_entropy" and non_negative and sums_to_one:
            self.find(codes.LOSS_CONTRACT, "`cross_entropy` gets probabilities (non-negative rows "
                                           "summing to 1), but it applies log-softmax itself; "
                                           "pass the logits", evidence)
        elif name == "nll_loss" and float(data.max()) > 0:
            what = "softmax probabilities" if non_negative and sums_to_one else "positive values"
            self.find(codes.LOSS_CONTRACT, f"`nll_loss` gets {what}, but it expects "
                                           "log-probabilities (all <= 0); use `log_softmax`",
                      evidence)
        if not target.is_floating_point():
            ignore = kwargs.get("ignore_index", -100)
            valid = target[target != ignore]
            if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= classes):
                self.find(codes.LOSS_CONTRACT, f"class targets range over [{int(valid.min())}, "
                                               f"{int(valid.max())}] but the input has {classes} "
                                               "classes", {"classes": classes,
                                                           "target_range": _range(valid)})
        elif target.shape != data.shape:
            self.find(codes.LOSS_CONTRACT, f"`{name}` gets {_dtype(target)} class targets of shape "
                                           f"{_shape(target)}; class indices must be int64",
                      {"target_dtype": _dtype(target)})
        if name == "cross_entropy" and training and self.first_cross_entropy and \
                not math.isnan(value):
            self.first_cross_entropy = False
            chance = math.log(classes)
            if value > codes.CHANCE_FACTOR * chance + 1:
                self.find(codes.LOSS_CONTRACT, f"initial loss {value:.3g} is far above its chance "
                                               f"value ln({classes}) = {chance:.3g}: check the "
                                               "output layer's scale and the labels",
                          {"initial_loss": value, "chance": chance}, severity=Severity.WARNING)

    # ---- backward and optimizer steps -------------------------------------------------------

    def optimizer_parameters(self) -> list[torch.Tensor]:
        optimizers = {id(o): o for o in [*self.created_optimizers, *self._optimizers.values()]}
        return [parameter for optimizer in optimizers.values()
                for group in optimizer.param_groups for parameter in group["params"]]

    @property
    def _optimizers(self) -> dict[int, torch.optim.Optimizer]:
        return self.__dict__.setdefault("_optimizer_objects", {})

    def before_backward(self, tensor: torch.Tensor) -> None:
        try:
            self.seen.backward_calls += 1
            if tensor.numel() == 1:
                value = tensor.detach()
                self.step_backward_values.append(value)
                if not self.seen_non_finite and value.is_floating_point():
                    self.flag(value, "loss", "loss", user_location())
            if self.stale:
                self.refresh_stale()
            self.backward_since_step += 1
            if self.seen.backward_calls == 1:
                for module, training, where in self.step_forward_modes:
                    if not training:
                        self.find(codes.MODE, f"`{self.name_of(module)}` ({type(module).__name__})"
                                              " is in eval mode during a training step: call "
                                              "`model.train()`",
                                  {"module": self.name_of(module), "mode": "eval"}, where)
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)

    def refresh_stale(self) -> None:
        """A parameter seen without gradient at a backward is fresh again (zero_grad or
        grad = None ran); one still holding last step's gradient stays stale. Gradients that are
        None cost nothing to check; the others are read back together."""
        holding = []
        for key, parameter in list(self.stale.items()):
            if parameter.grad is None:
                del self.stale[key]
                self.stale_norms.pop(key, None)
            else:
                holding.append((key, parameter.grad))
        for (key, _), norm in zip(holding, _norms([grad for _, grad in holding])):
            if not norm > 0:
                del self.stale[key]
                self.stale_norms.pop(key, None)
            elif key not in self.stale_norms:
                self.stale_norms[key] = norm
                self.stale_location.setdefault(key, user_location())

    def model_parameters(self) -> dict[int, tuple[str, torch.Tensor]]:
        found = {}
        for root in self.roots.values():
            if isinstance(root, nn.modules.loss._Loss):
                continue
            root_name = self.name_of(root)
            for name, parameter in unwrapped(root).named_parameters():
                found.setdefault(id(parameter), (f"{root_name}.{name}", parameter))
        for module in self.unregistered.values():
            for name, parameter in module.named_parameters():
                found.setdefault(id(parameter), (f"{self.name_of(module)}.{name}", parameter))
        return found

    @staticmethod
    def _closure(args, kwargs):
        """The closure of `optimizer.step(closure)` (L-BFGS, Lightning): the forward and backward
        run inside the step, so gradients exist only after it."""
        # The hooks get the call's arguments with the optimizer itself first.
        return args[1] if len(args) > 1 else kwargs.get("closure")

    def before_step(self, optimizer, args, kwargs) -> None:
        count = self.optimizer_steps.get(id(optimizer), 0)
        closure = self._closure(args, kwargs)
        if count >= self.max_steps:
            if closure is None:
                self.recheck_gradients(optimizer)  # this last backward's gradients
            elif self.pending_for(optimizer) and not self.extended_for_closure:
                # The gradients to judge by appear only inside a step: allow one more.
                self.extended_for_closure = True
                self.max_steps += 1
            if count >= self.max_steps:
                self.read_flags()
                raise StopTracing
        self._optimizers[id(optimizer)] = optimizer
        self.optimizer_names.setdefault(
            id(optimizer), f"{type(optimizer).__name__} #{len(self.optimizer_names) + 1}")
        try:
            self.read_flags()
            if closure is None:
                self.record_curve_point(optimizer, first=False)
            own = [p for group in optimizer.param_groups for p in group["params"]]
            stale = [id(p) for p in own if id(p) in self.stale_norms]
            if count >= 1 and stale:
                norm = math.sqrt(sum(self.stale_norms[key] ** 2 for key in stale))
                self.find(codes.ACCUMULATING, "gradients from the previous step were never "
                                              "cleared before this step's backward: call "
                                              "`optimizer.zero_grad()` every step",
                          {"gradient_norm_before_backward": norm, "step": count + 1},
                          self.stale_location.get(stale[0]))
            if count == 0:
                if closure is None:
                    self.check_gradients(optimizer)
                parameters = [p for group in optimizer.param_groups for p in group["params"]]
                self.weights_before = dict(zip((id(p) for p in parameters),
                                               _fingerprints(parameters)))
            elif closure is None:
                self.recheck_gradients(optimizer)
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)

    def record_curve_point(self, optimizer, first: bool) -> None:
        """One loss per step: the loss function's own value when the step made exactly one call
        (so a flipped sign shows as a rising curve), else the value backpropagated (the last
        one, or with a closure the first: the loss before the step's update)."""
        # Outside --overfit the function mode (which sees the loss function) comes off after
        # the first step, so every point is the backpropagated value: one kind of value for the
        # whole curve (a loss scaled before backward, by accumulation or by the number of ranks,
        # would otherwise jump after step 1).
        if self.overfit and (len(self.step_loss_values) == 1 or
                             (first and self.step_loss_values)):
            point: float | torch.Tensor = self.step_loss_values[0]
        elif self.step_backward_values:
            point = self.step_backward_values[0 if first else -1]
        elif self.step_loss_values:
            point = self.step_loss_values[0]
        else:
            point = math.nan
        self.curves.setdefault(id(optimizer), []).append(point)
        self.step_loss_values, self.step_backward_values = [], []

    def check_gradients(self, optimizer) -> None:
        """The first step's gradients: parameters left out of every optimizer, gradient norms
        (read back at once), and candidates for "no gradient" / "all-zero gradient", which are
        judged over every step run (see `finish`)."""
        in_optimizer = {id(p) for p in self.optimizer_parameters()}
        names = self.model_parameters()
        missing = [(name, p) for key, (name, p) in names.items()
                   if key not in in_optimizer and p.requires_grad]
        optimizer_ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        stepping_now = {key: value for key, value in names.items() if key in optimizer_ids}
        if missing and len(self.optimizer_steps) == 0:
            unregistered = [n for n, _ in missing if "(not registered)" in n]
            listed = ", ".join(f"{n} {_shape(p)}" for n, p in missing[:6])
            evidence = {"parameters": [f"{n} {_shape(p)}" for n, p in missing][:20]}
            related = ()
            if unregistered:
                message = (f"{len(unregistered)} parameters belong to layers the model calls but "
                           "does not register (kept in a plain list or dict?): they are in no "
                           "optimizer and never updated; use nn.ModuleList / nn.ModuleDict")
                evidence["attributes"] = self.plain_holders()
            else:
                message = (f"{len(missing)} trainable parameters are in no optimizer ({listed}): "
                           "they are never updated (was a layer replaced after the optimizer was "
                           "built?)")
                if id(optimizer) in self.optimizer_created:
                    created_path, created_line = self.optimizer_created[id(optimizer)]
                    related = ((created_path, created_line, "the optimizer is built here"),)
            self.find(codes.NOT_OPTIMIZED, message, evidence, related=related)
        if self.gradient_location is None:
            self.gradient_location = user_location()
        with_gradient = []
        for key, (name, parameter) in stepping_now.items():
            if not parameter.requires_grad:
                continue
            if parameter.grad is None:
                self.seen.no_gradient.append(name)
                self.pending_no_gradient[key] = (name, parameter)
            else:
                with_gradient.append((key, name, parameter))
        norms = _norms([parameter.grad for _, _, parameter in with_gradient])
        for (key, name, parameter), norm in zip(with_gradient, norms):
            self.seen.gradient_norms[name] = norm
            if not math.isfinite(norm) and not self.seen_non_finite:
                self.seen_non_finite = True
                self.find(codes.NON_FINITE, f"gradient of `{name}` is {norm}", {"parameter": name})
            elif norm == 0 and parameter.dim() > 1:
                # Biases are left out: a bias feeding batch norm gets no gradient, rightly.
                self.pending_zero_gradient[key] = (name, parameter)
        weights = {name for name, parameter in stepping_now.values() if parameter.dim() > 1}
        finite = {n: v for n, v in self.seen.gradient_norms.items()
                  if math.isfinite(v) and v > 0 and n in weights}
        if finite:
            tiny = [n for n, v in finite.items() if v < codes.VANISHING_GRADIENT]
            huge = [n for n, v in finite.items() if v > codes.EXPLODING_GRADIENT]
            if tiny:
                self.find(codes.GRADIENT_FLOW, f"vanishing gradients (norm < "
                                               f"{codes.VANISHING_GRADIENT}) in {', '.join(tiny[:5])}",
                          {"norms": {n: finite[n] for n in tiny[:20]}})
            if huge:
                self.find(codes.GRADIENT_FLOW, f"exploding gradients (norm > "
                                               f"{codes.EXPLODING_GRADIENT}) in {', '.join(huge[:5])}",
                          {"norms": {n: finite[n] for n in huge[:20]}})

    def plain_holders(self) -> list[str]:
        """The attributes of the models that hold unregistered layers in a plain list, tuple or
        dict (`hidden` for `self.hidden = [nn.Linear(...)]`)."""
        unregistered = {id(module) for module in self.unregistered.values()}
        holders = []
        for root in self.roots.values():
            for owner in unwrapped(root).modules():
                for attribute, value in vars(owner).items():
                    items = value.values() if isinstance(value, dict) else value \
                        if isinstance(value, (list, tuple)) else ()
                    if any(id(item) in unregistered for item in items):
                        holders.append(attribute)
        return sorted(set(holders))

    def pending_for(self, optimizer) -> list[int]:
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        return [key for key in (*self.pending_no_gradient, *self.pending_zero_gradient)
                if key in own]

    def recheck_gradients(self, optimizer) -> None:
        """A later step's gradients clear the candidates that now got a (non-zero) gradient:
        costs nothing once none is left, else one read for all of them."""
        pending = self.pending_for(optimizer)
        if not pending:
            return
        holding = []
        for key in pending:
            name, parameter = self.pending_no_gradient.get(key) or \
                self.pending_zero_gradient[key]
            if parameter.grad is not None:
                holding.append((key, parameter))
        for (key, parameter), norm in zip(holding, _norms([p.grad for _, p in holding])):
            if key in self.pending_no_gradient:
                name, _ = self.pending_no_gradient.pop(key)
                if norm == 0 and parameter.dim() > 1:
                    self.pending_zero_gradient[key] = (name, parameter)
            elif norm != 0:
                del self.pending_zero_gradient[key]

    def after_step(self, optimizer, args, kwargs) -> None:
        count = self.optimizer_steps.get(id(optimizer), 0)
        try:
            if self._closure(args, kwargs) is not None:
                self.read_flags()
                self.record_curve_point(optimizer, first=True)
                if count == 0:
                    self.check_gradients(optimizer)
                else:
                    self.recheck_gradients(optimizer)
            if count == 0 and self.weights_before:
                before, self.weights_before = self.weights_before, {}
                parameters = [p for group in optimizer.param_groups for p in group["params"]]
                changed = any(after != before.get(id(p))
                              for p, after in zip(parameters, _fingerprints(parameters)))
                if self.first_step_changed is None:
                    self.first_step_changed = changed
                if not changed and not self.constant_loss:
                    self.find(codes.GRADIENT_FLOW, "the optimizer step changed no weight "
                                                   "(zero gradients or a zero learning rate)",
                              {"learning_rates": [g.get("lr") for g in optimizer.param_groups]})
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    self.stale[id(parameter)] = parameter
                    self.stale_norms.pop(id(parameter), None)
                    self.stale_location.pop(id(parameter), None)
        self.optimizer_steps[id(optimizer)] = count + 1
        self.seen.steps = max(self.seen.steps, count + 1)
        self.backward_since_step = 0
        self.step_forward_modes = []
        self.last_optimizer = id(optimizer)
        self.root_ordinals = {}
        self.loss_ordinal = 0
        # The one-off checks are done once every optimizer built so far has stepped.
        self.full_checks = bool(self.overfit) or any(
            id(o) not in self.optimizer_steps for o in self.created_optimizers)
        if not self.full_checks:
            self.suspend_watcher()

    def finish(self) -> None:
        """After the run: the flags of the last partial step, the gradient-flow verdicts over
        every step run, and the loss curves read back from the device."""
        if self.finished:
            return
        self.finished = True
        try:
            self.read_flags()
            steps = f"{self.seen.steps} step{'s' if self.seen.steps != 1 else ''}"
            no_gradient = [name for name, _ in self.pending_no_gradient.values()]
            zero = [name for name, _ in self.pending_zero_gradient.values()]
            if no_gradient:
                self.find(codes.GRADIENT_FLOW, f"{len(no_gradient)} trainable parameters got no "
                                               f"gradient in {steps} ({', '.join(no_gradient[:5])})"
                                               ": a detached branch or an unused layer",
                          {"no_gradient": no_gradient[:20]}, self.gradient_location)
            if zero and not self.constant_loss:
                self.find(codes.GRADIENT_FLOW, f"all-zero gradients in every one of {steps} for "
                                               f"{', '.join(zero[:5])}",
                          {"zero_gradient": zero[:20]}, self.gradient_location)
            self.seen.zero_gradient = zero
            for key, points in self.curves.items():
                on_device = [(i, p) for i, p in enumerate(points) if isinstance(p, torch.Tensor)]
                for (index, _), number in zip(on_device, read_all([p for _, p in on_device])):
                    points[index] = number
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)
