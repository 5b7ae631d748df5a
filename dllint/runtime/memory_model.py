"""What a traced training step's memory is made of (issue 27), as plain data.

The memory recorder fills a `StepMemory` for the first training step; the report, the JSON
report, the growth check and the budget advice read it. Sizes are bytes. This module imports
nothing from torch, so the advice and the size parser can be tested and used without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PHASES = ("forward", "backward", "optimizer")


@dataclass(frozen=True)
class ModuleMemory:
    """One module of a traced model. `activation_bytes` is what autograd saved for backward
    while this module was the innermost one running (its own children count apart), so the
    rows of a model add up to the step's saved activations without double counting."""
    name: str
    type_name: str
    parameter_bytes: int = 0
    gradient_bytes: int = 0
    activation_bytes: int = 0


@dataclass(frozen=True)
class PhasePeaks:
    """The highest memory in use during each phase of one step (parameters included).
    `source` says where the figures come from: `allocator`, the CUDA allocator's own peaks
    (max_memory_allocated, reset between phases; `measured` is then True); `live`, the
    dispatch-level count of the bytes torch operations allocated and had not freed, on top of
    what was resident when the step began (CPU: temporaries included); `tracked`, the tracked
    sums at the end of each phase (parameters, gradients, optimizer state and saved
    activations alive then), when neither could be read (a compiled model on CPU).
    `untracked`: with `live`, the bytes the step took from the C allocator outside torch's
    tensors and still held at a phase's end (a BLAS library's buffers made on first use; glibc
    only, counted from 1 MiB on). Not in the peaks: it is the process's, not the model's (a
    GPU would not hold it), but the process's own growth in the first step includes it."""
    forward: int = 0
    backward: int = 0
    optimizer: int = 0
    measured: bool = False
    source: str = "tracked"
    untracked: int = 0
    # The module running when the highest of the three was reached, "" when not known.
    peak_module: str = ""

    def phase_of_peak(self) -> str:
        return max(PHASES, key=lambda phase: getattr(self, phase))

    @property
    def peak(self) -> int:
        return max(self.forward, self.backward, self.optimizer)


@dataclass(frozen=True)
class StepMemory:
    """One training step's memory: per module, per optimizer (state after its first step), per
    phase. `batch_size` is the leading dimension of the step's input when one could be read.
    `other_activation_bytes`: what autograd saved outside every module of the models (a loss
    function, the script's own operations), which no module row holds.
    `batch_points`: (batch size, peak of forward and backward) as measured: the step's own
    and, when its model call could be replayed on half its batch (an isolated measurement
    whose gradients, buffers and random state are put back), that one too;
    `per_sample_from` says which ("two batch sizes", "one batch size", "" when none) and
    `per_sample_note` why there is only one."""
    device: str
    modules: tuple[ModuleMemory, ...] = ()
    optimizer_state_bytes: dict[str, int] = field(default_factory=dict)
    peaks: PhasePeaks = PhasePeaks()
    batch_size: int | None = None
    other_activation_bytes: int = 0
    batch_points: tuple[tuple[int, int], ...] = ()
    per_sample_from: str = ""
    per_sample_note: str = ""
    # Why the saved activations are only partly counted ("" when they are all): the script's
    # own saved_tensors_hooks, or activation checkpointing. The peaks still count every
    # allocation (live bytes, or the CUDA allocator).
    activations_partial: str = ""

    @property
    def saved_bytes(self) -> int:
        """Everything autograd saved for backward: the modules' activations and the rest."""
        return self.activation_bytes + self.other_activation_bytes

    @property
    def parameter_bytes(self) -> int:
        return sum(module.parameter_bytes for module in self.modules)

    @property
    def gradient_bytes(self) -> int:
        return sum(module.gradient_bytes for module in self.modules)

    @property
    def activation_bytes(self) -> int:
        return sum(module.activation_bytes for module in self.modules)

    @property
    def optimizer_bytes(self) -> int:
        return sum(self.optimizer_state_bytes.values())

    def top_activations(self, count: int = 5) -> list[tuple[ModuleMemory, float]]:
        """The modules that save the most for backward, each with its share of the total."""
        total = self.activation_bytes
        if total <= 0:
            return []
        ranked = sorted((module for module in self.modules if module.activation_bytes > 0),
                        key=lambda module: (-module.activation_bytes, module.name))
        return [(module, module.activation_bytes / total) for module in ranked[:count]]


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKMGTPE]i?B|B)?\s*$")
_UNITS = {"B": 1, "kB": 10 ** 3, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "TB": 10 ** 12,
          "PB": 10 ** 15, "EB": 10 ** 18, "KiB": 2 ** 10, "kiB": 2 ** 10, "MiB": 2 ** 20,
          "GiB": 2 ** 30, "TiB": 2 ** 40, "PiB": 2 ** 50, "EiB": 2 ** 60}
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_size(size: int | float) -> str:
    """Bytes in binary units, three significant digits, as `--memory-budget` reads them back:
    `1.5GiB`, `640KiB`, `12B`. The one way the trace report, the advice and the findings write
    a size."""
    value = float(size)
    for unit in BINARY_UNITS:
        if abs(value) < 1024 or unit == BINARY_UNITS[-1]:
            if unit == "B":
                return f"{int(value)}B"
            return f"{value:.3g}{unit}" if abs(value) < 1000 else f"{value:.0f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """`24GiB`, `16GB`, `512MiB`, `1.5GiB` or a plain number of bytes, as bytes (what
    `format_size` writes reads back). Raises ValueError with a message a user can act on."""
    match = _SIZE.match(text)
    if match is None or (match.group(2) or "B") not in _UNITS:
        raise ValueError(f"{text!r} is not a size; write it like 24GiB, 16GB or 512MiB")
    value = float(match.group(1)) * _UNITS[match.group(2) or "B"]
    if value <= 0:
        raise ValueError(f"{text!r}: a memory budget must be more than 0 bytes")
    return int(value)
