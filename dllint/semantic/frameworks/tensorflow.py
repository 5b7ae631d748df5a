"""TensorFlow knowledge (tf.nn, tf.math, TF1 layers and losses), keyed by qualified names as
`ImportMap` resolves them: `import tensorflow as tf` + `tf.nn.softmax` is `tensorflow.nn.softmax`.
Keras, also when reached through `tf.keras`, is in `keras.py`."""

from __future__ import annotations

from typing import NamedTuple

from dllint.semantic.effects import Effect, Match, Row, loss_rows, rows

# TF1 code reaches the same functions through tf.compat.v1.
_V1 = "tensorflow.compat.v1."


def _both(*paths: str) -> list[str]:
    """`nn.softmax` as `tensorflow.nn.softmax` and `tensorflow.compat.v1.nn.softmax`."""
    return [prefix + path for prefix in ("tensorflow.", _V1) for path in paths]


# The modules that define TF1's `tf.layers` core functions (dense, dropout, flatten): code that
# imports them from there (`from tensorflow.python.layers import core as core_layers`, as
# tf_cnn_benchmarks does) calls the same function as `tf.layers.dropout`.
_LAYERS_CORE_MODULES = ("tensorflow.python.layers.core.",
                        "tensorflow.python.keras.legacy_tf_layers.core.",
                        "tf_keras.src.legacy_tf_layers.core.")


def _layers_core(*names: str) -> list[str]:
    """`dense` as `tf.layers.dense`, `tf.compat.v1.layers.dense` and the defining modules' name."""
    return [*_both(*(f"layers.{name}" for name in names)),
            *(module + name for module in _LAYERS_CORE_MODULES for name in names)]


PROBABILITY_FUNCTIONS = {
    **{name: "softmax" for name in _both("nn.softmax", "math.softmax")},
    **{name: "sigmoid" for name in _both("sigmoid", "nn.sigmoid", "math.sigmoid")},
}
LOG_PROBABILITY_FUNCTIONS = frozenset(_both("nn.log_softmax", "math.log_softmax",
                                            "math.log_sigmoid"))
LOG_FUNCTIONS = frozenset(_both("math.log", "log"))
EXP_FUNCTIONS = frozenset(_both("math.exp", "exp"))
# `(x - tf.reduce_min(x)) / (tf.reduce_max(x) - tf.reduce_min(x))` scales `x` to [0, 1]
# (EXTREMUM rows).
EXTREMUM_FUNCTIONS = {**dict.fromkeys(_both("reduce_min", "math.reduce_min"), "min"),
                      **dict.fromkeys(_both("reduce_max", "math.reduce_max"), "max")}
CLIPPING_FUNCTIONS = frozenset(_both("clip_by_value"))
# TF1 layer functions that apply an activation given as a keyword: `tf.layers.dense(x, 10,
# activation=tf.nn.softmax)` returns probabilities. Value: the keyword, and its position.
ACTIVATION_LAYER_FUNCTIONS = {
    **{name: ("activation", 2) for name in _layers_core("dense")},
    "tensorflow.contrib.layers.fully_connected": ("activation_fn", 2),
}

# Losses that apply softmax or sigmoid to their `logits` themselves. tf.nn's take `(labels,
# logits)` (TF1's only by keyword); tf.compat.v1.losses' take the labels first too.
_LOGIT_LOSSES = [
    *_both("nn.softmax_cross_entropy_with_logits", "nn.softmax_cross_entropy_with_logits_v2",
           "nn.sparse_softmax_cross_entropy_with_logits", "nn.sigmoid_cross_entropy_with_logits",
           "nn.weighted_cross_entropy_with_logits", "losses.softmax_cross_entropy",
           "losses.sparse_softmax_cross_entropy", "losses.sigmoid_cross_entropy"),
]
LOSSES = {
    name: dict(wants="logits", display="tf." + name.removeprefix("tensorflow.").removeprefix(
        "compat.v1."), is_class=False, argument=1, keyword="logits",
        applies="sigmoid" if "sigmoid" in name or "weighted" in name else "softmax")
    for name in _LOGIT_LOSSES
}

