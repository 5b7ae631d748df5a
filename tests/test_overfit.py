"""RT010: the single-batch overfit check and its verdicts."""

from __future__ import annotations

import math
import textwrap

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.runtime.overfit import GRAPH_BUDGET, LossAttribution, judge, sparkline  # noqa: E402
from dllint.runtime.tracing import graph_nodes  # noqa: E402
from dllint.runtime.script import trace_script  # noqa: E402
from test_runtime import untouched  # noqa: E402,F401 - the process-state fixture

OVERFIT = REPO / "fixtures" / "runtime" / "overfit"
VERDICTS = {
    "healthy_mlp.py": ["passes"],
    "healthy_short_loop.py": ["passes"],
    "flipped_sign.py": ["rising"],
    "exploding_lr.py": ["exploding"],
    "oscillating_lr.py": ["oscillating"],
    "lr_too_low.py": ["plateau"],
    "heavy_regularization.py": ["plateau"],
    # Both losses fall (by 59 % and 83 %) and are still falling after 200 steps.
    "gan.py": ["descending", "descending"],
}


@pytest.mark.parametrize(("curve", "kind"), [
    ([2.3 * 0.95 ** i for i in range(100)], "passes"),
    ([1.0 - 0.999 * i / 99 for i in range(100)], "passes"),  # ends below 1e-3
    ([1.1 + 0.05 * i for i in range(100)], "rising"),
    ([1.0 * 1.5 ** i for i in range(60)], "exploding"),
    ([1.0, 0.9, 0.8] + [math.nan] * 20, "exploding"),
    ([2.0 + (0.7 if i % 2 else -0.7) for i in range(100)], "oscillating"),
    # Jumps up in a few steps, then bounces around a higher level with small swings: a learning
    # rate too high (the chaotic curve of SGD lr=20 on cross-entropy), not a flipped sign.
    ([1.6, 2.7, 3.9] + [4.7 + (0.4 if i % 3 else -0.3) for i in range(97)], "oscillating"),
    ([2.3 - 0.001 * i for i in range(100)], "plateau"),
    ([2.3 * 0.99 ** i for i in range(100)], "descending"),  # down to 37 %, still falling
])
def test_verdicts_on_curves(curve, kind):
    assert judge(curve).kind == kind


def _decay_to(fraction: float, steps: int = 200) -> list[float]:
    """An exponential decay from 1.2 that ends at `fraction` of its start, still falling."""
    rate = fraction ** (1 / (steps - 1))
    return [1.2 * rate ** i for i in range(steps)]


@pytest.mark.parametrize(("curve", "kind"), [
    # Issue 25: a straight line from 1.40 to 1.05 over 100 steps was called a plateau.
    ([1.40 - 0.35 * i / 99 for i in range(100)], "descending"),
    # Drops of 59 % and 83 % that are still going on (the GAN fixture's two curves).
    (_decay_to(0.41), "descending"),
    (_decay_to(0.17), "descending"),
    # Falling steadily under step-to-step noise larger than a step's fall.
    ([1.4 - 0.004 * i + (0.02 if i % 2 else -0.02) for i in range(100)], "descending"),
    # Flat, with noise: a real plateau.
    ([1.108 + (0.003 if i % 3 else -0.002) for i in range(200)], "plateau"),
    # Fell 14 % in a few steps, then flat (heavy regularization): it stopped falling.
    ([1.18, 1.05, 0.99] + [1.014] * 197, "plateau"),
    # Fell 83 %, then flat well above the target: stalled, not still descending.
    ([1.2 * 0.9 ** i for i in range(17)] + [0.2] * 183, "plateau"),
    # Still falling, but only 6 % in all: too little to call it learning.
    ([1.0 - 0.06 * i / 199 for i in range(200)], "plateau"),
])
def test_descending_is_told_from_plateau(curve, kind):
    verdict = judge(curve)
    assert verdict.kind == kind
    if kind == "descending":
        assert "still falling" in verdict.describe() and "more steps" in verdict.next_step
        assert "learning rate" in verdict.next_step


def test_the_descending_verdict_quotes_its_drop():
    verdict = judge(_decay_to(0.17))
    assert verdict.drop == pytest.approx(0.82, abs=0.02)
    assert f"({verdict.drop:.0%} lower)" in verdict.describe()
    assert "not converged in 200 steps" in verdict.describe()


def _loss(value: float) -> torch.Tensor:
    leaf = torch.tensor([value], requires_grad=True)
    return torch.nn.functional.l1_loss(leaf, torch.zeros(1))


