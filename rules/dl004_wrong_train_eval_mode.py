"""DL004: a model run for evaluation in training mode, or left in eval mode for training."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument
from dllint.semantic.values import MODULE, first
from dllint.types import FixAvailability

EVALUATION_NAME = re.compile(
    r"(^|_)(val|valid|validate|validation|eval|evaluate|evaluation|test|predict|prediction|"
    r"infer|inference)(_|$)")
MODEL_NAME = re.compile(catalog.MODEL_NAME_PATTERN)


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


@dataclass
class FunctionFacts:
    name: str
    node: cst.FunctionDef
    params: list[str]
    modes: dict[str, str] = field(default_factory=dict)  # "model" / "self.model" -> train|eval
    loaded: set[str] = field(default_factory=set)
    # A method of a class with base classes may override a hook its framework calls.
    overrides: bool = False




class WrongTrainEvalMode(Rule):
    """
    ## What it does
    Flags a model with dropout or batch norm (or one whose layers dllint cannot see, such as a
    torchvision model) that is run for evaluation while still in training mode: under
    `torch.no_grad()`/`torch.inference_mode()`, in a function named like `validate`,
    `evaluate`, `test` or `predict`, or after `load_state_dict` in a script that never trains.
    Also flags `model.eval` written without the call, and an epoch loop that calls `eval()` for
    validation but never `train()` before the next training step.

    ## Why is this bad?
    In training mode dropout zeroes random activations and batch norm normalizes with the
    statistics of the current batch (and updates its running averages). Evaluated that way, the
    model's predictions are noisy and its metrics wrong; left in eval mode for training, dropout
    and batch norm silently stop working from the second epoch on.

    ## Example
    ```python
    for epoch in range(epochs):
        for x, y in train_loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        validate(model, val_loader)
    ```

    ## Use instead
    ```python
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        validate(model, val_loader)
    ```

    ## References
    "The network left in the wrong train/eval mode (dropout, batch norm)" is one of the most
    common silent deep-learning bugs.
    """

    code = "DL004"
    name = "wrong-train-eval-mode"
    summary = "Model evaluated in training mode, or trained after eval() without train()"
    fix_availability = FixAvailability.SOMETIMES
    requires_any = (".eval", "no_grad", "inference_mode", "load_state_dict", "def val",
                    "def eval", "def test", "def predict", "def infer", "_val", "_eval",
                    "_test", "_predict", "_infer")
    uses_model = True

    VALID = [
        Valid("""
            import torch
            model.eval()
            with torch.no_grad():
                predictions = model(images)
        """),
        Valid("""
            import torch

            def evaluate(model, loader):
                model.eval()
                with torch.no_grad():
                    return [model(x) for x, _ in loader]
        """),
        Valid("""
            for epoch in range(10):
                model.train()
                for x, y in loader:
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
                model.eval()
                validate(model, val_loader)
        """),
        Valid("""
            import torch
            from torch import nn

            class MLP(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

                def forward(self, x):
                    return self.layers(x)

            mlp = MLP()
            with torch.no_grad():
                scores = mlp(x)
        """),
        Valid("""
            import torch
            import torchvision
            model = torchvision.models.resnet18().eval()
            with torch.inference_mode():
                logits = model(batch)
        """),
        Valid("""
            import torch
            from torch import nn

            class CaptionModel(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.vision_model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1))

                def forward(self, pixels):
                    return self.vision_model(pixels)

                @torch.no_grad()
                def generate(self, pixels):
                    return self.vision_model(pixels).argmax(-1)
        """),
        Valid("""
            from segmentation_models_pytorch.losses import FocalLoss
            from .base import BaseTask

            class ClassificationTask(BaseTask):
                def configure_losses(self):
                    self.criterion = FocalLoss(mode="multiclass")

                def validation_step(self, batch, batch_index):
                    return self.criterion(self.model(batch["image"]), batch["label"])
        """),
        Valid("""
            import lightning as L

            class Classifier(L.LightningModule):
                def validation_step(self, batch, batch_index):
                    x, y = batch
                    return self.model(x)
        """),
        Valid("""
            import torch

            @torch.no_grad()
            def predict(model, x):
                return model(x)

            model.eval()
            output = predict(model, x)
        """),
        Valid("""
            import torch
            model.train(False)
            model.load_state_dict(torch.load("weights.pt"))
            output = model(x)
        """),
        Valid("""
            import torch

            def update_ema(ema_model, model, decay):
                with torch.no_grad():
                    for ema_p, p in zip(ema_model.parameters(), model.parameters()):
                        ema_p.mul_(decay).add_(p, alpha=1 - decay)
        """),
        Valid("""
            import torch

            class Trainer:
                def evaluation_loop(self, model, loader):
                    model.eval()
                    return [self.prediction_step(model, batch) for batch in loader]

                def prediction_step(self, model, inputs):
                    with torch.no_grad():
                        return model(**inputs)

            class Seq2SeqTrainer(Trainer):
                def prediction_step(self, model, inputs):
                    with torch.no_grad():
                        return model.generate(**inputs), model(**inputs)
        """),
        Valid("""
            import torch

            def supervised_evaluation_step(model, model_fn=lambda model, x: model(x)):
                def evaluate_step(engine, batch):
                    model.eval()
                    with torch.no_grad():
                        return model_fn(model, batch)
                return evaluate_step

            class PatchInferer:
                def __call__(self, inputs, network):
                    return self._run_inference(network, inputs)

                def _run_inference(self, network, patch):
                    return network(patch)
        """),
        Valid("""
            def train_one_epoch(model, loader):
                model.train()
                for x, y in loader:
                    criterion(model(x), y).backward()
                    optimizer.step()

            for epoch in range(5):
                train_one_epoch(model, loader)
                model.eval()
                evaluate(model, val_loader)
        """),
    ]
    INVALID = [
        Invalid("""
            model.eval
            output = model(x)
        """, line=1, fixed="""
            model.eval()
            output = model(x)
        """),
        Invalid("""
            import torch
            import torchvision
            model = torchvision.models.resnet50(weights="DEFAULT")
            with torch.no_grad():
                logits = model(batch)
        """, line=5),
        Invalid("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.dropout = nn.Dropout(0.5)
                    self.fc = nn.Linear(16, 2)

                def forward(self, x):
                    return self.fc(self.dropout(x))

            net = Net()
            with torch.no_grad():
                out = net(x)
        """, line=15),
        Invalid("""
            import torch

            def evaluate(model, loader):
                correct = 0
                with torch.no_grad():
                    for x, y in loader:
                        correct += (model(x).argmax(1) == y).sum().item()
                return correct
        """, line=7),
        Invalid("""
            for epoch in range(10):
                for x, y in loader:
                    loss = criterion(model(x), y)
                    loss.backward()
                    optimizer.step()
                model.eval()
                accuracy = validate(model, val_loader)
        """, line=6, related_lines=(4,)),
        Invalid("""
            def validate(model, loader):
                model.eval()
                return sum(metric(model(x), y) for x, y in loader)

            def main():
                model.train()
                for epoch in range(10):
                    for x, y in loader:
                        criterion(model(x), y).backward()
                        optimizer.step()
                    validate(model, val_loader)
        """, line=11, related_lines=(9,)),
        Invalid("""
            import torch
            from torch import nn
            model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
            model.load_state_dict(torch.load("checkpoint.pt"))
            prediction = model(image)
        """, line=5),
        Invalid("""
            from torch import nn

            class Runner:
                def __init__(self):
                    self.model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1))

                def predict(self, x):
                    return self.model(x)
        """, line=8),
        Invalid("""
            import torch
            model.train
            with torch.no_grad():
                model.train(False)
                out = model(x)
        """, line=2, fixed="""
            import torch
            model.train()
            with torch.no_grad():
                model.train(False)
                out = model(x)
        """),
        Invalid("""
            import torch
            from torch import nn
            encoder = nn.LSTM(32, 64)
            encoder.train()
            with torch.inference_mode():
                features, _ = encoder(sequence)
        """, line=6),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.module_facts = FunctionFacts("<module>", None, [])  # type: ignore[arg-type]
        self.functions: list[FunctionFacts] = []
        self.deferred: list[tuple[FunctionFacts, str, cst.Call, str]] = []
        self.local_calls: list[tuple[str, cst.Call, dict[str, str]]] = []
        self.module_classes: list[bool] = []
        self.class_nodes: list[cst.ClassDef] = []
        self.lambda_depth = 0  # a lambda's body runs later, in a mode unknown here
        self.trains_anywhere = "backward" in context.source

    # ---- facts ------------------------------------------------------------------------------

    @property
    def facts(self) -> FunctionFacts:
        return self.functions[-1] if self.functions else self.module_facts

    def key(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and \
                node.value.value == "self":
            return f"self.{node.attr.value}"
        return None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.module_classes.append(self.is_module_class(node))
        self.class_nodes.append(node)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.module_classes.pop()
        self.class_nodes.pop()

    def is_module_class(self, node: cst.ClassDef) -> bool:
        """Inside an nn.Module (or Lightning module), submodules follow the parent's mode: whoever
        calls the top-level model's eval() decides, so `self.encoder(x)` there is not judged."""
        if any(isinstance(statement, cst.FunctionDef) and statement.name.value == "forward"
               for statement in node.body.body):
            return True
        for base in node.bases:
            qualified = self.imports.qualified_name(base.value) or ""
            name = qualified or (base.value.value if isinstance(base.value, cst.Name) else "")
            if (qualified in catalog.NN_MODULE_BASES or qualified in catalog.LIGHTNING_BASES
                    or self.model.local_classes.get(name) is not None
                    or re.search(r"(Module|Model|Layer|Block|Net)$", name)):
                return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = [param.name.value for param in (*node.params.posonly_params,
                                                  *node.params.params)]
        overrides = bool(self.class_nodes and self.class_nodes[-1].bases)
        self.functions.append(FunctionFacts(node.name.value, node, params, overrides=overrides))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.lambda_depth += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.lambda_depth -= 1

    def visit_Expr(self, node: cst.Expr) -> None:
        value = node.value
        if isinstance(value, cst.Attribute) and value.attr.value in ("eval", "train"):
            method = value.attr.value
            self.report(value, f"`.{method}` without the call does nothing: the model "
                               f"{'stays in training mode' if method == 'eval' else 'keeps its mode'}",
                        fix=NodeFix.wrap(value, "", "()", description=f"Call `.{method}()`"))

    def leave_Assign(self, original_node: cst.Assign) -> None:
        mode = self.chain_mode(original_node.value)
        for target in original_node.targets:
            key = self.key(target.target)
            if key is not None:
                if mode is None:
                    self.facts.modes.pop(key, None)
                else:
                    self.facts.modes[key] = mode

    def chain_mode(self, node: cst.BaseExpression) -> str | None:
        """`Net().to(device).eval()` puts the new model in eval mode."""
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            mode = self.mode_call(node)
            if mode is not None:
                return mode
            node = node.func.value
        return None

    def mode_call(self, node: cst.Call) -> str | None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return None
        if func.attr.value == "eval" and not node.args:
            return "eval"
        if func.attr.value == "train":
            flag = argument(node, 0, "mode")
            return "eval" if flag is not None and _is_false(flag.value) else "train"
        return None

    # ---- calls ------------------------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        mode = self.mode_call(node)
        if mode is not None and isinstance(func, cst.Attribute):
            key = self.key(func.value)
            if key is not None:
                self.facts.modes[key] = mode
            return
        if isinstance(func, cst.Attribute):
            if func.attr.value == "load_state_dict":
                key = self.key(func.value)
                if key is not None:
                    self.facts.loaded.add(key)
        callee = func.value if isinstance(func, cst.Name) and self.model.qualified(func) is None \
            else (func.attr.value if self.key(func) is not None and isinstance(func, cst.Attribute)
                  else None)
        if callee is not None:  # a local function, or a method of this class: self.validate(...)
            self.local_calls.append((callee, node, dict(self.facts.modes), self.facts.params))
        self.check_module_call(node)

    def check_module_call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        key = self.key(func)
        if self.lambda_depth or key is None or key == "self" or (
                key.startswith("self.") and self.module_classes and self.module_classes[-1]):
            return
        if self.facts.modes.get(key) == "eval" or self.module_facts.modes.get(key) == "eval":
            return
        context = self.evaluation_context(key)
        if context is None:
            return
        module = first(self.model.value(func), MODULE)
        if module is not None:
            if module.info.mode_dependent is False:
                return
            what = (f"has {module.info.evidence}" if module.info.mode_dependent
                    else "may have dropout or batch norm")
            self.report_evaluation(node, key, what, context)
            return
        facts = self.facts
        name = key.rsplit(".", 1)[-1]
        if key in facts.params and MODEL_NAME.search(name) and facts.node is not None and \
                EVALUATION_NAME.search(facts.name) and not facts.name.startswith("test_"):
            # A model handed to an evaluation helper: callers in this file may have set eval().
            self.deferred.append((facts, key, node, context))

    def evaluation_context(self, key: str) -> str | None:
        if self.model.in_no_grad:
            return "under no_grad/inference_mode"
        function = self.facts
        if function.node is not None and EVALUATION_NAME.search(function.name) and \
                not function.name.startswith("test_") and \
                function.name not in catalog.FRAMEWORK_EVALUATION_HOOKS:
            return f"in `{function.name}()`"
        if key in self.facts.loaded and not self.trains_anywhere:
            return "after load_state_dict in a script that never trains"
        return None

    def report_evaluation(self, node: cst.Call, key: str, what: str, context: str) -> None:
        self.report(node, f"`{key}` ({what}) runs {context} while in training mode: dropout "
                          f"stays active and batch norm uses batch statistics; call "
                          f"`{key}.eval()` first")

    # ---- judgements that need the whole file ------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        for facts, key, node, context in self.deferred:
            calls = [(call, modes, params) for name, call, modes, params in self.local_calls
                     if name == facts.name]
            if not calls and facts.overrides:
                continue  # a hook its framework calls (Trainer.prediction_step): callers unseen
            if calls and all(self.passed_in_eval(facts, key, call, modes, params)
                             for call, modes, params in calls):
                continue
            self.report_evaluation(node, key, "a model passed in", context)
        reported: set[int] = set()
        for loop in self.model.loops:
            self.judge_loop(loop, reported)

    def passed_in_eval(self, facts: FunctionFacts, parameter: str, call: cst.Call,
                       modes: dict[str, str], caller_params: list[str]) -> bool:
        """Whether this call site hands `parameter` a model its caller put in eval mode, or
        only forwards its own parameter (then the mode is decided further up, unseen)."""
        index = facts.params.index(parameter)
        if facts.params[:1] == ["self"] and isinstance(call.func, cst.Attribute):
            index -= 1  # self.method(model, ...): `self` is not among the arguments
        arg = argument(call, index, parameter)
        if arg is None:
            return False
        key = self.key(arg.value)
        if key is not None and key in caller_params and modes.get(key) != "train":
            return True
        return key is not None and (modes.get(key) == "eval"
                                    or self.module_facts.modes.get(key) == "eval")

    def judge_loop(self, loop, reported: set[int]) -> None:
        events = list(self.model.expand(loop.events))
        kinds = {event[0] for event in events}
        if not {"backward", "eval"} <= kinds or "train" in kinds:
            return
        backward = next(event[1] for event in events if event[0] == "backward")
        evaluation = next(event[1] for event in events if event[0] == "eval")
        if id(evaluation) in reported:
            return
        reported.add(id(evaluation))
        self.report(evaluation, "this puts the model in eval mode inside the training loop, and "
                                "nothing calls `train()` before the next training step: from "
                                "the second epoch on, dropout and batch norm are off; call "
                                "`model.train()` at the top of each epoch",
                    related=[(backward, "the training step")])


