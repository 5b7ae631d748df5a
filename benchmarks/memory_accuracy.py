"""How well `dllint trace` accounts for a training step's memory (issue 27), on five real models
built from configs: a transformers GPT-2 and ViT, a diffusers UNet, a ResNet-like CNN and an LSTM.

    python benchmarks/memory_accuracy.py [--models gpt2,vit,unet,resnet,lstm] [--batch 16]
        [--repeats 3] [--no-bisect]

For each model a small training script is written to a temporary folder and run twice, each time
in a fresh subprocess with one thread:

- plain, with a probe around the first training step: a thread that samples, every half
  millisecond, the process's resident set (/proc/self/statm) and the bytes glibc's allocator
  has handed out and not taken back (`mallinfo2`: `malloc`); the step's measured growth is the
  highest value seen during the step minus the value just before it;
- under `dllint trace --format json --steps 1`, whose `memory` object gives the predicted growth
  of the step: its peak above the parameters (on CPU the live tensor bytes, counted at the
  dispatcher) plus what the step took from the allocator outside tensors (`untracked_bytes`).

The error of the prediction is (predicted - measured) / measured, medians over --repeats runs,
against both references. `malloc` is what the allocator really handed out (the CPU's analog of
CUDA's `max_memory_allocated`); the RSS also holds the blocks glibc keeps after they are freed
(after the first free of a large block glibc serves the following ones from its heap, which it
does not give back while anything above them lives), so it varies from run to run and is the
rougher reference. A sampling thread can miss a peak shorter than its period.

Batch estimate: RT017 judges every step, and the steps after the first carry the optimizer's
state through forward and backward, so the reference is the second step. With a budget of the
parameters, the optimizer's state and half the second step's measured growth at --batch (so the
step at --batch does not fit and RT017 gives its estimate), the largest batch that fits is found
by bisection over plain runs between 1 and --batch (fits: parameters + state + the second
step's growth, by --reference, at most the budget), and compared with
`memory.advice.largest_batch` of one traced run at --batch with `--memory-budget` (the ratio
estimate / real; 1.0 is exact).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = r'''
import ctypes as _ctypes, os as _os, threading as _threading, time as _time

class _MallInfo2(_ctypes.Structure):
    _fields_ = [(_name, _ctypes.c_size_t) for _name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

try:
    _mallinfo2 = _ctypes.CDLL("libc.so.6").mallinfo2
    _mallinfo2.restype = _MallInfo2
except (OSError, AttributeError):
    _mallinfo2 = None

class _RssProbe:
    """The highest resident set size seen while a step runs, above the size before it; and the
    same for the bytes glibc's allocator has handed out and not taken back (mallinfo2)."""
    def __init__(self):
        self.page = _os.sysconf("SC_PAGE_SIZE")
        self.stop_flag = _threading.Event()
    def rss(self):
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self.page
    def in_use(self):
        if _mallinfo2 is None:
            return 0
        info = _mallinfo2()
        return info.uordblks + info.hblkhd
    def sample(self):
        while not self.stop_flag.is_set():
            self.peak = max(self.peak, self.rss())
            self.used_peak = max(self.used_peak, self.in_use())
            _time.sleep(0.0005)
    def __enter__(self):
        self.before = self.peak = self.rss()
        self.used_before = self.used_peak = self.in_use()
        self.thread = _threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self
    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join()
        self.peak = max(self.peak, self.rss())
        self.used_peak = max(self.used_peak, self.in_use())
        print("BENCH_RSS " + str(self.peak - self.before), flush=True)
        print("BENCH_MALLOC " + str(self.used_peak - self.used_before), flush=True)
'''

HEAD = '''
import os
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
BATCH = int(os.environ.get("BENCH_BATCH", "8"))
'''

LOOP = '''
parameters = sum(p.numel() * p.element_size() for p in model.parameters())
print("BENCH_PARAMS " + str(parameters), flush=True)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
model.train()
data = make_batch()

def train_step():
    optimizer.zero_grad()
    loss = loss_of(data)
    loss.backward()
    optimizer.step()

# BENCH_STEP=2: the step after the first, with the optimizer's state alive, is the one probed.
for number in range(1, int(os.environ.get("BENCH_STEP", "1")) + 1):
    if os.environ.get("BENCH_RSS") and number == int(os.environ.get("BENCH_STEP", "1")):
        state = sum(value.numel() * value.element_size() for entry in optimizer.state.values()
                    for value in entry.values() if torch.is_tensor(value))
        print("BENCH_STATE " + str(state), flush=True)
        # The gradients of the step before are still held when the step begins.
        held = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters()
                   if p.grad is not None)
        print("BENCH_HELD " + str(held), flush=True)
        with _RssProbe():
            train_step()
    else:
        train_step()
