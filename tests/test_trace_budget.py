"""RT017 end to end: `dllint trace --memory-budget SIZE`, and a script that really runs out of
memory (the CPU allocator's error, raised at once by an allocation no machine can hold), which
leaves the process as the tracer promises: hooks removed, the step's memory freed, exit status 1
with the finding at the line that ran out."""

from __future__ import annotations

import gc
import json
import re
import textwrap

import jsonschema
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402
from dllint.runtime.trace_json import SCHEMA  # noqa: E402
from test_runtime import process_state  # noqa: E402
from test_trace_restore import _class_attributes, _global_hooks  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"
OVER_BUDGET = RUNTIME / "memory_over_budget.py"
OUT_OF_MEMORY = RUNTIME / "rt017_cpu_out_of_memory.py"
# The line of rt017_cpu_out_of_memory.py whose allocation fails.
FAILING_LINE = 21


def run(*arguments: str):
    return CliRunner().invoke(main, ["trace", *arguments], env={"NO_COLOR": "1"})


def write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_the_impossible_allocation_raises_the_cpu_allocators_error_without_allocating():
    with pytest.raises(RuntimeError, match="DefaultCPUAllocator: can't allocate memory"):
        torch.empty(2 ** 62, dtype=torch.uint8)


# ---- --memory-budget ------------------------------------------------------------------------------

@pytest.mark.parametrize("size, why", [
    ("lots", "is not a size"), ("12XB", "is not a size"), ("-1GiB", "is not a size"),
    ("0", "must be more than 0 bytes")])
def test_a_bad_budget_is_one_error_line_before_the_script_runs(tmp_path, size, why):
    marker = tmp_path / "ran"
    script = write(tmp_path, "train.py", f"open({str(marker)!r}, 'w').close()\n")
    result = CliRunner().invoke(main, ["trace", str(script), "--memory-budget", size])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dllint: error: ") and why in lines[0]
    assert not marker.exists()


def test_a_budget_is_refused_for_a_distributed_run():
    result = run(str(OVER_BUDGET), "--nproc", "2", "--memory-budget", "1GiB")
    assert result.exit_code == 2
    assert "dllint: error: --memory-budget judges one process's step" in result.output


def test_the_fixture_is_clean_without_a_budget_and_fits_a_large_one():
    for extra in ([], ["--memory-budget", "1GiB"]):
        result = run(str(OVER_BUDGET), "--no-static", *extra)
        assert result.exit_code == 0, result.output
        assert "RT017" not in result.output and "does not fit" not in result.output


