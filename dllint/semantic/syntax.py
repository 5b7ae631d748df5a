"""Reading literal syntax: numbers, call arguments, `True`. Shared by the model and the rules."""

from __future__ import annotations

import math

import libcst as cst

from dllint.semantic import catalog


def number(node: cst.BaseExpression) -> float | None:
    """The value of a numeric literal (`255`, `255.0`, `-1`, `1 / 255`), else None.

    A value no float holds (`1e999`, a literal hundreds of digits long, `1e308 / 1e-10`) is not
    a known constant either: None, never an exception or an infinity."""
    if isinstance(node, cst.Integer):
        value = integer(node)
        try:
            return None if value is None else _finite(float(value))
        except OverflowError:  # an int too large for a float
            return None
    if isinstance(node, cst.Float):
        return _finite(float(node.value.replace("_", "")))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = number(node.expression)
        return None if inner is None else -inner
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        left, right = number(node.left), number(node.right)
        if left is not None and right:
            return _finite(left / right)
    return None


def integer(node: cst.Integer) -> int | None:
    """The value of an integer literal; None past Python's int-string limit (4300 decimal
    digits by default), which `int()` refuses with ValueError."""
    try:
        return int(node.value, 0)
    except ValueError:
        return None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def is_255(node: cst.BaseExpression) -> bool:
    return number(node) == 255.0


def is_inverse_255(node: cst.BaseExpression) -> bool:
    value = number(node)
    return value is not None and abs(value - 1 / 255) < 1e-6


def is_half_255(node: cst.BaseExpression) -> bool:
    """127.5: `x / 127.5 - 1` maps 0-255 pixels to [-1, 1]."""
    return number(node) == 127.5


def is_inverse_half_255(node: cst.BaseExpression) -> bool:
    value = number(node)
    return value is not None and abs(value - 1 / 127.5) < 1e-6


def multiplies_by_255(node: cst.BaseExpression) -> bool:
    """`x * 255`, `255 * x`, `x.mul(255)`: pixels in [0, 1] taken back to 0-255."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return is_255(node.right) or is_255(node.left)
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
        node.func.attr.value in ("mul", "mul_") and bool(node.args) and is_255(node.args[0].value)


def lambda_body(step: cst.BaseExpression) -> cst.BaseExpression | None:
    """The body of the lambda a call is given first (`T.Lambda(lambda x: x * 255)`), if any."""
    if isinstance(step, cst.Call) and step.args and isinstance(step.args[0].value, cst.Lambda):
        return step.args[0].value.body
    return None


def _operand_names(node: cst.CSTNode) -> set[str]:
    if isinstance(node, (cst.Name, cst.Attribute)):
        parts = []
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        if isinstance(node, cst.Name):
            return {".".join([node.value, *reversed(parts)])}
    found: set[str] = set()
    for child in node.children:
        found |= _operand_names(child)
    return found


def _repeated_literal(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """The literal sequence of `(0.5,) * channels` (either order): one statistic repeated for
    every channel, the count being no statistic."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        for sequence in (node.left, node.right):
            if isinstance(sequence, (cst.List, cst.Tuple)) and sequence.elements and all(
                    number(element.value) is not None for element in sequence.elements):
                return sequence
    return None


def channel_values(node: cst.BaseExpression | None) -> tuple[float, ...] | None:
    """The per-channel numbers a normalization statistic is written as: a number (`0.5`), a
    literal list (`[0.485, 0.456, 0.406]`) or one repeated (`(0.5,) * channels`); one number
    when every channel has the same, None when they are not written out."""
    if node is None:
        return None
    sequence = _repeated_literal(node) or node
    if isinstance(sequence, (cst.List, cst.Tuple)):
        values = [number(element.value) for element in sequence.elements]
        if not values or any(value is None for value in values):
            return None
    else:
        single = number(sequence)
        if single is None:
            return None
        values = [single]
    return (values[0],) if len(set(values)) == 1 else tuple(values)  # type: ignore[arg-type]


