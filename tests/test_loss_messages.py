"""DL002's messages name what each loss of the knowledge tables really applies to its input
(`log_softmax`, `softmax` or `sigmoid`), for every (activation, loss) pair: a sigmoid reaching
`nn.CrossEntropyLoss` meets a log_softmax, not a second sigmoid."""

from __future__ import annotations

import textwrap

import pytest

from dllint import lint_source
from dllint.rules.dl002_activation_before_logit_loss import loss_input_message
from dllint.semantic import catalog

LOGIT_LOSSES = sorted((name, loss) for name, loss in catalog.LOSSES.items()
                      if loss.wants == "logits")
ACTIVATIONS = ("softmax", "sigmoid")


def _binary(name: str) -> bool:
    """A loss of independent yes/no outputs, by its name: those apply a sigmoid."""
    last = name.rsplit(".", 1)[-1].lower()
    return any(word in last for word in ("sigmoid", "binary", "bce", "weighted"))


def test_every_logit_loss_says_what_it_applies():
    assert LOGIT_LOSSES
    for name, loss in LOGIT_LOSSES:
        assert loss.applies in ("log_softmax", "softmax", "sigmoid"), name
        assert (loss.applies == "sigmoid") == _binary(name), name
    for objective, applies in catalog.LOGIT_LOSS_NAMES.items():
        assert (applies == "sigmoid") == _binary(objective), objective


def test_losses_that_apply_nothing_say_nothing():
    for name, loss in catalog.LOSSES.items():
        if loss.wants != "logits":
            assert loss.applies == "", name


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_message_names_the_activation_the_loss_applies(activation):
    pairs = [(loss.display, loss.applies) for _, loss in LOGIT_LOSSES] + [
        (f"regression(loss='{objective}')", applies)
        for objective, applies in catalog.LOGIT_LOSS_NAMES.items()]
    for display, applies in pairs:
        message = loss_input_message(activation, "logits", display, applies)
        assert f"`{display}`, which applies {applies} " in message, message
        repeated = (activation == "sigmoid") == (applies == "sigmoid")
        assert ("twice" in message) == repeated, message
        if not repeated:
            assert f"applies {activation}" not in message, message


def test_log_probability_losses_ask_for_log_softmax():
    for activation in ACTIVATIONS:
        message = loss_input_message(activation, "log_probabilities", "nn.NLLLoss", "")
        assert "expects log-probabilities" in message and "log_softmax" in message


def _messages(source: str) -> list[str]:
    return [d.message for d in lint_source(textwrap.dedent(source), select=["DL002"])]


def test_sigmoid_into_cross_entropy_names_log_softmax():
    [message] = _messages("""
        import torch
        from torch import nn
        loss = nn.CrossEntropyLoss()(torch.sigmoid(scores), targets)
    """)
    assert "applies log_softmax to its input" in message
    assert "applies sigmoid" not in message


def test_softmax_into_bce_with_logits_names_sigmoid():
    [message] = _messages("""
        import torch.nn.functional as F
        loss = F.binary_cross_entropy_with_logits(F.softmax(scores, dim=1), targets)
    """)
    assert "applies sigmoid to its input" in message


def test_keras_softmax_layer_into_binary_cross_entropy_names_sigmoid():
    [message] = _messages("""
        from tensorflow import keras
        net = keras.Sequential([keras.layers.Dense(2, activation="softmax")])
        net.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True))
    """)
    assert "applies sigmoid to it" in message
