"""DL203: sigmoid followed by BCELoss, where BCEWithLogitsLoss is the stable form."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic.syntax import argument
from dllint.semantic.values import LOSS, PROBABILITIES, first
from dllint.types import FixAvailability, Severity

BCE = frozenset({"torch.nn.functional.binary_cross_entropy", "torch.nn.BCELoss"})


class SigmoidThenBCE(Rule):
    """
    ## What it does
    Flags a sigmoid output given to `BCELoss` / `F.binary_cross_entropy`.

    ## Why is this bad?
    It is correct, but not stable: sigmoid saturates to exactly 0 or 1 in float32 for logits
    beyond about ±17, where BCE's log gives -inf (PyTorch clamps it at -100, so the gradient
    simply vanishes). `BCEWithLogitsLoss` fuses both with the log-sum-exp trick and keeps
    gradients for confident mistakes; it is also the only one that is safe under autocast.

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
    fix_availability = FixAvailability.NONE
    requires_any = ("binary_cross_entropy", "BCELoss")
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
    ]
    INVALID = [
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
