"""What every part of the runtime tracer shares: the user's source location (the innermost
frame outside torch, dllint and the standard library), summaries of tensors for findings, reads
from the device batched into one host read, the tables of functions the checks watch, and the
observations the report is made of.
"""

from __future__ import annotations

import inspect
import linecache
import math
import os
import sys
import sysconfig
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dllint.semantic import catalog
from dllint.runtime.memory_model import StepMemory
from dllint.types import Diagnostic, Span

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
# The losses whose reduction counts targets (class indices, with `ignore_index`), not elements.
CLASS_INDEX_LOSSES = frozenset({"cross_entropy", "nll_loss"})


def loss_argument(func, args: tuple, kwargs: dict, name: str, default: Any) -> Any:
    """A loss function's argument by name, passed by keyword or by position (torch's loss
    modules pass `reduction=` by keyword; a hand-written call may pass it positionally)."""
    if name in kwargs:
        return kwargs[name]
    position = _LOSS_PARAMETERS.get(func, {}).get(name)
    if position is not None and position < len(args):
        return args[position]
    return default


def _parameter_positions(func) -> dict[str, int]:
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):  # a builtin without a signature: keywords only
        return {}
    return {name: index for index, name in enumerate(parameters)}


_LOSS_PARAMETERS = {func: _parameter_positions(func) for func in LOSSES}


def loss_per_target(func, name: str, args: tuple, kwargs: dict, prediction: torch.Tensor,
                    target: torch.Tensor, result: Any, value: float) -> float:
    """The loss as a mean per counted target, whatever its reduction: a `"sum"` divided by the
    number of targets that count (`ignore_index` excluded for class-index losses), a `"none"`
    loss's mean over what it would reduce; a `"mean"` loss is its value. NaN when unknown.
    Checks that compare a loss with its chance value need this: transformers' language-model
    losses sum over the tokens and divide afterwards, outside the loss function."""
    reduction = loss_argument(func, args, kwargs, "reduction", "mean")
    if reduction == "mean" or not isinstance(result, torch.Tensor):
        return value
    with torch.no_grad():
        counted = _counted_targets(func, name, args, kwargs, prediction, target)
        if reduction == "sum":
            return value / counted if counted else math.nan
        if reduction == "none" and result.numel():
            if name in CLASS_INDEX_LOSSES and not target.is_floating_point():
                ignore = loss_argument(func, args, kwargs, "ignore_index", -100)
                kept = result.detach()[target != ignore] if result.shape == target.shape \
                    else result.detach()
                return float(kept.float().mean()) if kept.numel() else math.nan
            return float(result.detach().float().mean())
    return math.nan


def _counted_targets(func, name, args, kwargs, prediction, target) -> int:
    if name in CLASS_INDEX_LOSSES:
        if not target.is_floating_point():
            ignore = loss_argument(func, args, kwargs, "ignore_index", -100)
            return int((target != ignore).sum())
        # Class probabilities: one target per row of classes (dimension 1).
        classes = prediction.shape[1] if prediction.dim() >= 2 else 1
        return target.numel() // max(classes, 1)
    return target.numel()


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


def variable_name(module: nn.Module, inner: nn.Module) -> str | None:
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


def compiling() -> bool:
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


def line_span(path: str, line: int) -> Span:
    """The code on a source line (the runtime knows lines, not columns)."""
    text = linecache.getline(path, line).rstrip("\r\n")
    code = text.split("#", 1)[0].rstrip() if "#" in text else text.rstrip()
    indent = len(text) - len(text.lstrip())
    if not code.strip():
        return Span.point(line)
    return Span(line, indent + 1, line, len(code) + 1)


def shape_of(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        sizes = [str(size) for size in value.shape]
        return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(shape_of(item) for item in value[:4]) + "]"
    entries = _entries(value)
    if entries:  # a ModelOutput or another dict or dataclass: the tensors it carries, by name
        return "{" + ", ".join(f"{key}: {shape_of(item)}" for key, item in entries[:4]) + \
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


def parameter_counts(module: nn.Module) -> tuple[int, int, int]:
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


def inputs_of(args: tuple, kwargs: dict) -> str:
    """The shapes of a module call's inputs, keyword tensors by name: `[(8, 3), mask=(8,)]`."""
    named = [f"{name}={shape_of(value)}" for name, value in kwargs.items()
             if isinstance(value, torch.Tensor)]
    if not named:
        return shape_of(list(args))
    return "[" + ", ".join([shape_of(item) for item in args[:4]] + named[:4]) + "]"


def dtype_of(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(value.dtype).replace("torch.", "")
    if isinstance(value, (tuple, list)) and value:
        return dtype_of(value[0])
    entries = _entries(value)
    return dtype_of(entries[0][1]) if entries else "-"


def float_tensors(values) -> list[torch.Tensor]:
    found = []
    for value in values:
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(float_tensors(value))
    return found


def is_finite(tensor: torch.Tensor) -> bool:
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


def finite_flag(tensors: list[torch.Tensor]) -> torch.Tensor:
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


def norms(tensors: list[torch.Tensor]) -> list[float]:
    """The norms of many tensors (gradients) with one host read per device."""
    if not tensors:
        return []
    with torch.no_grad():
        return read_all([local(tensor).detach().float().norm() for tensor in tensors])


def fingerprints(parameters: list[torch.Tensor]) -> list[tuple[float, float]]:
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


def made_by(tensor: torch.Tensor, operation: str, depth: int = 4) -> bool:
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


# How many autograd nodes one walk may visit by default: the first step's graph of a large model
# has a few tens of thousands; a walk stops there rather than stall.
GRAPH_SEARCH_LIMIT = 200_000


def graph_nodes(root, wanted: Collection[int] = (), limit: int = GRAPH_SEARCH_LIMIT) -> set[int]:
    """The ids of the autograd nodes reached from `root` (a `grad_fn`, or None) towards the
    graph's inputs, breadth first: at most `limit` nodes, and no further once every id in
    `wanted` is among them (a walk with nothing wanted goes until the limit or the leaves).
    The ids stay meaningful while `root` holds the graph alive."""
    if root is None:
        return set()
    reached = {id(root)}
    missing = set(wanted) - reached
    queue = deque([root])
    while queue and len(reached) < limit and (missing or not wanted):
        for child, _ in getattr(queue.popleft(), "next_functions", ()):
            if child is None or id(child) in reached:
                continue
            reached.add(id(child))
            missing.discard(id(child))
            queue.append(child)
            if len(reached) >= limit:
                break
    return reached


def value_range(tensor: torch.Tensor) -> str:
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
    # What the first training step's memory is made of (`memory.MemoryRecorder`), if it ran.
    memory: StepMemory | None = None