def test_a_loss_belongs_to_the_optimizer_whose_step_its_backward_feeds():
    attribution = LossAttribution()
    # The generator's loss is computed before the discriminator steps.
    d_real, d_fake, g_loss = _loss(0.7), _loss(0.6), _loss(0.5)
    for call, line in ((d_real, 18), (d_fake, 19), (g_loss, 23)):
        attribution.loss_computed(call, float(call.detach()), ("gan.py", line), ("ln(2)", 0.693))
    attribution.backward(d_real + d_fake, ("gan.py", 20))
    discriminator = attribution.stepped(1)
    assert [call.location[1] for call in discriminator.calls] == [18, 19]
    attribution.backward(g_loss * 0.5, ("gan.py", 24))  # scaled (accumulation, GradScaler)
    generator = attribution.stepped(2)
    assert [call.value for call in generator.calls] == pytest.approx([0.5])
    assert attribution.location(1) == ("gan.py", 18) and attribution.location(2) == ("gan.py", 23)
    # A sum of losses has no single chance value; one loss function does.
    assert attribution.initial_loss(1) is None
    assert attribution.initial_loss(2) == (pytest.approx(0.5), ("ln(2)", 0.693))
    assert attribution.order == [1, 2]


def test_attribution_without_a_loss_function_or_a_seen_backward():
    attribution = LossAttribution()
    # A loss written out by hand: the verdict points at its backward's line.
    attribution.backward((torch.ones(2, requires_grad=True) ** 2).mean(), ("train.py", 12))
    assert attribution.stepped(1).location == ("train.py", 12)
    # `torch.autograd.backward(loss)` is not seen: the loss computed since the step fed it.
    attribution.loss_computed(_loss(0.3), 0.3, ("train.py", 30))
    assert [call.value for call in attribution.stepped(1).calls] == [0.3]


def test_the_graph_walk_per_backward_is_bounded_however_deep_the_model():
    deep = torch.ones(1, requires_grad=True)
    for _ in range(5000):
        deep = deep * 1.0001
    # A loss that is not in the graph: the walk gives up after the budget, not 5000 nodes on.
    assert len(graph_nodes(deep.grad_fn, {id(object())}, GRAPH_BUDGET)) == GRAPH_BUDGET
    # A loss at the top of a deep graph is found at once.
    loss = _loss(0.2)
    assert id(loss.grad_fn) in graph_nodes((loss + deep).grad_fn, {id(loss.grad_fn)}, GRAPH_BUDGET)
    assert len(graph_nodes((loss + deep).grad_fn, {id(loss.grad_fn)}, GRAPH_BUDGET)) <= 3
    # With nothing wanted, the walk goes to the leaves of a small graph, and no further than
    # its limit in a large one.
    assert len(graph_nodes((loss + deep).grad_fn, limit=10)) == 10
    assert len(graph_nodes(loss.grad_fn)) == len(graph_nodes(loss.grad_fn, limit=1000)) < 10
    assert graph_nodes(None) == set()


def test_a_loss_never_backpropagated_is_let_go_after_one_step():
    attribution = LossAttribution()
    attribution.loss_computed(_loss(0.9), 0.9, ("train.py", 5))  # a metric with gradients
    attribution.backward(_loss(0.4), ("train.py", 6))
    attribution.stepped(1)
    assert len(attribution.pending) == 1  # it may still feed the next step
    attribution.backward(_loss(0.4), ("train.py", 6))
    attribution.stepped(1)
    assert attribution.pending == []


def test_too_short_to_judge():
    assert judge([1.0, 0.5, 0.2]) is None


def test_sparkline_shape():
    line = sparkline([10 ** -i for i in range(50)], width=50)
    assert len(line) == 50 and line[0] == "█" and line[-1] == "▁"
    assert len(sparkline(list(range(500)), width=60)) == 60
    assert sparkline([math.nan, 1.0, 2.0], width=3)[0] == "!"


@pytest.mark.parametrize("script", sorted(VERDICTS))
def test_fixture_verdicts(script, untouched):  # noqa: F811
    report = trace_script(OVERFIT / script, overfit=200)
    assert [curve.verdict.kind for curve in report.curves] == VERDICTS[script]
    verdicts = [d for d in report.diagnostics if d.code == "RT010"]
    assert len(verdicts) == len(VERDICTS[script])
    for diagnostic, curve in zip(verdicts, report.curves):
        assert diagnostic.evidence["verdict"] == curve.verdict.kind
        assert diagnostic.evidence["next_step"]
        assert diagnostic.related and "built here" in diagnostic.related[0].message
        assert all(len(curve.values) == 200 for curve in report.curves)
    assert report.first_step_changed is True


