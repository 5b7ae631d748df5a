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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from dllint.runtime.instruments import Instruments, Observations, StopTracing, is_user_file
from dllint.types import Diagnostic


class TraceTimeout(BaseException):
    """Raised by the alarm when the script runs past --timeout."""


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

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted(self.observations.findings, key=Diagnostic.sort_key)

    @property
    def codes(self) -> list[str]:
        return sorted({d.code for d in self.diagnostics})


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
            def expire(signum, frame):
                raise TraceTimeout
            self.previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc_info) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def trace_script(script: str | Path, argv: Sequence[str] = (), *, steps: int = 1,
                 timeout: float | None = None, device: str = "auto") -> TraceReport:
    script = str(Path(script).resolve())
    saved_argv, saved_path, saved_cwd = sys.argv[:], sys.path[:], os.getcwd()
    saved_modules = set(sys.modules)
    saved_visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the script's cuda.is_available() says False
    instruments = Instruments(steps=steps)
    outcome, detail, user_traceback = "finished", "the script ended", ""
    sys.argv = [script, *argv]
    sys.path.insert(0, os.path.dirname(script))
    try:
        with _Alarm(timeout), instruments:
            try:
                runpy.run_path(script, run_name="__main__")
            except StopTracing:
                outcome, detail = "stopped", f"stopped after {steps} optimizer step(s)"
            except TraceTimeout:
                outcome, detail = "timeout", f"ran past the {timeout:g} s timeout"
            except SystemExit as exit_:
                outcome, detail = "exited", f"the script called sys.exit({exit_.code!r})"
            except KeyboardInterrupt:
                raise
            except Exception as error:  # noqa: BLE001 - the user's error, shown as theirs
                outcome, detail = "raised", f"the script raised {type(error).__name__}: {error}"
                user_traceback = _user_traceback(error)
    finally:
        sys.argv[:] = saved_argv
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        if device == "cpu":
            if saved_visible is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved_visible
        # Modules the script brought in from its own folder would shadow the next script's.
        folder = os.path.dirname(script) + os.sep
        for name in set(sys.modules) - saved_modules:
            file = getattr(sys.modules.get(name), "__file__", None) or ""
            if file.startswith(folder):
                del sys.modules[name]
    seen = instruments.seen
    if seen.steps == 0 and outcome != "stopped":
        detail += "; no optimizer step was seen" if seen.backward_calls else \
            "; no backward pass and no optimizer step were seen"
    return TraceReport(script, outcome, detail, seen.device or "cpu", seen.steps, seen,
                       user_traceback, instruments.errors)
