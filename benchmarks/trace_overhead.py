"""Overhead of `dllint trace`: one traced training step against a plain one, on CPU or CUDA.

    python benchmarks/trace_overhead.py [--steps 30] [--threads 1] [--device cuda]
        [--models cnn,transformer,resnet] [--clock process]

Time: median wall time per step over --steps steps (after 3 warm-up steps), plain and traced
(every instrument installed, as `dllint trace` runs them), and the median of first traced steps
(fresh instruments installed and removed around each one), which carry the one-off checks
(module table, gradient flow, weight change). Memory: each configuration runs in a
fresh subprocess, and the figure is the growth of peak RSS (ru_maxrss) over the RSS measured after
imports and model construction: on CPU, torch exposes no allocator peak of its own.
With --clock process (CPU, one thread) each step is timed by the CPU time the process used
rather than the wall clock: on a machine shared with other work, the wall clock mostly measures
the waits for a core. Targets: traced/plain <= 1.5 for time and <= 1.3 for memory. On CUDA each step is timed to
a `torch.cuda.synchronize()`, and memory is the allocator's peak (max_memory_allocated). Models:
a small CNN, a small transformer, and "resnet": a hand-written ResNet-50-like network
(bottleneck blocks 3-4-6-3, about 170 modules) to show that the cost does not grow with the
number of modules the way a host read per module would.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def _resnet(nn):
    class Bottleneck(nn.Module):
        def __init__(self, inputs, width, stride):
            super().__init__()
            outputs = width * 4
            self.conv1, self.bn1 = nn.Conv2d(inputs, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, outputs, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(outputs)
            self.relu = nn.ReLU(inplace=True)
            self.shortcut = nn.Sequential() if stride == 1 and inputs == outputs else \
                nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False),
                              nn.BatchNorm2d(outputs))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + self.shortcut(x))

    layers, inputs = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.MaxPool2d(3, 2, 1)], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for index in range(blocks):
            layers.append(Bottleneck(inputs, width, stride if index == 0 else 1))
            inputs = width * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inputs, 100))


def build(kind: str, device: str = "cpu"):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "resnet":
        model = _resnet(nn)
        batch = 64 if device == "cuda" else 4
        inputs, targets = torch.randn(batch, 3, 224 if device == "cuda" else 64,
                                      224 if device == "cuda" else 64), \
            torch.randint(0, 100, (batch,))
    elif kind == "cnn":
        model = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, 10))
        inputs, targets = torch.randn(32, 3, 64, 64), torch.randint(0, 10, (32,))
    else:
        class TinyTransformer(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(1000, 128)
                layer = nn.TransformerEncoderLayer(128, 4, 256, dropout=0.1, batch_first=True)
                self.encoder = nn.TransformerEncoder(layer, 2)
                self.head = nn.Linear(128, 10)

            def forward(self, tokens):
                return self.head(self.encoder(self.embed(tokens)).mean(dim=1))

        model = TinyTransformer()
        inputs, targets = torch.randint(0, 1000, (32, 64)), torch.randint(0, 10, (32,))
    model, inputs, targets = model.to(device), inputs.to(device), targets.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def measure(kind: str, traced: bool, steps: int, threads: int, device: str,
            clock=time.perf_counter) -> dict:
    """Runs in a subprocess: time per step and peak RSS growth (CUDA: allocator peak)."""
    import torch

    torch.set_num_threads(threads)
    step = build(kind, device)
    for _ in range(3):
        step()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if device == "cpu" else \
        torch.cuda.memory_allocated() // 1024
    times, first_times = [], []
    if traced:
        from dllint.runtime.instruments import Instruments
        for _ in range(steps):  # every measured step is a first traced step: fresh instruments
            started = clock()
            with Instruments(steps=10**9):
                step()
            first_times.append(clock() - started)
        instruments = Instruments(steps=10**9)
        instruments.__enter__()
    try:
        for _ in range(steps):
            started = clock()
            step()
            times.append(clock() - started)
    finally:
        if traced:
            instruments.__exit__(None, None, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if device == "cpu" else \
        torch.cuda.max_memory_allocated() // 1024
    return {"median_s": statistics.median(times),
            "first_s": statistics.median(first_times) if first_times else 0.0,
            "peak_growth_kb": max(peak - baseline, 1), "peak_kb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--models", default="cnn,transformer,resnet")
    parser.add_argument("--clock", choices=["wall", "process"], default="wall")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        kind, traced = options.child
        clock = time.process_time if options.clock == "process" else time.perf_counter
        print(json.dumps(measure(kind, traced == "traced", options.steps, options.threads,
                                 options.device, clock)))
        return
    print(f"python {sys.version.split()[0]}, {options.steps} steps, {options.threads} thread(s), "
          f"{options.device}, {options.clock} clock")
    for kind in options.models.split(","):
        results = {}
        for mode in ("plain", "traced"):
            output = subprocess.run(
                [sys.executable, __file__, "--child", kind, mode, "--steps", str(options.steps),
                 "--threads", str(options.threads), "--device", options.device,
                 "--clock", options.clock],
                capture_output=True, text=True, check=True)
            results[mode] = json.loads(output.stdout.strip().splitlines()[-1])
        plain, traced = results["plain"], results["traced"]
        print(f"{kind:<12} step plain {plain['median_s'] * 1000:8.2f} ms  traced "
              f"{traced['median_s'] * 1000:8.2f} ms  ratio {traced['median_s'] / plain['median_s']:.2f}"
              f"  (first traced step, median {traced['first_s'] * 1000:.2f} ms, ratio "
              f"{traced['first_s'] / plain['median_s']:.2f})"
              f"   peak {'RSS' if options.device == 'cpu' else 'CUDA'} growth plain {plain['peak_growth_kb'] / 1024:7.1f} MiB  traced "
              f"{traced['peak_growth_kb'] / 1024:7.1f} MiB  (total peak ratio "
              f"{traced['peak_kb'] / plain['peak_kb']:.2f})")


if __name__ == "__main__":
    main()
