"""What the semantic model knows about library calls, as tables rather than code paths: the
registry of every framework's knowledge.

Keys are qualified names as `ImportMap` resolves them (`torch.nn.functional.softmax`, whatever
alias the file used). Each framework's tables live in `frameworks/<framework>.py`, with its
`ROWS`: what each table does to a value, as effect rows (see `effects.py`). This module compiles
every framework's rows into `REGISTRY`, which `transfer.py` dispatches on and the text gates are
computed from, keeps views of them under the merged names rules read (`PROBABILITY_FUNCTIONS`,
`LOSSES`), and holds the tables that are no framework's. Adding a library function means adding
its name to its framework's table.
"""

from __future__ import annotations

from dllint.semantic.effects import Effect, Match, Registry
from dllint.semantic.frameworks import (data, jax, keras, python, tensorflow, tflearn, torch,
                                        trainers)

# Every framework's effect rows (see `effects.py`), compiled once: what `transfer.py` dispatches
# on and the text gates are computed from. A new framework is a module in `frameworks/` with
# its ROWS, added here. The merged tables below that say what a call does are views of these.
FRAMEWORKS = (python, torch, data, keras, tensorflow, tflearn, jax, trainers)
ROWS = tuple(row for framework in FRAMEWORKS for row in framework.ROWS)
REGISTRY = Registry(ROWS)

# Calls whose result is a probability distribution (non-negative, rows summing to 1, or in [0,1]).
PROBABILITY_FUNCTIONS = REGISTRY.table(Effect.PROBABILITIES)
LOG_PROBABILITY_FUNCTIONS = REGISTRY.names(Effect.LOG_PROBABILITIES)
LOG_FUNCTIONS = REGISTRY.names(Effect.LOG)
# `1 / (1 + exp(-x))` written out is a sigmoid.
EXP_FUNCTIONS = frozenset({*torch.EXP_FUNCTIONS, *data.EXP_FUNCTIONS, *tensorflow.EXP_FUNCTIONS,
                           *jax.EXP_FUNCTIONS})
# Calls that bound a value to a range, first argument the value (`torch.clamp(p, eps, 1 - eps)`);
# and the methods that do it (`p.clamp(min=eps)`). What they bound keeps its meaning.
CLIPPING_FUNCTIONS = REGISTRY.names(Effect.CLIPPING)
CLIPPING_METHODS = REGISTRY.names(Effect.CLIPPING_METHOD)
PROBABILITY_METHODS = torch.PROBABILITY_METHODS
LOG_PROBABILITY_METHODS = torch.LOG_PROBABILITY_METHODS

# Layers whose output is probabilities / log-probabilities / a single column.
PROBABILITY_LAYERS = REGISTRY.table(Effect.PROBABILITY_LAYER)
LOG_PROBABILITY_LAYERS = torch.LOG_PROBABILITY_LAYERS
# Layers that make train() and eval() behave differently, by the argument that decides it.
ModeArgument = torch.ModeArgument
MODE_DEPENDENT_LAYERS = REGISTRY.table(Effect.MODE_DEPENDENT_LAYER, "data")
CONTAINER_LAYERS = torch.CONTAINER_LAYERS
# Containers that hold modules without calling them (the owner's forward does): their mode is
# their members', by the name messages use.
MODULE_COLLECTIONS = REGISTRY.table(Effect.MODULE_COLLECTION)
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
SINGLE_CHANNEL_LAYERS = torch.SINGLE_CHANNEL_LAYERS
SHAPE_KEEPING_LAYERS = torch.SHAPE_KEEPING_LAYERS
SHAPE_KEEPING_FUNCTIONS = torch.SHAPE_KEEPING_FUNCTIONS
SHAPE_KEEPING_METHODS = torch.SHAPE_KEEPING_METHODS
FUNCTIONAL_DROPOUTS = torch.FUNCTIONAL_DROPOUTS
MODE_DEPENDENT_FUNCTIONS = torch.MODE_DEPENDENT_FUNCTIONS
OPAQUE_MODEL_PREFIXES = torch.OPAQUE_MODEL_PREFIXES
OPAQUE_MODEL_FAMILIES = torch.OPAQUE_MODEL_FAMILIES
NOT_MODELS = torch.NOT_MODELS
MODE_FREE_PACKAGES = torch.MODE_FREE_PACKAGES
# Calls that wrap a module and run it unchanged when called (compiled, replicated, sharded):
# (position, keyword) of the module.
MODULE_WRAPPERS = {row.name: (row.position, row.keyword)
                   for row in REGISTRY.of(Effect.MODULE_WRAPPER)}