# TF 0.x took the logits first, `softmax_cross_entropy_with_logits(logits, labels)`; TF 1 takes
# them only by keyword and TF 2 takes the labels first. Value: the position of the logits in TF 0.x.
LOGITS_FIRST_LOSSES = {f"tensorflow.nn.{name}": 0 for name in (
    "softmax_cross_entropy_with_logits", "sparse_softmax_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits")}
# Graph-mode calls that TF 2 has only under tf.compat.v1: a file calling `tf.placeholder` or
# `tf.Session` is TF 0.x or 1.x code, where a positional call of the losses above can only be
# TF 0.x's order (TF 1 would raise).
GRAPH_MODE_CALLS = frozenset("tensorflow." + name for name in (
    "placeholder", "Session", "InteractiveSession", "initialize_all_variables",
    "global_variables_initializer", "get_variable", "variable_scope",
    "train.GradientDescentOptimizer", "train.AdamOptimizer", "train.MomentumOptimizer",
    "train.RMSPropOptimizer", "train.AdagradOptimizer"))

# ---- file listings (DL001) ---------------------------------------------------------------------
# Directory listings whose order is whatever the filesystem returns (TF 1 spelled them
# `tf.gfile.Glob` and `tf.gfile.ListDirectory`).
LISTING_FUNCTIONS = {
    **{name: "tf.io.gfile.glob" for name in _both("io.gfile.glob")},
    **{name: "tf.io.gfile.listdir" for name in _both("io.gfile.listdir")},
    **{name: "tf.gfile.Glob" for name in _both("gfile.Glob")},
    **{name: "tf.gfile.ListDirectory" for name in _both("gfile.ListDirectory")},
}
# Listings that shuffle their file names unless told not to: `list_files(file_pattern,
# shuffle=None, seed=None)` shuffles when `shuffle` is left out, in another order on each run
# unless `seed` is given. Value: (display name, position of shuffle, position of seed).
SHUFFLED_LISTINGS = {name: ("tf.data.Dataset.list_files", 1, 2)
                     for name in _both("data.Dataset.list_files")}
# Calls that pair their datasets (or the arrays of a tuple) item by item, by position:
# `Dataset.zip((images, masks))`, `Dataset.from_tensor_slices((files, labels))`.
POSITIONAL_PAIRING = frozenset(_both("data.Dataset.zip", "data.Dataset.from_tensor_slices"))
# Calls whose items come in the order of their first argument: a dataset (or a tensor) made
# from a listing is still that listing, in its order.
ORDER_KEEPING = frozenset(_both("data.Dataset.from_tensor_slices", "constant",
                                "convert_to_tensor"))
# tf.data.Dataset methods that keep the order of the elements (`shuffle` does not).
ORDER_KEEPING_METHODS = frozenset({"map", "batch", "padded_batch", "prefetch", "cache",
                                   "repeat", "filter", "take", "skip", "unbatch"})

# ---- shapes (DL006) ----------------------------------------------------------------------------
# Reductions whose `keepdims` defaults to False.
REDUCTIONS = frozenset(_both(*(module + name for module in ("", "math.") for name in (
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_std",
    "reduce_variance", "reduce_logsumexp", "reduce_euclidean_norm"))))
# Functions that add or remove axes, named like their numpy counterparts.
RESHAPING_FUNCTIONS = frozenset(_both("squeeze", "expand_dims", "reshape"))
# Calls that make a tensor of the shape they are given: (position, keyword) of the shape. A
# literal `[13, 1]` is a (k, 1) weight; a placeholder of shape `[None]` a batch of scalars.
SHAPED_CONSTRUCTORS = {
    **{name: (0, "shape") for name in _both(
        "random_normal", "random.normal", "truncated_normal", "random.truncated_normal",
        "random_uniform", "random.uniform", "zeros", "ones")},
    **{name: (1, "shape") for name in _both("get_variable", "placeholder")},
}
# Variables have the shape of their initial value: (position, keyword) of it.
VARIABLES = {name: (0, "initial_value") for name in _both("Variable")}
# Matrix products, `matmul(a, b)`: with a (k, 1) `b` (not transposed), an (N, 1) column.
MATMUL = frozenset(_both("matmul", "linalg.matmul"))

