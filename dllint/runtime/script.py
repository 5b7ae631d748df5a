"""Run a user's training script, unchanged, under the instruments, and restore everything after.

The script runs in this process (so hooks see its model) as `__main__`, with `sys.argv`, the
working directory, `sys.path`, signal handlers and environment as `python script.py ARGS` would
give it. Whatever the script does (raise, `sys.exit`, never step, run forever), the process is
left as it was found, and the report says what was seen.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import threading
import traceback
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from dllint.runtime.codes import OVERFIT
from dllint.runtime.instruments import (Instruments, Observations, StopTracing, _line_span,
                                         is_user_file)
from dllint.runtime.overfit import Verdict, judge
from dllint.types import Diagnostic, RelatedLocation, Severity


_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
MAX_DEFERRALS = 200  # x 5 ms


class TraceTimeout(BaseException):
    """Raised by the alarm when the script runs past --timeout."""


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
    outcome: str  # "stopped", "finished", "exited", "raised", "timeout"
    detail: str
    device: str
    steps: int
    observations: Observations
    user_traceback: str = ""
    instrument_errors: list[str] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    initial_loss: str = ""  # "initial loss 1.097 vs chance ln(3) = 1.099", or ""
    first_step_changed: bool | None = None
    # The script's own `sys.exit(n)` status (None when it did not call sys.exit).
    exit_code: int | None = None
    # The first training loss, and the loss of a model that guesses uniformly ("ln(3)", 1.0986).
    initial_loss_value: float | None = None
    chance: tuple[str, float] | None = None
    # The script's own modules it imported from its folder (where its model is usually
    # defined): the static rules run over them too.
    local_files: list[str] = field(default_factory=list)

    @property
    def incomplete(self) -> str:
        """Why no complete training step was checked ("" when one was): the script raised,
        timed out, exited with a non-zero status, or never stepped an optimizer."""
        if self.outcome in ("raised", "timeout"):
            return self.detail.split("; ")[0]
        if self.outcome == "exited" and self.exit_code:
            return f"the script exited with status {self.exit_code}"
        if self.steps == 0:
            return "no optimizer step was seen" if self.observations.backward_calls else \
                "no backward pass and no optimizer step were seen"
        return ""

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


class _Alarm:
    """--timeout: an interval timer on the main thread; restores the previous handler."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.active = bool(seconds) and hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()
        self.previous = None

    def __enter__(self) -> None:
        if self.active:
            self.armed = True
            self.deferrals = 0

            def expire(signum, frame):
                # A timer that fires while the script is being wound down is ignored: the
                # timeout is for the script, never for dllint's own cleanup.
                if not self.armed:
                    return
                # Interrupt only the script's own code. Landing in library code can break
                # global state: between torch.no_grad's __enter__ and its `with` (autograd left
                # off), or inside torch's mode-stack bookkeeping. So try again in 5 ms, and
                # after about a second accept library code (a script stuck in a library loop
                # must still time out), but never dllint's own instruments.
                filename = frame.f_code.co_filename if frame is not None else ""
                in_user_code = is_user_file(filename)
                in_instruments = filename.startswith(_RUNTIME_DIR)
                if not in_user_code and (in_instruments or self.deferrals < MAX_DEFERRALS):
                    self.deferrals += 1
                    signal.setitimer(signal.ITIMER_REAL, 0.005)
                    return
                raise TraceTimeout
            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc_info) -> None:
        if self.active:
            self.armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def keep_replaying(instruments: Instruments) -> str:
    """The script's own loop ended before K steps: go on training on the captured batch with the
    script's model, optimizer and loss, until the instruments stop it."""
    optimizers = list(instruments._optimizers.values())
    root = instruments.primary_root
    captured = instruments.captured_inputs.get((id(root), 0, None)) if root is not None else None
    if len(optimizers) != 1 or captured is None or instruments.replay_loss is None:
        return "; the script's loop ended early and its step could not be replayed"
    optimizer = optimizers[0]
    loss_function, target, loss_kwargs, input_shape = instruments.replay_loss
    try:
        while True:
            optimizer.zero_grad()
            output = root(*captured)
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


def loss_curves(instruments: Instruments) -> list[Curve]:
    """One curve per optimizer; judged only in overfit mode."""
    return [Curve(instruments.optimizer_names.get(key, "optimizer"), [float(v) for v in values],
                  judge(values) if instruments.overfit else None, _models_of(instruments, key))
            for key, values in instruments.curves.items()]