EVAL_MODE_LOADERS = torch.EVAL_MODE_LOADERS
# Loaders of models whose mode is chosen per call, in inference mode outside training (Keras).
INFERENCE_MODE_LOADERS = keras.MODEL_LOADERS
ITERABLE_CONCATENATIONS = torch.ITERABLE_CONCATENATIONS
GENERATION_METHODS = torch.GENERATION_METHODS
# Calls that return a copy of a model: (keyword, position) of the argument copied.
MODULE_COPIES = {row.name: (row.keyword, row.position) for row in REGISTRY.of(Effect.MODULE_COPY)}
WRAPPED_MODULE_ATTRIBUTES = torch.WRAPPED_MODULE_ATTRIBUTES
TrainingEngine = trainers.TrainingEngine
TRAINING_ENGINES = trainers.TRAINING_ENGINES
FRAMEWORK_EVALUATION_HOOKS = trainers.FRAMEWORK_EVALUATION_HOOKS
NN_MODULE_BASES = torch.NN_MODULE_BASES
# Bases that put no module behind a class: a class with only these (or no base) and a `forward`
# is a from-scratch layer or a plain model class, not an nn.Module.
PLAIN_BASES = python.PLAIN_BASES
LOSS_BASES = torch.LOSS_BASES
LIGHTNING_BASES = trainers.LIGHTNING_BASES