# ---- bias before batch norm (DL303) -------------------------------------------------------------
class BiasedLayer(NamedTuple):
    """A layer function that adds a bias unless `bias` (position, keyword) is given `bias_off`,
    and applies `activation` (position, keyword; `activation_default` when left out) after it.
    tf.contrib's layers also skip the bias themselves when given a `normalizer` function."""
    bias: tuple[int, str]
    bias_off: str
    activation: tuple[int, str]
    activation_default: str = "None"
    normalizer: tuple[int, str] | None = None


_TF1_CONVOLUTIONS = ("layers.conv1d", "layers.conv2d", "layers.conv3d")
BIASED_LAYER_FUNCTIONS = {
    **{name: BiasedLayer((3, "use_bias"), "False", (2, "activation"))
       for name in _both("layers.dense")},
    **{name: BiasedLayer((8, "use_bias"), "False", (7, "activation"))
       for name in _both(*_TF1_CONVOLUTIONS)},
    **{f"tensorflow.contrib.layers.{name}": BiasedLayer(
        (12, "biases_initializer"), "None", (7, "activation_fn"), "relu", (8, "normalizer_fn"))
       for name in ("conv2d", "convolution2d", "conv1d", "conv3d", "convolution")},
    "tensorflow.contrib.layers.fully_connected": BiasedLayer(
        (7, "biases_initializer"), "None", (2, "activation_fn"), "relu", (3, "normalizer_fn")),
}
# Batch norm as a function of its input (the first argument).
BATCH_NORM_FUNCTIONS = frozenset({*_both("layers.batch_normalization"),
                                  "tensorflow.contrib.layers.batch_norm"})

# ---- custom training loops (DL307) -------------------------------------------------------------
# `with tf.GradientTape() as tape:` records the forward pass that `tape.gradient(loss, ...)`
# differentiates: a Keras model called there is being trained.
GRADIENT_TAPES = frozenset(_both("GradientTape", "autodiff.GradientTape"))
TAPE_GRADIENT_METHODS = frozenset({"gradient"})

# ---- dropout (DL306) ---------------------------------------------------------------------------
# TF1 functional dropout, by the position of `training`: `dropout(inputs, rate=0.5,
# noise_shape=None, seed=None, training=False)` drops activations only when told
# `training=True`, so left out it never regularises.
NEVER_ON_DROPOUTS = {name: 4 for name in _layers_core("dropout")}

# ---- pixels (DL003, DL005) ---------------------------------------------------------------------
# Decoders that return uint8 images unless given another `dtype` (at the position in the value).
UINT8_IMAGE_DECODERS = {
    **{name: 2 for name in _both(*(module + decoder for module in ("io.", "image.")
                                   for decoder in ("decode_png", "decode_image")))},
    **{name: -1 for name in _both(*(module + decoder for module in ("io.", "image.")
                                    for decoder in ("decode_jpeg", "decode_bmp", "decode_gif",
                                                    "decode_and_crop_jpeg")))},
}
# `convert_image_dtype(image, dtype)` scales integer images to [0, 1] when converting them to a
# float dtype; float images it leaves as they are.
SCALING_FUNCTIONS = frozenset(_both("image.convert_image_dtype"))
# `tf.cast(x, dtype)` changes the dtype and keeps the values (0-255 pixels stay 0-255).
CAST_FUNCTIONS = frozenset(_both("cast", "dtypes.cast", "saturate_cast"))
# TF1's casts to one dtype, `tf.to_float(x)`: `tf.cast(x, <the dtype in the value>)`.
FIXED_DTYPE_CASTS = {
    **{name: "tensorflow.float32" for name in _both("to_float")},
    **{name: "tensorflow.float64" for name in _both("to_double")},
    **{name: "tensorflow.bfloat16" for name in _both("to_bfloat16")},
    **{name: "tensorflow.int32" for name in _both("to_int32")},
    **{name: "tensorflow.int64" for name in _both("to_int64")},
}
# Resizing returns float32 pixels in the input's range, except with nearest-neighbour sampling
# (TF1's `resize_bilinear`, `resize_bicubic` and `resize_area` always return float32).
FLOAT_RESIZING = frozenset(_both("image.resize", "image.resize_with_pad", "image.resize_images",
                                 "image.resize_bilinear", "image.resize_bicubic",
                                 "image.resize_area"))
