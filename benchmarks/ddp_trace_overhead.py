"""Per-step overhead of tracing a 2-rank DDP run (`dllint trace --nproc 2`) against the same run
under plain torchrun.

    python benchmarks/ddp_trace_overhead.py [--steps 30] [--repeats 3] [--models mlp,cnn]
                                            [--device cpu|cuda]

The training script is this file itself (`--worker`): each rank writes the time at which each
step starts to a file, so both runs are timed by the same clock in the same place, end to end
(the tracer's hooks, its per-step checksums, the watchdog thread and the store included). The
first step, where the tracer runs its one-off checks, is quoted apart from the median of the
later steps. On CUDA, 2 ranks share the device when only one is present (nccl).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker(model_kind: str, steps: int, device_kind: str) -> None:
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.data.distributed import DistributedSampler

    use_cuda = device_kind == "cuda" and torch.cuda.is_available()
    dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device("cuda", rank % torch.cuda.device_count()) if use_cuda else \
        torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    if model_kind == "cnn":
        inputs = torch.randn(64 * (steps + 2), 3, 32, 32)
        model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    else:
        inputs = torch.randn(64 * (steps + 2), 256)
        model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                              nn.Linear(512, 10))
    dataset = TensorDataset(inputs, torch.randint(0, 10, (len(inputs),)))
    sampler = DistributedSampler(dataset)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    model = DistributedDataParallel(model.to(device), device_ids=[device.index] if use_cuda
                                    else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    timing = Path(os.environ["DDP_TIMING_DIR"]) / f"rank{rank}.txt"
    with timing.open("w") as out:
        sampler.set_epoch(0)
        for inputs, targets in loader:
            if use_cuda:
                torch.cuda.synchronize()
            out.write(f"{time.perf_counter()}\n")
            out.flush()
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs), targets).backward()
            optimizer.step()
    dist.destroy_process_group()


def _step_times(folder: str) -> tuple[float, float]:
    """(first step, median of the later steps) in ms, from rank 0's step start times."""
    starts = [float(line) for line in (Path(folder) / "rank0.txt").read_text().split()]
    steps = [(b - a) * 1e3 for a, b in zip(starts, starts[1:])]
    return steps[0], statistics.median(steps[1:])


def _run(command: list[str], folder: str) -> tuple[float, float]:
    environment = {**os.environ, "DDP_TIMING_DIR": folder}
    result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)
    if not (Path(folder) / "rank0.txt").exists():
        sys.exit(f"run failed: {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    return _step_times(folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    arguments = parser.parse_args()
    if arguments.worker:
        worker(arguments.model, arguments.steps, arguments.device)
        return
    script = str(Path(__file__).resolve())
    print(f"2-rank DDP, {arguments.steps} steps, {arguments.repeats} repeats, "
          f"device {arguments.device}; per-step ms (median of steps 2..N on rank 0)")
    print(f"{'model':6} {'plain':>9} {'traced':>9} {'ratio':>7} {'1st plain':>10} {'1st traced':>11}")
    for model in arguments.models.split(","):
        worker_args = ["--worker", "--model", model, "--steps", str(arguments.steps),
                       "--device", arguments.device]
        plain, traced = [], []
        for _ in range(arguments.repeats):
            with tempfile.TemporaryDirectory() as folder:
                plain.append(_run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                   "--nproc-per-node=2", script, *worker_args], folder))
            with tempfile.TemporaryDirectory() as folder:
                # The trace stops before step N + 1, so the script is given N + 1 batches.
                traced.append(_run([sys.executable, "-m", "dllint", "trace", "--nproc", "2",
                                    "--no-static", "--steps", str(arguments.steps),
                                    "--device", arguments.device, script, "--", *worker_args],
                                   folder))
        later_plain = statistics.median(p for _, p in plain)
        later_traced = statistics.median(t for _, t in traced)
        print(f"{model:6} {later_plain:9.2f} {later_traced:9.2f} {later_traced / later_plain:7.2f}x"
              f" {statistics.median(p for p, _ in plain):10.2f}"
              f" {statistics.median(t for t, _ in traced):11.2f}")
        print(json.dumps({"model": model, "plain_ms": plain, "traced_ms": traced}))


if __name__ == "__main__":
    main()
