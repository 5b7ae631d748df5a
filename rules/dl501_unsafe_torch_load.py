"""DL501: `torch.load` that may unpickle arbitrary code."""

from __future__ import annotations

import re

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic.syntax import keyword
from dllint.types import Applicability, FixAvailability


class UnsafeTorchLoad(Rule):
    """
    ## What it does
    Flags `torch.load(...)` without `weights_only=True` in projects that may run on a PyTorch
    older than 2.6. Off by default (a security rule, not a training bug): turn it on with
    `extend-select = ["DL5"]`.

    It stays silent where the choice is already made or the default is already safe:
    - `weights_only=False` written out, a deliberate choice (trusted whole-model pickles);
    - a project whose requirements (`pyproject.toml`, `requirements*.txt`, `setup.cfg`,
      `setup.py`) require `torch>=2.6`, where `weights_only=True` is the default. They are
      read at the linted code's project root: the nearest folder above the linted path with
      one of those files or a `.git`, found as the configuration is, so the result does not
      depend on the folder dllint runs from;
    - loads inside `with torch.serialization.safe_globals([...])`, or in a file that calls
      `torch.serialization.add_safe_globals`: the code is written for weights-only loading;
    - the fallback in `except TypeError:`, for a PyTorch too old to know `weights_only`;
    - `**kwargs`, which may carry the flag.

    ## Why is this bad?
    Before PyTorch 2.6, `torch.load` unpickles by default: a checkpoint downloaded from the
    internet can run any code on your machine when it is loaded.

    The fix (unsafe: it changes what loads) is offered only where the result is clearly a
    state dict: handed to `load_state_dict`, indexed by a key, or named like a checkpoint. A
    whole pickled model, a numpy payload or a custom `pickle_module=` would fail to load with
    `weights_only=True`, so no fix is offered there.

    ## Example
    ```python
    model.load_state_dict(torch.load("downloaded.pt"))
    ```

    ## Use instead
    ```python
    model.load_state_dict(torch.load("downloaded.pt", weights_only=True))
    ```

    ## References
    PyTorch documentation, `torch.load` security note and "weights_only" serialization notes.
    """

    code = "DL501"
    name = "unsafe-torch-load"
    summary = "torch.load without weights_only=True can run code from a checkpoint"
    fix_availability = FixAvailability.SOMETIMES
    enabled_by_default = False
    requires_any = ("load(",)
    uses_model = True

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
        # Written out: the author chose to unpickle (a trusted whole-model file).
        Valid("""
            import torch
            checkpoint = torch.load(path, weights_only=False)
        """),
        # The allow-list is the weights-only loader's: this code is written for it.
        Valid("""
            import argparse
            import torch
            with torch.serialization.safe_globals([argparse.Namespace]):
                checkpoint = torch.load(path)
        """),
        Valid("""
            import torch
            from torch.serialization import add_safe_globals
            add_safe_globals([Config])
            checkpoint = torch.load(path)
        """),
        # The fallback for a PyTorch that does not know the keyword yet.
        Valid("""
            import torch
            try:
                state = torch.load(path, weights_only=True)
            except TypeError:
                state = torch.load(path)
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
            net.load_state_dict(th.load(f)["model"])
        """, line=2, unsafe=True, fixed="""
            import torch as th
            net.load_state_dict(th.load(f, weights_only=True)["model"])
        """),
        # A whole pickled model, a numpy payload, a custom unpickler: flagged, but
        # weights_only=True would break the load, so no fix is offered.
        Invalid("""
            import torch
            with open(args.checkpoint, "rb") as f:
                model = torch.load(f)
            model.eval()
        """, line=3),
        Invalid("""
            import torch
            data = torch.load("traindata.pt")
        """, line=2),
        Invalid("""
            import dill
            import torch
            state = torch.load(path, pickle_module=dill)
        """, line=3),
        Invalid("""
            import torch

            def restore(model, path):
                model.load_state_dict(torch.load(path)["model"])
        """, line=4, unsafe=True, fixed="""
            import torch

            def restore(model, path):
                model.load_state_dict(torch.load(path, weights_only=True)["model"])
        """),
    ]

    SAFE_CONTEXTS = frozenset({"torch.serialization.safe_globals"})
    # Names that hold a checkpoint's dict rather than a pickled object.
    STATE_NAME = re.compile(r"(state|ckpt|checkpoint|weights|sd$|^sd|params)", re.IGNORECASE)

    def __init__(self, context) -> None:
        super().__init__(context)
        self.state_dicts: set[int] = set()  # ids of load calls whose result is a state dict
        settings = context.settings
        minimum = settings.torch_minimum if settings is not None else None
        self.default_is_safe = minimum is not None and minimum >= (2, 6)
        # `add_safe_globals([...])` extends the weights-only loader's allow-list: the file is
        # written for weights-only loading.
        self.declares_weights_only = "add_safe_globals" in context.source

    # What the load's result is, seen from its parent (parents are visited first).

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Call) and any(
                isinstance(element.slice, cst.Index)
                and isinstance(element.slice.value, cst.SimpleString) for element in node.slice):
            self.state_dicts.add(id(node.value))  # checkpoint["model"]

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Call) and any(
                isinstance(target.target, cst.Name) and self.STATE_NAME.search(target.target.value)
                for target in node.targets):
            self.state_dicts.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "load_state_dict":
            self.state_dicts.update(id(arg.value) for arg in node.args)
            return
        if self.imports.call_name(node) != "torch.load":
            return
        if self.default_is_safe or self.declares_weights_only:
            return
        # Inside `with safe_globals(...)` the file loads weights-only on purpose; inside
        # `except TypeError:` it is the fallback for a PyTorch too old to know the argument.
        around = self.facts.handler_context()
        if around.within(self.SAFE_CONTEXTS) or around.catches("builtins.TypeError"):
            return
        if keyword(node, "weights_only") is not None or any(arg.star == "**" for arg in node.args):
            return  # a choice written out, or one that may come in **kwargs
        fix = None
        if id(node) in self.state_dicts and node.args and keyword(node, "pickle_module") is None \
                and not any(arg.star for arg in node.args):
            fix = NodeFix.wrap(node.args[-1].value, "", ", weights_only=True",
                               description="Pass weights_only=True",
                               applicability=Applicability.UNSAFE)
        self.report(node, "without `weights_only=True`, torch.load unpickles on PyTorch before "
                          "2.6 (and the project does not require 2.6), so a checkpoint can run "
                          "any code when loaded; load weights with `weights_only=True`", fix=fix)
