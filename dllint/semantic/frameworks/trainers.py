"""Trainer-library knowledge: what Lightning, ignite and Keras-style training loops do around
the user's code (which hooks run in eval mode, which base classes are models, which
functions are a training step by convention)."""

from __future__ import annotations

from dllint.semantic.effects import Effect, Match, Row

# Methods a framework calls with the model already in eval mode (Lightning, ignite handlers).
FRAMEWORK_EVALUATION_HOOKS = frozenset({
    "validation_step", "test_step", "predict_step", "on_validation_epoch_end",
    "on_test_epoch_end", "on_predict_epoch_end", "validation_epoch_end", "test_epoch_end",
})
LIGHTNING_BASES = frozenset({"pytorch_lightning.LightningModule", "lightning.LightningModule",
                             "lightning.pytorch.LightningModule",
                             "pytorch_lightning.core.LightningModule"})
# Names of functions that are a training step by convention.
TRAINING_STEP_NAMES = frozenset({"train_step", "training_step", "train_on_batch", "update_step"})


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    # Hugging Face's learning-rate schedules (`get_linear_schedule_with_warmup`).
    Row("transformers.", Effect.SCHEDULER, match=Match.PREFIX, last_contains="schedule"),
)
