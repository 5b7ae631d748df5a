"""DL305: calling a module's `.forward()` directly, skipping its hooks."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic.values import MODULE, first
from dllint.types import Applicability, Severity


class DirectForwardCall(Rule):
    """
    ## What it does
    Flags `model.forward(x)` on a known module (not `super().forward(...)`, not a class calling
    its own `self.forward`). Off by default: in real repositories most direct calls are
    deliberate (tests, wrappers that pass extra arguments, models without hooks); turn it on
    with `extend-select = ["DL305"]` in code that relies on hooks.

    ## Why is this bad?
    `model(x)` runs forward pre/post hooks around `forward`; `model.forward(x)` skips them.
    Hooks are how pruning, quantization observers, spectral norm, weight norm, activation
    checkpointing wrappers, `torch.compile` and profilers work: calling `forward` directly
    silently disables them.

    ## Example
    ```python
    logits = model.forward(images)
    ```

    ## Use instead
    ```python
    logits = model(images)
    ```

    ## References
    PyTorch documentation, `nn.Module.forward` ("call the Module instance afterwards instead").
    """

    code = "DL305"
    enabled_by_default = False  # measured: most direct calls in real trees are deliberate
    name = "direct-forward-call"
    summary = "model.forward(x) skips the module's hooks; call model(x)"
    severity = Severity.WARNING
    requires_any = (".forward(",)
    uses_model = True

    VALID = [
        Valid("""
            from torch import nn
            model = nn.Linear(4, 2)
            output = model(x)
        """),
        Valid("""
            from torch import nn

            class Wrapper(nn.Linear):
                def forward(self, x):
                    return super().forward(x) * 2
        """),
        Valid("""
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    return x

                def predict(self, x):
                    return self.forward(x)
        """),
        Valid("""
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    return nn.Linear.forward(self.layer, x)
        """),
        Valid("""
            pipeline = build_pipeline()
            result = pipeline.forward(batch)
        """),
        Valid("""
            from torch import nn
            model = nn.Linear(4, 2)
            hook = model.register_forward_hook(print)
            y = model(x)
        """),
        # Layers written from scratch as plain classes (no nn.Module): no hooks to skip.
        Valid("""
            import torch

            class ScaleByTwo:
                def forward(self, inputs):
                    return inputs * 2

            class ScaleAndShift(ScaleByTwo):
                def forward(self, inputs):
                    return super().forward(inputs) + 1

            doubled = ScaleByTwo().forward(torch.ones(3))
            stage = ScaleAndShift()
            shifted = stage.forward(torch.ones(3))
        """),
    ]
    INVALID = [
        Invalid("""
            from torch import nn
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
            output = model.forward(x)
        """, line=3, unsafe=True, fixed="""
            from torch import nn
            model = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
            output = model(x)
        """),
        # The module is made in the call: replacing `.forward` is left to the author (no fix).
        Invalid("""
            from torch import nn
            output = nn.Linear(4, 8).forward(x)
        """, line=2),
        Invalid("""
            import torchvision
            backbone = torchvision.models.resnet18()
            features = backbone.forward(images)
        """, line=3, unsafe=True, fixed="""
            import torchvision
            backbone = torchvision.models.resnet18()
            features = backbone(images)
        """),
        Invalid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.LSTM(8, 8)

                def forward(self, x):
                    return self.encoder.forward(x)
        """, line=9, unsafe=True, fixed="""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.LSTM(8, 8)

                def forward(self, x):
                    return self.encoder(x)
        """),
        Invalid("""
            from torch import nn

            class Head(nn.Module):
                def forward(self, x):
                    return x

            head = Head()
            scores = head.forward(features)
        """, line=8, unsafe=True, fixed="""
            from torch import nn

            class Head(nn.Module):
                def forward(self, x):
                    return x

            head = Head()
            scores = head(features)
        """),
        Invalid("""
            import timm
            model = timm.create_model("resnet50")
            logits = model.forward(batch)
        """, line=3, unsafe=True, fixed="""
            import timm
            model = timm.create_model("resnet50")
            logits = model(batch)
        """),
        # The near-miss twin of the plain classes: the same layer as an nn.Module has hooks.
        Invalid("""
            import torch
            from torch import nn

            class ScaleByTwo(nn.Module):
                def forward(self, inputs):
                    return inputs * 2

            class ScaleAndShift(ScaleByTwo):
                def forward(self, inputs):
                    return super().forward(inputs) + 1

            stage = ScaleAndShift()
            shifted = stage.forward(torch.ones(3))
        """, line=13, unsafe=True, fixed="""
            import torch
            from torch import nn

            class ScaleByTwo(nn.Module):
                def forward(self, inputs):
                    return inputs * 2

            class ScaleAndShift(ScaleByTwo):
                def forward(self, inputs):
                    return super().forward(inputs) + 1

            stage = ScaleAndShift()
            shifted = stage(torch.ones(3))
        """),
        Invalid("""
            from torch import nn
            layer = nn.Linear(16, 16).to("cuda")
            out = layer.forward(x)
        """, line=3, unsafe=True, fixed="""
            from torch import nn
            layer = nn.Linear(16, 16).to("cuda")
            out = layer(x)
        """),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "forward"):
            return
        receiver = func.value
        if isinstance(receiver, cst.Name) and receiver.value == "self":
            return
        if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Name) and \
                receiver.func.value == "super":
            return
        module = first(self.facts.value(receiver), MODULE)
        if module is None or module.info.plain:  # a class of its own: no hooks to skip
            return
        fix = NodeFix.replace(func, receiver.with_changes(), description="Call the module",
                              applicability=Applicability.UNSAFE) \
            if isinstance(receiver, (cst.Name, cst.Attribute)) else None
        self.report(node, "calling `.forward()` directly skips the module's hooks (pruning, "
                          "quantization observers, weight norm, profilers); call the module "
                          "itself", fix=fix)