def _rt010_lines(report) -> dict[str, int]:
    return {d.message.split(":")[0]: d.span.start_line for d in report.diagnostics
            if d.code == "RT010"}


def test_gan_verdicts_point_at_each_optimizers_own_loss(untouched):  # noqa: F811
    report = trace_script(OVERFIT / "gan.py", overfit=20)
    # Adam #1 steps the discriminator (its loss on line 18), Adam #2 the generator (line 23).
    assert _rt010_lines(report) == {"Adam #1": 18, "Adam #2": 23}
    discriminator, generator = report.curves
    assert report.initial_loss_value == pytest.approx(generator.values[0])
    assert report.initial_loss == (f"initial loss {discriminator.values[0]:.4g} (Adam #1), "
                                   f"{generator.values[0]:.4g} vs chance ln(2) = 0.6931 (Adam #2)")


def test_losses_computed_before_either_step_go_to_their_own_optimizer(tmp_path,
                                                                      untouched):  # noqa: F811
    script = tmp_path / "two_models.py"
    script.write_text(textwrap.dedent("""\
        import torch
        from torch import nn
        torch.manual_seed(0)
        classifier, regressor = nn.Linear(6, 3), nn.Linear(6, 1)
        classifier_optimizer = torch.optim.SGD(classifier.parameters(), lr=0.1)
        regressor_optimizer = torch.optim.SGD(regressor.parameters(), lr=0.1)
        x, labels, targets = torch.randn(8, 6), torch.randint(0, 3, (8,)), torch.randn(8, 1)
        for step in range(100):
            regression_loss = nn.functional.mse_loss(regressor(x), targets)
            classification_loss = nn.functional.cross_entropy(classifier(x), labels)
            classifier_optimizer.zero_grad()
            classification_loss.backward()
            classifier_optimizer.step()
            regressor_optimizer.zero_grad()
            regression_loss.backward()
            regressor_optimizer.step()
    """))
    report = trace_script(script, overfit=10)
    # Both losses exist when the classifier steps: each still goes to its own optimizer.
    assert _rt010_lines(report) == {"SGD #1": 10, "SGD #2": 9}
    classifier, regressor = report.curves
    assert classifier.models == ("classifier",) and regressor.models == ("regressor",)
    assert report.initial_loss_value == pytest.approx(classifier.values[0])
    assert report.chance[0] == "ln(3)"


def test_healthy_script_reports_nothing_else_and_the_chance_value(untouched):  # noqa: F811

    report = trace_script(OVERFIT / "healthy_mlp.py", overfit=100)
    assert report.codes == ["RT010"]
    assert report.initial_loss.startswith("initial loss") and "ln(4) = 1.386" in report.initial_loss


def test_the_first_batch_is_replayed_inside_the_scripts_loop(tmp_path, untouched):  # noqa: F811
    script = tmp_path / "seen.py"
    script.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        model = nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for step in range(50):
            x = torch.full((4, 3), float(step + 1))  # a different batch every step
            y = torch.full((4,), step % 2, dtype=torch.long)
            optimizer.zero_grad()
            output = model(x)
            nn.functional.cross_entropy(output, y).backward()
            optimizer.step()
    """))
    report = trace_script(script, overfit=60)
    # Replayed, every step sees the first batch (ones, class 0) and the loss falls steadily;
    # left alone, inputs grow every step and the labels alternate, and it would not.
    assert report.outcome == "stopped" and len(report.curves[0].values) == 60
    assert report.curves[0].verdict.kind == "passes"


def test_overfit_respects_the_timeout(tmp_path, untouched):  # noqa: F811
    script = tmp_path / "slow.py"
    script.write_text(textwrap.dedent("""
        import time, torch
        model = torch.nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(4, 3), torch.randint(0, 2, (4,))
        while True:
            time.sleep(0.05)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    """))
    report = trace_script(script, overfit=10_000, timeout=1.0)
    assert report.outcome == "timeout" and report.curves and report.curves[0].values


def test_cli_overfit_shows_the_curve_and_exit_status():
    passed = CliRunner().invoke(main, ["trace", str(OVERFIT / "healthy_mlp.py"), "--overfit", "80"])
    assert passed.exit_code == 0, passed.output
    header = next(line for line in passed.output.splitlines() if line.startswith("loss curve"))
    assert header.startswith("loss curve, Adam #1") and ": 80 steps, " in header
    assert header.endswith(": passes") and "initial loss" in passed.output
    failed = CliRunner().invoke(main, ["trace", str(OVERFIT / "lr_too_low.py"), "--overfit"])
    assert failed.exit_code == 1 and "plateau" in failed.output and ": 200 steps, " in failed.output


SHORT_LOOP_BY_HAND = """\
import torch
from torch import nn
torch.manual_seed(0)
model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(4, 3), torch.randn(4, 1)
for step in range(6):
    optimizer.zero_grad()
    ((model(x) - y) ** 2).mean().backward()  # no loss function: the step cannot be replayed
    optimizer.step()
