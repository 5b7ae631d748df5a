"""RT010: the single-batch overfit check and its verdicts."""

from __future__ import annotations

import math
import textwrap

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.runtime.overfit import judge, sparkline  # noqa: E402
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
    "gan.py": ["plateau", "plateau"],
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
    ([2.3 * 0.99 ** i for i in range(100)], "plateau"),  # falls, but only to 37 %
])
def test_verdicts_on_curves(curve, kind):
    assert judge(curve).kind == kind


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
