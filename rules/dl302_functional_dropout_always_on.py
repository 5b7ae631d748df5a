"""DL302: `F.dropout` in a module without `training=self.training`: dropout at inference too."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument
from dllint.types import Applicability

DROPOUTS = catalog.FUNCTIONAL_DROPOUTS


class FunctionalDropoutAlwaysOn(Rule):
    """
    ## What it does
    Flags `F.dropout(x, p)` (and dropout2d/3d, alpha_dropout) inside a method of a class (or a
    function nested in one) without a `training` argument, and in a module-level function of
    the file that a method calls (`return head(x)` in `forward`), where the dropout can never
    follow the module's mode. This is PyTorch's mistake; its Keras form is a layer's `call` that
    receives `training` and hands its sub-layers `training=True` instead
    (`layer(x, training=True)`), so their dropout and batch norm never leave training mode. The
    opposite mistake of TensorFlow 1 and Flax (dropout switched off while the model trains) is
    DL306.

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
    requires_any = ("dropout", "training=True")
    uses_model = True

    VALID = [
        # The flag handed on; a batch norm frozen on purpose; Monte Carlo dropout in a
        # functional model, where nothing receives a training flag to hand on.
        Valid("""
            import tensorflow as tf

            class Block(tf.keras.layers.Layer):
                def call(self, inputs, training=None):
                    x = self.dropout(self.conv(inputs), training=training)
                    return self.frozen_norm(x, training=False)

            inputs = tf.keras.Input((32,))
            outputs = tf.keras.layers.Dropout(0.5)(inputs, training=True)
        """),
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
        # The helper takes the flag, and the method passes its mode.
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            def embed(embedding, tokens, p, training):
                return F.dropout(embedding(tokens), p=p, training=training)

            class Encoder(nn.Module):
                def forward(self, tokens):
                    return self.rnn(embed(self.embedding, tokens, self.p, self.training))
        """),
        # A module-level function no method calls: data augmentation, not a module's layer.
        Valid("""
            import torch.nn.functional as F

            def mask_features(features):
                return F.dropout(features, p=0.1)

            noisy = [mask_features(batch) for batch in batches]
        """),
    ]
    INVALID = [
        # A Keras layer's call receives `training` and hard-codes True for its sub-layers.
        Invalid("""
            import tensorflow as tf

            class Block(tf.keras.layers.Layer):
                def call(self, inputs, training=None):
                    x = inputs
                    for layer in self.layers:
                        x = layer(x, training=True)
                    return x
        """, line=7, unsafe=True, fixed="""
            import tensorflow as tf

            class Block(tf.keras.layers.Layer):
                def call(self, inputs, training=None):
                    x = inputs
                    for layer in self.layers:
                        x = layer(x, training=training)
                    return x
        """),
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
        # A module-level helper that a method calls: its dropout cannot follow the mode.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            def embed(embedding, tokens, p):
                return F.dropout(embedding(tokens), p=p)

            class Encoder(nn.Module):
                def forward(self, tokens):
                    return self.rnn(embed(self.embedding, tokens, self.p))
        """, line=5, related_lines=(9,)),
        # A closure in forward: `self` is at hand.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Encoder(nn.Module):
                def forward(self, tokens):
                    def embed():
                        return F.dropout(self.embedding(tokens), p=self.p)
                    return self.rnn(embed())
        """, line=7, fixed="""
            import torch.nn.functional as F
            from torch import nn

            class Encoder(nn.Module):
                def forward(self, tokens):
                    def embed():
                        return F.dropout(self.embedding(tokens), p=self.p, training=self.training)
                    return self.rnn(embed())
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.training_tests = 0  # open `if`s that test `self.training`
        # module-level functions applying dropout without a training flag, and the names that
        # methods call (the first call of each)
        self.helper_dropouts: dict[str, list[cst.Call]] = {}
        self.called_from_methods: dict[str, cst.Call] = {}

    def visit_If(self, node: cst.If) -> None:
        self.training_tests += _tests_training(node.test)

    def leave_If(self, original_node: cst.If) -> None:
        self.training_tests -= _tests_training(original_node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.training_tests += _tests_training(node.test)

    def leave_IfExp(self, original_node: cst.IfExp) -> None:
        self.training_tests -= _tests_training(original_node.test)

    def visit_Call(self, node: cst.Call) -> None:
        functions = self.facts.enclosing_functions()
        in_method = any(function.class_name is not None for function in functions)
        if in_method and isinstance(node.func, cst.Name):
            self.called_from_methods.setdefault(node.func.value, node)
        if in_method and "training" in functions[-1].parameters:
            flag = next((arg for arg in node.args if arg.keyword is not None
                         and arg.keyword.value == "training"), None)
            if flag is not None and isinstance(flag.value, cst.Name) and flag.value.value == "True":
                self.report(node, "`training=True` is hard-coded although the method receives "
                                  "`training`: the dropout and batch norm this call reaches stay "
                                  "in training mode at inference; pass `training=training`",
                            fix=NodeFix.replace(flag.value, "training",
                                                description="Pass the method's training flag",
                                                applicability=Applicability.UNSAFE))
                return
        qualified = self.imports.call_name(node)
        if qualified not in DROPOUTS or not functions:
            return
        if self.training_tests:
            return  # `if self.training: x = F.dropout(x, p)`: the branch follows the mode
        if argument(node, DROPOUTS[qualified], "training") is not None or any(
                arg.star for arg in node.args):
            return
        if not in_method:
            if len(functions) == 1 and self.facts.enclosing_class is None:  # a module-level function
                self.helper_dropouts.setdefault(functions[0].name, []).append(node)
            return
        # In a method, or in a function nested in one (a closure): `self` is at hand.
        last = node.args[-1].value if node.args else None
        fix = NodeFix.wrap(last, "", ", training=self.training",
                           description="Pass training=self.training") if last is not None else None
        self.report(node, "functional dropout defaults to training=True and ignores model.eval(): "
                          "it keeps dropping activations at inference; pass "
                          "`training=self.training`", fix=fix)

    def leave_Module(self, original_node: cst.Module) -> None:
        for name, dropouts in self.helper_dropouts.items():
            caller = self.called_from_methods.get(name)
            if caller is None:
                continue  # a function no method calls: nothing says it serves a module
            for dropout in dropouts:
                self.report(dropout, f"`{name}` is called from a method but its functional "
                                     f"dropout has no training flag: it defaults to "
                                     f"training=True and keeps dropping activations at "
                                     f"inference; give `{name}` a `training` parameter and "
                                     f"pass `self.training`",
                            related=[(caller, "called from a method here")])


def _tests_training(test: cst.BaseExpression) -> int:
    """1 when a condition reads `self.training` (`if self.training and self.p > 0:`)."""
    finder = _TrainingFlagFinder()
    test.visit(finder)
    return int(finder.found)


class _TrainingFlagFinder(cst.CSTVisitor):
    """Finds `self.training` in an expression. A plain visitor, not libcst.matchers: importing
    the matchers module costs more than linting a small file (about half of a pre-commit run)."""

    def __init__(self) -> None:
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if isinstance(node.value, cst.Name) and node.value.value == "self" \
                and node.attr.value == "training":
            self.found = True
        return not self.found
