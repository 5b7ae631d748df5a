"""What `dllint trace` prints and writes: the folded module table, the losses per optimizer, the
overfit curve, the pictures' axes, the summary line and the whole-report JSON (dllint-trace/2)."""

from __future__ import annotations

import json
import math
import re

import jsonschema
import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from conftest import REPO  # noqa: E402
from dllint.cli import main  # noqa: E402
from dllint.reports import ReportContext  # noqa: E402
from dllint.reports.text import render as render_text  # noqa: E402
from dllint.runtime.instruments import ModuleRecord, Observations  # noqa: E402
from dllint.runtime.overfit import judge, sparkline  # noqa: E402
from dllint.runtime.overfit import Verdict  # noqa: E402
from dllint.runtime.report import (MAX_GRADIENT_ROWS, MAX_MODULE_ROWS,  # noqa: E402
                                   MAX_PLOT_BARS, MAX_PLOT_INCHES, default_depth, folded_rows,
                                   gradient_bars, human_bytes, human_count, loss_axis,
                                   module_rows, render_trace, shorten_left, shorten_names)
from dllint.runtime.script import Curve, TraceReport  # noqa: E402
from dllint.runtime.trace_json import SCHEMA, SCHEMA_VERSION, trace_to_dict  # noqa: E402
from dllint.types import Diagnostic, Severity, Span  # noqa: E402

RUNTIME = REPO / "fixtures" / "runtime"


def record(name: str, kind: str, shape: str = "(2, 8)", parameters: int = 0,
           trainable: int | None = None, training: bool = True) -> ModuleRecord:
    return ModuleRecord(name, kind, f"[{shape}]", shape, "float32", training, "cpu", parameters,
                        parameters if trainable is None else trainable, 4 * parameters)


def convnext_records(blocks: int = 3) -> list[ModuleRecord]:
    """A ConvNeXt-like model as the tracer records it: a module when its forward returns, so
    children before their parent. Stage 0 has `blocks` identical blocks; stage 1 has two blocks
    of another width and a downsampling layer that differs from them."""
    records = [record("net.stem", "Conv2d")]
    for stage, width in ((0, "(2, 8)"), (1, "(2, 16)")):
        count = blocks if stage == 0 else 2
        for block in range(count):
            prefix = f"net.stages.{stage}.blocks.{block}"
            records += [record(f"{prefix}.conv_dw", "Conv2d", width),
                        record(f"{prefix}.norm", "LayerNorm", width),
                        record(f"{prefix}.pwconv", "Linear", width),
                        record(prefix, "ConvNeXtBlock", width)]
        if stage == 1:
            records.append(record("net.stages.1.blocks.2", "Downsample", width))
        records += [record(f"net.stages.{stage}.blocks", "Sequential", width),
                    record(f"net.stages.{stage}", "Stage", width)]
    records += [record("net.stages", "Sequential"), record("net.head", "Linear", "(2, 10)"),
                record("net", "ConvNeXt", "(2, 10)")]
    return records


def make_report(records=(), curves=(), norms=None, no_gradient=(), findings=(), **fields):
    seen = Observations(modules={index: item for index, item in enumerate(records)},
                        gradient_norms=dict(norms or {}), no_gradient=list(no_gradient),
                        findings=list(findings))
    defaults = dict(script="train.py", outcome="stopped", detail="stopped after 1 optimizer step(s)",
                    device="cpu", steps=1, observations=seen, curves=list(curves))
    return TraceReport(**{**defaults, **fields})


# ---- the module table ------------------------------------------------------------------------

def test_repeated_blocks_fold_into_one_row_and_parents_come_first():
    rows = folded_rows(convnext_records())
    names = [row.name for row in rows]
    assert names == ["net", "net.stem", "net.stages", "net.stages.0", "net.stages.0.blocks",
                     "net.stages.0.blocks.0–2", "net.stages.1", "net.stages.1.blocks",
                     "net.stages.1.blocks.0–1", "net.stages.1.blocks.2", "net.head"]
    folded = rows[names.index("net.stages.0.blocks.0–2")]
    assert folded.count == 3 and folded.record.kind == "ConvNeXtBlock"
    # The children of folded blocks are hidden; the Downsample after them is not folded in.
    assert not any(name.endswith("conv_dw") for name in names)
    assert rows[names.index("net.stages.1.blocks.2")].count == 1


