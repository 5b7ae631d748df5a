"""In-process tracing (`trace_script`, the Python API) leaves the caller's process as it found
it: one test per entry of `process_state.RESTORED`, each with a script that changes that state."""

from __future__ import annotations

import atexit
import faulthandler
import os
import signal
import sys
import textwrap
import threading

import pytest

torch = pytest.importorskip("torch")

from torch.nn.modules import module as module_hooks  # noqa: E402
from torch.optim import optimizer as optimizer_hooks  # noqa: E402

from dllint.runtime.api import trace_step  # noqa: E402
from dllint.runtime.process_state import RESTORED  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402


def _global_hooks():
    return {name: (list(value) if isinstance(value, dict) else value)
            for module in (module_hooks, optimizer_hooks)
            for name, value in vars(module).items() if name.startswith("_global_")}


def _class_attributes():
    return {cls: dict(vars(cls)) for cls in (torch.nn.Module, torch.Tensor, torch.optim.Optimizer,
                                             torch.amp.GradScaler)}


# name in RESTORED: (what the script does, a probe of that state).
CASES = {
    "sys.argv": ("sys.argv[:] = ['changed']", lambda: list(sys.argv)),
    "sys.path": ("sys.path.insert(0, '/nowhere'); sys.path.pop()", lambda: list(sys.path)),
    "working directory": ("os.chdir('/')", os.getcwd),
    "os.environ": (
        "del os.environ['DLLINT_TEST_KEPT']\n"
        "os.environ['DLLINT_TEST_CHANGED'] = 'by the script'\n"
        "os.environ['DLLINT_TEST_ADDED'] = 'by the script'\n"
        "os.environ['CUDA_VISIBLE_DEVICES'] = '7'",
        lambda: dict(os.environ)),
    "signal handlers": (
        "signal.signal(signal.SIGUSR1, lambda *args: None)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)",
        lambda: {number: signal.getsignal(number)
                 for number in (signal.SIGUSR1, signal.SIGINT, signal.SIGALRM)}),
    "interval timers": ("signal.setitimer(signal.ITIMER_REAL, 1000)\n"
                        "signal.setitimer(signal.ITIMER_PROF, 1000)",
                        lambda: (signal.getitimer(signal.ITIMER_REAL),
                                 signal.getitimer(signal.ITIMER_PROF))),
    "sys.stdin, sys.stdout, sys.stderr": (
        "sys.stdout = sys.stderr = sys.stdin = open(os.devnull, 'r+')",
        lambda: (sys.stdin, sys.stdout, sys.stderr)),
    "trace and profile functions": (
        "def tracer(*args):\n    return None\n"
        "sys.setprofile(tracer)\nthreading.settrace(tracer)\nthreading.setprofile(tracer)\n"
        "sys.settrace(tracer)",
        lambda: (sys.gettrace(), sys.getprofile(), threading.gettrace(), threading.getprofile())),
    "sys.excepthook, threading.excepthook, sys.unraisablehook": (
        "sys.excepthook = threading.excepthook = sys.unraisablehook = print",
        lambda: (sys.excepthook, threading.excepthook, sys.unraisablehook)),
    "grad mode": ("torch.set_grad_enabled(False)", torch.is_grad_enabled),
    "anomaly detection": ("torch.autograd.set_detect_anomaly(True)", torch.is_anomaly_enabled),
    "default dtype": ("torch.set_default_dtype(torch.float64)", torch.get_default_dtype),
    "deterministic algorithms": (
        "torch.use_deterministic_algorithms(True, warn_only=True)",
        lambda: (torch.are_deterministic_algorithms_enabled(),
                 torch.is_deterministic_algorithms_warn_only_enabled())),
    "torch threads": ("torch.set_num_threads(3 if torch.get_num_threads() != 3 else 2)",
                      torch.get_num_threads),
    "float32 matmul precision": ("torch.set_float32_matmul_precision('medium')",
                                 torch.get_float32_matmul_precision),
    "torch print options": ("torch.set_printoptions(precision=11, sci_mode=True, linewidth=7)",
                            lambda: dict(vars(torch._tensor_str.PRINT_OPTS))),
    "cudnn flags": (
        "torch.backends.cudnn.benchmark = not torch.backends.cudnn.benchmark\n"
        "torch.backends.cudnn.deterministic = not torch.backends.cudnn.deterministic",
        lambda: (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)),
    "nn.Module, Tensor and Optimizer attributes": (
        "call = torch.nn.Module.__call__\n"
        "torch.nn.Module.__call__ = lambda self, *a, **k: call(self, *a, **k)\n"
        "torch.Tensor.__repr__ = lambda self: 'tensor'\n"
        "torch.Tensor.pretty = property(lambda self: 'pretty')\n"
        "torch.optim.Optimizer.step = lambda self, closure=None: None\n"
        "torch.nn.Linear(2, 2)(torch.zeros(1, 2))",
        _class_attributes),
    "global module and optimizer hooks": (
        "from torch.nn.modules import module\nfrom torch.optim import optimizer\n"
        "module.register_module_forward_hook(lambda *args: None)\n"
        "module.register_module_forward_pre_hook(lambda *args: None)\n"
        "module.register_module_full_backward_hook(lambda *args: None)\n"
        "module.register_module_buffer_registration_hook(lambda *args: None)\n"
        "optimizer.register_optimizer_step_pre_hook(lambda *args: None)",
        _global_hooks),
    "process group": (
        "import torch.distributed as dist\n"
        "dist.init_process_group('gloo', init_method='file://' + os.path.join("
        "os.path.dirname(__file__), 'group'), rank=0, world_size=1)\n"
        "assert dist.is_initialized()",
        lambda: torch.distributed.is_initialized()),
}


