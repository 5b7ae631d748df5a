"""Evaluation helpers: which parameters a top-level function runs as a model without gradients.

`def generate(model, idx, max_new_tokens): ... with torch.no_grad(): logits = model(idx)` (or a
function decorated with `@torch.no_grad()`, or one that calls `model.generate(...)`) evaluates
the model its caller hands it, in whatever mode the caller left it. Whether that is a bug is
known only at the call: a caller that switched the model to `eval()` first is right, one that
hands it over in training mode is not. The project summaries carry these evaluations, so DL004
judges a helper of another file at each of its calls (`Facts.imported_evaluations`), where the
caller's mode is known, and not inside the helper, where it is not.

A function that switches the parameter's mode itself (`model.eval()`, `model.train()`) decides
it there, and one that runs a backward pass trains: neither is recorded.
"""

from __future__ import annotations

import re

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.imports import ImportMap
from dllint.walk import CachedVisitorNames, walk

# (position of the parameter, its name, the call that runs it)
Evaluation = tuple[int, str, cst.Call]

_MODE_METHODS = frozenset({"eval", "train", "requires_grad_"})
_GATE = re.compile("|".join(re.escape(name.rsplit(".", 1)[-1])
                            for name in sorted({*catalog.NO_GRAD_CONTEXTS,
                                                *catalog.GENERATION_METHODS})))


class Evaluations(CachedVisitorNames, cst.CSTVisitor):
    """The parameters each top-level function runs without gradients (see the module)."""

    def __init__(self, imports: ImportMap) -> None:
        super().__init__()
        self.imports = imports
        self.depth = 0  # functions and classes open
        self.name = ""
        self.params: list[str] = []
        self.no_grad = 0  # no_grad regions open in the function (its decorator counts)
        self.found: dict[str, list[Evaluation]] = {}
        self.switched: set[str] = set()  # parameters whose mode the function sets itself
        self.trains = False

    def is_no_grad(self, node: cst.BaseExpression) -> bool:
        target = node.func if isinstance(node, cst.Call) else node
        return self.imports.qualified_name(target) in catalog.NO_GRAD_CONTEXTS

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.depth -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.depth == 0:
            self.name = node.name.value
            self.params = [param.name.value for param in (*node.params.posonly_params,
                                                          *node.params.params)]
            self.no_grad = sum(self.is_no_grad(decorator.decorator)
                               for decorator in node.decorators)
            self.switched, self.trains = set(), False
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1
        if self.depth == 0:
            kept = [found for found in self.found.get(self.name, ())
                    if found[1] not in self.switched]
            if self.trains or not kept:
                self.found.pop(self.name, None)
            else:
                self.found[self.name] = kept
            self.params = []

    def visit_With(self, node: cst.With) -> None:
        if self.params:
            self.no_grad += sum(self.is_no_grad(item.item) for item in node.items)

    def leave_With(self, original_node: cst.With) -> None:
        if self.params:
            self.no_grad -= sum(self.is_no_grad(item.item) for item in original_node.items)

    def visit_Call(self, node: cst.Call) -> None:
        if not self.params or self.depth != 1:
            return
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in catalog.BACKWARD_METHODS:
                self.trains = True
            if isinstance(func.value, cst.Name) and func.value.value in self.params:
                if method in _MODE_METHODS:
                    self.switched.add(func.value.value)
                elif method in catalog.GENERATION_METHODS or (method == "forward"
                                                              and self.no_grad):
                    self.note(func.value.value, node)
        elif isinstance(func, cst.Name) and func.value in self.params and self.no_grad:
            self.note(func.value, node)

    def note(self, parameter: str, call: cst.Call) -> None:
        found = self.found.setdefault(self.name, [])
        if all(name != parameter for _, name, _ in found):
            found.append((self.params.index(parameter), parameter, call))


def evaluated_parameters(module: cst.Module, text: str,
                         imports: ImportMap) -> dict[str, list[Evaluation]]:
    """The evaluations of each top-level function of a file (see `Evaluations`); {} without a
    walk when the text names no no-grad context and no generation method."""
    if _GATE.search(text) is None:
        return {}
    collector = Evaluations(imports)
    walk(module, [collector])
    return collector.found
