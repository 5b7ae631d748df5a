"""The vocabulary of library knowledge: what a call, a method or a layer does to a value's tags.

Framework knowledge is a list of `Row`s, each naming one callable (by qualified name, by a name
prefix such as "torch.nn.<Upper>", or by method name) and one `Effect`. A `Registry` compiles the
rows once, at import, into lookup dicts; `transfer.py` dispatches on them (one handler per effect)
and the cheap text gates (`SUMMARY_GATE`, rules' `requires_any`) are computed from them, so a new
row is both applied and never filtered out by a gate.

Effects are declared in the order the dispatcher tries them when one name has several rows
(`torch.sigmoid` is PROBABILITIES and SHAPE_KEEPING; `keras.layers.Softmax` is a
PROBABILITY_LAYER before it is a KERAS_LAYER): that order is the precedence, written once here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from dllint.semantic import values as tags


class Stage(enum.Enum):
    """When the dispatcher consults a row."""
    CALL = "call"  # library calls, before the project's own definitions are looked up
    DATA = "data"  # data-library calls, after the project's own definitions are looked up
    BUILTIN = "builtin"  # Python's builtins, called by bare name
    METHOD = "method"  # methods, by name, whatever the receiver turns out to be
    KNOWLEDGE = "knowledge"  # read by rules and the model directly, never dispatched


class Effect(enum.Enum):
    """One kind of library behaviour: the stage it is dispatched in and the tag kinds it
    originates (puts on a value without getting them from an argument or the receiver: what
    decides whether a file using it must be summarised for other files). Declaration order is
    the dispatch precedence."""

    def __new__(cls, stage: Stage, produces: Iterable[str] = ()) -> "Effect":
        member = object.__new__(cls)
        member._value_ = len(cls.__members__)
        member.stage = stage
        member.produces = frozenset(produces)
        return member

    # Library calls, in the order `_library_call` tries them.
    LISTING = (Stage.CALL, {tags.LISTING})  # a directory listing in the filesystem's order
    # Data: (display, shuffle position, seed position).
    SHUFFLED_LISTING = (Stage.CALL, {tags.LISTING})
    # Items keep the order of argument `position`.
    ORDER_KEEPING = (Stage.CALL, ())
    SORTING = (Stage.CALL, ())
    # A copy of the modules of argument position/keyword, born at the call (an EMA, a teacher).
    MODULE_COPY = (Stage.CALL, ())
    # The modules of argument position/keyword, run unchanged (DDP, torch.compile): `via` the call.
    MODULE_WRAPPER = (Stage.CALL, ())
    # functools.partial: a callable of the function at position 0, with the rest bound.
    PARTIAL = (Stage.CALL, ())
    PROBABILITIES = (Stage.CALL, {tags.PROBABILITIES})  # display: "softmax" | "sigmoid"
    SHAPE_KEEPING = (Stage.CALL, ())
    LOG_PROBABILITIES = (Stage.CALL, {tags.LOG_PROBABILITIES})
    EXP = (Stage.CALL, ())  # exp of log-probabilities
    NO_OP_WRAPPER = (Stage.CALL, ())  # the argument `position`/`keyword` itself (autograd.Variable)
    LOG = (Stage.CALL, ())  # log of probabilities
    PROBABILITY_LAYER = (Stage.CALL, {tags.MODULE, tags.PROBABILITIES})
    LOG_PROBABILITY_LAYER = (Stage.CALL, {tags.MODULE, tags.LOG_PROBABILITIES})
    # Dropout, batch norm: train() != eval(); data: the ModeArgument that decides it.
    MODE_DEPENDENT_LAYER = (Stage.CALL, {tags.MODULE})
    CONTAINER = (Stage.CALL, {tags.MODULE})  # nn.Sequential: outputs what its last member does
    # nn.ModuleList: holds its members without calling them; display: the name messages use.
    MODULE_COLLECTION = (Stage.CALL, {tags.MODULE})
    LOSS_CLASS = (Stage.CALL, {tags.LOSS})  # data: Loss
    KERAS_INPUT = (Stage.CALL, {tags.KERAS_INPUT})
    KERAS_LAYER = (Stage.CALL, {tags.MODULE})
    KERAS_SEQUENTIAL = (Stage.CALL, {tags.MODULE})
    # Data: (position, keywords) of `outputs`.
    KERAS_FUNCTIONAL_MODEL = (Stage.CALL, {tags.MODULE})
    # The activation at position/keyword.
    ACTIVATION_LAYER_FUNCTION = (Stage.CALL, {tags.PROBABILITIES})
    APPLY_FUNCTION_HOLDER = (Stage.CALL, ())  # holds the module passed as `keyword`
    # (N, 1) output when argument position/keyword is 1.
    COLUMN_LAYER = (Stage.CALL, {tags.MODULE, tags.COLUMN})
    # Display: the output shape.
    SINGLE_CHANNEL_LAYER = (Stage.CALL, {tags.MODULE, tags.SINGLE_CHANNEL})
    LAYER = (Stage.CALL, {tags.MODULE})
    SCHEDULER = (Stage.CALL, {tags.SCHEDULER})
    OPTIMIZER = (Stage.CALL, {tags.OPTIMIZER})
    LOSS_FUNCTION = (Stage.CALL, {tags.LOSS_VALUE})  # data: Loss
    OPAQUE_MODEL = (Stage.CALL, {tags.MODULE})  # a model whose layers are not visible
    # Data-library calls, in the order `_data_call` tries them.
    COMPOSE = (Stage.DATA, ())
    PIXEL_DIVISION = (Stage.DATA, ())  # data: frameworks.data.PixelDivision
    # Keyword: the flag it needs True, if any.
    SCALING = (Stage.DATA, {tags.UNIT_SCALED, tags.UNIT_RANGE})
    UINT8_DECODER = (Stage.DATA, {tags.UINT8})  # position: of its dtype argument (-1: none)
    UINT8_DATASET = (Stage.DATA, {tags.TUPLE, tags.UINT8})
    # Position/keyword: the dtype; data, instead, the dtype the name fixes (`tf.to_float`).
    CAST = (Stage.DATA, {tags.UINT8, tags.FLOAT64, tags.UNSCALED_FLOAT})
    FLOAT_RESIZING = (Stage.DATA, ())
    TRANSFORM = (Stage.DATA, ())  # a transform that does not scale
    UINT8_SOURCE = (Stage.DATA, {tags.UINT8})  # data: the library of the array ("numpy" | "torch")
    PIL_OPEN = (Stage.DATA, {tags.PIL_IMAGE})
    CLIPPING = (Stage.DATA, ())  # bounds its first argument: what it was, back within its range
    DTYPE_KEEPING = (Stage.DATA, ())
    STACKING = (Stage.DATA, ())  # data "axis first": TF 0.x's `concat(axis, values)`
    ARRAY = (Stage.DATA, {tags.UINT8})
    # Position/keyword: the dtype (position -1: by keyword only); a uint8 dtype makes a buffer.
    FLOAT64_SOURCE = (Stage.DATA, {tags.FLOAT64, tags.RANK1, tags.UINT8})
    RANK1_CONSTRUCTOR = (Stage.DATA, {tags.RANK1})
    # A tensor of the literal shape at position/keyword: (k, 1) a column weight, [None] rank 1.
    SHAPED_CONSTRUCTOR = (Stage.DATA, {tags.COLUMN_WEIGHT, tags.RANK1})
    # A variable: the shape of its initial value at position/keyword.
    VARIABLE_CONSTRUCTOR = (Stage.DATA, ())
    # `matmul(x, w)` with w, at position/keyword, a (k, 1) weight not transposed: an (N, 1) column.
    MATMUL = (Stage.DATA, {tags.COLUMN})
    DATAFRAME_SOURCE = (Stage.DATA, {tags.DATAFRAME, tags.RECORDS})
    RECORD_SOURCE = (Stage.DATA, {tags.RECORDS})
    TO_TENSOR = (Stage.DATA, {tags.UINT8, tags.FLOAT64})  # now a torch tensor's dtype
    UNTYPED_TENSOR = (Stage.DATA, ())  # a tensor built without a dtype: float32 whatever it holds
    # Display: the method it acts as.
    RESHAPE = (Stage.DATA, {tags.AXIS_DROPPED})
    EXTREMUM = (Stage.DATA, {tags.EXTREMUM})  # data: "min" | "max" | "range" of the argument
    # Builtins, in the order `_builtin` tries them (`sorted` is a SORTING row).
    BUILTIN_ORDER_KEEPING = (Stage.BUILTIN, ())  # position: the iterable
    WALK_STEP = (Stage.BUILTIN, ())  # next(os.walk(root))
    # Methods, in the order `_method` tries them; most look at the receiver too.
    LISTING_METHOD = (Stage.METHOD, {tags.LISTING})
    ORDER_KEEPING_METHOD = (Stage.METHOD, ())  # on a listing's dataset
    PROBABILITY_METHOD = (Stage.METHOD, {tags.PROBABILITIES})
    SHAPE_KEEPING_METHOD = (Stage.METHOD, ())
    LOG_PROBABILITY_METHOD = (Stage.METHOD, {tags.LOG_PROBABILITIES})
    LOG_METHOD = (Stage.METHOD, ())
    EXP_METHOD = (Stage.METHOD, ())
    FORWARD_METHOD = (Stage.METHOD, ())
    MODULE_DTYPE_METHOD = (Stage.METHOD, ())  # data: the dtype ("" float32; None: `.to`)
    MODE_SWITCH_METHOD = (Stage.METHOD, ())  # eval() / train()
    # Returns the module or loss itself.
    SAME_MODULE_METHOD = (Stage.METHOD, ())
    # `.to(dtype)`: a cast when given a dtype.
    TO_METHOD = (Stage.METHOD, {tags.FLOAT64, tags.UINT8})
    SQUEEZE_METHOD = (Stage.METHOD, {tags.AXIS_DROPPED})  # a passthrough that drops an axis
    CLIPPING_METHOD = (Stage.METHOD, ())  # `x.clamp(0, 255)`: see CLIPPING
    PASSTHROUGH_METHOD = (Stage.METHOD, ())  # shape or device only; data True: drops the graph
    # Uint8 pixels (or a PIL image) cast to float: float pixels still in 0-255.
    FLOAT_CAST_METHOD = (Stage.METHOD, {tags.UNSCALED_FLOAT})
    FLOAT64_CAST_METHOD = (Stage.METHOD, {tags.FLOAT64, tags.UNSCALED_FLOAT})
    ASTYPE_METHOD = (Stage.METHOD, {tags.UINT8, tags.FLOAT64})
    SCALING_METHOD = (Stage.METHOD, {tags.UNIT_SCALED, tags.UNIT_RANGE})  # data: "divide" | "multiply" (by 1/255)
    PIL_KEEPING_METHOD = (Stage.METHOD, {tags.PIL_IMAGE})
    DATAFRAME_TO_NUMPY_METHOD = (Stage.METHOD, {tags.FLOAT64, tags.RANK1, tags.RECORDS})
    RECORD_KEEPING_METHOD = (Stage.METHOD, ())
    EXTREMUM_METHOD = (Stage.METHOD, {tags.EXTREMUM})  # `x.min()`; data as EXTREMUM
    COPY_METHOD = (Stage.METHOD, ())
    # Knowledge read by rules directly (`catalog` keeps views of them by their old table names).
    POSITIONAL_PAIRING = (Stage.KNOWLEDGE, ())  # pairs its arguments' items by position (DL001)
    REDUCTION = (Stage.KNOWLEDGE, ())  # a reduction whose keepdims defaults to False (DL006)


# Effects one name cannot have together: a call returns probabilities or log-probabilities, is
# a loss class or a loss function, is a source of uint8 or of float64 data, never both.
EXCLUSIVE = (
    frozenset({Effect.PROBABILITIES, Effect.LOG_PROBABILITIES, Effect.LOG, Effect.EXP}),
    frozenset({Effect.PROBABILITY_LAYER, Effect.LOG_PROBABILITY_LAYER}),
    frozenset({Effect.LOSS_CLASS, Effect.LOSS_FUNCTION}),
    frozenset({Effect.UINT8_SOURCE, Effect.FLOAT64_SOURCE}),
    frozenset({Effect.LISTING, Effect.SHUFFLED_LISTING, Effect.SORTING}),
)


class Match(enum.Enum):
    EXACT = "exact"  # `name` is a qualified name
    PREFIX = "prefix"  # `name` is the start of qualified names (see Row's prefix conditions)
    METHOD = "method"  # `name` is a method name, whatever the receiver


@dataclass(frozen=True)
class Row:
    """One library callable and what it does. `position`/`keyword` locate the argument the
    effect reads (a dtype, an output size, a flag); `data` holds an effect's own record."""
    name: str
    effect: Effect
    display: str = ""  # how messages name it
    position: int = 0
    keyword: str = ""
    data: object = None
    match: Match = Match.EXACT
    # Prefix rows only: the last segment must be capitalised (a class), the name must have
    # exactly `dots` dots (0: any), contain `last_contains` in its last segment, and contain
    # none of `excluding`.
    capitalised: bool = False
    dots: int = 0
    last_contains: str = ""
    excluding: tuple[str, ...] = ()
    # What any use of the row contains, where its name is too common to gate a file on:
    # `.to(...)` casts only when it names a dtype, `.div(...)` scales only by 255.
    gate: tuple[str, ...] = ()

    def matches(self, qualified: str) -> bool:
        """Whether a prefix row covers `qualified` (exact rows are found by dict look-up)."""
        if not qualified.startswith(self.name):
            return False
        last = qualified.rsplit(".", 1)[-1]
        return ((not self.capitalised or last[:1].isupper())
                and (not self.dots or qualified.count(".") == self.dots)
                and self.last_contains in last
                and not any(part in qualified for part in self.excluding))

    @property
    def tokens(self) -> tuple[str, ...]:
        """What a file that uses the row must contain (one of): its `gate`, else the name as
        written at any call site, whatever the import (`from torch.nn import Softmax` still
        writes `Softmax`). A file that names something under a prefix imports every segment of
        the prefix; the longest is the least likely to be an everyday word ("torch", not "nn";
        "torchvision", not "models")."""
        if self.gate:
            return self.gate
        if self.match is Match.PREFIX:
            return (self.last_contains or max(self.name.rstrip(".").split("."), key=len),)
        return (self.name.rsplit(".", 1)[-1],)