"""


def test_a_replay_the_scripts_loop_ended_early_gets_no_verdict_and_exit_3(tmp_path):
    script = tmp_path / "short.py"
    script.write_text(SHORT_LOOP_BY_HAND)
    result = CliRunner().invoke(main, ["trace", str(script), "--overfit", "50", "--no-static"])
    assert result.exit_code == 3, result.output
    assert "RT010" not in result.output and "plateau" not in result.output
    assert "The trace is incomplete: the --overfit replay ran 6 of 50 steps (the script's loop " \
           "ended early and its step could not be replayed), too few to judge the loss curve" \
           in " ".join(result.output.split())


def test_a_replay_that_stopped_during_warm_up_gets_no_verdict(tmp_path, untouched):  # noqa: F811
    script = tmp_path / "warm_up.py"
    script.write_text(textwrap.dedent("""\
        import torch
        from torch import nn
        model = nn.Linear(3, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        x, y = torch.randn(4, 3), torch.randint(0, 2, (4,))
        for step in range(1000):
            if step == 6:
                raise RuntimeError("warm-up over: the data loader ran dry")
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    """))
    report = trace_script(script, overfit=50)
    assert report.steps == 6 and len(report.curves[0].values) == 6
    assert report.curves[0].verdict is None and "RT010" not in report.codes
    assert report.incomplete == "the script raised RuntimeError: warm-up over: the data loader " \
                                "ran dry"


def test_a_complete_replay_is_not_incomplete(untouched):  # noqa: F811
    report = trace_script(OVERFIT / "healthy_short_loop.py", overfit=30)
    assert report.incomplete == "" and report.curves[0].verdict is not None


def test_trace_help_documents_the_incomplete_replay_status():
    help_text = " ".join(CliRunner().invoke(main, ["trace", "--help"]).output.split())
    assert "3 the trace is incomplete" in help_text
    assert "the --overfit replay ran fewer than K steps (no verdict)" in help_text


def test_the_backward_hook_still_flags_a_loss_that_turns_non_finite_later(tmp_path,
                                                                          untouched):  # noqa: F811
    # The attribution shares the backward hook with the loss's finiteness flag: after the first
    # step (its checks done, the attribution idle) the flag must still run.
    script = tmp_path / "late_nan.py"
    script.write_text(textwrap.dedent("""\
        import torch
        from torch import nn
        model = nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(4, 3), torch.randn(4, 1)
        for step in range(5):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(x), y) * (float("nan") if step == 2 else 1.0)
            loss.backward()
            optimizer.step()
    """))
    report = trace_script(script, steps=5)
    messages = [d.message for d in report.diagnostics if d.code == "RT001"]
    assert messages == ["the loss became inf/NaN at step 3"]


def test_the_json_report_of_a_short_replay_is_incomplete_without_a_verdict(tmp_path,
                                                                           untouched):  # noqa: F811
    from dllint.runtime.trace_json import trace_to_dict
    script = tmp_path / "short.py"
    script.write_text(SHORT_LOOP_BY_HAND)
    report = trace_script(script, overfit=50)
    data = trace_to_dict(report, report.diagnostics)
    assert data["complete"] is False and data["incomplete_reason"].startswith(
        "the --overfit replay ran 6 of 50 steps")
    assert [loss["verdict"] for loss in data["losses"]] == [None]


def test_the_json_schema_knows_every_verdict():
    from dllint.runtime.overfit import NEXT_STEPS
    from dllint.runtime.trace_json import SCHEMA
    verdict = SCHEMA["properties"]["losses"]["items"]["properties"]["verdict"]
    kinds = next(option for option in verdict["oneOf"] if option.get("type") == "object")
    assert set(kinds["properties"]["kind"]["enum"]) == set(NEXT_STEPS)
