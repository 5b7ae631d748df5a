"""What the semantic model knows about library calls, as tables rather than code paths.

Keys are qualified names as `ImportMap` resolves them (`torch.nn.functional.softmax`, whatever
alias the file used). Adding knowledge means adding a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dllint.semantic.frameworks import jax, keras, tensorflow, tflearn

# Calls whose result is a probability distribution (non-negative, rows summing to 1, or in [0,1]).
PROBABILITY_FUNCTIONS = {
    "torch.softmax": "softmax", "torch.nn.functional.softmax": "softmax",
    "torch.special.softmax": "softmax", "torch.sigmoid": "sigmoid",
    "torch.nn.functional.sigmoid": "sigmoid", "torch.special.expit": "sigmoid",
    "scipy.special.softmax": "softmax", "scipy.special.expit": "sigmoid",
    **tensorflow.PROBABILITY_FUNCTIONS, **keras.PROBABILITY_FUNCTIONS, **jax.PROBABILITY_FUNCTIONS,
}
LOG_PROBABILITY_FUNCTIONS = frozenset({
    "torch.log_softmax", "torch.nn.functional.log_softmax", "torch.special.log_softmax",
    "torch.nn.functional.logsigmoid", *tensorflow.LOG_PROBABILITY_FUNCTIONS,
    *keras.LOG_PROBABILITY_FUNCTIONS, *jax.LOG_PROBABILITY_FUNCTIONS,
})
LOG_FUNCTIONS = frozenset({"torch.log", "numpy.log", *tensorflow.LOG_FUNCTIONS,
                           *jax.LOG_FUNCTIONS})
# `1 / (1 + exp(-x))` written out is a sigmoid.
EXP_FUNCTIONS = frozenset({"torch.exp", "numpy.exp", "math.exp", *tensorflow.EXP_FUNCTIONS,
                           *jax.EXP_FUNCTIONS})
# Calls that bound a value to a range, first argument the value (`torch.clamp(p, eps, 1 - eps)`);
# and the methods that do it (`p.clamp(min=eps)`). What they bound keeps its meaning.
CLIPPING_FUNCTIONS = frozenset({"torch.clamp", "torch.clip", "numpy.clip",
                                *tensorflow.CLIPPING_FUNCTIONS, *jax.CLIPPING_FUNCTIONS})
CLIPPING_METHODS = frozenset({"clamp", "clamp_", "clip", "clip_"})
PROBABILITY_METHODS = {"softmax": "softmax", "sigmoid": "sigmoid"}
LOG_PROBABILITY_METHODS = frozenset({"log_softmax"})

# Layers whose output is probabilities / log-probabilities / a single column.
PROBABILITY_LAYERS = {"torch.nn.Softmax": "nn.Softmax", "torch.nn.Sigmoid": "nn.Sigmoid",
                      "torch.nn.Softmax2d": "nn.Softmax2d", **keras.PROBABILITY_LAYERS}
LOG_PROBABILITY_LAYERS = frozenset({"torch.nn.LogSoftmax", "torch.nn.LogSigmoid"})
@dataclass(frozen=True)
class ModeArgument:
    """The constructor argument that decides whether a layer's train and eval modes differ: a
    drop probability (they differ unless it is 0) or a flag (they differ when it is True).
    `differs_by_default`: what the layer does when the argument is not given."""
    keyword: str
    position: int
    differs_by_default: bool
    is_flag: bool = False


_DROP = ModeArgument("p", 0, True)
_RUNNING_STATS = ModeArgument("track_running_stats", 4, True, is_flag=True)
_LAZY_RUNNING_STATS = ModeArgument("track_running_stats", 3, True, is_flag=True)
# InstanceNorm keeps no running statistics unless told to: both modes normalise per sample.
_INSTANCE_STATS = ModeArgument("track_running_stats", 4, False, is_flag=True)
_LAZY_INSTANCE_STATS = ModeArgument("track_running_stats", 3, False, is_flag=True)
# Recurrent layers drop between stacked layers only with `dropout=` (0 by default); nn.RNN
# takes `nonlinearity` before it.
_RECURRENT_DROPOUT = ModeArgument("dropout", 5, False)
_RNN_DROPOUT = ModeArgument("dropout", 6, False)
# Layers that make train() and eval() behave differently, by the argument that decides it.
MODE_DEPENDENT_LAYERS = {
    **{f"torch.nn.{name}": _DROP for name in (
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")},
    **{f"torch.nn.{name}": _RUNNING_STATS for name in (
        "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm")},
    **{f"torch.nn.{name}": _LAZY_RUNNING_STATS for name in (
        "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d")},
    **{f"torch.nn.{name}": _INSTANCE_STATS for name in (
        "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")},
    **{f"torch.nn.{name}": _LAZY_INSTANCE_STATS for name in (
        "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d")},
    **{f"torch.nn.{name}": _RECURRENT_DROPOUT for name in ("LSTM", "GRU")},
    "torch.nn.RNN": _RNN_DROPOUT,
    "torch.nn.TransformerEncoderLayer": ModeArgument("dropout", 3, True),
    "torch.nn.TransformerDecoderLayer": ModeArgument("dropout", 3, True),
    "torch.nn.Transformer": ModeArgument("dropout", 5, True),
    "torch.nn.MultiheadAttention": ModeArgument("dropout", 2, False),
}
CONTAINER_LAYERS = frozenset({"torch.nn.Sequential"})
# Containers that hold modules without calling them (the owner's forward does): their mode is
# their members' (given as a list, a dict, or a comprehension), by the name messages use.
MODULE_COLLECTIONS = {
    f"{package}.{name}": f"nn.{name}" for package in ("torch.nn", "torch.nn.modules.container")
    for name in ("ModuleList", "ModuleDict")
}
# Keras layers (`<prefix>layers.<Name>`), which output probabilities when their activation
# (`activation=` or, for ACTIVATION_LAYERS, the first argument) is one of the names or functions.
KERAS_LAYER_PREFIXES = keras.LAYER_PREFIXES
PER_CALL_MODE_PACKAGES = keras.PER_CALL_MODE_PACKAGES | jax.PER_CALL_MODE_PACKAGES
KERAS_ACTIVATION_LAYERS = keras.ACTIVATION_LAYERS
PROBABILITY_ACTIVATION_NAMES = keras.PROBABILITY_ACTIVATION_NAMES
KERAS_SEQUENTIAL_MODELS = keras.SEQUENTIAL_MODELS
KERAS_FUNCTIONAL_MODELS = keras.FUNCTIONAL_MODELS
KERAS_FUNCTIONAL_OUTPUTS = keras.FUNCTIONAL_OUTPUTS
# Keras layers whose call depends on the `training` flag: always, or (recurrent layers) when one
# of their dropout keywords is above 0; wrappers depend on it when the layer they wrap does.
KERAS_TRAINING_LAYERS = keras.TRAINING_LAYERS
KERAS_RNN_DROPOUT_KEYWORDS = keras.RNN_DROPOUT_KEYWORDS
KERAS_WRAPPER_LAYERS = keras.WRAPPER_LAYERS
# Methods that append a layer to a sequential container, by the container.
GROWING_METHODS = {"nn.Sequential": frozenset({"add_module", "append"}),
                   "nn.ModuleList": frozenset({"append", "insert"}),
                   "keras.Sequential": frozenset({"add"})}
# TF1 layer functions that apply the activation given as a keyword: (keyword, position).
ACTIVATION_LAYER_FUNCTIONS = {**tensorflow.ACTIVATION_LAYER_FUNCTIONS,
                              **tflearn.ACTIVATION_LAYER_FUNCTIONS}
# Estimator layers that apply a loss named by a string argument to their first argument
# (tflearn's `regression(net, loss='softmax_categorical_crossentropy')`): (position, keyword,
# default), and the names of those losses that apply softmax or sigmoid themselves.
NAMED_LOSS_ESTIMATORS = tflearn.ESTIMATORS
LOGIT_LOSS_NAMES = tflearn.LOGIT_OBJECTIVES
# Module base classes of other frameworks: (framework, the method that is their forward).
FRAMEWORK_MODULE_BASES = {**{base: ("flax", jax.FORWARD_METHOD) for base in jax.MODULE_BASES},
                          **{base: ("keras", keras.FORWARD_METHOD) for base in keras.MODULE_BASES}}
# Methods of such a module that run its forward (`model.apply(variables, x)` in Flax).
FRAMEWORK_APPLY_METHODS = jax.APPLY_METHODS
# Objects holding a module's apply function under a keyword: `state.apply_fn(...)` calls it.
APPLY_FUNCTION_HOLDERS = jax.TRAIN_STATES
# Convolutions, by the output shape they have with out_channels=1: a size-1 channel axis.
SINGLE_CHANNEL_LAYERS = {
    "torch.nn.Conv1d": "(N, 1, L)", "torch.nn.Conv2d": "(N, 1, H, W)",
    "torch.nn.Conv3d": "(N, 1, D, H, W)", "torch.nn.ConvTranspose1d": "(N, 1, L)",
    "torch.nn.ConvTranspose2d": "(N, 1, H, W)", "torch.nn.ConvTranspose3d": "(N, 1, D, H, W)",
}
# Elementwise activations: the output has the input's shape, so an (N, 1) output stays one.
SHAPE_KEEPING_LAYERS = frozenset({"torch.nn.Sigmoid", "torch.nn.Tanh", "torch.nn.ReLU",
                                  "torch.nn.LeakyReLU", "torch.nn.Softplus", "torch.nn.Identity"})
SHAPE_KEEPING_FUNCTIONS = frozenset({
    "torch.sigmoid", "torch.nn.functional.sigmoid", "torch.special.expit", "torch.tanh",
    "torch.nn.functional.tanh", "torch.relu", "torch.nn.functional.relu",
})
SHAPE_KEEPING_METHODS = frozenset({"sigmoid", "tanh", "relu"})
# PyTorch's functional dropouts: the position of their `training` argument. Each is on unless
# told otherwise, so a class that calls one behaves differently in train and eval mode only when
# it passes its own mode (DL302), and a model that calls one has a mode to get right (DL004).
FUNCTIONAL_DROPOUTS = {f"torch.nn.functional.{name}": 2 for name in (
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")}
# Functional calls whose result depends on the module's mode (batch norm takes it as an argument).
MODE_DEPENDENT_FUNCTIONS = frozenset({*FUNCTIONAL_DROPOUTS, "torch.nn.functional.batch_norm"})
# Calls that build a model whose layers dllint cannot see: assume it has dropout or batch norm.
OPAQUE_MODEL_PREFIXES = ("torchvision.models.", "timm.create_model", "torch.hub.load",
                         "transformers.AutoModel", "segmentation_models_pytorch.")
# Calls that wrap a module and run it unchanged when called (compiled, replicated, sharded):
# the result outputs what the wrapped module outputs. Value: where the module is passed
# (position, keyword).
MODULE_WRAPPERS = {
    "torch.compile": (0, "model"),
    **{name: (0, "module") for name in (
        "torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.data_parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel",
        "torch.nn.parallel.distributed.DistributedDataParallel",
        "torch.distributed.fsdp.FullyShardedDataParallel",
        "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel",
        "torch.distributed.fsdp.fully_shard", "torch.distributed._composable.fsdp.fully_shard")},
}
# Their loaders that hand the model back in eval mode: Hugging Face's `from_pretrained` calls
# `model.eval()` ("the model is set in evaluation mode by default").
EVAL_MODE_LOADERS = frozenset({"from_pretrained"})
# Loaders of models whose mode is chosen per call, in inference mode outside training (Keras).
INFERENCE_MODE_LOADERS = keras.MODEL_LOADERS
# Methods that run a model for generation, not training: Hugging Face's `generate` turns off
# gradients but leaves dropout to the model's mode, which the caller must set.
GENERATION_METHODS = frozenset({"generate"})
# ... except what those packages ship that is not a model.
NOT_MODELS = (".losses.", ".metrics.", ".utils.", ".transforms.", "._api.", ".get_weight",
              "Loss", "Weights")
# Modules that behave the same in train and eval mode whatever their base classes, when the
# run holds their package's source: kornia's augmentations draw random parameters in either mode.
MODE_FREE_PACKAGES = ("kornia.augmentation.",)
# Calls that return a copy of a model (its layers and its mode, its own parameters): an EMA or
# SWA average, a frozen teacher. Switching the copy's mode leaves the original's alone. By the
# argument that is copied: (keyword, position).
MODULE_COPIES = {
    "copy.deepcopy": ("x", 0), "torch.optim.swa_utils.AveragedModel": ("model", 0),
    **{f"timm.utils.{name}": ("model", 0) for name in ("ModelEma", "ModelEmaV2", "ModelEmaV3")},
    **{f"timm.utils.model_ema.{name}": ("model", 0)
       for name in ("ModelEma", "ModelEmaV2", "ModelEmaV3")},
    "ema_pytorch.EMA": ("model", 0), "ema_pytorch.ema_pytorch.EMA": ("model", 0),
}
# Calls that join iterables into one, as optimizers are built over several modules' parameters
# (`Adam(itertools.chain(g1.parameters(), g2.parameters()))`): each argument is a source.
ITERABLE_CONCATENATIONS = frozenset({"itertools.chain"})
# Attributes through which a wrapper holds the model its forward runs (DistributedDataParallel,
# DataParallel, AveragedModel, timm's ModelEma: `.module`; ema_pytorch's EMA: `.ema_model`):
# switching that model's mode switches what the wrapper computes.
WRAPPED_MODULE_ATTRIBUTES = frozenset({"module", "ema_model"})
# Methods a framework calls with the model already in eval mode (Lightning, ignite handlers).
FRAMEWORK_EVALUATION_HOOKS = frozenset({
    "validation_step", "test_step", "predict_step", "on_validation_epoch_end",
    "on_test_epoch_end", "on_predict_epoch_end", "validation_epoch_end", "test_epoch_end",
})


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
NN_MODULE_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})
# Base classes of PyTorch's own losses, which user losses derive from too.
LOSS_BASES = frozenset({"torch.nn.modules.loss._Loss", "torch.nn.modules.loss._WeightedLoss"})
LIGHTNING_BASES = frozenset({"pytorch_lightning.LightningModule", "lightning.LightningModule",
                             "lightning.pytorch.LightningModule",
                             "pytorch_lightning.core.LightningModule"})

# One row per loss: what its input must be, and how messages name it. A class (`nn.NLLLoss`) is
# called on its instance; a function (`F.nll_loss`) directly. `wants`: "logits" (the loss applies
# log-softmax / log-sigmoid itself), "log_probabilities", "probabilities", or "elementwise".
@dataclass(frozen=True)
class Loss:
    wants: str
    display: str
    is_class: bool
    # Where the prediction goes: torch and optax losses take it first, Keras losses second
    # (`y_true, y_pred`), tf.nn losses as `logits=`.
    argument: int = 0
    keyword: str = "input"
    # Keras: the loss applies the activation (wants logits) only when built or called with this
    # keyword True (`from_logits=True`); without it, it wants probabilities.
    logits_flag: str = ""


LOSSES = {
    "torch.nn.functional.cross_entropy": Loss("logits", "F.cross_entropy", False),
    "torch.nn.functional.binary_cross_entropy_with_logits":
        Loss("logits", "F.binary_cross_entropy_with_logits", False),
    "torch.nn.functional.nll_loss": Loss("log_probabilities", "F.nll_loss", False),
    "torch.nn.functional.binary_cross_entropy":
        Loss("probabilities", "F.binary_cross_entropy", False),
    "torch.nn.functional.mse_loss": Loss("elementwise", "F.mse_loss", False),
    "torch.nn.functional.l1_loss": Loss("elementwise", "F.l1_loss", False),
    "torch.nn.functional.smooth_l1_loss": Loss("elementwise", "F.smooth_l1_loss", False),
    "torch.nn.functional.huber_loss": Loss("elementwise", "F.huber_loss", False),
    "torch.nn.CrossEntropyLoss": Loss("logits", "nn.CrossEntropyLoss", True),
    "torch.nn.BCEWithLogitsLoss": Loss("logits", "nn.BCEWithLogitsLoss", True),
    "torch.nn.NLLLoss": Loss("log_probabilities", "nn.NLLLoss", True),
    "torch.nn.BCELoss": Loss("probabilities", "nn.BCELoss", True),
    "torch.nn.MSELoss": Loss("elementwise", "nn.MSELoss", True),
    "torch.nn.L1Loss": Loss("elementwise", "nn.L1Loss", True),
    "torch.nn.SmoothL1Loss": Loss("elementwise", "nn.SmoothL1Loss", True),
    "torch.nn.HuberLoss": Loss("elementwise", "nn.HuberLoss", True),
    **{name: Loss(**row) for framework in (keras, tensorflow, jax)
       for name, row in framework.LOSSES.items()},
    **{name: Loss(**row) for name, row in keras.BROADCASTING_LOSS_FUNCTIONS.items()},
}
# Losses whose arguments TF 0.x took in another order (the logits first), and the graph-mode
# calls that show a file is TF 0.x or 1.x code (see frameworks/tensorflow.py).
LOGITS_FIRST_LOSSES = tensorflow.LOGITS_FIRST_LOSSES
TF_GRAPH_MODE_CALLS = tensorflow.GRAPH_MODE_CALLS
# The target's keyword, by the prediction's: `F.mse_loss(input, target)`,
# `keras.losses.mse(y_true, y_pred)`, `optax.l2_loss(predictions, targets)`.
LOSS_TARGET_KEYWORDS = {"input": "target", "y_pred": "y_true", "predictions": "targets"}
LOSS_FUNCTIONS = {name: loss for name, loss in LOSSES.items() if not loss.is_class}
LOSS_CLASSES = {name: loss for name, loss in LOSSES.items() if loss.is_class}
# Losses whose target has the prediction's shape (not class indices). The elementwise ones only
# warn when the shapes differ and broadcast; the binary cross-entropies raise a ValueError.
SAME_SHAPE_LOSSES = frozenset(
    {name for name, loss in LOSSES.items() if loss.wants == "elementwise"} | {
        "torch.nn.functional.binary_cross_entropy", "torch.nn.BCELoss",
        "torch.nn.functional.binary_cross_entropy_with_logits", "torch.nn.BCEWithLogitsLoss"})
BROADCASTING_LOSSES = frozenset(name for name, loss in LOSSES.items()
                                if loss.wants == "elementwise")
KERAS_PREFIXES = keras.PREFIXES

# Transforms that scale uint8 pixels to [0, 1].
SCALING_TRANSFORMS = frozenset({
    "torchvision.transforms.ToTensor", "torchvision.transforms.v2.ToTensor",
    "torchvision.transforms.functional.to_tensor",
    "torchvision.transforms.functional.convert_image_dtype",
    "torchvision.transforms.v2.functional.to_dtype",
    "torchvision.transforms.ConvertImageDtype", "torchvision.transforms.v2.ConvertImageDtype",
    "skimage.img_as_float", "skimage.util.img_as_float", "skimage.img_as_float32",
    *tensorflow.SCALING_FUNCTIONS,
})
# Scaling functions that take the dtype to convert to: they scale only to a float dtype, and
# TensorFlow's only integer input (float pixels in 0-255, after `tf.cast` or `tf.image.resize`,
# stay as they are). Value: the position and keyword of the dtype.
SCALING_DTYPE_ARGUMENTS = {"torchvision.transforms.functional.convert_image_dtype": (1, "dtype"),
                           **{name: (1, "dtype") for name in tensorflow.SCALING_FUNCTIONS}}
SCALES_ONLY_INTEGERS = tensorflow.SCALING_FUNCTIONS
# Functions that expect 0-255 pixels (keras.applications' preprocess_input): fed pixels already
# scaled to [0, 1], they squash them.
ZERO_TO_255_PREPROCESSING = keras.ZERO_TO_255_PREPROCESSING
# Keras' ImageDataGenerator: `preprocessing_function` runs before `rescale`.
IMAGE_DATA_GENERATORS = keras.IMAGE_DATA_GENERATORS
# Keras layers a model starts with, by what they do to pixels: rescale them, keep their range,
# or take them as given into weights.
KERAS_RESCALING_LAYERS = keras.RESCALING_LAYERS
KERAS_PIXEL_KEEPING_LAYERS = keras.PIXEL_KEEPING_LAYERS
KERAS_WEIGHTED_LAYERS = keras.WEIGHTED_LAYERS
KERAS_INPUTS = keras.INPUTS
# Keras model methods that take the input data first (`model.fit(x, y)`).
KERAS_INPUT_METHODS = keras.INPUT_METHODS
SCALE_WHEN_FLAGGED = frozenset({"torchvision.transforms.v2.ToDtype"})  # needs scale=True
NORMALIZE_TRANSFORMS = frozenset({"torchvision.transforms.Normalize",
                                  "torchvision.transforms.v2.Normalize",
                                  "torchvision.transforms.functional.normalize"})
COMPOSE = frozenset({"torchvision.transforms.Compose", "torchvision.transforms.v2.Compose"})
LAMBDA_TRANSFORMS = frozenset({"torchvision.transforms.Lambda", "torchvision.transforms.v2.Lambda"})
# albumentations pipelines: called as `pipeline(image=x)`, they return a dict whose "image" entry
# is the transformed image.
ALBUMENTATIONS_COMPOSE = frozenset({"albumentations.Compose",
                                    "albumentations.core.composition.Compose"})
ALBUMENTATIONS_IMAGE_KEYS = frozenset({"image"})


@dataclass(frozen=True)
class PixelDivision:
    """An albumentations step that divides pixels by a maximum, given by the argument `keyword`
    (or at `position`): it scales to [0, 1] when that is left out or one of `scaling_values`,
    and, where `mode_keyword` is given, only in the mode `scaling_mode`."""
    display: str  # how messages name the step
    keyword: str
    position: int
    scaling_values: tuple
    divides_float: bool  # divides float input too (Normalize), or only integer input (ToFloat)
    mode_keyword: str = ""
    scaling_mode: str = ""


# A.Normalize defaults to max_pixel_value=255 (then subtracts the ImageNet mean and divides by
# the std); its other `normalization` modes (min_max, image) ignore max_pixel_value. A.ToFloat
# divides by the input dtype's maximum (255 for uint8) when max_value is None.
_NORMALIZE = PixelDivision("albumentations' Normalize() (max_pixel_value=255)", "max_pixel_value",
                           2, (255.0,), True, "normalization", "standard")
_TO_FLOAT = PixelDivision("albumentations' ToFloat()", "max_value", 0, (None, 255.0), False)
ALBUMENTATIONS_SCALING = {
    "albumentations.Normalize": _NORMALIZE,
    "albumentations.augmentations.Normalize": _NORMALIZE,
    "albumentations.augmentations.transforms.Normalize": _NORMALIZE,
    "albumentations.ToFloat": _TO_FLOAT,
    "albumentations.augmentations.ToFloat": _TO_FLOAT,
    "albumentations.augmentations.transforms.ToFloat": _TO_FLOAT,
}

# Readers that return uint8 images.
UINT8_NUMPY_SOURCES = frozenset({"cv2.imread", "imageio.imread", "imageio.v2.imread",
                                 "imageio.v3.imread", "skimage.io.imread"})
UINT8_TENSOR_SOURCES = frozenset({"torchvision.io.read_image", "torchvision.io.decode_image",
                                  "torchvision.io.decode_jpeg", "torchvision.io.decode_png"})
# TensorFlow decoders, uint8 unless given another dtype (at the position in the value; -1: none).
UINT8_TF_DECODERS = tensorflow.UINT8_IMAGE_DECODERS
# Datasets whose `load_data()` returns `((x_train, y_train), (x_test, y_test))` with uint8 images.
UINT8_IMAGE_DATASETS = keras.UINT8_IMAGE_DATASETS
# Casts that keep the values: (position, keyword) of the dtype.
CAST_FUNCTIONS = {name: (1, "dtype") for name in tensorflow.CAST_FUNCTIONS}
# Casts whose dtype is in their name (`tf.to_float(x)`): the dtype's qualified name.
FIXED_DTYPE_CASTS = tensorflow.FIXED_DTYPE_CASTS

SATURATING_CASTS = tensorflow.SATURATING_CASTS
# Resizing that returns float pixels in the input's range (uint8 in, float32 0-255 out).
FLOAT_RESIZING = tensorflow.FLOAT_RESIZING
PIL_OPEN = frozenset({"PIL.Image.open"})
NUMPY_ARRAY = frozenset({"numpy.array", "numpy.asarray", "numpy.asanyarray",
                         *jax.ARRAY_CONSTRUCTORS})
# Calls whose result has the dtype and scale of their first argument (an image in, the same kind
# of image out).
DTYPE_KEEPING_FUNCTIONS = frozenset({
    "cv2.resize", "cv2.cvtColor", "cv2.flip", "cv2.rotate", "cv2.warpAffine",
    "cv2.warpPerspective", "cv2.copyMakeBorder", "cv2.GaussianBlur", "cv2.medianBlur",
    "cv2.blur", "numpy.transpose", "numpy.ascontiguousarray", "numpy.flip", "numpy.fliplr",
    "numpy.flipud", "numpy.rot90", *tensorflow.DTYPE_KEEPING_FUNCTIONS,
})
# Calls that join a list (or tuple) of arrays into one array of the same dtype and scale.
STACKING = frozenset({
    "numpy.stack", "numpy.concatenate", "numpy.vstack", "numpy.hstack", "numpy.dstack",
    "torch.stack", "torch.cat", "torch.concat", "torch.concatenate", "torch.vstack",
    "torch.hstack", "torch.dstack", *tensorflow.STACKING,
})
# Joining calls whose axis came first in an older API (TF 0.x's `tf.concat(axis, values)`): the
# arrays are the argument that is not a literal axis.
AXIS_FIRST_STACKING = tensorflow.AXIS_FIRST_STACKING
UINT8_DTYPES = frozenset({"numpy.uint8", "torch.uint8", *tensorflow.UINT8_DTYPES,
                          *jax.UINT8_DTYPES})

# numpy constructors that default to float64 (when no dtype= is given).
FLOAT64_CONSTRUCTORS = frozenset({
    "numpy.random.rand", "numpy.random.randn", "numpy.random.random", "numpy.random.uniform",
    "numpy.random.normal", "numpy.random.random_sample", "numpy.zeros", "numpy.ones",
    "numpy.empty", "numpy.full", "numpy.linspace", "numpy.eye", "numpy.identity",
    "numpy.loadtxt", "numpy.genfromtxt",
})
# Where those constructors take `dtype` by position (`np.zeros((h, w), np.uint8)`).
DTYPE_POSITIONS = {"numpy.zeros": 1, "numpy.ones": 1, "numpy.empty": 1, "numpy.full": 2}
# Reductions of other frameworks, called as functions (torch's and numpy's are found by name):
# `keepdims` defaults to False in all of them.
REDUCTION_FUNCTIONS = tensorflow.REDUCTIONS | jax.REDUCTIONS
# Functions that add or remove axes (by the numpy name of what they do: squeeze, reshape...).
RESHAPING_FUNCTIONS = frozenset({
    "torch.squeeze", "torch.unsqueeze", "torch.flatten", "torch.reshape", "numpy.squeeze",
    "numpy.expand_dims", "numpy.reshape", "numpy.ravel", *tensorflow.RESHAPING_FUNCTIONS,
    *jax.RESHAPING_FUNCTIONS,
})
# Layers whose output has as many columns as one argument says: with 1, an (N, 1) column.
# Value: the position and keyword of that argument.
COLUMN_LAYERS = {"torch.nn.Linear": (1, "out_features"), **keras.COLUMN_LAYERS,
                 **jax.COLUMN_LAYERS}
# TensorFlow's tensors made from a literal shape, variables (the shape of their initial value)
# and matrix products (see frameworks/tensorflow.py).
SHAPED_CONSTRUCTORS = tensorflow.SHAPED_CONSTRUCTORS
VARIABLE_CONSTRUCTORS = tensorflow.VARIABLES
MATMUL = tensorflow.MATMUL
RANK1_CONSTRUCTORS = frozenset({"numpy.random.randn", "numpy.random.rand", "numpy.random.random",
                                "numpy.zeros", "numpy.ones", "numpy.empty", "torch.randn",
                                "torch.rand", "torch.zeros", "torch.ones", "torch.empty"})
DATAFRAME_SOURCES = frozenset({"pandas.read_csv", "pandas.read_parquet", "pandas.read_excel",
                               "pandas.read_json", "pandas.DataFrame"})
TO_TENSOR = frozenset({"torch.from_numpy", "torch.tensor", "torch.as_tensor"})
TENSOR_DATASETS = frozenset({"torch.utils.data.TensorDataset"})

# Calls and methods that keep the value's meaning (shape or device changes only).
PASSTHROUGH_METHODS = frozenset({
    "view", "reshape", "to", "cuda", "cpu", "detach", "contiguous", "clone", "permute",
    "transpose", "unsqueeze", "flatten", "view_as", "reshape_as", "expand", "expand_as",
    "requires_grad_", "pin_memory", "copy", "squeeze", "resize", "resize_", "resize_as",
})
FLOAT_CASTS = frozenset({"float", "half", "bfloat16"})
# What an `if` test inspects to decide whether pixels still need scaling (`if x.dtype ==
# torch.uint8:`, `if not x.is_floating_point():`, `np.issubdtype(...)`, `if x.max() > 1:`).
DTYPE_GUARDS = frozenset({"dtype", "is_floating_point", "issubdtype", "max", "amax"})
# Module methods that convert every parameter to one dtype (in place, returning the module).
MODULE_DTYPE_METHODS = {"double": "float64", "float": "", "half": "float16",
                        "bfloat16": "bfloat16"}
# Methods that return the module (or loss) they are called on, moved to a device or cast: the
# value stays that model or that loss (`Net().to(device)`, `nn.CrossEntropyLoss().cuda()`).
SAME_MODULE_METHODS = frozenset({"to", "cuda", "cpu", "requires_grad_", *MODULE_DTYPE_METHODS})
# torch dtypes by qualified name, as a module's `.to(dtype)` records them.
TORCH_FLOAT_DTYPES = {"torch.float64": "float64", "torch.double": "float64",
                      "torch.float32": "", "torch.float": "", "torch.float16": "float16",
                      "torch.half": "float16", "torch.bfloat16": "bfloat16"}
NO_GRAD_CONTEXTS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                              "torch.autograd.grad_mode.no_grad"})
# Methods that run a backward pass, with the keywords of the tensor they backpropagate when it
# is an argument: `accelerator.backward(loss)` (Accelerate), `fabric.backward(loss)` (Fabric),
# `engine.backward(loss)` (DeepSpeed), `torch.autograd.backward(tensors)`, Lightning's
# `self.manual_backward(loss)`. A tensor's own `loss.backward(gradient)` backpropagates its
# receiver, so for `backward` the receiver and the first argument both count.
BACKWARD_METHODS = {"backward": ("loss", "tensor", "tensors"), "manual_backward": ("loss",)}
# Context managers that hand a loss on, scaled, to their `as` name, whose backward is the
# loss's: `with amp.scale_loss(loss, optimizer) as scaled: scaled.backward()` (NVIDIA Apex).
LOSS_SCALING_CONTEXTS = frozenset({"apex.amp.scale_loss"})
# Backward passes that keep their gradients in a context of their own (distributed autograd):
# nothing adds up in `.grad` from one step to the next, so no zero_grad is needed.
CONTEXT_BACKWARDS = frozenset({"torch.distributed.autograd.backward"})
# Tensors made up for a forward pass (a shape probe, a smoke test): what the model returns on
# them is looked at for its shape, never for its values, so its mode does not matter.
DUMMY_INPUT_FACTORIES = frozenset({
    "torch.randn", "torch.rand", "torch.randint", "torch.zeros", "torch.ones", "torch.empty",
    "torch.full", "torch.randn_like", "torch.rand_like", "torch.zeros_like", "torch.ones_like",
})
# Tensor methods that overwrite every element in place: `torch.Tensor(n).normal_()` is
# initialised in the same expression. (Every function of `torch.nn.init` does the same.)
IN_PLACE_INITIALISERS = frozenset({
    "normal_", "uniform_", "zero_", "fill_", "copy_", "random_", "bernoulli_", "exponential_",
    "geometric_", "cauchy_", "log_normal_", "set_",
})
# Methods that move a tensor but keep its contents: `torch.LongTensor(1).cuda().fill_(label)`
# still initialises the constructor's tensor (a copy of it, with the same garbage until filled).
DEVICE_MOVING_METHODS = frozenset({"cuda", "cpu", "to", "pin_memory", "contiguous"})
# Calls that take a DistributedSampler (or a loader built with one) and never call its
# `set_epoch`: the sampler handed to anything else may get its epoch there.
SAMPLER_PASSIVE_CALLS = frozenset({
    "torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader",
    "torch.utils.data.BatchSampler", "torch.utils.data.sampler.BatchSampler",
    "builtins.enumerate", "builtins.iter", "builtins.len", "builtins.zip", "builtins.next",
    "builtins.print", "builtins.isinstance", "builtins.list", "itertools.islice",
    "tqdm.tqdm", "tqdm.auto.tqdm", "tqdm.notebook.tqdm",
})
FLOAT32_DTYPES = frozenset({
    "torch.float32", "torch.float", "torch.float16", "torch.half", "torch.bfloat16",
    "numpy.float32", "numpy.float16", "numpy.single", "numpy.half",
})

# Names people give models; used only where a value's origin is unknown (a function parameter).
MODEL_NAME_PATTERN = (r"(^|_)(model|net|network|classifier|encoder|decoder|backbone|"
                      r"generator|discriminator|student|teacher)s?($|_|\d)")

# Directory listings whose order is whatever the filesystem returns.
LISTING_FUNCTIONS = {
    "glob.glob": "glob.glob", "glob.iglob": "glob.iglob", "os.listdir": "os.listdir",
    "os.scandir": "os.scandir", "os.walk": "os.walk",
    **tensorflow.LISTING_FUNCTIONS,
}
# Listings that shuffle unless told not to (tf.data's list_files): (display, position of the
# `shuffle` argument, position of the `seed` argument).
SHUFFLED_LISTINGS = tensorflow.SHUFFLED_LISTINGS
# Library calls that pair the items of their arguments (or of one tuple argument) by position,
# as zip() does: tf.data.Dataset.zip((images, masks)).
POSITIONAL_PAIRING = tensorflow.POSITIONAL_PAIRING
# Library calls whose items keep the order of their first argument (a dataset of a listing).
ORDER_KEEPING_CALLS = tensorflow.ORDER_KEEPING
# Methods of such datasets that keep the order of their items.
ORDER_KEEPING_METHODS = tensorflow.ORDER_KEEPING_METHODS
# pathlib.Path methods (and look-alikes) with the same property, whatever the receiver.
LISTING_METHODS = frozenset({"glob", "rglob", "iterdir"})
# Calls that put a listing in a stable order.
SORTING = frozenset({"builtins.sorted", "natsort.natsorted", "natsort.os_sorted",
                     "natsort.humansorted", "numpy.sort"})
# Calls that keep the order of their iterable argument (the last one for map and filter).
ORDER_KEEPING = frozenset({"builtins.list", "builtins.tuple", "builtins.reversed", "builtins.map",
                           "builtins.filter", "numpy.array", "numpy.asarray", "itertools.islice",
                           *ORDER_KEEPING_CALLS})
# Readers of data files whose rows come in the order the file stores them (labels saved by
# another script, a CSV of annotations): pairing them with a listing by position is the bug.
RECORD_SOURCES = frozenset({
    "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "scipy.io.loadmat", "pandas.read_csv",
    "pandas.read_table", "pandas.read_parquet", "pandas.read_excel", "pandas.read_json",
    "pandas.read_feather", "pandas.read_pickle",
})
# DataFrame attributes that read rows by position (`loc` too: read_csv numbers rows 0..n-1).
ROW_INDEXERS = frozenset({"iloc", "iat", "loc", "at"})
# Methods that turn records into another container of the same rows, in the same order.
RECORD_KEEPING_METHODS = frozenset({"tolist", "to_list", "to_numpy"})
# Words of a keyword argument that name a data split (`train_files=`, `dev_files=`): listings
# handed to one call under different splits are never paired with each other.
DATA_SPLIT_WORDS = {"train": "train", "training": "train", "dev": "dev", "val": "dev",
                    "valid": "dev", "validation": "dev", "test": "test", "testing": "test"}
# Seeded splits, by the argument that fixes the seed: their result depends on the order of the
# sequence split, so with an unordered listing the seed does not make the split reproducible.
SEEDED_SPLITS = {"sklearn.model_selection.train_test_split": "random_state",
                 "torch.utils.data.random_split": "generator"}

# Dropout that is off unless switched on: TF1's `tf.layers.dropout` (training=False by
# default), by the position of `training`; Flax's `nn.Dropout`, by the position of
# `deterministic` when built (it is also accepted when called).
NEVER_ON_DROPOUTS = tensorflow.NEVER_ON_DROPOUTS
FLAX_DROPOUT_LAYERS = jax.DROPOUT_LAYERS
# Layers that add a bias before batch norm can cancel it (DL303): TF1 and tf.contrib layer
# functions (what turns their bias and activation off: `BiasedLayer`), and Keras layers, which
# take `use_bias=` and `activation=` (None by default) by keyword.
BIASED_LAYER_FUNCTIONS = tensorflow.BIASED_LAYER_FUNCTIONS
BATCH_NORM_FUNCTIONS = tensorflow.BATCH_NORM_FUNCTIONS
KERAS_BIASED_LAYERS = keras.BIASED_LAYERS
KERAS_BATCH_NORM_LAYERS = keras.BATCH_NORM_LAYERS
# Calls that differentiate a function: code that calls them is a training step.
GRADIENT_TRANSFORMS = jax.GRADIENT_TRANSFORMS
# TensorFlow's tapes: the forward pass in `with tf.GradientTape() as tape:` is differentiated by
# the tape's `gradient` method.
GRADIENT_TAPES = tensorflow.GRADIENT_TAPES
TAPE_GRADIENT_METHODS = tensorflow.TAPE_GRADIENT_METHODS
# Attributes holding a Keras model's variables (`model.trainable_variables`).
KERAS_VARIABLE_ATTRIBUTES = keras.VARIABLE_ATTRIBUTES
# Names of functions that are a training step by convention.
TRAINING_STEP_NAMES = frozenset({"train_step", "training_step", "train_on_batch", "update_step"})

# Top-level packages that are libraries, never the project's own modules: calls into them are
# not recorded as call sites into the project's functions.
LIBRARY_ROOTS = frozenset({
    "torch", "torchvision", "torchaudio", "torchtext", "numpy", "scipy", "pandas", "sklearn",
    "tensorflow", "keras", "jax", "flax", "optax", "PIL", "cv2", "skimage", "albumentations",
    "matplotlib", "seaborn", "os", "sys", "glob", "pathlib", "json", "re", "math", "random",
    "time", "datetime", "logging", "argparse", "collections", "itertools", "functools",
    "typing", "copy", "pickle", "shutil", "subprocess", "warnings", "tqdm", "transformers",
    "datasets", "timm", "lightning", "pytorch_lightning", "accelerate", "wandb", "mlflow",
    "tensorboard", "h5py", "yaml", "hydra", "omegaconf", "einops", "natsort", "io", "csv",
})

# Calls that return a model in a mode their keywords choose (see frameworks/jax.py).
MODE_VIEWS = dict(jax.MODE_VIEWS)


# Every qualified name the tables above are keyed by, and the prefixes names are matched by:
# what `from keras.layers import *` brings in is the star module whose names are in here.
_KNOWN_NAMES = frozenset(name for table in list(globals().values())
                         if isinstance(table, (dict, frozenset, set)) for name in table
                         if isinstance(name, str) and "." in name)
_KNOWN_PREFIXES = (*KERAS_LAYER_PREFIXES, *OPAQUE_MODEL_PREFIXES)


def knows(qualified: str, *, by_prefix: bool = False) -> bool:
    """Whether a knowledge table is keyed by `qualified` (or, `by_prefix`, matches it by a
    prefix such as `keras.layers.`)."""
    return qualified.startswith(_KNOWN_PREFIXES) if by_prefix else qualified in _KNOWN_NAMES
