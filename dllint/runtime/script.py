"""Run a user's training script, unchanged, under the instruments, and restore everything after.

The script runs in this process (so hooks see its model) as `__main__`, with `sys.argv`, the
working directory, `sys.path`, signal handlers and environment as `python script.py ARGS` would
give it. Whatever the script does (raise, `sys.exit`, `os._exit`, fork, never step, run forever,
ignore the timeout), the report says what was seen, and the process is left as it was found
(`process_state.RESTORED`).
"""

from __future__ import annotations

import atexit
import ctypes
import faulthandler
import gc
import os
import runpy
import signal
import sys
import threading
import time
import traceback
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Callable, NoReturn, Sequence

import torch

from dllint.runtime.checks.rt010_overfit import OverfitVerdict
from dllint.runtime.checks.rt017_does_not_fit import DoesNotFit, fallback_step_memory
from dllint.runtime.instruments import Instruments, Observations, StopTracing, is_user_file
from dllint.runtime.memory_advice import Judgement, OutOfMemory, is_out_of_memory
from dllint.runtime.overfit import Verdict, judge
from dllint.runtime.process_state import PROCESS_GROUP, RESTORED, ProcessState
from dllint.types import Diagnostic


_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
DEFERRAL = 0.005  # s between tries to interrupt the script at a safe point
MAX_DEFERRALS = 200  # x DEFERRAL
# The watchdog's part of --timeout starts this long after the deadline, when the alarm (and its
# deferrals, about a second) has had its chance.
ALARM_GRACE = 1.5
# How long an interrupted script has to stop before the CLI writes the report and ends it.
UNSTOPPABLE_GRACE = 3.0


class TraceTimeout(BaseException):
    """Raised in the script when it runs past --timeout."""


class ProcessExit(BaseException):
    """The script called `os._exit(status)`: unwound like `sys.exit` so that the report is
    written."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class TraceInterrupted(KeyboardInterrupt):
    """The script was interrupted (KeyboardInterrupt: Ctrl-C, or raised by the script). Raised
    by `trace_script` after everything is restored, with the report of what was seen; a
    KeyboardInterrupt, so that Ctrl-C still stops the caller."""

    def __init__(self, report: TraceReport) -> None:
        super().__init__(report.detail)
        self.report = report


@dataclass
class Curve:
    """The training loss of one optimizer, one value per step it took (the loss before that
    step's update). `verdict` is judged only with --overfit."""
    optimizer: str  # "Adam #1"
    values: list[float]
    verdict: Verdict | None
    # The models whose parameters this optimizer steps, by their display names.
    models: tuple[str, ...] = ()


@dataclass
class TraceReport:
    script: str
    outcome: str  # "stopped", "finished", "exited", "raised", "timeout", "interrupted"
    detail: str
    device: str
    steps: int
    observations: Observations
    user_traceback: str = ""
    instrument_errors: list[str] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    initial_loss: str = ""  # "initial loss 1.097 vs chance ln(3) = 1.099", or ""
    first_step_changed: bool | None = None
    # The status of the script's own `sys.exit(n)` or `os._exit(n)` (also from an atexit
    # callback); None when it did not exit so.
    exit_code: int | None = None
    # The first training loss, and the loss of a model that guesses uniformly ("ln(3)", 1.0986).
    initial_loss_value: float | None = None
    chance: tuple[str, float] | None = None
    # The script's own modules it imported from its folder (where its model is usually
    # defined): the static rules run over them too.
    local_files: list[str] = field(default_factory=list)
    # With --overfit: why the replay ran fewer than K steps ("" when it ran them all); no
    # verdict is given then.
    overfit_incomplete: str = ""
    # --memory-budget in bytes (None: none given), and the RT017 verdict when the step does not
    # fit it or ran out of memory (memory_advice.py).
    memory_budget: int | None = None
    memory_judgement: Judgement | None = None

    @property
    def out_of_memory(self) -> bool:
        """The script ran out of memory: RT017 reports it (exit status 1, not 3)."""
        return self.memory_judgement is not None and \
            self.memory_judgement.reason == "out_of_memory"

    @property
    def incomplete(self) -> str:
        """Why no complete training step was checked ("" when one was): the script raised,
        timed out, was interrupted, exited with a non-zero status, or never stepped an
        optimizer."""
        if self.outcome in ("raised", "timeout", "interrupted"):
            return self.detail.split("; ")[0]
        if self.outcome == "exited" and self.exit_code:
            return f"the script exited with status {self.exit_code}"
        if self.steps == 0:
            return "no optimizer step was seen" if self.observations.backward_calls else \
                "no backward pass and no optimizer step were seen"
        return self.overfit_incomplete

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted(self.observations.findings, key=Diagnostic.sort_key)

    @property
    def codes(self) -> list[str]:
        return sorted({d.code for d in self.diagnostics})


def _exit_status(code: object) -> int:
    """The status the interpreter would exit with for `sys.exit(code)`."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _user_traceback(error: BaseException) -> str:
    """The traceback of the user's exception with dllint's and runpy's frames left out."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if is_user_file(frame.filename)]
    lines = ["Traceback (most recent call last):\n"]
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)


