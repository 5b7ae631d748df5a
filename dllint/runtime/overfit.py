"""RT010: judge a single-batch overfit curve.

The verdicts and their thresholds (start = median of the first 3 losses, end = median of the last
10 %, at least 3):
- passes: end <= PASS_FRACTION x start, or end <= PASS_ABSOLUTE;
- exploding: a non-finite loss, or a loss that multiplies by EXPLODE_FACTOR within a tenth of
  the run (numerics or a learning rate too high);
- rising: end >= RISE_FACTOR x start without exploding, climbing steadily (at least
  STEADY_FRACTION of the steps go up): the loss being maximized (a flipped sign);
- oscillating: the second half swings (median absolute step change over median level) by more
  than OSCILLATION_RATIO while the loss does not fall below half its start; or the loss rose
  above RISE_FACTOR x start without a steady climb (it jumped up and bounces there: a learning
  rate too high, not a flipped sign);
- plateau: anything else: the loss barely moves (learning rate too low, too much regularization,
  a bug in the loss or the data).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

PASS_FRACTION = 0.05
PASS_ABSOLUTE = 1e-3
EXPLODE_FACTOR = 10.0
RISE_FACTOR = 1.2
OSCILLATION_RATIO = 0.15
STEADY_FRACTION = 0.6

NEXT_STEPS = {
    "passes": "the model can fit one batch: train on the full data next.",
    "rising": "the loss is being maximized: look for a flipped sign (`loss = -criterion(...)`, "
              "gradient ascent, a negated target) in the loss line.",
    "exploding": "lower the learning rate (try 10x lower), clip gradients, and check for exp, log "
                 "or division by zero near the loss.",
    "oscillating": "lower the learning rate; if it persists, check that inputs and labels are "
                   "paired correctly and not corrupted.",
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
    def next_step(self) -> str:
        return NEXT_STEPS[self.kind]

    def describe(self) -> str:
        what = {
            "passes": f"the loss fell from {self.start:.4g} to {self.end:.4g} in {self.steps} steps",
            "rising": f"the loss rose from {self.start:.4g} to {self.end:.4g}",
            "exploding": self._explosion(),
            "oscillating": f"the loss oscillates around {self.end:.4g} (start {self.start:.4g})",
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
    if len(curve) < 5:
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
    return Verdict("plateau", start, end, lowest, steps)


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
