"""Abstract values: what the semantic model knows about an expression's result.

A value is a frozenset of tags. Each tag says one thing the value is known to be (probabilities,
scaled to [0, 1], uint8 pixels, a module instance, ...) and remembers where that became true, so
a rule can report the line to change and point at the other end.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # values are read back from cached summaries by runs that never parse
    import libcst as cst

from dllint.types import RelatedLocation

PROBABILITIES = "probabilities"  # softmax / sigmoid output; detail: "softmax" | "sigmoid"
LOG_PROBABILITIES = "log_probabilities"
# An activation's output multiplied or divided by a scale (a temperature: a number other than
# 1, a parameter, an attribute): new scores, no longer the activation's (`torch.sigmoid(s) *
# self.scale` into a cross-entropy over candidates is a design, not a double activation).
# detail: the activation it was; info: the dotted name of the scale ("" for a number), so that
# `if self.scale: scores = scores * self.scale` is known to rescale whenever a scale is set.
RESCALED = "rescaled"
UNIT_SCALED = "unit_scaled"  # pixels scaled to [0, 1]; detail says how
# Standardized: `(x - mean) / std`, or a `Normalize(mean, std)` transform applied; detail: what
# the std is (`syntax.std_key`: its variables, or a literal list), to know it again.
STANDARDIZED = "standardized"
# The smallest or largest element of a value, or their difference (`x.min()`, `np.max(x)`,
# `np.ptp(x)`); detail: "min" | "max" | "range"; info: the dotted name of the value (`x`).
# `(x - lo) / (hi - lo)` of these is min-max scaling to [0, 1].
EXTREMUM = "extremum"
# In [0, 1] as the value is now: just scaled to [0, 1] (UNIT_SCALED says it was scaled, and
# stays through `x * 2 - 1`). Arithmetic drops it: `x * 255` is back in 0-255.
UNIT_RANGE = "unit_range"
# uint8 pixels taken into float arithmetic that can leave 0-255 (`image * 1.2`, `image + 40.0`,
# `image - 10.0`): cast back to uint8 without clipping, they wrap around; detail: the operation.
OUT_OF_RANGE = "out_of_range"
UINT8 = "uint8"  # info: "numpy" | "torch" | "tensorflow"
# Pixels made float without scaling (`tf.cast(image, tf.float32)`, `tf.image.resize`): still in
# 0-255, and TensorFlow's convert_image_dtype, which scales only integer images, keeps them so.
UNSCALED_FLOAT = "unscaled_float"
FLOAT64 = "float64"  # info: "numpy" | "torch"
DATAFRAME = "dataframe"  # info: "frame" | "series"
PIL_IMAGE = "pil_image"
RANK1 = "rank1"  # a 1-D array made where a column or matrix was probably meant
COLUMN = "column"  # an (N, 1) output, from Linear(..., 1)
SQUEEZED = "squeezed"  # .squeeze() with no dim: a batch of one loses its batch axis too
# An (N, 1, ...) output of a convolution with one output channel; info: its shape, "(N, 1, H, W)".
SINGLE_CHANNEL = "single_channel"
# One axis fewer than the data it was taken from: `y[:, 0]`, `squeeze(1)`, `squeeze()`. Against
# an (N, 1, ...) output it is the missing size-1 axis; info: "1", "-1" or "unit" (every one).
AXIS_DROPPED = "axis_dropped"
# How many axes the value has, where the code shows it (a reshape written out, a constructor
# given its sizes, a join of tensors of known rank, a layer that keeps its input's rank); detail:
# the count ("2"), info: what shows it, as messages quote it ("view(-1, n)"). Absent when the
# rank is not shown: no tag is never a rank.
RANK = "rank"
SHAPE_TAGS = frozenset({RANK1, COLUMN, SINGLE_CHANNEL, AXIS_DROPPED, RANK})
# A (k, 1) matrix made with that literal shape (a weight, `tf.Variable(tf.random_normal([13,
# 1]))`): its product `tf.matmul(x, w)` is an (N, 1) column. Not a shape tag: only products read it.
COLUMN_WEIGHT = "column_weight"
LISTING = "listing"  # a directory listing; info: ListingInfo. Derived lists share the tag.
# Rows read from a data file (np.load, pd.read_csv), in the order that file stores them.
RECORDS = "records"
OPTIMIZER = "optimizer"
SCHEDULER = "scheduler"
LOSS_VALUE = "loss_value"  # the tensor a loss returns: it holds the whole graph
MODULE = "module"  # an nn.Module instance; info: ModuleInfo
LOSS = "loss"  # a loss-function object; info: LossInfo
TRANSFORM = "transform"  # an image transform (pipeline); info: TransformInfo
TUPLE = "tuple"  # a tuple of known length; info: the Value of each element, by position
# A list (display, comprehension, or filled with append) of tagged data; info: the Value of its
# elements, merged. The list itself is not uint8 or scaled: `[image] * 3` repeats it.
ELEMENTS = "elements"
# A dict with known string keys (what an albumentations pipeline returns); info: tuple of
# (key, Value) pairs.
KEYED = "keyed"
# Phase one only: an instance of (or the result of calling) a name imported from another module
# of the project, not yet resolvable; detail: its qualified name. Resolved in phase two.
REFERENCE = "reference"
# An instance of a plain class (no nn.Module); detail: the class name (qualified when the class
# is in another file), info: its Members or None.
INSTANCE = "instance"
# Phase one only: what a module class's constructor or forward is handed (`Wrapper(backbone)`,
# `forward(self, x, head)`), and the output of calling it. detail: the parameter's name, info:
# "init:<position>" or "forward:<position>" (position -1: keyword-only). A summary carries the
# output into the class's forward output; the caller's file puts in what it passes there.
ARGUMENT = "argument"
ARGUMENT_OUTPUT = "argument_output"
# A symbolic Keras input (`keras.Input(...)`) and the functional graph built on it so far: what
# the layers applied to it did to the pixels it will be given; detail: "kept", "raw" or "scaled"
# as in `ModuleInfo.input_pixels`, info: the Rescaling layer (or division) when "scaled".
KERAS_INPUT = "keras_input"
# The functional graph built on a Keras input went through a layer whose call depends on the
# `training` flag (dropout, batch norm); detail: the layer, as `ModuleInfo.training_layer`.
KERAS_TRAINING = "keras_training"
# A function held as a value: a lambda (`head = lambda s: s.softmax(-1)`) or a function defined
# inside another one (a closure). detail: its name, info: the Value calling it returns (its body
# read with its parameters unknown, as for the file's other functions).
FUNCTION = "function"
# `functools.partial(f, *args, **keywords)`: a callable whose call is a call of `f` with the bound
# arguments merged in. info: (f's expression, the bound arguments).
PARTIAL = "partial"
DTYPE_TAGS = frozenset({UINT8, FLOAT64})


@dataclass(frozen=True, eq=False)
class Tag:
    kind: str
    # Where the property arose: a node of this file, or a location in another file.
    node: cst.CSTNode | None = None
    detail: str = ""
    info: Any = None
    location: RelatedLocation | None = None
    # Where the value was converted or passed on (e.g. torch.from_numpy), if that is the line
    # a person would change rather than where the property arose.
    via: cst.CSTNode | None = None


@dataclass(frozen=True)
class ModuleInfo:
    name: str
    output: frozenset  # Value of calling the module
    # True: has dropout / batch norm; False: has neither; None: cannot tell (an opaque model).
    mode_dependent: bool | None
    evidence: str = ""
    lightning: bool = False
    # The parameters' dtype once the instance was converted (`.double()`, `.to(torch.float64)`):
    # "float64", "float16", ...; "" for the float32 a module is built with.
    dtype: str = ""
    # Known to be in eval mode (until someone calls `train()`): its constructor ends with
    # `self.eval()`, a factory returned it after `eval()`, or its only dropout and batch norm are
    # in children built that way.
    in_eval: bool = False
    # "keras" or "flax" for a model of those frameworks (whose `.apply` is not torch's); "" for
    # a torch module.
    framework: str = ""
    # Keras: what the model does to the pixels it is given, judged from its first layers:
    # "scaled" (it starts with `input_scaling`, a `Rescaling(1./255)`), "raw" (its first weighted
    # layer sees them as given), "kept" (it only has layers that keep their range), "" (unknown).
    # A torch module: "converted" when its forward converts its input to float before any layer
    # (`self.conv(x.float() / 255.0)`): it takes uint8 images by design.
    input_pixels: str = ""
    input_scaling: cst.CSTNode | None = None
    # Keras: the first layer whose call depends on the `training` flag the model is called with
    # (`keras.Dropout`, `keras.BatchNormalization`, an LSTM with dropout), as messages name it;
    # "" when it has none that dllint can see. Keras has no train()/eval() modes, so such a model
    # is not `mode_dependent`: what matters is how each call passes `training`.
    training_layer: str = ""
    # A class of the project: what its instances' attributes and methods hold (Members).
    members: Members | None = None
    # A layer: the constructor parameter (of the class building it) its drop probability is,
    # as (name,) (`nn.Dropout(dropout)` in `__init__(self, ..., dropout)`). A class: the
    # constructor parameters every one of its mode-dependent layers is decided by, as
    # (position, name, default or None): an instance built with each of them 0
    # (`CausalAttention(d_in, d_out, 0.0)`) has no train/eval difference.
    decided_by: tuple = ()
    # A class of the project with a `forward` and no base class (or only `object`, or only
    # such classes): a from-scratch layer of a tutorial, not an `nn.Module`, so calling it
    # runs no hooks (`layer.forward(x)` is how it is called).
    plain: bool = False
    # Methods of the class that first switch their own instance to eval mode (`self.eval()` as
    # a statement of the method's body, not under a condition): `model.generate(x)` on such a
    # class runs in eval mode whatever mode the caller left it in.
    eval_methods: frozenset = frozenset()


@dataclass(frozen=True)
class Members:
    """What an instance of a project class holds, as seen once the whole class was: its `self`
    attributes after every method, and what each method returns. Read outside the class:
    `trainer.model(x)`, `dataset.files()`."""

    attributes: tuple[tuple[str, frozenset], ...] = ()
    methods: tuple[tuple[str, frozenset], ...] = ()

    def attribute(self, name: str) -> frozenset | None:
        return next((value for key, value in self.attributes if key == name), None)

    def method(self, name: str) -> frozenset | None:
        return next((value for key, value in self.methods if key == name), None)


@dataclass(frozen=True)
class ListingInfo:
    function: str  # "glob.glob", "os.walk", "Path.glob", ...
    # A sorted listing is still a file list: pairing an unordered listing with it is the bug.
    ordered: bool = False
    # Shuffled by the listing itself (tf.data's list_files) rather than in the filesystem's
    # order: sorting it is not the fix, `shuffle=False` is.
    shuffled: bool = False

    @property
    def walk(self) -> bool:
        return self.function == "os.walk"


@dataclass(frozen=True)
class LossInfo:
    qualified: str
    wants: str  # "logits" | "log_probabilities" | "probabilities" | "elementwise"
    display: str
    argument: int = 0  # where the prediction goes, by position and by keyword
    keyword: str = "input"


@dataclass(frozen=True)
class TransformInfo:
    scaling: cst.CSTNode | None  # the ToTensor-like step that scales to [0, 1], if any
    scaling_name: str = ""
    # True when the scaling step divides whatever it is given, float input included
    # (albumentations' Normalize divides by max_pixel_value), unlike ToTensor.
    divides_float: bool = False
    # The Normalize(mean, std) step that standardizes, if any, and its std (`syntax.std_key`).
    standardizing: cst.CSTNode | None = None
    std: str = ""
    # Every Normalize(mean, std) step, in the order the pipeline applies them
    # (`normalization.NormalizeStep`): a later one may undo an earlier standardization.
    normalizations: tuple = ()


Value = frozenset
EMPTY: Value = frozenset()


def members_of(tag: Tag) -> Members | None:
    """The members of the class a module or plain instance is an instance of, where known."""
    if tag.kind == MODULE and isinstance(tag.info, ModuleInfo):
        return tag.info.members
    if tag.kind == INSTANCE and isinstance(tag.info, Members):
        return tag.info
    return None


def tags(value: Value, kind: str) -> list[Tag]:
    """The tags of `kind`, in an order that is the same in every run (see `stable_order`)."""
    found = [tag for tag in value if tag.kind == kind]
    return found if len(found) < 2 else sorted(found, key=stable_order)


def first(value: Value, kind: str) -> Tag | None:
    """One tag of `kind`, the same in every run: a value is a set, and a set of tags that hold
    syntax nodes iterates in memory-address order, which changes from run to run (DL003's
    "first scaled here" pointed at either of two scalings)."""
    found = None
    for tag in value:
        if tag.kind == kind:
            if found is not None:
                return min((tag for tag in value if tag.kind == kind), key=stable_order)
            found = tag
    return found


def stable_order(tag: Tag) -> tuple:
    """A key that orders tags by what they say (place in another file, kind, detail, source
    text of their nodes, then where those nodes are in the file), never by identity. Only
    computed when a value holds several tags. Tags it cannot tell apart are of one kind, say
    the same and hold the same nodes (they differ only in `info`): code that would pick one of
    them reads them all instead (`tuple_parts`)."""
    location = tag.location
    return ((location.path, location.span.start_line, location.span.start_column)
            if location is not None else ("", 0, 0), tag.kind, tag.detail, _text(tag.node),
            _text(tag.via), _position(tag.node), _position(tag.via))


def _text(node: cst.CSTNode | None) -> str:
    return _empty_module().code_for_node(node) if node is not None else ""


def _position(node: cst.CSTNode | None) -> int:
    if node is None:
        return -1
    from dllint.walk import position  # the walk imports libcst, which cached summaries never do

    return position(node)


@lru_cache(maxsize=1)
def _empty_module() -> cst.Module:
    import libcst

    return libcst.Module(body=[])


def tuple_parts(value: Value, length: int) -> tuple[Value, ...] | None:
    """What each position holds in the tuples of `length` elements that `value` may be (one per
    branch that made it: `return a, b` here, `return c, d` there), merged by position; None
    when it is no such tuple. Never one tuple picked among several: which would depend on the
    set's order."""
    found = [tag.info for tag in value if tag.kind == TUPLE and len(tag.info) == length]
    if len(found) < 2:
        return found[0] if found else None
    return tuple(frozenset().union(*parts) for parts in zip(*found))


def known_rank(value: Value) -> Tag | None:
    """The RANK tag of a value whose every RANK tag says the same count (the branches that made
    it agree); None when no tag says it, or two say different counts."""
    found = tags(value, RANK)
    if not found or any(tag.detail != found[0].detail for tag in found):
        return None
    return found[0]


def rank_tag(node: cst.CSTNode, axes: int | None, how: str) -> Value:
    """A value's RANK tag, or nothing when the count is not known."""
    if axes is None or axes < 0:
        return EMPTY
    return frozenset({Tag(RANK, node, str(axes), how)})


def has(value: Value, kind: str) -> bool:
    return any(tag.kind == kind for tag in value)


def without(value: Value, kinds: Iterable[str]) -> Value:
    kinds = frozenset(kinds)
    return frozenset(tag for tag in value if tag.kind not in kinds)


def keep(value: Value, kinds: Iterable[str]) -> Value:
    kinds = frozenset(kinds)
    return frozenset(tag for tag in value if tag.kind in kinds)
