"""The process-wide state a traced script can change, saved before it runs and restored after.

`dllint trace` runs the script in its own process, and the Python API (`trace_script`) runs it
inside the caller's: whatever global the script sets must not outlive the trace. Each entry of
`RESTORED` names one piece of state with how to save it and how to put it back; `ProcessState`
saves them all at once and restores them in reverse order. What is deliberately not restored is
listed in README.md ("What the trace restores").
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks


@dataclass(frozen=True)
class Restorable:
    name: str
    save: Callable[[], Any]
    # Puts the saved value back; returns a problem in words, or None.
    restore: Callable[[Any], str | None]


def _restore_argv(saved: list[str]) -> None:
    sys.argv[:] = saved


def _restore_path(saved: list[str]) -> None:
    sys.path[:] = saved


def _restore_working_directory(saved: str) -> str | None:
    try:
        os.chdir(saved)
    except OSError as error:  # the script removed it
        return f"cannot go back to {saved}: {error.strerror or error}"
    return None


def _restore_environ(saved: dict[str, str]) -> None:
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    for name, value in saved.items():
        if os.environ.get(name) != value:
            os.environ[name] = value


def _can_handle_signals() -> bool:
    return threading.current_thread() is threading.main_thread()


def _save_signal_handlers() -> dict[int, Any]:
    # A handler set from C (getsignal gives None) cannot be put back from Python: left out.
    handlers = {}
    for number in signal.valid_signals():
        try:
            handler = signal.getsignal(number)
        except (OSError, ValueError):
            continue
        if handler is not None:
            handlers[number] = handler
    return handlers


def _restore_signal_handlers(saved: dict[int, Any]) -> str | None:
    if not _can_handle_signals():
        return None  # only the main thread can set handlers, and only it could have changed them
    failed = []
    for number, handler in saved.items():
        if signal.getsignal(number) is not handler:
            try:
                signal.signal(number, handler)
            except (OSError, ValueError) as error:  # the others are still put back
                failed.append(f"signal {number} ({error})")
    return f"could not restore the handlers of {', '.join(failed)}" if failed else None


_TIMERS = tuple(getattr(signal, name) for name in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")
                if hasattr(signal, name))


def _save_timers() -> tuple[float, dict[int, tuple[float, float]]]:
    return time.monotonic(), {timer: signal.getitimer(timer) for timer in _TIMERS}


def _restore_timers(saved: tuple[float, dict[int, tuple[float, float]]]) -> None:
    started, timers = saved
    for timer, (remaining, interval) in timers.items():
        if timer == signal.ITIMER_REAL and remaining:
            # Wall-clock time went on while the script ran; a timer that would have fired by now
            # fires at once.
            remaining = max(remaining - (time.monotonic() - started), 1e-3)
        signal.setitimer(timer, remaining, interval)


def _restore_faulthandler(was_enabled: bool) -> None:
    if not was_enabled and faulthandler.is_enabled():
        faulthandler.disable()


def _save_streams() -> tuple[Any, Any, Any]:
    return sys.stdin, sys.stdout, sys.stderr


def _restore_streams(saved: tuple[Any, Any, Any]) -> None:
    sys.stdin, sys.stdout, sys.stderr = saved


def _save_tracing() -> tuple[Any, Any, Any, Any]:
    return sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile()


def _restore_tracing(saved: tuple[Any, Any, Any, Any]) -> None:
    trace, profile, thread_trace, thread_profile = saved
    sys.settrace(trace)
    sys.setprofile(profile)
    threading.settrace(thread_trace)
    threading.setprofile(thread_profile)


def _save_exception_hooks() -> tuple[Any, Any, Any]:
    return sys.excepthook, threading.excepthook, sys.unraisablehook


def _restore_exception_hooks(saved: tuple[Any, Any, Any]) -> None:
    sys.excepthook, threading.excepthook, sys.unraisablehook = saved


def _restore_deterministic(saved: tuple[bool, bool]) -> None:
    enabled, warn_only = saved
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def _save_print_options() -> dict[str, Any]:
    return dict(vars(torch._tensor_str.PRINT_OPTS))


def _restore_print_options(saved: dict[str, Any]) -> None:
    vars(torch._tensor_str.PRINT_OPTS).update(saved)


_CUDNN_FLAGS = ("enabled", "benchmark", "deterministic", "allow_tf32")


def _save_cudnn() -> dict[str, Any]:
    return {flag: getattr(torch.backends.cudnn, flag) for flag in _CUDNN_FLAGS}


def _restore_cudnn(saved: dict[str, Any]) -> None:
    for flag, value in saved.items():
        if getattr(torch.backends.cudnn, flag) != value:
            setattr(torch.backends.cudnn, flag, value)


# Classes a script (or a library it imports) monkeypatches: `nn.Module.__call__` for profiling,
# `Tensor.__repr__` for prettier printing, `Optimizer.step` for logging.
_PATCHED_CLASSES = (torch.nn.Module, torch.Tensor, torch.optim.Optimizer)


def _save_class_attributes() -> dict[type, dict[str, Any]]:
    return {cls: dict(vars(cls)) for cls in _PATCHED_CLASSES}


def _restore_class_attributes(saved: dict[type, dict[str, Any]]) -> None:
    for cls, attributes in saved.items():
        current = vars(cls)
        for name in [name for name in current if name not in attributes]:
            delattr(cls, name)
        for name, value in attributes.items():
            if current.get(name) is not value:
                setattr(cls, name, value)


# torch keeps its global module and optimizer hooks in module-level dicts named `_global_*`
# (one flag, `_global_is_full_backward_hook`, is not a dict).
_HOOK_MODULES = (module_hooks, optimizer_hooks)


def _save_global_hooks() -> dict[tuple[Any, str], Any]:
    saved = {}
    for module in _HOOK_MODULES:
        for name, value in vars(module).items():
            if name.startswith("_global_"):
                saved[module, name] = dict(value) if isinstance(value, dict) else value
    return saved


def _restore_global_hooks(saved: dict[tuple[Any, str], Any]) -> None:
    for (module, name), value in saved.items():
        current = getattr(module, name)
        if isinstance(value, dict) and isinstance(current, dict):
            if current != value:
                current.clear()
                current.update(value)  # in the saved order: hooks run in insertion order
        else:
            setattr(module, name, value)


def _process_group_initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _restore_process_group(was_initialized: bool) -> str | None:
    # A group the script initialized is destroyed, as the script would at its end; one that
    # existed before is the caller's and is left alone.
    if was_initialized or not _process_group_initialized():
        return None
    try:
        torch.distributed.destroy_process_group()
    except (RuntimeError, ValueError) as error:  # a backend already torn down
        return f"could not destroy the script's process group: {error}"
    return None


def _switch(name: str, get: Callable[[], Any], set_: Callable[[Any], Any]) -> Restorable:
    """A global read by `get` and written by `set_`, written back only when the script changed
    it (setting torch's thread count or precision again is not free)."""
    def restore(saved: Any) -> None:
        if get() != saved:
            set_(saved)
    return Restorable(name, get, restore)


def _deterministic_algorithms() -> tuple[bool, bool]:
    return (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())


# Also put back by the distributed launcher, around torch.distributed.run (which sets
# OMP_NUM_THREADS and leaves its own handlers for SIGTERM, SIGINT, ... in place).
ENVIRONMENT = Restorable("os.environ", lambda: dict(os.environ), _restore_environ)
SIGNAL_HANDLERS = Restorable("signal handlers", _save_signal_handlers, _restore_signal_handlers)

# Also put back by `trace_step`, around a step function the caller runs.
GRAD_MODE = _switch("grad mode", torch.is_grad_enabled, torch.set_grad_enabled)
ANOMALY_DETECTION = _switch("anomaly detection", torch.is_anomaly_enabled,
                            torch.autograd.set_detect_anomaly)

# A process group the script initialized: destroyed, as the script would at its end.
PROCESS_GROUP = Restorable("process group", _process_group_initialized, _restore_process_group)

RESTORED: tuple[Restorable, ...] = (
    Restorable("sys.argv", lambda: sys.argv[:], _restore_argv),
    Restorable("sys.path", lambda: sys.path[:], _restore_path),
    Restorable("working directory", os.getcwd, _restore_working_directory),
    ENVIRONMENT,
    SIGNAL_HANDLERS,
    Restorable("interval timers", _save_timers, _restore_timers),
    Restorable("faulthandler", faulthandler.is_enabled, _restore_faulthandler),
    Restorable("sys.stdin, sys.stdout, sys.stderr", _save_streams, _restore_streams),
    Restorable("trace and profile functions", _save_tracing, _restore_tracing),
    Restorable("sys.excepthook, threading.excepthook, sys.unraisablehook",
               _save_exception_hooks, _restore_exception_hooks),
    GRAD_MODE,
    ANOMALY_DETECTION,
    _switch("default dtype", torch.get_default_dtype, torch.set_default_dtype),
    _switch("deterministic algorithms", _deterministic_algorithms, _restore_deterministic),
    _switch("torch threads", torch.get_num_threads, torch.set_num_threads),
    _switch("float32 matmul precision", torch.get_float32_matmul_precision,
            torch.set_float32_matmul_precision),
    Restorable("torch print options", _save_print_options, _restore_print_options),
    Restorable("cudnn flags", _save_cudnn, _restore_cudnn),
    Restorable("nn.Module, Tensor and Optimizer attributes", _save_class_attributes,
               _restore_class_attributes),
    Restorable("global module and optimizer hooks", _save_global_hooks,
               _restore_global_hooks),
    PROCESS_GROUP,
)


class ProcessState:
    """Every entry of `RESTORED`, saved at construction."""

    def __init__(self, entries: tuple[Restorable, ...] = RESTORED) -> None:
        self._saved = [(entry, entry.save()) for entry in entries]

    def restore(self) -> list[str]:
        """Puts everything back, the last saved first; returns what could not be restored."""
        problems = []
        for entry, saved in reversed(self._saved):
            problem = entry.restore(saved)
            if problem:
                problems.append(f"{entry.name}: {problem}")
        return problems
