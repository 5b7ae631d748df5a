"""The runtime tracer's hook dispatcher: it installs every hook once and turns what torch does
into typed events for the checks (`dllint/runtime/checks/`) and components that subscribe to
them.

`Dispatcher`, as a context manager, installs global module forward pre/post hooks (the post
hook with keyword arguments), global optimizer step pre/post hooks, one wrapper around
`Tensor.backward`, one around `Optimizer.__init__`, and a TorchFunctionMode; on exit it removes
every one of them, whatever happened inside. Each subscriber declares the events it handles in
`events`; the dispatcher calls only those, so an event nobody subscribed to costs nothing.

Events (the method each subscriber defines, in the order the subscribers were attached):

- `on_forward(call: ModuleCall)`: before a module's forward. A subscriber may replace
  `call.args` and, for a root call, `call.kwargs` (the --overfit replay does); the others then
  see the replacement.
- `on_forward_output(call: ModuleCall, output)`: after a module's forward (also when it raised).
- `on_torch_call(call: TorchCall)`: after a torch function listed in the subscriber's
  `torch_functions` ran, while the one-off checks are on (`TraceContext.full_checks`).
- `before_loss(call: TorchCall) -> args`: before a loss function runs; returns its positional
  arguments (the --overfit replay swaps in the captured target).
- `on_loss(call: LossCall)`: after a loss function ran with tensor input and target.
- `on_backward(tensor)` / `on_backward_done(tensor)`: around `Tensor.backward`.
- `on_tensor_saved(tensor, module)`: autograd saved `tensor` for backward while `module` was
  the innermost module running (None outside every module), during the first training step
  (until every optimizer built so far has stepped once). The dispatcher owns the one
  `saved_tensors_hooks` pair: the hooks form a stack and only the innermost pair runs, so two
  subscribers cannot each push their own. Autograd keeps the tensor's own storage (no copy).
- `on_step_limit(step: StepEvent)`: an optimizer is about to step past the step limit; a
  subscriber may raise `context.max_steps` (one more step) before the trace stops.
- `on_stop()`: the trace stops at this step (StopTracing is raised next).
- `on_step(step: StepEvent)` / `on_step_done(step: StepEvent)`: around `optimizer.step()`.
- `on_end()`: after the run, before the report (once).

A subscriber's error is recorded as the tracer's own (`TraceContext.instrument_error`), never
shown as the user's, and the other subscribers still run. `StopTracing` (a BaseException) passes.
"""

from __future__ import annotations

import math
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable

import torch
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks
from torch.overrides import TorchFunctionMode

from dllint.engine_codes import EngineCode
from dllint.runtime.tracing import (LOSSES, Observations, StopTracing, compiling, line_span,
                                    loss_per_target, unwrapped, user_location,
                                    variable_name)
from dllint.types import Diagnostic, RelatedLocation, Severity

EVENTS = ("on_forward", "on_forward_output", "on_torch_call", "before_loss", "on_loss",
          "on_backward", "on_backward_done", "on_step_limit", "on_stop", "on_step",
          "on_step_done", "on_end", "on_tensor_saved")


@dataclass(slots=True)
class ModuleCall:
    module: nn.Module
    args: tuple
    # Keyword arguments: before the forward, those of root calls only (see `_call_kwargs`);
    # after it, every call's.
    kwargs: dict
    # Called from outside any traced module: the model itself (or a loss module).
    root: bool


@dataclass(slots=True)
class TorchCall:
    func: Callable
    args: tuple
    kwargs: dict
    result: Any = None


@dataclass(slots=True)
class LossCall:
    func: Callable
    name: str  # the functional loss's name (`cross_entropy`)
    args: tuple
    kwargs: dict
    prediction: torch.Tensor
    target: torch.Tensor
    result: Any
    value: float  # the loss as a number (nan unless a scalar)
    # The loss as a mean per counted target whatever its reduction (`tracing.loss_per_target`):
    # what a chance value compares with. NaN when unknown.
    per_target: float
    # A training loss carries the graph; a validation loss (under no_grad, or a test()
    # function's) is checked for its contract but is no point of the training curve.
    training: bool