def test_every_restored_entry_has_a_test():
    assert set(CASES) | {"faulthandler"} == {entry.name for entry in RESTORED}


def test_faulthandler_is_on_for_the_script_only(tmp_path):
    script = tmp_path / "crashes.py"
    script.write_text("import faulthandler\nassert faulthandler.is_enabled()\n")
    was_enabled = faulthandler.is_enabled()  # pytest's own faulthandler plugin turns it on
    faulthandler.disable()
    try:
        assert trace_script(script).outcome == "finished"
        assert not faulthandler.is_enabled()
    finally:
        if was_enabled:
            faulthandler.enable(file=sys.__stderr__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_script_cannot_change_it_for_the_caller(name, tmp_path, monkeypatch):
    monkeypatch.setenv("DLLINT_TEST_KEPT", "kept")
    monkeypatch.setenv("DLLINT_TEST_CHANGED", "as before")
    body, probe = CASES[name]
    script = tmp_path / "changes.py"
    script.write_text("import os, signal, sys, threading, warnings\nimport torch\n" + body + "\n")
    before = probe()
    report = trace_script(script)
    # The script ran to its end: it did change the state.
    assert report.outcome == "finished", report.detail + report.user_traceback
    assert report.instrument_errors == []
    assert probe() == before


def test_the_scripts_atexit_callbacks_run_at_its_end_and_are_not_left_registered(tmp_path):
    marker = tmp_path / "callbacks"
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent(f"""
        import atexit
        def note(text):
            with open({str(marker)!r}, "a") as file:
                file.write(text)
        atexit.register(note, "first ")
        atexit.register(note, "second ")
        def removed():
            note("removed ")
        atexit.register(removed)
        atexit.unregister(removed)
    """))
    trace_script(script)  # libraries the first trace imports may register their own
    marker.unlink()
    registered = atexit._ncallbacks()
    assert trace_script(script).outcome == "finished"
    # Run once, last registered first, as the interpreter would at exit; none left behind.
    assert marker.read_text() == "second first "
    assert atexit._ncallbacks() == registered


def test_trace_step_restores_grad_mode_and_anomaly_detection_the_step_changed():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3), torch.randint(0, 2, (4,))

    def step():
        torch.set_grad_enabled(True)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        torch.set_grad_enabled(False)  # e.g. for logging; dllint's stop comes in the step
        torch.autograd.set_detect_anomaly(True)
        optimizer.step()
        torch.set_grad_enabled(True)
        torch.autograd.set_detect_anomaly(False)

    assert torch.is_grad_enabled() and not torch.is_anomaly_enabled()
    assert trace_step(model, step_fn=step).steps == 1
    assert torch.is_grad_enabled() and not torch.is_anomaly_enabled()


@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_a_step_count_below_one_is_refused(steps, tmp_path):
    model = torch.nn.Linear(3, 2)
    batch = (torch.randn(4, 3), torch.randint(0, 2, (4,)))
    with pytest.raises(ValueError, match="trace_step needs steps >= 1"):
        trace_step(model, batch, torch.nn.CrossEntropyLoss(), steps=steps)
    script = tmp_path / "train.py"
    script.write_text("")
    with pytest.raises(ValueError, match="trace_script needs steps >= 1"):
        trace_script(script, steps=steps)


def test_a_librarys_atexit_registration_stays_with_the_interpreter(tmp_path):
    """A library registers at its import, for as long as it is loaded: running its callback at
    the script's end would break it for the caller (multiprocessing's joins its children)."""
    marker = tmp_path / "ran"
    (tmp_path / "nothing.py").write_text("")
    script = tmp_path / "imports.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        def library_callback():
            open({str(marker)!r}, "w").close()
        sys.dllint_test_callback = library_callback
        # Registered from library code (a frame that is not the script's own file).
        exec(compile("import atexit; atexit.register(f)", "<library>", "exec"),
             {{"f": library_callback}})
    """))
    trace_script(tmp_path / "nothing.py")  # libraries the first trace imports may register
    registered = atexit._ncallbacks()
    try:
        assert trace_script(script).outcome == "finished"
        assert not marker.exists() and atexit._ncallbacks() == registered + 1
    finally:
        atexit.unregister(sys.__dict__.pop("dllint_test_callback"))


def test_a_working_directory_the_script_removed_is_a_tracer_error_not_a_crash(tmp_path,
                                                                               monkeypatch):
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    monkeypatch.chdir(doomed)
    script = tmp_path / "removes.py"
    script.write_text(f"import os\nos.chdir('/')\nos.rmdir({str(doomed)!r})\n")
    report = trace_script(script)
    assert report.outcome == "finished"
    assert len(report.instrument_errors) == 1
    assert report.instrument_errors[0].startswith(
        f"could not restore working directory: cannot go back to {doomed}")