def test_blocks_with_different_shapes_are_not_folded():
    records = convnext_records(blocks=2)
    records[5] = record("net.stages.0.blocks.1.conv_dw", "Conv2d", "(2, 9)")  # one shape differs
    names = [row.name for row in folded_rows(records)]
    assert "net.stages.0.blocks.0" in names and "net.stages.0.blocks.1.conv_dw" in names


def test_json_rows_keep_every_module_parents_first():
    records = convnext_records()
    rows = module_rows(records)
    assert sorted(row.name for row, _ in rows) == sorted(item.name for item in records)
    depths = {row.name: depth for row, depth in rows}
    assert depths["net"] == 0 and depths["net.stages"] == 1
    # `net.stages.0.blocks` is a recorded Sequential, so a block lies a level below it.
    assert depths["net.stages.0.blocks.1"] == 4 and depths["net.stages.0.blocks.1.norm"] == 5
    position = {row.name: index for index, row in enumerate(row for row, _ in rows)}
    for name in position:
        if "." in name:
            assert position[name.rsplit(".", 1)[0]] < position[name]
    assert position["net.stages.0.blocks.0"] < position["net.stages.0.blocks.1"]


def test_names_are_shortened_from_the_left_at_a_dot():
    assert shorten_left("net.stages.0.blocks.2.conv_dw", 18) == "…blocks.2.conv_dw"
    assert shorten_left("short", 18) == "short"
    cut = shorten_left("a_single_very_long_module_name", 12)
    assert len(cut) == 12 and cut.startswith("…") and cut.endswith("module_name")


def test_a_narrow_table_keeps_the_ends_of_names():
    records = [record(f"encoder.layers.{i}.attention.output.dense", "Linear", f"(2, {i + 1})")
               for i in range(3)]
    text = render_trace(make_report(records), color=False, width=60)
    for layer in range(3):  # shortened in the middle: the layer number and the end both stay
        assert re.search(rf"\S*{layer}\S*…\S*dense|\S*…\S*{layer}\S*dense", text), text
    assert "encoder.layers.0.attention.out " not in text  # never cut at the right end
    assert all(len(line) <= 60 for line in table_lines(text))


def test_the_row_cap_points_to_the_json_report():
    # Distinct shapes, so nothing folds.
    records = [record(f"net.{i}", "Linear", f"(2, {i + 1})") for i in range(MAX_MODULE_ROWS + 7)]
    text = render_trace(make_report(records), color=False, width=120)
    assert "… 7 more rows (--depth all shows them; --format json lists every module)" in text
    assert "net.0 " in text and f"net.{MAX_MODULE_ROWS - 1} " in text
    assert f"net.{MAX_MODULE_ROWS} " not in text
    # --depth all: no cap.
    every = render_trace(make_report(records), color=False, width=120, depth=None, row_limit=None)
    assert f"net.{MAX_MODULE_ROWS + 6} " in every and "more rows" not in every


def test_a_single_row_over_the_cap_is_shown_not_elided():
    records = [record(f"net.{i}", "Linear", f"(2, {i + 1})") for i in range(MAX_MODULE_ROWS + 1)]
    text = render_trace(make_report(records), color=False, width=120)
    assert f"net.{MAX_MODULE_ROWS} " in text and "more rows" not in text
    names = [f"net.{i}.weight" for i in range(MAX_GRADIENT_ROWS + 1)]
    text = render_trace(make_report(norms={name: 0.5 for name in names}), color=False, width=100)
    assert "more parameters" not in text and all(f"{name} " in text for name in names)
    more = render_trace(make_report(norms={name: 0.5 for name in [*names, "net.x.weight"]}),
                        color=False, width=100)
    assert "… 2 more parameters (see --format json)" in more


# ---- a real model's table at 100 columns -------------------------------------------------------