@dataclass(slots=True)
class StepEvent:
    optimizer: torch.optim.Optimizer
    count: int  # the optimizer's steps before this one
    # The closure of `optimizer.step(closure)` (L-BFGS, Lightning): the forward and backward
    # run inside the step, so gradients exist only after it.
    closure: Callable | None


class _WeakPack:
    """The pack hook autograd stores in every node it saves for: it reaches the dispatcher
    through a weak reference. A bound method would be a strong one, from C++ objects the garbage
    collector cannot see, so a graph that outlives the trace (a step that raised) would keep the
    dispatcher, its checks and through them the script's model alive for good."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = weakref.ref(dispatcher)

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        dispatcher = self.dispatcher()
        return dispatcher.tensor_saved(tensor) if dispatcher is not None else tensor.detach()


def _unpack_saved(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


class Subscriber:
    """A runtime check or component: it declares the events it handles in `events`."""
    events: ClassVar[frozenset[str]] = frozenset()
    # For `on_torch_call`: the torch functions whose calls it wants.
    torch_functions: ClassVar[frozenset] = frozenset()

    def __init__(self, context: TraceContext) -> None:
        self.context = context


class Check(Subscriber):
    """One RT check (`dllint/runtime/checks/`): its code's entry in `codes.py` says what it
    reports, and `fixtures/runtime/<code>_*.py` are its specification."""
    code: ClassVar[EngineCode]


class TraceContext:
    """What several checks need, kept by the dispatcher: read it, do not change it (except
    through `find`, `instrument_error` and the few flags documented as shared)."""

    def __init__(self, steps: int, overfit: int | None) -> None:
        self.max_steps = overfit or steps
        self.overfit = overfit
        self.seen = Observations()
        self.errors: list[str] = []
        self.reported: set[tuple[str, str, int, str]] = set()
        # Modules: display names by id, the models called from the script (roots), layers
        # called inside a model but not registered in it, and how deep the forward is now.
        self.names: dict[int, str] = {}
        self.model_names: dict[int, str] = {}  # each module of a model: the model's name
        self.roots: dict[int, nn.Module] = {}
        self.unregistered: dict[int, nn.Module] = {}
        self.root_names: set[str] = set()
        self.root_location: tuple[str, int] = ("<unknown>", 1)
        self.depth = 0
        # Optimizers: steps taken, display names and where each was built, by id.
        self.optimizer_steps: dict[int, int] = {}
        self.optimizer_names: dict[int, str] = {}
        self.optimizer_created: dict[int, tuple[str, int]] = {}
        self.created_optimizers: list[torch.optim.Optimizer] = []
        self.optimizers: dict[int, torch.optim.Optimizer] = {}  # those seen stepping
        self.last_optimizer: int | None = None  # the optimizer that stepped last
        # The first training step runs every check; later steps run only those that cost no
        # host read beyond one per step (the finiteness flags), so a traced step stays close to
        # a plain one. --overfit keeps every check on: it replays batches through them.
        self.full_checks = True
        # Shared flags: RT001 reports the first non-finite value only; a loss that is constant
        # by construction (RT003) explains the zero gradients and unchanged weights (RT006).
        self.seen_non_finite = False
        self.constant_loss = False
        # Losses a GradScaler scaled before backward, by id of the scaled tensor: the loss the
        # user computed is the unscaled one (65536 times smaller), kept until the next step.
        self.unscaled: dict[int, torch.Tensor] = {}
        self.extended_for_closure = False
        # What a subscriber left installed that must come off when the hooks do, whatever
        # happened (the memory recorder's allocation tracker): called once, in order, on exit.
        self.on_exit: list[Callable[[], None]] = []
        # True while a subscriber runs a model itself to measure it (the memory recorder's
        # half-batch replay): the hooks pass everything through and no event is emitted, so
        # no check sees that call as the script's.
        self.muted = False
        # Why the activations saved for backward are only partly seen, "" while they are all:
        # the script's own saved_tensors_hooks were innermost when a module ran (ours then
        # never see its tensors), or a module ran again inside backward (activation
        # checkpointing recomputing it). Set during the first step, while the hooks are on.
        self.saved_partial = ""

    # ---- findings ---------------------------------------------------------------------------

    def find(self, entry: EngineCode, message: str, evidence: dict | None = None,
             where: tuple[str, int] | None = None, severity: Severity | None = None,
             related: tuple[tuple[str, int, str], ...] = (), subject: str = "") -> None:
        """One finding at `where` (default: the user's line now). Reported once per code, line
        and subject (the module, parameter or model it is about): a second model's finding at
        the same line is its own."""
        path, line = where or user_location()
        key = (entry.code, path, line, subject)
        if key in self.reported:
            return
        self.reported.add(key)
        self.seen.findings.append(Diagnostic(
            entry.code, entry.name, message, severity or entry.severity, path,
            line_span(path, line),
            tuple(RelatedLocation(other, line_span(other, number), note)
                  for other, number, note in related if other != "<unknown>"),
            evidence=evidence or {}))

    def instrument_error(self, error: BaseException) -> None:
        text = f"{type(error).__name__}: {error}"
        if text not in self.errors:
            self.errors.append(text)

    # ---- models and optimizers --------------------------------------------------------------

    def name_of(self, module: nn.Module) -> str:
        return self.names.get(id(module), type(module).__name__)

    def model_of(self, module: nn.Module) -> str:
        """The display name of the model `module` belongs to (the first one that called it),
        "" for a layer no model registers: what a finding about a layer is about."""
        return self.model_names.get(id(module), "")

    def root_name(self, module: nn.Module) -> str:
        """The name a person knows the model by: the script's variable holding it (`generator`,
        `discriminator`), else `Owner.attribute` when it lives in a module that is never called
        itself (a LightningModule's `net`), else its class; wrappers (torch.compile, DDP) are
        looked through. Two models of one class never share a name."""
        inner = unwrapped(module)
        name = variable_name(module, inner) or type(inner).__name__
        unique, number = name, 2
        while unique in self.root_names:
            unique, number = f"{name}#{number}", number + 1
        self.root_names.add(unique)
        return unique

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

    def optimizer_parameters(self) -> list[torch.Tensor]:
        optimizers = {id(o): o for o in [*self.created_optimizers, *self.optimizers.values()]}
        return [parameter for optimizer in optimizers.values()
                for group in optimizer.param_groups for parameter in group["params"]]


class _Watcher(TorchFunctionMode):
    def __init__(self, dispatcher: Dispatcher) -> None:
        super().__init__()
        self.dispatcher = dispatcher

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        dispatcher = self.dispatcher
        if not dispatcher.context.full_checks or dispatcher.context.muted or compiling():
            return func(*args, **kwargs)
        if func in LOSSES:
            return dispatcher.loss_call(func, args, kwargs)
        result = func(*args, **kwargs)
        handlers = dispatcher.function_handlers.get(func)
        if handlers:
            dispatcher.emit(handlers, TorchCall(func, args, kwargs, result))
        return result


def _call_kwargs() -> dict | None:
    """The keyword arguments of the module call whose global forward pre-hook is running.

    torch passes keyword arguments to a module's own pre-hooks registered with_kwargs, but never
    to global pre-hooks (`register_module_forward_pre_hook` has no such option), so they are
    read from the frame of `Module._call_impl` that calls the hook: the dict there is the one
    the forward will get, so changing it in place changes the call (the --overfit replay of a
    keyword batch, `model(**batch)`). None if torch's frame is not the expected one."""
    frame = sys._getframe(2)  # _call_impl (its `inner`) -> Dispatcher.before_forward -> here
    if frame.f_code.co_name not in ("inner", "_call_impl") or \
            "kwargs" not in frame.f_code.co_freevars + frame.f_code.co_varnames:
        return None
    kwargs = frame.f_locals.get("kwargs")
    return kwargs if isinstance(kwargs, dict) else None


class Dispatcher:
    """Installs the hooks and calls the subscribers of each event."""

    def __init__(self, context: TraceContext, subscribers: Iterable[Subscriber] = ()) -> None:
        self.context = context
        self.subscribers: list[Subscriber] = []
        self.handlers: dict[str, list[Callable]] = {event: [] for event in EVENTS}
        self.function_handlers: dict[Callable, list[Callable]] = {}
        for subscriber in subscribers:
            self.attach(subscriber)
        self.finished = False
        self.in_backward = False
        self.watcher_on_stack = False
        self._handles: list[Any] = []
        self._watcher: _Watcher | None = None
        self._original_backward: Callable | None = None
        self._original_optimizer_init: Callable | None = None
        self._original_scale: Callable | None = None
        self._warnings: Any = None
        self._pack = _WeakPack(self)  # the saved-tensor pack hook (see _WeakPack)
        # The modules whose forward is running, innermost last (what a saved tensor belongs to).
        self.module_stack: list[nn.Module] = []
        self._saved_hooks: Any = None
        self._saved_hooks_thread = 0

    # ---- subscribers ------------------------------------------------------------------------

    def attach(self, subscriber: Subscriber, first: bool = False) -> None:
        """Add a subscriber (`first`: its handlers run before the others', as a distributed
        rank's companion needs for the optimizer step)."""
        unknown = set(subscriber.events) - set(EVENTS)
        if unknown:
            raise ValueError(f"{type(subscriber).__name__} subscribes to unknown events "
                             f"{sorted(unknown)}")
        if first:
            self.subscribers.insert(0, subscriber)
        else:
            self.subscribers.append(subscriber)
        self._route()

    def detach(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)
            self._route()

    def _route(self) -> None:
        self.handlers = {event: [getattr(subscriber, event) for subscriber in self.subscribers
                                 if event in subscriber.events] for event in EVENTS}
        self.function_handlers = {}
        for subscriber in self.subscribers:
            if "on_torch_call" in subscriber.events:
                for func in subscriber.torch_functions:
                    self.function_handlers.setdefault(func, []).append(subscriber.on_torch_call)

    def emit(self, handlers: list[Callable], *arguments: Any) -> None:
        for handler in handlers:
            try:
                handler(*arguments)
            except Exception as error:  # noqa: BLE001 - a check's bug must not look like the user's
                self.context.instrument_error(error)

    # ---- installing and removing ------------------------------------------------------------

    def __enter__(self) -> Dispatcher:
        # torch.compile warns, every step, that global module hooks exist: they are ours, and
        # the compiled model is observed from outside on purpose.
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.filterwarnings("ignore", message=r"Using `torch.compile\(module\)` when there "
                                                  r"are global hooks on modules")
        self._handles = [
            module_hooks.register_module_forward_pre_hook(self.before_forward),
            module_hooks.register_module_forward_hook(self.after_forward, with_kwargs=True,
                                                      always_call=True),
            optimizer_hooks.register_optimizer_step_pre_hook(self.before_step),
            optimizer_hooks.register_optimizer_step_post_hook(self.after_step),
        ]
        self._original_backward = torch.Tensor.backward
        dispatcher = self

        def backward(tensor, *args, **kwargs):
            if dispatcher.context.muted:
                return dispatcher._original_backward(tensor, *args, **kwargs)
            # A function mode on the stack (ours, or the script's) dispatches Tensor.backward
            # through __torch_function__, which calls this wrapper again: count it once.
            if dispatcher.in_backward:
                return dispatcher._original_backward(tensor, *args, **kwargs)
            dispatcher.in_backward = True
            try:
                dispatcher.before_backward(tensor)
                return dispatcher._original_backward(tensor, *args, **kwargs)
            finally:
                dispatcher.in_backward = False
                dispatcher.emit(dispatcher.handlers["on_backward_done"], tensor)

        torch.Tensor.backward = backward  # type: ignore[method-assign]
        self._original_optimizer_init = torch.optim.Optimizer.__init__

        def optimizer_init(optimizer, *args, **kwargs):
            context = dispatcher.context
            context.optimizer_created.setdefault(id(optimizer), user_location())
            result = dispatcher._original_optimizer_init(optimizer, *args, **kwargs)
            context.created_optimizers.append(optimizer)
            return result

        torch.optim.Optimizer.__init__ = optimizer_init  # type: ignore[method-assign]
        self._original_scale = torch.amp.GradScaler.scale

        def scale(scaler, outputs):
            scaled = dispatcher._original_scale(scaler, outputs)
            if isinstance(outputs, torch.Tensor) and isinstance(scaled, torch.Tensor) and \
                    scaled is not outputs:
                dispatcher.context.unscaled[id(scaled)] = outputs
            return scaled

        torch.amp.GradScaler.scale = scale  # type: ignore[method-assign]
        self._watcher = _Watcher(self)
        self._watcher.__enter__()
        self.watcher_on_stack = True
        if self.handlers["on_tensor_saved"]:
            self._saved_hooks = torch.autograd.graph.saved_tensors_hooks(self._pack,
                                                                         _unpack_saved)
            self._saved_hooks.__enter__()
            self._saved_hooks_thread = threading.get_ident()
        return self

    def tensor_saved(self, tensor: torch.Tensor) -> torch.Tensor:
        """The pack hook: tell the subscribers, and let autograd keep the tensor's own storage
        (no copy). It keeps a detached alias, as torch asks: the tensor itself would make a
        reference cycle through an output's grad_fn, freed only by the garbage collector."""
        if self.context.muted:
            return tensor.detach()
        self.emit(self.handlers["on_tensor_saved"], tensor,
                  self.module_stack[-1] if self.module_stack else None)
        return tensor.detach()

    def remove_saved_hooks(self) -> None:
        """Take our saved-tensor hooks off, if they are the innermost pair (a pair the script
        pushed later and left on stays; ours then never runs anyway)."""
        if self._saved_hooks is None or threading.get_ident() != self._saved_hooks_thread:
            return  # the hooks are per thread: a step run in the script's own thread leaves
            # them to the exit, in the thread that pushed them
        top = torch._C._autograd._top_saved_tensors_default_hooks(True)
        if top is not None and top[0] is self._pack:
            self._saved_hooks.__exit__(None, None, None)
        self._saved_hooks = None

    def suspend_watcher(self) -> None:
        """Take the function mode off once the one-off checks are done: every torch call of the
        script pays for a mode on the stack. Only when it is on top (a mode the script pushed
        later stays, and ours then only passes calls through)."""
        compiled = (sys.modules.get("torch._dynamo.eval_frame") is not None and any(
            isinstance(root, sys.modules["torch._dynamo.eval_frame"].OptimizedModule)
            for root in self.context.roots.values()))
        if compiled:
            return  # the compiled graphs guard on the mode stack: popping it would recompile
        if self.watcher_on_stack and torch._C._len_torch_function_stack() > 0 and \
                torch._C._get_function_stack_at(
                    torch._C._len_torch_function_stack() - 1) is self._watcher:
            torch.overrides._pop_mode()
            self.watcher_on_stack = False

    def _pop_watcher(self) -> None:
        """Take our function mode off the stack if it is there. A timeout's exception can land
        while torch has the mode off the stack to run its handler (and never puts it back), so
        the stack may be empty or topped by a mode of the script's: popping blindly raised
        "trying to pop from empty mode stack" or removed the script's mode."""
        depth = torch._C._len_torch_function_stack()
        for index in range(depth - 1, -1, -1):
            if torch._C._get_function_stack_at(index) is self._watcher:
                if index == depth - 1:
                    torch.overrides._pop_mode()
                return

    def __exit__(self, *exc_info) -> None:
        # Undo in reverse order; each step runs even if an earlier one fails.
        try:
            if self._watcher is not None and self.watcher_on_stack:
                self.watcher_on_stack = False
                self._pop_watcher()
        finally:
            if self._original_backward is not None:
                torch.Tensor.backward = self._original_backward  # type: ignore[method-assign]
            if self._original_optimizer_init is not None:
                torch.optim.Optimizer.__init__ = self._original_optimizer_init  # type: ignore
            if self._original_scale is not None:
                torch.amp.GradScaler.scale = self._original_scale  # type: ignore[method-assign]
            for handle in self._handles:
                handle.remove()
                # A handle does not remove its hook's with_kwargs mark (torch 2.x): ours goes.
                module_hooks._global_forward_hooks_with_kwargs.pop(handle.id, None)
            self._handles = []
            if self._warnings is not None:
                self._warnings.__exit__(None, None, None)
                self._warnings = None
            self.remove_saved_hooks()
            self.module_stack = []
            while self.context.on_exit:
                self.context.on_exit.pop(0)()

    # ---- modules ----------------------------------------------------------------------------

    def before_forward(self, module: nn.Module, args):
        if compiling() or self.context.muted:
            return None  # see `compiling`; `TraceContext.muted`
        context = self.context
        call = ModuleCall(module, args, {}, context.depth == 0)
        live_kwargs = None
        try:
            if call.root:
                live_kwargs = _call_kwargs()
                if live_kwargs:
                    call.kwargs = dict(live_kwargs)
                self.enter_root(module)
            elif id(module) not in context.names:
                # Called inside a model but not registered in it: a layer with weights kept in a
                # plain list or dict (a loss or an activation built inline is harmless).
                if next(module.parameters(), None) is not None:
                    context.unregistered[id(module)] = module
                    context.names[id(module)] = f"{type(module).__name__} (not registered)"
                else:
                    context.names[id(module)] = type(module).__name__
        except Exception as error:  # noqa: BLE001
            context.instrument_error(error)
        if self._saved_hooks is not None and not context.saved_partial:
            self._check_saved_hooks(module)
        kwargs_before = call.kwargs
        self.emit(self.handlers["on_forward"], call)
        context.depth += 1
        self.module_stack.append(module)
        if call.kwargs is not kwargs_before and live_kwargs is not None:
            live_kwargs.clear()
            live_kwargs.update(call.kwargs)
        return call.args if call.args is not args else None

    def _check_saved_hooks(self, module: nn.Module) -> None:
        """Whether our saved-tensor hooks will see what `module` saves (see
        `TraceContext.saved_partial`)."""
        if threading.get_ident() != self._saved_hooks_thread:
            return
        name = self.context.name_of(module)
        if self.in_backward:
            self.context.saved_partial = (f"{name} ran again inside backward (activation "
                                          f"checkpointing recomputes it there)")
            return
        top = torch._C._autograd._top_saved_tensors_default_hooks(True)
        if top is not None and top[0] is not self._pack:
            self.context.saved_partial = (f"the script's own saved_tensors_hooks (activation "
                                          f"checkpointing, offloading) were innermost in {name}: "
                                          f"what it saves there is not counted")

    def enter_root(self, module: nn.Module) -> None:
        context = self.context
        if id(module) not in context.roots:
            context.roots[id(module)] = module
            root_name = context.root_name(module)
            for name, child in unwrapped(module).named_modules():
                context.names.setdefault(id(child), f"{root_name}.{name}" if name else root_name)
                context.model_names.setdefault(id(child), root_name)
            context.names.setdefault(id(module), root_name)  # the wrapper (torch.compile, DDP)
            context.model_names.setdefault(id(module), root_name)
        context.root_location = user_location()
        if not context.seen.device:
            parameter = next(module.parameters(), None)
            if parameter is not None:
                context.seen.device = str(parameter.device)

    def after_forward(self, module: nn.Module, args, *kwargs_and_output) -> None:
        if compiling() or self.context.muted:
            return
        # torch passes (kwargs, output), but (output,) alone when the forward raised: it calls
        # the always-called global hooks without the keyword arguments then.
        kwargs, output = kwargs_and_output if len(kwargs_and_output) == 2 else \
            ({}, kwargs_and_output[0])
        context = self.context
        context.depth = max(0, context.depth - 1)
        if self.module_stack and self.module_stack[-1] is module:
            self.module_stack.pop()
        elif module in self.module_stack:  # a forward that raised inside left its children
            del self.module_stack[self.module_stack.index(module):]
        handlers = self.handlers["on_forward_output"]
        if handlers:
            self.emit(handlers, ModuleCall(module, args, kwargs, context.depth == 0), output)

    # ---- functions --------------------------------------------------------------------------

    def loss_call(self, func: Callable, args: tuple, kwargs: dict):
        for handler in self.handlers["before_loss"]:
            try:
                args = handler(TorchCall(func, args, kwargs))
            except Exception as error:  # noqa: BLE001
                self.context.instrument_error(error)
        result = func(*args, **kwargs)
        handlers = self.handlers["on_loss"]
        prediction = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if handlers and isinstance(prediction, torch.Tensor) and isinstance(target, torch.Tensor):
            try:
                value = float(result.detach()) if isinstance(result, torch.Tensor) and \
                    result.numel() == 1 else math.nan
            except Exception as error:  # noqa: BLE001
                self.context.instrument_error(error)
                return result
            name = LOSSES[func]
            try:
                per_target = loss_per_target(func, name, args, kwargs, prediction, target,
                                             result, value)
            except Exception as error:  # noqa: BLE001
                self.context.instrument_error(error)
                per_target = math.nan
            training = isinstance(result, torch.Tensor) and result.requires_grad
            self.emit(handlers, LossCall(func, name, args, kwargs, prediction, target,
                                         result, value, per_target, training))
        return result

    # ---- backward and optimizer steps -------------------------------------------------------

    def before_backward(self, tensor: torch.Tensor) -> None:
        self.context.seen.backward_calls += 1
        self.emit(self.handlers["on_backward"], tensor)

    def before_step(self, optimizer, args, kwargs) -> None:
        context = self.context
        # The hooks get the call's arguments with the optimizer itself first.
        step = StepEvent(optimizer, context.optimizer_steps.get(id(optimizer), 0),
                         args[1] if len(args) > 1 else kwargs.get("closure"))
        if step.count >= context.max_steps:
            self.emit(self.handlers["on_step_limit"], step)
            if step.count >= context.max_steps:
                self.emit(self.handlers["on_stop"])
                raise StopTracing
        context.optimizers[id(optimizer)] = optimizer
        context.optimizer_names.setdefault(
            id(optimizer), f"{type(optimizer).__name__} #{len(context.optimizer_names) + 1}")
        self.emit(self.handlers["on_step"], step)

    def after_step(self, optimizer, args, kwargs) -> None:
        context = self.context
        step = StepEvent(optimizer, context.optimizer_steps.get(id(optimizer), 0),
                         args[1] if len(args) > 1 else kwargs.get("closure"))
        self.emit(self.handlers["on_step_done"], step)
        context.unscaled.clear()
        context.optimizer_steps[id(optimizer)] = step.count + 1
        context.seen.steps = max(context.seen.steps, step.count + 1)
        context.last_optimizer = id(optimizer)
        # The one-off checks are done once every optimizer built so far has stepped.
        first_steps_done = not any(id(o) not in context.optimizer_steps
                                   for o in context.created_optimizers)
        context.full_checks = bool(context.overfit) or not first_steps_done
        if first_steps_done:
            self.remove_saved_hooks()  # the memory of the first step is recorded
        if not context.full_checks:
            self.suspend_watcher()

    def finish(self) -> None:
        """After the run: every subscriber's `on_end`, once."""
        if self.finished:
            return
        self.finished = True
        self.emit(self.handlers["on_end"])
