"""DL107: a layer replaced after the optimizer was built from the model's parameters."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic.imports import dotted_name
from dllint.semantic.values import MODULE, OPTIMIZER, first


class OptimizerBeforeLayerReplaced(Rule):
    """
    ## What it does
    Flags `model.head = nn.Linear(...)` (a new layer assigned into a model) after an optimizer
    was built from `model.parameters()` in the same scope, when no optimizer is built after it.

    ## Why is this bad?
    The optimizer holds the parameters that existed when it was built. The new layer's
    parameters are in no optimizer: they receive gradients and are never updated, so the
    fine-tuning head stays at its random initialisation while the loss seems to train.

    ## Example
    ```python
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.fc = nn.Linear(512, num_classes)
    ```

    ## Use instead
    ```python
    model.fc = nn.Linear(512, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    ```

    ## References
    The runtime check RT008 observes the same bug as parameters in no optimizer.
    """

    code = "DL107"
    name = "optimizer-before-layer-replaced"
    summary = "A layer is replaced after the optimizer was built: its weights never train"
    requires_any = ("optim",)
    uses_model = True

    VALID = [
        Valid("""
            import torch
            from torch import nn
            model.fc = nn.Linear(512, 10)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        """),
        Valid("""
            import torch
            from torch import nn
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
            model.fc = nn.Linear(512, 10)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        """),
        Valid("""
            import torch
            from torch import nn
            optimizer = torch.optim.Adam(model.parameters())
            model.fc.weight.data.zero_()
        """),
        Valid("""
            import torch
            from torch import nn
            optimizer = torch.optim.Adam(model.parameters())
            model.fc = nn.Identity()
        """),
        Valid("""
            import torch
            from torch import nn
            optimizer = torch.optim.Adam(head.parameters())
            backbone.fc = nn.Linear(512, 10)
        """),
        Valid("""
            import torch
            from torch import nn
            optimizer = torch.optim.Adam(model.parameters())
            optimizer.add_param_group({"params": []})
            model.fc = nn.Linear(512, 10)
            optimizer.add_param_group({"params": model.fc.parameters()})
        """),
    ]
    INVALID = [
        Invalid("""
            import torch
            from torch import nn
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
            model.fc = nn.Linear(512, 10)
        """, line=4, related_lines=(3,)),
        Invalid("""
            import torch
            import torchvision
            net = torchvision.models.resnet18()
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            net.fc = torch.nn.Linear(net.fc.in_features, 5)
        """, line=5, related_lines=(4,)),
        Invalid("""
            import torch
            from torch import nn

            def build(model):
                optimizer = torch.optim.AdamW(model.parameters())
                model.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 3))
                return model, optimizer
        """, line=6, related_lines=(5,)),
        Invalid("""
            import torch
            from torch import nn
            optimizer = torch.optim.SGD(params=model.parameters(), lr=0.1)
            model.head.out = nn.Linear(64, 2)
        """, line=4, related_lines=(3,)),
        Invalid("""
            import torch
            from torch import nn

            class Finetuner:
                def setup(self):
                    self.optimizer = torch.optim.Adam(self.model.parameters())
                    self.model.fc = nn.Linear(2048, 7)
        """, line=7, related_lines=(6,)),
        Invalid("""
            import torch
            from torch import nn
            optimizer = torch.optim.RMSprop(list(model.parameters()), lr=1e-4)
            model.decoder = nn.LSTM(256, 256)
        """, line=4, related_lines=(3,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        # Per scope: model name -> the optimizer construction built from its parameters, and
        # replacements waiting to see whether an optimizer is built (or extended) after them.
        self.optimizers: list[dict[str, cst.Call]] = [{}]
        self.pending: list[dict[str, list]] = [{}]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.optimizers.append({})
        self.pending.append({})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.optimizers.pop()
        self.flush(self.pending.pop())

    def leave_Module(self, original_node: cst.Module) -> None:
        self.flush(self.pending[0])

    def flush(self, pending: dict[str, list]) -> None:
        for reports in pending.values():
            for node, message, related in reports:
                self.report(node, message, related=related)

    def visit_Call(self, node: cst.Call) -> None:
        # optimizer.add_param_group(...) after the replacement hands it the new layer.
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "add_param_group":
            self.pending[-1].clear()

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if isinstance(value, cst.Call) and first(self.facts.value(value), OPTIMIZER) is not None:
            for model in self.parameter_owners(value):
                self.optimizers[-1][model] = value
                self.pending[-1].pop(model, None)  # rebuilt after the replacement: fine
            return
        for target in node.targets:
            if not isinstance(target.target, cst.Attribute):
                continue
            owner = dotted_name(target.target)
            if owner is None:
                continue
            model = next((name for name in self.optimizers[-1]
                          if owner.startswith(name + ".")), None)
            if model is None:
                continue
            layer = first(self.facts.value(value), MODULE)
            if layer is None or layer.detail == "nn.Identity":
                continue  # Identity has no parameters to lose
            self.pending[-1].setdefault(model, []).append((
                node, f"`{owner}` gets a new layer after the optimizer was built from "
                      f"`{model}.parameters()`: its weights are in no optimizer and never train; "
                      "build the optimizer after replacing layers",
                [(self.optimizers[-1][model], "the optimizer is built here")]))

    def parameter_owners(self, call: cst.Call) -> list[str]:
        owners = []
        for arg in call.args:
            node = arg.value
            if isinstance(node, cst.Call) and dotted_name(node.func) == "list" and node.args:
                node = node.args[0].value
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value == "parameters":
                owner = dotted_name(node.func.value)
                if owner:
                    owners.append(owner)
        return owners
