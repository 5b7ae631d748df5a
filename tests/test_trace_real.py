"""The tracer on scripts written the way real training code is written: real frameworks
(transformers, Lightning), torch.compile, closures, mixed precision, gradient accumulation,
DataLoader workers. Each must trace clean; the cost of a traced step is bounded in host reads."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")

from torch.overrides import TorchFunctionMode  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402

REAL = REPO / "fixtures" / "runtime" / "real"
NEEDS = {"hf_bert_from_config.py": "transformers",
         "lightning_fit_with_validation.py": "lightning"}
CLEAN = ["hf_bert_from_config.py", "embedding_lstm.py", "lightning_fit_with_validation.py",
         "zero_init_residual.py", "torch_compile.py", "gan_two_optimizers.py", "lbfgs.py",
         "bf16_autocast.py", "gradient_accumulation.py", "dataloader_workers.py",
         # Correct code that a careless tracer flags (issue 25's classes), one script each:
         "causal_lm_summed_loss.py",      # RT003: a summed loss divided afterwards
         "grad_scaler_amp.py",            # the scaled loss is no loss value
         "relative_position_buckets.py",  # RT001: log(0) discarded by torch.where
         "masked_logits.py",              # RT001: -inf logits, finite cross-entropy
         "prototypical_episodes.py",      # RT002/RT003: outer distances, -d^2 logits
         "pairwise_ranking.py",           # RT002: pairwise score differences on purpose
         "bf16_regression_autocast.py",   # RT005: bfloat16 prediction, float32 target
         "distillation_teacher_ema.py",   # RT008: teacher and EMA under no_grad
         "warmup_from_zero_lr.py",        # RT006: a warm-up that starts at lr 0
         "normalize_inside_forward.py",   # RT004: the model scales its own input
         "no_grad_forwards_of_training.py",  # RT007: GAN fakes, key encoder, update_bn
         "linear_probe_frozen_backbone.py"]  # RT007: a frozen backbone in eval


def _trace(script: str, steps: int = 3):
    package = NEEDS.get(script)
    if package is not None and importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    return trace_script(REAL / script, steps=steps)


@pytest.mark.parametrize("script", CLEAN)
def test_real_scripts_trace_clean(script):
    report = _trace(script)
    assert report.outcome == "stopped", report.detail + report.user_traceback
    assert report.steps == 3
    assert report.diagnostics == [], [d.message for d in report.diagnostics]
    assert report.instrument_errors == []
    assert [len(curve.values) for curve in report.curves] == [3] * len(report.curves)


def test_lightning_table_describes_the_training_step():
    report = _trace("lightning_fit_with_validation.py")
    rows = list(report.observations.modules.values())
    assert rows and all(row.training for row in rows)  # not the sanity check's eval pass
    assert report.observations.gradient_norms  # the closure's gradients were seen
    assert report.curves[0].models == ("Classifier.net",)


def test_zero_init_residual_is_judged_over_the_steps_run():
    # One step: the second step's gradients (computed before the tracer stops) already flow.
    assert _trace("zero_init_residual.py", steps=1).diagnostics == []


def test_torch_compile_reports_the_users_own_names():
    report = _trace("torch_compile.py")
    names = [row.name for row in report.observations.modules.values()]
    names += list(report.observations.gradient_norms)
    assert names and not any("_orig_mod" in n or "OptimizedModule" in n for n in names)
    assert "model.0.weight" in report.observations.gradient_norms


def test_gan_models_and_losses_are_kept_apart():
    report = _trace("gan_two_optimizers.py")
    assert {curve.models for curve in report.curves} == {("generator",), ("discriminator",)}
    norms = report.observations.gradient_norms
    assert "generator.0.weight" in norms and "discriminator.0.weight" in norms


def test_lbfgs_reports_one_loss_per_step():
    report = _trace("lbfgs.py")
    assert len(report.curves) == 1 and len(report.curves[0].values) == 3
    assert report.curves[0].values[0] > report.curves[0].values[-1]  # L-BFGS fits it
    assert report.observations.gradient_norms


def test_cross_entropy_over_one_output_says_the_loss_is_constant():
    report = _trace("one_output_cross_entropy.py")
    assert [d.code for d in report.diagnostics] == ["RT003"]
    assert "single class" in report.diagnostics[0].message
    assert report.diagnostics[0].line == 10
    assert set(report.curves[0].values) == {0.0}


def test_validation_losses_are_not_training_losses():
    report = _trace("lightning_fit_with_validation.py")
    # The sanity check's two validation batches ran first; the curve holds training steps only.
    assert len(report.curves[0].values) == 3
    assert report.initial_loss_value == pytest.approx(report.curves[0].values[0])


# ---- overhead: host reads per step ---------------------------------------------------------

HOST_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__bool__,
              torch.Tensor.__float__, torch.Tensor.__int__, torch.Tensor.__index__,
              torch.Tensor.numpy, torch.Tensor.cpu}


class CountHostReads(TorchFunctionMode):
    """Counts every call that copies a tensor's value to the host (a device sync on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in HOST_READS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _host_reads(tmp_path, layers: int, steps: int) -> int:
    script = tmp_path / f"deep_{layers}.py"
    script.write_text(
        "import torch\nfrom torch import nn\n"
        # Many modules but a shallow net: deep default-initialised stacks vanish (RT006).
        f"model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), "
        f"*[nn.Sequential(nn.Identity(), nn.Dropout(0.0)) for _ in range({layers})], "
        f"nn.Linear(16, 4))\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.01)\n"
        "x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))\n"
        "for _ in range(100):\n"
        "    optimizer.zero_grad()\n"
        "    nn.functional.cross_entropy(model(x), y).backward()\n"
        "    optimizer.step()\n")
    with CountHostReads() as counter:
        report = trace_script(script, steps=steps)
    assert report.outcome == "stopped" and report.diagnostics == []
    return counter.count


