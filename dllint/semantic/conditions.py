"""What a branch condition says about values: the dtype it tests, and whether it is decided.

Readings of an `if` test, for the model's branch tracking (`model.py`, `_Branch`):

- `dtype_narrowings(test, holds, qualify)`: inside `if image.dtype == np.uint8:` the image is
  uint8, and in its `else:` (or after the `if` whose body returned) it is not. Each narrowing
  names a variable and the dtype buckets it may still be in; the model drops the dtype tags
  (`UINT8`, `FLOAT64`) that contradict them, so a float branch of a dtype dispatch is never
  judged as uint8.
- `decided(test, constants)`: the truth of a test that reads only parameters whose value is
  the same constant at every call (`if as_uint8:` in a helper no caller passes `as_uint8`
  to); None when it is not decided.
- `mode_flag_subjects(test)`: the objects whose `.training` flag a test reads (`if
  model.training:`): code under it was written for the mode it finds.

Pure functions of the syntax (and of `qualify`, which resolves imported names): no state.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.syntax import integer
from dllint.walk import children

Qualify = Callable[[cst.BaseExpression], "str | None"]

# The dtype buckets a value may be in: the two the model tags (uint8, float64) and the rest.
UINT8_BUCKET, FLOAT64_BUCKET, OTHER_FLOAT, OTHER = "uint8", "float64", "other_float", "other"
EVERY_BUCKET = frozenset({UINT8_BUCKET, FLOAT64_BUCKET, OTHER_FLOAT, OTHER})


class _Category:
    """A dtype or a family of them, as buckets: those it may fall in (`touches`) and those
    whose every dtype it includes (`covers`). `x.dtype == T` holding leaves x in `touches`;
    failing, outside `covers` (`!= np.float32` says nothing of float16, both OTHER_FLOAT)."""

    __slots__ = ("touches", "covers")

    def __init__(self, touches: Iterable[str], covers: Iterable[str] = ()) -> None:
        self.touches = frozenset(touches)
        self.covers = frozenset(covers)

    def __or__(self, other: _Category) -> _Category:
        return _Category(self.touches | other.touches, self.covers | other.covers)


_UINT8 = _Category({UINT8_BUCKET}, {UINT8_BUCKET})
_FLOAT64 = _Category({FLOAT64_BUCKET}, {FLOAT64_BUCKET})
_SMALL_FLOAT = _Category({OTHER_FLOAT})
_FLOATING = _Category({FLOAT64_BUCKET, OTHER_FLOAT}, {FLOAT64_BUCKET, OTHER_FLOAT})
_INTEGER = _Category({UINT8_BUCKET, OTHER}, {UINT8_BUCKET})
_OTHER_INTEGER = _Category({OTHER})

# The last part of a dtype's name (`np.float32`, `tf.uint8`, `"float64"`), or a numpy family
# (`np.issubdtype(x.dtype, np.floating)`).
_DTYPE_NAMES: dict[str, _Category] = {
    "uint8": _UINT8, "float64": _FLOAT64, "double": _FLOAT64, "float_": _FLOAT64,
    "float32": _SMALL_FLOAT, "float16": _SMALL_FLOAT, "half": _SMALL_FLOAT,
    "bfloat16": _SMALL_FLOAT, "single": _SMALL_FLOAT,
    "floating": _FLOATING, "inexact": _FLOATING,
    "integer": _INTEGER, "unsignedinteger": _INTEGER,
    **{name: _OTHER_INTEGER for name in ("int8", "int16", "int32", "int64", "uint16", "uint32",
                                          "uint64", "signedinteger", "bool", "bool_", "long",
                                          "short", "intc", "int_")},
}
# numpy's kind codes (`x.dtype.kind == "f"`).
_KINDS = {"f": _FLOATING, "u": _INTEGER, "i": _OTHER_INTEGER, "b": _OTHER_INTEGER}
# TensorFlow's DType predicates (`x.dtype.is_floating`).
_PREDICATES = {"is_floating": _FLOATING, "is_integer": _INTEGER}
# Calls that hand on the dtype they are given: `tf.as_dtype(x.dtype)`, `str(x.dtype)`.
_DTYPE_WRAPPERS = frozenset({"tensorflow.as_dtype", "tensorflow.dtypes.as_dtype", "numpy.dtype",
                             "builtins.str"})


def _category(node: cst.BaseExpression, qualify: Qualify) -> _Category | None:
    """The dtype (or family) an expression names: `np.uint8`, `torch.float`, `"float32"`,
    `float`, `np.floating`; None when it names none."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        text = value if isinstance(value, str) else ""
        return _FLOAT64 if text == "float" else _DTYPE_NAMES.get(text)
    qualified = qualify(node)
    if qualified is None:
        return None
    if qualified in catalog.UINT8_DTYPES:
        return _UINT8
    if qualified == "builtins.float":
        return _FLOAT64  # numpy reads the Python float as float64
    if qualified == "builtins.int":
        return _OTHER_INTEGER
    root, _, last = qualified.rpartition(".")
    if last == "float":  # torch.float is float32; numpy's old np.float alias, float64
        return _SMALL_FLOAT if root.split(".", 1)[0] == "torch" else _FLOAT64
    return _DTYPE_NAMES.get(last)


