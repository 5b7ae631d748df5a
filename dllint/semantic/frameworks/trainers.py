"""Trainer-library knowledge: what Lightning, ignite and Keras-style training loops do around
the user's code (which hooks run in eval mode, which base classes are models, which
functions are a training step by convention)."""

from __future__ import annotations

from dataclasses import dataclass

from dllint.semantic.effects import Effect, Match, Row

# Methods a framework calls with the model already in eval mode (Lightning, ignite handlers).
FRAMEWORK_EVALUATION_HOOKS = frozenset({
    "validation_step", "test_step", "predict_step", "on_validation_epoch_end",
    "on_test_epoch_end", "on_predict_epoch_end", "validation_epoch_end", "test_epoch_end",
})
LIGHTNING_BASES = frozenset({"pytorch_lightning.LightningModule", "lightning.LightningModule",
                             "lightning.pytorch.LightningModule",
                             "pytorch_lightning.core.LightningModule"})


@dataclass(frozen=True)
class TrainingEngine:
    """A library object that runs the training loop for the user (`trainer.fit(model)`), and
    what that loop does to the model's train/eval mode, from the library's documentation."""
    display: str
    fit_methods: frozenset[str]
    # Where the trained model is given: (keyword, position) of the fit call when `model_in_fit`
    # (Lightning's `trainer.fit(model)`), else of the call that builds the engine.
    model_argument: tuple[str, int]
    model_in_fit: bool
    # Whether its loop switches the model to training mode itself; if not, the model trains in
    # whatever mode it is handed.
    sets_train_mode: bool
    # The model's mode once the fit returns: "train", "kept" (the mode it was handed), or ""
    # when that depends on what the engine ran last (an evaluation it scheduled).
    mode_after: str


# Lightning: since 2.2 the fit loop leaves the mode alone ("you will have to set .train() on
# these models if you intend to train them"); its evaluation loops restore the mode they found.
_LIGHTNING = TrainingEngine("Lightning's `Trainer.fit`", frozenset({"fit"}), ("model", 0), True,
                            sets_train_mode=False, mode_after="kept")
# ignite's supervised trainer calls `model.train()` in every iteration.
_IGNITE = TrainingEngine("ignite's supervised trainer", frozenset({"run"}), ("model", 0), False,
                         sets_train_mode=True, mode_after="train")
# Hugging Face's Trainer calls `model.train()` in each training step; an evaluation it runs
# (eval_strategy, load_best_model_at_end) leaves the model in eval mode.
_HUGGING_FACE = TrainingEngine("Hugging Face's `Trainer.train`", frozenset({"train"}),
                               ("model", 0), False, sets_train_mode=True, mode_after="")
# skorch switches the module to training mode for each training step and off for validation.
_SKORCH = TrainingEngine("skorch's `fit`", frozenset({"fit", "partial_fit"}), ("module", 0), False,
                         sets_train_mode=True, mode_after="")
# Composer's Trainer calls `model.train()` when its training loop starts; its evaluations run
# under `model_eval_mode`, which restores the mode it found, so the model leaves fit in training.
_COMPOSER = TrainingEngine("Composer's `Trainer.fit`", frozenset({"fit"}), ("model", 0), False,
                           sets_train_mode=True, mode_after="train")
# Training engines, by the call that builds them.
TRAINING_ENGINES = {
    **{f"{package}.Trainer": _LIGHTNING for package in (
        "lightning", "lightning.pytorch", "pytorch_lightning", "lightning.pytorch.trainer",
        "pytorch_lightning.trainer", "lightning.pytorch.trainer.trainer")},
    "ignite.engine.create_supervised_trainer": _IGNITE,
    **{f"transformers.{name}": _HUGGING_FACE for name in ("Trainer", "Seq2SeqTrainer")},
    **{f"composer.{name}": _COMPOSER for name in ("Trainer", "trainer.Trainer",
                                                    "trainer.trainer.Trainer")},
    **{f"skorch.{name}": _SKORCH for name in (
        "NeuralNet", "NeuralNetClassifier", "NeuralNetRegressor", "NeuralNetBinaryClassifier")},
}
# Names of functions that are a training step by convention.
TRAINING_STEP_NAMES = frozenset({"train_step", "training_step", "train_on_batch", "update_step"})


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    # Hugging Face's learning-rate schedules (`get_linear_schedule_with_warmup`).
    Row("transformers.", Effect.SCHEDULER, match=Match.PREFIX, last_contains="schedule"),
)