def t5_records() -> list[ModuleRecord]:
    """A T5 as the tracer records it (children before their parents): long names, keyword
    inputs (recorded as `[]`), output objects, blocks that differ in their first layer."""
    records = []
    for stack in ("encoder", "decoder"):
        for block in range(6):
            prefix = f"model.{stack}.block.{block}"
            extra = 4 if block == 0 else 0  # the first block holds the relative position bias
            for layer, kind in enumerate(("T5LayerSelfAttention", "T5LayerFF")):
                records += [
                    record(f"{prefix}.layer.{layer}.layer_norm", "T5LayerNorm", "(2, 7, 16)", 16),
                    record(f"{prefix}.layer.{layer}.dropout", "Dropout", "(2, 7, 16)"),
                    record(f"{prefix}.layer.{layer}", kind, "(2, 7, 16)", 1040 + extra)]
            records.append(ModuleRecord(
                prefix, "T5Block", "[(2, 7, 16), NoneType, (1, 4, 7, 7), NoneType]",
                "[(2, 7, 16), (1, 4, 7, 7), NoneType, NoneType]", "float32", True, "cpu",
                2096 + extra, 2096 + extra, 4 * (2096 + extra)))
        records.append(ModuleRecord(
            f"model.{stack}", "T5Stack", "[]",
            "{last_hidden_state: (2, 7, 16), past_key_values: EncoderDecoderCache}", "float32",
            True, "cpu", 12596, 12596, 4 * 12596))
    records.append(ModuleRecord(
        "model", "T5ForConditionalGeneration", "[]",
        "{loss: (), logits: (2, 5, 64), encoder_last_hidden_state: (2, 7, 16), "
        "past_key_values: EncoderDecoderCache}", "float32", False, "cpu", 26216, 26216,
        4 * 26216))
    return records


def table_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("module "))
    end = next((index for index, line in enumerate(lines) if index > start and (
        not line or line.startswith(("+N:", "parameters:", "… ")))), len(lines))
    return lines[start:end]


def test_a_real_models_table_keeps_dtype_and_mode_at_100_columns():
    text = render_trace(make_report(t5_records()), color=False, width=100)
    header, *rows = table_lines(text)
    assert header.split() == ["module", "type", "input", "output", "dtype", "mode", "params"]
    assert all(len(line) <= 100 for line in [header, *rows])
    dtype, mode = header.index("dtype"), header.index("mode")
    assert all(row[dtype:dtype + 4].strip() == "f32" for row in rows), rows
    assert {row[mode:mode + 5].strip() for row in rows} == {"train", "eval"}
    model = next(row for row in rows if row.startswith("model "))
    assert re.search(r"\s26\.2k$", model)
    # Names are shortened in the middle, the encoder's rows told apart from the decoder's.
    names = [row.split()[0] for row in rows]
    assert len(set(names)) == len(names) and any("encoder" in name and "…" in name
                                                 for name in names), rows
    # The output object shows the tensors it holds (shortened in the middle), not its class.
    shallow = render_trace(make_report(t5_records()), color=False, width=100, depth=1)
    shallow_header, model, *_ = table_lines(shallow)
    output = model[shallow_header.index("output"):shallow_header.index("dtype")].strip()
    assert output.startswith("{loss: (), logit") and output.endswith("Cache}"), output


def test_shapes_give_way_before_names():
    from dllint.runtime.report import MIN_SHAPE_WIDTH, _column_widths

    natural = {"module": 30, "input": 33, "output": 40}
    assert _column_widths(natural, 70) == {"module": 30, "input": 20, "output": 20}
    # Shapes at their minimum: then the names shorten.
    assert _column_widths(natural, 50) == {"module": 50 - 2 * MIN_SHAPE_WIDTH,
                                           "input": MIN_SHAPE_WIDTH, "output": MIN_SHAPE_WIDTH}
    # A short input leaves its room to the output.
    assert _column_widths({"module": 10, "input": 5, "output": 60}, 50) == {
        "module": 10, "input": 5, "output": 35}


def test_the_default_view_folds_below_its_depth_and_depth_expands_it():
    records = t5_records()
    assert default_depth(records) == 3
    rows = folded_rows(records, depth=2)
    names = [row.name for row in rows]
    assert names == ["model", "model.encoder", "model.encoder.block.0", "model.encoder.block.1–5",
                     "model.decoder", "model.decoder.block.0", "model.decoder.block.1–5"]
    block = rows[names.index("model.encoder.block.0")]
    assert block.folded == 6 and block.count == 1  # its 2 layers with 2 children each
    assert rows[names.index("model.encoder.block.1–5")].count == 5
    shallow = render_trace(make_report(records), color=False, width=100, depth=1,
                           row_limit=None)
    assert [line.split()[0] for line in table_lines(shallow)[1:]] == [
        "model", "model.encoder", "model.decoder"]
    assert re.search(r"^model\.encoder\s+\+42\s+T5Stack", shallow, flags=re.MULTILINE), shallow
    assert "+N: N modules below depth 1 folded into the row (--depth N expands, --depth all " \
           f"shows all {len(records)} modules)" in shallow
    every = render_trace(make_report(records), color=False, width=200, depth=None,
                         row_limit=None)
    assert "+N:" not in every and "model.encoder.block.0.layer.1.layer_norm" in every
    # Repeated blocks still fold when every depth is shown.
    assert "model.encoder.block.1–5" in every and "block.3.layer" not in every


