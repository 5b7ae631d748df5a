"""Issue 27: the largest batch that fits a memory budget, as RT017 estimates it, against the real
largest batch found by bisection, on five real models built from configs (transformers GPT-2
and ViT, a diffusers UNet, a ResNet-like CNN, an LSTM). CPU only; prints one row per model and
the ratios (estimate / real).

The memory of a training step at batch size b is measured as the tracer measures it: the
highest live tensor bytes of forward and backward (`memory.LiveBytes`, the dispatch-level count
of every allocation not yet freed) on top of the parameters, plus Adam's state, which is alive
in every forward and backward after the first step. The budget of each model is its step at
batch 48. The real largest batch is the largest b whose step fits (bisection between 48 and
144); the estimates are `memory_advice.measured_largest_batch` from one measured batch (16, the
fallback when a step cannot be halved) and from two (8 and 16: the tracer's half-batch replay).

    python benchmarks/memory_batch_estimate.py
"""

from __future__ import annotations

import statistics
import sys
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from dllint.runtime.memory import LiveBytes  # noqa: E402
from dllint.runtime.memory_advice import format_size, measured_largest_batch  # noqa: E402
from dllint.runtime.memory_model import ModuleMemory, PhasePeaks, StepMemory  # noqa: E402

BUDGET_BATCH = 48
ONE_POINT, TWO_POINTS = (16,), (8, 16)


def _bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def measure(build: Callable[[], nn.Module], batch: Callable[[int], tuple], loss_of,
            size: int) -> tuple[int, int, int, int]:
    """(parameter bytes, Adam state bytes, peak live bytes of forward and backward, of the
    optimizer step) of one Adam training step at batch `size`."""
    torch.manual_seed(0)
    model = build()
    optimizer = torch.optim.Adam(model.parameters())
    inputs = batch(size)
    live = LiveBytes()
    live.start()
    try:
        loss = loss_of(model, *inputs)
        loss.backward()
        del loss
        forward_backward = live.take_peak()
        optimizer.step()
        step = live.take_peak()
    finally:
        live.stop()
    state = sum(_bytes(value) for entry in optimizer.state.values() for value in entry.values()
                if isinstance(value, torch.Tensor))
    parameters = sum(_bytes(p) for p in model.parameters())
    return parameters, state, forward_backward, step


def step_memory(points: dict[int, tuple[int, int, int, int]]) -> StepMemory:
    """What the tracer records of the step at the sizes in `points`."""
    size = max(points)
    parameters, state, _, step = points[size]
    return StepMemory("cpu", (ModuleMemory("model", "Model", parameters),), {"Adam": state},
                      PhasePeaks(optimizer=parameters + step, source="live"), size,
                      batch_points=tuple((b, parameters + points[b][2]) for b in sorted(points)))


def models() -> dict[str, tuple]:
    from diffusers import UNet2DModel
    from transformers import GPT2Config, GPT2LMHeadModel, ViTConfig, ViTForImageClassification

    def gpt2():
        return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000,
                                          n_positions=64, bos_token_id=0, eos_token_id=0))

    def vit():
        return ViTForImageClassification(ViTConfig(image_size=32, patch_size=4, hidden_size=128,
                                                   num_hidden_layers=2, num_attention_heads=4,
                                                   intermediate_size=256, num_labels=10))

    def unet():
        return UNet2DModel(sample_size=32, in_channels=3, out_channels=3, layers_per_block=1,
                           block_out_channels=(32, 64), norm_num_groups=8,
                           down_block_types=("DownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "UpBlock2D"))

    def resnet():
        def block(channels):
            return nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1),
                                 nn.BatchNorm2d(channels), nn.ReLU(),
                                 nn.Conv2d(channels, channels, 3, padding=1),
                                 nn.BatchNorm2d(channels))

        class ResNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Conv2d(3, 32, 3, padding=1)
                self.blocks = nn.ModuleList(block(32) for _ in range(3))
                self.head = nn.Linear(32, 10)

            def forward(self, x):
                x = self.stem(x)
                for layer in self.blocks:
                    x = torch.relu(x + layer(x))
                return self.head(x.mean(dim=(2, 3)))
        return ResNet()

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(1000, 64)
            self.lstm = nn.LSTM(64, 128, num_layers=2, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, tokens):
            return self.head(self.lstm(self.embed(tokens))[0])

    tokens = lambda b: (torch.randint(0, 1000, (b, 64)),)  # noqa: E731
    images = lambda b: (torch.randn(b, 3, 32, 32), torch.randint(0, 10, (b,)))  # noqa: E731
    return {
        "GPT-2 (transformers)": (gpt2, tokens,
                                 lambda m, t: m(input_ids=t, labels=t).loss),
        "ViT (transformers)": (vit, images, lambda m, x, y: m(pixel_values=x, labels=y).loss),
        "UNet2D (diffusers)": (unet, lambda b: (torch.randn(b, 3, 32, 32),),
                               lambda m, x: m(x, 10).sample.pow(2).mean()),
        "ResNet-like CNN": (resnet, images,
                            lambda m, x, y: nn.functional.cross_entropy(m(x), y)),
        "LSTM tagger": (Tagger, lambda b: (torch.randint(0, 1000, (b, 32)),
                                           torch.randint(0, 10, (b, 32))),
                        lambda m, t, y: nn.functional.cross_entropy(m(t).flatten(0, 1),
                                                                    y.flatten())),
    }


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    ratios_one, ratios_two = [], []
    print(f"{'model':22} {'budget':>10} {'real':>5} {'1 point':>8} {'ratio':>6} "
          f"{'2 points':>9} {'ratio':>6}")
    for name, (build, batch, loss_of) in models().items():
        cache: dict[int, tuple[int, int, int, int]] = {}

        def measured(size: int) -> tuple[int, int, int, int]:
            if size not in cache:
                cache[size] = measure(build, batch, loss_of, size)
            return cache[size]

        def peak(size: int) -> int:
            """The step's peak from the second step on (Adam's state alive throughout)."""
            parameters, state, forward_backward, step = measured(size)
            return max(parameters + state + forward_backward, parameters + step)

        budget = peak(BUDGET_BATCH)
        # The largest b with peak(b) <= budget, by bisection: at least BUDGET_BATCH by
        # construction, and below 3 * BUDGET_BATCH (checked).
        low, high = BUDGET_BATCH, 3 * BUDGET_BATCH
        assert peak(high) > budget, name
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if peak(middle) <= budget else (low, middle - 1)
        real = low
        one = measured_largest_batch(step_memory({b: measured(b) for b in ONE_POINT}), budget)
        two = measured_largest_batch(step_memory({b: measured(b) for b in TWO_POINTS}), budget)
        ratios_one.append(one / real)
        ratios_two.append(two / real)
        print(f"{name:22} {format_size(budget):>10} {real:>5} {one:>8} {one / real:>6.3f} "
              f"{two:>9} {two / real:>6.3f}", flush=True)
    print(f"median ratio estimate/real: one point {statistics.median(ratios_one):.3f} "
          f"(min {min(ratios_one):.3f}, max {max(ratios_one):.3f}); two points "
          f"{statistics.median(ratios_two):.3f} (min {min(ratios_two):.3f}, "
          f"max {max(ratios_two):.3f})")


if __name__ == "__main__":
    main()
