"""The runtime checks, documented like rules (`dllint explain RT003`). Thresholds are here."""

from __future__ import annotations

from dllint.engine_codes import EngineCode
from dllint.types import Severity

# A value is "non-finite" if it holds inf or NaN. Probabilities: rows non-negative summing to 1
# within ROW_SUM_TOLERANCE. Initial loss: suspicious when above CHANCE_FACTOR * ln(C) + 1.
ROW_SUM_TOLERANCE = 1e-3
CHANCE_FACTOR = 3.0
# Input scale: max <= 1/255 (+ slack) looks scaled twice; min >= 0 and max > 2 looks like 0-255.
TWICE_SCALED_MAX = 1.5 / 255
UNSCALED_MAX = 2.0
FAR_FROM_NORMALIZED = 20.0  # |mean| or std beyond this is far from any normalization
# Gradients: a layer's norm below VANISHING or above EXPLODING is reported.
VANISHING_GRADIENT = 1e-7
EXPLODING_GRADIENT = 1e3


def _as_code(text: str) -> str:
    """Plain code gets its fence; text that already has fenced code (prose around it) is kept."""
    return text if "```" in text else f"```python\n{text}```"


def _code(code: str, name: str, summary: str, what: str, why: str,
          severity: Severity = Severity.ERROR, example: str = "",
          use_instead: str = "") -> EngineCode:
    doc = f"## What it does\n{what}\n\n## Why is this bad?\n{why}"
    if example:
        doc += f"\n\n## Example\n{_as_code(example)}"
    if use_instead:
        doc += f"\n\n## Use instead\n{_as_code(use_instead)}"
    return EngineCode(code, name, summary, severity, doc)


NON_FINITE = _code(
    "RT001", "first-non-finite", "The first operation whose output is inf or NaN",
    "When a step's loss becomes inf or NaN, reports its cause: the first operation of that step "
    "(and its module and source line) whose output is non-finite while its inputs were finite, "
    "else the first non-finite module output or input, else the loss itself; also non-finite "
    "gradients. Operations checked: log, exp, division, sqrt, pow, reciprocal and softmax-like "
    "ops, every module output, the loss and the gradients. A non-finite value that never reaches "
    "the loss is no finding (T5's `log(0)` discarded by `torch.where`, logits masked with -inf "
    "under a finite cross-entropy).",
    "One NaN spreads to every weight in a single step; the loss curve then shows only `nan`, far "
    "from the `log(0)` or division by zero that caused it.")
BROADCAST = _code(
    "RT002", "silent-broadcast", "Elementwise op or loss broadcasts (N, 1) against (N,)",
    "Reports an elementwise operation in the training loop between two different tensors of "
    "the same size N and of different ranks, whose result has N² elements ((N, 1) - (N,) gives "
    "(N, N): the (N,) one was promoted to (1, N) silently) and reaches the loss that is "
    "backpropagated; and a loss whose input and target hold the same number of elements in "
    "different shapes. Outer broadcasts written on purpose stay silent: operands of different "
    "sizes (prototype distances `q[:, None] - p[None]`), the same rank on both sides (grids "
    "`(1, K) - (N, 1)`, pairwise differences `s[:, None] - s[None]`), a tensor against its own "
    "view (`s[:, None] - s`), and results that never reach the loss.",
    "The loss averages N² pairwise differences instead of N; the model learns to predict the "
    "mean. Nothing raises.")
LOSS_CONTRACT = _code(
    "RT003", "loss-contract", "The loss gets inputs it does not expect",
    "Reports probabilities (non-negative rows summing to 1; all values in [0, 1] for BCE with "
    "logits) given to a loss that wants logits; non-log probabilities given to NLL; class targets "
    "out of range or of the wrong dtype; an initial loss far above its chance value ln(C) "
    f"(threshold: {CHANCE_FACTOR} ln C + 1). The loss is compared per counted target: a "
    "`reduction=\"sum\"` loss is divided by the number of targets (`ignore_index` excluded), a "
    "`\"none\"` loss is averaged. Scores that are all <= 0 (negative distances of a "
    "prototypical network, log-probabilities) get no chance comparison: their scale is the "
    "embedding's, not the output layer's.",
    "A loss fed the wrong kind of value still returns a number and the model still trains, "
    "badly.")
