"""TensorFlow knowledge (tf.nn, tf.math, TF1 layers and losses), keyed by qualified names as
`ImportMap` resolves them: `import tensorflow as tf` + `tf.nn.softmax` is `tensorflow.nn.softmax`.
Keras, also when reached through `tf.keras`, is in `keras.py`."""

from __future__ import annotations

from dllint.semantic.effects import Effect, Match, Row, loss_rows, rows

# TF1 code reaches the same functions through tf.compat.v1.
_V1 = "tensorflow.compat.v1."


def _both(*paths: str) -> list[str]:
    """`nn.softmax` as `tensorflow.nn.softmax` and `tensorflow.compat.v1.nn.softmax`."""
    return [prefix + path for prefix in ("tensorflow.", _V1) for path in paths]


PROBABILITY_FUNCTIONS = {
    **{name: "softmax" for name in _both("nn.softmax", "math.softmax")},
    **{name: "sigmoid" for name in _both("sigmoid", "nn.sigmoid", "math.sigmoid")},
}
LOG_PROBABILITY_FUNCTIONS = frozenset(_both("nn.log_softmax", "math.log_softmax",
                                            "math.log_sigmoid"))
LOG_FUNCTIONS = frozenset(_both("math.log", "log"))
# TF1 layer functions that apply an activation given as a keyword: `tf.layers.dense(x, 10,
# activation=tf.nn.softmax)` returns probabilities. Value: the keyword, and its position.
ACTIVATION_LAYER_FUNCTIONS = {
    **{name: ("activation", 2) for name in _both("layers.dense")},
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
        "compat.v1."), is_class=False, argument=1, keyword="logits")
    for name in _LOGIT_LOSSES
}

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

# ---- dropout (DL306) ---------------------------------------------------------------------------
# TF1 functional dropout, by the position of `training`: `dropout(inputs, rate=0.5,
# noise_shape=None, seed=None, training=False)` drops activations only when told
# `training=True`, so left out it never regularises.
NEVER_ON_DROPOUTS = {name: 4 for name in _both("layers.dropout")}

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
# Resizing returns float32 pixels in the input's range, except with nearest-neighbour sampling.
FLOAT_RESIZING = frozenset(_both("image.resize", "image.resize_with_pad", "image.resize_images"))
# Image ops whose result keeps the input's dtype and range (flips, crops, pads, rotations).
DTYPE_KEEPING_FUNCTIONS = frozenset(_both(*("image." + name for name in (
    "flip_left_right", "flip_up_down", "random_flip_left_right", "random_flip_up_down",
    "rot90", "central_crop", "random_crop", "crop_to_bounding_box", "pad_to_bounding_box",
    "resize_with_crop_or_pad", "rgb_to_grayscale", "grayscale_to_rgb")), "transpose"))
UINT8_DTYPES = frozenset(_both("uint8", "dtypes.uint8"))


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
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
    *rows(Effect.FLOAT_RESIZING, FLOAT_RESIZING),
    *rows(Effect.DTYPE_KEEPING, DTYPE_KEEPING_FUNCTIONS, position=0, keyword="src"),
    *rows(Effect.RESHAPE, RESHAPING_FUNCTIONS),
    *rows(Effect.ORDER_KEEPING_METHOD, ORDER_KEEPING_METHODS, match=Match.METHOD),
    *rows(Effect.POSITIONAL_PAIRING, POSITIONAL_PAIRING),
    *rows(Effect.REDUCTION, REDUCTIONS),
)
