"""Image and data-library knowledge: numpy, scipy, pandas, PIL, OpenCV, imageio, scikit-image,
albumentations and torchvision's transforms and readers, keyed by qualified names as `ImportMap`
resolves them (`import cv2` + `cv2.imread` is `cv2.imread`). `catalog.py` merges these tables with
the frameworks' and turns them into effect rows."""

from __future__ import annotations

from dataclasses import dataclass

from dllint.semantic.effects import Effect, Match, Row, rows

PROBABILITY_FUNCTIONS = {"scipy.special.softmax": "softmax", "scipy.special.expit": "sigmoid"}
LOG_FUNCTIONS = frozenset({"numpy.log"})
# `1 / (1 + exp(-x))` written out is a sigmoid (`catalog.EXP_FUNCTIONS`).
EXP_FUNCTIONS = frozenset({"numpy.exp", "math.exp"})
# The smallest and largest element, and their difference (EXTREMUM rows, data: which one):
# `(x - x.min()) / (x.max() - x.min())` scales `x` to [0, 1].
EXTREMUM_FUNCTIONS = {"numpy.min": "min", "numpy.amin": "min", "numpy.nanmin": "min",
                      "numpy.max": "max", "numpy.amax": "max", "numpy.nanmax": "max",
                      "numpy.ptp": "range"}
# numpy arrays, torch tensors and pandas columns alike
EXTREMUM_METHODS = {"min": "min", "amin": "min", "max": "max", "amax": "max", "ptp": "range"}
# Calls that bound a value to a range, first argument the value (`np.clip(p, eps, 1 - eps)`).
CLIPPING_FUNCTIONS = frozenset({"numpy.clip"})

# Transforms that scale uint8 pixels to [0, 1].
SCALING_TRANSFORMS = frozenset({
    "torchvision.transforms.ToTensor", "torchvision.transforms.v2.ToTensor",
    "torchvision.transforms.functional.to_tensor",
    "torchvision.transforms.functional.convert_image_dtype",
    "torchvision.transforms.v2.functional.to_dtype",
    "torchvision.transforms.ConvertImageDtype", "torchvision.transforms.v2.ConvertImageDtype",
    "skimage.img_as_float", "skimage.util.img_as_float", "skimage.img_as_float32",
})
# Scaling functions that take the dtype to convert to (see `catalog.SCALING_DTYPE_ARGUMENTS`).
SCALING_DTYPE_ARGUMENTS = {"torchvision.transforms.functional.convert_image_dtype": (1, "dtype")}
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
PIL_OPEN = frozenset({"PIL.Image.open"})
# Readers of raw bytes that give uint8 pixels when told `dtype=np.uint8` (a camera's or a
# decoder's buffer, `np.frombuffer(data, dtype=np.uint8)`); without it they give float64.
# Position of the dtype argument.
UINT8_BUFFER_READERS = {"numpy.frombuffer": 1, "numpy.fromfile": 1}
# numpy constructors that default to float64 (when no dtype= is given).
FLOAT64_CONSTRUCTORS = frozenset({
    "numpy.random.rand", "numpy.random.randn", "numpy.random.random", "numpy.random.uniform",
    "numpy.random.normal", "numpy.random.random_sample", "numpy.zeros", "numpy.ones",
    "numpy.empty", "numpy.full", "numpy.linspace", "numpy.eye", "numpy.identity",
    "numpy.loadtxt", "numpy.genfromtxt",
})
# Where those constructors take `dtype` by position (`np.zeros((h, w), np.uint8)`).
DTYPE_POSITIONS = {"numpy.zeros": 1, "numpy.ones": 1, "numpy.empty": 1, "numpy.full": 2}
DATAFRAME_SOURCES = frozenset({"pandas.read_csv", "pandas.read_parquet", "pandas.read_excel",
                               "pandas.read_json", "pandas.DataFrame"})
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
NUMPY_ARRAY = frozenset({"numpy.array", "numpy.asarray", "numpy.asanyarray"})
# Calls whose result has the dtype and scale of their first argument (an image in, the same kind
# of image out).
DTYPE_KEEPING_FUNCTIONS = frozenset({
    "cv2.resize", "cv2.cvtColor", "cv2.flip", "cv2.rotate", "cv2.warpAffine",
    "cv2.warpPerspective", "cv2.copyMakeBorder", "cv2.GaussianBlur", "cv2.medianBlur",
    "cv2.blur", "numpy.transpose", "numpy.ascontiguousarray", "numpy.flip", "numpy.fliplr",
    "numpy.flipud", "numpy.rot90", "numpy.roll", "numpy.pad", "numpy.tile", "numpy.repeat",
    "numpy.copy",
})
# Calls that join a list (or tuple) of arrays into one array of the same dtype and scale.
STACKING = frozenset({"numpy.stack", "numpy.concatenate", "numpy.vstack", "numpy.hstack",
                      "numpy.dstack"})