# The record of a LOSS_CLASS or LOSS_FUNCTION row: what its input must be, and how messages name
# it. A class (`nn.NLLLoss`) is called on its instance; a function (`F.nll_loss`) directly.
# `wants`: "logits" (the loss applies log-softmax / log-sigmoid itself), "log_probabilities",
# "probabilities", or "elementwise".
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
    # What a loss that wants logits applies to them itself, as messages name it: "log_softmax"
    # (torch's cross_entropy), "softmax" (a Keras or TF softmax cross-entropy), "sigmoid"
    # (BCEWithLogitsLoss); "" for a loss that applies nothing (nll_loss, MSE).
    applies: str = ""


def loss_rows(losses: dict[str, dict]) -> list[Row]:
    """The rows of a framework's losses, written as keyword records of `Loss`."""
    return [Row(name, Effect.LOSS_CLASS if row["is_class"] else Effect.LOSS_FUNCTION,
                display=row["display"], data=Loss(**row)) for name, row in losses.items()]


def rows(effect: Effect, names: Iterable[str] | dict, **fields: object) -> list[Row]:
    """Rows of one effect for many names; a dict's values become each row's `display`."""
    values = names if isinstance(names, dict) else dict.fromkeys(names, fields.pop("display", ""))
    return [Row(name, effect, display=display, **fields) for name, display in values.items()]