def test_host_reads_per_step_are_few_and_independent_of_model_size(tmp_path):
    per_step = {}
    for layers in (2, 20):
        extra = _host_reads(tmp_path, layers, steps=8) - _host_reads(tmp_path, layers, steps=3)
        per_step[layers] = extra / 5
    assert per_step[2] == per_step[20], per_step
    assert per_step[2] <= 2, per_step


# ---- static confirmation -------------------------------------------------------------------

MODEL_FILE = '''\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = [nn.Linear(8, 8)]
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return torch.softmax(self.fc(x), dim=1)
'''
TRAIN_FILE = '''\
import torch
import torch.nn.functional as F
from model_def import Net

model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
inputs, labels = torch.randn(16, 8), torch.randint(0, 3, (16,))
for step in range(3):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(inputs), labels)
    loss.backward()
    optimizer.step()
'''


def test_static_findings_in_local_imports_are_confirmed_whatever_the_path_spelling(
        tmp_path, monkeypatch):
    import json

    from click.testing import CliRunner

    from dllint.cli import main

    (tmp_path / "model_def.py").write_text(MODEL_FILE)
    (tmp_path / "train.py").write_text(TRAIN_FILE)
    monkeypatch.chdir(tmp_path)
    for spelling in ("./train.py", "train.py", str(tmp_path / "train.py")):
        result = CliRunner().invoke(main, ["trace", spelling, "--format", "json"])
        findings = {d["code"]: d for d in json.loads(result.output)["diagnostics"]}
        # The softmax reaches the loss in the script; the runtime sees probabilities there.
        assert findings["DL002"]["evidence"]["confirmed_by"] == "RT003", spelling
        # The plain list is in the imported model file, which the static rules now lint too.
        assert findings["DL301"]["path"].endswith("model_def.py"), spelling
        assert findings["DL301"]["evidence"]["confirmed_by"] == "RT008", spelling


@pytest.mark.parametrize("script, static_code, runtime_code", [
    ("rt009_no_zero_grad.py", "DL101", "RT009"), ("rt008_plain_list.py", "DL301", "RT008"),
    ("rt008_head_replaced.py", "DL107", "RT008")])
def test_each_static_rule_is_linked_to_the_runtime_check_that_sees_it(script, static_code,
                                                                      runtime_code):
    from dllint.api import lint_paths
    from dllint.runtime.report import merge

    path = REPO / "fixtures" / "runtime" / script
    report = trace_script(path, steps=2)
    merged = merge(lint_paths([str(path)]), report.diagnostics)
    confirmed = [d for d in merged if d.code == static_code]
    # The one runtime check that sees this bug, not any RT00x.
    assert confirmed and confirmed[0].message.endswith(f" [confirmed at runtime: {runtime_code}]")
    assert confirmed[0].evidence["confirmed_by"] == runtime_code


def test_zero_gradients_in_every_step_are_still_reported():
    from dllint.runtime.api import trace_step

    class Gated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Linear(4, 8)
            self.head = torch.nn.Linear(8, 2)

        def forward(self, x):
            return self.head(self.encoder(x) * 0)  # a gate stuck shut

    torch.manual_seed(0)
    model = Gated()
    report = trace_step(model, (torch.randn(8, 4), torch.randint(0, 2, (8,))),
                        torch.nn.CrossEntropyLoss(), steps=3)
    assert [d.code for d in report.diagnostics] == ["RT006"]
    assert "every one of 3 steps" in report.diagnostics[0].message
    # The head sees only zeros, so its weight gets no gradient either.
    assert report.observations.zero_gradient == ["model.encoder.weight", "model.head.weight"]


def test_a_summed_loss_is_judged_per_target():
    # cross_entropy(reduction="sum") / number of tokens: the initial loss reported is per token,
    # near ln(vocabulary), not the sum over 100 tokens.
    report = _trace("causal_lm_summed_loss.py")
    assert report.chance is not None
    assert abs(report.initial_loss_value - report.chance[1]) < 1.0
    assert abs(report.curves[0].values[0] - report.chance[1]) < 1.0


def test_a_grad_scaler_s_loss_is_shown_unscaled():
    report = _trace("grad_scaler_amp.py")
    assert all(value < 10 for value in report.curves[0].values), report.curves[0].values


