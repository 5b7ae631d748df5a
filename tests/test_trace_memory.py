"""Issue 27: where a traced training step's memory goes (`dllint/runtime/memory.py`), the
dispatcher's saved-tensor event, and the growth check RT016."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.runtime.dispatch import Dispatcher, Subscriber, TraceContext  # noqa: E402
from dllint.runtime.memory import LiveBytes, MemoryRecorder  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402
from dllint.runtime.tracing import StopTracing  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"
FLOAT = 4  # bytes of a float32


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


MLP = """
    import torch
    from torch import nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    optimizer = torch.optim.{optimizer}(model.parameters(), lr=1e-3)
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    for step in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
"""


def _mlp_memory(tmp_path, optimizer="Adam"):
    report = trace_script(write(tmp_path, "mlp.py", MLP.format(optimizer=optimizer)), steps=2)
    assert report.instrument_errors == []
    return report.observations.memory


def test_parameters_and_gradients_are_exact_per_module(tmp_path):
    memory = _mlp_memory(tmp_path)
    rows = {row.name: row for row in memory.modules}
    assert set(rows) == {"model", "model.0", "model.1", "model.2"}
    assert rows["model.0"].type_name == "Linear"
    assert rows["model.0"].parameter_bytes == (8 * 16 + 16) * FLOAT
    assert rows["model.2"].parameter_bytes == (16 * 4 + 4) * FLOAT
    assert rows["model.1"].parameter_bytes == rows["model"].parameter_bytes == 0
    assert [rows[name].gradient_bytes for name in ("model.0", "model.2")] == \
        [rows[name].parameter_bytes for name in ("model.0", "model.2")]
    assert memory.parameter_bytes == memory.gradient_bytes == (8 * 16 + 16 + 16 * 4 + 4) * FLOAT
    assert memory.batch_size == 32 and memory.device == "cpu"


def test_activations_are_attributed_to_the_innermost_module_each_storage_once(tmp_path):
    memory = _mlp_memory(tmp_path)
    rows = {row.name: row for row in memory.modules}
    # The first Linear saves its input (32, 8); ReLU saves its output (32, 16). The second Linear
    # saves that same output as its input: one storage, counted once (for ReLU, which saved it
    # first). Neither Linear's weight (nor the transposed view of it that addmm saves) counts.
    assert rows["model.0"].activation_bytes == 32 * 8 * FLOAT
    assert rows["model.1"].activation_bytes == 32 * 16 * FLOAT
    assert rows["model.2"].activation_bytes == 0
    assert rows["model"].activation_bytes == 0  # the Sequential itself saves nothing
    # The loss, outside every module, saved its log-softmax (32, 4) and the targets.
    assert memory.other_activation_bytes >= 32 * 4 * FLOAT + 32 * 8
    assert [row.name for row, _ in memory.top_activations()] == ["model.1", "model.0"]
    assert memory.top_activations()[0][1] == pytest.approx(2 / 3)


def test_optimizer_state_of_adam_is_twice_the_parameters_plus_step_counters(tmp_path):
    memory = _mlp_memory(tmp_path, "Adam")
    parameters = memory.parameter_bytes
    # exp_avg and exp_avg_sq per parameter, plus one step counter (a scalar tensor) for each
    # of the four parameter tensors.
    assert memory.optimizer_state_bytes == {"Adam #1": 2 * parameters + 4 * FLOAT}
    assert _mlp_memory(tmp_path, "SGD").optimizer_state_bytes == {"SGD #1": 0}


def test_cpu_phase_peaks_count_every_live_allocation_of_the_step(tmp_path):
    memory = _mlp_memory(tmp_path)
    peaks = memory.peaks
    assert not peaks.measured and peaks.source == "live"
    # What autograd saved is alive at the end of the forward, on top of the parameters (less
    # the inputs x and y, made before the step), and the temporaries come on top of it.
    inputs = 32 * 8 * FLOAT + 32 * 8
    assert peaks.forward >= memory.parameter_bytes + memory.saved_bytes - inputs
    assert peaks.backward >= memory.parameter_bytes + memory.gradient_bytes
    assert peaks.optimizer >= memory.parameter_bytes + memory.gradient_bytes + \
        memory.optimizer_bytes
    assert peaks.untracked == 0  # nothing outside tensors worth counting for a tiny MLP


def test_live_bytes_follow_allocations_and_frees_and_ignore_views():
    live = LiveBytes()
    live.start()
    try:
        first = torch.ones(1000)  # 4000 B
        second = first * 2  # 8000 B alive
        view = second[:10].t()  # a view allocates nothing
        first.add_(1)  # in place: nothing
        del first  # 4000 B
        third = torch.empty(250)  # 1000 B: 5000 B
        assert live.live == 5000 and live.take_peak() == 8000
        del second  # the view keeps the storage alive
        assert live.live == 5000
        del view
        assert live.live == 1000 and live.take_peak() == 5000 and live.peak == 1000
        del third
        assert live.live == 0
    finally:
        live.stop()
    assert torch._C._len_torch_dispatch_stack() == 0


def test_the_per_sample_memory_comes_from_two_batch_sizes_and_the_replay_is_undone(tmp_path):
    script = write(tmp_path, "bn.py", """
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 64), nn.BatchNorm1d(64), nn.Dropout(0.5),
                              nn.Linear(64, 4))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
        calls = []
        model.register_forward_hook(lambda module, args, output: calls.append(len(args[0])))
        for step in range(2):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        import sys
        torch.save({"mean": model[1].running_mean, "batches": model[1].num_batches_tracked,
                    "parameters": list(model.parameters()), "draw": torch.rand(3),
                    "calls": calls}, sys.argv[1])
    """)
    # The same script run plainly: the replay on half the batch changed nothing it can see
    # (batch-norm statistics, weights, the random stream), but for the extra call its own
    # forward hook counts.
    plain_path, traced_path = tmp_path / "plain.pt", tmp_path / "traced.pt"
    subprocess.run([sys.executable, str(script), str(plain_path)], check=True)
    report = trace_script(script, [str(traced_path)], steps=2)
    assert report.instrument_errors == [] and report.outcome == "finished"
    memory = report.observations.memory
    assert memory.per_sample_from == "two batch sizes" and memory.per_sample_note == ""
    (half, half_peak), (full, full_peak) = memory.batch_points
    assert (half, full) == (16, 32) and 0 < half_peak < full_peak
    # The replay, after the step, is not in the step's peaks: plain SGD steps in place, so its
    # phase stays below the half batch's forward and backward.
    assert memory.parameter_bytes + memory.gradient_bytes <= memory.peaks.optimizer < half_peak
    plain, traced = torch.load(plain_path), torch.load(traced_path)
    assert torch.equal(plain["mean"], traced["mean"]) and plain["batches"] == traced["batches"]
    assert all(torch.equal(a, b) for a, b in zip(plain["parameters"], traced["parameters"]))
    assert torch.equal(plain["draw"], traced["draw"])
    assert plain["calls"] == [32, 32] and traced["calls"] == [32, 16, 32]
    # The tracer's own records saw only the script's calls (batch 32).
    assert {record.inputs for record in report.observations.modules.values()
            if record.kind == "Linear"} == {"[(32, 8)]", "[(32, 64)]"}


def test_a_step_that_cannot_be_halved_is_scaled_from_one_batch_size(tmp_path):
    script = write(tmp_path, "gan.py", """
        import torch
        from torch import nn
        first, second = nn.Linear(4, 8), nn.Linear(8, 1)
        optimizer = torch.optim.SGD([*first.parameters(), *second.parameters()], lr=0.1)
        for step in range(2):
            optimizer.zero_grad()
            second(first(torch.randn(8, 4))).mean().backward()
            optimizer.step()
    """)
    memory = trace_script(script, steps=1).observations.memory
    assert memory.per_sample_from == "one batch size"
    assert memory.per_sample_note == "the step called its models 2 times"
    assert [size for size, _ in memory.batch_points] == [8]


def test_views_of_one_storage_count_once(tmp_path):
    script = write(tmp_path, "views.py", """
        import torch
        from torch import nn

        class Twice(nn.Module):
            def __init__(self):
                super().__init__()
                self.scale = nn.Parameter(torch.ones(()))

            def forward(self, x):
                # Both multiplications save a view of x (one storage) and the parameter.
                return (x[:, :4] * self.scale).sum() + (x[:, 4:] * self.scale).sum()

        model = Twice()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x = torch.randn(10, 8).exp()  # the exp's output is x's own storage, saved by no one
        for _ in range(2):
            optimizer.zero_grad()
            model(x).backward()
            optimizer.step()
    """)
    report = trace_script(script, steps=1)
    memory = report.observations.memory
    assert {row.name: row.activation_bytes for row in memory.modules} == {"model": 10 * 8 * FLOAT}
    assert memory.other_activation_bytes == 0


class Saved(Subscriber):
    events = frozenset({"on_tensor_saved"})

    def __init__(self, context) -> None:
        super().__init__(context)
        self.saved: list[tuple[torch.Tensor, str]] = []

    def on_tensor_saved(self, tensor, module):
        self.saved.append((tensor, type(module).__name__ if module is not None else "-"))


def test_the_saved_tensor_event_gives_the_tensor_itself_and_the_innermost_module():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs = torch.randn(5, 4)
    context = TraceContext(steps=1, overfit=None)
    saved = Saved(context)
    with Dispatcher(context, [saved]), pytest.raises(StopTracing):
        for _ in range(2):
            optimizer.zero_grad()
            output = model(inputs)
            output.sum().backward()
            optimizer.step()
    # Linear saved the input (the very tensor) and the weight; Tanh its output. Only the first
    # step is seen: the hooks come off once every optimizer has stepped.
    assert any(tensor is inputs and module == "Linear" for tensor, module in saved.saved)
    assert any(module == "Tanh" for _, module in saved.saved)
    assert {module for _, module in saved.saved} <= {"Linear", "Tanh", "-"}
    count_after_first_step = len(saved.saved)
    assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None
    output = model(inputs)
    output.sum().backward()
    assert len(saved.saved) == count_after_first_step


def test_hooks_are_removed_after_the_trace_and_training_works_outside(tmp_path):
    report = trace_script(write(tmp_path, "mlp.py", MLP.format(optimizer="Adam")), steps=5)
    assert report.observations.memory is not None
    assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None
    model = nn.Linear(3, 1)
    before = model.weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model(torch.ones(2, 3)).sum().backward()
    optimizer.step()
    assert not torch.equal(before, model.weight)


def test_a_script_that_raises_in_its_first_step_keeps_the_breakdown_so_far(tmp_path):
    script = write(tmp_path, "raises.py", """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        out = model(torch.randn(4, 8))
        raise RuntimeError("out of memory, say")
    """)
    report = trace_script(script)
    memory = report.observations.memory
    assert report.outcome == "raised" and memory is not None
    assert memory.activation_bytes == 4 * 8 * FLOAT + 4 * 16 * FLOAT
    # The forward cut short keeps its live peak: the parameters, the Linear's and ReLU's
    # outputs (the input was made before the step), and nothing is left on the mode stack.
    assert memory.peaks.forward >= memory.parameter_bytes + 2 * 4 * 16 * FLOAT
    assert memory.peaks.source == "live" and torch._C._len_torch_dispatch_stack() == 0
    assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None


def test_the_recorder_is_attached_by_the_tracer():
    from dllint.runtime.instruments import Instruments
    instruments = Instruments(steps=1)
    assert any(isinstance(s, MemoryRecorder) for s in instruments.subscribers)


# ---- RT016: graphs kept alive step over step ---------------------------------------------------

LEAK = RUNTIME / "rt016_loss_accumulated_as_tensor.py"


def test_rt016_fires_with_the_default_steps_at_the_accumulation_naming_the_variable():
    report = trace_script(LEAK, steps=1)
    assert report.codes == ["RT016"] and report.instrument_errors == []
    finding = report.diagnostics[0]
    assert finding.line == 16 and "`total_loss` holds" in finding.message
    assert finding.evidence["holder"] == "total_loss"
    assert finding.evidence["steps_kept_alive"] == 2
    # One step past --steps was needed to see the graphs grow, and no more.
    assert report.steps == 2


def test_rt016_is_silent_for_numbers_detached_totals_and_one_loss_kept():
    report = trace_script(RUNTIME / "clean_loss_accumulated.py", steps=3)
    assert report.codes == [] and report.instrument_errors == []
    assert report.steps == 3  # a graph kept for one step only does not extend the trace


def test_rt016_finds_a_list_of_losses_and_a_total_built_with_plus(tmp_path):
    script = write(tmp_path, "kept.py", """
        import torch
        from torch import nn

        def train(model, optimizer, inputs, labels):
            history = []
            total = torch.zeros(())
            for step in range(5):
                optimizer.zero_grad()
                loss = nn.functional.mse_loss(model(inputs), labels)
                (loss / 2).backward()
                optimizer.step()
                history.append(loss)
            return history

        model = nn.Linear(3, 1)
        train(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.randn(8, 3),
              torch.randn(8, 1))
    """)
    report = trace_script(script, steps=1)
    assert report.codes == ["RT016"]
    finding = report.diagnostics[0]
    # No `+=` adds to a list: the finding is at the optimizer step, naming the list.
    assert finding.evidence["holder"] == "history" and finding.line == 12

    plus = write(tmp_path, "plus.py", """
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        epoch_loss = 0
        for step in range(5):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(torch.randn(8, 3)), torch.randn(8, 1))
            loss.backward()
            optimizer.step()
            epoch_loss = epoch_loss + loss
    """)
    report = trace_script(plus, steps=1)
    assert report.codes == ["RT016"] and report.diagnostics[0].line == 12


def test_rt016_confirms_dl104_as_one_finding():
    from click.testing import CliRunner
    from dllint.cli import main
    result = CliRunner().invoke(main, ["trace", str(LEAK), "--format", "json"])
    findings = __import__("json").loads(result.output)["diagnostics"]
    assert [(f["code"], f["line"]) for f in findings] == [("DL104", 16)]
    assert findings[0]["evidence"]["confirmed_by"] == "RT016"
    assert "[confirmed at runtime: RT016]" in findings[0]["message"]


def test_rt016_is_explained_with_an_example():
    from click.testing import CliRunner
    from dllint.cli import main
    result = CliRunner().invoke(main, ["explain", "RT016"])
    assert result.exit_code == 0
    for text in ("graph-kept-alive", "DL104", "Example", "total_loss += loss",
                 "Use instead", "total_loss += loss.item()"):
        assert text in result.output, text


# ---- the report and the JSON report ------------------------------------------------------------

def test_the_fitting_fixture_is_accounted_as_its_docstring_says():
    report = trace_script(RUNTIME / "memory_fits.py", steps=1)
    memory = report.observations.memory
    assert report.codes == [] and memory.batch_size == 32
    assert memory.parameter_bytes == 19210 * FLOAT
    assert memory.optimizer_bytes == 2 * 19210 * FLOAT + 4 * FLOAT
    assert memory.activation_bytes == (32 * 64 + 32 * 256) * FLOAT


def test_the_text_report_has_a_memory_column_and_where_the_memory_goes(tmp_path):
    from dllint.runtime.report import render_trace, subtree_memory
    report = trace_script(RUNTIME / "memory_fits.py", steps=1)
    memory = report.observations.memory
    subtree = subtree_memory(memory)
    rows = {row.name: row for row in memory.modules}
    own = {name: row.parameter_bytes + row.gradient_bytes + row.activation_bytes
           for name, row in rows.items()}
    assert subtree["model"] == sum(own.values())
    assert subtree["model.0"] == own["model.0"] == 2 * (64 * 256 + 256) * FLOAT + 32 * 64 * FLOAT
    full = render_trace(report, color=False, width=120)
    header = next(line for line in full.splitlines() if line.startswith("module"))
    assert header.split()[-1] == "memory"
    model_row = next(line for line in full.splitlines() if line.startswith("model "))
    # Parameters and gradients, 76.84kB each, and the modules' activations, 40.96kB.
    assert model_row.split()[-1] == "190KiB"
    assert "peak" in full and "(live tensor bytes)" in full and "per sample: " in full
    assert "most activation memory: model.1 (ReLU) 32KiB 80%, model.0 (Linear) 8KiB 20%" \
        in full
    # Depth 0: the model's row folds everything below it and still sums its subtree.
    folded = render_trace(report, color=False, width=120, depth=0)
    row = next(line for line in folded.splitlines() if line.startswith("model "))
    assert row.split()[-1] == model_row.split()[-1] and "+3" in row


def test_the_json_report_has_the_whole_breakdown_and_validates():
    jsonschema = pytest.importorskip("jsonschema")
    from dllint.runtime.trace_json import SCHEMA, SCHEMA_VERSION, trace_to_dict
    report = trace_script(RUNTIME / "memory_fits.py", steps=1)
    data = trace_to_dict(report, report.diagnostics)
    jsonschema.validate(data, SCHEMA)
    assert SCHEMA_VERSION == "dllint-trace/2" == data["schema"]
    memory = data["memory"]
    assert memory["optimizers"] == {"Adam #1": 2 * 19210 * FLOAT + 4 * FLOAT}
    assert memory["activation_bytes"] == (32 * 64 + 32 * 256) * FLOAT
    assert memory["peaks"]["backward"] >= memory["parameter_bytes"] + memory["gradient_bytes"]
    assert memory["peak_source"] == "live" and memory["per_sample_from"] == "two batch sizes"
    assert [size for size, _ in memory["batch_points"]] == [16, 32]
    assert [m["name"] for m in memory["modules"]] == ["model", "model.0", "model.1", "model.2"]
    broken = dict(data, memory=dict(memory, peaks={"forward": -1}))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_on_cuda_the_peaks_are_the_allocators_reset_between_phases(monkeypatch):
    """The measured path, without a GPU: the allocator's peak is scripted, and each phase must
    read it and reset it before the next one; the half-batch replay reads its own peak above
    what was allocated before it, and puts the random state back."""
    calls: list[str] = []
    peaks = iter([1000, 3000, 2000, 1800])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats",
                        lambda device=None: calls.append(f"reset {device}"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 200)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device=None: "state")
    monkeypatch.setattr(torch.cuda, "set_rng_state",
                        lambda state, device=None: calls.append(f"rng {state}"))

    def max_memory_allocated(device=None):
        calls.append(f"read {device}")
        return next(peaks)

    monkeypatch.setattr(torch.cuda, "max_memory_allocated", max_memory_allocated)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    context = TraceContext(steps=1, overfit=None)
    context.seen.device = "cuda:0"  # what the model's parameters would say on a GPU
    recorder = MemoryRecorder(context)
    with Dispatcher(context, [recorder]), pytest.raises(StopTracing):
        for _ in range(2):
            optimizer.zero_grad()
            model(torch.randn(6, 4)).sum().backward()
            optimizer.step()
    assert context.errors == []
    step = context.seen.memory
    assert calls == ["reset cuda:0", "read cuda:0", "reset cuda:0", "read cuda:0",
                     "reset cuda:0", "read cuda:0", "reset cuda:0",
                     "reset cuda:0", "read cuda:0", "rng state", "reset cuda:0"]
    assert (step.peaks.forward, step.peaks.backward, step.peaks.optimizer) == (1000, 3000, 2000)
    assert step.peaks.measured and step.peaks.source == "allocator"
    assert step.peaks.phase_of_peak() == "backward"
    assert step.device == "cuda:0" and step.batch_size == 6
    # Above the 200 B allocated when the step began: 2800 at batch 6; 1600 for its half.
    assert step.batch_points == ((3, 1800), (6, 3000))
    assert step.per_sample_from == "two batch sizes"


def test_a_repeated_row_counts_each_of_its_blocks(tmp_path):
    from dllint.runtime.report import human_bytes, render_trace, subtree_memory
    script = write(tmp_path, "blocks.py", """
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(3)])
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            optimizer.zero_grad()
            model(torch.randn(4, 8)).sum().backward()
            optimizer.step()
    """)
    report = trace_script(script, steps=1)
    subtree = subtree_memory(report.observations.memory)
    text = render_trace(report, color=False, width=120)
    row = next(line for line in text.splitlines() if "×3" in line)
    assert row.split()[-1] == human_bytes(3 * subtree["model.0"])
    assert subtree["model"] == sum(subtree[f"model.{index}"] for index in range(3))


def test_accumulation_micro_batches_count_the_activations_of_one(tmp_path):
    script = write(tmp_path, "accumulate.py", """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(2):
            optimizer.zero_grad()
            for micro in range(4):  # four micro-batches per step, one alive at a time
                model(torch.randn(4, 8)).sum().backward()
            optimizer.step()
    """)
    memory = trace_script(script, steps=1).observations.memory
    assert memory.activation_bytes == 4 * 8 * FLOAT + 4 * 16 * FLOAT


def test_the_pack_hook_keeps_the_storage_without_a_copy_and_training_is_unchanged():
    def run(traced: bool):
        torch.manual_seed(1)
        model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        context = TraceContext(steps=1, overfit=None)
        dispatcher = Dispatcher(context, [Saved(context)])
        if traced:
            dispatcher.__enter__()
        try:
            optimizer.zero_grad()
            model(torch.ones(6, 4)).pow(2).mean().backward()
            optimizer.step()
        finally:
            if traced:
                dispatcher.__exit__(None, None, None)
        return [p.detach().clone() for p in model.parameters()], dispatcher

    plain, _ = run(False)
    traced, dispatcher = run(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, traced))
    assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None
    tensor = torch.randn(3, 2)
    packed = dispatcher.tensor_saved(tensor)
    assert packed.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    assert packed.grad_fn is None and torch.equal(packed, tensor)


def test_a_step_run_in_another_thread_leaves_no_saved_tensor_hooks_behind(tmp_path):
    """The hooks are per thread: the first step, seen in the script's own thread, must not
    make the dispatcher forget the pair it pushed in the tracing thread."""
    script = tmp_path / "threaded.py"
    script.write_text(textwrap.dedent("""
        import threading
        import torch

        def train():
            model = torch.nn.Linear(4, 2)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for _ in range(2):
                optimizer.zero_grad()
                model(torch.randn(3, 4)).sum().backward()
                optimizer.step()

        thread = threading.Thread(target=train)
        thread.start()
        thread.join()
    """))
    report = trace_script(script)
    assert report.steps >= 1
    assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None


OWN_HOOKS = """
    import sys
    import torch
    from torch import nn
    from torch.utils.checkpoint import checkpoint
    torch.manual_seed(0)
    stem = nn.Linear(16, 16)
    blocks = nn.ModuleList(nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(3))
    optimizer = torch.optim.SGD([*stem.parameters(), *blocks.parameters()], lr=0.1)
    x, packed, losses = torch.randn(8, 16), [], []

    def pack(tensor):
        packed.append(tensor.shape)
        return tensor

    for step in range(3):
        optimizer.zero_grad()
        h = stem(x)
        for block in blocks:
            if MODE == "hooks":
                with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                    h = block(h)
            else:
                h = checkpoint(block, h, use_reentrant=MODE == "reentrant")
        loss = h.pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    torch.save({"losses": losses, "packed": len(packed)}, sys.argv[1])
