"""Models called with keyword arguments (`model(pixel_values=x)`, `model(**batch)`, every
transformers model): the tracer sees those inputs in the module table, in the root input checks
(RT001, RT004), and --overfit replays the keyword batch."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from dllint.runtime.script import trace_script  # noqa: E402
from test_runtime import untouched  # noqa: E402,F401 - the process-state fixture

KEYWORD_MODEL = """
    import torch
    from torch import nn

    torch.manual_seed(0)


    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 4))

        def forward(self, pixel_values=None, labels=None):
            return nn.functional.cross_entropy(self.net(pixel_values), labels)


    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
"""


def write(tmp_path, body: str):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(KEYWORD_MODEL) + textwrap.dedent(body))
    return path


def _line(script, number: int) -> str:
    return script.read_text().splitlines()[number - 1]


def _root_row(report):
    return next(row for row in report.observations.modules.values() if row.name == "model")


def test_the_module_table_shows_keyword_inputs(tmp_path, untouched):
    script = write(tmp_path, """
        batch = {"pixel_values": torch.randn(8, 3, 4, 4), "labels": torch.randint(0, 4, (8,))}
        loss = model(**batch)
        loss.backward()
        optimizer.step()
    """)
    report = trace_script(script)
    assert _root_row(report).inputs == "[pixel_values=(8, 3, 4, 4), labels=(8,)]"
    assert report.instrument_errors == []


def test_input_scale_sees_a_keyword_input(tmp_path, untouched):
    script = write(tmp_path, """
        pixels = torch.rand(8, 3, 4, 4) / 255  # scaled to [0, 1] twice
        loss = model(pixel_values=pixels, labels=torch.randint(0, 4, (8,)))
        loss.backward()
        optimizer.step()
    """)
    report = trace_script(script)
    assert [d.code for d in report.diagnostics] == ["RT004"], report.diagnostics
    assert "scaled to [0, 1] twice" in report.diagnostics[0].message
    assert "model(pixel_values=pixels" in _line(script, report.diagnostics[0].line)


def test_a_non_finite_keyword_input_is_reported_as_the_inputs(tmp_path, untouched):
    # Without the keyword input the first non-finite value would be the layer's output.
    script = tmp_path / "nan_input.py"
    script.write_text(textwrap.dedent("""
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = nn.Linear(48, 4)

            def forward(self, pixel_values=None):
                return self.linear(pixel_values)


        model = Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        pixels = torch.randn(8, 48)
        pixels[0, 0] = float("nan")
        loss = model(pixel_values=pixels).square().mean()
        loss.backward()
        optimizer.step()
    """))
    report = trace_script(script)
    findings = [d for d in report.diagnostics if d.code == "RT001"]
    assert len(findings) == 1 and "the input of `model` already holds inf/NaN" in \
        findings[0].message, report.diagnostics
    assert "model(pixel_values=pixels)" in _line(script, findings[0].line)


def test_overfit_replays_a_keyword_batch(tmp_path, untouched):
    # A new random batch every step: without the replay of the keywords the model would chase
    # new inputs against replayed targets, and plateau.
    script = write(tmp_path, """
        for step in range(1000):
            batch = {"pixel_values": torch.randn(32, 3, 4, 4),
                     "labels": torch.randint(0, 4, (32,))}
            optimizer.zero_grad()
            loss = model(**batch)
            loss.backward()
            optimizer.step()
    """)
    report = trace_script(script, overfit=100)
    assert [curve.verdict.kind for curve in report.curves] == ["passes"], report.curves
    assert report.instrument_errors == []


# Slow (importing transformers and training BERT take most of the fast tier's longest minute):
# the full suite runs it; in the fast tier, the keyword inputs of the module table and the
# replay of a keyword batch are covered by the plain-torch tests above.
@pytest.mark.slow
def test_a_transformers_model_called_with_keywords(tmp_path, untouched):
    pytest.importorskip("transformers")
    script = tmp_path / "bert.py"
    script.write_text(textwrap.dedent("""
        import torch
        from transformers import BertConfig, BertForSequenceClassification

        torch.manual_seed(0)
        config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64, num_labels=3)
        model = BertForSequenceClassification(config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
        for step in range(1000):
            batch = {"input_ids": torch.randint(0, 100, (8, 12)),
                     "attention_mask": torch.ones(8, 12, dtype=torch.long),
                     "labels": torch.randint(0, 3, (8,))}
            optimizer.zero_grad()
            output = model(**batch)
            output.loss.backward()
            optimizer.step()
    """))
    report = trace_script(script, overfit=60)
    assert _root_row(report).inputs == \
        "[input_ids=(8, 12), attention_mask=(8, 12), labels=(8,)]"
    assert [curve.verdict.kind for curve in report.curves] == ["passes"], report.curves
    assert report.instrument_errors == []
