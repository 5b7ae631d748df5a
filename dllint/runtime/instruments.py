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
import sysconfig
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks
from torch.overrides import TorchFunctionMode

from dllint.runtime import codes
from dllint.types import Diagnostic, Severity, Span

_LIBRARY_ROOTS = tuple(os.path.dirname(path) + os.sep for path in (
    torch.__file__, os.path.dirname(os.path.dirname(__file__)) + os.sep + "x")) + tuple(
    path + os.sep for path in {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib",
                                                                      "purelib", "platlib")})
LOSSES = {
    F.cross_entropy: "cross_entropy", F.nll_loss: "nll_loss",
    F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits",
    F.binary_cross_entropy: "binary_cross_entropy", F.mse_loss: "mse_loss",
    F.l1_loss: "l1_loss", F.smooth_l1_loss: "smooth_l1_loss", F.huber_loss: "huber_loss",
}
ELEMENTWISE_LOSSES = frozenset({"binary_cross_entropy_with_logits", "binary_cross_entropy",
                                "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"})
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
    return type(value).__name__


def _dtype(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return str(value.dtype).replace("torch.", "")
    if isinstance(value, (tuple, list)) and value:
        return _dtype(value[0])
    return "-"


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


def _fingerprint(parameter: torch.Tensor) -> tuple[float, float]:
    """Sum and sum of squares: the sum alone misses real updates (a cross-entropy gradient for
    a linear classifier sums to zero over the classes, so SGD leaves each layer's sum as it was)."""
    data = parameter.detach().double()
    return float(data.sum()), float((data * data).sum())


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


@dataclass
class Observations:
    modules: dict[int, ModuleRecord] = field(default_factory=dict)
    losses: list[tuple[str, float]] = field(default_factory=list)
    gradient_norms: dict[str, float] = field(default_factory=dict)
    no_gradient: list[str] = field(default_factory=list)
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
        self.curves: dict[int, list[float]] = {}
        self.optimizer_names: dict[int, str] = {}
        self.optimizer_created: dict[int, tuple[str, int]] = {}
        self.loss_location: tuple[str, int] | None = None
        self.step_loss_values: list[float] = []
        self.last_backward_value = math.nan
        self.chance: tuple[str, float] | None = None
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
        self.errors: list[str] = []
        self._handles: list[Any] = []
        self._watcher: _Watcher | None = None
        self._original_backward: Callable | None = None

    # ---- installing and removing ------------------------------------------------------------

    def __enter__(self) -> Instruments:
        self._handles = [
            module_hooks.register_module_forward_pre_hook(self.before_forward),
            module_hooks.register_module_forward_hook(self.after_forward, always_call=True),
            optimizer_hooks.register_optimizer_step_pre_hook(self.before_step),
            optimizer_hooks.register_optimizer_step_post_hook(self.after_step),
        ]
        self._original_backward = torch.Tensor.backward
        instruments = self

        def backward(tensor, *args, **kwargs):
            instruments.before_backward(tensor)
            return instruments._original_backward(tensor, *args, **kwargs)

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
        return self

    def __exit__(self, *exc_info) -> None:
        # Undo in reverse order; each step runs even if an earlier one fails.
        try:
            if self._watcher is not None:
                self._watcher.__exit__(None, None, None)
        finally:
            if self._original_backward is not None:
                torch.Tensor.backward = self._original_backward  # type: ignore[method-assign]
            if getattr(self, "_original_optimizer_init", None) is not None:
                torch.optim.Optimizer.__init__ = self._original_optimizer_init  # type: ignore
            for handle in self._handles:
                handle.remove()
            self._handles = []

    # ---- findings ---------------------------------------------------------------------------

    def find(self, entry, message: str, evidence: dict | None = None,
             where: tuple[str, int] | None = None, severity: Severity | None = None) -> None:
        path, line = where or user_location()
        key = (entry.code, path, line)
        if key in self.reported:
            return
        self.reported.add(key)
        self.seen.findings.append(Diagnostic(entry.code, entry.name, message,
                                             severity or entry.severity, path,
                                             _line_span(path, line), evidence=evidence or {}))

    def instrument_error(self, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"
        if text not in self.errors:
            self.errors.append(text)

    def name_of(self, module: nn.Module) -> str:
        return self.names.get(id(module), type(module).__name__)

    # ---- modules ----------------------------------------------------------------------------

    def before_forward(self, module: nn.Module, args):
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
                # Called inside a model but not registered in it: kept in a plain list or dict.
                self.unregistered[id(module)] = module
                self.names[id(module)] = f"{type(module).__name__} (not registered)"
            if isinstance(module, MODE_DEPENDENT):
                where = user_location()
                if torch.is_grad_enabled():
                    self.step_forward_modes.append((module, module.training, where))
                elif module.training:
                    self.find(codes.MODE, f"`{self.name_of(module)}` ({type(module).__name__}) is "
                                          "in training mode during inference under no_grad: "
                                          "call `model.eval()` first",
                              {"module": self.name_of(module), "mode": "train",
                               "grad_enabled": False}, where)
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
            root_name = type(module).__name__
            for name, child in module.named_modules():
                self.names.setdefault(id(child), f"{root_name}.{name}" if name else root_name)
        parameter = next(module.parameters(), None)
        if parameter is not None and not self.seen.device:
            self.seen.device = str(parameter.device)
        if not self.first_input_checked and not isinstance(module, nn.modules.loss._Loss):
            tensors = _float_tensors(args)
            if tensors:
                self.first_input_checked = True
                self.check_input_scale(tensors[0])

    def after_forward(self, module: nn.Module, args, output) -> None:
        self.depth = max(0, self.depth - 1)
        try:
            if self.seen.steps == 0 and id(module) not in self.seen.modules:
                parameter = next(module.parameters(recurse=False), None)
                self.seen.modules[id(module)] = ModuleRecord(
                    self.name_of(module), type(module).__name__, _shape(list(args)), _shape(output),
                    _dtype(output), module.training,
                    str(parameter.device) if parameter is not None else "")
            if not self.seen_non_finite:
                outputs = _float_tensors([output])
                if outputs and not all(_finite(t) for t in outputs) and all(
                        _finite(t) for t in _float_tensors(args)):
                    self.seen_non_finite = True
                    self.find(codes.NON_FINITE, f"`{self.name_of(module)}` "
                                                f"({type(module).__name__}) produced inf/NaN from "
                                                "finite inputs",
                              {"module": self.name_of(module),
                               "input_ranges": [_range(t) for t in _float_tensors(args)][:3]})
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)

    def check_layer_dtype(self, module: nn.Module, args) -> None:
        parameter = next(module.parameters(recurse=False), None)
        if parameter is None or not parameter.is_floating_point():
            return
        for value in args[:1]:
            if isinstance(value, torch.Tensor) and value.dtype != parameter.dtype and (
                    value.dtype == torch.float64 or not value.is_floating_point()):
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
        if len(self.seen.losses) < 10000:
            self.seen.losses.append((name, value))
        self.step_loss_values.append(value)
        if self.loss_location is None:
            self.loss_location = user_location()
        if self.chance is None:
            if name == "cross_entropy" and prediction.dim() >= 2:
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
            self.check_classification(name, data, target, kwargs, value)
        if name == "binary_cross_entropy_with_logits" and _made_by(prediction, "Sigmoid") and \
                float(data.min()) >= 0 and float(data.max()) <= 1:
            self.find(codes.LOSS_CONTRACT, "`binary_cross_entropy_with_logits` gets values all in "
                                           f"{_range(data)}: these look like sigmoid outputs, "
                                           "but the loss applies sigmoid itself; pass the logits",
                      {"input_range": _range(data)})

    def check_classification(self, name, data, target, kwargs, value) -> None:
        classes = data.shape[1]
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
        if name == "cross_entropy" and self.first_cross_entropy and not math.isnan(value):
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
                self.last_backward_value = float(tensor.detach())
            if self.stale:
                # A parameter seen without gradient at a backward is fresh again (zero_grad or
                # grad = None ran); one still holding last step's gradient stays stale.
                for key, parameter in list(self.stale.items()):
                    grad = parameter.grad
                    if grad is None or not bool(grad.abs().sum() > 0):
                        del self.stale[key]
                        self.stale_norms.pop(key, None)
                    elif key not in self.stale_norms:
                        self.stale_norms[key] = float(grad.detach().float().norm())
                        self.stale_location.setdefault(key, user_location())
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

    def model_parameters(self) -> dict[int, tuple[str, torch.Tensor]]:
        found = {}
        for root in self.roots.values():
            if isinstance(root, nn.modules.loss._Loss):
                continue
            root_name = type(root).__name__
            for name, parameter in root.named_parameters():
                found.setdefault(id(parameter), (f"{root_name}.{name}", parameter))
        for module in self.unregistered.values():
            for name, parameter in module.named_parameters():
                found.setdefault(id(parameter), (f"{self.name_of(module)}.{name}", parameter))
        return found

    def before_step(self, optimizer, args, kwargs) -> None:
        count = self.optimizer_steps.get(id(optimizer), 0)
        if count >= self.max_steps:
            raise StopTracing
        self._optimizers[id(optimizer)] = optimizer
        # One point per step: the loss function's own value when there was exactly one call (so
        # a flipped sign shows as a rising curve), else the value that was backpropagated.
        point = self.step_loss_values[0] if len(self.step_loss_values) == 1 else \
            self.last_backward_value
        self.curves.setdefault(id(optimizer), []).append(point)
        self.optimizer_names.setdefault(id(optimizer), f"{type(optimizer).__name__} #{len(self.optimizer_names) + 1}")
        self.step_loss_values = []
        try:
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
                self.check_gradients(optimizer)
                self.weights_before = {id(p): _fingerprint(p)
                                       for group in optimizer.param_groups for p in group["params"]}
        except Exception as error:  # noqa: BLE001
            self.instrument_error(error)

    def check_gradients(self, optimizer) -> None:
        in_optimizer = {id(p) for p in self.optimizer_parameters()}
        names = self.model_parameters()
        missing = [(name, p) for key, (name, p) in names.items()
                   if key not in in_optimizer and p.requires_grad]
        optimizer_ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
        stepping_now = {key: value for key, value in names.items() if key in optimizer_ids}
        if missing and len(self.optimizer_steps) == 0:
            unregistered = [n for n, _ in missing if "(not registered)" in n]
            listed = ", ".join(f"{n} {_shape(p)}" for n, p in missing[:6])
            if unregistered:
                message = (f"{len(unregistered)} parameters belong to layers the model calls but "
                           "does not register (kept in a plain list or dict?): they are in no "
                           "optimizer and never updated; use nn.ModuleList / nn.ModuleDict")
            else:
                message = (f"{len(missing)} trainable parameters are in no optimizer ({listed}): "
                           "they are never updated (was a layer replaced after the optimizer was "
                           "built?)")
            self.find(codes.NOT_OPTIMIZED, message,
                      {"parameters": [f"{n} {_shape(p)}" for n, p in missing][:20]})
        no_grad, zero = [], []
        for name, parameter in stepping_now.values():
            if not parameter.requires_grad:
                continue
            if parameter.grad is None:
                no_grad.append(name)
                self.seen.no_gradient.append(name)
                continue
            norm = float(parameter.grad.detach().float().norm())
            self.seen.gradient_norms[name] = norm
            if not math.isfinite(norm) and not self.seen_non_finite:
                self.seen_non_finite = True
                self.find(codes.NON_FINITE, f"gradient of `{name}` is {norm}", {"parameter": name})
            elif norm == 0 and parameter.dim() > 1:
                # Biases are left out: a bias feeding batch norm gets no gradient, rightly.
                zero.append(name)
        if no_grad:
            self.find(codes.GRADIENT_FLOW, f"{len(no_grad)} trainable parameters got no gradient "
                                           f"({', '.join(no_grad[:5])}): a detached branch or an "
                                           "unused layer", {"no_gradient": no_grad[:20]})
        if zero:
            self.find(codes.GRADIENT_FLOW, f"all-zero gradients for {', '.join(zero[:5])}",
                      {"zero_gradient": zero[:20]})
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

    def after_step(self, optimizer, args, kwargs) -> None:
        count = self.optimizer_steps.get(id(optimizer), 0)
        try:
            if count == 0 and self.weights_before:
                before, self.weights_before = self.weights_before, {}
                changed = any(_fingerprint(p) != before.get(id(p))
                              for group in optimizer.param_groups for p in group["params"])
                if self.first_step_changed is None:
                    self.first_step_changed = changed
                if not changed:
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