INPUT_SCALE = _code(
    "RT004", "input-scale", "The model's float input looks scaled twice, never, or wildly",
    "Reports a float model input whose values look scaled twice (max <= 1.5/255), never scaled "
    f"(min >= 0, max > {UNSCALED_MAX}, typical of 0-255 pixels), or far from normalized "
    f"(|mean| or std above {FAR_FROM_NORMALIZED}). The input judged is that of the model's "
    "first layer with weights that takes a tensor of the input's size, however the model is called (`model(pixel_values=x)` too): a "
    "model that normalizes inside `forward` is not reported, nor one whose first layer is a "
    "normalization layer or an embedding.",
    "Inputs at the wrong scale saturate or starve the first layer; the network trains slowly "
    "or not at all.", Severity.WARNING)
DTYPES = _code(
    "RT005", "runtime-dtypes", "float64 or integer tensors reach float32 layers",
    "Reports a float64 or integer tensor reaching a layer with float32 weights, and a loss that "
    "mixes a float64 input or target with another float dtype. Half precision against float32 "
    "(autocast's bfloat16 activations, a float32 target) is what autocast does on purpose and "
    "is not reported.",
    "Mixed dtypes fail far from their cause, or silently double memory and time.")
GRADIENT_FLOW = _code(
    "RT006", "gradient-flow", "Parameters without gradients, vanishing or exploding gradients",
    "Reports trainable parameters with no gradient after every traced step, per module, and "
    "why: a module never called or whose output never reaches the loss (an auxiliary head "
    "switched off, BERT's pooler under a token-level loss) or run under no_grad in train mode "
    "is a warning naming the module and the remedy (remove it, freeze it, "
    "`find_unused_parameters`, or leave it if deliberate); a module whose output reaches the "
    "loss only through a cut (`.detach()`, `.data`, `torch.no_grad`, an integer cast, argmax), "
    "or is cut inside its forward, is an error naming where (a module in eval run only under "
    "no_grad is a frozen feature extractor and silent). Also "
    f"all-zero gradients, gradient norms below {VANISHING_GRADIENT} or above "
    f"{EXPLODING_GRADIENT}, and an optimizer that changed no weight in any traced step. "
    "Parameter groups whose learning rate is 0 are left out of that judgement; when every "
    "step so far ran at a learning rate of 0 (a warm-up from 0) the trace runs one step more, "
    "and a learning rate still 0 then is a warning.",
    "Layers that receive no gradient never learn, and nothing says so.")
MODE = _code(
    "RT007", "runtime-mode", "Dropout/batch norm in the wrong mode",
    "Reports dropout or batch-norm layers in eval mode during a training step when the model's "
    "root module is in eval while its parameters train (they require grad, are in an optimizer "
    "and receive gradients), or the layer's own parameters are trained by an optimizer (a "
    "frozen backbone in eval, a linear probe's or detection's norm_eval, is not reported, "
    "whether frozen by requires_grad, left out of the optimizer or run under no_grad), and "
    "layers in training "
    "mode during a forward under no_grad whose output the step's training loss never reads "
    "(GAN fakes, a momentum key encoder and a target network feed the loss and are not "
    "reported; nor is a batch-norm recalibration with momentum=None, swa_utils.update_bn).",
    "In eval mode dropout and batch norm do nothing during training; in train mode they make "
    "inference noisy.")
NOT_OPTIMIZED = _code(
    "RT008", "not-optimized", "Parameters that get gradients but belong to no optimizer",
    "Reports parameters of the model that receive gradients but are in no optimizer's param "
    "groups: layers kept in a plain list, a head replaced after the optimizer was built. "
    "Parameters that got no gradient are left out: a teacher, an EMA copy (AveragedModel) or a "
    "target network run under no_grad keeps requires_grad=True and is rightly in no optimizer.",
    "They are computed and differentiated but never updated.")
ACCUMULATING = _code(
    "RT009", "gradients-accumulate", "Gradients are not zeroed between optimizer steps",
    "Reports a backward pass after an optimizer step that finds the previous step's gradients "
    "still in place (no zero_grad between steps).",
    "Each step then applies the sum of all gradients so far: the effective learning rate grows "
    "every step.")