def test_a_step_over_the_budget_is_rt017_with_its_breakdown_and_ranked_changes():
    result = run(str(OVER_BUDGET), "--no-static", "--memory-budget", "1MiB")
    assert result.exit_code == 1, result.output
    assert "Memory budget 1MiB: does not fit: peak " in result.output
    assert "up to then: parameters " in result.output and "optimizer state " in result.output
    # The changes come ranked by the peak each leaves, lowest first; Adam's state is among them.
    ranked = re.findall(r"^  \d+\. (.+?): saves [\d.]+\w+ \(peak ([\d.]+)(\w+)\)",
                        result.output, flags=re.MULTILINE)
    scale = {"B": 1, "KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30}
    peaks = [float(value) * scale[unit] for _, value, unit in ranked]
    assert len(ranked) >= 3 and peaks == sorted(peaks)
    assert "optimizer with less state" in [change for change, _, _ in ranked]
    [finding] = [line for line in result.output.splitlines() if " RT017 " in line]
    assert finding.startswith(f"{OVER_BUDGET.relative_to(REPO)}:40:")
    assert "exceeds the 1MiB budget" in finding


def test_the_json_report_carries_the_budget_and_the_advice(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    output = tmp_path / "trace.json"
    result = run(str(OVER_BUDGET), "--no-static", "--memory-budget", "1MiB", "--format", "json",
                 "-o", str(output))
    assert result.exit_code == 1, result.output
    data = json.loads(output.read_text())
    jsonschema.validate(data, SCHEMA)
    memory = data["memory"]
    assert memory["budget"] == 2 ** 20
    advice = memory["advice"]
    assert advice["reason"] == "budget" and advice["peak"] > 2 ** 20
    # Adam keeps two moments per parameter, and a scalar step count per parameter tensor.
    extra = advice["breakdown"]["optimizer_state"] - 2 * advice["breakdown"]["parameters"]
    assert 0 < extra < 4096
    saved = [change["saved_bytes"] for change in advice["changes"]]
    assert saved and saved == sorted(saved, reverse=True)
    assert [item["code"] for item in data["diagnostics"]] == ["RT017"]


def test_without_a_budget_the_json_report_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    output = tmp_path / "trace.json"
    assert run(str(OVER_BUDGET), "--no-static", "--format", "json", "-o",
               str(output)).exit_code == 0
    memory = json.loads(output.read_text())["memory"]
    assert memory["budget"] is None and memory["advice"] is None
    assert memory["activation_bytes"] > 0  # the breakdown is there all the same


def test_gradients_kept_through_forward_are_advised_freed(tmp_path):
    script = write(tmp_path, "kept.py", """
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(),
                                    torch.nn.Linear(256, 10))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for step in range(3):
            optimizer.zero_grad(set_to_none=False)
            loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 256)),
                                                     torch.randint(0, 10, (8,)))
            loss.backward()
            optimizer.step()
    """)
    report = trace_script(script, memory_budget=1024)
    held = {advice.change: advice.saved_bytes for advice in report.memory_judgement.advice}
    gradient_bytes = 4 * sum(p.numel() for p in torch.nn.Sequential(
        torch.nn.Linear(256, 256), torch.nn.Linear(256, 10)).parameters())
    assert held["free gradients before forward"] == gradient_bytes


# ---- a real out-of-memory error -------------------------------------------------------------------

def _tagger_instances() -> int:
    """The script's models still in memory, collected or not: no gc.collect() here, so that
    the count shows what trace_script itself freed."""
    return sum(1 for item in gc.get_objects()
               if type(item).__name__ == "Tagger" and isinstance(item, torch.nn.Module))


def test_out_of_memory_is_rt017_at_its_line_with_the_process_restored():
    before, hooks, classes = process_state(), _global_hooks(), _class_attributes()
    report = trace_script(OUT_OF_MEMORY, steps=2)
    assert process_state() == before and _global_hooks() == hooks
    assert _class_attributes() == classes
    assert report.outcome == "raised" and report.out_of_memory
    [finding] = report.diagnostics
    assert (finding.code, finding.path, finding.line) == ("RT017", str(OUT_OF_MEMORY),
                                                          FAILING_LINE)
    assert finding.message.startswith("the step ran out of memory in forward of model.scores "
                                      "allocating 4EiB")
    judgement = report.memory_judgement
    assert (judgement.phase, judgement.module) == ("forward", "model.scores")
    assert judgement.requested_bytes == 2 ** 62
    assert judgement.breakdown["parameters"] == 4 * (16 * 32 + 32 + 32 + 1)
    assert report.instrument_errors == []


def test_out_of_memory_frees_the_failing_steps_model_and_tensors():
    # torch._dynamo, when a trace first imports it, keeps a copy of torch.Tensor's attributes
    # (dllint's backward hook among them, and through it that trace's model): imported before.
    # (An earlier test's trace may have been the one that imported it: its model stays.)
    import torch._dynamo  # noqa: F401
    gc.collect()
    before = _tagger_instances()
    report = trace_script(OUT_OF_MEMORY)
    assert report.out_of_memory
    # Nothing (the error's frames, the instruments, the report) keeps the script's model, and
    # the cycles it was part of are already collected.
    assert _tagger_instances() == before


def test_out_of_memory_from_the_cli_exits_1_with_the_report():
    result = run(str(OUT_OF_MEMORY), "--no-static")
    assert result.exit_code == 1, result.output
    assert "Out of memory: peak " in result.output and "in forward of model.scores" in result.output
    assert f"rt017_cpu_out_of_memory.py:{FAILING_LINE}:9: RT017 the step ran out of memory" in \
        result.output
    assert "DefaultCPUAllocator: can't allocate memory" in result.output  # the traceback


@pytest.mark.parametrize("phase, body", [
    ("backward", """
        class Expand(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, grad):
                return grad + torch.empty(2 ** 62, dtype=torch.uint8)[:0].sum()

        model = torch.nn.Linear(4, 4)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = Expand.apply(model(torch.randn(2, 4))).sum()
        loss.backward()
        optimizer.step()
    """),
    ("optimizer", """
        class Hungry(torch.optim.SGD):
            def step(self, closure=None):
                torch.empty(2 ** 62, dtype=torch.uint8)
                return super().step(closure)

        model = torch.nn.Linear(4, 4)
        optimizer = Hungry(model.parameters(), lr=0.1)
        model(torch.randn(2, 4)).sum().backward()
        optimizer.step()
    """),
])
def test_out_of_memory_names_its_phase(tmp_path, phase, body):
    script = write(tmp_path, "hungry.py", "import torch\n" + textwrap.dedent(body))
    report = trace_script(script)
    assert report.memory_judgement.phase == phase and report.memory_judgement.module == ""
    [finding] = [d for d in report.diagnostics if d.code == "RT017"]
    line = next(number for number, text in enumerate(script.read_text().splitlines(), 1)
                if "2 ** 62" in text)
    assert finding.line == line


def test_an_error_that_is_not_out_of_memory_is_no_rt017(tmp_path):
    script = write(tmp_path, "shapes.py", """
        import torch
        model = torch.nn.Linear(4, 4)
        model(torch.randn(2, 5))
    """)
    report = trace_script(script)
    assert report.outcome == "raised" and not report.out_of_memory
    assert "RT017" not in report.codes


def test_the_python_api_judges_a_budget_too():
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    batch = (torch.randn(8, 64), torch.randint(0, 4, (8,)))
    optimizer = torch.optim.Adam(model.parameters())
    parameter_bytes = 4 * sum(p.numel() for p in model.parameters())
    from dllint.runtime.api import trace_step
    over = trace_step(model, batch, torch.nn.CrossEntropyLoss(), optimizer,
                      memory_budget=parameter_bytes)
    assert over.codes == ["RT017"] and over.memory_judgement.reason == "budget"
    assert over.memory_judgement.breakdown["parameters"] == parameter_bytes
    fits = trace_step(model, batch, torch.nn.CrossEntropyLoss(), optimizer,
                      memory_budget=100 * parameter_bytes)
    assert fits.codes == [] and fits.memory_judgement is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="a CUDA device")
def test_cuda_out_of_memory_is_rt017_and_the_device_memory_is_given_back(tmp_path):
    script = write(tmp_path, "cuda_oom.py", """
        import torch
        model = torch.nn.Linear(1024, 1024).cuda()
        optimizer = torch.optim.Adam(model.parameters())
        held = [torch.empty(256 * 2 ** 20, device="cuda") for _ in range(2)]  # 2 GiB
        model(torch.randn(64, 1024, device="cuda")).sum().backward()
        total = torch.cuda.get_device_properties(0).total_memory
        too_much = torch.empty(total, dtype=torch.uint8, device="cuda")
    """)
    torch.cuda.synchronize()
    allocated = torch.cuda.memory_allocated()
    report = trace_script(script)
    assert report.out_of_memory and report.memory_judgement.error.startswith("CUDA out of memory")
    [finding] = [d for d in report.diagnostics if d.code == "RT017"]
    assert finding.line == 8
    # The step's tensors are freed and the allocator's cache given back to the device.
    assert torch.cuda.memory_allocated() == allocated
    assert torch.cuda.memory_reserved() - allocated < 2 ** 30


# ---- with the memory recorder ---------------------------------------------------------------------
# These need the recorder's measured StepMemory (saved activations, the batch size) at the call
# site in script._report; with the fallback StepMemory (parameters, gradients, optimizer state)
# they fail.

def test_with_the_recorder_the_advice_uses_the_saved_activations_and_the_batch(tmp_path,
                                                                                monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    output = tmp_path / "trace.json"
    result = run(str(OVER_BUDGET), "--no-static", "--memory-budget", "1MiB", "--format", "json",
                 "-o", str(output))
    assert result.exit_code == 1, result.output
    advice = json.loads(output.read_text())["memory"]["advice"]
    assert advice["breakdown"]["activations"] > 0 and advice["batch_size"] == 16
    # Parameters, gradients and Adam's state alone (4 MiB) are over 1 MiB: no batch fits.
    assert advice["largest_batch"] == 0
    changes = {change["change"]: change for change in advice["changes"]}
    assert {"activation checkpointing", "bf16 autocast", "gradient accumulation",
            "optimizer with less state"} <= set(changes)
    assert "model.blocks.0" in changes["activation checkpointing"]["how"]
    assert advice["top_activations"] and advice["top_activations"][0]["share"] > 0
