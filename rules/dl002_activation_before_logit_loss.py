"""DL002: softmax or sigmoid output fed to a loss that applies it again."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, is_true, keyword
from dllint.semantic.values import LOSS, PROBABILITIES, Tag, first
from dllint.types import Applicability, FixAvailability

KERAS_LOGIT_LOSSES = frozenset({"SparseCategoricalCrossentropy", "CategoricalCrossentropy",
                                "BinaryCrossentropy", "BinaryFocalCrossentropy",
                                "CategoricalFocalCrossentropy"})
KERAS_ACTIVATION_LAYERS = {"Softmax": "softmax", "Activation": None}


class ActivationBeforeLogitLoss(Rule):
    """
    ## What it does
    Flags a softmax or sigmoid output that reaches a loss which applies that activation itself:
    `cross_entropy` / `CrossEntropyLoss`, `binary_cross_entropy_with_logits` /
    `BCEWithLogitsLoss`, a Keras loss built with `from_logits=True`; and plain softmax
    probabilities given to `nll_loss` / `NLLLoss`, which wants log-probabilities. The
    activation may be a function, a method, an `nn.Softmax`/`nn.Sigmoid` last layer of an
    `nn.Sequential` (also one grown with `add_module`), or the return value of a model's
    `forward` (also in another file); the model and the loss may reach each other through
    function parameters, constructor and setter arguments, default values, `self(x)`, a custom
    loss module's `forward`, or a tuple the model returns.

    ## Why is this bad?
    `CrossEntropyLoss` computes `log_softmax` of its input. Given probabilities, it computes
    the softmax of a softmax: the outputs are squashed into a narrow range, the loss barely
    moves and the gradients nearly vanish. The model still trains, slowly and to a worse
    result, and nothing raises an error.

    ## Example
    ```python
    probabilities = F.softmax(model(images), dim=1)
    loss = F.cross_entropy(probabilities, labels)
    ```

    ## Use instead
    ```python
    logits = model(images)
    loss = F.cross_entropy(logits, labels)
    probabilities = F.softmax(logits, dim=1)  # for metrics and predictions only
    ```

    ## References
    "Wrong input to the loss function, such as softmax outputs to a loss that expects logits"
    is one of the five most common bugs when implementing a deep-learning model.
    """

    code = "DL002"
    name = "activation-before-logit-loss"
    summary = "Softmax or sigmoid output reaches a loss that expects logits"
    fix_availability = FixAvailability.SOMETIMES
    requires_any = ("cross_entropy", "CrossEntropy", "BCEWithLogits", "nll_loss", "NLLLoss",
                    "from_logits")
    uses_model = True

    VALID = [
        Valid("""
            import torch.nn.functional as F
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            probabilities = F.softmax(logits, dim=1)
            accuracy = (probabilities.argmax(1) == labels).float().mean()
        """),
        Valid("""
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(model(images), dim=1)
            loss = F.nll_loss(log_probabilities, labels)
        """),
        Valid("""
            import torch
            from torch import nn
            criterion = nn.BCELoss()
            loss = criterion(torch.sigmoid(model(x)), y)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            loss = F.nll_loss(torch.log(F.softmax(logits, dim=1)), labels)
        """),
        Valid("""
            import torch.nn.functional as F
            out = model(x)
            loss = F.cross_entropy(out, y)
            out = F.softmax(out, dim=1)
            predictions.append(out)
        """),
        Valid("""
            from torch import nn
            model = nn.Sequential(nn.Linear(4, 8), nn.Softmax(dim=1), nn.Linear(8, 3))
            loss = nn.CrossEntropyLoss()(model(x), y)
        """),
        Valid("""
            import torch
            from torch import nn
            import torch.nn.functional as F

            class Gated(nn.Module):
                def forward(self, x):
                    return x * torch.sigmoid(self.gate(x))

            net = Gated()
            loss = F.cross_entropy(net(x), y)
        """),
        Valid("""
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                                      keras.layers.Dense(10)])
            model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        """),
        Valid("""
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(10, activation="softmax")])
            model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Classifier(nn.Module):
                def forward(self, x):
                    return self.head(x)

                def predict(self, x):
                    return F.softmax(self(x), dim=-1)

            model = Classifier()
            loss = F.cross_entropy(model(x), y)
        """),
        # Value flow, near misses: the same paths carrying logits.
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)

                def forward(self, x):
                    return self.fc(x)

            def step(model, x, y, criterion):
                return criterion(model(x), y)

            def fit(model, loader, criterion):
                for x, y in loader:
                    step(model, x, y, criterion).backward()

            fit(Net(), loader, nn.CrossEntropyLoss())
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self, loss=nn.NLLLoss()):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)
                    self.loss_fn = loss

                def forward(self, x):
                    return F.log_softmax(self.fc(x), dim=1)

                def training_step(self, x, y):
                    return self.loss_fn(self(x), y)
        """),
        Valid("""
            from torch import nn

            class Trainer:
                def set_loss(self, loss):
                    self.criterion = loss

                def step(self, model, x, y):
                    return self.criterion.forward(model(x).view(-1, 3), y)

            trainer = Trainer()
            trainer.set_loss(nn.CrossEntropyLoss().cuda())
            trainer.step(nn.Linear(8, 3), x, y)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class EdgeLoss(nn.Module):
                def forward(self, prediction, target):
                    return F.binary_cross_entropy_with_logits(prediction, target)

            loss = EdgeLoss()(model(x), y)
            probability = torch.sigmoid(model(x))
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Discriminator(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 1)

                def forward(self, x):
                    logits = self.fc(x)
                    return logits, torch.sigmoid(logits)

            logits, _ = Discriminator()(x)
            loss = F.binary_cross_entropy_with_logits(logits, y)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            log_probabilities = F.log_softmax(z, 1)
            confidence = torch.exp(log_probabilities).max(1).values
            loss = F.nll_loss(log_probabilities, y)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn
            head = nn.Sequential()
            head.add_module("fc", nn.Linear(8, 3))
            loss = F.cross_entropy(head(x), y)
            if calibrate:
                head.add_module("temperature", nn.Identity())
        """),
    ]
    INVALID = [
        Invalid("""
            import torch.nn.functional as F
            loss = F.cross_entropy(F.softmax(logits, dim=1), labels)
        """, line=2, related_lines=(2,), unsafe=True, fixed="""
            import torch.nn.functional as F
            loss = F.cross_entropy(logits, labels)
        """),
        Invalid("""
            import torch.nn.functional as fn
            from torch import nn
            probabilities = fn.softmax(outputs, 1)
            loss = nn.CrossEntropyLoss()(probabilities, targets)
        """, line=3, related_lines=(4,)),
        Invalid("""
            import torch
            criterion = torch.nn.CrossEntropyLoss()
            scores = logits.softmax(dim=-1)
            loss = criterion(scores, target)
        """, line=3, related_lines=(4,)),
        Invalid("""
            from torch import nn
            from torch.nn import functional as F

            class Trainer:
                def __init__(self):
                    self.criterion = nn.BCEWithLogitsLoss()

                def step(self, x, y):
                    predictions = F.sigmoid(self.model(x))
                    return self.criterion(predictions, y)
        """, line=9, related_lines=(10,)),
        Invalid("""
            import torch.nn as nn
            model = nn.Sequential(nn.Linear(784, 10), nn.Softmax(dim=1))
            loss_fn = nn.CrossEntropyLoss()
            loss = loss_fn(model(images), labels)
        """, line=2, related_lines=(4,)),
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(128, 10)

                def forward(self, x):
                    return F.softmax(self.fc(x), dim=1)

            net = Net()
            loss = F.cross_entropy(net(batch), labels)
        """, line=10, related_lines=(13,)),
        Invalid("""
            import torch.nn.functional as F
            probabilities = F.softmax(model(x), dim=1)
            loss = F.nll_loss(probabilities, y)
        """, line=2, related_lines=(3,)),
        Invalid("""
            import torch
            import torch.nn.functional as F

            def predict(model, x):
                return torch.sigmoid(model(x))

            loss = F.binary_cross_entropy_with_logits(predict(model, x), y)
        """, line=5, related_lines=(7,)),
        Invalid("""
            from tensorflow import keras
            model = keras.Sequential([
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            model.compile(optimizer="adam",
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        """, line=4, related_lines=(7,)),
        Invalid("""
            from keras import layers, models, losses
            model = models.Sequential()
            model.add(layers.Dense(32, activation="relu"))
            model.add(layers.Dense(1, activation="sigmoid"))
            model.compile(loss=losses.BinaryCrossentropy(from_logits=True))
        """, line=4, related_lines=(5,)),
        Invalid("""
            from torch import nn

            class Head(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = nn.Sequential(nn.Linear(16, 4), nn.Softmax(-1))

                def forward(self, x):
                    return self.layers(x)

            head = Head().to("cuda")
            criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
            loss = criterion(head(x).view(-1, 4), y.view(-1))
        """, line=6, related_lines=(13,)),
        # Value flow: the softmax travels through call sites into parameters, several hops.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)

                def forward(self, x):
                    return F.softmax(self.fc(x), dim=1)

            def step(model, x, y, criterion):
                return criterion(model(x), y)

            def fit(model, loader, criterion):
                for x, y in loader:
                    step(model, x, y, criterion).backward()

            fit(Net(), loader, nn.CrossEntropyLoss())
        """, line=10, related_lines=(13,)),
        # A default parameter value, and `self(x)` inside the module is its own forward.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self, loss=nn.CrossEntropyLoss()):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)
                    self.loss_fn = loss

                def forward(self, x):
                    return F.softmax(self.fc(x), dim=1)

                def training_step(self, x, y):
                    return self.loss_fn(self(x), y)
        """, line=11, related_lines=(14,)),
        # Setter injection, `.cuda()` on the loss, `criterion.forward(...)`, `.view()`.
        Invalid("""
            import torch
            from torch import nn

            class Trainer:
                def set_loss(self, loss):
                    self.criterion = loss

                def step(self, model, x, y):
                    return self.criterion.forward(model(x).view(-1, 3), y)

            trainer = Trainer()
            trainer.set_loss(nn.CrossEntropyLoss().cuda())
            trainer.step(nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1)), x, y)
        """, line=13, related_lines=(9,)),
        # A custom loss module whose forward calls a logits loss.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class EdgeLoss(nn.Module):
                def forward(self, prediction, target):
                    return F.binary_cross_entropy_with_logits(prediction, target)

            loss = EdgeLoss()(model(x).sigmoid(), y)
        """, line=8, related_lines=(6,)),
        # A tuple-returning forward, unpacked.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Discriminator(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 1)

                def forward(self, x):
                    logits = self.fc(x)
                    return logits, torch.sigmoid(logits)

            _, probability = Discriminator()(x)
            loss = F.binary_cross_entropy_with_logits(probability, y)
        """, line=12, related_lines=(15,)),
        # exp(log_softmax) is probabilities; Variable() and .contiguous() keep that.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch.autograd import Variable
            probabilities = torch.exp(F.log_softmax(z, 1))
            loss = F.cross_entropy(Variable(probabilities).contiguous(), y)
        """, line=4, related_lines=(5,)),
        # A model assembled step by step with add_module.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn
            head = nn.Sequential()
            head.add_module("fc", nn.Linear(8, 3))
            head.add_module("softmax", nn.Softmax(1))
            loss = F.cross_entropy(head(x), y)
        """, line=5, related_lines=(6,)),
        # At a branch join both values count: a resumed model is still the softmax model.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            model = nn.Sequential(nn.Linear(8, 3))
            if resume:
                model = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
            for x, y in loader:
                F.cross_entropy(model(x), y).backward()
        """, line=6, related_lines=(8,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.keras_activation: dict[str, tuple[cst.CSTNode, str]] = {}

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if qualified in catalog.LOSS_FUNCTIONS:
            loss = catalog.LOSS_FUNCTIONS[qualified]
            self.check_loss_input(node, loss.wants, loss.display)
            return
        callee = first(self.model.value(node.func), LOSS) if not qualified else None
        if callee is None and isinstance(node.func, cst.Call):
            callee = first(self.model.value(node.func), LOSS)
        if callee is not None:
            self.check_loss_input(node, callee.info.wants, callee.info.display)
            return
        self.track_keras(node, qualified)

    def check_loss_input(self, call: cst.Call, wants: str, display: str) -> None:
        if wants not in ("logits", "log_probabilities"):
            return
        arg = argument(call, 0, "input")
        if arg is None:
            return
        activation = first(self.model.value(arg.value), PROBABILITIES)
        if activation is None:
            return
        what = "sigmoid" if activation.detail in ("sigmoid", "nn.Sigmoid") else "softmax"
        if wants == "logits":
            message = (f"{what} output reaches `{display}`, which applies {what} itself: the loss "
                       f"sees the activation twice and its gradients shrink; pass the logits")
        else:
            message = (f"softmax probabilities reach `{display}`, which expects log-probabilities; "
                       "use `log_softmax`")
        self.report_at_activation(activation, call, arg, message, wants)

    def report_at_activation(self, activation: Tag, call: cst.Call, arg: cst.Arg, message: str,
                             wants: str) -> None:
        if activation.node is None:  # defined in another file: report where it is consumed
            self.report(call, message, cause=activation.location)
            return
        fix = None
        inner = activation.node
        if (wants == "logits" and inner is arg.value and isinstance(inner, cst.Call)
                and inner.args and self.imports.call_name(inner) in catalog.PROBABILITY_FUNCTIONS):
            fix = NodeFix.replace(inner, inner.args[0].value.with_changes(),
                                  description="Pass the logits to the loss",
                                  applicability=Applicability.UNSAFE)
        self.report(inner, message, fix=fix, related=[(call, "the loss that applies it again")])

    # ---- Keras: a softmax/sigmoid output layer compiled with from_logits=True ----------------

    def track_keras(self, node: cst.Call, qualified: str | None) -> None:
        func = node.func
        if qualified and qualified.startswith(catalog.KERAS_PREFIXES) and \
                qualified.endswith(".Sequential") and node.args:
            layers = node.args[0].value
            if isinstance(layers, (cst.List, cst.Tuple)) and layers.elements:
                self.remember_sequential(node, layers.elements[-1].value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            owner = func.value.value
            if func.attr.value == "add" and node.args:
                self.remember(owner, node.args[0].value)
            elif func.attr.value == "compile":
                self.check_compile(owner, node)

    def remember_sequential(self, call: cst.Call, last_layer: cst.BaseExpression) -> None:
        self._pending_sequential = (call, last_layer)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._pending_sequential = None

    def leave_Assign(self, original_node: cst.Assign) -> None:
        pending = getattr(self, "_pending_sequential", None)
        if pending is not None and pending[0] is original_node.value:
            for target in original_node.targets:
                if isinstance(target.target, cst.Name):
                    self.remember(target.target.value, pending[1])
        self._pending_sequential = None

    def remember(self, owner: str, layer: cst.BaseExpression) -> None:
        activation = self.keras_layer_activation(layer)
        if activation is None:
            self.keras_activation.pop(owner, None)
        else:
            self.keras_activation[owner] = activation

    def keras_layer_activation(self, layer: cst.BaseExpression) -> tuple[cst.CSTNode, str] | None:
        if not isinstance(layer, cst.Call):
            return None
        qualified = self.imports.call_name(layer) or ""
        if not qualified.startswith(catalog.KERAS_PREFIXES):
            return None
        last = qualified.rsplit(".", 1)[-1]
        if last == "Softmax":
            return layer, "softmax"
        activation = keyword(layer, "activation") or (
            argument(layer, 0, "activation") if last == "Activation" else None)
        if activation is not None and isinstance(activation.value, cst.SimpleString):
            name = activation.value.evaluated_value
            if name in ("softmax", "sigmoid"):
                return layer, name
        return None

    def check_compile(self, owner: str, node: cst.Call) -> None:
        if owner not in self.keras_activation:
            return
        loss = keyword(node, "loss")
        if loss is None or not isinstance(loss.value, cst.Call):
            return
        qualified = self.imports.call_name(loss.value) or ""
        if (qualified.startswith(catalog.KERAS_PREFIXES)
                and qualified.rsplit(".", 1)[-1] in KERAS_LOGIT_LOSSES
                and is_true((keyword(loss.value, "from_logits") or cst.Arg(cst.Name("False"))).value)):
            layer, activation = self.keras_activation[owner]
            self.report(layer, f"the output layer applies {activation}, but the loss is built with "
                               f"`from_logits=True` and applies it again; drop the activation "
                               f"or use `from_logits=False`",
                        related=[(loss.value, "the loss is built with from_logits=True here")])
