"""tflearn knowledge (TensorFlow 1's high-level layers), keyed by qualified names as `ImportMap`
resolves them: `import tflearn` + `tflearn.fully_connected` is `tflearn.fully_connected`; the
same functions are reached as `tflearn.layers.fully_connected` and
`tflearn.layers.core.fully_connected`."""

from __future__ import annotations

from dllint.semantic.effects import Effect, Row


def _spellings(module: str, name: str) -> list[str]:
    """`fully_connected` of `tflearn.layers.core` as tflearn exports it at every level."""
    return [f"tflearn.{name}", f"tflearn.layers.{name}", f"tflearn.layers.{module}.{name}"]


# Layers that apply the activation named by their `activation` argument (a name such as
# 'softmax', or a function): `fully_connected(incoming, n_units, activation='linear', ...)`.
# Value: the keyword and its position.
ACTIVATION_LAYER_FUNCTIONS = {name: ("activation", 2)
                              for name in _spellings("core", "fully_connected")}

# `regression(incoming, placeholder, optimizer, loss='categorical_crossentropy', ...)` applies
# the objective named by `loss` to `incoming`. Value: the position and keyword of `loss`, and
# the objective used when it is left out.
ESTIMATORS = {name: (3, "loss", "categorical_crossentropy")
              for name in _spellings("estimator", "regression")}
# Objectives that apply softmax or sigmoid to `incoming` themselves (tflearn.objectives):
# `categorical_crossentropy` normalises probabilities, these want logits. Value: the activation.
LOGIT_OBJECTIVES = {"softmax_categorical_crossentropy": "softmax",
                    "binary_crossentropy": "sigmoid", "weighted_crossentropy": "sigmoid"}


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *(Row(name, Effect.ACTIVATION_LAYER_FUNCTION, position=position, keyword=keyword)
      for name, (keyword, position) in ACTIVATION_LAYER_FUNCTIONS.items()),
)
