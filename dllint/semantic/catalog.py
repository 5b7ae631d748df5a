"""What the semantic model knows about library calls, as tables rather than code paths: the
registry of every framework's knowledge.

Keys are qualified names as `ImportMap` resolves them (`torch.nn.functional.softmax`, whatever
alias the file used). Each framework's tables live in `frameworks/<framework>.py`; this module
merges them (under the names rules read), holds the Python and standard-library tables, and
turns every table that says what a call does into the effect rows (`ROWS`, see `effects.py`)
that `transfer.py` dispatches on and the text gates are computed from. Adding a library
function means adding its name to its framework's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from dllint.semantic.effects import Effect, Match, Registry, Row, rows
from dllint.semantic.frameworks import data, jax, keras, tensorflow, torch, trainers

# Calls whose result is a probability distribution (non-negative, rows summing to 1, or in [0,1]).
PROBABILITY_FUNCTIONS = {
    **torch.PROBABILITY_FUNCTIONS, **data.PROBABILITY_FUNCTIONS,
    **tensorflow.PROBABILITY_FUNCTIONS, **keras.PROBABILITY_FUNCTIONS, **jax.PROBABILITY_FUNCTIONS,
}
LOG_PROBABILITY_FUNCTIONS = frozenset({
    *torch.LOG_PROBABILITY_FUNCTIONS, *tensorflow.LOG_PROBABILITY_FUNCTIONS,
    *keras.LOG_PROBABILITY_FUNCTIONS, *jax.LOG_PROBABILITY_FUNCTIONS,
})
LOG_FUNCTIONS = frozenset({*torch.LOG_FUNCTIONS, *data.LOG_FUNCTIONS, *tensorflow.LOG_FUNCTIONS,
                           *jax.LOG_FUNCTIONS})
PROBABILITY_METHODS = torch.PROBABILITY_METHODS
LOG_PROBABILITY_METHODS = torch.LOG_PROBABILITY_METHODS

# Layers whose output is probabilities / log-probabilities / a single column.
PROBABILITY_LAYERS = {**torch.PROBABILITY_LAYERS, **keras.PROBABILITY_LAYERS}
LOG_PROBABILITY_LAYERS = torch.LOG_PROBABILITY_LAYERS
MODE_DEPENDENT_LAYERS = torch.MODE_DEPENDENT_LAYERS
CONTAINER_LAYERS = torch.CONTAINER_LAYERS
# Keras layers (`<prefix>layers.<Name>`), which output probabilities when their activation
# (`activation=` or, for ACTIVATION_LAYERS, the first argument) is one of the names or functions.
KERAS_LAYER_PREFIXES = keras.LAYER_PREFIXES
KERAS_ACTIVATION_LAYERS = keras.ACTIVATION_LAYERS
PROBABILITY_ACTIVATION_NAMES = keras.PROBABILITY_ACTIVATION_NAMES
KERAS_SEQUENTIAL_MODELS = keras.SEQUENTIAL_MODELS
KERAS_FUNCTIONAL_MODELS = keras.FUNCTIONAL_MODELS
# Methods that append a layer to a sequential container, by the container.
GROWING_METHODS = {"nn.Sequential": frozenset({"add_module", "append"}),
                   "keras.Sequential": frozenset({"add"})}
# TF1 layer functions that apply the activation given as a keyword: (keyword, position).
ACTIVATION_LAYER_FUNCTIONS = tensorflow.ACTIVATION_LAYER_FUNCTIONS
# Module base classes of other frameworks: (framework, the method that is their forward).
FRAMEWORK_MODULE_BASES = {base: ("flax", jax.FORWARD_METHOD) for base in jax.MODULE_BASES}
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
NOT_MODELS = torch.NOT_MODELS
MODE_FREE_PACKAGES = torch.MODE_FREE_PACKAGES
FRAMEWORK_EVALUATION_HOOKS = trainers.FRAMEWORK_EVALUATION_HOOKS
NN_MODULE_BASES = torch.NN_MODULE_BASES
LOSS_BASES = torch.LOSS_BASES
LIGHTNING_BASES = trainers.LIGHTNING_BASES

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
    **{name: Loss(**row) for framework in (torch, keras, tensorflow, jax)
       for name, row in framework.LOSSES.items()},
    **{name: Loss(**row) for name, row in keras.BROADCASTING_LOSS_FUNCTIONS.items()},
}
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
SCALING_TRANSFORMS = data.SCALING_TRANSFORMS | tensorflow.SCALING_FUNCTIONS
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
CAST_FUNCTIONS = {name: (1, "dtype") for name in tensorflow.CAST_FUNCTIONS}
# Resizing that returns float pixels in the input's range (uint8 in, float32 0-255 out).
FLOAT_RESIZING = tensorflow.FLOAT_RESIZING
PIL_OPEN = data.PIL_OPEN
NUMPY_ARRAY = data.NUMPY_ARRAY | jax.ARRAY_CONSTRUCTORS
# Calls whose result has the dtype and scale of their first argument (an image in, the same kind
# of image out).
DTYPE_KEEPING_FUNCTIONS = data.DTYPE_KEEPING_FUNCTIONS | tensorflow.DTYPE_KEEPING_FUNCTIONS
# Calls that join a list (or tuple) of arrays into one array of the same dtype and scale.
STACKING = data.STACKING | torch.STACKING
UINT8_DTYPES = frozenset({*data.UINT8_DTYPES, *torch.UINT8_DTYPES, *tensorflow.UINT8_DTYPES,
                          *jax.UINT8_DTYPES})

FLOAT64_CONSTRUCTORS = data.FLOAT64_CONSTRUCTORS
# Reductions of other frameworks, called as functions (torch's and numpy's are found by name):
# `keepdims` defaults to False in all of them.
REDUCTION_FUNCTIONS = tensorflow.REDUCTIONS | jax.REDUCTIONS
# Functions that add or remove axes (by the numpy name of what they do: squeeze, reshape...).
RESHAPING_FUNCTIONS = frozenset({
    *torch.RESHAPING_FUNCTIONS, *data.RESHAPING_FUNCTIONS, *tensorflow.RESHAPING_FUNCTIONS,
    *jax.RESHAPING_FUNCTIONS,
})
# Layers whose output has as many columns as one argument says: with 1, an (N, 1) column.
# Value: the position and keyword of that argument.
COLUMN_LAYERS = {**torch.COLUMN_LAYERS, **keras.COLUMN_LAYERS,
                 **jax.COLUMN_LAYERS}
RANK1_CONSTRUCTORS = data.RANK1_CONSTRUCTORS | torch.RANK1_CONSTRUCTORS
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
CONTEXT_BACKWARDS = torch.CONTEXT_BACKWARDS
DUMMY_INPUT_FACTORIES = torch.DUMMY_INPUT_FACTORIES
IN_PLACE_INITIALISERS = torch.IN_PLACE_INITIALISERS
DEVICE_MOVING_METHODS = torch.DEVICE_MOVING_METHODS
SAMPLER_PASSIVE_CALLS = torch.SAMPLER_PASSIVE_CALLS
FLOAT32_DTYPES = torch.FLOAT32_DTYPES | data.FLOAT32_DTYPES

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

# Dropout that is off unless switched on: TF1's `tf.layers.dropout` (training=False by
# default), by the position of `training`; Flax's `nn.Dropout`, by the position of
# `deterministic` when built (it is also accepted when called).
NEVER_ON_DROPOUTS = tensorflow.NEVER_ON_DROPOUTS
FLAX_DROPOUT_LAYERS = jax.DROPOUT_LAYERS
# Calls that differentiate a function: code that calls them is a training step.
GRADIENT_TRANSFORMS = jax.GRADIENT_TRANSFORMS
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

# The rows the dispatcher in `transfer.py` reads and the gates are computed from (see
# `effects.py`): every table above that says what a call or method does to a value, as one
# `Row` per name. Their order inside one effect does not matter; the effects' own order is the
# precedence when one name has several.
ROWS = (
    *rows(Effect.LISTING, LISTING_FUNCTIONS),
    *(Row(name, Effect.SHUFFLED_LISTING, display=listing[0], data=listing)
      for name, listing in SHUFFLED_LISTINGS.items()),
    *rows(Effect.ORDER_KEEPING, ORDER_KEEPING_CALLS, position=0, keyword="input"),
    *rows(Effect.SORTING, SORTING),
    *rows(Effect.PROBABILITIES, PROBABILITY_FUNCTIONS),
    *rows(Effect.SHAPE_KEEPING, SHAPE_KEEPING_FUNCTIONS),
    *rows(Effect.LOG_PROBABILITIES, LOG_PROBABILITY_FUNCTIONS),
    *rows(Effect.EXP, ("torch.exp", "numpy.exp")),
    # A no-op wrapper since PyTorch 0.4: the value is its `data` argument.
    *rows(Effect.NO_OP_WRAPPER, ("torch.autograd.Variable", "torch.autograd.variable.Variable"),
          position=0, keyword="data"),
    *rows(Effect.LOG, LOG_FUNCTIONS),
    *rows(Effect.PROBABILITY_LAYER, PROBABILITY_LAYERS),
    *rows(Effect.LOG_PROBABILITY_LAYER, LOG_PROBABILITY_LAYERS),
    *rows(Effect.MODE_DEPENDENT_LAYER, MODE_DEPENDENT_LAYERS),
    *rows(Effect.CONTAINER, CONTAINER_LAYERS),
    *(Row(name, Effect.LOSS_CLASS, display=loss.display, data=loss)
      for name, loss in LOSS_CLASSES.items()),
    *rows(Effect.KERAS_INPUT, KERAS_INPUTS),
    *(Row(prefix, Effect.KERAS_LAYER, match=Match.PREFIX, capitalised=True)
      for prefix in KERAS_LAYER_PREFIXES),
    *rows(Effect.KERAS_SEQUENTIAL, KERAS_SEQUENTIAL_MODELS),
    *rows(Effect.KERAS_FUNCTIONAL_MODEL, KERAS_FUNCTIONAL_MODELS),
    *(Row(name, Effect.ACTIVATION_LAYER_FUNCTION, position=position, keyword=keyword)
      for name, (keyword, position) in ACTIVATION_LAYER_FUNCTIONS.items()),
    *(Row(name, Effect.APPLY_FUNCTION_HOLDER, keyword=keyword)
      for name, keyword in APPLY_FUNCTION_HOLDERS.items()),
    *(Row(name, Effect.COLUMN_LAYER, position=position, keyword=keyword)
      for name, (position, keyword) in COLUMN_LAYERS.items()),
    *rows(Effect.SINGLE_CHANNEL_LAYER, SINGLE_CHANNEL_LAYERS),
    # Any other `torch.nn.<Upper>` is a layer; a Parameter (or ParameterList) is not.
    Row("torch.nn.", Effect.LAYER, match=Match.PREFIX, capitalised=True, dots=2,
        excluding=("torch.nn.Parameter",)),
    Row("torch.optim.lr_scheduler.", Effect.SCHEDULER, match=Match.PREFIX, capitalised=True),
    Row("transformers.", Effect.SCHEDULER, match=Match.PREFIX, last_contains="schedule"),
    Row("torch.optim.", Effect.OPTIMIZER, match=Match.PREFIX, capitalised=True, dots=2),
    *(Row(name, Effect.LOSS_FUNCTION, display=loss.display, data=loss)
      for name, loss in LOSS_FUNCTIONS.items()),
    *(Row(prefix, Effect.OPAQUE_MODEL, match=Match.PREFIX, excluding=NOT_MODELS)
      for prefix in OPAQUE_MODEL_PREFIXES),
    *rows(Effect.COMPOSE, COMPOSE | ALBUMENTATIONS_COMPOSE),
    *(Row(name, Effect.PIXEL_DIVISION, display=division.display, data=division)
      for name, division in ALBUMENTATIONS_SCALING.items()),
    *rows(Effect.SCALING, SCALING_TRANSFORMS),
    *rows(Effect.SCALING, SCALE_WHEN_FLAGGED, keyword="scale"),
    *(Row(name, Effect.UINT8_DECODER, position=position, keyword="dtype")
      for name, position in UINT8_TF_DECODERS.items()),
    *rows(Effect.UINT8_DATASET, UINT8_IMAGE_DATASETS),
    *(Row(name, Effect.CAST, position=position, keyword=keyword)
      for name, (position, keyword) in CAST_FUNCTIONS.items()),
    *rows(Effect.FLOAT_RESIZING, FLOAT_RESIZING),
    *rows(Effect.TRANSFORM, NORMALIZE_TRANSFORMS | LAMBDA_TRANSFORMS),
    *(Row(prefix, Effect.TRANSFORM, match=Match.PREFIX, capitalised=True)
      for prefix in ("torchvision.transforms.", "albumentations.")),
    *rows(Effect.UINT8_SOURCE, UINT8_NUMPY_SOURCES, data="numpy"),
    *rows(Effect.UINT8_SOURCE, UINT8_TENSOR_SOURCES, data="torch"),
    *rows(Effect.PIL_OPEN, PIL_OPEN),
    *rows(Effect.DTYPE_KEEPING, DTYPE_KEEPING_FUNCTIONS, position=0, keyword="src"),
    *rows(Effect.STACKING, STACKING, position=0, keyword="arrays"),
    *rows(Effect.ARRAY, NUMPY_ARRAY, position=0, keyword="object"),
    *rows(Effect.FLOAT64_SOURCE, FLOAT64_CONSTRUCTORS),
    *rows(Effect.RANK1_CONSTRUCTOR, RANK1_CONSTRUCTORS),
    *rows(Effect.DATAFRAME_SOURCE, DATAFRAME_SOURCES),
    *rows(Effect.RECORD_SOURCE, RECORD_SOURCES),
    *(Row(name, Effect.TO_TENSOR, position=0, keyword="data",
          gate=("tensor(",) if name == "torch.tensor" else ())  # "tensor" alone: tensorflow too
      for name in TO_TENSOR),
    # Tensors built without a dtype: float32 whatever they are built from.
    *rows(Effect.UNTYPED_TENSOR, ("torch.Tensor", "torch.FloatTensor", "numpy.float32")),
    *rows(Effect.RESHAPE, RESHAPING_FUNCTIONS),
    *rows(Effect.BUILTIN_ORDER_KEEPING, ("builtins.list", "builtins.tuple", "builtins.reversed")),
    # map(f, listing) and filter(f, listing) keep the order of their last argument.
    *rows(Effect.BUILTIN_ORDER_KEEPING, ("builtins.map", "builtins.filter"), position=-1),
    *rows(Effect.WALK_STEP, ("builtins.next",)),
    *rows(Effect.LISTING_METHOD, LISTING_METHODS, match=Match.METHOD),
    *rows(Effect.ORDER_KEEPING_METHOD, ORDER_KEEPING_METHODS, match=Match.METHOD),
    *rows(Effect.PROBABILITY_METHOD, PROBABILITY_METHODS, match=Match.METHOD),
    *rows(Effect.SHAPE_KEEPING_METHOD, SHAPE_KEEPING_METHODS, match=Match.METHOD),
    *rows(Effect.LOG_PROBABILITY_METHOD, LOG_PROBABILITY_METHODS, match=Match.METHOD),
    Row("log", Effect.LOG_METHOD, match=Match.METHOD),
    Row("exp", Effect.EXP_METHOD, match=Match.METHOD),
    Row("forward", Effect.FORWARD_METHOD, match=Match.METHOD),
    Row("to", Effect.MODULE_DTYPE_METHOD, match=Match.METHOD),  # the dtype given, if any
    *(Row(name, Effect.MODULE_DTYPE_METHOD, data=dtype, match=Match.METHOD)
      for name, dtype in MODULE_DTYPE_METHODS.items()),
    *rows(Effect.MODE_SWITCH_METHOD, ("eval", "train"), match=Match.METHOD),
    *rows(Effect.SAME_MODULE_METHOD, SAME_MODULE_METHODS, match=Match.METHOD),
    # A cast only when it names a dtype (`.to(torch.float64)`, `.to(dtype=torch.double)`).
    Row("to", Effect.TO_METHOD, match=Match.METHOD, gate=("float64", "double", "uint8")),
    Row("squeeze", Effect.SQUEEZE_METHOD, match=Match.METHOD),
    *rows(Effect.PASSTHROUGH_METHOD, PASSTHROUGH_METHODS - {"detach", "squeeze"},
          match=Match.METHOD),
    Row("detach", Effect.PASSTHROUGH_METHOD, data="drops the graph", match=Match.METHOD),
    *rows(Effect.FLOAT_CAST_METHOD, FLOAT_CASTS, match=Match.METHOD),
    Row("double", Effect.FLOAT64_CAST_METHOD, match=Match.METHOD),
    Row("astype", Effect.ASTYPE_METHOD, match=Match.METHOD),
    # They scale only by 255 (`x.div(255)`, `x.mul(1 / 255)`).
    *rows(Effect.SCALING_METHOD, ("div", "div_", "true_divide"), data="divide",
          match=Match.METHOD, gate=("255",)),
    *rows(Effect.SCALING_METHOD, ("mul", "mul_"), data="multiply", match=Match.METHOD,
          gate=("255",)),
    *rows(Effect.PIL_KEEPING_METHOD, ("convert", "resize", "crop", "rotate", "transpose"),
          match=Match.METHOD),
    Row("to_numpy", Effect.DATAFRAME_TO_NUMPY_METHOD, match=Match.METHOD),
    *rows(Effect.RECORD_KEEPING_METHOD, RECORD_KEEPING_METHODS, match=Match.METHOD),
    *rows(Effect.COPY_METHOD, ("numpy", "copy", "clone"), match=Match.METHOD),
    *rows(Effect.POSITIONAL_PAIRING, POSITIONAL_PAIRING),
    *rows(Effect.REDUCTION, REDUCTION_FUNCTIONS),
)
REGISTRY = Registry(ROWS)
