"""DL501: `torch.load` that may unpickle arbitrary code."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic.syntax import keyword
from dllint.types import Applicability, FixAvailability


class UnsafeTorchLoad(Rule):
    """
    ## What it does
    Flags `torch.load(...)` without `weights_only=True` (an explicit `weights_only=False` above
    all).

    ## Why is this bad?
    Without `weights_only=True`, `torch.load` unpickles: a checkpoint downloaded from the
    internet can run any code on your machine when loaded. PyTorch 2.6 made `weights_only=True`
    the default, but code that must run on older versions, or that passes `False`, is exposed.

    ## Example
    ```python
    state = torch.load("downloaded.pt")
    ```

    ## Use instead
    ```python
    state = torch.load("downloaded.pt", weights_only=True)
    ```

    ## References
    PyTorch documentation, `torch.load` security note.
    """

    code = "DL501"
    name = "unsafe-torch-load"
    summary = "torch.load without weights_only=True can run code from a checkpoint"
    fix_availability = FixAvailability.SOMETIMES
    requires_any = ("load(",)

    VALID = [
        Valid("""
            import torch
            state = torch.load("model.pt", weights_only=True)
        """),
        Valid("""
            import torch
            state = torch.load(path, map_location="cpu", weights_only=True)
        """),
        Valid("""
            import json
            config = json.load(open("config.json"))
        """),
        Valid("""
            from safetensors.torch import load_file
            state = load_file("model.safetensors")
        """),
        Valid("""
            import numpy as np
            array = np.load("features.npy")
        """),
        Valid("""
            model.load_state_dict(state)
        """),
        Valid("""
            import torch

            def load(path, weights_only=True, **load_kwargs):
                first = torch.load(path, weights_only=weights_only)
                return torch.load(path, **load_kwargs)
        """),
    ]
    INVALID = [
        Invalid("""
            import torch
            state = torch.load("downloaded.pt")
        """, line=2, unsafe=True, fixed="""
            import torch
            state = torch.load("downloaded.pt", weights_only=True)
        """),
        Invalid("""
            import torch
            checkpoint = torch.load(path, weights_only=False)
        """, line=2),
        Invalid("""
            import torch
            model.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
        """, line=2, unsafe=True, fixed="""
            import torch
            model.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=True))
        """),
        Invalid("""
            from torch import load
            weights = load(open("w.pth", "rb"))
        """, line=2, unsafe=True, fixed="""
            from torch import load
            weights = load(open("w.pth", "rb"), weights_only=True)
        """),
        Invalid("""
            import torch as th
            state = th.load(f)
        """, line=2, unsafe=True, fixed="""
            import torch as th
            state = th.load(f, weights_only=True)
        """),
        Invalid("""
            import torch

            def restore(model, path):
                model.load_state_dict(torch.load(path, weights_only=False)["model"])
        """, line=4),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if self.imports.call_name(node) != "torch.load":
            return
        flag = keyword(node, "weights_only")
        if any(arg.star == "**" for arg in node.args):
            return  # weights_only may come in **kwargs: unknown, not unsafe
        if flag is not None and not (isinstance(flag.value, cst.Name) and flag.value.value == "False"):
            return  # True, or a value passed through (`weights_only=weights_only`)
        fix = None
        if flag is None and node.args and not any(arg.star for arg in node.args):
            fix = NodeFix.wrap(node.args[-1].value, "", ", weights_only=True",
                               description="Pass weights_only=True",
                               applicability=Applicability.UNSAFE)
        explicit = flag is not None
        self.report(node, ("`weights_only=False` unpickles: a checkpoint can run any code when "
                           "loaded" if explicit else
                           "without `weights_only=True`, torch.load unpickles (before PyTorch 2.6) "
                           "and a checkpoint can run any code when loaded")
                    + "; load weights with `weights_only=True`", fix=fix)
