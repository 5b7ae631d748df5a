"""Overhead of `dllint trace`: one traced training step against a plain one, on CPU.

    python benchmarks/trace_overhead.py [--steps 30] [--threads 1]

Time: median wall time per step over --steps steps (after 3 warm-up steps), plain and traced
(every instrument installed, as `dllint trace` runs them), and the median of first traced steps
(fresh instruments installed and removed around each one), which carry the one-off checks
(module table, gradient flow, weight change). Memory: each configuration runs in a
fresh subprocess, and the figure is the growth of peak RSS (ru_maxrss) over the RSS measured after
imports and model construction: on CPU, torch exposes no allocator peak of its own.
Targets: traced/plain <= 1.5 for time and <= 1.3 for memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def build(kind: str):
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "cnn":
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
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()

    return step


def measure(kind: str, traced: bool, steps: int, threads: int) -> dict:
    """Runs in a subprocess: time per step and peak RSS growth."""
    import torch

    torch.set_num_threads(threads)
    step = build(kind)
    for _ in range(3):
        step()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, first_times = [], []
    if traced:
        from dllint.runtime.instruments import Instruments
        for _ in range(steps):  # every measured step is a first traced step: fresh instruments
            started = time.perf_counter()
            with Instruments(steps=10**9):
                step()
            first_times.append(time.perf_counter() - started)
        instruments = Instruments(steps=10**9)
        instruments.__enter__()
    try:
        for _ in range(steps):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
    finally:
        if traced:
            instruments.__exit__(None, None, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"median_s": statistics.median(times),
            "first_s": statistics.median(first_times) if first_times else 0.0,
            "peak_growth_kb": max(peak - baseline, 1), "peak_kb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        kind, traced = options.child
        print(json.dumps(measure(kind, traced == "traced", options.steps, options.threads)))
        return
    print(f"python {sys.version.split()[0]}, {options.steps} steps, {options.threads} thread(s)")
    for kind in ("cnn", "transformer"):
        results = {}
        for mode in ("plain", "traced"):
            output = subprocess.run(
                [sys.executable, __file__, "--child", kind, mode, "--steps", str(options.steps),
                 "--threads", str(options.threads)], capture_output=True, text=True, check=True)
            results[mode] = json.loads(output.stdout.strip().splitlines()[-1])
        plain, traced = results["plain"], results["traced"]
        print(f"{kind:<12} step plain {plain['median_s'] * 1000:8.2f} ms  traced "
              f"{traced['median_s'] * 1000:8.2f} ms  ratio {traced['median_s'] / plain['median_s']:.2f}"
              f"  (first traced step, median {traced['first_s'] * 1000:.2f} ms, ratio "
              f"{traced['first_s'] / plain['median_s']:.2f})"
              f"   peak RSS growth plain {plain['peak_growth_kb'] / 1024:7.1f} MiB  traced "
              f"{traced['peak_growth_kb'] / 1024:7.1f} MiB  (total peak ratio "
              f"{traced['peak_kb'] / plain['peak_kb']:.2f})")


if __name__ == "__main__":
    main()
