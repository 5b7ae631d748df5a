"""DL201: `log(softmax(x))` instead of `log_softmax(x)`."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument
from dllint.semantic.values import PROBABILITIES, first
from dllint.types import Applicability


class LogOfSoftmax(Rule):
    """
    ## What it does
    Flags the logarithm of a softmax output (`torch.log(F.softmax(x, dim=1))`, `probs.log()` of
    a softmax), directly or through a variable, also clamped or clipped away from 0 first
    (`torch.log(probs.clamp(min=1e-8))`). The logarithms are the catalog's `LOG_FUNCTIONS`
    (torch, numpy, TensorFlow's `tf.log`/`tf.math.log`, `jax.numpy.log`).

    ## Why is this bad?
    Softmax underflows to exactly 0 for large negative logits, and `log(0)` is `-inf`: the loss
    becomes inf or NaN and the gradient with it. `log_softmax` computes the same values stably
    (as `x - logsumexp(x)`), and is also faster.

    ## Example
    ```python
    log_probabilities = torch.log(F.softmax(logits, dim=1))
    ```

    ## Use instead
    ```python
    log_probabilities = F.log_softmax(logits, dim=1)
    ```

    ## References
    "Numerical instability giving inf/NaN, usually from exp, log or division" is one of the most
    common deep-learning bugs.
    """

    code = "DL201"
    name = "log-of-softmax"
    summary = "log(softmax(x)) instead of the stable log_softmax(x)"
    requires_any = ("log",)
    uses_model = True

    VALID = [
        Valid("""
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(logits, dim=1)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            probabilities = F.softmax(logits, dim=1)
            entropy = -(probabilities * torch.log(probabilities + 1e-8)).sum(1)
        """),
        Valid("""
            import torch
            log_odds = torch.log(torch.sigmoid(x) / (1 - torch.sigmoid(x)))
        """),
        Valid("""
            import torch
            scale = torch.log(torch.tensor(10.0))
        """),
        Valid("""
            import torch
            probabilities = logits.softmax(dim=-1)
            confidence = probabilities.max(dim=-1).values
        """),
        Valid("""
            import math
            penalty = math.log(len(classes))
        """),
        # Near miss: the epsilon keeps log away from 0, as in the torch entropy above.
        Valid("""
            import tensorflow as tf
            y = tf.nn.softmax(tf.matmul(x, W) + b)
            cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y + 1e-10), axis=1))
            log_probabilities = tf.nn.log_softmax(logits)
        """),
    ]
    INVALID = [
        # Clamped away from 0, the log no longer gives -inf, but the clamped entries get no
        # gradient: log_softmax is still the form to use.
        Invalid("""
            import torch
            import torch.nn.functional as F
            nll = -torch.log(torch.clamp(F.softmax(logits, dim=1), min=1e-8))
        """, line=3, related_lines=(3,)),
        Invalid("""
            import torch
            import torch.nn.functional as F
            log_probabilities = torch.log(F.softmax(logits, dim=1))
        """, line=3, unsafe=True, fixed="""
            import torch
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(logits, dim=1)
        """),
        Invalid("""
            import torch
            probabilities = torch.softmax(scores, dim=-1)
            log_probabilities = torch.log(probabilities)
        """, line=3, related_lines=(2,)),
        Invalid("""
            import torch.nn.functional as F
            log_probabilities = F.softmax(logits, dim=1).log()
        """, line=2, unsafe=True, fixed="""
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(logits, dim=1)
        """),
        Invalid("""
            import torch
            from torch import nn
            head = nn.Sequential(nn.Linear(8, 4), nn.Softmax(dim=1))
            loss = -torch.log(head(x)).gather(1, y[:, None]).mean()
        """, line=4, related_lines=(3,)),
        Invalid("""
            import numpy as np
            from scipy.special import softmax
            log_p = np.log(softmax(z, axis=1))
        """, line=3),
        Invalid("""
            import torch

            def policy(logits):
                return torch.softmax(logits, -1)

            log_pi = torch.log(policy(logits))
        """, line=6, related_lines=(4,)),
        # TensorFlow 1 tutorials: the cross-entropy written by hand over a softmax.
        Invalid("""
            import tensorflow as tf
            y = tf.nn.softmax(tf.matmul(x, W) + b)
            cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), axis=1))
        """, line=3, related_lines=(2,)),
        Invalid("""
            import tensorflow as tf
            log_probabilities = tf.math.log(tf.nn.softmax(logits))
        """, line=2, unsafe=True, fixed="""
            import tensorflow as tf
            log_probabilities = tf.nn.log_softmax(logits)
        """),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        qualified = self.imports.call_name(node)
        if qualified in catalog.LOG_FUNCTIONS and node.args:
            inner = argument(node, 0, "input") or argument(node, 0, "x")
            inner_node = inner.value if inner is not None else None
        elif isinstance(func, cst.Attribute) and func.attr.value == "log" and not node.args \
                and qualified is None:
            inner_node = func.value
        else:
            return
        if inner_node is None:
            return
        activation = first(self.facts.value(inner_node), PROBABILITIES)
        if activation is None or "softmax" not in activation.detail.lower():
            return
        fix = None
        # F.softmax -> F.log_softmax, x.softmax -> x.log_softmax; a bare imported `softmax` has
        # no imported `log_softmax` beside it, so it gets no fix.
        if activation.node is inner_node and isinstance(inner_node, cst.Call) and \
                isinstance(inner_node.func, cst.Attribute) and \
                inner_node.func.attr.value == "softmax":
            renamed = inner_node.with_changes(
                func=inner_node.func.with_changes(attr=cst.Name("log_softmax")))
            fix = NodeFix.replace(node, renamed, description="Use log_softmax",
                                  applicability=Applicability.UNSAFE)
        related = [] if activation.node is inner_node else self.origin_of(activation, "softmax here")
        self.report(node, "log of a softmax underflows to -inf for confident predictions; use "
                          "`log_softmax`, which computes the same thing stably",
                    fix=fix, related=related)