"""


@pytest.mark.parametrize("mode, partial", [
    ("hooks", "the script's own saved_tensors_hooks"),
    ("checkpoint", "the script's own saved_tensors_hooks"),
    ("reentrant", "ran again inside backward"),
])
def test_a_script_with_its_own_saved_tensor_hooks_or_checkpointing_is_said_partial(
        tmp_path, mode, partial):
    # The script's hooks (or torch.utils.checkpoint's) run instead of ours: the training is
    # the same as without the tracer, the peaks still count every allocation, and the report
    # says that the saved activations are counted in part.
    script = write(tmp_path, f"own_{mode}.py", OWN_HOOKS.replace("MODE", repr(mode)))
    plain_path, traced_path = tmp_path / "plain.pt", tmp_path / "traced.pt"
    subprocess.run([sys.executable, str(script), str(plain_path)], check=True)
    report = trace_script(script, [str(traced_path)], steps=3)
    assert report.instrument_errors == [] and report.outcome == "finished", report.detail
    plain, traced = torch.load(plain_path), torch.load(traced_path)
    assert traced["losses"] == pytest.approx(plain["losses"], rel=1e-6)
    assert traced["packed"] == plain["packed"]
    memory = report.observations.memory
    assert partial in memory.activations_partial and "block" in memory.activations_partial
    assert memory.peaks.source == "live" and memory.peaks.backward > memory.parameter_bytes
    assert torch._C._autograd._top_saved_tensors_default_hooks(True) is None
    assert torch._C._len_torch_dispatch_stack() == 0
    jsonschema = pytest.importorskip("jsonschema")
    from dllint.runtime.trace_json import SCHEMA, trace_to_dict
    data = trace_to_dict(report, report.diagnostics)
    jsonschema.validate(data, SCHEMA)
    assert partial in data["memory"]["activations_partial"]