LOSSES = {row.name: row.data for row in REGISTRY.of(Effect.LOSS_CLASS, Effect.LOSS_FUNCTION)}
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
SCALING_TRANSFORMS = frozenset(row.name for row in REGISTRY.of(Effect.SCALING) if not row.keyword)
# Scaling functions that take the dtype to convert to: they scale only to a float dtype, and
# TensorFlow's only integer input (float pixels in 0-255, after `tf.cast` or `tf.image.resize`,
# stay as they are). Value: the position and keyword of the dtype.
SCALING_DTYPE_ARGUMENTS = {**data.SCALING_DTYPE_ARGUMENTS,
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
SCALE_WHEN_FLAGGED = data.SCALE_WHEN_FLAGGED
NORMALIZE_TRANSFORMS = data.NORMALIZE_TRANSFORMS
COMPOSE = data.COMPOSE
LAMBDA_TRANSFORMS = data.LAMBDA_TRANSFORMS
ALBUMENTATIONS_COMPOSE = data.ALBUMENTATIONS_COMPOSE
ALBUMENTATIONS_IMAGE_KEYS = data.ALBUMENTATIONS_IMAGE_KEYS


PixelDivision = data.PixelDivision


ALBUMENTATIONS_SCALING = data.ALBUMENTATIONS_SCALING

UINT8_NUMPY_SOURCES = data.UINT8_NUMPY_SOURCES
UINT8_TENSOR_SOURCES = data.UINT8_TENSOR_SOURCES
# TensorFlow decoders, uint8 unless given another dtype (at the position in the value; -1: none).
UINT8_TF_DECODERS = tensorflow.UINT8_IMAGE_DECODERS
# Datasets whose `load_data()` returns `((x_train, y_train), (x_test, y_test))` with uint8 images.
UINT8_IMAGE_DATASETS = keras.UINT8_IMAGE_DATASETS
# Casts that keep the values: (position, keyword) of the dtype.
CAST_FUNCTIONS = {row.name: (row.position, row.keyword) for row in REGISTRY.of(Effect.CAST)
                  if row.data is None}
# Casts whose dtype is in their name (`tf.to_float(x)`): the dtype's qualified name.
FIXED_DTYPE_CASTS = {row.name: row.data for row in REGISTRY.of(Effect.CAST) if row.data}
SATURATING_CASTS = tensorflow.SATURATING_CASTS
# Resizing that returns float pixels in the input's range (uint8 in, float32 0-255 out).
FLOAT_RESIZING = tensorflow.FLOAT_RESIZING
PIL_OPEN = data.PIL_OPEN
NUMPY_ARRAY = REGISTRY.names(Effect.ARRAY)
# Calls whose result has the dtype and scale of their first argument (an image in, the same kind
# of image out).
DTYPE_KEEPING_FUNCTIONS = REGISTRY.names(Effect.DTYPE_KEEPING)
# Calls that join a list (or tuple) of arrays into one array of the same dtype and scale.
STACKING = REGISTRY.names(Effect.STACKING)
# Joining calls whose axis came first in an older API (TF 0.x's `tf.concat(axis, values)`): the
# arrays are the argument that is not a literal axis.
AXIS_FIRST_STACKING = frozenset(row.name for row in REGISTRY.of(Effect.STACKING) if row.data)
UINT8_DTYPES = frozenset({*data.UINT8_DTYPES, *torch.UINT8_DTYPES, *tensorflow.UINT8_DTYPES,
                          *jax.UINT8_DTYPES})

FLOAT64_CONSTRUCTORS = data.FLOAT64_CONSTRUCTORS
# Where those constructors take `dtype` by position (`np.zeros((h, w), np.uint8)`).
DTYPE_POSITIONS = data.DTYPE_POSITIONS
# Reductions of other frameworks, called as functions (torch's and numpy's are found by name):
# `keepdims` defaults to False in all of them.
REDUCTION_FUNCTIONS = REGISTRY.names(Effect.REDUCTION)
# Functions that add or remove axes (by the numpy name of what they do: squeeze, reshape...).
RESHAPING_FUNCTIONS = REGISTRY.names(Effect.RESHAPE)
# Layers whose output has as many columns as one argument says: with 1, an (N, 1) column.
# Value: the position and keyword of that argument.
COLUMN_LAYERS = {row.name: (row.position, row.keyword)
                 for row in REGISTRY.of(Effect.COLUMN_LAYER)}
# TensorFlow's tensors made from a literal shape, variables (the shape of their initial value)
# and matrix products (see frameworks/tensorflow.py).
SHAPED_CONSTRUCTORS = {row.name: (row.position, row.keyword)
                       for row in REGISTRY.of(Effect.SHAPED_CONSTRUCTOR)}
VARIABLE_CONSTRUCTORS = {row.name: (row.position, row.keyword)
                         for row in REGISTRY.of(Effect.VARIABLE_CONSTRUCTOR)}
MATMUL = REGISTRY.names(Effect.MATMUL)
RANK1_CONSTRUCTORS = REGISTRY.names(Effect.RANK1_CONSTRUCTOR)
# Of those, the ones that take each size as an argument of its own (the rest: one shape).
SIZES_AS_ARGUMENTS = torch.SIZES_AS_ARGUMENTS | data.SIZES_AS_ARGUMENTS
# Torch's constructors take one shape object as well as sizes (`torch.randn(w.shape)`).
SIZES_ONLY = data.SIZES_ONLY
# How many axes a join adds to the rank of what it joins (`torch.cat` none, `np.stack` one).
JOIN_AXES_ADDED = {**torch.JOIN_AXES_ADDED, **data.JOIN_AXES_ADDED}
# Layers whose output rank is their input's plus this many axes, by the name messages use.
LAYER_AXES_ADDED = {"nn." + name.rsplit(".", 1)[-1]: added
                    for name, added in torch.LAYER_AXES_ADDED.items()}
DATAFRAME_SOURCES = data.DATAFRAME_SOURCES
TO_TENSOR = torch.TO_TENSOR
TENSOR_DATASETS = torch.TENSOR_DATASETS

PASSTHROUGH_METHODS = torch.PASSTHROUGH_METHODS
FLOAT_CASTS = torch.FLOAT_CASTS
# What an `if` test inspects to decide whether pixels still need scaling (`if x.dtype ==
# torch.uint8:`, `if not x.is_floating_point():`, `np.issubdtype(...)`, `if x.max() > 1:`).
DTYPE_GUARDS = frozenset({"dtype", "is_floating_point", "issubdtype", "max", "amax"})
MODULE_DTYPE_METHODS = torch.MODULE_DTYPE_METHODS
SAME_MODULE_METHODS = torch.SAME_MODULE_METHODS
TORCH_FLOAT_DTYPES = torch.TORCH_FLOAT_DTYPES
NO_GRAD_CONTEXTS = torch.NO_GRAD_CONTEXTS
BACKWARD_METHODS = torch.BACKWARD_METHODS
LOSS_SCALING_CONTEXTS = torch.LOSS_SCALING_CONTEXTS
GRADIENT_CLEARING_METHODS = torch.GRADIENT_CLEARING_METHODS
GRADIENT_CLEARING_FUNCTIONS = torch.GRADIENT_CLEARING_FUNCTIONS
CONTEXT_BACKWARDS = torch.CONTEXT_BACKWARDS
DUMMY_INPUT_FACTORIES = torch.DUMMY_INPUT_FACTORIES
IN_PLACE_INITIALISERS = torch.IN_PLACE_INITIALISERS
DEVICE_MOVING_METHODS = torch.DEVICE_MOVING_METHODS
ATTRIBUTE_REGISTERING_METHODS = torch.ATTRIBUTE_REGISTERING_METHODS
STORAGE_SHARING_WRAPPERS = torch.STORAGE_SHARING_WRAPPERS
PARAMETER_HOLDERS = torch.PARAMETER_HOLDERS
PARAMETER_ITERATORS = torch.PARAMETER_ITERATORS
NAMED_PARAMETER_ITERATORS = torch.NAMED_PARAMETER_ITERATORS


def is_init_fill(qualified: str | None) -> bool:
    """A `torch.nn.init` function that fills its first argument in place (not
    `calculate_gain`, which only reads)."""
    return qualified is not None and qualified.startswith("torch.nn.init.") and \
        qualified not in torch.INIT_NON_FILLS
SAMPLER_PASSIVE_CALLS = torch.SAMPLER_PASSIVE_CALLS
RESEEDING_LOADER_METHODS = torch.RESEEDING_LOADER_METHODS
RESEEDING_LOADER_FUNCTIONS = torch.RESEEDING_LOADER_FUNCTIONS
FLOAT32_DTYPES = torch.FLOAT32_DTYPES | data.FLOAT32_DTYPES

# Names people give models; used only where a value's origin is unknown (a function parameter).
MODEL_NAME_PATTERN = (r"(^|_)(model|net|network|classifier|encoder|decoder|backbone|"
                      r"generator|discriminator|student|teacher)s?($|_|\d)")
# Names of functions that evaluate a model (`validate`, `do_eval`, `test_epoch`, `predict`), and
# of those that also train (`train_and_evaluate_one_epoch`), which decide modes in their body.
EVALUATION_NAME_PATTERN = (
    r"(^|_)(val|valid|validate|validation|eval|evaluate|evaluation|test|predict|prediction|"
    r"infer|inference)(_|$)")
TRAINING_NAME_PATTERN = r"(^|_)(train|training|fit)(_|$)"

# Directory listings whose order is whatever the filesystem returns.
LISTING_FUNCTIONS = REGISTRY.table(Effect.LISTING)
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
LISTING_METHODS = python.LISTING_METHODS
BUILTIN_ALIASES = python.BUILTIN_ALIASES
# Calls that put a listing in a stable order.
SORTING = REGISTRY.names(Effect.SORTING)
# Calls that keep the order of their iterable argument (the last one for map and filter).
ORDER_KEEPING = python.ORDER_KEEPING | ORDER_KEEPING_CALLS
RECORD_SOURCES = data.RECORD_SOURCES
ROW_INDEXERS = data.ROW_INDEXERS
RECORD_KEEPING_METHODS = data.RECORD_KEEPING_METHODS
# Words of a keyword argument that name a data split (`train_files=`, `dev_files=`): listings
# handed to one call under different splits are never paired with each other.
DATA_SPLIT_WORDS = {"train": "train", "training": "train", "dev": "dev", "val": "dev",
                    "valid": "dev", "validation": "dev", "test": "test", "testing": "test"}
# Seeded splits, by the argument that fixes the seed: their result depends on the order of the
# sequence split, so with an unordered listing the seed does not make the split reproducible.
SEEDED_SPLITS = {"sklearn.model_selection.train_test_split": "random_state",
                 "torch.utils.data.random_split": "generator"}
# Random generators built from a seed, by the keyword of that seed (else the first argument):
# their draws, consumed one per item of a sequence, follow the sequence's order.
SEEDED_GENERATORS = {"random.Random": "x", "numpy.random.RandomState": "seed",
                     "numpy.random.default_rng": "seed"}
# Calls that seed the module-level generators whose functions `GLOBAL_DRAWS` and
# `GLOBAL_SHUFFLES` draw from.
GLOBAL_SEEDING = frozenset({"random.seed", "numpy.random.seed"})
GLOBAL_DRAWS = frozenset({
    "random.random", "random.randint", "random.randrange", "random.uniform", "random.choice",
    "numpy.random.rand", "numpy.random.random", "numpy.random.randint", "numpy.random.uniform",
    "numpy.random.choice"})
GLOBAL_SHUFFLES = frozenset({"random.shuffle", "numpy.random.shuffle",
                             "numpy.random.permutation"})
# The same draws and shuffles as methods of a generator (`rng.random()`, `rng.shuffle(files)`).
DRAW_METHODS = frozenset({"random", "randint", "randrange", "uniform", "choice", "rand",
                          "integers"})
SHUFFLE_METHODS = frozenset({"shuffle", "permutation"})

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
TRAINING_STEP_NAMES = trainers.TRAINING_STEP_NAMES

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


# Every qualified name the registry's rows and the tables above are keyed by, and the prefixes
# names are matched by: what `from keras.layers import *` brings in is the star module whose
# names are in here.
_KNOWN_NAMES = frozenset({
    *(row.name for row in ROWS if row.match is Match.EXACT),
    *(name for table in list(globals().values()) if isinstance(table, (dict, frozenset, set))
      for name in table if isinstance(name, str) and "." in name)})
# By prefix, only the prefixes that hold nothing but the library's names (Keras' layers, the
# model zoos); the catch-all rows (`torch.nn.<Upper>` is a layer) would claim a project's `Net`.
_KNOWN_PREFIXES = tuple(row.name for row in REGISTRY.of(Effect.KERAS_LAYER, Effect.OPAQUE_MODEL)
                        if row.match is Match.PREFIX)


def knows(qualified: str, *, by_prefix: bool = False) -> bool:
    """Whether a knowledge row or table is keyed by `qualified` (or, `by_prefix`, a prefix row
    such as `keras.layers.` matches it)."""
    return qualified.startswith(_KNOWN_PREFIXES) if by_prefix else qualified in _KNOWN_NAMES


def is_scheduler_base(qualified: str) -> bool:
    """Whether a class derived from `qualified` is a learning-rate scheduler of the library
    (`class WarmupLR(lr_scheduler.LRScheduler)`): the tables' scheduler rows decide."""
    return any(row.effect is Effect.SCHEDULER for row in REGISTRY.calls(qualified))


def layer_base_modes(qualified: str) -> tuple[bool | None, str] | None:
    """How a class derived from a PyTorch layer behaves in the two modes, with the evidence
    DL004 names; None when `qualified` is no such layer. Whisper's `class LayerNorm(nn.LayerNorm)`
    only casts its input: a layer whose modes never differ (False). A dropout or batch norm
    layer differs as it does by default (True), or is unknown (None) where its default is off,
    as the constructor arguments `super().__init__` passes on are not read; a container's
    members come from elsewhere (None). The catch-all row (`torch.nn.<Upper>` is a layer) would
    claim `torch.nn.Module`: module and loss bases are no layers."""
    if qualified in NN_MODULE_BASES or qualified in LOSS_BASES:
        return None
    effects = {row.effect for row in REGISTRY.calls(qualified)}
    if Effect.LAYER not in effects:
        return None
    if Effect.CONTAINER in effects or Effect.MODULE_COLLECTION in effects:
        return None, ""
    decider = MODE_DEPENDENT_LAYERS.get(qualified)
    if decider is not None:
        name = "nn." + qualified.rsplit(".", 1)[-1]
        return (True, name) if decider.differs_by_default else (None, "")
    return False, ""
