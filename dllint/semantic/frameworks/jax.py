"""JAX knowledge (jax.nn, Flax, Optax), keyed by qualified names as `ImportMap` resolves them:
`import flax.linen as nn` + `nn.softmax` is `flax.linen.softmax`."""

from __future__ import annotations

from dllint.semantic.effects import Effect, Row, loss_rows, rows

_FLAX = ("flax.linen.", "flax.nnx.")

PROBABILITY_FUNCTIONS = {
    "jax.nn.softmax": "softmax", "jax.nn.sigmoid": "sigmoid",
    "jax.scipy.special.expit": "sigmoid",
    **{prefix + "softmax": "softmax" for prefix in _FLAX},
    **{prefix + "sigmoid": "sigmoid" for prefix in _FLAX},
}
LOG_PROBABILITY_FUNCTIONS = frozenset({
    "jax.nn.log_softmax", "jax.nn.log_sigmoid",
    *(prefix + name for prefix in _FLAX for name in ("log_softmax", "log_sigmoid")),
})
LOG_FUNCTIONS = frozenset({"jax.numpy.log"})
EXP_FUNCTIONS = frozenset({"jax.numpy.exp"})
CLIPPING_FUNCTIONS = frozenset({"jax.numpy.clip"})

# Flax modules: what calling one returns is what its `__call__` returns, and
# `model.apply(variables, x)` calls it.
MODULE_BASES = frozenset({"flax.linen.Module", "flax.nnx.Module"})
FORWARD_METHOD = "__call__"
APPLY_METHODS = frozenset({"apply"})
# JAX libraries whose modules take their train/inference mode as a call argument (objax:
# `model(x, training=False)`; Haiku: `is_training`), never from a switch kept on the model as
# torch's `eval()`. Flax is not one: an NNX module has `eval()`.
PER_CALL_MODE_PACKAGES = frozenset({"objax", "haiku"})
# Training states built around a module's apply function: `state.apply_fn(variables, x)` calls
# the module. Value: the keyword that takes the function.
TRAIN_STATES = {"flax.training.train_state.TrainState.create": "apply_fn"}

# Optax losses take the prediction first. Those that apply softmax or sigmoid themselves:
_LOGIT_LOSSES = ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels",
                 "safe_softmax_cross_entropy", "sigmoid_binary_cross_entropy",
                 "sigmoid_focal_loss", "poly_loss_cross_entropy")
# What each applies to the logits, where not `log_softmax` (optax's softmax cross-entropies).
_APPLIED = {"sigmoid_binary_cross_entropy": "sigmoid", "sigmoid_focal_loss": "sigmoid",
            "poly_loss_cross_entropy": "softmax"}
_ELEMENTWISE_LOSSES = ("l2_loss", "squared_error", "huber_loss")
LOSSES = {
    **{module + name: dict(wants="logits", display=f"optax.{name}", is_class=False,
                           argument=0, keyword="logits", applies=_APPLIED.get(name, "log_softmax"))
       for module in ("optax.", "optax.losses.") for name in _LOGIT_LOSSES},
    **{module + name: dict(wants="elementwise", display=f"optax.{name}", is_class=False,
                           argument=0, keyword="predictions")
       for module in ("optax.", "optax.losses.") for name in _ELEMENTWISE_LOSSES},
}

# ---- shapes (DL006) ----------------------------------------------------------------------------
# jax.numpy reductions, like numpy's: `keepdims` defaults to False.
REDUCTIONS = frozenset("jax.numpy." + name for name in (
    "sum", "mean", "std", "var", "max", "min", "amax", "amin", "prod", "nansum", "nanmean"))
REDUCTIONS |= {"jax.scipy.special.logsumexp", "jax.nn.logsumexp", "jax.numpy.linalg.norm"}
# Functions that add or remove axes, named like their numpy counterparts.
RESHAPING_FUNCTIONS = frozenset("jax.numpy." + name
                                for name in ("squeeze", "expand_dims", "reshape", "ravel"))
# Layers whose output has `features` columns: `nn.Dense(1)` outputs (N, 1). Value: the
# position and keyword of the output size.
COLUMN_LAYERS = {"flax.linen.Dense": (0, "features"), "flax.nnx.Linear": (1, "out_features")}

# ---- dropout (DL306) ---------------------------------------------------------------------------
# Flax dropout layers: `nn.Dropout(rate, deterministic=None)`, the flag given when built or when
# called. `deterministic=True` drops nothing. Value: the position of `deterministic` when built.
DROPOUT_LAYERS = {"flax.linen.Dropout": 2, "flax.linen.stochastic.Dropout": 2}
# Calls that differentiate a function: the function they take (or the one they decorate) is a
# training step, where dropout should be on.
GRADIENT_TRANSFORMS = frozenset({"jax.grad", "jax.value_and_grad", "flax.nnx.grad",
                                 "flax.nnx.value_and_grad"})

# ---- pixels (DL005) ----------------------------------------------------------------------------
# jax.numpy arrays keep numpy's dtype, and uint8 arithmetic wraps around as in numpy.
ARRAY_CONSTRUCTORS = frozenset({"jax.numpy.array", "jax.numpy.asarray"})
UINT8_DTYPES = frozenset({"jax.numpy.uint8"})

# Calls that return the same model in a chosen mode (DL004): Flax NNX's `nnx.view(model,
# deterministic=True, use_running_average=True)` is its eval mode; each keyword names a flag that
# is True in eval mode.
MODE_VIEWS = {"flax.nnx.view": ("deterministic", "use_running_average")}


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *rows(Effect.PROBABILITIES, PROBABILITY_FUNCTIONS),
    *rows(Effect.LOG_PROBABILITIES, LOG_PROBABILITY_FUNCTIONS),
    *rows(Effect.LOG, LOG_FUNCTIONS),
    *loss_rows(LOSSES),
    *(Row(name, Effect.APPLY_FUNCTION_HOLDER, keyword=keyword)
      for name, keyword in TRAIN_STATES.items()),
    *(Row(name, Effect.COLUMN_LAYER, position=position, keyword=keyword)
      for name, (position, keyword) in COLUMN_LAYERS.items()),
    *rows(Effect.CLIPPING, CLIPPING_FUNCTIONS),
    *rows(Effect.ARRAY, ARRAY_CONSTRUCTORS, position=0, keyword="object"),
    *rows(Effect.RESHAPE, RESHAPING_FUNCTIONS),
    *rows(Effect.REDUCTION, REDUCTIONS),
)
