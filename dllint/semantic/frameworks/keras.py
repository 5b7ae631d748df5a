"""Keras knowledge, keyed by qualified names in every spelling `ImportMap` resolves them to.

`import tensorflow as tf` + `tf.keras.layers.Dense`, `from tensorflow import keras` +
`keras.layers.Dense` and `from tensorflow.keras import layers` all resolve to
`tensorflow.keras.layers.Dense`; Keras 3 and the tf_keras package spell it `keras.layers.Dense`
and `tf_keras.layers.Dense`. Each table lists the paths once and expands them to every prefix.
"""

from __future__ import annotations

from dllint.semantic.effects import Effect, Match, Row, loss_rows, rows

PREFIXES = ("keras.", "tensorflow.keras.", "tf_keras.")
# Packages whose models take their train/inference mode per call (`model(x, training=True)`, or
# `fit` versus `predict`/`evaluate`), never from a switch kept on the model as torch's `eval()`.
PER_CALL_MODE_PACKAGES = frozenset({"keras", "tensorflow", "tf_keras"})
# Class methods that load a Keras model (KerasHub's `Backbone.from_preset`, `CausalLM.from_preset`):
# called outside `fit`, the model runs in inference mode.
MODEL_LOADERS = frozenset({"from_preset"})
# Packages of Keras models and layers built on Keras (KerasHub and its predecessors): a class
# of theirs built directly (`keras_hub.models.Gemma3Backbone(**config)`) is a Keras model.
KERAS_MODEL_PACKAGE_PREFIXES = ("keras_hub.models.", "keras_hub.layers.", "keras_nlp.models.",
                                "keras_nlp.layers.", "keras_cv.models.", "keras_cv.layers.")


def spellings(*paths: str) -> list[str]:
    """`layers.Dense` as `keras.layers.Dense`, `tensorflow.keras.layers.Dense`, ..."""
    return [prefix + path for prefix in PREFIXES for path in paths]


# TensorFlow 2 re-exports keras.losses as tf.losses.
LOSS_MODULES = (*spellings("losses."), "tensorflow.losses.")


def _loss_spellings(*names: str) -> list[str]:
    return [module + name for module in LOSS_MODULES for name in names]


# Layers are `<prefix>layers.<Name>`: what they output is read from their `activation`.
LAYER_PREFIXES = tuple(spellings("layers."))
# Layers whose output is probabilities whatever their arguments.
PROBABILITY_LAYERS = {name: "Softmax" for name in spellings("layers.Softmax")}
# Layers that apply the activation given as their first argument (`Activation("softmax")`);
# every other layer takes it as `activation=`.
ACTIVATION_LAYERS = frozenset(spellings("layers.Activation"))
# `activation="softmax"`: the names Keras accepts for an activation that outputs probabilities.
PROBABILITY_ACTIVATION_NAMES = {"softmax": "softmax", "sigmoid": "sigmoid"}
# `activation=keras.activations.softmax`: the same activations as functions.
PROBABILITY_FUNCTIONS = {
    **{name: "softmax" for name in spellings("activations.softmax", "ops.softmax")},
    **{name: "sigmoid" for name in spellings("activations.sigmoid", "ops.sigmoid")},
}
LOG_PROBABILITY_FUNCTIONS = frozenset(spellings("ops.log_softmax", "ops.log_sigmoid",
                                                "activations.log_softmax"))
# Models built from a list of layers (and grown with `.add(layer)`): they output what their last
# layer outputs.
SEQUENTIAL_MODELS = frozenset(spellings("Sequential", "models.Sequential"))
# Functional models, `keras.Model(inputs, outputs)`: they output what `outputs` is. Keras 1
# spelled the keywords `input=` and `output=`. Value: the position and the keywords of `outputs`.
FUNCTIONAL_MODELS = frozenset(spellings("Model", "models.Model"))
FUNCTIONAL_OUTPUTS = (1, ("outputs", "output"))
# Subclassed models and layers (`class Regressor(keras.Model)`): `call` is their forward.
MODULE_BASES = frozenset(spellings("Model", "models.Model", "layers.Layer"))
FORWARD_METHOD = "call"

# ---- bias before batch norm (DL303) ------------------------------------------------------------
# Layers with `use_bias=True` by default; their activation (`activation=`, None by default) is
# applied after the bias.
BIASED_LAYERS = frozenset(spellings(*("layers." + name for name in (
    "Dense", "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
    "SeparableConv1D", "SeparableConv2D", "DepthwiseConv2D", "Conv1DTranspose",
    "Conv2DTranspose", "Conv3DTranspose"))))