def test_the_default_depth_is_the_deepest_that_fits_the_row_limit():
    # 30 distinct layers of 3 distinct sublayers each: depth 1 fits in 50 rows, depth 2 not.
    records = []
    for layer in range(30):
        records += [record(f"net.layer{layer}.part{part}", "Linear", f"({layer}, {part})")
                    for part in range(3)]
        records.append(record(f"net.layer{layer}", "Block", f"({layer},)"))
    records.append(record("net", "Net"))
    assert default_depth(records) == 1
    text = render_trace(make_report(records), color=False, width=100)
    assert "net.layer29 " in text and "part0" not in text and "more rows" not in text


def test_parameter_counts_per_row_and_in_total():
    assert [human_count(n) for n in (0, 950, 12_345, 4_500_000, 1_230_000_000)] == [
        "0", "950", "12.3k", "4.5M", "1.23B"]
    assert [human_bytes(n) for n in (64, 5_380, 1_090_000, 2_400_000_000)] == [
        "64B", "5.25KiB", "1.04MiB", "2.24GiB"]
    records = [record("net.encoder", "Linear", "(2, 8)", 72, 0),
               record("net.head", "Linear", "(2, 2)", 18), record("net", "Net", "(2, 2)", 90, 18)]
    text = render_trace(make_report(records), color=False, width=100)
    header, *rows = table_lines(text)
    assert header.split()[-2:] == ["params", "trainable"]
    assert re.search(r"^net\.encoder\s.*\s72\s+0$", text, flags=re.MULTILINE), text
    assert "parameters: 90 total, 18 trainable, 72 frozen; 360B" in text
    # Everything trainable: no trainable column.
    trained = render_trace(make_report([record("net", "Net", "(2, 2)", 90)]), color=False,
                           width=100)
    assert table_lines(trained)[0].split()[-1] == "params"
    assert "parameters: 90 total, 90 trainable, 0 frozen; 360B" in trained


def test_names_are_shortened_in_the_middle_and_stay_told_apart():
    names = [f"unet.{part}_blocks.{block}.resnets.{resnet}.norm1"
             for part in ("down", "up") for block in range(2) for resnet in range(2)]
    short = shorten_names(names, 26)
    assert len(set(short.values())) == len(names), short
    for name, cut in short.items():
        assert len(cut) <= 26 and "…" in cut and cut.endswith(".norm1")
        # The parts that tell it apart (which blocks, which resnet) stay.
        part, block, resnet = re.match(r"unet\.(\w+)_blocks\.(\d)\.resnets\.(\d)", name).groups()
        assert part in cut and f"{block}" in cut and cut.endswith(f"…{resnet}.norm1")
    assert shorten_names(["net.head"], 26) == {"net.head": "net.head"}
    # Cutting from the left would make these three the same.
    three = [f"model.down_blocks.{i}.resnets.0.norm1" for i in range(3)]
    assert len({shorten_left(name, 16) for name in three}) == 1
    assert len(set(shorten_names(three, 22).values())) == 3
    # `…encoder.final_layer_norm` is one character too long: a cut inside the parts tells the
    # two apart where whole parts cannot.
    norms = ["model.encoder.final_layer_norm", "model.decoder.final_layer_norm", "model.lm_head"]
    short = shorten_names(norms, 24)
    assert len(set(short.values())) == 3 and all(len(cut) <= 24 for cut in short.values())
    assert short["model.encoder.final_layer_norm"].startswith("model.enc")


