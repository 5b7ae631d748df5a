"""DL304: `torch.Tensor(n, m)` allocates uninitialised memory."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import integer
from dllint.types import Applicability, FixAvailability

CONSTRUCTORS = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.LongTensor",
                          "torch.DoubleTensor", "torch.cuda.FloatTensor"})


def _is_size(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Integer):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value in ("size", "numel", "dim")
    return isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute) and \
        node.value.attr.value == "shape"


class UninitializedTensor(Rule):
    """
    ## What it does
    Flags `torch.Tensor(3, 4)` (and `torch.FloatTensor(...)`) called with sizes: integers,
    `x.size(0)`, `x.shape[1]`.

    ## Why is this bad?
    With sizes, the legacy constructor returns uninitialised memory: whatever bytes were there,
    often zeros in a fresh process and garbage (even NaN) later. A weight or buffer created this
    way and not filled right after starts training from random junk, differently on every run.

    ## Example
    ```python
    self.bias = nn.Parameter(torch.Tensor(out_features))
    ```

    ## Use instead
    ```python
    self.bias = nn.Parameter(torch.zeros(out_features))
    ```

    ## References
    PyTorch documentation, `torch.Tensor` ("use torch.empty / torch.zeros").
    """

    code = "DL304"
    name = "uninitialized-tensor"
    summary = "torch.Tensor(sizes) allocates uninitialised memory"
    fix_availability = FixAvailability.SOMETIMES
    requires_any = ("Tensor(",)

    VALID = [
        Valid("""
            import torch
            weights = torch.zeros(3, 4)
        """),
        Valid("""
            import torch
            values = torch.Tensor([1.0, 2.0, 3.0])
        """),
        Valid("""
            import torch
            converted = torch.Tensor(numpy_array)
        """),
        Valid("""
            import torch
            buffer = torch.empty(8, 8)
            buffer.normal_()
        """),
        Valid("""
            import torch
            t = torch.tensor(3)
        """),
        Valid("""
            import torch
            empty = torch.Tensor()
            outputs[0] = torch.Tensor(0)
        """),
        Valid("""
            import torch
            noise = torch.cuda.FloatTensor(images.size(0), 100).normal_()
        """),
        Valid("""
            import torch
            from torch import nn
            weight = nn.Parameter(nn.init.xavier_uniform_(torch.Tensor(64, 32)))
        """),
        # Moved to the GPU, then filled (fairseq's unit2speech): initialised in one expression.
        Valid("""
            import torch
            label = torch.LongTensor(1).cuda().fill_(speaker)
        """),
    ]
    INVALID = [
        Invalid("""
            import torch
            weights = torch.Tensor(3, 4)
        """, line=2, unsafe=True, fixed="""
            import torch
            weights = torch.zeros(3, 4)
        """),
        Invalid("""
            import torch
            from torch import nn
            bias = nn.Parameter(torch.Tensor(10))
        """, line=3, unsafe=True, fixed="""
            import torch
            from torch import nn
            bias = nn.Parameter(torch.zeros(10))
        """),
        Invalid("""
            import torch
            mask = torch.FloatTensor(x.size(0), 5)
        """, line=2, unsafe=True, fixed="""
            import torch
            mask = torch.zeros(x.size(0), 5)
        """),
        Invalid("""
            import torch as T
            state = T.Tensor(batch.shape[0], 128)
        """, line=2, unsafe=True, fixed="""
            import torch as T
            state = T.zeros(batch.shape[0], 128)
        """),
        Invalid("""
            from torch import Tensor
            grid = Tensor(64, 64)
        """, line=2),
        Invalid("""
            import torch
            counts = torch.LongTensor(5)
        """, line=2),
        # Near miss: moved to the GPU but never filled.
        Invalid("""
            import torch
            label = torch.LongTensor(1).cuda()
        """, line=2),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.initialised: set[int] = set()  # constructor calls filled in the same expression

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in catalog.IN_PLACE_INITIALISERS:
            filled = func.value
            while isinstance(filled, cst.Call) and isinstance(filled.func, cst.Attribute) and \
                    filled.func.attr.value in catalog.DEVICE_MOVING_METHODS:
                filled = filled.func.value  # torch.LongTensor(1).cuda().fill_(label)
            self.initialised.add(id(filled))  # torch.Tensor(n).normal_()
        qualified = self.imports.call_name(node)
        if qualified is not None and qualified.startswith("torch.nn.init.") and node.args:
            self.initialised.add(id(node.args[0].value))  # nn.init.xavier_uniform_(Tensor(n, m))
        if qualified not in CONSTRUCTORS or not node.args or id(node) in self.initialised:
            return
        if any(arg.keyword is not None or arg.star for arg in node.args) or not all(
                _is_size(arg.value) for arg in node.args):
            return
        if any(isinstance(arg.value, cst.Integer) and integer(arg.value) == 0
               for arg in node.args):
            return  # a size of 0: an empty tensor, nothing uninitialised (used to free memory)
        fix = None
        if qualified in ("torch.Tensor", "torch.FloatTensor") and isinstance(node.func, cst.Attribute):
            fix = NodeFix.replace(node.func.attr, "zeros", description="Use torch.zeros",
                                  applicability=Applicability.UNSAFE)
        self.report(node, "with sizes, this constructor returns uninitialised memory (garbage, "
                          "sometimes NaN); use `torch.zeros` or `torch.empty` plus an explicit "
                          "initialisation", fix=fix)