class ConflictingRows(ValueError):
    """One name given two effects that cannot both hold, or one effect twice with different
    parameters: the tables disagree, and the dispatcher would silently pick one."""


class Registry:
    """The rows of every framework, compiled once into look-ups: by qualified name (builtins
    included, as `builtins.sorted`), by prefix, by method name, and by effect (for the tables
    rules read and the gates)."""

    def __init__(self, all_rows: Iterable[Row]) -> None:
        exact: dict[str, dict[Effect, Row]] = {}
        methods: dict[str, dict[Effect, Row]] = {}
        prefixes: list[Row] = []
        by_effect: dict[Effect, list[Row]] = {}
        for row in all_rows:
            by_effect.setdefault(row.effect, []).append(row)
            if row.match is Match.PREFIX:
                prefixes.append(row)
                continue
            table = methods if row.match is Match.METHOD else exact
            _add(table.setdefault(row.name, {}), row)
        self._exact = {name: _ordered(found) for name, found in exact.items()}
        self._methods = {name: _ordered(found) for name, found in methods.items()}
        self._prefixes = tuple(sorted(prefixes, key=lambda row: row.effect.value))
        self._by_effect = {effect: tuple(found) for effect, found in by_effect.items()}
        self.calls = lru_cache(maxsize=8192)(self._calls)

    def _calls(self, qualified: str) -> tuple[Row, ...]:
        """The rows of a called name, exact and prefix, in dispatch order."""
        found = self._exact.get(qualified, ())
        covering = tuple(row for row in self._prefixes if row.matches(qualified))
        if not covering:
            return found
        return tuple(sorted(found + covering, key=lambda row: row.effect.value))

    def methods(self, name: str) -> tuple[Row, ...]:
        return self._methods.get(name, ())

    def of(self, *effects: Effect) -> tuple[Row, ...]:
        return tuple(row for effect in effects for row in self._by_effect.get(effect, ()))

    def names(self, *effects: Effect) -> frozenset[str]:
        """The exact names (or method names) of the rows of `effects`: a table rules read."""
        return frozenset(row.name for row in self.of(*effects) if row.match is not Match.PREFIX)

    def table(self, effect: Effect, field: str = "display") -> dict:
        """`{name: row.<field>}` for the exact rows of one effect."""
        return {row.name: getattr(row, field) for row in self.of(effect)
                if row.match is not Match.PREFIX}

    def has(self, qualified: str, effect: Effect) -> bool:
        return any(row.effect is effect for row in self._exact.get(qualified, ()))

    def tokens(self, *effects: Effect) -> frozenset[str]:
        """What a file must contain for a row of `effects` to apply in it."""
        return frozenset(token for row in self.of(*effects) for token in row.tokens)

    def producing(self, tags: frozenset[str]) -> tuple[Effect, ...]:
        """The effects that can put one of `tags` on a value."""
        return tuple(effect for effect in self._by_effect if effect.produces & tags)


