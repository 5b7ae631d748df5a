"""The memory data model: sizes users type, and the arithmetic the report and advice read."""

import re

import pytest

from dllint.runtime.memory_model import (ModuleMemory, PhasePeaks, StepMemory, format_size,
                                         parse_size)


@pytest.mark.parametrize("text, expected", [
    ("24GiB", 24 * 2 ** 30), ("16GB", 16 * 10 ** 9), ("512MiB", 512 * 2 ** 20),
    ("1.5GiB", int(1.5 * 2 ** 30)), ("1000", 1000), (" 2 kB ", 2000)])
def test_sizes_parse(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "24 GiBs", "-1GB", "0", "3XB"])
def test_bad_sizes_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="size|more than 0"):
        parse_size(text)


def test_totals_and_top_activations():
    step = StepMemory("cpu", modules=(
        ModuleMemory("encoder.0", "Linear", 400, 400, 100),
        ModuleMemory("encoder.1", "ReLU", 0, 0, 300),
        ModuleMemory("head", "Linear", 40, 40, 0)),
        optimizer_state_bytes={"Adam": 880}, peaks=PhasePeaks(500, 900, 1200))
    assert (step.parameter_bytes, step.gradient_bytes, step.activation_bytes) == (440, 440, 400)
    assert step.optimizer_bytes == 880
    assert [(m.name, share) for m, share in step.top_activations()] == [
        ("encoder.1", 0.75), ("encoder.0", 0.25)]
    assert step.peaks.peak == 1200 and step.peaks.phase_of_peak() == "optimizer"


@pytest.mark.parametrize("size", [0, 1, 1023, 1024, 1536, 999 * 2 ** 20, 5 * 2 ** 30 + 123,
                                  2 ** 40, 3 * 2 ** 52, 2 ** 62])
def test_a_written_size_reads_back_as_a_budget_in_binary_units(size):
    # One formatter for the trace report, the advice and the findings: binary units that
    # --memory-budget parses back, within the three significant digits written.
    text = format_size(size)
    assert re.fullmatch(r"\d+(\.\d+)?(B|KiB|MiB|GiB|TiB|PiB|EiB)", text), text
    if size:
        assert parse_size(text) == pytest.approx(size, rel=5e-3)
