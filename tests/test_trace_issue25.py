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


# ---- RT006: modules unused on purpose, told apart from cut gradient paths ---------------------

def _gradient_flow(report):
    return [d for d in report.diagnostics if d.code == "RT006"]


@pytest.mark.parametrize("script, module, cause", [
    ("encoder_pooler_output_dropped.py", "model.encoder.pooler", "output-unused"),
    ("aux_head_never_called.py", "model.aux_classifier", "never-called"),
])
def test_a_module_unused_on_purpose_is_a_warning_naming_it_and_the_remedy(script, module, cause):
    report = trace_script(RUNTIME / "real" / script, steps=2)
    assert report.outcome == "stopped", report.detail + report.user_traceback
    assert report.instrument_errors == []
    [finding] = report.diagnostics
    assert finding.code == "RT006" and finding.severity == Severity.WARNING
    assert finding.evidence["module"] == module and finding.evidence["cause"] == cause
    assert f"`{module}`" in finding.message and "find_unused_parameters" in finding.message
    assert all(name.startswith(module + ".") for name in finding.evidence["no_gradient"])


def test_a_branch_whose_output_reaches_the_loss_through_detach_is_a_cut_error():
    script = RUNTIME / "real" / "multimodal_branch_detached.py"
    report = trace_script(script, steps=2)
    [finding] = report.diagnostics
    assert finding.code == "RT006" and finding.severity == Severity.ERROR
    assert finding.evidence["module"] == "model.image_branch"
    assert finding.evidence["cause"] == "cut"
    cut_line = next(number for number, line in enumerate(script.read_text().splitlines(), 1)
                    if ".detach()" in line and "cached =" in line)
    assert finding.evidence["cut"] == f"multimodal_branch_detached.py:{cut_line}"
    assert [related.span.start_line for related in finding.related] == [cut_line]
    assert "`.detach()`" in finding.message


def test_the_original_detached_branch_fixture_names_its_cut():
    report = trace_script(RUNTIME / "rt006_detached_branch.py", steps=2)
    [finding] = report.diagnostics
    assert finding.severity == Severity.ERROR and finding.evidence["cause"] == "cut"
    assert finding.evidence["module"] == "model.encoder" and finding.line == 26
    assert finding.evidence["cut"] == "rt006_detached_branch.py:14"


def _lines(*lines: str) -> str:
    """Lines of a forward's body for the script template below (its body is indented 16)."""
    return ("\n" + " " * 16).join(lines)


@pytest.mark.parametrize("cut, how", [
    ("features = self.encoder(x).data", "`.data`"),
    (_lines("features = self.encoder(x)", "with torch.no_grad():",
            "    features = features * 1.0"), "`torch.no_grad`"),
    (_lines("features = self.encoder(x)", "with torch.no_grad():",
            "    features = self.project(features)"), "`model.project` called under"),
    ("features = self.table(self.encoder(x).argmax(-1))", "`argmax`"),
    ("features = self.bag(self.encoder(x).clamp(0, 3).long())", "integer cast"),
])
def test_every_kind_of_cut_is_an_error_naming_it(tmp_path, cut, how):
    script = _write(tmp_path, f"""
        import torch
        from torch import nn

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Sequential(nn.Linear(6, 4), nn.ReLU())
                self.project = nn.Tanh()
                self.table, self.bag = nn.Embedding(4, 4), nn.EmbeddingBag(4, 4)
                self.head = nn.Linear(4, 3)

            def forward(self, x):
                {cut}
                return self.head(features)

        torch.manual_seed(0)
        model = Model()
        model.table.requires_grad_(False)
        model.bag.requires_grad_(False)
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
        inputs, labels = torch.randn(8, 6), torch.randint(0, 3, (8,))
        for step in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=2)
    assert report.outcome == "stopped" and report.instrument_errors == [], report.user_traceback
    [finding] = _gradient_flow(report)
    assert finding.severity == Severity.ERROR, finding.message
    assert finding.evidence["module"] == "model.encoder"
    assert finding.evidence["cause"] == "cut" and how in finding.message


def test_a_cut_inside_a_module_is_an_error(tmp_path):
    script = _write(tmp_path, """
        import torch
        from torch import nn

        class Frozen(nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = nn.Parameter(torch.randn(6, 4))

            def forward(self, x):
                return x @ self.weight.detach()  # meant to be frozen, yet in the optimizer

        torch.manual_seed(0)
        model = nn.Sequential(Frozen(), nn.ReLU(), nn.Linear(4, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        inputs, labels = torch.randn(8, 6), torch.randint(0, 3, (8,))
        for step in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), labels).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=2)
    [finding] = _gradient_flow(report)
    assert finding.severity == Severity.ERROR and finding.evidence["cause"] == "cut-inside"
    assert finding.evidence["module"] == "model.0"


def test_a_detached_output_used_only_for_logging_is_not_a_cut(tmp_path):
    # The head's output is detached for a metric the loss never reads: the head is unused.
    script = _write(tmp_path, """
        import torch
        from torch import nn

        torch.manual_seed(0)
        backbone = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
        classifier, probe = nn.Linear(8, 3), nn.Linear(8, 3)
        optimizer = torch.optim.SGD([*backbone.parameters(), *classifier.parameters(),
                                     *probe.parameters()], lr=0.1)
        inputs, labels = torch.randn(8, 6), torch.randint(0, 3, (8,))
        for step in range(3):
            optimizer.zero_grad()
            features = backbone(inputs)
            probe_accuracy = (probe(features).detach().argmax(1) == labels).float().mean()
            nn.functional.cross_entropy(classifier(features), labels).backward()
            optimizer.step()
        """)
    report = trace_script(script, steps=2)
    [finding] = _gradient_flow(report)
    assert finding.severity == Severity.WARNING and finding.evidence["module"] == "probe"
    assert finding.evidence["cause"] == "output-unused"


# ---- RT007: a frozen backbone in eval mode is deliberate ------------------------------------

@pytest.mark.parametrize("layout", ["root", "submodule"])
@pytest.mark.parametrize("freeze", ["requires_grad", "optimizer", "no_grad"])
def test_a_linear_probe_over_a_frozen_backbone_in_eval_is_silent(freeze, layout):
    report = trace_script(RUNTIME / "real" / "linear_probe_frozen_backbone.py", [freeze, layout],
                          steps=2)
    assert report.outcome == "stopped", report.detail + report.user_traceback
    assert report.instrument_errors == []
    assert report.diagnostics == [], [d.message for d in report.diagnostics]
    # The backbone's layers did run in eval mode within the traced step.
    modes = {row.name: row.training for row in report.observations.modules.values()}
    backbone_norm = "backbone.1" if layout == "root" else "probe.backbone.1"
    assert modes[backbone_norm] is False


def test_a_trained_backbone_left_in_eval_by_validation_is_reported():
    script = RUNTIME / "real" / "backbone_left_in_eval_by_validation.py"
    report = trace_script(script, steps=2)
    [finding] = report.diagnostics
    assert finding.code == "RT007" and finding.severity == Severity.ERROR
    assert finding.evidence["module"] == "backbone.1" and finding.evidence["root_mode"] == "eval"
    assert finding.line == next(number for number, line in
                                enumerate(script.read_text().splitlines(), 1)
                                if "head(backbone(images))" in line)
