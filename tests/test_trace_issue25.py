"""Issue 25: false findings of RT004, RT006, RT007 and RT008 on correct code, and the buggy
variants that must still be found (fixtures in fixtures/runtime/ and fixtures/runtime/real/)."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from conftest import REPO  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402
from dllint.types import Severity  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"


def _write(tmp_path, body):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_a_warm_up_from_zero_is_judged_one_step_later():
    report = trace_script(RUNTIME / "real" / "warmup_from_zero_lr.py", steps=1)
    assert report.diagnostics == [], [d.message for d in report.diagnostics]
    assert report.steps == 2  # one step more than asked: the first ran at a learning rate of 0
    assert report.first_step_changed is False


def test_a_learning_rate_of_zero_in_every_step_is_a_warning(tmp_path):
    script = _write(tmp_path, """
        import torch
        from torch import nn
        model = nn.Linear(4, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        inputs, labels = torch.randn(16, 4), torch.randint(0, 3, (16,))
        for step in range(5):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=2)
    assert [d.code for d in report.diagnostics] == ["RT006"]
    finding = report.diagnostics[0]
    assert "learning rate was 0 in every one of 3 steps" in finding.message
    assert finding.severity == Severity.WARNING and finding.line == 10


def test_a_zero_learning_rate_group_is_left_out_of_the_judgement(tmp_path):
    # A frozen group (lr 0) next to a trained one: the step changes the trained one's weights.
    script = _write(tmp_path, """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        optimizer = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                                     {"params": model[2].parameters(), "lr": 0.1}])
        inputs, labels = torch.randn(16, 4), torch.randint(0, 3, (16,))
        for step in range(5):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=1)
    assert report.diagnostics == [] and report.first_step_changed is True


def test_the_input_scale_is_read_at_the_first_layer_with_weights():
    report = trace_script(RUNTIME / "rt004_keyword_scaled_twice.py", steps=1)
    assert [d.code for d in report.diagnostics] == ["RT004"]
    assert report.diagnostics[0].evidence["layer"] == "model.patch_embed"
    assert report.diagnostics[0].evidence["shape"] == "(8, 3, 16, 16)"


def test_a_first_normalization_layer_normalizes_raw_features(tmp_path):
    script = _write(tmp_path, """
        import torch
        from torch import nn
        model = nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        features = torch.rand(32, 6) * 1000.0  # raw prices, normalized by the first layer
        labels = torch.randint(0, 2, (32,))
        for step in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(features), labels).backward()
            optimizer.step()
        """)
    assert trace_script(script, steps=1).diagnostics == []


def test_an_eval_layer_whose_parameters_train_is_reported_in_a_training_root(tmp_path):
    script = _write(tmp_path, """
        import torch
        from torch import nn
        model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        inputs, labels = torch.randn(32, 8), torch.randint(0, 2, (32,))
        model.train()
        model[1].eval()  # statistics frozen, yet its affine parameters train
        for step in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=1)
    assert [d.code for d in report.diagnostics] == ["RT007"]
    assert report.diagnostics[0].evidence["root_mode"] == "train"
    assert report.diagnostics[0].evidence["optimized_parameters"] is True


def test_a_no_grad_forward_read_only_by_a_validation_loss_is_unconsumed(tmp_path):
    # A loss without a graph (validation) does not consume: only the training step's loss does.
    report = trace_script(RUNTIME / "rt007_validation_in_train_mode.py", steps=1)
    assert [d.code for d in report.diagnostics] == ["RT007"]
    assert report.diagnostics[0].evidence["grad_enabled"] is False


def test_a_layer_of_another_input_running_first_is_not_the_one_judged(tmp_path):
    # A diffusion model embeds its timestep before its first convolution sees the pixels.
    script = _write(tmp_path, """
        import torch
        from torch import nn
        class Denoiser(nn.Module):
            def __init__(self):
                super().__init__()
                self.time_embedding = nn.Linear(1, 8)
                self.conv_in = nn.Conv2d(3, 8, 3, padding=1)
            def forward(self, sample, timestep):
                time = self.time_embedding(timestep.float().view(-1, 1))
                return self.conv_in(sample) + time.view(-1, 8, 1, 1)
        model = Denoiser()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        pixels = torch.randint(0, 256, (4, 3, 8, 8)).float()  # never scaled
        for step in range(3):
            optimizer.zero_grad()
            noise = torch.randn(4, 8, 8, 8)
            nn.functional.mse_loss(model(pixels, torch.randint(0, 1000, (4,))), noise).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=1)
    scale = [d for d in report.diagnostics if d.code == "RT004"]
    assert len(scale) == 1 and scale[0].evidence["layer"] == "model.conv_in"


# ---- --depth in a distributed run (--nproc) ---------------------------------------------------

def _deep_records():
    """A model three levels deep, recorded children before parents as the tracer does."""
    from dllint.runtime.tracing import ModuleRecord
    names = [("net.encoder.block.attention", "Attention"), ("net.encoder.block.norm", "LayerNorm"),
             ("net.encoder.block", "Block"), ("net.encoder", "Encoder"), ("net.head", "Linear"),
             ("net", "Net")]
    return {index: ModuleRecord(name, kind, "[(2, 8)]", "(2, 8)", "float32", True, "cpu", 8, 8, 32)
            for index, (name, kind) in enumerate(names)}


def _two_rank_trace():
    from dllint.runtime.distributed.merge import DistributedTrace
    from dllint.runtime.distributed.records import RankReport
    from dllint.runtime.script import TraceReport
    from dllint.runtime.tracing import Observations
    ranks = {rank: RankReport(rank, 2, 100 + rank, "gloo", TraceReport(
        "train.py", "stopped", "stopped after 1 step", "cpu", 1,
        Observations(modules=_deep_records(), steps=1))) for rank in (0, 1)}
    return DistributedTrace(2, ranks)


@pytest.mark.parametrize("depth, shown, hidden", [
    (1, ["net.encoder", "net.head"], ["net.encoder.block"]),
    ("all", ["net.encoder.block.attention", "net.encoder.block.norm"], []),
])
def test_depth_shapes_the_module_table_of_a_distributed_run(capsys, depth, shown, hidden):
    from dllint.cli import TracePrinter
    printer = TracePrinter("train.py", "full", None, None, no_static=True, depth=depth)
    printer.distributed(_two_rank_trace(), exit=False)
    text = capsys.readouterr().out
    assert "2 ranks (0, 1)" in text
    rows = {line.split()[0] for line in text.splitlines() if line.startswith("net")}
    assert set(shown) <= rows and not set(hidden) & rows, text
    # The single-process report of the same trace shows the same rows at that depth.
    from dllint.runtime.report import render_trace
    alone = render_trace(_two_rank_trace().base, False, 120, **printer.table_view)
    assert rows == {line.split()[0] for line in alone.splitlines() if line.startswith("net")}
