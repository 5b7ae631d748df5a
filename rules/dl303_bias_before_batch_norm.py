"""DL303: a convolution or linear layer with a bias feeding straight into batch norm."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic.syntax import argument
from dllint.types import Applicability, FixAvailability, Severity

LAYERS = {"torch.nn.Conv1d": "torch.nn.BatchNorm1d", "torch.nn.Conv2d": "torch.nn.BatchNorm2d",
          "torch.nn.Conv3d": "torch.nn.BatchNorm3d", "torch.nn.Linear": "torch.nn.BatchNorm1d"}
BIAS_POSITION = {"torch.nn.Linear": 2, "torch.nn.Conv1d": 7, "torch.nn.Conv2d": 7,
                 "torch.nn.Conv3d": 7}


class BiasBeforeBatchNorm(Rule):
    """
    ## What it does
    Flags `nn.Conv2d(...)` / `nn.Linear(...)` with a bias (the default) placed directly before
    the matching batch norm in an `nn.Sequential`.

    ## Why is this bad?
    Batch norm subtracts the per-channel mean, which removes any constant the previous layer
    added: the bias learns nothing, costs memory and compute, and its gradient is noise.
    "Turn off bias before batch norm" is standard practice.

    ## Example
    ```python
    nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())
    ```

    ## Use instead
    ```python
    nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
    ```

    ## References
    Ioffe and Szegedy, "Batch Normalization" (2015), section 3.2.
    """

    code = "DL303"
    name = "bias-before-batch-norm"
    summary = "Conv/Linear bias right before batch norm is cancelled by it"
    severity = Severity.INFO
    # Opt-in (`--extend-select DL303`): true, but the fix breaks loading pretrained checkpoints.
    enabled_by_default = False
    fix_availability = FixAvailability.SOMETIMES
    requires_any = ("BatchNorm",)

    VALID = [
        Valid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        """),
        Valid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.BatchNorm2d(64))
        """),
        Valid("""
            from torch import nn
            head = nn.Sequential(nn.Linear(128, 64, bias=False), nn.BatchNorm1d(64))
        """),
        Valid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.GroupNorm(8, 64))
        """),
        Valid("""
            from torch import nn
            conv = nn.Conv2d(3, 64, 3)
            norm = nn.BatchNorm2d(64)
        """),
        Valid("""
            from torch import nn
            use_bias = False
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=use_bias), nn.BatchNorm2d(64))
        """),
    ]
    INVALID = [
        Invalid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())
        """, line=2, unsafe=True, fixed="""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        """),
        Invalid("""
            import torch.nn as nn
            head = nn.Sequential(nn.Linear(128, 64), nn.BatchNorm1d(64), nn.ReLU())
        """, line=2, unsafe=True, fixed="""
            import torch.nn as nn
            head = nn.Sequential(nn.Linear(128, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU())
        """),
        Invalid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=True), nn.BatchNorm2d(64))
        """, line=2),
        Invalid("""
            import torch
            block = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 5, padding=2), torch.nn.BatchNorm1d(8))
        """, line=2, unsafe=True, fixed="""
            import torch
            block = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 5, padding=2, bias=False), torch.nn.BatchNorm1d(8))
        """),
        Invalid("""
            from torch.nn import BatchNorm3d, Conv3d, Sequential
            stem = Sequential(Conv3d(1, 16, 3), BatchNorm3d(16))
        """, line=2, unsafe=True, fixed="""
            from torch.nn import BatchNorm3d, Conv3d, Sequential
            stem = Sequential(Conv3d(1, 16, 3, bias=False), BatchNorm3d(16))
        """),
        Invalid("""
            from torch import nn
            layers = [nn.Conv2d(64, 128, 3, stride=2), nn.BatchNorm2d(128)]
            down = nn.Sequential(*layers)
            block = nn.Sequential(nn.Conv2d(128, 128, 1), nn.BatchNorm2d(128))
        """, line=4, unsafe=True, fixed="""
            from torch import nn
            layers = [nn.Conv2d(64, 128, 3, stride=2), nn.BatchNorm2d(128)]
            down = nn.Sequential(*layers)
            block = nn.Sequential(nn.Conv2d(128, 128, 1, bias=False), nn.BatchNorm2d(128))
        """),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if self.imports.call_name(node) != "torch.nn.Sequential":
            return
        members = [arg.value for arg in node.args if not arg.star]
        for layer, norm in zip(members, members[1:]):
            if not (isinstance(layer, cst.Call) and isinstance(norm, cst.Call)):
                continue
            kind = self.imports.call_name(layer)
            if kind not in LAYERS or self.imports.call_name(norm) != LAYERS[kind]:
                continue
            bias = argument(layer, BIAS_POSITION[kind], "bias")
            if bias is not None and not (isinstance(bias.value, cst.Name)
                                         and bias.value.value == "True"):
                continue
            fix = None
            if bias is None and layer.args and not any(arg.star for arg in layer.args):
                fix = NodeFix.wrap(layer.args[-1].value, "", ", bias=False",
                                   description="Pass bias=False",
                                   applicability=Applicability.UNSAFE)
            self.report(layer, "this layer's bias is cancelled by the batch norm right after it "
                               "(which subtracts the channel mean); pass `bias=False`", fix=fix)