def _dtype_subject(node: cst.BaseExpression, qualify: Qualify) -> cst.Name | None:
    """The variable whose dtype an expression is: `image.dtype`, `image.dtype.name`,
    `tf.as_dtype(image.dtype)`, `str(image.dtype)`."""
    if isinstance(node, cst.Call) and len(node.args) == 1 and \
            qualify(node.func) in _DTYPE_WRAPPERS:
        return _dtype_subject(node.args[0].value, qualify)
    if isinstance(node, cst.Attribute) and node.attr.value in ("name", "base_dtype"):
        return _dtype_subject(node.value, qualify)
    if isinstance(node, cst.Attribute) and node.attr.value == "dtype" and \
            isinstance(node.value, cst.Name):
        return node.value
    return None


def _dtype_test(test: cst.BaseExpression, qualify: Qualify
                ) -> tuple[cst.Name, _Category, bool] | None:
    """(variable, dtype category, whether the test holding puts the variable in it) for one
    dtype test; None for any other test."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comparison = test.comparisons[0]
        operator = comparison.operator
        left, right = test.left, comparison.comparator
        if isinstance(operator, (cst.In, cst.NotIn)):
            subject = _dtype_subject(left, qualify)
            if subject is None or not isinstance(right, (cst.List, cst.Tuple, cst.Set)) or \
                    not right.elements:
                return None
            categories = [_category(element.value, qualify) for element in right.elements]
            if any(category is None for category in categories):
                return None
            joined = categories[0]
            for category in categories[1:]:
                joined = joined | category
            return subject, joined, isinstance(operator, cst.In)
        if not isinstance(operator, (cst.Equal, cst.Is, cst.NotEqual, cst.IsNot)):
            return None
        positive = isinstance(operator, (cst.Equal, cst.Is))
        for side, other in ((left, right), (right, left)):
            kind = _kind_subject(side)
            if kind is not None and isinstance(other, cst.SimpleString) and \
                    other.evaluated_value in _KINDS:
                return kind, _KINDS[other.evaluated_value], positive
            subject = _dtype_subject(side, qualify)
            category = _category(other, qualify) if subject is not None else None
            if category is not None:
                return subject, category, positive
        return None
    if isinstance(test, cst.Call):
        func = test.func
        if isinstance(func, cst.Attribute) and func.attr.value == "is_floating_point" and \
                isinstance(func.value, cst.Name) and not test.args:
            return func.value, _FLOATING, True
        qualified = qualify(func)
        if qualified == "numpy.issubdtype" and len(test.args) == 2:
            subject = _dtype_subject(test.args[0].value, qualify)
            category = _category(test.args[1].value, qualify)
            if subject is not None and category is not None:
                return subject, category, True
        if qualified == "builtins.isinstance" and len(test.args) == 2 and \
                isinstance(test.args[0].value, cst.Name):
            kinds = test.args[1].value
            elements = [element.value for element in kinds.elements] \
                if isinstance(kinds, cst.Tuple) else [kinds]
            categories = [_category(element, qualify) for element in elements]
            if categories and all(category is _FLOAT64 or category is _FLOATING
                                  for category in categories):
                return test.args[0].value, _FLOATING, True  # float, np.floating
        return None
    if isinstance(test, cst.Attribute) and test.attr.value in _PREDICATES:
        subject = _dtype_subject(test.value, qualify)
        if subject is not None:
            return subject, _PREDICATES[test.attr.value], True
    return None


def _kind_subject(node: cst.BaseExpression) -> cst.Name | None:
    """`image.dtype.kind`: the variable whose kind code it is."""
    if isinstance(node, cst.Attribute) and node.attr.value == "kind":
        inner = node.value
        if isinstance(inner, cst.Attribute) and inner.attr.value == "dtype" and \
                isinstance(inner.value, cst.Name):
            return inner.value
    return None


def dtype_narrowings(test: cst.BaseExpression, holds: bool, qualify: Qualify
                     ) -> list[tuple[str, frozenset[str]]]:
    """The dtype buckets each variable tested by `test` may be in where the test `holds`
    (True: the body of `if test:`; False: its `else:`, or what follows an `if` whose body
    returns): `image.dtype == np.uint8`, `!=`, `is`, `in (...)`, `not ...`, `and` where it holds,
    `or` where it fails, `x.is_floating_point()`, `np.issubdtype(x.dtype, np.floating)`,
    `tf.as_dtype(x.dtype).is_floating`, `x.dtype.kind == "f"`, `isinstance(x, float)`."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return dtype_narrowings(test.expression, not holds, qualify)
    if isinstance(test, cst.BooleanOperation):
        # Both sides hold where `a and b` holds; both fail where `a or b` fails.
        if isinstance(test.operator, cst.And) == holds:
            return dtype_narrowings(test.left, holds, qualify) + \
                dtype_narrowings(test.right, holds, qualify)
        return []
    found = _dtype_test(test, qualify)
    if found is None:
        return []
    subject, category, positive = found
    inside = positive == holds
    buckets = category.touches if inside else EVERY_BUCKET - category.covers
    return [(subject.value, buckets)] if buckets != EVERY_BUCKET else []


