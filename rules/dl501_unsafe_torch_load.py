"""DL501: `torch.load` that may unpickle arbitrary code."""

from __future__ import annotations

import re

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic.syntax import keyword
from dllint.types import Applicability


# Calls that bind a function's arguments in advance: `partial(torch.load, map_location="cpu")`
# is a torch.load whose keywords are written here, and whose calls may add more.
PARTIALS = frozenset({"functools.partial"})


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

    `functools.partial(torch.load, ...)` is a load too: it is flagged when neither the partial
    nor any call of the name it is bound to in the file passes `weights_only` (or `**kwargs`).

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
    enabled_by_default = False
    requires_any = ("load(", "partial(")
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
        # A partial that binds the choice, or whose every call may pass it.
        Valid("""
            import functools
            import torch
            load_weights = functools.partial(torch.load, map_location="cpu", weights_only=True)
            state = load_weights(path)
        """),
        Valid("""
            from functools import partial
            import torch
            loader = partial(torch.load, map_location=device)
            state = loader(path, weights_only=True)
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
        # torch.load bound in advance by functools.partial, called without the choice.
        Invalid("""
            import functools
            import torch
            load_checkpoint = functools.partial(torch.load, map_location="cpu")
            state = load_checkpoint(args.resume)
        """, line=3),
        Invalid("""
            from functools import partial
            from torch import load
            loaders = {"cpu": partial(load, map_location="cpu")}
        """, line=3),
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
        self.partial_loads: list[tuple[cst.Call, str | None]] = []  # and the name bound to
        self.names_given_the_choice: set[str] = set()  # `loader(path, weights_only=True)`
        self.assigned_name: str | None = None

    # What the load's result is, seen from its parent (parents are visited first).

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Call) and any(
                isinstance(element.slice, cst.Index)
                and isinstance(element.slice.value, cst.SimpleString) for element in node.slice):
            self.state_dicts.add(id(node.value))  # checkpoint["model"]

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self.assigned_name = None

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target
        self.assigned_name = target.value if len(node.targets) == 1 and isinstance(
            target, cst.Name) else None
        if isinstance(node.value, cst.Call) and any(
                isinstance(target.target, cst.Name) and self.STATE_NAME.search(target.target.value)
                for target in node.targets):
            self.state_dicts.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "load_state_dict":
            self.state_dicts.update(id(arg.value) for arg in node.args)
            return
        chooses = keyword(node, "weights_only") is not None or any(
            arg.star == "**" for arg in node.args)
        if isinstance(node.func, cst.Name) and chooses:
            self.names_given_the_choice.add(node.func.value)
        name = self.imports.call_name(node)
        if name in PARTIALS and node.args and self.imports.qualified_name(
                node.args[0].value) == "torch.load":
            if not (chooses or self._load_is_safe_here()):
                self.partial_loads.append((node, self.assigned_name))
            return
        if name != "torch.load":
            return
        if self._load_is_safe_here() or chooses:
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

    def _load_is_safe_here(self) -> bool:
        """Whether the project or the code around this point makes loading weights-only: inside
        `with safe_globals(...)` the file loads weights-only on purpose; inside `except
        TypeError:` it is the fallback for a PyTorch too old to know the argument."""
        if self.default_is_safe or self.declares_weights_only:
            return True
        around = self.facts.handler_context()
        return around.within(self.SAFE_CONTEXTS) or around.catches("builtins.TypeError")

    def leave_Module(self, original_node: cst.Module) -> None:
        for call, bound_to in self.partial_loads:
            if bound_to is not None and bound_to in self.names_given_the_choice:
                continue  # every call through it may say weights_only itself
            self.report(call, "this partial binds torch.load without `weights_only=True`: on "
                              "PyTorch before 2.6 every load through it unpickles, so a "
                              "checkpoint can run any code; bind `weights_only=True`")