# Casts that clip to the target dtype's range instead of wrapping around.
SATURATING_CASTS = frozenset(_both("saturate_cast"))
# Image ops whose result keeps the input's dtype and range (flips, crops, pads, rotations).
DTYPE_KEEPING_FUNCTIONS = frozenset(_both(*("image." + name for name in (
    "flip_left_right", "flip_up_down", "random_flip_left_right", "random_flip_up_down",
    "rot90", "central_crop", "random_crop", "crop_to_bounding_box", "pad_to_bounding_box",
    "resize_with_crop_or_pad", "rgb_to_grayscale", "grayscale_to_rgb",
    "resize_nearest_neighbor")), "transpose",
    # tensor ops that select, repeat or reorder elements: each element keeps its dtype and scale
    # (a file's own crop helper built on `tf.strided_slice` returns pixels in the input's range)
    "slice", "strided_slice", "gather", "gather_nd", "reverse", "tile", "identity"))
UINT8_DTYPES = frozenset(_both("uint8", "dtypes.uint8"))
# Calls that join a list of tensors into one of the same dtype and scale. TF 0.x spelled `stack`
# `pack`, and took concat's axis first: `tf.concat(1, [a, b])`, today `tf.concat([a, b], 1)`.
STACKING = frozenset(_both("concat", "stack", "pack"))
AXIS_FIRST_STACKING = frozenset(_both("concat"))


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *(Row(name, Effect.EXTREMUM, data=which) for name, which in EXTREMUM_FUNCTIONS.items()),
    *rows(Effect.LISTING, LISTING_FUNCTIONS),
    *(Row(name, Effect.SHUFFLED_LISTING, display=listing[0], data=listing)
      for name, listing in SHUFFLED_LISTINGS.items()),
    *rows(Effect.ORDER_KEEPING, ORDER_KEEPING, position=0, keyword="input"),
    *rows(Effect.PROBABILITIES, PROBABILITY_FUNCTIONS),
    *rows(Effect.LOG_PROBABILITIES, LOG_PROBABILITY_FUNCTIONS),
    *rows(Effect.LOG, LOG_FUNCTIONS),
    *loss_rows(LOSSES),
    *(Row(name, Effect.ACTIVATION_LAYER_FUNCTION, position=position, keyword=keyword)
      for name, (keyword, position) in ACTIVATION_LAYER_FUNCTIONS.items()),
    *rows(Effect.SCALING, SCALING_FUNCTIONS),
    *(Row(name, Effect.UINT8_DECODER, position=position, keyword="dtype")
      for name, position in UINT8_IMAGE_DECODERS.items()),
    *rows(Effect.CAST, CAST_FUNCTIONS, position=1, keyword="dtype"),
    # data: the dtype the name fixes (`tf.to_float(x)`).
    *(Row(name, Effect.CAST, position=-1, data=dtype) for name, dtype in FIXED_DTYPE_CASTS.items()),
    *rows(Effect.FLOAT_RESIZING, FLOAT_RESIZING),
    *rows(Effect.CLIPPING, CLIPPING_FUNCTIONS),
    *rows(Effect.DTYPE_KEEPING, DTYPE_KEEPING_FUNCTIONS, position=0, keyword="src"),
    # data "axis first": TF 0.x's `tf.concat(1, [a, b])`, when the first argument is a literal.
    *(Row(name, Effect.STACKING, position=0, keyword="values",
          data="axis first" if name in AXIS_FIRST_STACKING else None) for name in STACKING),
    *rows(Effect.RESHAPE, RESHAPING_FUNCTIONS),
    *(Row(name, Effect.SHAPED_CONSTRUCTOR, position=position, keyword=keyword)
      for name, (position, keyword) in SHAPED_CONSTRUCTORS.items()),
    *(Row(name, Effect.VARIABLE_CONSTRUCTOR, position=position, keyword=keyword)
      for name, (position, keyword) in VARIABLES.items()),
    *rows(Effect.MATMUL, MATMUL, position=1, keyword="b"),
    *rows(Effect.ORDER_KEEPING_METHOD, ORDER_KEEPING_METHODS, match=Match.METHOD),
    *rows(Effect.POSITIONAL_PAIRING, POSITIONAL_PAIRING),
    *rows(Effect.REDUCTION, REDUCTIONS),
)
