"""Standardization as a range effect: what `Normalize(mean, std)` or `(x - mean) / std` does to
a value's tags, and when a later normalization undoes an earlier one.

A standardized value carries a STANDARDIZED tag whose info (`Standardization`) records the
statistics, where written out, and the range tags the value had before (UNIT_RANGE: pixels in
[0, 1]). A normalization with mean' = -mean / std and std' = 1 / std (`Normalize(-1, 2)` after
`Normalize(0.5, 0.5)`: `(x + 1) / 2`) maps the value back: the tag goes and the earlier range
comes back. It is a denormalization, not a second standardization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dllint.semantic.values import STANDARDIZED, UNIT_RANGE, Tag, Value, keep, stable_order

# The range tags a standardization ends and its inverse restores.
RANGE_KINDS = (UNIT_RANGE,)
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Standardization:
    """What a STANDARDIZED tag knows: the per-channel mean and std (`syntax.channel_values`; None
    where not written out) and the range tags of the value before."""
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    before: Value = frozenset()


@dataclass(frozen=True)
class NormalizeStep:
    """One `Normalize(mean, std)` of a transform pipeline, in the pipeline's order."""
    node: Any  # the Normalize call
    std_key: str  # `syntax.std_key` of its std ("" when it says nothing)
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _TOLERANCE * max(1.0, abs(a), abs(b))


def inverts(mean: tuple[float, ...] | None, std: tuple[float, ...] | None,
            earlier: Standardization) -> bool:
    """Whether normalizing with `mean`, `std` undoes `earlier`: for every channel,
    mean = -earlier.mean / earlier.std and std = 1 / earlier.std."""
    if mean is None or std is None or earlier.mean is None or earlier.std is None:
        return False
    lengths = {len(mean), len(std), len(earlier.mean), len(earlier.std)} - {1}
    if len(lengths) > 1:
        return False
    channels = max(lengths, default=1)

    def at(values: tuple[float, ...], index: int) -> float:
        return values[0] if len(values) == 1 else values[index]

    for index in range(channels):
        old_std = at(earlier.std, index)
        if old_std == 0:
            return False
        if not (_close(at(mean, index), -at(earlier.mean, index) / old_std)
                and _close(at(std, index), 1 / old_std)):
            return False
    return True


def undone(value: Value, mean: tuple[float, ...] | None,
           std: tuple[float, ...] | None) -> Tag | None:
    """The standardization of `value` that normalizing with `mean`, `std` undoes, if any."""
    found = [tag for tag in value if tag.kind == STANDARDIZED
             and isinstance(tag.info, Standardization) and inverts(mean, std, tag.info)]
    return min(found, key=stable_order) if found else None


def standardized(value: Value, node: Any, key: str, mean: tuple[float, ...] | None,
                 std: tuple[float, ...] | None, before: Value | None = None) -> Value:
    """`value` after a normalization at `node`: back to its earlier range when it undoes the
    value's standardization; otherwise standardized (out of [0, 1], unless the statistics are
    0 and 1), remembering its range tags before (`before`, when the caller already dropped
    them)."""
    inverse = undone(value, mean, std)
    if inverse is not None:
        return (value - {inverse}) | inverse.info.before
    ranges = keep(value if before is None else before, RANGE_KINDS)
    identity = mean is not None and std is not None and all(m == 0 for m in mean) and all(
        s == 1 for s in std)
    if identity:
        return value
    result = frozenset(tag for tag in value if tag.kind not in RANGE_KINDS)
    if not key and (mean is None or std is None):
        return result  # nothing to know it again by
    return result | {Tag(STANDARDIZED, node, key, Standardization(mean, std, ranges))}


def multiplied_back(value: Value, key: str, std: tuple[float, ...] | None) -> Value:
    """`value * std` by hand (of `x * std + mean`): a standardization by that same std is
    undone, the value is no longer standardized with it."""
    back = {tag for tag in value if tag.kind == STANDARDIZED and (
        (key and tag.detail == key) or (std is not None and isinstance(tag.info, Standardization)
                                        and tag.info.std == std))}
    return value - back if back else value
