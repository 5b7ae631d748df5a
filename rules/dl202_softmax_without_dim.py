"""DL202: softmax or log_softmax without `dim`, leaving PyTorch to guess the axis."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic.syntax import argument
from dllint.types import Severity

FUNCTIONS = frozenset({"torch.nn.functional.softmax", "torch.nn.functional.log_softmax",
                       "torch.nn.functional.softmin"})
LAYERS = frozenset({"torch.nn.Softmax", "torch.nn.LogSoftmax", "torch.nn.Softmin"})


RESHAPES = frozenset({"view", "reshape"})


def _rank_written(node: cst.BaseExpression) -> int | None:
    """The rank a reshape writes out at the call: 2 for `x.view(-1, n)` or
    `x.reshape((batch, n))`, 1 for `x.view(-1)`; None when no reshape says it."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in RESHAPES) or not node.args or \
            any(arg.star or arg.keyword is not None for arg in node.args):
        return None
    if len(node.args) == 1 and isinstance(node.args[0].value, (cst.Tuple, cst.List)):
        elements = node.args[0].value.elements
        return None if any(isinstance(e, cst.StarredElement) for e in elements) \
            else len(elements)
    if len(node.args) == 1 and not isinstance(node.args[0].value,
                                              (cst.Integer, cst.UnaryOperation)):
        return None  # `x.view(shape)`: a shape held in a name
    return len(node.args)


class SoftmaxWithoutDim(Rule):
    """
    ## What it does
    Flags `F.softmax(x)`, `F.log_softmax(x)`, `nn.Softmax()` and `nn.LogSoftmax()` called
    without `dim`. Input reshaped to one or two axes at the call (`F.softmax(x.view(-1, n))`,
    the rank written out) is left alone: PyTorch's guess is then its last axis.

    ## Why is this bad?
    Without `dim`, PyTorch picks an axis by a legacy rule (dim 0 for 0-, 1- and 3-D input, dim 1
    otherwise) and warns once. For a 3-D batch (batch, sequence, classes) that is the batch axis:
    each class's probabilities then sum to 1 across the batch, and nothing else complains.

    ## Example
    ```python
    probabilities = F.softmax(logits)
    ```

    ## Use instead
    ```python
    probabilities = F.softmax(logits, dim=-1)
    ```

    ## References
    PyTorch documentation, `torch.nn.functional.softmax` (implicit dim is deprecated).
    """

    code = "DL202"
    name = "softmax-without-dim"
    summary = "softmax / log_softmax without dim: the axis is guessed"
    severity = Severity.WARNING
    requires_any = ("oftmax", "oftmin")

    VALID = [
        Valid("""
            import torch.nn.functional as F
            probabilities = F.softmax(logits, dim=-1)
        """),
        Valid("""
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(logits, 1)
        """),
        Valid("""
            from torch import nn
            head = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
        """),
        Valid("""
            from torch import nn
            layer = nn.LogSoftmax(-1)
        """),
        Valid("""
            import torch
            probabilities = torch.softmax(logits, -1)
            also = logits.softmax(-1)
        """),
        Valid("""
            from scipy.special import softmax
            weights = softmax(scores)
        """),
        # Reshaped to two axes at the call: the implicit dim is 1, the atoms' axis.
        Valid("""
            import torch.nn.functional as F
            dist = F.softmax(x.view(-1, num_atoms)).view(-1, num_actions, num_atoms)
            flat = F.log_softmax(scores.reshape((batch, classes)))
        """),
    ]
    INVALID = [
        Invalid("""
            import torch.nn.functional as F
            probabilities = F.softmax(logits)
        """, line=2),
        Invalid("""
            from torch.nn import functional
            scores = functional.log_softmax(outputs)
        """, line=2),
        Invalid("""
            from torch import nn
            head = nn.Sequential(nn.Linear(8, 3), nn.Softmax())
        """, line=2),
        Invalid("""
            import torch.nn as nn
            self_attention_norm = nn.LogSoftmax()
        """, line=2),
        Invalid("""
            from torch.nn.functional import softmax
            attention = softmax(scores / 8.0)
        """, line=2),
        Invalid("""
            import torch.nn.functional as F
            weights = F.softmax(torch.matmul(q, k.transpose(-2, -1)), dtype=torch.float32)
        """, line=2),
        # Reshaped to three axes: dim 0, the batch axis, is the guess.
        Invalid("""
            import torch.nn.functional as F
            dist = F.softmax(x.view(batch, num_actions, num_atoms))
        """, line=2),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if qualified in FUNCTIONS and argument(node, 1, "dim") is None and not any(
                arg.star for arg in node.args):
            if node.args and _rank_written(node.args[0].value) in (1, 2):
                return  # 1-D or 2-D input, its rank written out: the guess is the last axis
            what = qualified.rsplit(".", 1)[-1]
        elif qualified in LAYERS and argument(node, 0, "dim") is None and not any(
                arg.star for arg in node.args):
            what = "nn." + qualified.rsplit(".", 1)[-1] + "()"
        else:
            return
        self.report(node, f"`{what}` without `dim` lets PyTorch guess the axis (dim 0 for 3-D "
                          "input: the batch axis); pass `dim=-1` or the class axis")