def _interruptible(frame: FrameType | None, deferrals: int) -> bool:
    """Whether a timeout may interrupt the script where it is now (`frame`, its innermost).

    Interrupt only the script's own code. Landing in library code can break global state:
    between torch.no_grad's __enter__ and its `with` (autograd left off), or inside torch's
    mode-stack bookkeeping. So the caller tries again in 5 ms, and after about a second accepts
    library code (a script stuck in a library loop must still time out), but never dllint's own
    instruments."""
    filename = frame.f_code.co_filename if frame is not None else ""
    if is_user_file(filename):
        return True
    return not filename.startswith(_RUNTIME_DIR) and deferrals >= MAX_DEFERRALS


class _Alarm:
    """--timeout, on time and also inside a blocking call: an interval timer on the main thread;
    restores the previous handler. A script can disarm it (ignore SIGALRM, reset the timer):
    `_Watchdog` covers that."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.active = bool(seconds) and hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()
        self.previous = None
        # When the handler last ran (it is still deferring while this is recent) and when it
        # raised: the watchdog stays out of the way of an alarm that is working.
        self.last_call: float | None = None
        self.raised_at: float | None = None

    def deferring(self) -> bool:
        return (self.raised_at is None and self.last_call is not None
                and time.monotonic() - self.last_call < 20 * DEFERRAL)

    def __enter__(self) -> None:
        if self.active:
            self.armed = True
            self.deferrals = 0

            def expire(signum, frame):
                # A timer that fires while the script is being wound down is ignored: the
                # timeout is for the script, never for dllint's own cleanup.
                if not self.armed:
                    return
                self.last_call = time.monotonic()
                if not _interruptible(frame, self.deferrals):
                    self.deferrals += 1
                    signal.setitimer(signal.ITIMER_REAL, DEFERRAL)
                    return
                self.raised_at = time.monotonic()
                raise TraceTimeout
            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc_info) -> None:
        if self.active:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


# PyThreadState_SetAsyncExc(thread id, exception type): raise in another thread at its next
# check for pending work (a call, a jump back). Called with the GIL held.
_raise_in_thread = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi))


def _deliver_pending() -> None:
    """A call: an exception raised in this thread from another is delivered by now."""


class _Watchdog:
    """--timeout, the part the script cannot disarm: a thread of dllint's own. If the script
    still runs `ALARM_GRACE` after the deadline (it ignored SIGALRM, reset the interval timer,
    or runs outside the main thread), the watchdog raises TraceTimeout in the tracing thread
    (at a point `_interruptible` accepts). If the script still runs `UNSTOPPABLE_GRACE` later
    (it swallows the exception, or is blocked inside a C call), `on_unstoppable()` is called
    from the watchdog thread: the CLI writes the report of what was seen and ends the process.
    Without it (the Python API: the caller's process is never ended), the watchdog keeps
    interrupting."""

    def __init__(self, seconds: float | None, alarm: _Alarm,
                 on_unstoppable: Callable[[], None] | None) -> None:
        self.seconds = seconds
        self.alarm = alarm
        self.first_wait = (seconds or 0) + (ALARM_GRACE if alarm.active else 0)
        self.on_unstoppable = on_unstoppable
        self.tracing_thread = threading.get_ident()
        self._running = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> None:
        if self.seconds:
            self._running = True
            self._thread = threading.Thread(target=self._watch, name="dllint-timeout",
                                            daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        if self._done.wait(self.first_wait):
            return
        deferrals = 0
        while self._running:
            # Two interruptions at once could land the second in the handling of the first.
            if self.alarm.deferring():
                if self._done.wait(DEFERRAL):
                    return
                continue
            if self.alarm.raised_at is not None:
                # The alarm interrupted the script and it went on: give it the same grace.
                left = self.alarm.raised_at + UNSTOPPABLE_GRACE - time.monotonic()
                if left > 0:
                    if self._done.wait(left):
                        return
                    continue
            frame = sys._current_frames().get(self.tracing_thread)
            if not _interruptible(frame, deferrals):
                deferrals += 1
                if self._done.wait(DEFERRAL):
                    return
                continue
            _raise_in_thread(self.tracing_thread, TraceTimeout)
            if self._done.wait(UNSTOPPABLE_GRACE):
                return
            if self.on_unstoppable is not None:
                self.on_unstoppable()
                return
            deferrals = 0

    def __exit__(self, *exc_info) -> None:
        if self._thread is None:
            return
        while True:
            try:
                self._running = False
                self._done.set()
                self._thread.join()
                # One the watchdog raised just before it ended is delivered at this thread's
                # next call at the latest: here, where it is caught. (Withdrawing it with
                # SetAsyncExc(NULL) instead would leave the interpreter's eval breaker set for
                # good, which slows every later bytecode.)
                _deliver_pending()
                return
            except TraceTimeout:
                continue  # it landed here, after the script: not the script's


class _ExitGuard:
    """While the script runs, the ways it could end the process before the report is written.

    Its `os._exit(n)` in the tracing thread unwinds as ProcessExit, like `sys.exit(n)` (in a
    process it forked, or a worker process, `os._exit` exits as usual). The atexit callbacks its
    own code registers are kept here instead of in the interpreter: `run_callbacks` runs them
    when the script ends, as the interpreter would at its exit, and none is left registered
    afterwards (one could otherwise change the exit status after the report, or run in the
    caller's process). A library's registration (at its import, for as long as the module is
    loaded, like `multiprocessing`'s) goes to the interpreter as usual."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.thread = threading.get_ident()
        self.callbacks: list[tuple[Callable, tuple, dict]] = []

    def __enter__(self) -> _ExitGuard:
        self._originals = os._exit, atexit.register, atexit.unregister
        real_exit, real_register, real_unregister = self._originals
        guard = self

        def _exit(status: int) -> NoReturn:
            if os.getpid() == guard.pid and threading.get_ident() == guard.thread:
                raise ProcessExit(status)
            real_exit(status)

        def register(function: Callable, /, *args, **kwargs) -> Callable:
            if not is_user_file(sys._getframe(1).f_code.co_filename):
                return real_register(function, *args, **kwargs)
            guard.callbacks.append((function, args, kwargs))
            return function

        def unregister(function: Callable, /) -> None:
            guard.callbacks = [entry for entry in guard.callbacks if entry[0] != function]
            real_unregister(function)

        os._exit, atexit.register, atexit.unregister = _exit, register, unregister
        return self

    def __exit__(self, *exc_info) -> None:
        os._exit, atexit.register, atexit.unregister = self._originals

    def run_callbacks(self) -> None:
        """The script's atexit callbacks, the last registered first. One that raises is
        printed and the next one runs, as at interpreter exit."""
        while self.callbacks:
            function, args, kwargs = self.callbacks.pop()
            try:
                function(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the script's error, printed as Python would
                print(f"Exception ignored in atexit callback {function!r}:", file=sys.stderr)
                traceback.print_exc()


def _quiet_stops(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """threading.excepthook for the trace: a thread of the script that trains ends at dllint's
    stop like the main thread, without a traceback of dllint's internal exception."""
    def excepthook(arguments) -> object:
        if issubclass(arguments.exc_type, StopTracing):
            return None
        return hook(arguments)
    return excepthook


def _enable_faulthandler() -> None:
    """A crash of the interpreter (a segfault in an extension) prints the script's Python
    traceback on the real standard error before the process dies."""
    if faulthandler.is_enabled() or sys.__stderr__ is None:
        return
    try:
        faulthandler.enable(file=sys.__stderr__, all_threads=True)
    except (OSError, ValueError, AttributeError):  # a stand-in stderr without a file descriptor
        pass


def _end_forked_child(outcome: str, exit_code: int | None, user_traceback: str) -> NoReturn:
    """A process the script forked returned from the script instead of exiting: it exits here,
    with the status the script would have given it, and never writes a report (only the traced
    process does)."""
    if user_traceback:
        sys.stderr.write(user_traceback)
    if exit_code is not None:
        status = exit_code
    else:
        status = {"raised": 1, "interrupted": 130}.get(outcome, 0)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def keep_replaying(instruments: Instruments) -> str:
    """The script's own loop ended before K steps: go on training on the captured batch with the
    script's model, optimizer and loss, until the instruments stop it."""
    optimizers = list(instruments._optimizers.values())
    root = instruments.primary_root
    captured = instruments.captured_inputs.get((id(root), 0, None)) if root is not None else None
    if len(optimizers) != 1 or captured is None or instruments.replay_loss is None:
        return "; the script's loop ended early and its step could not be replayed"
    captured_args, captured_kwargs = captured
    optimizer = optimizers[0]
    loss_function, target, loss_kwargs, input_shape = instruments.replay_loss
    try:
        while True:
            optimizer.zero_grad()
            output = root(*captured_args, **captured_kwargs)
            if not isinstance(output, torch.Tensor) or tuple(output.shape) != input_shape:
                return "; the script's loop ended early and its step could not be replayed"
            loss_function(output, target, **loss_kwargs).backward()
            optimizer.step()
    except StopTracing:
        return f"; the script's loop ended, so dllint went on replaying its step to {instruments.overfit}"


def _installed(path: str) -> bool:
    parts = Path(path).parts
    return "site-packages" in parts or "dist-packages" in parts


def _models_of(instruments: Instruments, key: int) -> tuple[str, ...]:
    """The display names of the models whose parameters the optimizer `key` steps."""
    optimizer = instruments._optimizers.get(key)
    if optimizer is None:
        return ()
    own = {id(p) for group in optimizer.param_groups for p in group["params"]}
    # A wrapper and the model it wraps (`model` and `model.module`) share a name: said once.
    return tuple(dict.fromkeys(instruments.name_of(root) for root in instruments.roots.values()
                               if any(id(p) in own for p in root.parameters())))


def replay_shortfall(instruments: Instruments, detail: str) -> str:
    """With --overfit, why the replay ran fewer than K steps ("" when it ran them all)."""
    if not instruments.overfit or instruments.seen.steps >= instruments.overfit:
        return ""
    ran = instruments.seen.steps
    why = detail.removeprefix(f"the script's own loop ran {ran} steps; ")
    return (f"the --overfit replay ran {ran} of {instruments.overfit} steps ({why}), too few to "
            f"judge the loss curve")


def loss_curves(instruments: Instruments, complete: bool) -> list[Curve]:
    """One curve per optimizer; judged only in overfit mode, on a complete replay (the optimizer
    that stepped most ran K steps): a verdict on fewer steps would judge a different run."""
    judged = bool(instruments.overfit) and complete
    return [Curve(instruments.optimizer_names.get(key, "optimizer"), [float(v) for v in values],
                  judge(values) if judged else None, _models_of(instruments, key))
            for key, values in instruments.curves.items()]


def overfit_findings(instruments: Instruments,
                     curves: list[Curve]) -> list[Diagnostic]:
    """The RT010 findings of the judged curves (see `checks/rt010_overfit.py`)."""
    return instruments.check(OverfitVerdict).findings(list(instruments.curves), curves,
                                                      instruments.loss_attribution.location)


def check_steps(steps: object, what: str) -> None:
    """A step count below 1 would check nothing and report nothing: refused."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{what} needs steps >= 1 (the optimizer steps to check), got {steps!r}")


def _exit_call(exit_: SystemExit | ProcessExit) -> tuple[str, int]:
    """How the script exited, in words, and the status it asked for."""
    if isinstance(exit_, ProcessExit):
        return f"os._exit({exit_.status!r})", _exit_status(exit_.status)
    return f"sys.exit({exit_.code!r})", _exit_status(exit_.code)


@dataclass
class _Run:
    """How the script's run ended, as the report will say it."""
    outcome: str = "finished"
    detail: str = "the script ended"
    user_traceback: str = ""
    exit_code: int | None = None
    # Where a real out-of-memory error was raised (RT017); None when there was none.
    out_of_memory: OutOfMemory | None = None


def _run_script(script: str, instruments: Instruments, steps: int, timeout: float | None,
                overfit: int | None) -> _Run:
    run = _Run()
    try:
        try:
            runpy.run_path(script, run_name="__main__")
        except (SystemExit, ProcessExit) as exit_:
            if not overfit or not instruments.seen.steps:
                raise
            call, run.exit_code = _exit_call(exit_)
            run.detail = f"the script called {call}"
        if overfit and instruments.seen.steps:
            own = instruments.seen.steps
            run.detail = f"the script's own loop ran {own} steps" + keep_replaying(instruments)
            if instruments.seen.steps >= overfit:
                run.outcome = "stopped"
    except StopTracing:
        run.outcome = "stopped"
        run.detail = (f"replayed the first batch for {overfit} steps" if overfit
                      else f"stopped after {steps} optimizer step(s)")
    except TraceTimeout:
        run.outcome, run.detail = "timeout", f"ran past the {timeout:g} s timeout"
    except (SystemExit, ProcessExit) as exit_:
        call, run.exit_code = _exit_call(exit_)
        run.outcome, run.detail = "exited", f"the script called {call}"
    except KeyboardInterrupt as error:
        run.outcome, run.detail = "interrupted", "the script was interrupted (KeyboardInterrupt)"
        run.user_traceback = _user_traceback(error)
    except BaseException as error:  # noqa: BLE001 - the user's error, shown as theirs
        run.outcome = "raised"
        run.detail = f"the script raised {type(error).__name__}: {error}"
        run.user_traceback = _user_traceback(error)
        if is_out_of_memory(error):
            run.out_of_memory = instruments.check(DoesNotFit).locate(error)
    return run


def _run_atexit_callbacks(guard: _ExitGuard, run: _Run, timeout: float | None) -> None:
    """The script's atexit callbacks, after its run, as the interpreter runs them at its exit.
    A callback's `os._exit(n)` ends the script's process there: a non-zero `n` is the script's
    exit status (as `python script.py` would exit), but it never hides what the trace saw."""
    try:
        guard.run_callbacks()
    except ProcessExit as exit_:
        call, status = _exit_call(exit_)
        run.detail += f"; an atexit callback called {call}"
        if status and run.outcome in ("finished", "stopped"):
            run.outcome, run.exit_code = "exited", status
    except StopTracing:
        pass  # a callback that steps an optimizer after the trace stopped
    except TraceTimeout:
        run.outcome = "timeout"
        run.detail += f"; its atexit callbacks ran past the {timeout:g} s timeout"
    except KeyboardInterrupt as error:
        run.outcome, run.detail = "interrupted", "the script was interrupted (KeyboardInterrupt)"
        run.user_traceback = _user_traceback(error)


def _local_modules(script: str, saved_modules: set[str], forget: bool) -> list[str]:
    """The files of the modules the script brought in from its own folder (`forget`: and take
    them out of sys.modules, where they would shadow the next script's)."""
    folder = os.path.dirname(script) + os.sep
    local_files = []
    for name in set(sys.modules) - saved_modules:
        file = getattr(sys.modules.get(name), "__file__", None) or ""
        if file.startswith(folder):
            if forget:
                del sys.modules[name]
            # Installed packages vendored or in a virtual environment inside the folder are
            # not the script's own code.
            if file.endswith(".py") and file != script and not _installed(file):
                local_files.append(file)
    return sorted(local_files)


def _report(script: str, instruments: Instruments, run: _Run, overfit: int | None,
            local_files: list[str], memory_budget: int | None = None) -> TraceReport:
    instruments.finish()
    # Issue 27: the step's memory as the recorder measured it (up to the error, for a script
    # that ran out of memory) goes to the budget and out-of-memory verdict (RT017); when no
    # forward with gradients was recorded, the sums of parameters, gradients and state.
    seen = instruments.seen
    step_memory = seen.memory or fallback_step_memory(instruments.context)
    memory_judgement = instruments.check(DoesNotFit).judge(step_memory, memory_budget,
                                                           run.out_of_memory)
    if memory_judgement is not None and seen.memory is None:
        seen.memory = step_memory  # the breakdown the verdict read goes into the report
    shortfall = replay_shortfall(instruments, run.detail)
    curves = loss_curves(instruments, complete=not shortfall)
    if overfit:
        seen.findings.extend(overfit_findings(instruments, curves))
    initial, initial_value, initial_chance = initial_losses(instruments)
    detail = run.detail
    if seen.steps == 0 and run.outcome != "stopped":
        detail += "; no optimizer step was seen" if seen.backward_calls else \
            "; no backward pass and no optimizer step were seen"
    return TraceReport(script, run.outcome, detail, seen.device or "cpu", seen.steps, seen,
                       run.user_traceback, instruments.errors, curves, initial,
                       instruments.first_step_changed, run.exit_code,
                       initial_loss_value=initial_value, chance=initial_chance,
                       local_files=local_files, overfit_incomplete=shortfall,
                       memory_budget=memory_budget, memory_judgement=memory_judgement)


def _free_memory() -> None:
    """After a script that ran out of memory: its step's tensors (held by the error's frames
    until now) are collected, and CUDA's cached blocks go back to the device, so that the caller
    (the CLI writing the report, a test session) has the memory back."""
    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def initial_losses(instruments: Instruments) -> tuple[str, float | None,
                                                      tuple[str, float] | None]:
    """Each optimizer's first loss, against its chance value where one loss function fed its
    first step, as the report's line ("initial loss 1.097 vs chance ln(3) = 1.099", each
    optimizer named when there are several; no line when no chance value is known), and the
    value and chance of the first optimizer that has one. The loss is the one that fed the
    optimizer's first step, so a GAN's generator is compared with its own loss, not the
    discriminator's."""
    attribution = instruments.loss_attribution
    several = len(attribution.order) > 1
    parts, first = [], None
    for key in attribution.order:
        initial = attribution.initial_loss(key)
        name = f" ({instruments.optimizer_names.get(key, 'optimizer')})" if several else ""
        if initial is not None:
            value, (label, chance) = initial
            parts.append(f"{value:.4g} vs chance {label} = {chance:.4g}{name}")
            first = first or initial
        elif instruments.curves.get(key):
            parts.append(f"{float(instruments.curves[key][0]):.4g}{name}")
    if first is None:
        return "", None, None
    return "initial loss " + ", ".join(parts), first[0], first[1]


def trace_script(script: str | Path, argv: Sequence[str] = (), *, steps: int = 1,
                 timeout: float | None = None, device: str = "auto",
                 overfit: int | None = None,
                 around: Callable[[Instruments], AbstractContextManager] | None = None,
                 on_unstoppable: Callable[[TraceReport], None] | None = None,
                 memory_budget: int | None = None) -> TraceReport:
    """Run the script under the instruments and report what they saw; everything in
    `process_state.RESTORED` is put back afterwards.

    `around(instruments)` is entered before the instruments and left after them (a rank of a
    distributed run adds its own hooks there; its optimizer hooks then run first).
    `on_unstoppable(report)` is called, from a watchdog thread, when the script ran past
    `timeout` and did not stop when interrupted; it must end the process (the CLI writes the
    report first). Without it the caller's process is never ended: the watchdog keeps
    interrupting the script.

    A KeyboardInterrupt in the script is raised again, after the restore, as TraceInterrupted
    with the report. In a process the script forked, the script's end exits that process.

    `memory_budget` (bytes) judges the step's peak against it; a step over it, or a script that
    ran out of memory, gets RT017 and `report.memory_judgement`. After an out-of-memory error
    the step's tensors are freed before returning (and CUDA's cache emptied)."""
    check_steps(steps, "trace_script")
    script = str(Path(script).resolve())
    instruments = Instruments(steps=steps, overfit=overfit)
    run = _Run()
    guard = _ExitGuard()
    # A distributed rank (`around`) publishes its report and tells the other ranks to stop
    # before its process group goes: its launcher closes the group then, not the restore.
    state = ProcessState(RESTORED if around is None else
                         tuple(entry for entry in RESTORED if entry is not PROCESS_GROUP))
    saved_modules = set(sys.modules)

    def unstoppable() -> None:
        ended = _Run("timeout", f"ran past the {timeout:g} s timeout and did not stop when "
                                f"interrupted, so dllint ended the process")
        on_unstoppable(_report(script, instruments, ended, overfit,
                               _local_modules(script, saved_modules, forget=False),
                               memory_budget))

    alarm = _Alarm(timeout)
    watchdog = _Watchdog(timeout, alarm, unstoppable if on_unstoppable else None)
    try:
        if device == "cpu":
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the script's cuda.is_available() is False
        sys.argv = [script, *argv]
        sys.path.insert(0, os.path.dirname(script))
        _enable_faulthandler()
        threading.excepthook = _quiet_stops(threading.excepthook)
        companion = around(instruments) if around is not None else nullcontext()
        # The alarm and the watchdog are disarmed before the hooks come off.
        with companion, instruments, guard, alarm, watchdog:
            try:
                run = _run_script(script, instruments, steps, timeout, overfit)
                _run_atexit_callbacks(guard, run, timeout)
            except TraceTimeout:
                # The alarm and the watchdog both interrupted the script at once: the second
                # landed while the first was being handled.
                run = _Run("timeout", f"ran past the {timeout:g} s timeout")
    finally:
        if os.getpid() != guard.pid:
            _end_forked_child(run.outcome, run.exit_code, run.user_traceback)
        problems = state.restore()
        local_files = _local_modules(script, saved_modules, forget=True)
    instruments.errors.extend(f"could not restore {problem}" for problem in problems)
    report = _report(script, instruments, run, overfit, local_files, memory_budget)
    if run.out_of_memory is not None:
        del instruments  # it holds the model and the optimizer: the rest of the failing step
        _free_memory()
    if run.outcome == "interrupted":
        raise TraceInterrupted(report)
    return report
