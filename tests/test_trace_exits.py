"""How a trace ends, whatever the script does: each exit status of `dllint trace` (README, "Exit
status of dllint trace"), the timeout the script cannot disarm, forks, threads and children the
script leaves, and the ways a script can end its process before the report."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time

import jsonschema
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.runtime.checks.rt003_loss_contract import LossContract  # noqa: E402
from dllint.runtime.script import TraceInterrupted, trace_script  # noqa: E402
from dllint.runtime.trace_json import SCHEMA  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"

# Two optimizer steps without zero_grad: RT009 with --steps 2.
TRAINS = """
import torch
model = torch.nn.Linear(3, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(4, 3), torch.randint(0, 2, (4,))
for _ in range(3):
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
"""


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def trace(*args):
    return CliRunner().invoke(main, ["trace", "--no-static", *map(str, args)])


def one_json_report(stdout: bytes) -> dict:
    """The report on stdout, which must be exactly one JSON object."""
    return json.loads(stdout)


# ---- each exit status --------------------------------------------------------------------------

def test_status_0_a_step_was_checked_and_nothing_found():
    assert trace(RUNTIME / "clean_mlp.py").exit_code == 0


def test_status_1_problems_found(tmp_path):
    result = trace(write(tmp_path, "train.py", TRAINS), "--steps", "2")
    assert result.exit_code == 1 and "RT009" in result.output, result.output


def test_status_2_an_error_inside_the_instruments(monkeypatch):
    def broken(self, *args):
        raise RuntimeError("bug in dllint")

    monkeypatch.setattr(LossContract, "on_loss", broken)
    result = trace(RUNTIME / "clean_mlp.py")
    assert result.exit_code == 2 and "bug in dllint" in result.output, result.output


def test_status_3_os_exit_before_any_step_is_an_incomplete_trace(tmp_path):
    script = write(tmp_path, "quits.py", """
        import os
        os._exit(0)
    """)
    result = trace(script)
    assert result.exit_code == 3, result.output
    assert "os._exit(0)" in result.output and "The trace is incomplete" in result.output


@pytest.mark.parametrize("status, expected", [(0, 1), (4, 3)])
def test_an_atexit_os_exit_never_hides_what_was_found(tmp_path, status, expected):
    script = write(tmp_path, "train.py", f"import atexit, os\natexit.register(os._exit, {status})\n"
                   + TRAINS)
    result = trace(script, "--steps", "2", "--format", "json")
    assert result.exit_code == expected, result.output
    report = json.loads(result.output)
    assert [d["code"] for d in report["diagnostics"]] == ["RT009"]
    assert f"an atexit callback called os._exit({status})" in report["detail"]


def test_status_130_keyboard_interrupt_with_a_report(tmp_path):
    script = write(tmp_path, "interrupted.py", """
        import torch
        torch.nn.Linear(2, 2)(torch.randn(1, 2))
        raise KeyboardInterrupt
    """)
    result = trace(script)
    assert result.exit_code == 130, result.output
    assert "interrupted (KeyboardInterrupt)" in result.output
    assert "The trace is incomplete" in result.output and "module" in result.output
    as_json = trace(script, "--format", "json")
    assert as_json.exit_code == 130
    report = json.loads(as_json.output)
    jsonschema.validate(report, SCHEMA)
    assert report["outcome"] == "interrupted" and not report["complete"]


def test_the_api_raises_keyboard_interrupt_with_the_report(tmp_path):
    script = write(tmp_path, "interrupted.py", """
        import torch
        torch.nn.Linear(2, 2)(torch.randn(1, 2))
        raise KeyboardInterrupt
    """)
    with pytest.raises(TraceInterrupted) as raised:  # a KeyboardInterrupt: Ctrl-C still stops
        trace_script(script)
    assert isinstance(raised.value, KeyboardInterrupt)
    report = raised.value.report
    assert report.outcome == "interrupted" and report.observations.modules
    assert 'interrupted.py", line 4' in report.user_traceback


def test_a_segfault_prints_the_scripts_traceback(run_cli, tmp_path):
    write(tmp_path, "crashes.py", """
        import ctypes
        ctypes.string_at(0)
    """)
    result = run_cli("trace", "--no-static", "crashes.py")
    assert result.returncode in (-signal.SIGSEGV, -signal.SIGBUS), result.stderr
    stderr = result.stderr.decode()
    assert "Fatal Python error" in stderr and 'crashes.py", line 3' in stderr, stderr


# ---- the timeout ---------------------------------------------------------------------------------

@pytest.mark.parametrize("disarm", [
    "signal.signal(signal.SIGALRM, signal.SIG_IGN)",
    "signal.setitimer(signal.ITIMER_REAL, 0)",
])
def test_a_script_cannot_disarm_the_timeout(tmp_path, disarm):
    script = write(tmp_path, "forever.py", f"""
        import signal, torch
        model = torch.nn.Linear(3, 1)
        {disarm}
        while True:
            model(torch.randn(2, 3))
    """)
    started = time.monotonic()
    report = trace_script(script, timeout=1.0)
    assert report.outcome == "timeout" and time.monotonic() - started < 20


def test_the_api_interrupts_again_a_script_that_swallowed_the_first_interruption(tmp_path):
    script = write(tmp_path, "swallows_once.py", """
        import signal, torch
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        model = torch.nn.Linear(3, 1)
        swallowed = False
        while True:
            try:
                model(torch.randn(2, 3))
            except BaseException:
                if swallowed:
                    raise
                swallowed = True
    """)
    started = time.monotonic()
    report = trace_script(script, timeout=0.5)  # no on_unstoppable: the process is never ended
    assert report.outcome == "timeout" and time.monotonic() - started < 30


def test_a_second_interruption_while_the_first_is_handled_is_still_a_timeout(tmp_path,
                                                                              monkeypatch):
    from dllint.runtime import script as script_module

    def interrupted_twice(*args):
        raise script_module.TraceTimeout  # as if it landed in `except TraceTimeout:`

    monkeypatch.setattr(script_module, "_run_script", interrupted_twice)
    report = trace_script(write(tmp_path, "empty.py", ""), timeout=5.0)
    assert report.outcome == "timeout" and "5 s timeout" in report.detail


def test_a_script_that_will_not_stop_is_ended_with_its_report(run_cli, tmp_path):
    write(tmp_path, "stubborn.py", """
        import signal, time
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            try:
                time.sleep(100)
            except BaseException:
                pass
    """)
    started = time.monotonic()
    result = run_cli("trace", "--no-static", "--timeout", "1", "--format", "json", "stubborn.py")
    assert result.returncode == 3, result.stderr
    report = one_json_report(result.stdout)
    assert report["outcome"] == "timeout" and "dllint ended the process" in report["detail"]
    assert time.monotonic() - started < 60


# ---- forks, threads and child processes ----------------------------------------------------------

def test_a_forking_script_reports_once(run_cli, tmp_path):
    # Parent and child both train; the child returns from the script instead of exiting.
    write(tmp_path, "forks.py", "import os\npid = os.fork()\nif pid:\n    os.waitpid(pid, 0)\n"
          + TRAINS)
    result = run_cli("trace", "--no-static", "--format", "json", "forks.py")
    assert result.returncode == 0, result.stderr
    assert one_json_report(result.stdout)["outcome"] == "stopped"


def test_training_in_a_thread_shows_no_internal_exception(tmp_path, monkeypatch):
    uncaught = []  # what the interpreter would print as "Exception in thread ..."
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    script = write(tmp_path, "threaded.py", "import threading\ndef train():\n"
                   + textwrap.indent(TRAINS, "    ")
                   + "thread = threading.Thread(target=train)\nthread.start()\nthread.join()\n")
    report = trace_script(script)
    assert report.steps == 1 and report.outcome == "finished"
    assert uncaught == []


def test_a_script_that_leaves_a_thread_running_still_exits(run_cli, tmp_path):
    write(tmp_path, "leaves.py", "import threading, time\n"
          "threading.Thread(target=time.sleep, args=(600,)).start()\n" + TRAINS)
    started = time.monotonic()
    result = run_cli("trace", "--no-static", "--format", "json", "leaves.py")
    assert result.returncode == 0, result.stderr
    assert one_json_report(result.stdout)["steps"] == 1
    assert time.monotonic() - started < 60


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_script_that_leaves_a_child_process_exits_and_the_child_is_ended(run_cli, tmp_path):
    write(tmp_path, "leaves.py", textwrap.dedent("""
        import multiprocessing, time
        if __name__ == "__main__":
            child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(600,))
            child.start()
            open("child.pid", "w").write(str(child.pid))
    """) + TRAINS)
    try:
        result = run_cli("trace", "--no-static", "--format", "json", "leaves.py")
        assert result.returncode == 0, result.stderr
        assert one_json_report(result.stdout)["steps"] == 1
        child = int((tmp_path / "child.pid").read_text())
        deadline = time.monotonic() + 10
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(child)
    finally:
        pid_file = tmp_path / "child.pid"
        if pid_file.exists() and not _gone(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


# ---- the script's atexit callbacks ----------------------------------------------------------------

def test_an_atexit_callback_that_raises_is_printed_and_the_others_run(tmp_path, capsys):
    marker = tmp_path / "ran"
    script = write(tmp_path, "callbacks.py", f"""
        import atexit
        atexit.register(lambda: open({str(marker)!r}, "w").close())
        @atexit.register
        def broken():
            raise ValueError("cannot flush the logs")
    """)
    assert trace_script(script).outcome == "finished"
    assert marker.exists()
    err = capsys.readouterr().err
    assert "Exception ignored in atexit callback" in err and "cannot flush the logs" in err


def test_an_atexit_callback_that_never_returns_times_out(tmp_path):
    script = write(tmp_path, "callbacks.py", """
        import atexit
        @atexit.register
        def forever():
            while True:
                pass
    """)
    report = trace_script(script, timeout=0.5)
    assert report.outcome == "timeout" and "atexit callbacks ran past" in report.detail


def test_an_atexit_callback_interrupted_is_an_interrupted_trace(tmp_path):
    script = write(tmp_path, "callbacks.py", """
        import atexit
        @atexit.register
        def interrupted():
            raise KeyboardInterrupt
    """)
    with pytest.raises(TraceInterrupted) as raised:
        trace_script(script)
    assert raised.value.report.outcome == "interrupted"
