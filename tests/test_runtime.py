"""The tracer: each runtime check on its fixture script, clean scripts silent, and the process
left exactly as it was found whatever the script does."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import textwrap
import time

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.modules import module as module_hooks  # noqa: E402
from torch.optim import optimizer as optimizer_hooks  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.runtime.api import trace_step  # noqa: E402
from dllint.runtime.checks.rt003_loss_contract import LossContract  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"
EXPECTED = {
    "rt001_log_of_zero.py": (["RT001"], 15),
    "rt002_column_minus_row.py": (["RT002"], 15),
    "rt003_probabilities_into_ce.py": (["RT003"], 27),
    "rt004_scaled_twice.py": (["RT004"], 16),
    "rt004_keyword_scaled_twice.py": (["RT004"], 26),
    "rt005_float64_inputs.py": (["RT005"], 14),
    "rt006_detached_branch.py": (["RT006"], 26),
    "rt007_eval_mode.py": (["RT007"], 18),
    "rt007_validation_in_train_mode.py": (["RT007"], 14),
    "rt008_plain_list.py": (["RT008"], 29),
    "rt008_head_replaced.py": (["RT008"], 26),
    "rt009_no_zero_grad.py": (["RT009"], 12),
    "rt016_loss_accumulated_as_tensor.py": (["RT016"], 16),
    "rt017_cpu_out_of_memory.py": (["RT017"], 21),
    "confirmed_softmax.py": (["RT003"], 13),
    "clean_mlp.py": ([], None),
    "clean_cnn.py": ([], None),
    "clean_loss_accumulated.py": ([], None),
}
ORIGINAL_BACKWARD = torch.Tensor.backward


def process_state():
    return {
        "forward_hooks": len(module_hooks._global_forward_hooks),
        "forward_hooks_with_kwargs": len(module_hooks._global_forward_hooks_with_kwargs),
        "forward_pre_hooks": len(module_hooks._global_forward_pre_hooks),
        "step_pre_hooks": len(optimizer_hooks._global_optimizer_pre_hooks),
        "step_post_hooks": len(optimizer_hooks._global_optimizer_post_hooks),
        "backward": torch.Tensor.backward is ORIGINAL_BACKWARD,
        "function_modes": torch._C._len_torch_function_stack(),
        "argv": list(sys.argv), "cwd": os.getcwd(), "path": list(sys.path),
        "alarm": signal.getsignal(signal.SIGALRM), "timer": signal.getitimer(signal.ITIMER_REAL)[0],
        "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "grad_enabled": torch.is_grad_enabled(), "anomaly": torch.is_anomaly_enabled(),
        "default_dtype": torch.get_default_dtype(),
    }


@pytest.fixture
def untouched():
    before = process_state()
    yield
    assert process_state() == before


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_each_check_on_its_fixture(script, untouched):
    report = trace_script(RUNTIME / script, steps=2)
    codes, line = EXPECTED[script]
    assert [d.code for d in report.diagnostics] == codes, [d.message for d in report.diagnostics]
    if line is not None:
        finding = report.diagnostics[0]
        assert finding.path == str(RUNTIME / script) and finding.line == line
        assert finding.evidence
    assert report.instrument_errors == []


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_user_exception_is_shown_with_the_users_traceback(tmp_path, untouched):
    script = write(tmp_path, "crash.py", """
        import torch
        def load():
            raise ValueError("no such dataset: imagenette")
        model = torch.nn.Linear(2, 2)
        load()
    """)
    report = trace_script(script)
    assert report.outcome == "raised" and "ValueError: no such dataset" in report.detail
    assert 'crash.py", line 4, in load' in report.user_traceback
    assert "dllint" not in report.user_traceback and "runpy" not in report.user_traceback


def test_sys_exit_argv_and_chdir(tmp_path, untouched):
    script = write(tmp_path, "exits.py", """
        import os, sys
        assert sys.argv[1:] == ["--epochs", "3"], sys.argv
        os.chdir("/")
        sys.argv.append("garbage")
        sys.exit(3)
    """)
    report = trace_script(script, ["--epochs", "3"])
    assert report.outcome == "exited" and "sys.exit(3)" in report.detail


def test_no_backward_and_no_optimizer_are_said(tmp_path, untouched):
    script = write(tmp_path, "inference.py", """
        import torch
        model = torch.nn.Linear(3, 1)
        print(model(torch.randn(4, 3)))
    """)
    report = trace_script(script)
    assert report.outcome == "finished" and "no backward pass and no optimizer step" in report.detail


def test_timeout_stops_a_script_that_never_ends(tmp_path, untouched):
    script = write(tmp_path, "forever.py", """
        import torch
        model = torch.nn.Linear(3, 1)
        while True:
            model(torch.randn(2, 3))
    """)
    started = time.monotonic()
    report = trace_script(script, timeout=1.0)
    assert report.outcome == "timeout" and time.monotonic() - started < 30


def test_dataloader_worker_processes(tmp_path, untouched):
    script = write(tmp_path, "workers.py", """
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
        model = torch.nn.Linear(4, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        if __name__ == "__main__":
            for epoch in range(3):
                for x, y in DataLoader(data, batch_size=8, num_workers=2):
                    optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
    """)
    report = trace_script(script, steps=2)
    assert report.outcome == "stopped" and report.steps == 2 and report.codes == []


def test_keyboard_interrupt_still_restores_everything(tmp_path, untouched):
    script = write(tmp_path, "interrupted.py", """
        import torch
        torch.nn.Linear(2, 2)(torch.randn(1, 2))
        raise KeyboardInterrupt
    """)
    with pytest.raises(KeyboardInterrupt):
        trace_script(script)


def test_torch_global_switches_are_restored(tmp_path, untouched):
    script = write(tmp_path, "switches.py", """
        import torch
        torch.set_grad_enabled(False)
        torch.set_default_dtype(torch.float64)
        torch.autograd.set_detect_anomaly(True)
    """)
    assert trace_script(script).outcome == "finished"


def test_timeouts_never_leave_autograd_off(tmp_path, untouched):
    script = write(tmp_path, "busy.py", """
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU())
        while True:
            model(torch.randn(32, 64))
    """)
    for _ in range(5):  # the alarm lands at a different point each time
        assert trace_script(script, timeout=0.3).outcome == "timeout"
        assert torch.is_grad_enabled()


def test_device_cpu_hides_gpus_only_while_tracing(tmp_path, untouched):
    script = write(tmp_path, "device.py", """
        import os
        assert os.environ["CUDA_VISIBLE_DEVICES"] == ""
    """)
    assert trace_script(script, device="cpu").outcome == "finished"


def test_an_error_inside_an_instrument_is_the_tracers_not_the_users(monkeypatch, untouched):
    def broken(self, *args):
        raise RuntimeError("bug in dllint")

    monkeypatch.setattr(LossContract, "on_loss", broken)
    report = trace_script(RUNTIME / "clean_mlp.py")
    assert report.outcome == "stopped" and report.user_traceback == ""
    assert report.instrument_errors == ["RuntimeError: bug in dllint"]


def test_sibling_modules_do_not_leak_between_scripts(tmp_path, untouched):
    for name, classes in (("a", 3), ("b", 5)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "net.py").write_text(f"import torch\nCLASSES = {classes}\n")
        write(folder, "train.py", f"""
            import net
            assert net.CLASSES == {classes}
        """)
        assert trace_script(folder / "train.py").outcome == "finished"


def test_python_api_and_pytest_fixture(dllint_trace, untouched):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    batch = (torch.randn(16, 4), torch.randint(0, 2, (16,)))
    assert dllint_trace is trace_step
    clean = dllint_trace(model, batch, nn.CrossEntropyLoss())
    assert clean.codes == [] and clean.steps == 1

    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.head = nn.Linear(4, 8), nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.body(x).detach())

    report = trace_step(Frozen(), batch, nn.CrossEntropyLoss())
    assert report.codes == ["RT006"]
    assert report.diagnostics[0].path == __file__


def test_api_with_a_step_function_and_accumulation(untouched):
    model = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))

    def step():
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    assert trace_step(model, step_fn=step, steps=2).codes == ["RT009"]


def test_cli_trace_confirms_the_static_finding(monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    result = CliRunner().invoke(main, ["trace", str(RUNTIME / "confirmed_softmax.py"),
                                       "--steps", "2", "--format", "json"])
    assert result.exit_code == 1
    diagnostics = json.loads(result.output)["diagnostics"]
    # One cause, one finding: the runtime's RT003 is the static DL002's evidence, not a second
    # finding of its own.
    assert [item["code"] for item in diagnostics] == ["DL002"]
    (finding,) = diagnostics
    assert finding["message"].endswith("[confirmed at runtime: RT003]")
    assert finding["evidence"]["confirmed_by"] == "RT003"
    assert finding["evidence"]["runtime_row_sums"]
    assert any(related["message"].startswith("RT003 observed: `cross_entropy` gets probabilities")
               for related in finding["related"])


def test_cli_trace_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    for name in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    marker = tmp_path / "ran"
    script = write(tmp_path, "train.py", f"open({str(marker)!r}, 'w').close()\n")
    result = CliRunner().invoke(main, ["trace", str(script), "--plot", str(tmp_path / "flow.png")])
    # Refused up front, as the other extras are: the script never ran.
    assert result.exit_code == 2, result.output
    assert result.output.startswith("dllint: error: --plot needs matplotlib: pip install")
    assert not marker.exists() and not (tmp_path / "flow.png").exists()


def test_cli_trace_text_report_and_exit_codes(tmp_path):
    # Without matplotlib, --plot is refused before the script runs (tests/test_extras.py).
    plots = importlib.util.find_spec("matplotlib") is not None
    result = CliRunner().invoke(main, ["trace", str(RUNTIME / "clean_mlp.py"), "--steps", "2",
                                       *(["--plot", str(tmp_path / "flow.png")] if plots else [])])
    assert result.exit_code == 0, result.output
    assert "device: cpu" in result.output and "gradient norms" in result.output
    assert "model.0" in result.output and "All checks passed" in result.output
    assert (tmp_path / "flow.png").exists() == plots
    if plots:
        assert (tmp_path / "flow.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    broken = write(tmp_path, "broken.py", "raise RuntimeError('data missing')\n")
    failed = CliRunner().invoke(main, ["trace", str(broken)])
    assert failed.exit_code == 3 and "RuntimeError: data missing" in failed.output
    assert "All checks passed" not in failed.output


def test_cli_passes_script_arguments(tmp_path):
    script = write(tmp_path, "args.py", """
        import sys
        assert sys.argv[1:] == ["--lr", "0.1"], sys.argv
    """)
    result = CliRunner().invoke(main, ["trace", str(script), "--", "--lr", "0.1"])
    # The arguments arrived (no AssertionError); the script never trains: an incomplete trace.
    assert "AssertionError" not in result.output
    assert result.exit_code == 3 and "no backward pass" in result.output, result.output


def test_a_real_update_whose_sum_does_not_change_counts_as_a_change(untouched):
    """A linear classifier under cross-entropy: each layer's sum is invariant under SGD."""
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    batch = (torch.randn(16, 4), torch.randint(0, 3, (16,)))
    report = trace_step(model, batch, nn.CrossEntropyLoss(),
                        torch.optim.SGD(model.parameters(), lr=0.5))
    assert report.codes == [] and report.first_step_changed is True