GRAPH_KEPT_ALIVE = _code(
    "RT016", "graph-kept-alive", "Earlier steps' autograd graphs stay alive: memory grows",
    "Marks the autograd graph of every backward pass and reports when the graphs of two or "
    "more earlier steps are still alive while a later step runs: something the script keeps "
    "across steps holds them, step over step. The classic is a loss accumulated as a tensor "
    "(`total_loss += loss`), the runtime confirmation of DL104; a list of loss tensors kept "
    "for logging is the same. The finding names the variable that holds the graphs and points "
    "at the line that adds to it when it can find one. It needs three steps: when the graph of "
    "the step before outlives it, the trace runs up to two steps past --steps to tell a total "
    "that grows from a single loss kept for comparison (`previous = loss`), which is not "
    "reported.",
    "Each step's graph references its intermediate nodes (and, before its backward, its saved "
    "activations): a running total of loss tensors chains every step's graph to the next, so "
    "memory grows with every step until the process runs out, while the total is usually only "
    "wanted for logging.", Severity.WARNING,
    example="total_loss = 0\nfor x, y in loader:\n    optimizer.zero_grad()\n"
            "    loss = criterion(model(x), y)\n    loss.backward()\n    optimizer.step()\n"
            "    total_loss += loss\n",
    use_instead="total_loss = 0.0\nfor x, y in loader:\n    optimizer.zero_grad()\n"
                "    loss = criterion(model(x), y)\n    loss.backward()\n"
                "    optimizer.step()\n    total_loss += loss.item()\n")

OVERFIT = _code(
    "RT010", "single-batch-overfit", "Verdict of training on one batch (--overfit K)",
    "With `dllint trace SCRIPT --overfit K`, captures the first batch the script trains on and "
    "trains on it alone for K steps (default 200) inside the script's own loop and optimizer, "
    "then judges each optimizer's loss curve: passes (the loss falls to 5 % of its start or "
    "below 1e-3), rising (a flipped sign), exploding (numerics or a learning rate too high), "
    "oscillating (corrupted data or labels, or a learning rate too high), descending (still "
    "falling after K steps: more steps or a higher learning rate), or plateau (learning rate too "
    "low, too much regularization, a bug in the loss or the data). Each loss belongs to the "
    "optimizer whose step its backward feeds (a GAN's generator and discriminator each get their "
    "own). A replay that ran fewer than K steps gets no verdict: the trace is incomplete (exit "
    "status 3). Also reports the initial loss against its chance value and whether the first "
    "step changed the weights.",
    "A model that cannot drive the loss to zero on a single batch has a bug, and no amount of "
    "data or training time will fix it; it is the cheapest test there is.")

# ---- distributed runs (`dllint trace --nproc N`, or `dllint trace` inside torchrun) ------------
# Parameter checksums (norms) of two ranks differ when they differ by more than this, relatively.
REPLICA_TOLERANCE = 1e-5
# Seconds a rank may wait in a collective before the run is ended and the ranks' stacks shown.
COLLECTIVE_TIMEOUT = 60.0

REPLICAS_DIVERGE = _code(
    "RT011", "replicas-diverge", "Model replicas differ across ranks after an optimizer step",
    "Compares a checksum (the norm) of every replicated parameter across ranks, before the "
    "first optimizer step and after each one, and reports parameters whose values differ "
    f"(relative difference above {REPLICA_TOLERANCE}). Parameters sharded by FSDP or DTensor "
    "are left out: their shards differ by design.",
    "Data-parallel training keeps one model in N copies: DistributedDataParallel broadcasts "
    "rank 0's weights once and averages gradients every step, so the copies stay equal. "
    "Copies that drift apart (the model is not wrapped, or gradients are averaged by hand and "
    "some are missed) train N different models, and the checkpoint saved by rank 0 holds only "
    "what rank 0 learned from its share of the data.")
SAME_BATCHES = _code(
    "RT012", "same-batches-on-ranks", "Ranks train on identical batches",
    "Fingerprints (sum and sum of squares) the first training batch of every rank, every "
    "tensor the model is called with, positional and keyword (`model(**batch)`), and reports "
    "ranks whose batches are identical; it points at the DataLoader built without a "
    "`DistributedSampler`.",
    "Without a DistributedSampler every rank reads the whole dataset in the same order: N ranks "
    "compute the same gradient N times, an epoch takes as long as on one GPU, and the effective "
    "batch is not what the learning rate was tuned for.")
SAMPLER_EPOCH = _code(
    "RT013", "sampler-epoch-unchanged", "A DistributedSampler's epoch never changes",
    "Records every complete pass of a shuffling `DistributedSampler` over its data and reports "
    "a pass made with the epoch of an earlier one: `set_epoch` was not called between epochs "
    "(the runtime confirmation of DL105). A peek such as `next(iter(loader))` is not a pass. "
    "The trace must run through a second epoch: use --steps.",
    "The sampler seeds its shuffle with the epoch, so every epoch repeats the first epoch's "
    "order on every rank.", Severity.WARNING)