def test_a_real_model_table_folds(tmp_path):
    script = tmp_path / "deep.py"
    script.write_text(
        "import torch\nfrom torch import nn\n"
        "blocks = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.ReLU()) for _ in range(12)])\n"
        "model = nn.Sequential(blocks, nn.Linear(8, 2))\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "loss = nn.functional.cross_entropy(model(torch.randn(4, 8)), torch.tensor([0, 1, 0, 1]))\n"
        "loss.backward()\noptimizer.step()\n")
    result = CliRunner().invoke(main, ["trace", str(script), "--no-static"],
                                env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code in (0, 1), result.output  # a complete trace (deep ReLUs may die)
    assert re.search(r"\.0\.0–11\s+×12\s+Sequential", result.output), result.output
    assert ".0.5.1 " not in result.output  # the children of folded blocks are hidden


def test_a_real_trace_records_output_objects_parameters_and_expands_with_depth(tmp_path):
    script = tmp_path / "objects.py"
    script.write_text(
        "from dataclasses import dataclass\nimport torch\nfrom torch import nn\n\n"
        "@dataclass\nclass Output:\n    loss: torch.Tensor\n    logits: torch.Tensor\n"
        "    cache: object = None\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.embed = nn.Linear(4, 8)\n        self.embed.requires_grad_(False)\n"
        "        self.body = nn.Sequential(nn.Sequential(nn.Linear(8, 8), nn.ReLU()), "
        "nn.Linear(8, 3))\n"
        "    def forward(self, x, y):\n        logits = self.body(self.embed(x))\n"
        "        return Output(nn.functional.cross_entropy(logits, y), logits)\n\n"
        "model = Net()\n"
        "optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)\n"
        "model(torch.randn(2, 4), torch.tensor([0, 2])).loss.backward()\noptimizer.step()\n")
    environment = {"COLUMNS": "120", "NO_COLOR": "1"}
    result = CliRunner().invoke(main, ["trace", str(script), "--no-static", "--depth", "1"],
                                env=environment)
    assert result.exit_code in (0, 1), result.output
    header, *rows = table_lines(result.output)
    assert [row.split()[0] for row in rows] == ["model", "model.embed", "model.body"], rows
    model = rows[0]
    assert "{loss: (), logits: (2,3), cache: NoneType}" not in model  # None entries are left out
    assert "{loss: (), logits: (2,3)}" in model and " f32 " in model
    # embed: 4*8+8 = 40 frozen; body: (8*8+8) + (8*3+3) = 99 trainable.
    assert re.search(r"model\.embed\s.*\s40\s+0\s+[\d.]+k?B$", result.output, flags=re.MULTILINE)
    assert re.search(r"^model\.body\s+\+4\s", result.output, flags=re.MULTILINE)
    assert "parameters: 139 total, 99 trainable, 40 frozen; 556B" in result.output
    every = CliRunner().invoke(main, ["trace", str(script), "--no-static", "--depth", "all"],
                               env=environment)
    assert "model.body.0.1 " in every.output and "+N:" not in every.output
    bad = CliRunner().invoke(main, ["trace", str(script), "--depth", "deep"], env=environment)
    assert bad.exit_code == 2 and "'deep' is neither a depth (0, 1, 2, ...) nor 'all'" in bad.output


def test_a_compiled_model_gets_its_own_row_and_a_note(tmp_path):
    pytest.importorskip("torch._dynamo")
    script = tmp_path / "compiled.py"
    script.write_text(
        "import torch\nfrom torch import nn\n"
        "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"
        "compiled = torch.compile(model)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "loss = nn.functional.cross_entropy(compiled(torch.randn(4, 4)), torch.tensor([0, 1, 0, 1]))\n"
        "loss.backward()\noptimizer.step()\n")
    # In a process of its own: torch.compile leaves compile workers running, and `dllint trace`
    # then ends its process at once (os._exit) rather than wait for them, which would end the
    # test session too if run in it.
    import os
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "dllint", "trace", str(script), "--no-static"],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "COLUMNS": "100", "NO_COLOR": "1"})
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert re.search(r"^model\s+Sequential\s+\(4,4\)\s+\(4,2\)\s+f32\s+train\s+58\s+\d+B$",
                     result.stdout, flags=re.MULTILINE), result.stdout
    assert "model: compiled by torch.compile; the modules inside the compiled graph run without " \
           "dllint's hooks" in result.stdout


