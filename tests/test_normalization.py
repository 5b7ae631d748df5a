"""Standardization as a range effect (`dllint/semantic/normalization.py`): an inverse
normalization restores the earlier range instead of standardizing a second time."""

from __future__ import annotations

import libcst as cst

from dllint.semantic.normalization import Standardization, inverts, standardized
from dllint.semantic.syntax import channel_values, std_key
from dllint.semantic.values import STANDARDIZED, UNIT_RANGE, UNIT_SCALED, Tag, has


def _expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def test_channel_values_read_numbers_lists_and_repetitions():
    assert channel_values(_expression("0.5")) == (0.5,)
    assert channel_values(_expression("(0.5,) * channels")) == (0.5,)
    assert channel_values(_expression("channels * [2.0]")) == (2.0,)
    assert channel_values(_expression("[0.485, 0.456, 0.406]")) == (0.485, 0.456, 0.406)
    assert channel_values(_expression("[0.5, 0.5, 0.5]")) == (0.5,)
    assert channel_values(_expression("stats.std")) is None


def test_a_repetition_count_is_no_std():
    assert std_key(_expression("(0.5,) * image_channels"), lambda node: None) == "[0.5]"
    assert std_key(_expression("(2.0,) * image_channels"), lambda node: None) == "[2]"


def test_inverse_statistics():
    half = Standardization((0.5,), (0.5,))
    assert inverts((-1.0,), (2.0,), half)
    assert not inverts((1.0,), (2.0,), half)
    assert not inverts((-1.0,), (0.5,), half)
    imagenet = Standardization((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert inverts(tuple(-m / s for m, s in zip(imagenet.mean, imagenet.std)),
                   tuple(1 / s for s in imagenet.std), imagenet)
    assert not inverts(None, (2.0,), half)


def test_standardizing_leaves_unit_range_and_the_inverse_restores_it():
    node = cst.Name("pixels")
    unit = frozenset({Tag(UNIT_SCALED, node, "ToTensor"), Tag(UNIT_RANGE, node, "ToTensor")})
    centred = standardized(unit, node, "[0.5]", (0.5,), (0.5,))
    assert has(centred, STANDARDIZED) and not has(centred, UNIT_RANGE)
    restored = standardized(centred, node, "[2]", (-1.0,), (2.0,))
    assert not has(restored, STANDARDIZED) and has(restored, UNIT_RANGE)
    assert has(restored, UNIT_SCALED)
    twice = standardized(centred, node, "[0.5]", (0.5,), (0.5,))
    assert len([tag for tag in twice if tag.kind == STANDARDIZED]) == 2
