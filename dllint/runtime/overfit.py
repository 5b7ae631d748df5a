"""RT010: judge a single-batch overfit curve, and attribute each loss to its optimizer.

The verdicts and their thresholds (start = median of the first 3 losses, end = median of the last
10 %, at least 3; the drop = (start - end) / start):
- passes: end <= PASS_FRACTION x start, or end <= PASS_ABSOLUTE (the batch is memorised);
- exploding: a non-finite loss, or a loss that multiplies by EXPLODE_FACTOR within a tenth of
  the run (numerics or a learning rate too high);
- rising: end >= RISE_FACTOR x start without exploding, climbing steadily (at least
  STEADY_FRACTION of the steps go up): the loss being maximized (a flipped sign);
- oscillating: the second half swings (median absolute step change over median level) by more
  than OSCILLATION_RATIO while the loss does not fall below half its start; or the loss rose
  above RISE_FACTOR x start without a steady climb (it jumped up and bounces there: a learning
  rate too high, not a flipped sign);
- descending: the loss fell by at least PLATEAU_MAX_DROP and is still falling at the end: over
  the last third of the run, at least DESCENT_CONSISTENCY of the pairs of points half that window
  apart go down (a sign test, which step-to-step noise does not fool) and the later half's median
  is at least RECENT_MIN_DROP x start below the earlier half's. It is learning, but has not
  converged in K steps (more steps, or a higher learning rate);
- plateau: anything else: the loss barely moved (a drop below PLATEAU_MAX_DROP), or it stopped
  falling well above the target (learning rate too low, too much regularization, a bug in the
  loss or the data).
A curve shorter than MIN_STEPS is not judged; neither is an incomplete replay (see
`script.loss_curves`): a verdict on fewer steps than asked for would judge a different run.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace

PASS_FRACTION = 0.05
PASS_ABSOLUTE = 1e-3
EXPLODE_FACTOR = 10.0
RISE_FACTOR = 1.2
OSCILLATION_RATIO = 0.15
STEADY_FRACTION = 0.6
PLATEAU_MAX_DROP = 0.10
DESCENT_CONSISTENCY = 0.8
RECENT_MIN_DROP = 0.01
MIN_STEPS = 5

NEXT_STEPS = {
    "passes": "the model can fit one batch: train on the full data next.",
    "rising": "the loss is being maximized: look for a flipped sign (`loss = -criterion(...)`, "
              "gradient ascent, a negated target) in the loss line.",
    "exploding": "lower the learning rate (try 10x lower), clip gradients, and check for exp, log "
                 "or division by zero near the loss.",
    "oscillating": "lower the learning rate; if it persists, check that inputs and labels are "
                   "paired correctly and not corrupted.",
    "descending": "run more steps (a larger --overfit K), or raise the learning rate (try 3x "
                  "higher) so that it converges within K steps.",
    "plateau": "raise the learning rate (try 10x higher), reduce regularization (weight decay, "
               "dropout), and check the loss and the data pipeline for bugs.",
}


@dataclass(frozen=True)
class Verdict:
    kind: str
    start: float
    end: float
    lowest: float
    steps: int

    @property
    def drop(self) -> float:
        """How much lower the end is than the start, as a fraction of the start."""
        return (self.start - self.end) / max(abs(self.start), 1e-12)

    @property
    def next_step(self) -> str:
        return NEXT_STEPS[self.kind]

    def describe(self) -> str:
        what = {
            "passes": f"the loss fell from {self.start:.4g} to {self.end:.4g} in {self.steps} steps",
            "rising": f"the loss rose from {self.start:.4g} to {self.end:.4g}",
            "exploding": self._explosion(),
            "oscillating": f"the loss oscillates around {self.end:.4g} (start {self.start:.4g})",
            "descending": f"the loss is still falling, from {self.start:.4g} to {self.end:.4g} "
                          f"({self.drop:.0%} lower), and has not converged in {self.steps} steps",
            "plateau": f"the loss plateaus at {self.end:.4g} (start {self.start:.4g}, lowest "
                       f"{self.lowest:.4g})",
        }[self.kind]
        return f"single-batch overfit {self.kind}: {what}; {self.next_step}"

    def _explosion(self) -> str:
        """`start` is the median of the first 3 losses (NaN if one is not finite); `end` that
        of the last tenth, or the largest finite loss when the last tenth is not finite."""
        if not math.isfinite(self.start):
            return "the loss was not finite from the first steps"
        if self.end >= self.start:
            return f"the loss exploded: it rose from {self.start:.4g} to {self.end:.4g}"
        return (f"the loss exploded: it grew more than {EXPLODE_FACTOR:g}-fold within a tenth "
                f"of the run, though it ended lower ({self.end:.4g}) than it started "
                f"({self.start:.4g})")


def judge(curve: list[float]) -> Verdict | None:
    if len(curve) < MIN_STEPS:
        return None
    finite = [value for value in curve if math.isfinite(value)]
    start = statistics.median(curve[:3]) if all(math.isfinite(v) for v in curve[:3]) else math.nan
    tail = curve[-max(3, len(curve) // 10):]
    end = statistics.median(tail) if all(math.isfinite(v) for v in tail) else math.inf
    lowest = min(finite) if finite else math.nan
    steps = len(curve)
    if not math.isfinite(start):
        return Verdict("exploding", start, end, lowest, steps)
    scale = max(abs(start), 1e-12)
    if len(finite) < len(curve) or _fast_growth(curve):
        worst = max(finite) if finite else math.inf
        return Verdict("exploding", start, end if math.isfinite(end) else worst, lowest, steps)
    if end <= PASS_FRACTION * scale or abs(end) <= PASS_ABSOLUTE:
        return Verdict("passes", start, end, lowest, steps)
    rose = end >= RISE_FACTOR * scale
    if rose and _steady_climb(curve):
        return Verdict("rising", start, end, lowest, steps)
    second = curve[len(curve) // 2:]
    swings = [abs(b - a) for a, b in zip(second, second[1:])]
    level = statistics.median(abs(v) for v in second) or 1e-12
    if rose or (statistics.median(swings) / level > OSCILLATION_RATIO and end > 0.5 * scale):
        return Verdict("oscillating", start, end, lowest, steps)
    if (start - end) / scale >= PLATEAU_MAX_DROP and _still_falling(curve, scale):
        return Verdict("descending", start, end, lowest, steps)
    return Verdict("plateau", start, end, lowest, steps)


def _still_falling(curve: list[float], scale: float) -> bool:
    """A consistent downward trend over the last third of the curve: most points are above the
    point half the window later (a sign test, robust to noise that a step-to-step comparison
    would read as a trend or hide one), and the later half's median is clearly lower."""
    window = curve[-max(6, len(curve) // 3):]
    half = len(window) // 2
    pairs = list(zip(window, window[half:]))
    downs = sum(1 for earlier, later in pairs if later < earlier)
    fall = statistics.median(window[:half]) - statistics.median(window[half:])
    return downs >= DESCENT_CONSISTENCY * len(pairs) and fall >= RECENT_MIN_DROP * scale


def _steady_climb(curve: list[float]) -> bool:
    ups = sum(1 for a, b in zip(curve, curve[1:]) if b > a)
    return ups >= STEADY_FRACTION * (len(curve) - 1)


def _fast_growth(curve: list[float]) -> bool:
    """The loss multiplies by EXPLODE_FACTOR within a tenth of the run: an explosion, not the
    steady climb of a flipped sign."""
    window = max(2, len(curve) // 10)
    for index in range(len(curve) - 1):
        base = curve[index]
        if base <= 0:
            continue
        if max(curve[index + 1:index + 1 + window]) > EXPLODE_FACTOR * base:
            return True
    return False


def _columns(curve: list[float], width: int) -> list[float]:
    """One value per character, so that a curve of any length spans the whole width: a short
    curve is stretched (each step repeated over its share of the columns), a long one is cut
    into `width` consecutive buckets, each drawn at its mean (a bucket holding a non-finite loss
    is drawn as that loss, so an explosion is never averaged away)."""
    columns = []
    for column in range(width):
        first = column * len(curve) // width
        last = max(first + 1, (column + 1) * len(curve) // width)
        bucket = curve[first:last]
        broken = [value for value in bucket if not math.isfinite(value)]
        columns.append(broken[0] if broken else statistics.fmean(bucket))
    return columns


def sparkline(curve: list[float], width: int = 60) -> str:
    """The loss curve as one line of `width` block characters, first step at the left edge and
    last at the right (log scale when it spans decades)."""
    values = [v for v in curve if math.isfinite(v)]
    if not values or width < 1:
        return ""
    buckets = _columns(curve, width)
    positive = all(v > 0 for v in values)
    transform = (lambda v: math.log10(v)) if positive and max(values) / min(values) > 100 else \
        (lambda v: v)
    low, high = transform(min(values)), transform(max(values))
    # A loss that barely moves must look flat: the scale spans at least 5 % of its level.
    middle, floor = (low + high) / 2, 0.025 * max(abs(transform(statistics.median(values))), 1e-12)
    if high - low < 2 * floor:
        low, high = middle - floor, middle + floor
    blocks = "▁▂▃▄▅▆▇█"
    line = []
    for value in buckets:
        if not math.isfinite(value):
            line.append("!")
            continue
        position = 0 if high == low else (transform(value) - low) / (high - low)
        line.append(blocks[min(len(blocks) - 1, int(position * (len(blocks) - 1) + 0.5))])
    return "".join(line)


def chance_value(loss_name: str, prediction) -> tuple[str, float] | None:
    """The loss of a model that guesses uniformly: ln C for cross-entropy over C classes, ln 2
    for binary cross-entropy; None for other losses."""
    if loss_name == "cross_entropy" and prediction.dim() >= 2 and prediction.shape[1] > 1:
        return f"ln({prediction.shape[1]})", math.log(prediction.shape[1])
    if loss_name in ("binary_cross_entropy_with_logits", "binary_cross_entropy"):
        return "ln(2)", math.log(2)
    return None


# ---- which optimizer each loss belongs to ---------------------------------------------------

# Nodes of the autograd graph visited, from a backward's tensor towards its inputs, to find the
# loss-function results it was computed from: a loss is near the top of its graph (summed with
# another, scaled for accumulation or mixed precision), so a small budget suffices and the cost
# per backward stays constant however large the model.
GRAPH_BUDGET = 64


@dataclass
class LossCall:
    """A training loss function's call: its own value, where it was called, the autograd node
    that made its result, the chance value of a model that guesses uniformly (("ln(3)", 1.099),
    or None), and the window between optimizer steps it was computed in."""
    value: float
    location: tuple[str, int]
    node: object
    chance: tuple[str, float] | None
    window: int


@dataclass
class StepLoss:
    """What fed one optimizer step: the loss calls whose results its backward passes
    propagated through (in call order), and where the first such backward ran."""
    calls: list[LossCall]
    backward_location: tuple[str, int] | None

    @property
    def location(self) -> tuple[str, int] | None:
        """The loss line: the first loss function's call, else the backward's line (a loss
        written out by hand, `((y - t) ** 2).mean()`)."""
        return self.calls[0].location if self.calls else self.backward_location


class LossAttribution:
    """Attributes each loss to the optimizer whose step it feeds: the loss whose backward
    precedes an optimizer's step belongs to that optimizer. In a GAN the discriminator's loss
    feeds the discriminator's optimizer and the generator's loss the generator's, even when the
    generator's loss is computed before the discriminator steps: a loss is matched to the
    backward whose graph it is part of, not to the order of the calls.

    The instruments call `loss_computed` for each training loss function call, `backward` for
    each backward pass and `stepped` for each optimizer step."""

    def __init__(self) -> None:
        self.pending: list[LossCall] = []  # computed, not yet backpropagated
        self.fed: list[LossCall] = []  # backpropagated since the last step
        self.backward_location: tuple[str, int] | None = None
        self.window = 0
        self.first: dict[int, StepLoss] = {}  # optimizer key -> what fed its first step
        self.order: list[int] = []  # optimizer keys in the order of their first step

    def loss_computed(self, result, value: float, location: tuple[str, int],
                      chance: tuple[str, float] | None = None) -> None:
        node = getattr(result, "grad_fn", None)
        if node is not None:
            self.pending.append(LossCall(value, location, node, chance, self.window))

    def backward(self, tensor, location: tuple[str, int]) -> None:
        if self.backward_location is None:
            self.backward_location = location
        if not self.pending:
            return
        # Imported here: the verdicts and the sparkline of this module need no torch.
        from dllint.runtime.tracing import graph_nodes
        reached = graph_nodes(getattr(tensor, "grad_fn", None),
                              {id(call.node) for call in self.pending}, GRAPH_BUDGET)
        self.fed.extend(call for call in self.pending if id(call.node) in reached)
        self.pending = [call for call in self.pending if id(call.node) not in reached]

    def stepped(self, optimizer_key: int) -> StepLoss:
        """The losses that fed this step; a loss computed but not yet backpropagated waits for
        the next step (a generator's loss computed before the discriminator's step), for one
        step only, so that a loss never backpropagated (a metric with gradients) holds no graph
        for long."""
        if not self.fed and self.backward_location is None:
            # A backward the instruments do not see (`torch.autograd.backward(loss)`): the losses
            # computed since the last step fed it.
            self.fed = [call for call in self.pending if call.window == self.window]
            self.pending = [call for call in self.pending if call.window != self.window]
        # The graph node matched the loss to its backward and is done with: kept, it would hold
        # the step's graph for the whole run (RT016 would see the tracer's own reference).
        step = StepLoss([replace(call, node=None) for call in self.fed], self.backward_location)
        if optimizer_key not in self.first:
            self.first[optimizer_key] = step
            self.order.append(optimizer_key)
        self.fed, self.backward_location = [], None
        self.window += 1
        self.pending = [call for call in self.pending if call.window >= self.window - 1]
        return step

    def location(self, optimizer_key: int) -> tuple[str, int] | None:
        """The loss line of this optimizer's first step."""
        first = self.first.get(optimizer_key)
        return first.location if first is not None else None

    def initial_loss(self, optimizer_key: int) -> tuple[float, tuple[str, float]] | None:
        """This optimizer's first loss and its chance value, when one loss function fed its
        first step and its chance value is known (a sum of losses has no single chance)."""
        first = self.first.get(optimizer_key)
        if first is None or len(first.calls) != 1 or first.calls[0].chance is None:
            return None
        return first.calls[0].value, first.calls[0].chance