'''

MODELS = {
    "gpt2": '''
from transformers import GPT2Config, GPT2LMHeadModel
model = GPT2LMHeadModel(GPT2Config(n_layer=4, n_embd=256, n_head=4, vocab_size=8000,
                                   n_positions=256))
def make_batch():
    return torch.randint(0, 8000, (BATCH, 128))
def loss_of(ids):
    return model(input_ids=ids, labels=ids).loss
''',
    "vit": '''
from transformers import ViTConfig, ViTForImageClassification
model = ViTForImageClassification(ViTConfig(
    image_size=64, patch_size=8, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
    intermediate_size=512, num_labels=10))
def make_batch():
    return torch.rand(BATCH, 3, 64, 64), torch.randint(0, 10, (BATCH,))
def loss_of(data):
    pixels, labels = data
    return model(pixel_values=(pixels - 0.5) / 0.5, labels=labels).loss
''',
    "unet": '''
from diffusers import UNet2DModel
model = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, layers_per_block=1,
                    block_out_channels=(32, 64, 64),
                    down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                    up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
def make_batch():
    return torch.rand(BATCH, 3, 32, 32) * 2 - 1
def loss_of(images):
    noise = torch.randn_like(images)
    steps = torch.randint(0, 1000, (images.shape[0],))
    noisy = images * 0.7 + noise * 0.7
    return F.mse_loss(model(noisy, steps).sample, noise)
''',
    "resnet": '''
class Block(nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Sequential() if stride == 1 and inputs == outputs else nn.Sequential(
            nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))
    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

class ResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU())
        blocks, inputs = [], 64
        for outputs, stride in ((64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1)):
            blocks.append(Block(inputs, outputs, stride))
            inputs = outputs
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(inputs, classes)
    def forward(self, x):
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))

model = ResNet()
def make_batch():
    return torch.rand(BATCH, 3, 32, 32), torch.randint(0, 10, (BATCH,))
def loss_of(data):
    images, labels = data
    return F.cross_entropy(model((images - 0.5) / 0.25), labels)
''',
    "lstm": '''
class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5000, 256)
        self.lstm = nn.LSTM(256, 512, num_layers=2, batch_first=True)
        self.head = nn.Linear(512, 20)
    def forward(self, tokens):
        return self.head(self.lstm(self.embed(tokens))[0])

model = Tagger()
def make_batch():
    return torch.randint(0, 5000, (BATCH, 64)), torch.randint(0, 20, (BATCH, 64))
def loss_of(data):
    tokens, tags = data
    return F.cross_entropy(model(tokens).flatten(0, 1), tags.flatten())
