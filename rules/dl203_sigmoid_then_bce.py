"""DL203: sigmoid followed by BCELoss, where BCEWithLogitsLoss is the stable form."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, number
from dllint.semantic.values import LOSS, PROBABILITIES, Tag, first
from dllint.types import Severity

BCE = frozenset({"torch.nn.functional.binary_cross_entropy", "torch.nn.BCELoss"})
# The stable form of a cross-entropy written out on a sigmoid, by the library of its `log`.
LOGITS_FORMS = {
    "torch": "`F.binary_cross_entropy_with_logits(logits, y)` (or `F.logsigmoid`)",
    "tensorflow": "`tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)`",
    "jax": "`optax.sigmoid_binary_cross_entropy(logits, y)` (or `jax.nn.log_sigmoid`)",
    "numpy": "`np.logaddexp(0, -logits)` for -log(sigmoid) and `np.logaddexp(0, logits)` for "
             "-log(1 - sigmoid)",
}


class SigmoidThenBCE(Rule):
    """
    ## What it does
    Flags a sigmoid output given to `BCELoss` / `F.binary_cross_entropy`, and a binary
    cross-entropy written out on one: a term `y * log(p)` or `(1 - y) * log(1 - p)` (also with
    `p + eps` or `clamp`/`clip` inside the log) where `p` is a sigmoid output (`torch.sigmoid`,
    `tf.sigmoid`, `scipy.special.expit`, or `1 / (1 + exp(-x))` written out), in torch, numpy,
    TensorFlow and JAX. `p * log(p)` (the entropy of the prediction) is not a loss on a target
    and is not flagged; `log` of a softmax is DL201's.

    ## Why is this bad?
    It is correct, but not stable: sigmoid saturates to exactly 0 or 1 in float32 for logits
    beyond about ±17, where BCE's log gives -inf (PyTorch clamps it at -100, so the gradient
    simply vanishes). `BCEWithLogitsLoss` fuses both with the log-sum-exp trick and keeps
    gradients for confident mistakes; it is also the only one that is safe under autocast.
    Written out, the loss is -inf or NaN on the first confident mistake; an epsilon or a clamp
    avoids the NaN but, like BCELoss's clamp, leaves such mistakes without a gradient. Compute
    it from the logits instead (`F.binary_cross_entropy_with_logits`,
    `tf.nn.sigmoid_cross_entropy_with_logits`, `np.logaddexp(0, -x)` for `-log(sigmoid(x))`).

    ## Example
    ```python
    loss = nn.BCELoss()(torch.sigmoid(model(x)), y)
    ```

    ## Use instead
    ```python
    loss = nn.BCEWithLogitsLoss()(model(x), y)
    ```

    ## References
    PyTorch documentation, `BCEWithLogitsLoss` ("more numerically stable").
    """

    code = "DL203"
    name = "sigmoid-then-bce"
    summary = "sigmoid + BCELoss: BCEWithLogitsLoss is the numerically stable form"
    severity = Severity.WARNING
    requires_any = ("binary_cross_entropy", "BCELoss", "log")
    uses_model = True

    VALID = [
        Valid("""
            from torch import nn
            loss = nn.BCEWithLogitsLoss()(model(x), y)
        """),
        Valid("""
            import torch.nn.functional as F
            loss = F.binary_cross_entropy_with_logits(model(x), y)
        """),
        Valid("""
            import torch.nn.functional as F
            loss = F.binary_cross_entropy(mask_probabilities, target_mask)
        """),
        Valid("""
            import torch
            from torch import nn
            probabilities = torch.sigmoid(model(x))
            accuracy = ((probabilities > 0.5) == y).float().mean()
            loss = nn.BCEWithLogitsLoss()(model(x), y)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            gated = x * torch.sigmoid(gate)
            loss = F.binary_cross_entropy(predicted_occupancy, occupancy)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            soft = torch.softmax(logits, dim=-1)
            loss = F.binary_cross_entropy(soft[:, 1], target)
        """),
        # The stable forms: log-sigmoid of the logits, and numpy's logaddexp.
        Valid("""
            import torch.nn.functional as F
            loss = -(y * F.logsigmoid(logits) + (1 - y) * F.logsigmoid(-logits)).mean()
        """),
        Valid("""
            import numpy as np
            z = X @ w
            cost = np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))
        """),
        # Near miss: the entropy of the prediction has no target; it is no loss to fix.
        Valid("""
            import torch
            p = torch.sigmoid(logits)
            entropy = -(p * torch.log(p + 1e-8) + (1 - p) * torch.log(1 - p + 1e-8))
        """),
        # Near miss: log of a softmax in a cross-entropy is DL201's finding.
        Valid("""
            import torch
            loss = -(y * torch.log(torch.softmax(logits, dim=1))).sum(1).mean()
        """),
        # Near miss: a written-out exponential that is no sigmoid.
        Valid("""
            import numpy as np
            weights = 1 / (1 + np.exp(distances))
            score = np.sum(labels * np.log(weights))
        """),
    ]
    INVALID = [
        # The real numpy form: the prediction clipped away from 0 and 1 on a line of its own.
        Invalid("""
            import numpy as np

            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            h = np.clip(sigmoid(X @ w), 1e-10, 1 - 1e-10)
            loss = -np.mean(y * np.log(h) + (1 - y) * np.log(1 - h))
        """, line=7, related_lines=(4, 7)),
        Invalid("""
            import torch
            p = torch.sigmoid(model(x))
            loss = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
        """, line=3, related_lines=(2, 3)),
        # numpy, with the sigmoid written out in a helper and an epsilon in the logs.
        Invalid("""
            import numpy as np

            def sigmoid(z):
                return 1 / (1 + np.exp(-z))

            h = sigmoid(X @ w)
            cost = -np.mean(y * np.log(h + 1e-9) + (1 - y) * np.log(1 - h + 1e-9))
        """, line=7, related_lines=(4, 7)),
        Invalid("""
            import tensorflow as tf
            q = tf.sigmoid(logits)
            loss = -tf.reduce_mean(labels * tf.math.log(tf.clip_by_value(q, 1e-7, 1 - 1e-7)))
        """, line=3, related_lines=(2,)),
        Invalid("""
            import torch
            from torch import nn
            head = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
            p = head(features)
            nll = -(target * p.clamp(1e-6, 1 - 1e-6).log()).sum()
        """, line=5, related_lines=(3,)),
        Invalid("""
            import torch
            from torch import nn
            criterion = nn.BCELoss()
            loss = criterion(torch.sigmoid(model(x)), y)
        """, line=4, related_lines=(4,)),
        Invalid("""
            import torch.nn.functional as F
            probabilities = F.sigmoid(logits)
            loss = F.binary_cross_entropy(probabilities, targets)
        """, line=3, related_lines=(2,)),
        Invalid("""
            from torch import nn
            model = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
            loss = nn.BCELoss()(model(x), y)
        """, line=3, related_lines=(2,)),
        Invalid("""
            import torch
            from torch import nn

            class Detector(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.criterion = nn.BCELoss(reduction="sum")

                def loss(self, logits, y):
                    return self.criterion(logits.sigmoid(), y)
        """, line=10, related_lines=(10,)),
        Invalid("""
            import torch
            import torch.nn.functional as F

            def score(model, x):
                return torch.sigmoid(model(x))

            loss = F.binary_cross_entropy(score(model, x), y)
        """, line=7, related_lines=(5,)),
        Invalid("""
            from torch.nn import BCELoss, Sigmoid
            activation = Sigmoid()
            loss = BCELoss()(activation(head(features)), labels)
        """, line=3, related_lines=(2,)),
        # One cause, one finding: the same sigmoid model reaches the loss in training and in
        # validation; the second use is a related location, not a second finding.
        Invalid("""
            from torch import nn
            model = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
            criterion = nn.BCELoss()
            for x, y in train_loader:
                criterion(model(x), y).backward()
            for x, y in val_loader:
                total += criterion(model(x), y).item()
        """, line=5, related_lines=(2, 7)),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        is_bce = qualified == "torch.nn.functional.binary_cross_entropy"
        if not is_bce and not qualified:
            callee = first(self.facts.value(node.func), LOSS)
            is_bce = callee is not None and callee.info.qualified in BCE
        if not is_bce and isinstance(node.func, cst.Call):
            callee = first(self.facts.value(node.func), LOSS)
            is_bce = callee is not None and callee.info.qualified in BCE
        if not is_bce:
            return
        arg = argument(node, 0, "input")
        if arg is None:
            return
        activation = first(self.facts.value(arg.value), PROBABILITIES)
        if activation is None or "sigmoid" not in activation.detail.lower():
            return
        self.report(node, "sigmoid followed by BCELoss loses the gradient of confident mistakes "
                          "(sigmoid saturates at 0 or 1); give the logits to BCEWithLogitsLoss",
                    cause=next(iter(self.origin_of(activation, "sigmoid applied here")), None))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        """`y * torch.log(p)`, `(1 - y) * np.log(1 - p + eps)`: a term of a binary
        cross-entropy written out, on a sigmoid output `p`."""
        if not isinstance(node.operator, cst.Multiply):
            return
        for log_side, other in ((node.right, node.left), (node.left, node.right)):
            found = self.log_of_sigmoid(log_side)
            if found is None:
                continue
            activation, library = found
            if self.sigmoid_in(other) is not None:
                return  # `p * log(p)`: the entropy of the prediction, no target involved
            self.report(node, "cross-entropy written out on a sigmoid output: log(sigmoid) is "
                              "-inf for confident mistakes (with an epsilon or a clamp, their "
                              "gradient vanishes); compute it from the logits with "
                              f"{LOGITS_FORMS[library]}",
                        cause=next(iter(self.origin_of(activation, "sigmoid applied here")),
                                   None))
            return

    def log_of_sigmoid(self, node: cst.BaseExpression) -> tuple[Tag, str] | None:
        """For `log(p)` or `log(1 - p)` of a sigmoid output: its tag and the log's library."""
        if not isinstance(node, cst.Call):
            return None
        qualified = self.imports.call_name(node)
        if qualified in catalog.LOG_FUNCTIONS and node.args:
            library = qualified.split(".", 1)[0]
            inner = argument(node, 0, "input")
        elif qualified is None and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value == "log" and not node.args:
            library, inner = "torch", cst.Arg(node.func.value)  # p.log() of a tensor
        else:
            return None
        activation = self.sigmoid_in(inner.value) if inner is not None else None
        if activation is None or library not in LOGITS_FORMS:
            return None
        return activation, library

    def sigmoid_in(self, node: cst.BaseExpression) -> Tag | None:
        """The sigmoid output `p` in `p`, `1 - p`, `p + eps` (the model keeps `p` through
        `torch.clamp(p, eps, 1 - eps)`)."""
        if isinstance(node, cst.BinaryOperation):
            if isinstance(node.operator, cst.Subtract) and number(node.left) == 1.0:
                return self.sigmoid_in(node.right)
            if isinstance(node.operator, cst.Add):
                return self.sigmoid_in(node.left) or self.sigmoid_in(node.right)
        activation = first(self.facts.value(node), PROBABILITIES)
        if activation is None or "sigmoid" not in activation.detail.lower():
            return None
        return activation
