"""Reading literal syntax: numbers, call arguments, `True`. Shared by the model and the rules."""

from __future__ import annotations

import libcst as cst


def number(node: cst.BaseExpression) -> float | None:
    """The value of a numeric literal (`255`, `255.0`, `-1`), else None."""
    if isinstance(node, cst.Integer):
        return float(int(node.value.replace("_", ""), 0))
    if isinstance(node, cst.Float):
        return float(node.value.replace("_", ""))
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = number(node.expression)
        return None if inner is None else -inner
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        left, right = number(node.left), number(node.right)
        if left is not None and right:
            return left / right
    return None


def is_255(node: cst.BaseExpression) -> bool:
    return number(node) == 255.0


def is_inverse_255(node: cst.BaseExpression) -> bool:
    value = number(node)
    return value is not None and abs(value - 1 / 255) < 1e-6


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