''',
}


def write_script(folder: Path, name: str) -> Path:
    path = folder / f"memory_{name}.py"
    path.write_text(PROBE + HEAD + MODELS[name] + LOOP)
    return path


def _environment(batch: int, probe: bool, step: int = 1) -> dict[str, str]:
    environment = dict(os.environ, BENCH_BATCH=str(batch), OMP_NUM_THREADS="1",
                       TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", BENCH_STEP=str(step))
    if probe:
        environment["BENCH_RSS"] = "1"
    return environment


def plain_run(script: Path, batch: int, step: int = 1) -> tuple[int, dict[str, int]]:
    """(parameter bytes, the measured growth of training step `step` by reference: `rss` and,
    on glibc, `malloc`; and `state`, the optimizer's state and the gradients held before it)
    of one plain run."""
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=_environment(batch, True, step), timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"{script.name} at batch {batch} failed:\n{result.stderr[-2000:]}")
    figures = dict(line.split() for line in result.stdout.splitlines()
                   if line.startswith("BENCH_"))
    growth = {"rss": int(figures["BENCH_RSS"]), "malloc": int(figures["BENCH_MALLOC"]),
              "state": int(figures["BENCH_STATE"]) + int(figures["BENCH_HELD"])}
    return int(figures["BENCH_PARAMS"]), growth


def traced_run(script: Path, batch: int, budget: int | None = None) -> dict:
    """The `memory` object of a `dllint trace --format json` run."""
    command = [sys.executable, "-m", "dllint", "trace", "--format", "json", "--steps", "1",
               str(script)]
    if budget is not None:
        command[4:4] = ["--memory-budget", str(budget)]
    result = subprocess.run(command, capture_output=True, text=True,
                            env=_environment(batch, probe=False), timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise RuntimeError(f"dllint trace {script.name} gave no JSON (exit "
                           f"{result.returncode}):\n{result.stderr[-2000:]}") from error
    return report["memory"]


def predicted_growth(memory: dict) -> int:
    """The tracer's figure for the process's growth in the first step: its peak above the
    parameters, which were there before the step began, plus what it saw the step take from
    the C allocator outside tensors (`untracked_bytes`: a BLAS library's buffers on first use,
    which are the process's and not in the model's peaks)."""
    return max(memory["peaks"].values()) - memory["parameter_bytes"] + \
        memory.get("untracked_bytes", 0)


def estimated_largest_batch(memory: dict) -> int | None:
    advice = memory.get("advice") or {}
    value = advice.get("largest_batch")
    return int(value) if value is not None else None


def largest_batch_that_fits(script: Path, budget: int, start: int, reference: str) -> int:
    """Bisection over plain runs between 1 and `start` (which does not fit): the largest batch
    whose second step fits the budget (parameters, the optimizer's state made by the first step,
    and the step's growth by `reference`), as RT017 judges every step after the first; 0 when
    not even one sample fits."""
    def fits(batch: int) -> bool:
        parameters, growth = plain_run(script, batch, step=2)
        return parameters + growth["state"] + growth[reference] <= budget

    low, high = 0, start
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-bisect", action="store_true")
    parser.add_argument("--reference", choices=("malloc", "rss"), default="malloc",
                        help="what the bisection's 'fits' reads: the allocator's bytes in use "
                             "(default) or the resident set")
    options = parser.parse_args()
    names = [name for name in options.models.split(",") if name]
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    errors: dict[str, list[float]] = {"malloc": [], "rss": []}
    ratios, sources = [], set()
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'model':8} {'params':>9} {'malloc':>9} {'RSS':>9} {'predicted':>10} "
              f"{'error':>6} {'vs RSS':>7} {'real batch':>10} {'estimate':>8} {'ratio':>6}")
        for name in names:
            script = write_script(Path(folder), name)
            runs = [plain_run(script, options.batch) for _ in range(options.repeats)]
            parameters = runs[0][0]
            measured = {reference: statistics.median(growth[reference] for _, growth in runs)
                        for reference in errors}
            traced = [traced_run(script, options.batch) for _ in range(options.repeats)]
            sources.update(memory.get("per_sample_from") or "?" for memory in traced)
            predicted = statistics.median(predicted_growth(memory) for memory in traced)
            error = {reference: (predicted - value) / value if value else float("nan")
                     for reference, value in measured.items()}
            for reference, value in error.items():
                errors[reference].append(abs(value))
            line = (f"{name:8} {parameters / 1e6:8.1f}M {measured['malloc'] / 1e6:8.1f}M "
                    f"{measured['rss'] / 1e6:8.1f}M {predicted / 1e6:9.1f}M "
                    f"{error['malloc']:+6.0%} {error['rss']:+7.0%}")
            if not options.no_bisect:
                # Half the second step's growth over what it holds before it: the step at
                # --batch does not fit.
                _, second = plain_run(script, options.batch, step=2)
                budget = int(parameters + second["state"] + second[options.reference] / 2)
                real = largest_batch_that_fits(script, budget, options.batch, options.reference)
                estimate = estimated_largest_batch(traced_run(script, options.batch, budget))
                ratio = estimate / real if estimate is not None and real else float("nan")
                ratios.append(ratio)
                line += f" {real:10d} {estimate if estimate is not None else '-':>8} {ratio:6.2f}"
            print(line, flush=True)
    print(f"median |error| of the predicted step growth: against the allocator's bytes in use "
          f"{statistics.median(errors['malloc']):.0%}, against the RSS "
          f"{statistics.median(errors['rss']):.0%}")
    if ratios:
        kept = [ratio for ratio in ratios if ratio == ratio]
        print(f"median estimate/real largest batch ({options.reference}): "
              f"{statistics.median(kept):.2f} over {len(kept)} models where one sample fits"
              if kept else "no model fits one sample")
    print(f"per-sample memory from: {', '.join(sorted(sources))}")


if __name__ == "__main__":
    main()