def test_audit_embeds_the_trace_at_full_width(tmp_path):
    script = tmp_path / "wide.py"
    script.write_text(
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.a_rather_long_encoder_attribute = nn.Sequential(\n"
        "            nn.Linear(64, 64), nn.Linear(64, 32), nn.Linear(32, 16))\n"
        "    def forward(self, x):\n        return self.a_rather_long_encoder_attribute(x)\n"
        "model = Net()\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "model(torch.randn(16, 64)).sum().backward()\noptimizer.step()\n")
    target = tmp_path / "audit.md"
    result = CliRunner().invoke(main, ["audit", str(script), "--format", "md", "-o", str(target),
                                       "--trace", str(script)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    text = target.read_text()
    trace = text[text.index("## Runtime trace"):]
    header = next(line for line in trace.splitlines() if line.startswith("module "))
    assert header.split()[-4:] == ["dtype", "mode", "params", "memory"]
    # Names and shapes whole: the page is not a terminal.
    assert "model.a_rather_long_encoder_attribute.2 " in trace and "…" not in trace.split(
        "gradient norms")[0]


# ---- losses and the overfit curve ------------------------------------------------------------

def test_losses_are_printed_per_optimizer_from_the_curves():
    curves = [Curve("Adam #1", [1.097, 1.092, 1.088], None, ("generator",)),
              Curve("SGD #2", [0.7, 0.69], None, ("critic",))]
    text = render_trace(make_report(curves=curves), color=False, width=100)
    assert "loss per step, Adam #1 (generator): 1.097, 1.092, 1.088" in text
    assert "loss per step, SGD #2 (critic): 0.7, 0.69" in text
    assert "loss curve" not in text  # three steps, not judged: no curve to draw


def test_the_curve_header_quotes_the_verdicts_start_and_end():
    values = [5.0, 2.0, 2.1] + [2.0 * 0.9 ** i for i in range(60)]
    verdict = judge(values)
    text = render_trace(make_report(curves=[Curve("Adam #1", values, verdict, ("net",))]),
                        color=False, width=100)
    header = next(line for line in text.splitlines() if line.startswith("loss curve"))
    assert f"{verdict.start:.4g} -> {verdict.end:.4g}: {verdict.kind}" in header
    assert verdict.start != values[0] and verdict.end != values[-1]  # medians, not endpoints
    assert header.startswith(f"loss curve, Adam #1 (net): {len(values)} steps")


@pytest.mark.parametrize("steps", [3, 53, 79, 80, 81, 200, 1000])
def test_the_sparkline_spans_the_whole_width(steps):
    falling = [100.0 * 0.5 ** (20 * i / steps) for i in range(steps)]
    line = sparkline(falling, width=80)
    assert len(line) == 80
    assert line[0] == "█" and line[-1] == "▁"  # the last steps reach the right edge
    assert list(line) == sorted(line, reverse=True)  # a falling curve never rises


def test_the_sparkline_marks_a_bucket_with_a_non_finite_loss():
    curve = [1.0] * 500 + [math.inf] + [1.0] * 499
    line = sparkline(curve, width=50)
    assert len(line) == 50 and line.count("!") == 1 and line.index("!") == 25


def test_the_exploding_verdict_says_where_the_loss_started_and_ended():
    rose = Verdict("exploding", 2.2, 2.5e5, 2.0, 60).describe()
    assert "the loss exploded: it rose from 2.2 to 2.5e+05" in rose
    # A loss that fell a long way, then jumped 10-fold, ends below its start: said so.
    fell = Verdict("exploding", 2.5e5, 2.2, 0.01, 60).describe()
    assert "grew more than 10-fold within a tenth of the run, though it ended lower (2.2) " \
           "than it started (2.5e+05)" in fell
    assert "not finite from the first steps" in Verdict("exploding", math.nan, math.inf,
                                                        math.nan, 60).describe()


# ---- the loss plot's axis and the gradient chart ---------------------------------------------

def test_a_plateau_gets_a_linear_axis_no_narrower_than_a_few_percent():
    plateau = [1.1083 - 0.00001 * i for i in range(200)]
    scale, (low, high) = loss_axis(plateau)
    assert scale == "linear"
    assert high - low >= 0.05 * 1.108 and low < min(plateau) and high > max(plateau)


def test_only_a_curve_spanning_decades_gets_a_log_axis():
    assert loss_axis([2.3 * 0.95 ** i for i in range(200)])[0] == "log"  # 2.3 -> 8e-5
    assert loss_axis([1.3 * 0.98 ** i for i in range(150)])[0] == "linear"  # 1.5 decades
    scale, (low, high) = loss_axis([0.5, -0.2, -3.0])  # a maximized loss goes negative
    assert scale == "linear" and low < -3.0 and high > 0.5
    assert loss_axis([math.nan, math.inf]) == ("linear", None)


def test_the_gradient_chart_shows_parameters_without_a_gradient():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from dllint.runtime.report import gradient_figure

    report = make_report(norms={"net.head.weight": 0.5, "net.head.bias": 0.2,
                                "net.body.scale": 0.0},
                         no_gradient=["net.encoder.0.weight", "net.encoder.0.bias"],
                         curves=[Curve("Adam #1", [1.1, 1.1, 1.1], None, ("net",))])
    figure = gradient_figure(report)
    try:
        bars, curve = figure.axes[:2]
        labels = {label.get_text(): label.get_color() for label in bars.get_xticklabels()}
        assert set(labels) == {"net.head.weight", "net.head.bias", "net.body.scale",
                               "net.encoder.0.weight", "net.encoder.0.bias"}
        assert labels["net.encoder.0.weight"] == "tab:red" and labels["net.head.bias"] != "tab:red"
        notes = [text.get_text() for text in bars.texts]
        assert notes.count("no gradient") == 2 and notes.count("zero") == 1
        assert curve.get_yscale() == "linear"
    finally:
        plt.close(figure)


def bert_norms(layers: int = 12) -> dict[str, float]:
    norms = {"bert.embeddings.word_embeddings.weight": 0.1}
    for layer in range(layers):
        for part in ("query", "key", "value", "output.dense", "intermediate.dense"):
            for kind in ("weight", "bias"):
                norms[f"bert.encoder.layer.{layer}.{part}.{kind}"] = 0.5 if kind == "weight" \
                    else 0.0 if (layer, part) == (3, "key") else 1e-3
    norms["classifier.weight"] = 2.0
    return norms


def test_a_big_model_gets_one_gradient_bar_per_block():
    norms = bert_norms()
    bars = gradient_bars(norms, ["bert.encoder.layer.7.query.weight"])
    assert len(bars) <= MAX_PLOT_BARS < len(norms)
    labels = [bar.label for bar in bars]
    assert labels[0] == "bert.embeddings.word_embeddings.weight"  # a group of one: its name
    assert "bert.encoder.layer.0.* (10)" in labels and labels[-1] == "classifier.weight"
    layer0 = bars[labels.index("bert.encoder.layer.0.* (10)")]
    assert layer0.norm == pytest.approx(math.sqrt(5 * 0.5 ** 2 + 5 * 1e-3 ** 2))
    assert layer0.members == 10 and not layer0.missing
    assert bars[labels.index("bert.encoder.layer.3.* (10)")].missing == \
        "1 of 10 without gradient"  # the zero key bias
    # A parameter with no gradient joins its block (it was also in the norms: counted once).
    assert bars[labels.index("bert.encoder.layer.7.* (10)")].missing == "1 of 10 without gradient"
    few = gradient_bars({"a.weight": 0.5, "a.bias": 0.0}, ["b.weight"])
    assert [(bar.label, bar.norm, bar.missing) for bar in few] == [
        ("a.weight", 0.5, ""), ("a.bias", None, "zero"), ("b.weight", None, "no gradient")]


def test_the_gradient_figure_of_a_big_model_stays_readable():
    pytest.importorskip("matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from dllint.runtime.report import gradient_figure

    norms = bert_norms(layers=48)
    figure = gradient_figure(make_report(norms=norms,
                                         curves=[Curve("Adam #1", [1.1, 1.0], None, ())]))
    try:
        width, height = figure.get_size_inches()
        assert width <= MAX_PLOT_INCHES + 5 and height <= 5
        labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
        assert len(labels) <= MAX_PLOT_BARS and all(len(label) <= 32 for label in labels)
        assert all(label.get_fontsize() >= 8 for label in figure.axes[0].get_xticklabels())
        assert "per block" in figure.axes[0].get_ylabel()
    finally:
        plt.close(figure)


# ---- the summary line --------------------------------------------------------------------------

def verdict_diagnostic(kind: str) -> Diagnostic:
    severity = Severity.INFO if kind == "passes" else Severity.ERROR
    return Diagnostic("RT010", "single-batch-overfit", f"Adam #1: single-batch overfit {kind}",
                      severity, "train.py", Span.point(3), evidence={"verdict": kind})


def test_a_passing_verdict_is_not_counted_as_a_problem():
    context = ReportContext(files_checked=1)
    alone = render_text([verdict_diagnostic("passes")], context)
    assert "All checks passed! (1 file checked, 1 note above)" in alone
    assert "Found" not in alone and "RT010 Adam #1: single-batch overfit passes" in alone
    gradient = Diagnostic("RT006", "gradient-flow", "no gradient", Severity.ERROR, "train.py",
                          Span.point(4))
    both = render_text([verdict_diagnostic("passes"), gradient], context)
    assert "Found 1 problem in 1 file checked." in both
    failing = render_text([verdict_diagnostic("plateau")], context)
    assert "Found 1 problem in 1 file checked." in failing


def test_the_cli_summary_agrees_with_the_exit_status():
    passed = CliRunner().invoke(main, ["trace", str(RUNTIME / "overfit" / "healthy_mlp.py"),
                                       "--overfit", "80"], env={"NO_COLOR": "1"})
    assert passed.exit_code == 0, passed.output
    assert "All checks passed!" in passed.output and "Found 1 problem" not in passed.output


# ---- the JSON report -----------------------------------------------------------------------------

README = (REPO / "README.md").read_text(encoding="utf-8")


def documented_fields() -> set[str]:
    """The field names of the README's dllint-trace/2 table."""
    section = README[README.index("### JSON report: `dllint-trace/2`"):]
    section = section[:section.index("\n#")]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def test_the_readme_documents_every_field_of_the_schema():
    assert documented_fields() == set(SCHEMA["properties"])
    # Every field is always there, but for the distributed run's own section.
    assert set(SCHEMA["required"]) == set(SCHEMA["properties"]) - {"distributed"}


def test_a_constructed_report_validates_and_non_finite_numbers_stay_strict_json():
    values = [1.0, 0.5] + [math.inf] * 5
    report = make_report(records=convnext_records(),
                         curves=[Curve("Adam #1", values, judge(values), ("net",))],
                         norms={"net.head.weight": math.nan}, no_gradient=["net.stem.weight"],
                         findings=[verdict_diagnostic("exploding")],
                         initial_loss_value=1.0, chance=("ln(10)", math.log(10)),
                         first_step_changed=False)
    data = trace_to_dict(report, report.diagnostics)
    jsonschema.validate(data, SCHEMA)
    assert data["memory"] is None  # no step was recorded
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["losses"][0]["values"][-1] == "Infinity"
    assert data["gradient_norms"] == {"net.head.weight": "NaN"}
    assert len(data["modules"]) == len(convnext_records())  # nothing folded
    assert [module["depth"] for module in data["modules"]][:3] == [0, 1, 1]
    assert data["modules"][0]["parameters"] == 0 and "parameter_bytes" in data["modules"][0]
    assert data["initial_loss"] == {"value": 1.0, "chance_label": "ln(10)",
                                    "chance": math.log(10)}
    assert data["losses"][0]["verdict"]["kind"] == "exploding"


def test_cli_trace_json_is_the_whole_report(tmp_path, monkeypatch):
    monkeypatch.delenv("DLLINT_FORMAT", raising=False)
    output = tmp_path / "trace.json"
    result = CliRunner().invoke(main, ["trace", str(RUNTIME / "rt006_detached_branch.py"),
                                       "--steps", "2", "--format", "json", "-o", str(output)])
    assert result.exit_code == 1, result.output
    data = json.loads(output.read_text())
    jsonschema.validate(data, SCHEMA)
    assert data["schema"] == SCHEMA_VERSION and set(SCHEMA["required"]) <= set(data)
    assert "distributed" not in data  # one process
    assert isinstance(data["complete"], bool) and data["complete"] is True
    assert data["steps"] >= 2 and data["device"] == "cpu"
    kinds = {module["type"] for module in data["modules"]}
    assert {"Linear", "ReLU", "Sequential"} <= kinds
    assert data["no_gradient"] and all(isinstance(name, str) for name in data["no_gradient"])
    assert all(isinstance(norm, float) for norm in data["gradient_norms"].values())
    assert [item["code"] for item in data["diagnostics"]] == ["RT006"]
    assert data["weights_changed"] in (True, False, None)
    memory = data["memory"]  # dllint-trace/2
    assert memory["device"] == "cpu" and memory["measured"] is False
    # A model this small peaks when Adam creates its state (two moments per parameter), not in
    # its forward or backward: every phase is a possible peak, and it must be one of them.
    assert memory["batch_size"] == 16 and memory["peak_phase"] in ("forward", "backward",
                                                                   "optimizer")
    assert {module["name"] for module in memory["modules"]} == \
        {module["name"] for module in data["modules"]}
    assert memory["parameter_bytes"] == data["modules"][0]["parameter_bytes"]
    assert list(memory["optimizers"]) == [loss["optimizer"] for loss in data["losses"]]
    for loss in data["losses"]:
        assert loss["optimizer"] and all(isinstance(value, float) for value in loss["values"])