def test_a_step_that_changes_nothing_is_reported(untouched):
    model = nn.Linear(4, 3)
    batch = (torch.randn(16, 4), torch.randint(0, 3, (16,)))
    report = trace_step(model, batch, nn.CrossEntropyLoss(),
                        torch.optim.SGD(model.parameters(), lr=0.0))
    assert report.codes == ["RT006"] and "changed no weight" in report.diagnostics[0].message


def test_the_tracer_checks_every_functional_loss_the_static_rules_know():
    """One loss table: the runtime's comes from the static catalog, so the two cannot drift."""
    import torch.nn.functional as F

    from dllint.runtime.instruments import ELEMENTWISE_LOSSES, LOSSES
    from dllint.semantic import catalog

    known = {name.rsplit(".", 1)[1] for name in catalog.LOSS_FUNCTIONS
             if name.startswith("torch.nn.functional.")}
    assert set(LOSSES.values()) == known and len(known) >= 8
    assert LOSSES[F.cross_entropy] == "cross_entropy" and LOSSES[F.huber_loss] == "huber_loss"
    assert "mse_loss" in ELEMENTWISE_LOSSES and "cross_entropy" not in ELEMENTWISE_LOSSES


def test_two_models_with_a_finding_at_the_same_line_get_one_finding_each(tmp_path, untouched):
    # Findings are told apart by what they are about: the same line of one class serves both.
    script = write(tmp_path, "two_models.py", """
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear, self.dropout = nn.Linear(4, 4), nn.Dropout(0.5)

            def forward(self, x):
                return self.dropout(self.linear(x))


        first, second = Net(), Net()
        first.eval()
        second.eval()
        optimizer = torch.optim.SGD([*first.parameters(), *second.parameters()], lr=0.1)
        for _ in range(3):
            optimizer.zero_grad()
            x = torch.randn(8, 4)
            (first(x).square().mean() + second(x).square().mean()).backward()
            optimizer.step()
    """)
    report = trace_script(script, steps=2)
    modes = [d for d in report.diagnostics if d.code == "RT007"]
    assert sorted(d.evidence["module"] for d in modes) == ["first.dropout", "second.dropout"]
    assert {d.line for d in modes} == {12}
