"""Mode effects: what each function of a file does to the train/eval mode of the models it is
handed.

`def evaluate(model, loader): model.eval(); ...` leaves its caller's model in eval mode, whatever
it does after; `def do_eval(model, loader): for batch in loader: model(**batch)` evaluates the
model it is handed in whatever mode its caller left it. DL004 reads both for the file it lints,
and the project summaries carry them, so a helper of another file (`from eval import eval_net`)
counts at its call: an `eval_net(net, ...)` inside a training loop leaves the net in eval mode
for the steps after it, a `do_eval(model, ...)` after `model.train()` evaluates in training mode.

An effect is (parameter, its position among the positional parameters, "eval" | "train" |
"evaluated", the node that makes it: the switch, or the first forward pass).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

from dllint.semantic import catalog
from dllint.semantic.syntax import mode_switch

# A function whose name says it evaluates (`validate`, `do_eval`, `test_epoch`, `predict`), and
# one whose name says it also trains (`train_and_evaluate`), which decides modes itself.
EVALUATION_NAME = re.compile(catalog.EVALUATION_NAME_PATTERN)
TRAINING_NAME = re.compile(catalog.TRAINING_NAME_PATTERN)
# Methods of a module that run it as a forward pass does (`model.generate(...)`).
_RUNNING_METHODS = frozenset({"generate", "forward"})
# Methods of a module that leave its mode alone however it is called.
_MODE_NEUTRAL_METHODS = frozenset({"to", "cuda", "cpu", "parameters", "named_parameters",
                                   "state_dict", "modules", "children", "zero_grad", "half",
                                   "float", "double", "init_hidden"})


@dataclass(frozen=True)
class ModeEffect:
    parameter: str
    position: int
    effect: str  # "eval" | "train" (left in that mode) | "evaluated" (run in the caller's mode)
    node: cst.CSTNode


def positional_parameters(function: cst.FunctionDef) -> list[str]:
    return [param.name.value for param in (*function.params.posonly_params,
                                           *function.params.params)]


def modes_left(function: cst.FunctionDef) -> dict[str, tuple[str, cst.Call]]:
    """The modes a function leaves its parameters in, each with its switch: `model.eval()` (or
    `model.train()`) run on every path through its body, not in a branch or loop, the last one
    for each parameter."""
    params = set(positional_parameters(function))
    modes: dict[str, tuple[str, cst.Call]] = {}
    statements = list(function.body.body) if isinstance(function.body, cst.IndentedBlock) else []
    while statements:
        statement = statements.pop(0)
        if isinstance(statement, cst.With):
            statements[:0] = statement.body.body  # a `with` block runs its body once
            continue
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
                continue
            mode = mode_switch(small.value)
            receiver = small.value.func.value if mode is not None else None
            if isinstance(receiver, cst.Name) and receiver.value in params:
                modes[receiver.value] = (mode, small.value)
    return modes


class _ParameterUses(cst.CSTVisitor):
    """How a function's body uses its parameters: the forward passes it runs on each, and the
    parameters it does anything else with that may set a mode (switches them, hands them to a
    call, stores them)."""

    def __init__(self, params: set[str]) -> None:
        super().__init__()
        self.params = params
        self.forwards: dict[str, cst.Call] = {}
        self.other_uses: set[str] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function runs when called, not here

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Name) and func.value in self.params:
            self.forwards.setdefault(func.value, node)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value in self.params:
            method = func.attr.value
            if method in _RUNNING_METHODS:
                self.forwards.setdefault(func.value.value, node)
            elif method not in _MODE_NEUTRAL_METHODS:
                self.other_uses.add(func.value.value)  # eval(), train(), apply(...), ...
        for arg in node.args:
            if isinstance(arg.value, cst.Name) and arg.value.value in self.params:
                self.other_uses.add(arg.value.value)  # handed on: the callee may switch it

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Name) and node.value.value in self.params:
            self.other_uses.add(node.value.value)  # `self.model = model`: used elsewhere
        for target in node.targets:
            if isinstance(target.target, cst.Attribute) and isinstance(
                    target.target.value, cst.Name) and target.target.value.value in self.params:
                self.other_uses.add(target.target.value.value)  # `model.training = False`


def evaluated_parameters(function: cst.FunctionDef) -> dict[str, cst.Call]:
    """The parameters a function named for evaluation (and not for training) runs forward
    passes on without setting their mode or handing them on: each with its first forward pass.
    Such a helper evaluates in whatever mode its caller left the model."""
    name = function.name.value
    if not EVALUATION_NAME.search(name) or TRAINING_NAME.search(name):
        return {}
    params = [param for param in positional_parameters(function) if param not in ("self", "cls")]
    uses = _ParameterUses(set(params))
    function.body.visit(uses)
    return {param: call for param, call in uses.forwards.items()
            if param not in uses.other_uses}


def mode_effects(module: cst.Module) -> dict[str, list[ModeEffect]]:
    """The mode effects of each top-level function of a file, by name; a name defined twice
    has none (which definition a call reaches is not known)."""
    found: dict[str, list[ModeEffect]] = {}
    defined: dict[str, int] = {}
    for statement in module.body:
        if not isinstance(statement, cst.FunctionDef):
            continue
        name = statement.name.value
        defined[name] = defined.get(name, 0) + 1
        params = positional_parameters(statement)
        effects = [ModeEffect(param, params.index(param), mode, switch)
                   for param, (mode, switch) in modes_left(statement).items()]
        switched = {effect.parameter for effect in effects}
        effects += [ModeEffect(param, params.index(param), "evaluated", call)
                    for param, call in evaluated_parameters(statement).items()
                    if param not in switched]
        if effects:
            found[name] = effects
    return {name: effects for name, effects in found.items() if defined[name] == 1}