# How many axes each join adds to its arrays' rank (see torch.JOIN_AXES_ADDED).
JOIN_AXES_ADDED = {"numpy.concatenate": 0, "numpy.stack": 1}
UINT8_DTYPES = frozenset({"numpy.uint8"})
# Functions that add or remove axes.
RESHAPING_FUNCTIONS = frozenset({"numpy.squeeze", "numpy.expand_dims", "numpy.reshape",
                                 "numpy.ravel"})
RANK1_CONSTRUCTORS = frozenset({"numpy.random.randn", "numpy.random.rand", "numpy.random.random",
                                "numpy.zeros", "numpy.ones", "numpy.empty"})
# Of those, the ones whose every positional argument is a size (`np.random.randn(n, d)`); the
# others take the whole shape as their first argument (`np.zeros((n, d), dtype)`).
SIZES_AS_ARGUMENTS = frozenset({"numpy.random.randn", "numpy.random.rand"})
# Of those, the ones that take sizes only (a shape sequence raises a TypeError), so one
# argument, whatever expression gives it, is one size: `np.random.randn(n)` is 1-D.
SIZES_ONLY = SIZES_AS_ARGUMENTS
FLOAT32_DTYPES = frozenset({"numpy.float32", "numpy.float16", "numpy.single", "numpy.half"})


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *(Row(name, Effect.EXTREMUM, data=which) for name, which in EXTREMUM_FUNCTIONS.items()),
    *(Row(name, Effect.EXTREMUM_METHOD, match=Match.METHOD, data=which)
      for name, which in EXTREMUM_METHODS.items()),
    *rows(Effect.PROBABILITIES, PROBABILITY_FUNCTIONS),
    Row("numpy.exp", Effect.EXP),
    *rows(Effect.LOG, LOG_FUNCTIONS),
    *rows(Effect.COMPOSE, COMPOSE | ALBUMENTATIONS_COMPOSE),
    *(Row(name, Effect.PIXEL_DIVISION, display=division.display, data=division)
      for name, division in ALBUMENTATIONS_SCALING.items()),
    *rows(Effect.SCALING, SCALING_TRANSFORMS),
    *rows(Effect.SCALING, SCALE_WHEN_FLAGGED, keyword="scale"),
    *rows(Effect.TRANSFORM, NORMALIZE_TRANSFORMS | LAMBDA_TRANSFORMS),
    *(Row(prefix, Effect.TRANSFORM, match=Match.PREFIX, capitalised=True)
      for prefix in ("torchvision.transforms.", "albumentations.")),
    *rows(Effect.UINT8_SOURCE, UINT8_NUMPY_SOURCES, data="numpy"),
    *rows(Effect.UINT8_SOURCE, UINT8_TENSOR_SOURCES, data="torch"),
    # data: the framework, and that the dtype must be given (numpy's default is float64)
    *(Row(name, Effect.UINT8_DECODER, position=position, keyword="dtype", data=("numpy", True))
      for name, position in UINT8_BUFFER_READERS.items()),
    *rows(Effect.PIL_OPEN, PIL_OPEN),
    *rows(Effect.CLIPPING, CLIPPING_FUNCTIONS),
    *rows(Effect.DTYPE_KEEPING, DTYPE_KEEPING_FUNCTIONS, position=0, keyword="src"),
    *rows(Effect.STACKING, STACKING, position=0, keyword="arrays"),
    *rows(Effect.ARRAY, NUMPY_ARRAY, position=0, keyword="object"),
    # position -1: the dtype only by keyword.
    *(Row(name, Effect.FLOAT64_SOURCE, position=DTYPE_POSITIONS.get(name, -1), keyword="dtype")
      for name in FLOAT64_CONSTRUCTORS),
    *rows(Effect.RANK1_CONSTRUCTOR, RANK1_CONSTRUCTORS),
    *rows(Effect.DATAFRAME_SOURCE, DATAFRAME_SOURCES),
    *rows(Effect.RECORD_SOURCE, RECORD_SOURCES),
    Row("numpy.float32", Effect.UNTYPED_TENSOR),
    *rows(Effect.RESHAPE, RESHAPING_FUNCTIONS),
    Row("astype", Effect.ASTYPE_METHOD, match=Match.METHOD),
    *rows(Effect.PIL_KEEPING_METHOD, ("convert", "resize", "crop", "rotate", "transpose"),
          match=Match.METHOD),
    Row("to_numpy", Effect.DATAFRAME_TO_NUMPY_METHOD, match=Match.METHOD),
    *rows(Effect.RECORD_KEEPING_METHOD, RECORD_KEEPING_METHODS, match=Match.METHOD),
)