UNEVEN_GRADIENTS = _code(
    "RT014", "gradients-on-some-ranks", "Parameters get gradients on some ranks only",
    "Reports parameters that receive no gradient on some ranks but do on others, and layers "
    "whose forward runs on some ranks only in the training step (a branch that depends on the "
    "rank or on the rank's data).",
    "DistributedDataParallel expects every rank to use the same parameters: without "
    "`find_unused_parameters=True` the ranks wait for gradients that never come (a hang, or an "
    "error at the next step); with it, the ranks that skipped the layer average in zeros. Hand-"
    "written all-reduces that skip `None` gradients pair mismatched tensors across ranks.",
    Severity.WARNING)
COLLECTIVE_HANG = _code(
    "RT015", "collective-hang", "A rank does not reach the collective the others wait in",
    "Watches every rank from a background thread. When a rank waits in a collective "
    "(`all_reduce`, `barrier`, DDP's gradient all-reduce during backward, the forward of a "
    "DDP or FSDP model after its first call, ...) longer than "
    f"--collective-timeout (default {COLLECTIVE_TIMEOUT:g} s), the run is ended and the report "
    "shows where each rank was, from its stack, instead of hanging until the backend's own "
    "timeout (30 minutes by default).",
    "Collectives complete only when every rank calls them, in the same order. A collective "
    "inside `if rank == 0:`, a rank that stops early on uneven data, or a rank stuck loading "
    "data leaves the others waiting forever, and the job shows nothing but silence.")

# ---- memory (issue 27) ----------------------------------------------------------------------

DOES_NOT_FIT = _code(
    "RT017", "step-does-not-fit", "The training step does not fit in memory",
    "Reports a training step that does not fit: its measured peak exceeds `dllint trace "
    "--memory-budget SIZE` (judging the step for a device you do not have in front of you: "
    "`--memory-budget 24GiB`), or the script ran out of memory (`torch.OutOfMemoryError` on "
    "CUDA; the CPU allocator's `DefaultCPUAllocator: can't allocate memory`). The finding is at "
    "the line that ran out, and the report says where: the phase (forward, backward, optimizer) "
    "and the module whose forward was running; the breakdown up to then (parameters, "
    "gradients, optimizer state, saved activations and the modules that save the most); the "
    "largest batch that fits the budget, from the peak of forward and backward measured at "
    "two batch sizes (the step's, and its model call replayed once on half its batch, "
    "isolated and undone) or, when the step cannot be halved, scaled from its one batch "
    "size; and the changes that would make it fit, ranked by how much each lowers "
    "the step's peak: "
    "activation checkpointing of the repeated blocks, bf16 autocast, an optimizer with less "
    "state than Adam, gradient accumulation over smaller micro-batches, and freeing gradients "
    "before forward (`zero_grad(set_to_none=True)`). A script that ran out of memory exits "
    "with status 1 (this finding), not 3, and its step's tensors are freed before the report.",
    "An out-of-memory error says only how many bytes the last allocation wanted. Which part of "
    "the step filled the memory, and which change frees enough of it, decides whether the fix "
    "is a smaller batch, a few lines of checkpointing, or a different optimizer; guessing costs "
    "a run on the real device each time.",
    example="```python\nmodel = GPT(layers=24, width=2048)\noptimizer = torch.optim.Adam("
            "model.parameters())\nfor x, y in loader:  # batch 64\n    loss = F.cross_entropy("
            "model(x), y)  # RT017 under --memory-budget 24GiB\n    loss.backward()\n"
            "    optimizer.step()\n    optimizer.zero_grad()\n```",
    use_instead="Apply the changes the report ranks first, for instance checkpoint the blocks and "
            "accumulate gradients over micro-batches:\n```python\nfrom torch.utils.checkpoint "
            "import checkpoint\n\nfor x, y in loader:\n    for xs, ys in zip(x.chunk(4), "
            "y.chunk(4)):  # micro-batches of 16\n        with torch.autocast('cuda', "
            "dtype=torch.bfloat16):\n            loss = F.cross_entropy(model(xs), ys) / 4\n"
            "        loss.backward()\n    optimizer.step()\n    optimizer.zero_grad(set_to_none="
            "True)\n```\nwith `checkpoint(block, h, use_reentrant=False)` for each block "
            "inside `GPT.forward`.")

RUNTIME_CODES = {entry.code: entry for entry in (
    NON_FINITE, BROADCAST, LOSS_CONTRACT, INPUT_SCALE, DTYPES, GRADIENT_FLOW, MODE,
    NOT_OPTIMIZED, ACCUMULATING, OVERFIT, REPLICAS_DIVERGE, SAME_BATCHES, SAMPLER_EPOCH,
    UNEVEN_GRADIENTS, COLLECTIVE_HANG, GRAPH_KEPT_ALIVE, DOES_NOT_FIT)}