def test_loss_per_target_reads_every_reduction():
    import math

    from dllint.runtime.tracing import loss_per_target

    logits = torch.randn(6, 4)
    targets = torch.tensor([0, 1, -100, 3, 2, -100])
    mean = torch.nn.functional.cross_entropy(logits, targets)
    for reduction in ("sum", "none"):
        result = torch.nn.functional.cross_entropy(logits, targets, reduction=reduction)
        value = float(result) if result.numel() == 1 else math.nan
        per_target = loss_per_target(torch.nn.functional.cross_entropy, "cross_entropy",
                                     (logits, targets), {"reduction": reduction}, logits,
                                     targets, result, value)
        assert abs(per_target - float(mean)) < 1e-5, reduction
    # Passed by position (input, target, weight, size_average, ignore_index, reduce, reduction).
    summed = torch.nn.functional.cross_entropy(logits, targets, None, None, -100, None, "sum")
    assert abs(loss_per_target(torch.nn.functional.cross_entropy, "cross_entropy",
                               (logits, targets, None, None, -100, None, "sum"), {}, logits,
                               targets, summed, float(summed)) - float(mean)) < 1e-5
    squared = torch.nn.functional.mse_loss(logits, torch.zeros(6, 4), reduction="sum")
    assert abs(loss_per_target(torch.nn.functional.mse_loss, "mse_loss",
                               (logits, torch.zeros(6, 4)), {"reduction": "sum"}, logits,
                               torch.zeros(6, 4), squared, float(squared))
               - float((logits ** 2).mean())) < 1e-5


NON_FINITE_LOSS = """
import torch
from torch import nn
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
for step in range(3):
    optimizer.zero_grad()
    logits = model(x)
    masked = logits.masked_fill(torch.ones_like(logits, dtype=torch.bool), float("-inf"))
    loss = nn.functional.cross_entropy(masked, y)
    loss.backward()
    optimizer.step()
"""


def test_a_non_finite_value_that_reaches_the_loss_is_still_reported(tmp_path):
    # Every logit masked: the cross-entropy itself is NaN, and RT001 names the loss.
    script = tmp_path / "all_masked.py"
    script.write_text(NON_FINITE_LOSS)
    report = trace_script(script, steps=2)
    non_finite = [d for d in report.diagnostics if d.code == "RT001"]
    assert [d.line for d in non_finite] == [11]
    assert "the loss `cross_entropy` is nan" in non_finite[0].message


SQUARE_BROADCASTS = """
import torch
from torch import nn
model = nn.Linear(5, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(32, 5)
y = x.sum(1)
for step in range(2):
    optimizer.zero_grad()
    prediction = model(x)
    with torch.no_grad():
        monitored = (prediction - y).abs().mean()  # a metric: no loss reached
    residual = prediction.squeeze(1) - y
    grid = torch.arange(32)[None, :] - torch.arange(32)[:, None]  # no gradients
    unused = prediction - y  # square, with gradients, but never reaches the loss
    loss = (residual ** 2).mean() + 0 * grid.float().mean()
    loss.backward()
    optimizer.step()
"""


def test_a_square_broadcast_is_reported_only_when_it_reaches_the_loss(tmp_path):
    script = tmp_path / "square.py"
    script.write_text(SQUARE_BROADCASTS)
    assert trace_script(script, steps=2).diagnostics == []
    script.write_text(SQUARE_BROADCASTS.replace("loss = (residual ** 2).mean()",
                                                "loss = (unused ** 2).mean()"))
    report = trace_script(script, steps=2)
    assert [(d.code, d.line) for d in report.diagnostics] == [("RT002", 15)]


MARGIN_LOSS = """
import torch
from torch import nn
encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
optimizer = torch.optim.SGD(encoder.parameters(), lr=0.01)
anchor, positive, negative = torch.randn(12, 8), torch.randn(12, 8), torch.randn(12, 8)
for step in range(2):
    a, p, n = encoder(anchor), encoder(positive), encoder(negative)
    d_pos = (a - p).pow(2).sum(1, keepdim=True)
    d_neg = (a - n).pow(2).sum(1)
    loss = torch.relu(d_pos - d_neg + 1.0).mean()
    scores = a.sum(1)
    loss = loss + 0.1 * torch.sigmoid(scores[:, None] - scores).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def test_a_square_broadcast_between_two_predictions_is_reported(tmp_path):
    # Both distances carry gradients: (12, 1) - (12,) is the bug all the same (rank promoted
    # silently, two different tensors). A tensor against its own view (`s[:, None] - s`) is a
    # pairwise comparison on purpose.
    script = tmp_path / "margin.py"
    script.write_text(MARGIN_LOSS)
    report = trace_script(script, steps=2)
    assert [(d.code, d.line) for d in report.diagnostics] == [("RT002", 11)]
    script.write_text(MARGIN_LOSS.replace("sum(1, keepdim=True)", "sum(1)"))
    assert trace_script(script, steps=2).diagnostics == []