# -- tests decided by constant parameters ------------------------------------------------------

UNKNOWN = object()  # a value that is no literal constant


def constant(node: cst.BaseExpression) -> object:
    """The value of a literal (`"sub_mean"`, `3`, `-1.5`, `True`, `None`), else UNKNOWN."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, (str, bytes)) else UNKNOWN
    if isinstance(node, cst.Integer):
        value = integer(node)
        return UNKNOWN if value is None else value
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = constant(node.expression)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) \
            else UNKNOWN
    return UNKNOWN


def decided(test: cst.BaseExpression, constants: Mapping[str, tuple]) -> bool | None:
    """Whether `test` holds, where it reads only parameters that have the same few constant
    values at every call (`constants`: name -> the values the calls give it), and it is the
    same for each of them; None when that is not known."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = decided(test.expression, constants)
        return None if inner is None else not inner
    if isinstance(test, cst.BooleanOperation):
        left, right = decided(test.left, constants), decided(test.right, constants)
        if isinstance(test.operator, cst.And):
            return False if False in (left, right) else (True if left and right else None)
        return True if True in (left, right) else (
            False if left is False and right is False else None)
    outcomes = _outcomes(test, constants)
    if outcomes is None or len(outcomes) != 1:
        return None
    return outcomes.pop()


def _outcomes(test: cst.BaseExpression, constants: Mapping[str, tuple]) -> set[bool] | None:
    if isinstance(test, cst.Name) and test.value in constants:
        return {bool(value) for value in constants[test.value]}
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
        return None
    comparison = test.comparisons[0]
    operator, left, right = comparison.operator, test.left, comparison.comparator
    if not isinstance(left, cst.Name) or left.value not in constants:
        return None
    values = constants[left.value]
    if isinstance(operator, (cst.In, cst.NotIn)):
        if not isinstance(right, (cst.List, cst.Tuple, cst.Set)):
            return None
        options = [constant(element.value) for element in right.elements]
        if UNKNOWN in options or any(isinstance(element, cst.StarredElement)
                                     for element in right.elements):
            return None
        return {(value in options) == isinstance(operator, cst.In) for value in values}
    other = constant(right)
    if other is UNKNOWN:
        return None
    if isinstance(operator, (cst.Equal, cst.NotEqual)):
        return {(value == other) == isinstance(operator, cst.Equal) for value in values}
    if isinstance(operator, (cst.Is, cst.IsNot)) and other is None:
        return {(value is None) == isinstance(operator, cst.Is) for value in values}
    return None


def names_in(node: cst.CSTNode) -> list[cst.Name]:
    """The names an expression reads (`a` of `a.b`, not `b`)."""
    found: list[cst.Name] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.Name):
            found.append(current)
        elif isinstance(current, cst.Attribute):
            pending.append(current.value)  # `a.b` reads `a`, not a name `b`
        else:
            pending.extend(children(current))
    return found


def mode_flag_subjects(test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The objects whose own train/eval flag a test reads (`model` of `if model.training:`,
    `not net.training and ...`): code under such a test was written for the mode it finds,
    whichever branch it is in."""
    found: list[cst.BaseExpression] = []
    pending: list[cst.CSTNode] = [test]
    while pending:
        current = pending.pop()
        if isinstance(current, cst.Attribute) and current.attr.value == "training":
            found.append(current.value)
        elif not isinstance(current, (cst.Lambda, cst.BaseComp)):
            pending.extend(children(current))
    return found