def std_key(node: cst.BaseExpression, qualified,
            of: cst.BaseExpression | None = None) -> str:
    """What a divisor is, to know the same std again: the variables it reads (`STD` of
    `np.array(STD)[:, None, None]`, `self.std`), imported names left out (`qualified` resolves
    them), or the numbers of a literal list (`[0.229, 0.224, 0.225]`); "" for anything else (a
    lone number such as `/ 2` says nothing), and "" for statistics of the divided value `of`
    itself (`x.std()`, `np.std(x)`: standardizing by its own spread again changes nothing).
    A literal repeated per channel (`(0.5,) * channels`) is its numbers: the count is no std."""
    repeated = _repeated_literal(node)
    if repeated is not None:
        return "[" + ",".join(f"{value:g}" for value in channel_values(repeated) or ()) + "]"
    names = sorted(name for name in _operand_names(node)
                   if name not in ("None", "True", "False") and qualified(
                       cst.Name(name.split(".", 1)[0])) is None)
    own = _operand_names(of) if of is not None else set()
    roots = {name.split(".", 1)[0] for name in own}
    if any(name.split(".", 1)[0] in roots for name in names):
        return ""
    if names:
        return ",".join(names)
    if isinstance(node, (cst.List, cst.Tuple)) and len(node.elements) > 1:
        values = [number(element.value) for element in node.elements]
        if all(value is not None for value in values):
            return "[" + ",".join(f"{value:g}" for value in values) + "]"
    return ""


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((arg for arg in call.args if arg.keyword and arg.keyword.value == name), None)


def positional(call: cst.Call, index: int) -> cst.Arg | None:
    args = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return args[index] if index < len(args) else None


def argument(call: cst.Call, index: int, name: str) -> cst.Arg | None:
    return keyword(call, name) or positional(call, index)


def is_true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def mode_switch(call: cst.Call) -> str | None:
    """The mode a call switches a module to: "eval" for `m.eval()` and `m.train(False)`,
    "train" for any other `m.train(...)` (a flag not written out may be True), else None."""
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    if func.attr.value == "eval" and not call.args:
        return "eval"
    if func.attr.value == "train":
        flag = argument(call, 0, "mode")
        return "eval" if flag is not None and isinstance(flag.value, cst.Name) and \
            flag.value.value == "False" else "train"
    return None


_LEAVING = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def leaves(block: cst.BaseSuite | None) -> bool:
    """Whether a block ends in return/raise/continue/break: it never reaches what follows."""
    if block is None:
        return False
    statements = block.body if isinstance(block, cst.IndentedBlock) else [block]
    if not statements:
        return False
    last = statements[-1]
    small = last.body if isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) \
        else None
    return bool(small) and isinstance(small[-1], _LEAVING)


class _ContinueSearch(cst.CSTVisitor):
    """Finds a `continue` of the loop being searched (not of a loop or function inside it)."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_Continue(self, node: cst.Continue) -> None:
        self.found = True

    def visit_For(self, node: cst.For) -> bool:
        return False

    def visit_While(self, node: cst.While) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


def runs_once(loop: cst.For) -> bool:
    """Whether a `for` loop's body runs at most once: a statement directly in it is a `break`
    (not under a condition), and no `continue` can skip past it to the next item."""
    body = loop.body.body if isinstance(loop.body, cst.IndentedBlock) else [loop.body]
    breaks = any(isinstance(small, cst.Break) for statement in body
                 if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
                 for small in statement.body)
    if not breaks:
        return False
    search = _ContinueSearch()
    for statement in body:
        statement.visit(search)
    return not search.found


class _DtypeInspection(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.found = self.found or node.attr.value in catalog.DTYPE_GUARDS

    def visit_Call(self, node: cst.Call) -> None:
        # The builtin `max(a, b)` compares two numbers; only `x.max()`/`np.max(x)` read a range.
        self.found = self.found or (isinstance(node.func, cst.Name)
                                    and node.func.value in catalog.DTYPE_GUARDS - {"max"})


def inspects_dtype_or_range(test: cst.BaseExpression) -> bool:
    """Whether an `if` test looks at what decides if pixels still need scaling: the dtype or
    the range (`x.dtype not in (...)`, `x.is_floating_point()`, `np.issubdtype(...)`,
    `x.max() > 1`)."""
    inspection = _DtypeInspection()
    test.visit(inspection)
    return inspection.found