def overfit_findings(instruments: Instruments,
                     curves: list[Curve]) -> list[Diagnostic]:
    findings = []
    for key, curve in zip(instruments.curves, curves):
        name, values, verdict = curve.optimizer, curve.values, curve.verdict
        if verdict is None:
            continue
        path, line = instruments.loss_location or instruments.optimizer_created.get(
            key, ("<unknown>", 1))
        related = []
        if key in instruments.optimizer_created:
            created_path, created_line = instruments.optimizer_created[key]
            related.append(RelatedLocation(created_path, _line_span(created_path, created_line),
                                           f"{name} built here"))
        step = max(1, len(values) // 50)
        findings.append(Diagnostic(
            OVERFIT.code, OVERFIT.name, f"{name}: {verdict.describe()}",
            Severity.INFO if verdict.kind == "passes" else Severity.ERROR, path,
            _line_span(path, line), tuple(related),
            evidence={"verdict": verdict.kind, "start": verdict.start, "end": verdict.end,
                      "lowest": verdict.lowest, "steps": verdict.steps,
                      "next_step": verdict.next_step, "curve": values[::step]}))
    return findings


def trace_script(script: str | Path, argv: Sequence[str] = (), *, steps: int = 1,
                 timeout: float | None = None, device: str = "auto",
                 overfit: int | None = None,
                 around: Callable[[Instruments], AbstractContextManager] | None = None
                 ) -> TraceReport:
    """`around(instruments)` is entered before the instruments and left after them (a rank of a
    distributed run adds its own hooks there; its optimizer hooks then run first)."""
    script = str(Path(script).resolve())
    saved_argv, saved_path, saved_cwd = sys.argv[:], sys.path[:], os.getcwd()
    # torch's global switches: a script (or an interrupted one) may leave them changed.
    saved_grad, saved_anomaly = torch.is_grad_enabled(), torch.is_anomaly_enabled()
    saved_dtype = torch.get_default_dtype()
    saved_modules = set(sys.modules)
    saved_visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the script's cuda.is_available() says False
    instruments = Instruments(steps=steps, overfit=overfit)
    outcome, detail, user_traceback = "finished", "the script ended", ""
    exit_code: int | None = None
    sys.argv = [script, *argv]
    sys.path.insert(0, os.path.dirname(script))
    try:
        companion = around(instruments) if around is not None else nullcontext()
        with companion, instruments, _Alarm(timeout):  # the alarm is disarmed before hooks come off
            try:
                try:
                    runpy.run_path(script, run_name="__main__")
                except SystemExit as exit_:
                    if not overfit or not instruments.seen.steps:
                        raise
                    detail = f"the script called sys.exit({exit_.code!r})"
                    exit_code = _exit_status(exit_.code)
                if overfit and instruments.seen.steps:
                    own = instruments.seen.steps
                    detail = f"the script's own loop ran {own} steps" + keep_replaying(instruments)
                    if instruments.seen.steps >= overfit:
                        outcome = "stopped"
            except StopTracing:
                outcome = "stopped"
                detail = (f"replayed the first batch for {overfit} steps" if overfit
                          else f"stopped after {steps} optimizer step(s)")
            except TraceTimeout:
                outcome, detail = "timeout", f"ran past the {timeout:g} s timeout"
            except SystemExit as exit_:
                outcome, detail = "exited", f"the script called sys.exit({exit_.code!r})"
                exit_code = _exit_status(exit_.code)
            except KeyboardInterrupt:
                raise
            except Exception as error:  # noqa: BLE001 - the user's error, shown as theirs
                outcome, detail = "raised", f"the script raised {type(error).__name__}: {error}"
                user_traceback = _user_traceback(error)
    finally:
        sys.argv[:] = saved_argv
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        torch.set_grad_enabled(saved_grad)
        torch.autograd.set_detect_anomaly(saved_anomaly)
        torch.set_default_dtype(saved_dtype)
        if device == "cpu":
            if saved_visible is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved_visible
        # Modules the script brought in from its own folder would shadow the next script's.
        folder = os.path.dirname(script) + os.sep
        local_files = []
        for name in set(sys.modules) - saved_modules:
            file = getattr(sys.modules.get(name), "__file__", None) or ""
            if file.startswith(folder):
                del sys.modules[name]
                # Installed packages vendored or in a virtual environment inside the folder
                # are not the script's own code.
                if file.endswith(".py") and file != script and not _installed(file):
                    local_files.append(file)
    instruments.finish()
    seen = instruments.seen
    curves = loss_curves(instruments)
    if overfit:
        seen.findings.extend(overfit_findings(instruments, curves))
    initial = ""
    if instruments.initial_loss is not None and instruments.chance is not None:
        label, chance = instruments.chance
        initial = f"initial loss {instruments.initial_loss:.4g} vs chance {label} = {chance:.4g}"
    if seen.steps == 0 and outcome != "stopped":
        detail += "; no optimizer step was seen" if seen.backward_calls else \
            "; no backward pass and no optimizer step were seen"
    return TraceReport(script, outcome, detail, seen.device or "cpu", seen.steps, seen,
                       user_traceback, instruments.errors, curves, initial,
                       instruments.first_step_changed, exit_code,
                       initial_loss_value=instruments.initial_loss, chance=instruments.chance,
                       local_files=sorted(local_files))