def _add(found: dict[Effect, Row], row: Row) -> None:
    existing = found.get(row.effect)
    if existing is not None and existing != row:
        raise ConflictingRows(f"{row.name}: {row.effect.name} given twice, differently: "
                              f"{existing} and {row}")
    for group in EXCLUSIVE:
        clash = next((other for other in found if other in group and other is not row.effect
                      and row.effect in group), None)
        if clash is not None:
            raise ConflictingRows(f"{row.name}: both {clash.name} and {row.effect.name}")
    found[row.effect] = row


def _ordered(found: dict[Effect, Row]) -> tuple[Row, ...]:
    return tuple(sorted(found.values(), key=lambda row: row.effect.value))


def minimal_tokens(tokens: Iterable[str]) -> tuple[str, ...]:
    """The tokens with every one that contains another left out: a text holding "log_softmax"
    holds "softmax", so scanning for both is scanning twice. Sorted, so the gate is stable."""
    unique = sorted(set(token for token in tokens if token), key=lambda token: (len(token), token))
    kept: list[str] = []
    for token in unique:
        if not any(shorter in token for shorter in kept):
            kept.append(token)
    return tuple(sorted(kept))


def gate_pattern(tokens: Iterable[str]) -> re.Pattern[str]:
    """One compiled alternation of the tokens, for a gate read on every file."""
    return re.compile("|".join(re.escape(token) for token in minimal_tokens(tokens)))