BATCH_NORM_LAYERS = frozenset(spellings("layers.BatchNormalization",
                                        "layers.SyncBatchNormalization"))

# ---- the training flag (DL307) -----------------------------------------------------------------
# Layers whose call depends on `training`: dropout drops only, and batch norm uses and updates
# the batch statistics only, when called with `training=True`. `fit` passes it; a model called
# directly (`model(x)`) runs them in inference mode.
TRAINING_LAYERS = frozenset(spellings(*("layers." + name for name in (
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
    "GaussianNoise", "AlphaDropout", "BatchNormalization",
    "SyncBatchNormalization", "experimental.SyncBatchNormalization"))))
# Recurrent layers that drop inputs or recurrent state only when given these keywords above 0:
# `LSTM(64, dropout=0.2, recurrent_dropout=0.2)` depends on `training` like a Dropout layer.
RNN_DROPOUT_KEYWORDS = {name: ("dropout", "recurrent_dropout") for name in spellings(*(
    "layers." + name for name in ("LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell",
                                  "SimpleRNNCell", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")))}
# A model's variables, as a training step hands them to `tape.gradient(loss, ...)`: a tape that
# differentiates with respect to `model.trainable_variables` trains that model (one that
# differentiates with respect to its input, as adversarial examples and saliency maps do, does
# not).
VARIABLE_ATTRIBUTES = frozenset({"trainable_variables", "trainable_weights", "variables",
                                 "weights"})
# Layers that run the layer given as their first argument (`Bidirectional(LSTM(...))`).
WRAPPER_LAYERS = frozenset(spellings("layers.Bidirectional", "layers.TimeDistributed"))

# Cross-entropies that apply softmax or sigmoid themselves only when built (classes) or called
# (functions) with `from_logits=True`; by default they expect probabilities. Keras losses take
# `(y_true, y_pred)`: the prediction is the second argument.
_LOGIT_FLAG_CLASSES = ("SparseCategoricalCrossentropy", "CategoricalCrossentropy",
                       "BinaryCrossentropy", "BinaryFocalCrossentropy",
                       "CategoricalFocalCrossentropy")
_LOGIT_FLAG_FUNCTIONS = ("sparse_categorical_crossentropy", "categorical_crossentropy",
                         "binary_crossentropy", "binary_focal_crossentropy",
                         "categorical_focal_crossentropy")


def _applied(name: str) -> str:
    """What a cross-entropy built with `from_logits=True` applies to the logits: the binary
    ones a sigmoid, the categorical ones a softmax."""
    return "sigmoid" if name.rsplit(".", 1)[-1].lower().startswith("binary") else "softmax"


LOSSES = {
    **{name: dict(wants="logits", display=name.rsplit(".", 1)[-1] + "(from_logits=True)",
                  is_class=True, argument=1, keyword="y_pred", logits_flag="from_logits",
                  applies=_applied(name))
       for name in _loss_spellings(*_LOGIT_FLAG_CLASSES)},
    **{name: dict(wants="logits", display=name.rsplit(".", 1)[-1] + "(..., from_logits=True)",
                  is_class=False, argument=1, keyword="y_pred", logits_flag="from_logits",
                  applies=_applied(name))
       for name in _loss_spellings(*_LOGIT_FLAG_FUNCTIONS)},
    # keras.backend.sparse_categorical_crossentropy(target, output, from_logits=False)
    **{name: dict(wants="logits", display=name.rsplit(".", 1)[-1] + "(..., from_logits=True)",
                  is_class=False, argument=1, keyword="output", logits_flag="from_logits",
                  applies=_applied(name))
       for name in spellings(*("backend." + loss for loss in _LOGIT_FLAG_FUNCTIONS[:3]))},
}

# ---- shapes (DL006) ----------------------------------------------------------------------------
# Layers whose output has `units` columns: `Dense(1)` outputs (N, 1). Value: the position and
# keyword of the output size.
COLUMN_LAYERS = {name: (0, "units") for name in spellings("layers.Dense")}
# Keras 2 loss functions (tf.keras up to TensorFlow 2.15, tf_keras) subtract `y_true` from
# `y_pred` without matching their ranks, so an (N,) target against an (N, 1) prediction
# broadcasts to (N, N). Keras 3's functions, and the loss classes of both, squeeze first.
_KERAS2_LOSS_MODULES = ("tensorflow.keras.losses.", "tf_keras.losses.", "tensorflow.losses.")
BROADCASTING_LOSS_FUNCTIONS = {
    module + name: dict(wants="elementwise", display="tf.keras.losses." + name, is_class=False,
                        argument=1, keyword="y_pred")
    for module in _KERAS2_LOSS_MODULES
    for name in ("mse", "mean_squared_error", "mae", "mean_absolute_error", "msle",
                 "mean_squared_logarithmic_error", "huber", "log_cosh", "logcosh")
}

# ---- pixels (DL003, DL005) ---------------------------------------------------------------------
# `preprocess_input` of every keras.applications network expects pixels in 0-255 (it subtracts
# the ImageNet mean, scales to [-1, 1] itself, or is the identity because the network rescales
# inside): given pixels already scaled to [0, 1], it ruins them.
_APPLICATIONS = ("resnet", "resnet50", "resnet_v2", "resnet_rs", "vgg16", "vgg19", "mobilenet",
                 "mobilenet_v2", "mobilenet_v3", "inception_v3", "inception_resnet_v2",
                 "xception", "densenet", "nasnet", "efficientnet", "efficientnet_v2", "convnext",
                 "regnet", "imagenet_utils")
ZERO_TO_255_PREPROCESSING = frozenset(spellings(*(f"applications.{net}.preprocess_input"
                                                  for net in _APPLICATIONS)))
# `ImageDataGenerator(rescale=..., preprocessing_function=...)` runs the function first and then
# multiplies by `rescale`.
IMAGE_DATA_GENERATORS = frozenset(spellings("preprocessing.image.ImageDataGenerator"))
_PREPROCESSING = ("layers.", "layers.experimental.preprocessing.")
# Layers that scale their input: `Rescaling(scale, offset=0.0)` multiplies by `scale`.
RESCALING_LAYERS = frozenset(spellings(*(module + "Rescaling" for module in _PREPROCESSING)))
# Layers that hand pixels on with their values in the same range (inputs, shapes, crops,
# augmentations): a model starting with them still sees the pixels as given.
PIXEL_KEEPING_LAYERS = frozenset(spellings("Input", "layers.Input", "layers.InputLayer",
                                           "layers.Flatten", "layers.Reshape", "layers.Permute",
                                           *(module + name for module in _PREPROCESSING
                                             for name in ("Resizing", "CenterCrop", "RandomFlip",
                                                          "RandomRotation", "RandomZoom",
                                                          "RandomTranslation", "RandomCrop",
                                                          "RandomContrast"))))
# Symbolic inputs of a functional model, `inputs = keras.Input(shape=(28, 28, 1))`.
INPUTS = frozenset(spellings("Input", "layers.Input"))
# Layers with weights that take the input as given: a model whose first such layer comes before
# any rescaling trains on unscaled pixels.
WEIGHTED_LAYERS = frozenset(spellings(*("layers." + name for name in (
    "Dense", "Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D",
    "Conv2DTranspose", "Convolution2D"))))
# Model methods that feed data to the model: `model.fit(x, y)`, by `x`'s position and keyword.
INPUT_METHODS = frozenset({"fit", "predict", "evaluate", "train_on_batch", "test_on_batch",
                           "predict_on_batch"})
# Datasets whose images `load_data()` returns as uint8 arrays:
# `(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()`.
UINT8_IMAGE_DATASETS = frozenset(spellings(*(f"datasets.{name}.load_data" for name in (
    "mnist", "fashion_mnist", "cifar10", "cifar100"))))


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *rows(Effect.PROBABILITIES, PROBABILITY_FUNCTIONS),
    *rows(Effect.LOG_PROBABILITIES, LOG_PROBABILITY_FUNCTIONS),
    *rows(Effect.PROBABILITY_LAYER, PROBABILITY_LAYERS),
    *loss_rows(LOSSES),
    *loss_rows(BROADCASTING_LOSS_FUNCTIONS),
    *rows(Effect.KERAS_INPUT, INPUTS),
    *(Row(prefix, Effect.KERAS_LAYER, match=Match.PREFIX, capitalised=True)
      for prefix in (*LAYER_PREFIXES, *KERAS_MODEL_PACKAGE_PREFIXES)),
    *rows(Effect.KERAS_SEQUENTIAL, SEQUENTIAL_MODELS),
    *rows(Effect.KERAS_FUNCTIONAL_MODEL, FUNCTIONAL_MODELS, data=FUNCTIONAL_OUTPUTS),
    *(Row(name, Effect.COLUMN_LAYER, position=position, keyword=keyword)
      for name, (position, keyword) in COLUMN_LAYERS.items()),
    *rows(Effect.UINT8_DATASET, UINT8_IMAGE_DATASETS),
)
