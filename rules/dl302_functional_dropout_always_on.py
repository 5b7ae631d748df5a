"""DL302: `F.dropout` in a module without `training=self.training`: dropout at inference too."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument
from dllint.types import FixAvailability

TRAINING_FLAG = m.Attribute(value=m.Name("self"), attr=m.Name("training"))

DROPOUTS = catalog.FUNCTIONAL_DROPOUTS


class FunctionalDropoutAlwaysOn(Rule):
    """
    ## What it does
    Flags `F.dropout(x, p)` (and dropout2d/3d, alpha_dropout) inside a method of a class
    without a `training` argument. This is PyTorch's mistake: Keras layers take the training
    flag from the call, and the opposite mistake of TensorFlow 1 and Flax (dropout switched off
    while the model trains) is DL306.

    ## Why is this bad?
    `F.dropout` defaults to `training=True` and knows nothing of the module's mode: `model.eval()`
    does not switch it off, so predictions stay random at inference and every evaluation is
    noisy and pessimistic. `nn.Dropout` follows the mode; the functional form must be told.

    ## Example
    ```python
    def forward(self, x):
        return self.fc(F.dropout(x, p=0.5))
    ```

    ## Use instead
    ```python
    def forward(self, x):
        return self.fc(F.dropout(x, p=0.5, training=self.training))
    ```

    ## References
    PyTorch documentation, `torch.nn.functional.dropout`.
    """

    code = "DL302"
    name = "functional-dropout-always-on"
    summary = "F.dropout in a module without training=self.training stays on at inference"
    fix_availability = FixAvailability.SOMETIMES
    requires_any = ("dropout",)
    uses_model = True

    VALID = [
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, p=0.5, training=self.training)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    return F.dropout(x, 0.5, self.training)
        """),
        Valid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.dropout = nn.Dropout(0.5)

                def forward(self, x):
                    return self.dropout(x)
        """),
        Valid("""
            import torch.nn.functional as F

            def augment(x):
                return F.dropout(x, p=0.1)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class MCDropoutNet(nn.Module):
                def forward(self, x):
                    return F.dropout(x, p=0.2, training=True)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def forward(self, x, train):
                    return F.dropout2d(x, 0.1, train)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Block(nn.Module):
                def forward(self, x):
                    if self.training and self.drop_rate > 0:
                        x = F.dropout(x, self.drop_rate)
                    return self.fc(x)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Head(nn.Module):
                def forward(self, x):
                    x = F.dropout(x, 0.2) if self.training else x
                    return self.out(x)
        """),
    ]
    INVALID = [
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    return self.fc(F.dropout(x, p=0.5))
        """, line=6, fixed="""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    return self.fc(F.dropout(x, p=0.5, training=self.training))
        """),
        Invalid("""
            from torch.nn import functional as fn
            import torch

            class Encoder(torch.nn.Module):
                def forward(self, x):
                    x = fn.dropout(x, 0.3)
                    return x
        """, line=6, fixed="""
            from torch.nn import functional as fn
            import torch

            class Encoder(torch.nn.Module):
                def forward(self, x):
                    x = fn.dropout(x, 0.3, training=self.training)
                    return x
        """),
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Conv(nn.Module):
                def forward(self, x):
                    return F.dropout2d(self.conv(x), p=0.1)
        """, line=6, fixed="""
            import torch.nn.functional as F
            from torch import nn

            class Conv(nn.Module):
                def forward(self, x):
                    return F.dropout2d(self.conv(x), p=0.1, training=self.training)
        """),
        Invalid("""
            from torch.nn.functional import dropout
            from torch import nn

            class Head(nn.Module):
                def forward(self, x):
                    return self.out(dropout(x))
        """, line=6, fixed="""
            from torch.nn.functional import dropout
            from torch import nn

            class Head(nn.Module):
                def forward(self, x):
                    return self.out(dropout(x, training=self.training))
        """),
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Block(nn.Module):
                def embed(self, tokens):
                    return F.dropout(self.embedding(tokens), self.p)
        """, line=6, fixed="""
            import torch.nn.functional as F
            from torch import nn

            class Block(nn.Module):
                def embed(self, tokens):
                    return F.dropout(self.embedding(tokens), self.p, training=self.training)
        """),
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Block(nn.Module):
                def forward(self, x):
                    if self.drop_rate > 0:
                        x = F.dropout(x, self.drop_rate)
                    return self.fc(x)
        """, line=7, fixed="""
            import torch.nn.functional as F
            from torch import nn

            class Block(nn.Module):
                def forward(self, x):
                    if self.drop_rate > 0:
                        x = F.dropout(x, self.drop_rate, training=self.training)
                    return self.fc(x)
        """),
        Invalid("""
            import torch.nn.functional as F
            import lightning as L

            class Classifier(L.LightningModule):
                def forward(self, x):
                    return F.alpha_dropout(x, 0.1)
        """, line=6, fixed="""
            import torch.nn.functional as F
            import lightning as L

            class Classifier(L.LightningModule):
                def forward(self, x):
                    return F.alpha_dropout(x, 0.1, training=self.training)
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.training_tests = 0  # open `if`s that test `self.training`

    def visit_If(self, node: cst.If) -> None:
        self.training_tests += _tests_training(node.test)

    def leave_If(self, original_node: cst.If) -> None:
        self.training_tests -= _tests_training(original_node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.training_tests += _tests_training(node.test)

    def leave_IfExp(self, original_node: cst.IfExp) -> None:
        self.training_tests -= _tests_training(original_node.test)

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        function = self.facts.function
        if qualified not in DROPOUTS or function is None or function.class_name is None:
            return
        if self.training_tests:
            return  # `if self.training: x = F.dropout(x, p)`: the branch follows the mode
        if argument(node, DROPOUTS[qualified], "training") is not None or any(
                arg.star for arg in node.args):
            return
        last = node.args[-1].value if node.args else None
        fix = NodeFix.wrap(last, "", ", training=self.training",
                           description="Pass training=self.training") if last is not None else None
        self.report(node, "functional dropout defaults to training=True and ignores model.eval(): "
                          "it keeps dropping activations at inference; pass "
                          "`training=self.training`", fix=fix)


def _tests_training(test: cst.BaseExpression) -> int:
    """1 when a condition reads `self.training` (`if self.training and self.p > 0:`)."""
    return int(bool(m.findall(test, TRAINING_FLAG)))
