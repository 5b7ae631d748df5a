"""DL004: a model run for evaluation in training mode, or left in eval mode for training."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.conditions import mode_flag_subjects
from dllint.semantic.imports import dotted_name
from dllint.semantic.mode_effects import modes_left
from dllint.semantic.syntax import argument, keyword
from dllint.semantic.values import (
    ELEMENTS, FUNCTION, INSTANCE, LOSS, LOSS_VALUE, MODULE, first, tags)
from dllint.walk import CachedVisitorNames, walk

EVALUATION_NAME = re.compile(catalog.EVALUATION_NAME_PATTERN)
MODEL_NAME = re.compile(catalog.MODEL_NAME_PATTERN)
# `train_and_evaluate_one_epoch`: a function that also trains decides its modes in its body.
TRAINING_NAME = re.compile(catalog.TRAINING_NAME_PATTERN)
# A loader of held-out data: `test_loader`, `testloader`, `val_dataloader`, `valid_dl`.
# Where `model.generate(...)` runs when nothing else says it is evaluated.
GENERATION_CONTEXT = "for generation with `.generate()`"
EVALUATION_LOADER = re.compile(
    r"(^|_)(val|valid|validation|eval|test|dev)_?(loader|dataloader|data_loader|dl|set|ds|data|"
    r"dataset)$")


def _always_leaves(body: cst.BaseSuite) -> bool:
    """Whether a block ends by leaving its function (`return`, `raise`)."""
    last = body.body[-1] if body.body else None
    if isinstance(last, cst.SimpleStatementLine):  # an indented block's last line
        last = last.body[-1] if last.body else None
    return isinstance(last, (cst.Return, cst.Raise))  # `if ...: return x` on one line too


def _by_convention(context: str) -> bool:
    """Whether only a convention says the model is evaluated there (the function's name, or a
    call of `.generate()`), not gradients turned off: a model built there with random weights, or
    handed in by callers this file does not show, is not judged."""
    return context.startswith("in `") or context == GENERATION_CONTEXT


def _is_self_call(call: cst.Call) -> bool:
    """`self.sample(...)`: a call of a method of the same instance."""
    func = call.func
    return isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
        func.value.value == "self"


def _snake_case(name: str) -> str:
    """`GaussianDiffusion` -> `gaussian_diffusion`: how an instance of a class is often named."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


# The method `keras.Model.evaluate()` runs for each batch: what it computes is evaluation, so
# the model it calls must run in inference mode. (`predict_step` is left alone: keeping dropout
# on at prediction is how Monte Carlo dropout is written.)
KERAS_EVALUATION_HOOKS = frozenset({"test_step"})


@dataclass
class FunctionFacts:
    name: str
    node: cst.FunctionDef
    params: list[str]
    modes: dict[str, str] = field(default_factory=dict)  # "model" / "self.model" -> train|eval
    loaded: set[str] = field(default_factory=set)
    # A method of a class with base classes may override a hook its framework calls.
    overrides: bool = False
    trained: bool = False  # an optimizer step was seen in this scope
    # The modules whose parameters the optimizers stepped here were built from (`model` for
    # `Adam(model.parameters())`): the models this scope trains.
    trained_owners: set[str] = field(default_factory=set)
    backward_run: bool = False  # a backward pass anywhere in this scope: it trains
    backward_at: list[int] = field(default_factory=list)  # when (in call order) each ran
    dummies: set[str] = field(default_factory=set)  # names holding torch.randn(...) and alike
    fresh: set[str] = field(default_factory=set)  # models built here from a class, random weights
    derived: dict[str, str] = field(default_factory=dict)  # copy/wrapper of a parameter -> it
    copies: set[str] = field(default_factory=set)  # names holding copy.deepcopy(model), an EMA
    # Names holding a model built around models handed to it (`PeftModel(base, config)`,
    # `Wrapper(self.model, self.ref_model)`), none of which is shown to be in training mode
    # there: a new module's own flag is in training mode, but the dropout and batch norm it
    # runs are the handed models', in their mode.
    quiet_wrappers: set[str] = field(default_factory=set)
    # Names holding a wrapper built around a model (`wrapper = TracingAdapter(model, inputs)`),
    # or the same model moved: the model, a submodule of it, is switched with it.
    holds: dict[str, str] = field(default_factory=dict)
    # In a method of a module class, names bound to a submodule (`net = self.net`): like
    # `self.net` itself, they follow the mode the parent model's caller sets.
    submodules: set[str] = field(default_factory=set)
    switches: dict[str, cst.Call] = field(default_factory=dict)  # the last eval()/train() of each
    # When (in call order) each model was last switched to training mode here, and last handed
    # to a call; and when this scope last ran a backward pass or called a helper of the file,
    # which may train. A train() followed by neither before a no_grad forward pass chose
    # training mode for that pass (Monte Carlo dropout).
    train_switched_at: dict[str, int] = field(default_factory=dict)
    handed_at: dict[str, int] = field(default_factory=dict)
    trained_at: int = 0
    switch_loops: dict[str, tuple] = field(default_factory=dict)  # the loops open around it
    # Batch-norm running statistics reset here (`m.reset_running_stats()`): a train() under
    # no_grad after it re-estimates them (SWA's batch-norm update), on purpose.
    statistics_reset: bool = False
    # Training engines built here (`trainer = pl.Trainer(...)`), with the model each was built
    # with when that is where the model is given (ignite, Hugging Face).
    engines: dict[str, tuple[catalog.TrainingEngine, str | None]] = field(default_factory=dict)


def _mode_free(value, depth: int = 0) -> bool:
    """Whether a value is models only, each known to have no layer that differs between
    training and eval mode, or a list, tuple or dict holding only such models."""
    modules = [tag for tag in value if tag.kind == MODULE]
    if modules:
        return all(tag.info.mode_dependent is False for tag in modules) and \
            len(modules) == len(value)
    held = [tag for tag in value if tag.kind == ELEMENTS]
    return depth < 3 and bool(held) and len(held) == len(value) and all(
        _mode_free(tag.info, depth + 1) for tag in held)


@dataclass
class NoGradBlock:
    """A `with torch.no_grad():` block (or a function under it): where a model is switched back
    to training mode, and where it is evaluated, in order, with the loops around each."""
    loop_depth: int  # how many loops were open where the block starts
    switches: list[tuple[str, cst.Call, tuple, int]] = field(default_factory=list)
    evaluations: list[tuple[str, tuple, int]] = field(default_factory=list)




class WrongTrainEvalMode(Rule):
    """
    ## What it does
    Flags a model with dropout or batch norm (or a model of a zoo whose families have them: a
    torchvision, timm, torch.hub or Hugging Face `AutoModel`) that is run for evaluation while
    still in training mode: under
    `torch.no_grad()`/`torch.inference_mode()`, in a function named like `validate`,
    `evaluate`, `test` or `predict`, for generation (`model.generate(...)`), in a loop over a
    held-out loader (`test_loader`) after training (a loop of its own, or a trainer engine's
    `fit`), or after `load_state_dict` in a script that never trains. A helper that evaluates
    the model it is handed is judged from its call sites in the file, and the finding names the
    calls that hand it a model not in eval mode. A helper of another file of the project counts
    at its call through its summary (`mode_effects`): one that calls `model.eval()` on the model
    it is handed and returns leaves it in eval mode (inside a training loop, a switch made
    there), and one named for evaluation that runs the model without setting its mode
    (`do_eval(model, loader)`) is flagged at a call that hands it a model in training mode. Also flags `model.eval` written without the
    call, `model.train()` inside a no_grad block that goes on evaluating the model, an epoch
    loop (one that runs backward passes and optimizer steps) that calls `eval()` for validation
    but never `train()` before the next training step,
    one that calls `eval()` before its training loop and `train()` only after the forward pass
    of the step, and a model left in eval mode when handed to an engine that trains in the mode
    it is given (Lightning's `Trainer.fit` since 2.2). A model whose parameters this file
    freezes (`requires_grad_(False)`, `p.requires_grad = False` over its `parameters()`), one
    run only under no_grad in the training step, or one whose parameters the optimizer does not
    hold is no model being trained: a linear probe keeps its backbone in eval mode on purpose.
    Training is an optimizer step: a function that only computes gradients (a conversion or
    export script comparing them with the original's) hands its models on in the mode its
    callers chose.

    Whether a model's modes differ comes from its layers and their arguments: `nn.Dropout(p=0)`,
    `nn.InstanceNorm2d` without `track_running_stats=True`, or an `nn.LSTM` without `dropout=`
    compute the same in both modes; layers held in `nn.ModuleList`/`nn.ModuleDict` count, so do
    subclasses of torch layers (Whisper's `class LayerNorm(nn.LayerNorm)` has no modes, a
    `class SharedDropout(nn.Dropout)` drops) and layers handed back by a helper of the file
    (`layer_init(nn.Linear(...))`). The rule needs positive evidence that the mode matters: a
    model whose layers are not visible (a base class of another package, `nn.Sequential(*layers)`,
    a project factory or registry) is not judged for evaluation in training mode unless this
    code switched it with `train()`. Models whose layers are not visible but whose family is
    known are judged as having dropout or batch norm: torchvision's and timm's models (batch
    norm in their CNNs, dropout or stochastic depth in their transformers), `torch.hub.load`,
    and Hugging Face models (dropout in every layer; `from_pretrained` hands them back in eval
    mode, so they are judged once `train()` switched them). A copy
    (`copy.deepcopy(model)`, `AveragedModel`, an EMA) is a model of its own: switching it does
    not switch the trained model. Inside a module class, a submodule is run in the mode its
    parent model's caller sets, also under a local name (`net = self.net`); and `eval()` on a
    model puts its parts in eval mode too (`model = model.module` after it), also when a helper
    of the file calls it on the model it is handed (`evaluate(model)`), or when it is called on
    a wrapper built around the model (`TracingAdapter(model, inputs).eval()`). A `train()`
    followed by repeated no_grad runs of one input with nothing between that trains (Monte
    Carlo dropout) is deliberate, as is a `train()` under no_grad after batch-norm running
    statistics were reset (`m.reset_running_stats()`: SWA's batch-norm update written out).
    A model with dropout or batch norm that the file builds (not in eval mode) and runs but
    never trains (no optimizer reads its parameters), never switches and never hands on, such
    as FID's Inception network held by a metric class, is only ever evaluated: in training mode.
    A helper that trains the model it is handed and then runs it over a held-out loader, with
    no `eval()` between, evaluates it in training mode unless every model this file hands it
    has neither dropout nor batch norm.
    A no_grad forward pass inside a training step (a loop body or function that runs a
    backward pass) of a model the file also trains (runs with gradients, or hands its
    parameters to an optimizer) makes inputs for that step, as a GAN's discriminator step makes
    fakes with the generator: no evaluation.
    A helper that runs a model it is handed without gradients (`def generate(model, idx)`
    under `torch.no_grad()`) is judged through its calls: a call of another file that hands it
    a model with dropout or batch norm not switched to eval() is reported at that call, the
    helper's forward related; a helper its own file never calls is not judged there.
    A model built around models it is handed
    (`get_peft_model(model, config)`, a generation wrapper over `self.decoder` after
    `self.eval()`) runs their dropout and batch norm in their mode: with no layers of its own
    known and none of those models shown to be in training mode (switched by `train()`, or a
    torch module built here), it is not judged. Handed to an evaluation helper, an instance of
    a class of the project that is no torch module (a Keras model class), a function (a lambda
    over the weights, a `def net(X)` of the file), a model whose layers
    compute the same in both modes (dropout with p = 0, also where p is a constructor
    parameter the model is built with as 0: `CausalAttention(d_in, d_out, 0.0)`; functional
    dropout with a constant `training=False`), such a
    wrapper, or a part of a model put in eval mode
    (`classifier.vit`) is no model left in training mode. A forward pass on made-up input
    (`net(torch.randn(2, 3, 32, 32))`), a call with `training=False`, a model handed to a
    context manager, and Keras models (whose mode is chosen per call, by `training=` or by `fit`
    versus `predict`), like objax and Haiku modules in a file without torch, are left alone,
    except a Keras model's own `test_step` (what `evaluate()` runs) calling `self(...)` with
    `training=True`, also where the model's base class is the project's, defined in another
    file (the class then overrides `train_step` too); `predict_step` is left alone, as Monte
    Carlo dropout keeps dropout on there on purpose.

    ## Why is this bad?
    In training mode dropout zeroes random activations and batch norm normalizes with the
    statistics of the current batch (and updates its running averages). Evaluated that way, the
    model's predictions are noisy and its metrics wrong; left in eval mode for training, dropout
    and batch norm silently stop working from the second epoch on.

    ## Example
    ```python
    for epoch in range(epochs):
        for x, y in train_loader:
            optimizer.zero_grad()
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
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        validate(model, val_loader)
    ```

    ## Fix safety
    Only `model.eval` written without the call gets a fix, which adds the call: safe, as the
    line meant it. Moving a mode switch is left to the author.

    ## References
    "The network left in the wrong train/eval mode (dropout, batch norm)" is one of the most
    common silent deep-learning bugs. Lightning 2.2 release notes: the fit loop no longer calls
    `.train()` on the model. Hugging Face's `from_pretrained` returns the model in eval mode.
    """

    code = "DL004"
    name = "wrong-train-eval-mode"
    summary = "Model evaluated in training mode, or trained after eval() without train()"
    requires_any = (".eval", "no_grad", "inference_mode", "load_state_dict", "def val",
                    "def eval", "def test", "def predict", "def infer", "_val", "_eval",
                    "_test", "_predict", "_infer", "testloader", "valloader", "test_loader",
                    "val_loader", "valid_loader", "eval_loader", "_dataloader", ".generate(",
                    # A scorer or teacher built here and never trained or switched.
                    "InceptionV3", "torchvision.models", "timm.", "BatchNorm", "Dropout")
    uses_model = True

    VALID = [
        # The twin of the INVALID functional-dropout model: switched to eval mode first.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 2)

                def forward(self, x):
                    return self.fc(F.feature_alpha_dropout(x, 0.5, self.training))

            model = Net()
            model.eval()
            with torch.no_grad():
                logits = model(batch)
        """),
        # Flax NNX: a view with deterministic dropout and running averages is its eval mode.
        Valid("""
            from flax import nnx

            class Model(nnx.Module):
                def __init__(self, rngs):
                    self.linear = nnx.Linear(2, 8, rngs=rngs)
                    self.dropout = nnx.Dropout(0.2, deterministic=False, rngs=rngs)

                def __call__(self, x):
                    return self.dropout(self.linear(x))

            model = Model(nnx.Rngs(0))
            eval_model = nnx.view(model, deterministic=True, use_running_average=True)

            def eval_step(model, x):
                return model(x)

            eval_step(eval_model, x)
        """),
        # A calibration function handed to an API that sets the mode: its callers are elsewhere.
        Valid("""
            def default_eval_fn(model, calib_data):
                for data, _target in calib_data:
                    model(data)
        """),
        # Batch-norm recalibration runs the model in training mode under no_grad on purpose.
        Valid("""
            import torch

            @torch.no_grad()
            def update_bn(loader, model):
                model.train()
                for input in loader:
                    model(input)
        """),
        # A test helper that trains: its name says test, its body sets training mode.
        Valid("""
            import torch
            from torch import nn

            def _test_ddp_helper(model, input_var, target, loss):
                model.train()
                output = model(input_var)
                loss(output, target).backward()

            _test_ddp_helper(nn.Sequential(nn.Linear(2, 4), nn.Dropout()), x, y, nn.MSELoss())
        """),
        # A loss is a module whose modes do not differ, whatever its base class.
        Valid("""
            import torch
            from torch.nn.modules.loss import _Loss
            from losses import FocalLoss

            class DiceLoss(_Loss):
                def forward(self, y_pred, y_true):
                    return 1 - (2 * (y_pred * y_true).sum() + 1) / (y_pred.sum() + y_true.sum() + 1)

            @torch.inference_mode()
            def test_losses():
                assert float(DiceLoss()(y_pred, y_true)) == 0.0
                assert float(FocalLoss()(y_pred, y_true)) >= 0.0
        """),
        # One function trains, then evaluates: its name says both, its body sets each mode.
        Valid("""
            import torch
            from torch import nn

            def train_and_evaluate_one_epoch(model, train_loader, valid_loader, optimizer, loss_fn):
                model.train()
                for images, masks in train_loader:
                    optimizer.zero_grad()
                    loss = loss_fn(model(images), masks)
                    loss.backward()
                    optimizer.step()
                model.eval()
                with torch.inference_mode():
                    for images, masks in valid_loader:
                        total = loss_fn(model(images), masks).item()

            train_and_evaluate_one_epoch(nn.Sequential(nn.Linear(4, 4), nn.Dropout()),
                                         train_loader, valid_loader, optimizer, nn.BCELoss())
        """),
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
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(784, 10)
                    self.dropout = nn.Dropout(0.5)

                def forward(self, x):
                    return self.fc(self.dropout(x))

            def main():
                model = Net()
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
                for x, y in train_loader:
                    optimizer.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    optimizer.step()
                model.eval()
                correct = 0
                with torch.no_grad():
                    for x, y in test_loader:
                        correct += (model(x).argmax(1) == y).sum()
                return correct
        """),
        Valid("""
            import torch
            from torch import nn
            model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.Linear(64, 2))
            optimizer = torch.optim.Adam(model.parameters())
            for epoch in range(10):
                for x, y in train_loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
            model.eval()
            correct = 0
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        """),
        Valid("""
            import torch

            def evaluate(net, loader):
                net.eval()
                correct = 0
                with torch.no_grad():
                    for x, y in loader:
                        correct += (net(x).argmax(1) == y).sum().item()
                net.train()
                return correct
        """),
        Valid("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
                    self.bn = nn.BatchNorm2d(8)

                def forward(self, x):
                    return self.bn(self.conv(x))

            def test():
                net = Net()
                y = net(torch.randn(2, 3, 32, 32))
                print(y.size())
        """),
        Valid("""
            import torch
            import torchvision
            model = torchvision.models.resnet50(weights="DEFAULT")
            with inference_context(model), torch.no_grad():
                logits = model(batch)
        """),
        Valid("""
            import torch
            import torchvision

            def to_feature_extractor(model):
                return torch.nn.Sequential(*list(model.children())[:-1])

            model = torchvision.models.resnet50(weights="DEFAULT")
            model.eval()
            model = to_feature_extractor(model).to("cuda")
            with torch.no_grad():
                features = model(images)
        """),
        Valid("""
            import copy
            import torch

            def validate(model, loader):
                with torch.no_grad():
                    return [model(x).argmax(1) for x, _ in loader]

            def main(model, val_loader):
                model.eval()
                frozen = copy.deepcopy(model)
                return validate(frozen, val_loader)
        """),
        Valid("""
            def evaluate(model, dataset):
                for images, labels in dataset:
                    predictions = model(images, training=False)
                    accuracy.update_state(labels, predictions)
        """),
        # A factory that ends in `model.eval()` hands its callers a model in eval mode.
        Valid("""
            import torch
            import torchvision
            from torch import nn

            def get_model(args):
                if args.type == "2d":
                    model = torchvision.models.resnet152(weights="DEFAULT")
                    model = nn.Sequential(*list(model.children())[:-2])
                elif args.type == "3d":
                    model = torchvision.models.video.r3d_18(weights="DEFAULT")
                else:
                    raise ValueError("model not supported yet.")
                model = model.cuda()
                model.eval()
                return model

            model = get_model(args)
            with torch.no_grad():
                for video in loader:
                    features = model(video.cuda())
        """),
        # A module whose constructor ends in `self.eval()` is built in eval mode, and so is a
        # wrapper whose only batch norm is in such a child.
        Valid("""
            import torch
            from torch import nn

            class HardNet(nn.Module):
                def __init__(self, pretrained=False):
                    super().__init__()
                    self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32),
                                                  nn.Dropout(0.3))
                    if pretrained:
                        self.load_state_dict(torch.load("hardnet.pth"))
                    self.eval()

                def forward(self, patches):
                    return self.features(patches)

            class DoGHardNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.desc = HardNet(pretrained=True)

                def forward(self, patches):
                    return self.desc(patches)

            @torch.no_grad()
            def match_pair(patches1, patches2, extractor):
                return extractor(patches1), extractor(patches2)

            descriptor = HardNet(pretrained=True)
            with torch.no_grad():
                descriptors = descriptor(patches)
            match_pair(patches1, patches2, DoGHardNet())
        """),
        # Layers unknown (an augmentation pipeline of another package), and only the
        # function's name says it evaluates: not enough to call it a model in training mode.
        Valid("""
            from kornia_like.base import AugmentationBase

            class RandomJitter(AugmentationBase):
                def forward(self, image, params=None):
                    return image + self.noise(image.shape, params)

            def reproducibility_test(input, seq):
                output_1 = seq(input)
                output_2 = seq(input, params=seq._params)
                assert_close(output_1, output_2)

            reproducibility_test(images, RandomJitter())
        """),
        # nn.Dropout(p=0.0) drops nothing: train and eval mode compute the same.
        Valid("""
            import torch
            from torch import nn

            class Attention(nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.qkv = nn.Linear(dim, dim * 3)
                    self.dropout = nn.Dropout(p=0.0)

                def forward(self, x):
                    return self.dropout(self.qkv(x))

            attention = Attention(768)
            with torch.no_grad():
                output = attention(hidden_states)
        """),
        # Instance norm without running statistics, and a recurrent layer without dropout,
        # compute the same in both modes.
        Valid("""
            import torch
            from torch import nn

            class StyleNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
                    self.norm = nn.InstanceNorm2d(8, affine=True)
                    self.rnn = nn.GRU(8, 8, batch_first=True)

                def forward(self, x):
                    return self.norm(self.conv(x))

            net = StyleNet()
            with torch.no_grad():
                stylized = net(content)
        """),
        # Dropout held in a ModuleList counts, and here the model is switched to eval mode.
        Valid("""
            import torch
            from torch import nn

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(64, 64)
                    self.drop = nn.Dropout(0.1)

                def forward(self, x):
                    return self.drop(self.fc(x))

            class Encoder(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.blocks = nn.ModuleList([Block() for _ in range(depth)])
                    self.heads = nn.ModuleDict({"cls": nn.Linear(64, 10)})

                def forward(self, x):
                    for block in self.blocks:
                        x = block(x)
                    return self.heads["cls"](x)

            encoder = Encoder(6)
            encoder.eval()
            with torch.no_grad():
                logits = encoder(tokens)
        """),
        # The EMA copy is switched to eval mode for validation; the trained model keeps its
        # mode (set once, before the loop).
        Valid("""
            import copy
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(20, 64), nn.Dropout(0.2), nn.Linear(64, 2))
            ema_model = copy.deepcopy(model)
            optimizer = torch.optim.Adam(model.parameters())
            model.train()
            for epoch in range(10):
                for x, y in train_loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
                    update_ema(ema_model, model)
                ema_model.eval()
                validate(ema_model, val_loader)
        """),
        # Distillation: the loop switches the teacher, and trains the student only.
        Valid("""
            import torch
            from torch import nn

            student = nn.Sequential(nn.Linear(20, 64), nn.Dropout(0.2), nn.Linear(64, 2))
            teacher = nn.Sequential(nn.Linear(20, 256), nn.Dropout(0.5), nn.Linear(256, 2))
            optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
            student.train()
            for epoch in range(10):
                teacher.eval()
                for x, y in train_loader:
                    with torch.no_grad():
                        soft_targets = teacher(x)
                    distillation_loss(student(x), soft_targets, y).backward()
                    optimizer.step()
        """),
        # Nothing in this model depends on the mode: eval() without train() changes nothing.
        Valid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
            optimizer = torch.optim.Adam(model.parameters())
            for epoch in range(10):
                for x, y in train_loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
                model.eval()
                validate(model, val_loader)
        """),
        # from_pretrained hands the model back in eval mode; after training, eval() again.
        Valid("""
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained("gpt2")
            baseline = model.generate(prompt_ids, max_new_tokens=50)
            model.train()
            for batch in train_loader:
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            model.eval()
            samples = model.generate(prompt_ids, max_new_tokens=50)
        """),
        # The caller switches what its DDP wrapper runs to eval mode and hands that on.
        Valid("""
            def generate_text(model, prompt_ids):
                return model.generate(prompt_ids, max_new_tokens=50)

            def train(model, loader, optimizer):
                for batch in loader:
                    model(**batch).loss.backward()
                    optimizer.step()
                model.module.eval()
                return generate_text(model.module, prompt_ids)
        """),
        # A sampler's method, called on an instance, gets a model its caller put in eval mode.
        Valid("""
            import torch

            class Sampler:
                @torch.no_grad()
                def sample(self, network, noise):
                    return network(noise).clamp(-1, 1)

            def train(model, loader, optimizer, sampler):
                for images in loader:
                    diffusion_loss(model, images).backward()
                    optimizer.step()
                model.eval()
                return sampler.sample(model, torch.randn(16, 3, 32, 32))
        """),
        # ignite's supervised trainer switches the model to training mode in every iteration:
        # the eval() before it changes nothing.
        Valid("""
            import torch
            from ignite.engine import create_supervised_trainer

            model = build_model(config)
            model.eval()
            baseline = evaluate(model, val_loader)
            trainer = create_supervised_trainer(model, optimizer, torch.nn.CrossEntropyLoss())
            trainer.run(train_loader, max_epochs=5)
        """),
        # After Lightning's fit, the model is switched to eval mode for the test loop.
        Valid("""
            import lightning as L
            from torch import nn

            class Classifier(L.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(nn.Linear(784, 128), nn.Dropout(0.3),
                                             nn.Linear(128, 10))

                def forward(self, x):
                    return self.net(x)

                def training_step(self, batch, batch_index):
                    x, y = batch
                    return nn.functional.cross_entropy(self(x), y)

            model = Classifier()
            trainer = L.Trainer(max_epochs=3)
            trainer.fit(model, train_loader)
            model.eval()
            correct = 0
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        """),
        # Keras: a model called without `training=True` runs in inference mode; there is no
        # eval() to call.
        Valid("""
            from tensorflow import keras

            def evaluate(model, images):
                return model(images)

            model = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                      keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x_train, y_train, epochs=5)
            evaluate(model, x_test)
        """),
        # A Keras subclass model in a file that also uses torch (its data loaders).
        Valid("""
            import tensorflow as tf
            import torch

            def validate(model, loader):
                return [model(x.numpy()) for x, _ in loader]

            model = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.Dropout(0.5),
                                         tf.keras.layers.Dense(10)])
            model.fit(x_train, y_train, epochs=5)
            validate(model, torch.utils.data.DataLoader(test_set, batch_size=64))
        """),
        # Validation at the top of the epoch, then training mode before each forward pass.
        Valid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(20, 64), nn.Dropout(0.2), nn.Linear(64, 2))
            for epoch in range(10):
                model.eval()
                with torch.no_grad():
                    val_loss = sum(criterion(model(x), y).item() for x, y in val_loader)
                for x, y in train_loader:
                    model.train()
                    loss = criterion(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """),
        # The method that samples is called only after its caller switched the held model.
        Valid("""
            from torch import nn

            class CharModel(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embed = nn.Embedding(65, 128)
                    self.drop = nn.Dropout(0.2)
                    self.head = nn.Linear(128, 65)

                def forward(self, idx):
                    return self.head(self.drop(self.embed(idx)))

            class Trainer:
                def __init__(self):
                    self.model = CharModel()

                def sample_text(self, prompt_ids):
                    return self.model.generate(prompt_ids, max_new_tokens=200)

                def run_epoch(self, loader, optimizer):
                    self.model.train()
                    for x, y in loader:
                        nn.functional.cross_entropy(self.model(x), y).backward()
                        optimizer.step()
                    self.model.eval()
                    return self.sample_text(prompt_ids)
        """),
        # The trainer holds an EMA copy made in its constructor and samples from it in eval
        # mode; the trained network's mode is not touched.
        Valid("""
            import torch
            from torch.optim.swa_utils import AveragedModel

            class Trainer:
                def __init__(self, network, loader):
                    self.network = network
                    self.averaged = AveragedModel(network)
                    self.optimizer = torch.optim.Adam(network.parameters())
                    self.loader = loader

                def fit(self, steps):
                    self.network.train()
                    for step, images in enumerate(self.loader):
                        self.network(images).mean().backward()
                        self.optimizer.step()
                        self.averaged.update_parameters(self.network)
                        if step % 1000 == 0:
                            self.averaged.eval()
                            save_samples(self.averaged, step)
        """),
        # A module class's method runs a submodule under a local name (`net = self.forward_net`):
        # like `self.forward_net(...)`, it follows the mode the whole model's caller sets.
        Valid("""
            import torch
            from torch import nn

            class Decoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embed = nn.Embedding(256, 64)
                    self.drop = nn.Dropout(0.1)
                    self.head = nn.Linear(64, 256)

                def forward(self, tokens):
                    return self.head(self.drop(self.embed(tokens)))

            class TwoWayDecoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.forward_net = Decoder()
                    self.backward_net = Decoder()

                @torch.no_grad()
                def generate(self, tokens, steps, backwards=False):
                    net = self.forward_net
                    if backwards:
                        net = self.backward_net
                    for _ in range(steps):
                        tokens = torch.cat([tokens, net(tokens)[:, -1:].argmax(-1)], dim=1)
                    return tokens
        """),
        # objax (like Haiku) takes the mode as a call argument: there is no eval() to call.
        Valid("""
            import objax
            from objax.zoo.rnn import RNN

            model = RNN(64, 128, 64)

            def predict_next(model, tokens):
                return model(tokens).argmax(-1)

            next_token = predict_next(model, prompt)
        """),
        # eval() switches every submodule: the module a DDP wrapper holds, unwrapped after it,
        # is in eval mode too.
        Valid("""
            import torch


            def evaluate(model, loader, distributed):
                model.eval()
                if distributed:
                    model = model.module
                with torch.inference_mode():
                    for images, labels in loader:
                        accuracy = (model(images).argmax(-1) == labels).float().mean()
        """),
        # The model was put in eval mode by an earlier helper call: evaluate() calls eval() and
        # leaves it so, then predict() runs it.
        Valid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.5), nn.Linear(32, 2))


            def evaluate(loader, model):
                model.eval()
                with torch.no_grad():
                    return sum((model(x).argmax(-1) == y).sum() for x, y in loader)


            def predict(features, model):
                return model(features).argmax(-1)


            model.train()
            for x, y in train_loader:
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            test_accuracy = evaluate(test_loader, model)
            label = predict(features, model)
        """),
        # Monte Carlo dropout: train() after training, then sampled runs under no_grad, with
        # nothing between that trains: training mode is chosen for these runs.
        Valid("""
            import torch
            from torch import nn

            net = nn.Sequential(nn.Dropout(p=0.05), nn.Linear(1, 20), nn.ReLU(), nn.Linear(20, 1))
            optimiser = torch.optim.SGD(net.parameters(), lr=0.01)
            for epoch in range(1000):
                loss = nn.functional.mse_loss(net(x), y)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()

            net.train()
            samples = []
            with torch.no_grad():
                for t in range(100):
                    samples.append(net(grid).squeeze())
        """),
        # One optimizer trains both generators (`itertools.chain` of their parameters), and the
        # step switches them back with train() after the sampling helper's eval().
        Valid("""
            import itertools
            import torch
            from torch import nn

            g_ab = nn.Sequential(nn.Conv2d(3, 3, 3), nn.InstanceNorm2d(3), nn.Dropout(0.5))
            g_ba = nn.Sequential(nn.Conv2d(3, 3, 3), nn.InstanceNorm2d(3), nn.Dropout(0.5))
            d_a = nn.Sequential(nn.Conv2d(3, 1, 3))
            optimizer_g = torch.optim.Adam(itertools.chain(g_ab.parameters(), g_ba.parameters()))
            optimizer_d = torch.optim.Adam(d_a.parameters())


            def save_samples(images):
                g_ab.eval()
                g_ba.eval()
                save(g_ba(g_ab(images)))


            for epoch in range(100):
                for step, (real_a, real_b) in enumerate(loader):
                    g_ab.train()
                    g_ba.train()
                    optimizer_g.zero_grad()
                    (g_ba(g_ab(real_a)) - real_a).abs().mean().backward()
                    optimizer_g.step()
                    optimizer_d.zero_grad()
                    d_a(g_ba(real_b).detach()).mean().backward()
                    optimizer_d.step()
                    if step % 100 == 0:
                        save_samples(real_a)
        """),
        # eval() on a wrapper built around the model (an export adapter) switches the model in
        # it, which the helper then runs.
        Valid("""
            import torch
            from detectron2.export import TracingAdapter
            from detectron2.modeling import build_model


            def run_inference(model, images):
                return model(images)


            def check_tracing(config, images):
                model = build_model(config)
                wrapper = TracingAdapter(model, images)
                wrapper.eval()
                traced = torch.jit.trace(wrapper, images)
                with torch.no_grad():
                    assert torch.allclose(run_inference(model, images), traced(images))
        """),
        # The helpers are called only through a name they are assigned to: their callers are
        # not seen, and nothing says the model they get is in training mode.
        Valid("""
            import torch
            from transformers import RagTokenForGeneration


            @torch.no_grad()
            def evaluate_batch_e2e(rag_model, questions):
                return rag_model.generate(questions, num_beams=4)


            @torch.no_grad()
            def evaluate_batch_retrieval(rag_model, questions):
                return rag_model.retriever(questions)


            evaluate_batch = evaluate_batch_e2e if mode == "e2e" else evaluate_batch_retrieval
            model = RagTokenForGeneration.from_pretrained(checkpoint)
            answers = evaluate_batch(model, questions)
        """),
        # A loop that computes gradients (head importance) but steps no optimizer trains nothing:
        # its eval() leaves no model in eval mode for training.
        Valid("""
            import torch
            from torch import nn

            for width in (16, 32, 64):
                model = nn.Sequential(nn.Linear(8, width), nn.Dropout(0.1), nn.Linear(width, 2))
                model.eval()
                mask = torch.ones(width, requires_grad=True)
                hidden = model[1](model[0](inputs)) * mask
                model[2](hidden).sum().backward()
                importance = mask.grad.abs()
        """),
        # A part of a submodule, chosen by a flag (`nets.backward_net if backwards else ...`): a
        # part of the model too.
        Valid("""
            import torch
            from torch import nn

            class Decoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embed = nn.Embedding(256, 64)
                    self.drop = nn.Dropout(0.1)
                    self.head = nn.Linear(64, 256)

                def forward(self, tokens):
                    return self.head(self.drop(self.embed(tokens)))

            class Directions(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.forward_net = Decoder()
                    self.backward_net = Decoder()

            class TwoWayDecoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.directions = Directions()

                @torch.no_grad()
                def generate(self, tokens, steps, backwards=False):
                    nets = self.directions
                    net = nets.backward_net if backwards else nets.forward_net
                    for _ in range(steps):
                        tokens = torch.cat([tokens, net(tokens)[:, -1:].argmax(-1)], dim=1)
                    return tokens
        """),
        # Whatever class it is called on, from_pretrained hands the model back in eval mode; a
        # KerasHub model from from_preset runs in inference mode outside fit().
        Valid("""
            import transformers
            from keras_hub.models import BloomBackbone


            def validate_output(hf_model, keras_model, input_ids):
                hf_output = hf_model(input_ids).last_hidden_state
                keras_output = keras_model(input_ids)
                return abs(hf_output.detach().numpy() - keras_output).max()


            hf_model = transformers.BloomModel.from_pretrained("bigscience/bloom-560m")
            keras_model = BloomBackbone.from_preset("bloom_560m_multi")
            print(validate_output(hf_model, keras_model, token_ids))
        """),
        # Composer's Trainer leaves the model in training mode after fit(); eval() before predicting.
        Valid("""
            import torch
            import transformers
            from composer import Trainer
            from composer.models.huggingface import HuggingFaceModel

            model = transformers.AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
            composer_model = HuggingFaceModel(model, tokenizer=tokenizer)
            trainer = Trainer(model=composer_model, train_dataloader=train_loader, max_duration="1ep")
            trainer.fit()
            composer_model.eval()
            with torch.no_grad():
                predictions = composer_model(eval_batch)["logits"].argmax(dim=1)
        """),
        # `with ... as unwrapped_model` binds a new value: the train() of the other branch's
        # binding says nothing of this one.
        Valid("""
            import torch


            def sample(trainer, prompts, paged):
                if paged:
                    with unwrap_for_generation(trainer.model) as unwrapped_model:
                        outputs = unwrapped_model.generate_batch(prompts)
                        unwrapped_model.train()
                else:
                    with unwrap_for_generation(trainer.model) as unwrapped_model, torch.no_grad():
                        outputs = unwrapped_model.generate(prompts)
                return outputs
        """),
        # A method that calls `self.eval()`, called on the instance: the model switches itself.
        Valid("""
            import torch
            from torch import nn


            class Classifier(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.drop = nn.Dropout(0.1)
                    self.head = nn.Linear(16, 2)

                def forward(self, x):
                    return self.head(self.drop(x))

                def freeze(self):
                    self.eval()

                def predict(self, x):
                    self.freeze()
                    with torch.no_grad():
                        return self(x).argmax(-1)
        """),
        # A module built around a model whose mode this code cannot see (loaded by a helper of
        # another file): its own layers have no dropout or batch norm, so what it runs in either
        # mode is the handed model's, and nothing here shows that one in training mode.
        Valid("""
            import torch
            from torch import nn
            from transformers.utils import PushToHubMixin

            from .fixtures import load_base_model


            class AdapterModel(PushToHubMixin, nn.Module):
                def __init__(self, base, rank):
                    super().__init__()
                    self.base = base
                    self.adapter = nn.Linear(rank, rank)

                def forward(self, x):
                    return self.base(x) + self.adapter(x)


            def add_adapters(model, rank=8):
                return AdapterModel(model, rank)


            def test_adapters_change_the_output(inputs):
                model = load_base_model()
                with torch.no_grad():
                    before = model(inputs)
                model = add_adapters(model)
                with torch.no_grad():
                    after = model(inputs)
                assert not torch.allclose(before, after)
        """),
        # A generation wrapper built after `self.eval()` over the model's own parts: the parts are
        # in eval mode, and the wrapper's own flag turns no dropout of theirs back on.
        Valid("""
            import torch
            from torch import nn
            from transformers import GenerationMixin


            class DecoderWrapper(nn.Module, GenerationMixin):
                def __init__(self, decoder_fn, context):
                    super().__init__()
                    self.decoder_fn = decoder_fn
                    self.register_buffer("context", context)

                def forward(self, ids):
                    return self.decoder_fn(self.context, ids)


            class Captioner(nn.Module):
                def __init__(self, encoder, decoder):
                    super().__init__()
                    self.encoder, self.decoder = encoder, decoder

                def forward(self, images, ids):
                    return self.decoder(self.encoder(images), ids)

                @torch.no_grad()
                def caption(self, images, prompt):
                    was_training = self.training
                    self.eval()
                    wrapper = DecoderWrapper(decoder_fn=self.decoder, context=self.encoder(images))
                    tokens = wrapper.generate(prompt, max_length=30)
                    self.train(was_training)
                    return tokens
        """),
        # A wrapper held by the instance, built in `setup_method` around models loaded in eval mode
        # (`from_pretrained`), run in another method.
        Valid("""
            import torch
            from transformers import AutoModelForCausalLM, GenerationMixin


            class MixtureWrapper(GenerationMixin):
                def __init__(self, policy, reference, coef=0.5):
                    super().__init__()
                    self.policy, self.reference, self.coef = policy, reference, coef

                def forward(self, ids):
                    return self.coef * self.policy(ids).logits + (1 - self.coef) * self.reference(ids).logits


            class TestMixture:
                def setup_method(self):
                    self.policy = AutoModelForCausalLM.from_pretrained("gpt2")
                    self.reference = AutoModelForCausalLM.from_pretrained("gpt2")
                    self.mixture = MixtureWrapper(self.policy, self.reference)

                def test_mixture_of_logits(self, input_ids):
                    with torch.no_grad():
                        logits = self.mixture(input_ids)
                    assert logits.shape[-1] == 50257
        """),
        # Objects without train/eval modes handed to an evaluation helper: an instance of a plain
        # class of the file, and a module whose layers compute the same in both modes.
        Valid("""
            import torch
            from torch import nn


            class LinearProbe(nn.Module):
                def __init__(self, features, classes):
                    super().__init__()
                    self.fc = nn.Linear(features, classes)

                def forward(self, x):
                    return self.fc(x)


            class ExportedPipeline:
                def __init__(self, path):
                    self.weights = torch.load(path)

                def __call__(self, x):
                    return x @ self.weights


            def predict(model, features):
                return model(features).argmax(-1)


            def compare(reference_model, features):
                return predict(reference_model, features)


            def main(features):
                probe_model = LinearProbe(512, 10)
                probe_model.load_state_dict(torch.load("probe.pt"))
                exported_model = ExportedPipeline("exported.pt")
                return predict(probe_model, features), predict(exported_model, features)
        """),
        # A part of a model put in eval mode (`classifier.vit`) handed to an evaluation helper.
        Valid("""
            import torch
            from transformers import ViTForImageClassification


            def validate_features(model, images, expected):
                with torch.no_grad():
                    features = model(images).last_hidden_state
                assert torch.allclose(features, expected, atol=1e-4)


            def main(images, expected):
                classifier = ViTForImageClassification.from_pretrained("google/vit-base-patch16-224")
                classifier.eval()
                validate_features(classifier.vit, images, expected)
        """),
        # Positive evidence: a model whose layers are all known and none behaves differently
        # in the two modes is evaluated the same in either. An nn.Sequential of Linear/ReLU.
        Valid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 2))
            optimizer = torch.optim.Adam(model.parameters())
            for x, y in train_loader:
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            with torch.no_grad():
                for x, y in test_loader:
                    accuracy = (model(x).argmax(1) == y).float().mean()
        """),
        # A model class of the file with LayerNorm and Linear layers only, run for generation
        # under inference mode (nanochat-style: RMS norm and attention without dropout).
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Block(nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.norm = nn.LayerNorm(dim)
                    self.qkv = nn.Linear(dim, 3 * dim)
                    self.proj = nn.Linear(dim, dim)

                def forward(self, x):
                    q, k, v = self.qkv(F.rms_norm(x, (x.size(-1),))).chunk(3, dim=-1)
                    return x + self.proj(F.scaled_dot_product_attention(q, k, v, is_causal=True))

            class GPT(nn.Module):
                def __init__(self, dim, depth):
                    super().__init__()
                    self.embed = nn.Embedding(256, dim)
                    self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])
                    self.head = nn.Linear(dim, 256)

                def forward(self, ids):
                    x = self.embed(ids)
                    for block in self.blocks:
                        x = block(x)
                    return self.head(self.norm(x))

            model = GPT(64, 4)
            model.load_state_dict(torch.load("gpt.pt"))
            with torch.inference_mode():
                logits = model(prompt_ids)
        """),
        # Whisper's layers subclass torch's to cast their inputs: a subclass of a layer whose
        # modes never differ (LayerNorm, Linear, Conv1d) has no modes either.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class LayerNorm(nn.LayerNorm):
                def forward(self, x):
                    return super().forward(x.float()).type(x.dtype)

            class Linear(nn.Linear):
                def forward(self, x):
                    return F.linear(x, self.weight.to(x.dtype), self.bias.to(x.dtype))

            class AudioEncoder(nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.conv = nn.Conv1d(80, dim, kernel_size=3, padding=1)
                    self.ln = LayerNorm(dim)
                    self.out = Linear(dim, dim)

                def forward(self, mel):
                    return self.out(self.ln(F.gelu(self.conv(mel)).permute(0, 2, 1)))

            encoder = AudioEncoder(384)
            encoder.load_state_dict(torch.load("encoder.pt"))
            with torch.no_grad():
                features = encoder(mel)
        """),
        # cleanrl's `layer_init` hands back the layer it initialises: the Q-network's layers
        # are Linear, LayerNorm and ReLU, so acting under no_grad in training mode is exact.
        Valid("""
            import numpy as np
            import torch
            from torch import nn

            def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
                torch.nn.init.orthogonal_(layer.weight, std)
                torch.nn.init.constant_(layer.bias, bias_const)
                return layer

            class QNetwork(nn.Module):
                def __init__(self, n_obs, n_actions):
                    super().__init__()
                    self.network = nn.Sequential(
                        layer_init(nn.Linear(n_obs, 120)), nn.LayerNorm(120), nn.ReLU(),
                        layer_init(nn.Linear(120, n_actions)))

                def forward(self, x):
                    return self.network(x)

            q_network = QNetwork(4, 2)
            optimizer = torch.optim.Adam(q_network.parameters())
            for step in range(total_steps):
                with torch.no_grad():
                    actions = q_network(torch.as_tensor(obs)).argmax(1)
                obs, rewards = envs.step(actions)
                loss = q_network(torch.as_tensor(obs)).pow(2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        """),
        # Layers not visible (`nn.Sequential(*conv_seqs)`, an IMPALA CNN): nothing shows a
        # dropout or batch norm, so there is no evidence the mode matters.
        Valid("""
            import torch
            from torch import nn

            class Agent(nn.Module):
                def __init__(self, channels):
                    super().__init__()
                    conv_seqs = []
                    for out_channels in channels:
                        conv_seqs.append(nn.Conv2d(3, out_channels, 3, padding=1))
                    conv_seqs += [nn.Flatten(), nn.ReLU(), nn.LazyLinear(256)]
                    self.network = nn.Sequential(*conv_seqs)

                def forward(self, x):
                    return self.network(x)

            agent = Agent([16, 32, 32])
            agent.load_state_dict(torch.load("agent.pt"))
            with torch.no_grad():
                action = agent(next_obs).argmax(1)
        """),
        # An augmentation class of another package's base (its layers unknown), run under
        # no_grad: no evidence that it has dropout or batch norm.
        Valid("""
            import torch
            from kornia_like.base import AugmentationBase

            class RandomJitter(AugmentationBase):
                def forward(self, image, params=None):
                    return image + self.noise(image.shape, params)

            def evaluate(seq, images):
                with torch.no_grad():
                    return seq(images)

            evaluate(RandomJitter(), images)
        """),
        # SWA's batch-norm update written out: running statistics reset, then train() under
        # no_grad and forward passes over the training data re-estimate them.
        Valid("""
            import torch

            def evaluate(model, loader):
                model.eval()
                with torch.no_grad():
                    return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)

            def finish_swa(model, optimizer, train_loader, val_loader):
                evaluate(model, val_loader)
                optimizer.swap_swa_sgd()
                for m in model.modules():
                    if hasattr(m, "running_mean"):
                        m.reset_running_stats()
                        m.momentum = None
                with torch.no_grad():
                    model.train()
                    for x, y in train_loader:
                        out = model(x)
                return evaluate(model, val_loader)
        """),
        # Keras: a Sequential of Dense layers has no train/eval state to leave behind.
        Valid("""
            from tensorflow import keras

            model = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                                      keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x_train, y_train, epochs=5)
            predictions = model(x_test)
        """),
        # A linear probe: the backbone's parameters are frozen, so its eval() at the top of each
        # epoch keeps its batch-norm statistics on purpose while only the head trains.
        Valid("""
            import torch
            import torchvision


            model = torchvision.models.resnet50(pretrained=True)
            for name, param in model.named_parameters():
                if name not in ["fc.weight", "fc.bias"]:
                    param.requires_grad = False
            optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], 0.1)
            for epoch in range(10):
                model.eval()
                for x, y in loader:
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """),
        # The same, frozen with `requires_grad_(False)` and switched in a helper the epoch loop
        # calls.
        Valid("""
            import torch
            import torchvision


            backbone = torchvision.models.resnet50(pretrained=True).eval().requires_grad_(False)
            head = torch.nn.Linear(1000, 10)
            optimizer = build_optimizer(head)


            def train_epoch(encoder, classifier, loader):
                encoder.eval()
                for x, y in loader:
                    loss = torch.nn.functional.cross_entropy(classifier(encoder(x)), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()


            for epoch in range(10):
                train_epoch(backbone, head, loader)
        """),
        # A backbone run only under no_grad inside the training step: it computes features for
        # the head, nothing of it trains.
        Valid("""
            import torch
            import torchvision


            backbone = torchvision.models.resnet50(pretrained=True)
            head = torch.nn.Linear(1000, 10)
            optimizer = build_optimizer(head)
            for epoch in range(10):
                backbone.eval()
                for x, y in loader:
                    with torch.no_grad():
                        features = backbone(x)
                    loss = torch.nn.functional.cross_entropy(head(features), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """),
        # A port check: gradients computed and compared on the models handed in train
        # nothing (no optimizer step), so the comparison that follows runs them in whatever
        # mode the callers chose.
        Valid("""
            import torch


            def compare_outputs(model, reference, images):
                with torch.no_grad():
                    return (model(images) - reference(images)).abs().max()


            def check_gradients(model, reference, images):
                model(images).sum().backward()
                reference(images).sum().backward()
                for ours, theirs in zip(model.parameters(), reference.parameters()):
                    assert torch.allclose(ours.grad, theirs.grad)
                return compare_outputs(model, reference, images)
        """),
        # A KerasHub class built directly is a Keras model, whose mode is chosen per call: a
        # conversion script comparing it with the original runs it in inference mode.
        Valid("""
            import keras_hub
            import numpy as np
            import torch
            from transformers import AutoModel


            def validate_output(keras_model, hf_model, inputs):
                keras_outputs = keras_model(inputs)
                with torch.no_grad():
                    hf_outputs = hf_model(**inputs).last_hidden_state
                np.testing.assert_allclose(keras_outputs, hf_outputs.numpy(), atol=1e-4)


            keras_model = keras_hub.models.Gemma3Backbone(**convert_backbone_config(hf_config))
            convert_weights(keras_model, loader)
            hf_model = AutoModel.from_pretrained(hf_model_id)
            validate_output(keras_model, hf_model, inputs)
        """),
        # Layers built by a functools.partial are the wrapped layers: GELU has no modes.
        Valid("""
            from functools import partial

            import torch
            from torch import nn

            act = partial(nn.GELU, approximate="tanh")


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 16)
                    self.act = act()

                def forward(self, x):
                    return self.act(self.fc(x))


            net = Net()
            net.load_state_dict(torch.load("net.pt"))
            with torch.no_grad():
                predictions = net(features)
        """),
        # A helper's eval() on the model it is handed, called in the training loop with a
        # model whose layers have no dropout or batch norm: both modes compute the same.
        Valid("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self, hidden):
                    super().__init__()
                    self.stack = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(),
                                               nn.Linear(hidden, 10))

                def forward(self, x):
                    return self.stack(x)

            def train_step(model, loader, optimizer):
                for x, y in loader:
                    loss = nn.functional.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()

            def test_step(model, loader):
                model.eval()
                with torch.inference_mode():
                    for x, y in loader:
                        model(x)

            net = Net(hidden=10)
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
            for epoch in range(3):
                train_step(net, train_loader, optimizer)
                test_step(model=net, loader=test_loader)
        """),
        # A helper that trains the model it is handed and then scores it on held-out data
        # switches it first.
        Valid("""
            import torch
            import torch.nn.functional as F

            def fit_and_score(model, train_loader, valid_loader):
                optimizer = torch.optim.Adam(model.parameters(), 1e-3)
                for x, y in train_loader:
                    optimizer.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    optimizer.step()
                model.eval()
                correct = 0
                for x, y in valid_loader:
                    correct += (model(x).argmax(1) == y).sum().item()
                return correct
        """),
        # ... or is only ever handed models with neither dropout nor batch norm.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            def fit_and_score(model, train_loader, valid_loader):
                optimizer = torch.optim.Adam(model.parameters(), 1e-3)
                for x, y in train_loader:
                    optimizer.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    optimizer.step()
                correct = 0
                for x, y in valid_loader:
                    correct += (model(x).argmax(1) == y).sum().item()
                return correct

            fit_and_score(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), a, b)
        """),
        # A GAN's discriminator step makes fakes under no_grad with the generator, which the
        # same loop trains with its own optimizer: no evaluation.
        Valid("""
            import torch
            from torch import nn

            netG = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.Linear(64, 8))
            netD = nn.Sequential(nn.Linear(8, 64), nn.Dropout(0.3), nn.Linear(64, 1))
            optG = torch.optim.Adam(netG.parameters())
            optD = torch.optim.Adam(netD.parameters())
            bce = nn.BCEWithLogitsLoss()
            for real in loader:
                z = torch.randn(real.size(0), 16)
                with torch.no_grad():
                    fake = netG(z)
                optD.zero_grad()
                lossD = bce(netD(real), ones) + bce(netD(fake), zeros)
                lossD.backward()
                optD.step()
                optG.zero_grad()
                bce(netD(netG(z)), ones).backward()
                optG.step()
        """),
        # A metric's network put in eval mode once it is built.
        Valid("""
            from pytorch_fid.inception import InceptionV3

            class FrechetScore:
                def __init__(self, device):
                    self.inception = InceptionV3([3]).to(device).eval()

                def features(self, images):
                    return self.inception(images)[0]
        """),
        # A module file's demo runs the model once on made-up input: a shape check.
        Valid("""
            import torch
            from torch import nn

            class Denoiser(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1))

                def forward(self, x, time):
                    return self.net(x) * time

            if __name__ == "__main__":
                unet = Denoiser()
                images = torch.randn(2, 8)
                print(unet(images, time=torch.ones(2, 1)).shape)
        """),
        # A tutorial's block built with random weights and run to show its output's shape:
        # nothing to evaluate.
        Valid("""
            from torch import nn

            class MLPBlock(nn.Module):
                def __init__(self, dim, dropout=0.1):
                    super().__init__()
                    self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))

                def forward(self, x):
                    return self.mlp(x)

            mlp_block = MLPBlock(768)
            patches = mlp_block(patched_image_through_attention)
            print(patches.shape)
        """),
        # A network the class trains itself: its parameters go to an optimizer.
        Valid("""
            import torch
            import torchvision

            class Finetuner:
                def __init__(self):
                    self.net = torchvision.models.resnet18(weights="DEFAULT")
                    self.optimizer = torch.optim.SGD(self.net.parameters(), lr=0.01)

                def step(self, images, labels):
                    loss = torch.nn.functional.cross_entropy(self.net(images), labels)
                    self.optimizer.zero_grad()
                    loss.backward()
                    self.optimizer.step()
        """),
        # A function handed as the model (a lambda over the weights, a `def net(X)` of the
        # file): a function has no train/eval modes to set.
        Valid("""
            import torch

            def linreg(X, w, b):
                return torch.matmul(X, w) + b

            def evaluate_loss(net, data_iter, loss):
                total = 0.0
                for X, y in data_iter:
                    total += loss(net(X), y).sum().item()
                return total

            def softmax_net(X):
                return torch.softmax(torch.matmul(X, W) + b, dim=1)

            def train(data_iter, w, b, optimizer):
                net, loss = lambda X: linreg(X, w, b), squared_loss
                for X, y in data_iter:
                    optimizer.zero_grad()
                    loss(net(X), y).mean().backward()
                    optimizer.step()
                    print(evaluate_loss(net, data_iter, loss))
                    print(evaluate_loss(softmax_net, data_iter, loss))
        """),
        # A generation helper of a library module: no call in its file hands it a model, and
        # the calls of other files are judged where they are made.
        Valid("""
            import torch
            from torch import nn


            class TinyGPT(nn.Module):
                def __init__(self, drop_rate):
                    super().__init__()
                    self.drop = nn.Dropout(drop_rate)
                    self.head = nn.Linear(16, 16)

                def forward(self, idx):
                    return self.head(self.drop(idx))


            def generate_text_simple(model, idx, max_new_tokens):
                for _ in range(max_new_tokens):
                    with torch.no_grad():
                        logits = model(idx)
                    idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
                return idx
        """),
        # Dropout whose probability is a constructor argument, built with 0.0: an identity.
        Valid("""
            import torch
            from torch import nn


            class CausalAttention(nn.Module):
                def __init__(self, d_in, d_out, dropout, qkv_bias=False):
                    super().__init__()
                    self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
                    self.dropout = nn.Dropout(dropout)

                def forward(self, x):
                    return self.dropout(self.W_query(x))


            attention = CausalAttention(3, 2, 0.0)
            with torch.no_grad():
                context_vecs = attention(batch)
        """),
        # A test helper named for testing that runs the model forward and backward: training.
        Valid("""
            import torch


            def _test_forward_backward(model, sample):
                out = model(sample)
                out.mean().backward()


            def test_forward_backward():
                model = torch.hub.load("pytorch/vision", "resnet18")
                _test_forward_backward(model, torch.ones(2, 3, 64, 64))
        """),
        # A wrapper around a network switched to eval() before it is wrapped; its own dropout
        # is `training=False`, off in both modes.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            from torchvision.models.inception import inception_v3


            class WrapInception(nn.Module):
                def __init__(self, net):
                    super().__init__()
                    self.net = net

                def forward(self, x):
                    pool = torch.mean(self.net(x), 1)
                    return self.net.fc(F.dropout(pool, training=False))


            net = WrapInception(inception_v3(pretrained=True).eval())
            with torch.no_grad():
                logits = net(images)
        """),
        # A model with no dropout and no batch norm reaches the helper through a list of models
        # (`models[0]`) or as an object's attribute (`server.net`): its mode changes nothing.
        Valid("""
            import torch
            from torch import nn


            class MLP(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(3, 4)

                def forward(self, x):
                    return self.fc(x)


            def render(models, rays):
                def inference(model, x):
                    return model(x)
                coarse = models[0]
                return inference(coarse, rays)


            models = [MLP()]
            render(models, torch.rand(2, 3))
        """),
        Valid("""
            import torch
            from torch import nn


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(3, 4)

                def forward(self, x):
                    return self.fc(x)


            class Server:
                def __init__(self):
                    self.net = Net()


            def test(model, loader):
                with torch.no_grad():
                    for x in loader:
                        model(x)


            server = Server()
            test(server.net, loader)
        """),
        # The eval() switches a fresh deep copy made to be saved: the trained network keeps
        # its mode.
        Valid("""
            import copy
            import torch


            def fit(network, batches, optimizer, archive):
                for index, (inputs, targets) in enumerate(batches):
                    optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(network(inputs), targets).backward()
                    optimizer.step()
                    if index % 500 == 0:
                        for label, part in archive.items():
                            torch.save(copy.deepcopy(part).eval().cpu(), label)
        """),
        # A Keras model's own evaluation hook runs it in inference mode; Monte Carlo dropout
        # (dropout kept on) is written in `predict_step`, which is left alone.
        Valid("""
            import tensorflow as tf
            from tensorflow import keras

            class Tagger(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.body = keras.layers.Dense(32)
                    self.norm = keras.layers.BatchNormalization()
                    self.head = keras.layers.Dense(4)

                def call(self, inputs, training=False):
                    return self.head(self.norm(self.body(inputs), training=training))

                def test_step(self, data):
                    features, labels = data
                    scores = self(features, training=False)
                    self.compiled_loss(labels, scores)
                    return {"loss": self.compiled_loss(labels, scores)}

                def predict_step(self, data):
                    return tf.stack([self(data, training=True) for _ in range(8)])
        """),
        # A Lightning module's test_step is no Keras hook (a file without Keras or TensorFlow).
        Valid("""
            import torch
            import lightning as L

            class Scorer(L.LightningModule):
                def __init__(self, net):
                    super().__init__()
                    self.net = net

                def forward(self, x, training=False):
                    return self.net(x)

                def training_step(self, batch, batch_index):
                    x, y = batch
                    return torch.nn.functional.mse_loss(self(x, training=True), y)

                def test_step(self, batch, batch_index):
                    x, y = batch
                    self.log("test_loss", torch.nn.functional.mse_loss(self(x, training=True), y))
        """),
        # The branch asks the model's own mode (`.training`): the no_grad forward runs only when
        # the caller already put it in eval mode, in an else branch or after a guard's return.
        Valid("""
            import torch
            from torch import nn


            class Ranker(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.dropout = nn.Dropout(0.3)
                    self.score = nn.Linear(16, 4)

                def forward(self, features):
                    return self.score(self.dropout(features))


            def ranked(ranker, features):
                if ranker.training:
                    scores = ranker(features)
                else:
                    with torch.no_grad():
                        scores = ranker(features)
                return scores


            def ranked_quickly(ranker, features):
                if ranker.training:
                    return ranker(features)
                with torch.no_grad():
                    return ranker(features)


            ranker = Ranker()
            print(ranked(ranker, torch.ones(2, 16)), ranked_quickly(ranker, torch.ones(2, 16)))
        """),
        # The helper is handed only a library model of embedding tables (no dropout, no batch
        # norm, as the framework table says): its mode changes nothing the helper computes.
        Valid("""
            import torch
            from torch_geometric.nn import Node2Vec


            @torch.no_grad()
            def export_vectors(graph_model):
                torch.save(graph_model().cpu(), "vectors.pt")


            def fit(edge_index, epochs):
                graph_model = Node2Vec(edge_index, embedding_dim=64, walk_length=10, context_size=5)
                optimizer = torch.optim.SparseAdam(list(graph_model.parameters()), lr=0.01)
                graph_model.train()
                for epoch in range(epochs):
                    for start, rest in graph_model.loader(batch_size=128, shuffle=True):
                        optimizer.zero_grad()
                        graph_model.loss(start, rest).backward()
                        optimizer.step()
                    export_vectors(graph_model)
        """),
        # A project class whose `generate` first calls `self.eval()` (and `self.train()` after):
        # whoever calls it, it generates in eval mode.
        Valid("""
            import torch
            from torch import nn

            class Narrator(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.noise = nn.Dropout(0.2)
                    self.proj = nn.Linear(32, 32)

                def forward(self, frames):
                    return self.proj(self.noise(frames))

                def generate(self, frames):
                    self.eval()
                    with torch.no_grad():
                        spoken = self(frames)
                    self.train()
                    return spoken

            class Studio:
                def __init__(self, weights):
                    self.narrator = Narrator()
                    self.narrator.load_state_dict(torch.load(weights, weights_only=True))

                def record(self, frames):
                    return self.narrator.generate(frames)
        """),
        # A model switched to eval mode and frozen with `requires_grad_(False)` in the same
        # block of the training loop (on reaching a step count) stops training there: its mode
        # is deliberate, whatever flag froze or unfroze it before the loop.
        Valid("""
            import torch
            from torch import nn

            captioner = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.1))
            decoder = nn.Sequential(nn.Linear(16, 4), nn.Dropout(0.1))
            captioner.requires_grad_(tune_captioner)
            optimizer = torch.optim.AdamW([*captioner.parameters(), *decoder.parameters()])
            for epoch in range(10):
                decoder.train()
                captioner.train()
                for step, (x, y) in enumerate(loader):
                    if step == freeze_after:
                        if not keep_checkpointing:
                            captioner.train(False)
                        captioner.requires_grad_(False)
                    loss = nn.functional.mse_loss(decoder(captioner(x)), y)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
        """),
    ]
    INVALID = [
        # The same branch switching its own binding to training mode before generating.
        Invalid("""
            import torch


            def sample(trainer, prompts, paged):
                if paged:
                    with unwrap_for_generation(trainer.model) as unwrapped_model:
                        outputs = unwrapped_model.generate_batch(prompts)
                        unwrapped_model.train()
                else:
                    with unwrap_for_generation(trainer.model) as unwrapped_model:
                        unwrapped_model.train()
                        with torch.no_grad():
                            outputs = unwrapped_model.generate(prompts)
                return outputs
        """, line=13),
        # Predictions straight after Composer's fit(), which leaves the model in training mode.
        Invalid("""
            import torch
            import transformers
            from composer import Trainer
            from composer.models.huggingface import HuggingFaceModel

            model = transformers.AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
            composer_model = HuggingFaceModel(model, tokenizer=tokenizer)
            trainer = Trainer(model=composer_model, train_dataloader=train_loader, max_duration="1ep")
            trainer.fit()
            with torch.no_grad():
                predictions = composer_model(eval_batch)["logits"].argmax(dim=1)
        """, line=11),
        # The same check after the loaded model was switched to training mode.
        Invalid("""
            import transformers
            from keras_hub.models import BloomBackbone


            def validate_output(hf_model, keras_model, input_ids):
                hf_output = hf_model(input_ids).last_hidden_state
                keras_output = keras_model(input_ids)
                return abs(hf_output.detach().numpy() - keras_output).max()


            hf_model = transformers.BloomModel.from_pretrained("bigscience/bloom-560m")
            keras_model = BloomBackbone.from_preset("bloom_560m_multi")
            hf_model.train()
            print(validate_output(hf_model, keras_model, token_ids))
        """, line=6, related_lines=(14,)),
        # The same choice in a plain class: nobody puts the decoders in eval mode.
        Invalid("""
            import torch
            from torch import nn

            class Decoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embed = nn.Embedding(256, 64)
                    self.drop = nn.Dropout(0.1)
                    self.head = nn.Linear(64, 256)

                def forward(self, tokens):
                    return self.head(self.drop(self.embed(tokens)))

            class Directions(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.forward_net = Decoder()
                    self.backward_net = Decoder()

            class TwoWaySampler:
                def __init__(self):
                    self.directions = Directions()

                @torch.no_grad()
                def generate(self, tokens, steps, backwards=False):
                    nets = self.directions
                    net = nets.backward_net if backwards else nets.forward_net
                    for _ in range(steps):
                        tokens = torch.cat([tokens, net(tokens)[:, -1:].argmax(-1)], dim=1)
                    return tokens
        """, line=29),
        # The same gradient pass with an optimizer step: the model trains in eval mode.
        Invalid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(8, 64), nn.Dropout(0.1), nn.Linear(64, 2))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for x, y in loader:
                model.eval()
                mask = torch.ones(64, requires_grad=True)
                hidden = model[1](model[0](x)) * mask
                model[2](hidden).sum().backward()
                optimizer.step()
        """, line=7, related_lines=(10,)),
        # The helper called straight, with a model its caller switched to training mode.
        Invalid("""
            import torch
            from transformers import RagTokenForGeneration


            @torch.no_grad()
            def evaluate_batch_e2e(rag_model, questions):
                return rag_model.generate(questions, num_beams=4)


            model = RagTokenForGeneration.from_pretrained(checkpoint)
            model.train()
            answers = evaluate_batch_e2e(model, questions)
        """, line=7, related_lines=(12,)),
        # The wrapper holds a copy: its eval() leaves the model the helper runs in training mode.
        Invalid("""
            import copy

            import torch
            from detectron2.export import TracingAdapter
            from detectron2.modeling import build_model


            def run_inference(model, images):
                return model(images)


            def check_tracing(config, images):
                model = build_model(config)
                wrapper = TracingAdapter(copy.deepcopy(model), images)
                wrapper.eval()
                traced = torch.jit.trace(wrapper, images)
                with torch.no_grad():
                    assert torch.allclose(run_inference(model, images), traced(images))
        """, line=9, related_lines=(18,)),
        # The same GAN loop without the train() calls: the generators train in eval mode.
        Invalid("""
            import itertools
            import torch
            from torch import nn

            g_ab = nn.Sequential(nn.Conv2d(3, 3, 3), nn.InstanceNorm2d(3), nn.Dropout(0.5))
            g_ba = nn.Sequential(nn.Conv2d(3, 3, 3), nn.InstanceNorm2d(3), nn.Dropout(0.5))
            d_a = nn.Sequential(nn.Conv2d(3, 1, 3))
            optimizer_g = torch.optim.Adam(itertools.chain(g_ab.parameters(), g_ba.parameters()))
            optimizer_d = torch.optim.Adam(d_a.parameters())


            def save_samples(images):
                g_ab.eval()
                g_ba.eval()
                save(g_ba(g_ab(images)))


            for epoch in range(100):
                for step, (real_a, real_b) in enumerate(loader):
                    optimizer_g.zero_grad()
                    (g_ba(g_ab(real_a)) - real_a).abs().mean().backward()
                    optimizer_g.step()
                    optimizer_d.zero_grad()
                    d_a(g_ba(real_b).detach()).mean().backward()
                    optimizer_d.step()
                    if step % 100 == 0:
                        save_samples(real_a)
        """, line=27, related_lines=(21,)),
        # The train() comes before training: the sampling after it was meant for eval mode.
        Invalid("""
            import torch
            from torch import nn

            net = nn.Sequential(nn.Dropout(p=0.05), nn.Linear(1, 20), nn.ReLU(), nn.Linear(20, 1))
            optimiser = torch.optim.SGD(net.parameters(), lr=0.01)
            net.train()
            for epoch in range(1000):
                loss = nn.functional.mse_loss(net(x), y)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()

            samples = []
            with torch.no_grad():
                for t in range(100):
                    samples.append(net(grid).squeeze())
        """, line=16),
        # The same when a helper of the file trains the model after train().
        Invalid("""
            import torch
            from torch import nn

            def fit(model, loader):
                for x, y in loader:
                    nn.functional.mse_loss(model(x), y).backward()

            net = nn.Sequential(nn.Dropout(p=0.05), nn.Linear(1, 20), nn.ReLU(), nn.Linear(20, 1))
            net.train()
            fit(net, loader)
            samples = []
            with torch.no_grad():
                for _ in range(100):
                    samples.append(net(grid))
        """, line=14),
        # The same helper restores training mode at its end: predict() runs in training mode.
        Invalid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.5), nn.Linear(32, 2))


            def evaluate(loader, model):
                model.eval()
                with torch.no_grad():
                    correct = sum((model(x).argmax(-1) == y).sum() for x, y in loader)
                model.train()
                return correct


            def predict(features, model):
                return model(features).argmax(-1)


            model.train()
            for x, y in train_loader:
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            test_accuracy = evaluate(test_loader, model)
            label = predict(features, model)
        """, line=16, related_lines=(24,)),
        # The same evaluation without the eval(): unwrapping keeps the training mode.
        Invalid("""
            import torch


            def evaluate(model, loader, distributed):
                if distributed:
                    model = model.module
                with torch.inference_mode():
                    for images, labels in loader:
                        accuracy = (model(images).argmax(-1) == labels).float().mean()
        """, line=9),
        # The same helper on a torch model in a file that also imports objax.
        Invalid("""
            import objax
            from torch import nn

            model = nn.Sequential(nn.Embedding(64, 128), nn.Dropout(0.2), nn.Linear(128, 64))

            def predict_next(model, tokens):
                return model(tokens).argmax(-1)

            next_token = predict_next(model, prompt)
        """, line=7),
        # The same sampling code in a plain class: nobody puts the decoder it holds in eval mode.
        Invalid("""
            import torch
            from torch import nn

            class Decoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embed = nn.Embedding(256, 64)
                    self.drop = nn.Dropout(0.1)
                    self.head = nn.Linear(64, 256)

                def forward(self, tokens):
                    return self.head(self.drop(self.embed(tokens)))

            class TwoWaySampler:
                def __init__(self):
                    self.forward_net = Decoder()
                    self.backward_net = Decoder()

                @torch.no_grad()
                def generate(self, tokens, steps, backwards=False):
                    net = self.forward_net
                    if backwards:
                        net = self.backward_net
                    for _ in range(steps):
                        tokens = torch.cat([tokens, net(tokens)[:, -1:].argmax(-1)], dim=1)
                    return tokens
        """, line=25),
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
        # Every functional dropout of PyTorch gives its module a mode, whichever is called.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 2)

                def forward(self, x):
                    return self.fc(F.feature_alpha_dropout(x, 0.5, self.training))

            model = Net()
            with torch.no_grad():
                logits = model(batch)
        """, line=15),
        Invalid("""
            import torch
            from torch.nn import functional

            class Net(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = torch.nn.Conv3d(1, 4, 3)

                def forward(self, x):
                    return functional.dropout3d(self.conv(x), p=0.2, training=self.training)

            model = Net()
            with torch.no_grad():
                volumes = model(scan)
        """, line=14),
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
            encoder = nn.LSTM(32, 64, num_layers=2, dropout=0.2)
            encoder.train()
            with torch.inference_mode():
                features, _ = encoder(sequence)
        """, line=6),
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(784, 10)
                    self.dropout = nn.Dropout(0.5)

                def forward(self, x):
                    return self.fc(self.dropout(x))

            def main():
                model = Net()
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
                for x, y in train_loader:
                    optimizer.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    optimizer.step()
                correct = 0
                with torch.no_grad():
                    for x, y in test_loader:
                        correct += (model(x).argmax(1) == y).sum()
                return correct
        """, line=24),
        Invalid("""
            import torch
            from torch import nn
            model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.Linear(64, 2))
            optimizer = torch.optim.Adam(model.parameters())
            for epoch in range(10):
                for x, y in train_loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
            correct = 0
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        """, line=12),
        Invalid("""
            import torch

            def evaluate(net, loader):
                net.eval()
                correct = 0
                with torch.no_grad():
                    for x, y in loader:
                        correct += (net(x).argmax(1) == y).sum().item()
                        net.train()
                return correct
        """, line=9),
        Invalid("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
                    self.bn = nn.BatchNorm2d(8)

                def forward(self, x):
                    return self.bn(self.conv(x))

            def test():
                net = Net()
                net.load_state_dict(torch.load("net.pt"))
                print(net(images).argmax(1))
        """, line=16),
        Invalid("""
            import copy
            import torch

            def validate(model, loader):
                with torch.no_grad():
                    return [model(x).argmax(1) for x, _ in loader]

            def main(model, val_loader):
                frozen = copy.deepcopy(model)
                return validate(frozen, val_loader)
        """, line=6),
        # The factory puts the model in eval mode on one path only.
        Invalid("""
            import torch
            import torchvision

            def get_model(args):
                model = torchvision.models.resnet152(weights="DEFAULT").cuda()
                if not args.finetune:
                    model.eval()
                return model

            model = get_model(args)
            with torch.no_grad():
                for video in loader:
                    features = model(video.cuda())
        """, line=13),
        # Built in eval mode, then switched to training mode by the caller.
        Invalid("""
            import torch
            from torch import nn

            class HardNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32))
                    self.eval()

                def forward(self, patches):
                    return self.features(patches)

            descriptor = HardNet()
            descriptor.train()
            with torch.no_grad():
                descriptors = descriptor(patches)
        """, line=16),
        # A base class not visible, but the class's own dropout is evidence: run under
        # no_grad, the evaluation is certain.
        Invalid("""
            import torch
            from torch import nn
            from kornia_like.base import AugmentationBase

            class NoisyHead(AugmentationBase):
                def __init__(self):
                    super().__init__()
                    self.drop = nn.Dropout(0.3)

                def forward(self, image, params=None):
                    return self.drop(image)

            def evaluate(seq, images):
                with torch.no_grad():
                    return seq(images)

            evaluate(NoisyHead(), images)
        """, line=15),
        # The twin of SWA's batch-norm update without the reset: no statistics are being
        # re-estimated, the block goes on evaluating in training mode.
        Invalid("""
            import torch

            def evaluate(model, loader):
                model.eval()
                with torch.no_grad():
                    return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)

            def finish_swa(model, optimizer, train_loader, val_loader):
                evaluate(model, val_loader)
                optimizer.swap_swa_sgd()
                with torch.no_grad():
                    model.train()
                    for x, y in train_loader:
                        out = model(x)
                return evaluate(model, val_loader)
        """, line=12),
        # The children of a torchvision ResNet, re-assembled without its head, keep its
        # batch norm.
        Invalid("""
            import torch
            import torchvision
            from torch import nn

            class SiameseNetwork(nn.Module):
                def __init__(self):
                    super().__init__()
                    resnet = torchvision.models.resnet18(weights=None)
                    self.resnet = nn.Sequential(*(list(resnet.children())[:-1]))
                    self.fc = nn.Linear(1024, 1)

                def forward(self, a, b):
                    return self.fc(torch.cat([self.resnet(a), self.resnet(b)], 1).flatten(1))

            def test(model, loader):
                with torch.no_grad():
                    for a, b, y in loader:
                        score = model(a, b)

            test(SiameseNetwork(), test_loader)
        """, line=18),
        # A subclass of a dropout layer drops as nn.Dropout does.
        Invalid("""
            import torch
            from torch import nn

            class SharedDropout(nn.Dropout):
                def forward(self, x):
                    return super().forward(x)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 2)
                    self.drop = SharedDropout(0.5)

                def forward(self, x):
                    return self.fc(self.drop(x))

            net = Net()
            net.load_state_dict(torch.load("net.pt"))
            with torch.no_grad():
                scores = net(images)
        """, line=20),
        # `layer_init` hands back the layer it is given: here a batch norm among the layers.
        Invalid("""
            import torch
            from torch import nn

            def layer_init(layer, std=1.0):
                torch.nn.init.orthogonal_(layer.weight, std)
                return layer

            model = nn.Sequential(layer_init(nn.Conv2d(3, 16, 3)), nn.BatchNorm2d(16),
                                  nn.ReLU(), nn.Flatten(), layer_init(nn.LazyLinear(10)))
            model.load_state_dict(torch.load("model.pt"))
            with torch.no_grad():
                predictions = model(images)
        """, line=12),
        # Instance norm asked to keep running statistics normalises with them in eval mode.
        Invalid("""
            import torch
            from torch import nn

            class StyleNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 8, 3)
                    self.norm = nn.InstanceNorm2d(8, affine=True, track_running_stats=True)

                def forward(self, x):
                    return self.norm(self.conv(x))

            net = StyleNet()
            with torch.no_grad():
                stylized = net(content)
        """, line=15),
        # The model's only dropout sits in blocks held by a ModuleList.
        Invalid("""
            import torch
            from torch import nn

            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(64, 64)
                    self.drop = nn.Dropout(0.1)

                def forward(self, x):
                    return self.drop(self.fc(x))

            class Encoder(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.blocks = nn.ModuleList([Block() for _ in range(depth)])
                    self.heads = nn.ModuleDict({"cls": nn.Linear(64, 10)})

                def forward(self, x):
                    for block in self.blocks:
                        x = block(x)
                    return self.heads["cls"](x)

            encoder = Encoder(6)
            with torch.no_grad():
                logits = encoder(tokens)
        """, line=26),
        # The trained student is switched to eval mode for validation and never back.
        Invalid("""
            import torch
            from torch import nn

            student = nn.Sequential(nn.Linear(20, 64), nn.Dropout(0.2), nn.Linear(64, 2))
            teacher = nn.Sequential(nn.Linear(20, 256), nn.Dropout(0.5), nn.Linear(256, 2))
            optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
            student.train()
            for epoch in range(10):
                teacher.eval()
                for x, y in train_loader:
                    with torch.no_grad():
                        soft_targets = teacher(x)
                    distillation_loss(student(x), soft_targets, y).backward()
                    optimizer.step()
                student.eval()
                validate(student, val_loader)
        """, line=15, related_lines=(13,)),
        # Switching the model a DDP wrapper holds switches the model that is trained.
        Invalid("""
            import torch
            from torch import nn
            from torch.nn.parallel import DistributedDataParallel

            model = DistributedDataParallel(build_model(config).cuda())
            optimizer = torch.optim.Adam(model.parameters())
            model.train()
            for epoch in range(10):
                for x, y in train_loader:
                    optimizer.zero_grad()
                    nn.functional.cross_entropy(model(x), y).backward()
                    optimizer.step()
                model.module.eval()
                validate(model, val_loader)
        """, line=13, related_lines=(11,)),
        # Generation after training, still in training mode.
        Invalid("""
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained("gpt2")
            model.train()
            for batch in train_loader:
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
            samples = model.generate(prompt_ids, max_new_tokens=50)
        """, line=9),
        # The helper generates with what its caller hands it, and the caller never called
        # eval(): the finding names the call that does so.
        Invalid("""
            def generate_text(model, prompt_ids):
                return model.generate(prompt_ids, max_new_tokens=50)

            def train(model, loader, optimizer):
                for batch in loader:
                    model(**batch).loss.backward()
                    optimizer.step()
                return generate_text(model.module, prompt_ids)
        """, line=2, related_lines=(8,)),
        # The sampler's caller hands it the model straight from training.
        Invalid("""
            import torch

            class Sampler:
                @torch.no_grad()
                def sample(self, network, noise):
                    return network(noise).clamp(-1, 1)

            def train(model, loader, optimizer, sampler):
                model.train()
                for images in loader:
                    diffusion_loss(model, images).backward()
                    optimizer.step()
                return sampler.sample(model, torch.randn(16, 3, 32, 32))
        """, line=6, related_lines=(13,)),
        # Lightning (2.2 on) trains the model in the mode it is handed.
        Invalid("""
            import lightning as L

            model = Classifier()
            model.eval()
            baseline = evaluate(model, val_loader)
            trainer = L.Trainer(max_epochs=3)
            trainer.fit(model, train_loader, val_loader)
        """, line=7, related_lines=(4,)),
        # Lightning's fit is training: the test loop after it runs in training mode.
        Invalid("""
            import lightning as L
            from torch import nn

            class Classifier(L.LightningModule):
                def __init__(self):
                    super().__init__()
                    self.net = nn.Sequential(nn.Linear(784, 128), nn.Dropout(0.3),
                                             nn.Linear(128, 10))

                def forward(self, x):
                    return self.net(x)

                def training_step(self, batch, batch_index):
                    x, y = batch
                    return nn.functional.cross_entropy(self(x), y)

            model = Classifier()
            trainer = L.Trainer(max_epochs=3)
            trainer.fit(model, train_loader)
            correct = 0
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum().item()
        """, line=22),
        # The torch twin of the Keras example: torch's models keep the mode they were left in.
        Invalid("""
            import torch
            from torch import nn

            def evaluate(model, images):
                return model(images)

            model = nn.Sequential(nn.Linear(784, 64), nn.Dropout(0.5), nn.Linear(64, 10))
            optimizer = torch.optim.Adam(model.parameters())
            for x, y in train_loader:
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
            evaluate(model, x_test)
        """, line=5, related_lines=(12,)),
        # eval() at the top of the epoch, train() only after the forward pass: each epoch's
        # first training step runs in eval mode.
        Invalid("""
            import torch
            from torch import nn

            model = nn.Sequential(nn.Linear(20, 64), nn.Dropout(0.2), nn.Linear(64, 2))
            for epoch in range(10):
                model.eval()
                with torch.no_grad():
                    val_loss = sum(criterion(model(x), y).item() for x, y in val_loader)
                for x, y in train_loader:
                    loss = criterion(model(x), y)
                    model.train()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """, line=10, related_lines=(11,)),
        # The same sampling method, called straight after training.
        Invalid("""
            from torch import nn

            class CharModel(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.embed = nn.Embedding(65, 128)
                    self.drop = nn.Dropout(0.2)
                    self.head = nn.Linear(128, 65)

                def forward(self, idx):
                    return self.head(self.drop(self.embed(idx)))

            class Trainer:
                def __init__(self):
                    self.model = CharModel()

                def sample_text(self, prompt_ids):
                    return self.model.generate(prompt_ids, max_new_tokens=200)

                def run_epoch(self, loader, optimizer):
                    self.model.train()
                    for x, y in loader:
                        nn.functional.cross_entropy(self.model(x), y).backward()
                        optimizer.step()
                    return self.sample_text(prompt_ids)
        """, line=18, related_lines=(25,)),
        # The same trainer switches the trained network itself, and never back.
        Invalid("""
            import torch
            from torch.optim.swa_utils import AveragedModel

            class Trainer:
                def __init__(self, network, loader):
                    self.network = network
                    self.averaged = AveragedModel(network)
                    self.optimizer = torch.optim.Adam(network.parameters())
                    self.loader = loader

                def fit(self, steps):
                    self.network.train()
                    for step, images in enumerate(self.loader):
                        self.network(images).mean().backward()
                        self.optimizer.step()
                        self.averaged.update_parameters(self.network)
                        if step % 1000 == 0:
                            self.network.eval()
                            save_samples(self.network, step)
        """, line=18, related_lines=(14,)),
        # The same wrapper built around a freshly built torchvision model, in training mode.
        Invalid("""
            import torch
            import torchvision
            from torch import nn
            from transformers.utils import PushToHubMixin


            class AdapterModel(PushToHubMixin, nn.Module):
                def __init__(self, base, rank):
                    super().__init__()
                    self.base = base
                    self.adapter = nn.Linear(rank, rank)

                def forward(self, x):
                    return self.base(x) + self.adapter(x)


            backbone = torchvision.models.resnet50()
            backbone.load_state_dict(torch.load("weights.pt"))
            model = AdapterModel(backbone, 8)
            with torch.no_grad():
                logits = model(images)
        """, line=21),
        # A model zoo's factory handed a model's name (`create_model(model_name)`) wraps no
        # model: timm hands back a new one, in training mode.
        Invalid("""
            import timm
            import torch


            def embed(images, model_name="resnet50"):
                model = timm.create_model(model_name, pretrained=True)
                with torch.no_grad():
                    return model(images)
        """, line=8),
        # The backbone of a probe left in eval mode while its parameters are in the optimizer:
        # it trains, with its batch norm frozen.
        Invalid("""
            import torch
            import torchvision


            backbone = torchvision.models.resnet50(pretrained=True)
            head = torch.nn.Linear(1000, 10)
            optimizer = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), 0.1)


            def train_epoch(encoder, classifier, loader):
                encoder.eval()
                for x, y in loader:
                    loss = torch.nn.functional.cross_entropy(classifier(encoder(x)), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()


            for epoch in range(10):
                train_epoch(backbone, head, loader)
        """, line=20),
        # Frozen first, then unfrozen for fine-tuning: the eval() now stops a trained model's
        # batch norm.
        Invalid("""
            import torch
            import torchvision


            model = torchvision.models.resnet50(pretrained=True)
            model.requires_grad_(False)
            model.fc.requires_grad_(True)
            model.requires_grad_(True)
            optimizer = torch.optim.SGD(model.parameters(), 0.1)
            for epoch in range(10):
                model.eval()
                for x, y in loader:
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
        """, line=11),
        # The same helper after an optimizer step: the caller trained the model it hands on,
        # which is in training mode.
        Invalid("""
            import torch


            def compare_outputs(model, reference, images):
                with torch.no_grad():
                    return (model(images) - reference(images)).abs().max()


            def finetune_and_compare(model, reference, images, optimizer):
                model(images).sum().backward()
                optimizer.step()
                return compare_outputs(model, reference, images)
        """, line=6, related_lines=(12,)),
        # A batch norm built by a functools.partial has running statistics to get right.
        Invalid("""
            import functools

            import torch
            from torch import nn

            norm = functools.partial(nn.BatchNorm2d, eps=1e-3)


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 64, 3)
                    self.bn = norm(64)

                def forward(self, x):
                    return self.bn(self.conv(x))


            net = Net()
            net.load_state_dict(torch.load("net.pt"))
            with torch.no_grad():
                predictions = net(images)
        """, line=22),
        # The same helper handed a model with dropout: training goes on with dropout off.
        Invalid("""
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self, hidden):
                    super().__init__()
                    self.stack = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Dropout(0.2),
                                               nn.Linear(hidden, 10))

                def forward(self, x):
                    return self.stack(x)

            def train_step(model, loader, optimizer):
                for x, y in loader:
                    loss = nn.functional.cross_entropy(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()

            def test_step(model, loader):
                model.eval()
                with torch.inference_mode():
                    for x, y in loader:
                        model(x)

            net = Net(hidden=10)
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
            for epoch in range(3):
                train_step(net, train_loader, optimizer)
                test_step(model=net, loader=test_loader)
        """, line=30, related_lines=(29,)),
        # Handed a model, trained here in the mode it came in, then scored on held-out data
        # with nothing between that calls eval().
        Invalid("""
            import torch
            import torch.nn.functional as F

            def fit_and_score(model, train_loader, valid_loader):
                optimizer = torch.optim.Adam(model.parameters(), 1e-3)
                for x, y in train_loader:
                    optimizer.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    optimizer.step()
                correct = 0
                for x, y in valid_loader:
                    correct += (model(x).argmax(1) == y).sum().item()
                return correct
        """, line=12),
        # The same step with a teacher that nothing trains: its targets come from training mode.
        Invalid("""
            import torch
            from torch import nn

            teacher = nn.Sequential(nn.Linear(8, 64), nn.Dropout(0.3), nn.Linear(64, 4))
            teacher.load_state_dict(torch.load("teacher.pt"))
            student = nn.Sequential(nn.Linear(8, 4))
            optimizer = torch.optim.Adam(student.parameters())
            for x in loader:
                with torch.no_grad():
                    target = teacher(x)
                optimizer.zero_grad()
                nn.functional.mse_loss(student(x), target).backward()
                optimizer.step()
        """, line=10),
        # A scorer built here and only run for features: nothing trains it or calls eval().
        Invalid("""
            from pytorch_fid.inception import InceptionV3

            class FrechetScore:
                def __init__(self, device):
                    self.inception = InceptionV3([3]).to(device)

                def features(self, images):
                    return self.inception(images)[0]
        """, line=8),
        # The same helper handed a module with dropout, trained just before: still reported.
        Invalid("""
            import torch
            from torch import nn

            def evaluate_loss(net, data_iter, loss):
                total = 0.0
                for X, y in data_iter:
                    total += loss(net(X), y).sum().item()
                return total

            def train(data_iter, optimizer, loss):
                net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 1))
                for X, y in data_iter:
                    optimizer.zero_grad()
                    loss(net(X), y).mean().backward()
                    optimizer.step()
                    print(evaluate_loss(net, data_iter, loss))
        """, line=7),
        # Its twin, called in its own file with a model left in training mode.
        Invalid("""
            import torch
            from torch import nn


            class TinyGPT(nn.Module):
                def __init__(self, drop_rate):
                    super().__init__()
                    self.drop = nn.Dropout(drop_rate)
                    self.head = nn.Linear(16, 16)

                def forward(self, idx):
                    return self.head(self.drop(idx))


            def generate_text_simple(model, idx, max_new_tokens):
                for _ in range(max_new_tokens):
                    with torch.no_grad():
                        logits = model(idx)
                    idx = torch.cat((idx, logits.argmax(dim=-1, keepdim=True)), dim=1)
                return idx


            model = TinyGPT(0.1)
            model.load_state_dict(torch.load("gpt.pt"))
            print(generate_text_simple(model, torch.zeros(1, 4), 10))
        """, line=18),
        # Its twin, built with a drop probability of 0.1.
        Invalid("""
            import torch
            from torch import nn


            class CausalAttention(nn.Module):
                def __init__(self, d_in, d_out, dropout, qkv_bias=False):
                    super().__init__()
                    self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
                    self.dropout = nn.Dropout(dropout)

                def forward(self, x):
                    return self.dropout(self.W_query(x))


            attention = CausalAttention(3, 2, 0.1)
            with torch.no_grad():
                context_vecs = attention(batch)
        """, line=17),
        # Its twin without the backward pass: it evaluates the model it is handed.
        Invalid("""
            import torch


            def _test_forward_backward(model, sample):
                out = model(sample)
                return out.mean()


            def test_forward_backward():
                model = torch.hub.load("pytorch/vision", "resnet18")
                _test_forward_backward(model, torch.ones(2, 3, 64, 64))
        """, line=5),
        # Its twin: the wrapped network is never switched to eval mode.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            from torchvision.models.inception import inception_v3


            class WrapInception(nn.Module):
                def __init__(self, net):
                    super().__init__()
                    self.net = net

                def forward(self, x):
                    pool = torch.mean(self.net(x), 1)
                    return self.net.fc(F.dropout(pool, training=False))


            net = WrapInception(inception_v3(pretrained=True))
            with torch.no_grad():
                logits = net(images)
        """, line=19),
        # Twins of the list and the attribute: the model held there has dropout.
        Invalid("""
            import torch
            from torch import nn


            class MLP(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5))

                def forward(self, x):
                    return self.fc(x)


            def render(models, rays):
                def inference(model, x):
                    return model(x)
                coarse = models[0]
                return inference(coarse, rays)


            models = [MLP()]
            render(models, torch.rand(2, 3))
        """, line=16),
        Invalid("""
            import torch
            from torch import nn


            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5))

                def forward(self, x):
                    return self.fc(x)


            class Server:
                def __init__(self):
                    self.net = Net()


            def test(model, loader):
                with torch.no_grad():
                    for x in loader:
                        model(x)


            server = Server()
            test(server.net, loader)
        """, line=22),
        # The same snapshot taken without a copy: the eval() switches the trained network.
        Invalid("""
            import copy
            import torch


            def fit(network, batches, optimizer):
                for index, (inputs, targets) in enumerate(batches):
                    optimizer.zero_grad()
                    torch.nn.functional.cross_entropy(network(inputs), targets).backward()
                    optimizer.step()
                    if index % 500 == 0:
                        torch.save(copy.copy(network.eval().cpu().state_dict()), "last.pt")
        """, line=11, related_lines=(8,)),
        # The twin: the Keras model's evaluation hook calls it with training=True.
        Invalid("""
            import tensorflow as tf
            from tensorflow import keras

            class Tagger(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.body = keras.layers.Dense(32)
                    self.norm = keras.layers.BatchNormalization()
                    self.head = keras.layers.Dense(4)

                def call(self, inputs, training=False):
                    return self.head(self.norm(self.body(inputs), training=training))

                def test_step(self, data):
                    features, labels = data
                    scores = self(features, training=True)
                    return {"loss": self.compiled_loss(labels, scores)}
        """, line=16),
        # Its base class is the project's own (another file): the train_step and test_step it
        # overrides make it a Keras model.
        Invalid("""
            import tensorflow as tf
            import backbone

            class Detector(backbone.Network):
                def train_step(self, data):
                    images, boxes = data
                    with tf.GradientTape() as tape:
                        loss = self.box_loss(boxes, self(images, training=True))
                    grads = tape.gradient(loss, self.trainable_variables)
                    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                    return {"loss": loss}

                def test_step(self, data):
                    images, boxes = data
                    predicted = self(images, training=True)
                    return {"loss": self.box_loss(boxes, predicted)}
        """, line=15),
        # The branch asks another model's mode: the ranker itself may still be in training mode.
        Invalid("""
            import torch
            from torch import nn


            class Ranker(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.dropout = nn.Dropout(0.3)
                    self.score = nn.Linear(16, 4)

                def forward(self, features):
                    return self.score(self.dropout(features))


            def ranked(ranker, judge, features):
                if judge.training:
                    scores = ranker(features)
                else:
                    with torch.no_grad():
                        scores = ranker(features)
                return scores


            ranker, judge = Ranker(), Ranker()
            print(ranked(ranker, judge, torch.ones(2, 16)))
        """, line=20),
        # The same helper handed the project's own embedding model, which has dropout.
        Invalid("""
            import torch
            from torch import nn


            class Walker(nn.Module):
                def __init__(self, nodes):
                    super().__init__()
                    self.table = nn.Embedding(nodes, 64)
                    self.dropout = nn.Dropout(0.2)

                def forward(self):
                    return self.dropout(self.table.weight)

                def loss(self, start, rest):
                    return self.forward()[start].sum()


            @torch.no_grad()
            def export_vectors(graph_model):
                torch.save(graph_model().cpu(), "vectors.pt")


            def fit(edge_index, batches, epochs):
                graph_model = Walker(edge_index.max() + 1)
                optimizer = torch.optim.SparseAdam(list(graph_model.parameters()), lr=0.01)
                graph_model.train()
                for epoch in range(epochs):
                    for start, rest in batches:
                        optimizer.zero_grad()
                        graph_model.loss(start, rest).backward()
                        optimizer.step()
                    export_vectors(graph_model)
        """, line=20),
        # The near-miss twin: its `generate` switches to eval mode only under a condition, so
        # the caller's mode is the one it generates in.
        Invalid("""
            import torch
            from torch import nn

            class Narrator(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.noise = nn.Dropout(0.2)
                    self.proj = nn.Linear(32, 32)

                def forward(self, frames):
                    return self.proj(self.noise(frames))

                def generate(self, frames, quiet=False):
                    if quiet:
                        self.eval()
                    with torch.no_grad():
                        return self(frames)

            class Studio:
                def __init__(self, weights):
                    self.narrator = Narrator()
                    self.narrator.load_state_dict(torch.load(weights, weights_only=True))

                def record(self, frames):
                    return self.narrator.generate(frames)
        """, line=25),
        # The near-miss twin: switched to eval mode on reaching a step count but never frozen,
        # so the rest of the epoch trains it with its dropout off.
        Invalid("""
            import torch
            from torch import nn

            captioner = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.1))
            decoder = nn.Sequential(nn.Linear(16, 4), nn.Dropout(0.1))
            captioner.requires_grad_(tune_captioner)
            optimizer = torch.optim.AdamW([*captioner.parameters(), *decoder.parameters()])
            for epoch in range(10):
                decoder.train()
                captioner.train()
                for step, (x, y) in enumerate(loader):
                    if step == freeze_after:
                        captioner.train(False)
                    loss = nn.functional.mse_loss(decoder(captioner(x)), y)
                    loss.backward()
                    optimizer.step()
                    optimizer.zero_grad()
        """, line=13),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.module_facts = FunctionFacts("<module>", None, [])  # type: ignore[arg-type]
        self.functions: list[FunctionFacts] = []
        # Evaluations of a model that came in as a parameter, judged at its call sites: (the
        # function, the parameter, the model's name, the call, the context, what it has, whether
        # its value is a known module).
        self.deferred: list[tuple[FunctionFacts, str, str, cst.Call, str, str, bool, bool]] = []
        # Evaluations of a model the instance holds (`self.model`), in a method that does not
        # set its mode, judged at the method's calls in this class: (the method, the model's
        # name, the call, the context, what it has).
        self.deferred_attributes: list[tuple[FunctionFacts, str, cst.Call, str, str]] = []
        # Evaluations, over a held-out loader, of a model a function is handed and trains itself
        # without ever setting its mode (`def fit_and_score(model, train_loader, val_loader)`):
        # judged once the file's calls of the function are known. (the function, the model,
        # the call, the context)
        self.deferred_trained: list[tuple[FunctionFacts, str, cst.Call, str]] = []
        # Forward passes of a model with dropout or batch norm, built here and not in eval mode,
        # run where nothing says they evaluate: (the model, the call, what it has). A model
        # that nothing in the file trains, switches or hands on (a scorer such as FID's
        # Inception network, a teacher) is only ever evaluated, in training mode.
        self.unswitched_runs: list[tuple[str, cst.Call, str]] = []
        self.switched_anywhere: set[str] = set()
        self.handed_anywhere: set[str] = set()
        self.parameters_read: set[str] = set()
        self.loss_computed = False  # a loss is computed somewhere in the file: it trains
        # No_grad forward passes inside a training step, judged in `leave_Module`: (the call,
        # the model, what it has, the context); and whether each block runs a backward pass.
        self.training_step_runs: list[tuple[cst.Call, str, str, str]] = []
        self.training_blocks: dict[int, bool] = {}
        # (callee, call, the caller's modes there, the caller, whether it trained before)
        self.local_calls: list[tuple[str, cst.Call, dict[str, str], FunctionFacts, bool]] = []
        self.module_classes: list[bool] = []
        self.class_nodes: list[cst.ClassDef] = []
        # Attributes that hold a copy of a model (`self.ema = EMA(model)`), by class, whichever
        # method assigned them.
        self.attribute_copies: dict[int, set[str]] = {}
        # Attributes that hold such a quiet wrapper (`self.wrapper = Wrapper(self.model)` in
        # `setUp`), by class, whichever method assigned them.
        self.attribute_quiet_wrappers: dict[int, set[str]] = {}
        self.quiet_assignments: dict[int, bool] = {}  # by assignment, see `visit_Assign`
        # Arguments (by node) of calls of functions of this file that hand nothing in training
        # mode (`has_no_training_mode`), whatever the callee does with it.
        self.handed_without_modes: set[int] = set()
        # Arguments of calls of the file's functions that hold only models with no layer that
        # differs between modes (see `_mode_free`), as the value flow knew them at the call.
        self.handed_mode_free: set[int] = set()
        self.lambda_depth = 0  # a lambda's body runs later, in a mode unknown here
        self.trains_anywhere = "backward" in context.source
        # A file of Keras/TensorFlow (or objax, Haiku) models and no torch: their mode is chosen
        # per call, and torch's train/eval rule and advice do not apply to them.
        packages = {name.split(".", 1)[0] for name in context.imports.aliases.values()}
        self.modes_per_call = bool(packages & catalog.PER_CALL_MODE_PACKAGES) and \
            "torch" not in packages
        # Models handed to a `with` (`with inference_context(model):`): it may set their mode.
        self.managed: list[set[str]] = []
        # The depth of `managed` at which each open function's body starts: a guard's
        # `return` ends the function's block, not the one around the function.
        self.managed_floor: list[int] = [0]
        self.no_grad_blocks: list[NoGradBlock] = []
        self.open_loops: list[tuple[cst.CSTNode, str | None]] = []  # (loop, held-out loader)
        self.order = 0  # calls seen, for ordering within a no_grad block
        # `.eval()`/`.train()` calls (by id) that cannot switch the trained model's dropout or
        # batch norm: made on a copy of it (an EMA, a teacher) or on a model with neither.
        self.other_model_switches: set[int] = set()
        # eval()/train() on a helper's parameter: id -> (helper, its parameters, the parameter)
        self.parameter_switches: dict[int, tuple[str, list[str], str]] = {}
        # Forward passes in a loop, of a model put in eval mode outside that loop: (model, call,
        # the loop, the function, order); and the train() switches: (model, call, the loops
        # open around it, the function, order). See `judge_forwards_before_train`.
        # The modes each function of the file leaves its parameters in (`evaluate(model)` that
        # calls `model.eval()`), applied to the caller's model at each call.
        collector = _ModesLeftCollector()
        # dllint's read-only walk, not libcst's `visit`, which rebuilds every node (as costly as
        # a parse); the tape it records is replayed by the model's walk that follows.
        walk(context.module, [collector])
        self.modes_left = collector
        # Mode switches a helper of another file makes on the model a call hands it, at that
        # call (`eval_net(net, loader)`, whose body calls `net.eval()`): (the call, the model,
        # the mode, where the helper switches it, the loops open at the call).
        self.imported_switches: list[tuple[cst.Call, str, str, object, frozenset[int]]] = []
        self.eval_mode_forwards: list[tuple[str, cst.Call, cst.CSTNode, FunctionFacts, int]] = []
        self.train_switches: list[tuple[str, cst.Call, tuple, FunctionFacts, int]] = []
        # Models whose parameters this file freezes (`backbone.requires_grad_(False)`, or
        # `p.requires_grad = False` for `p` in `model.parameters()`) and never unfreezes, by
        # dotted name: a frozen backbone is put in eval mode on purpose (a linear probe keeps
        # its batch-norm statistics), so its eval() in a training loop is no mode left behind.
        self.frozen: set[str] = set()
        self.unfrozen: set[str] = set()
        # The indented blocks open around the node being visited, innermost last; and, for
        # each `requires_grad_(False)` of a model, (the model, the innermost block around it),
        # and for each mode switch, the blocks around it: a switch to eval mode in a block that
        # also freezes that model (`enc.train(False)` and `enc.requires_grad_(False)` on
        # reaching a step count) stops training it, whatever flag froze it earlier.
        self.open_blocks: list[int] = []
        self.block_freezes: list[tuple[str, int]] = []
        self.switch_blocks: dict[int, tuple[int, ...]] = {}
        # Loop targets bound to a model's parameters (`for name, p in model.named_parameters()`)
        # -> the model.
        self.parameter_targets: dict[str, str] = {}
        # The function each eval()/train() call is made in (by the call's id), to read a
        # helper's parameter as the argument its caller hands it.
        self.switch_scopes: dict[int, FunctionFacts] = {}
        # Models run under no_grad inside a loop that trains (features of a frozen backbone for
        # the head the loop trains), and models run with gradients anywhere, by name.
        self.feature_extractors: set[str] = set()
        self.run_with_gradients: set[str] = set()
        self.training_loops: dict[int, bool] = {}  # by loop id: whether its body runs backward

    # ---- per-function scope ------------------------------------------------------------------------------

    @property
    def scope(self) -> FunctionFacts:
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
                    or self.facts.local_class(name) is not None
                    or re.search(r"(Module|Model|Layer|Block|Net)$", name)):
                return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = [param.name.value for param in (*node.params.posonly_params,
                                                  *node.params.params)]
        overrides = bool(self.class_nodes and self.class_nodes[-1].bases)
        self.functions.append(FunctionFacts(node.name.value, node, params, overrides=overrides))
        self.managed.append(set())  # what the function's own guards ask, to its end
        self.managed_floor.append(len(self.managed))
        if any(self.is_no_grad(decorator.decorator) for decorator in node.decorators):
            self.no_grad_blocks.append(NoGradBlock(len(self.open_loops)))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()
        self.managed_floor.pop()
        self.managed.pop()
        if any(self.is_no_grad(decorator.decorator) for decorator in original_node.decorators):
            self.judge_switches(self.no_grad_blocks.pop())

    def is_no_grad(self, node: cst.BaseExpression) -> bool:
        target = node.func if isinstance(node, cst.Call) else node
        return self.imports.qualified_name(target) in catalog.NO_GRAD_CONTEXTS

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            bound = self.key(item.asname.name) if item.asname is not None else None
            if bound is not None:
                self.scope.modes.pop(bound, None)  # `as model` binds a new value: mode unknown
        if any(self.is_no_grad(item.item) for item in node.items):
            self.no_grad_blocks.append(NoGradBlock(len(self.open_loops)))
        self.managed.append({key for item in node.items if isinstance(item.item, cst.Call)
                             for arg in item.item.args
                             if (key := self.key(arg.value)) is not None})

    def visit_If(self, node: cst.If) -> None:
        # `if model.training: ... else: <no_grad forward>`: the code asks the model's mode and
        # runs it as that mode calls for, in either branch: no evaluation in the wrong mode.
        self.managed.append({key for subject in mode_flag_subjects(node.test)
                             if (key := self.key(subject)) is not None})

    def leave_If(self, original_node: cst.If) -> None:
        asked = self.managed.pop()
        if asked and original_node.orelse is None and _always_leaves(original_node.body) and \
                len(self.managed) >= max(self.managed_floor[-1], 1):
            # `if model.training: return model(x)`: the rest of the block is its else branch.
            self.managed[-1] = self.managed[-1] | asked

    def leave_With(self, original_node: cst.With) -> None:
        self.managed.pop()
        if any(self.is_no_grad(item.item) for item in original_node.items):
            self.judge_switches(self.no_grad_blocks.pop())

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.open_blocks.append(id(node))

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.open_blocks.pop()

    def visit_For(self, node: cst.For) -> None:
        loader = _iterated_name(node.iter)
        held_out = loader is not None and EVALUATION_LOADER.search(
            loader.rsplit(".", 1)[-1].lower()) is not None
        if held_out and "backward" in self.context.module.code_for_node(node.body):
            held_out = False  # a loop that trains on it (test-time adaptation) is no evaluation
        self.open_loops.append((node, loader if held_out else None))
        owner = _parameters_owner(node.iter)
        target = _last_target(node.target)
        if owner is not None and target is not None:
            self.parameter_targets[target] = owner

    def leave_For(self, original_node: cst.For) -> None:
        self.open_loops.pop()

    def visit_While(self, node: cst.While) -> None:
        self.open_loops.append((node, None))

    def leave_While(self, original_node: cst.While) -> None:
        self.open_loops.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.lambda_depth += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.lambda_depth -= 1

    def visit_Expr(self, node: cst.Expr) -> None:
        value = node.value
        if not self.modes_per_call and isinstance(value, cst.Attribute) and \
                value.attr.value in ("eval", "train"):
            method = value.attr.value
            self.report(value, f"`.{method}` without the call does nothing: the model "
                               f"{'stays in training mode' if method == 'eval' else 'keeps its mode'}",
                        fix=NodeFix.wrap(value, "", "()", description=f"Call `.{method}()`"))

    def visit_Assign(self, node: cst.Assign) -> None:
        # Read before the assignment binds its targets: `model = wrap(model)` hands the old model.
        self.quiet_assignments[id(node)] = self.wraps_no_training_model(node.value)
        for target in node.targets:
            if isinstance(target.target, cst.Attribute) and \
                    target.target.attr.value == "requires_grad":
                self.note_requires_grad(target.target.value, _is_false(node.value))
            elif _freezes(node.value):  # `backbone = build().eval().requires_grad_(False)`
                self.note_requires_grad(target.target, True)

    def note_requires_grad(self, receiver: cst.BaseExpression, frozen: bool) -> None:
        """`receiver.requires_grad_(flag)` or `receiver.requires_grad = flag`, where `receiver`
        is a model, one of its parameters (a target of a loop over its `parameters()`), or the
        model with a mode switch or device move chained on (`net.eval().requires_grad_(False)`)."""
        while isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute) and \
                receiver.func.attr.value in _CHAINED_MODULE_METHODS:
            receiver = receiver.func.value
        name = dotted_name(receiver)
        if name is None:
            return
        model = self.parameter_targets.get(name, name)
        (self.frozen if frozen else self.unfrozen).add(model)
        if frozen and self.open_blocks:
            self.block_freezes.append((model, self.open_blocks[-1]))

    def leave_Assign(self, original_node: cst.Assign) -> None:
        value = original_node.value
        mode = self.chain_mode(value)
        facts = self.scope
        source = self.source_key(value)
        parameter = None if source is None else (
            source if source in facts.params else facts.derived.get(source))
        dummy = self.is_dummy(value)
        fresh = self.is_constructed(value)
        copy = self.is_copy(value)
        engine = self.engine_built_by(value)
        submodule = bool(self.module_classes and self.module_classes[-1]) and \
            self.is_submodule(value)
        quiet_wrapper = not copy and self.quiet_assignments.pop(id(original_node), False)
        for target in original_node.targets:
            key = self.key(target.target)
            if key is None:
                continue
            if mode is None:
                facts.modes.pop(key, None)
            else:
                facts.modes[key] = mode
            if copy and key.startswith("self.") and self.class_nodes:
                self.attribute_copies.setdefault(id(self.class_nodes[-1]), set()).add(key)
            if key.startswith("self.") and self.class_nodes:
                held = self.attribute_quiet_wrappers.setdefault(id(self.class_nodes[-1]), set())
                if quiet_wrapper:
                    held.add(key)
                else:
                    held.discard(key)
            if engine is not None:
                facts.engines[key] = engine
            else:
                facts.engines.pop(key, None)
            for names, present in ((facts.dummies, dummy), (facts.fresh, fresh),
                                   (facts.copies, copy), (facts.submodules, submodule),
                                   (facts.quiet_wrappers, quiet_wrapper)):
                if present:
                    names.add(key)
                else:
                    names.discard(key)
            if parameter is not None and key != parameter:
                facts.derived[key] = parameter
            else:
                facts.derived.pop(key, None)
            if source is not None and source != key and not copy:
                facts.holds[key] = source
            else:
                facts.holds.pop(key, None)

    def wraps_no_training_model(self, node: cst.BaseExpression) -> bool:
        """Whether `node` builds a model around models it is handed (`get_peft_model(model,
        config)`, `Wrapper(text_decoder=self.decoder)`, also moved: `.to(device)`), none of
        them shown to be in training mode here: each was put in eval mode, loaded in it
        (`from_pretrained`), or came from where this code cannot see its mode."""
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value in catalog.SAME_MODULE_METHODS:
            node = node.func.value
        if not isinstance(node, cst.Call):
            return False
        if any(tag.kind == MODULE and tag.node is node and not tag.info.in_eval
               and tag.detail.startswith(catalog.OPAQUE_MODEL_PREFIXES)
               for tag in self.facts.value(node)):
            return False  # a model zoo's factory (`create_model(model_name)`): a new model
        handed = [self.copied_or_moved(arg.value) for arg in node.args if not arg.star]
        handed = [value for value in handed if self.is_handed_model(value)]
        return bool(handed) and not any(self.in_training_here(value) for value in handed)

    def has_no_training_mode(self, node: cst.BaseExpression) -> bool:
        """Whether `node` is an object with no train/eval modes (an instance of a class of the
        project that is no torch module: a Keras model class, a plain object; a function of the
        file or a lambda), a model whose
        layers compute the same in both modes, or a quiet wrapper with no layers of its own
        known to differ between modes."""
        values = self.facts.value(node)
        if values and all(tag.kind == FUNCTION for tag in values):
            return True  # a function (`def net(X)`, a lambda): it has no modes to set
        modules = [tag for tag in values if tag.kind == MODULE]
        if any(tag.kind == INSTANCE for tag in values) and not any(
                not tag.info.framework for tag in modules):
            return True
        if modules and all(tag.info.mode_dependent is False for tag in modules):
            return True
        key = self.handed_model_key(node)
        return key is not None and (key in self.scope.quiet_wrappers
                                    or key in self.quiet_wrappers_held()) and \
            not any(tag.kind == MODULE and tag.info.mode_dependent for tag in values)

    def copied_or_moved(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """The model `copy.deepcopy(model)` or `model.to(device)` is, mode and all."""
        while isinstance(node, cst.Call):
            if self.is_copy(node) and node.args and not node.args[0].star:
                node = node.args[0].value
            elif isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value in catalog.SAME_MODULE_METHODS:
                node = node.func.value
            else:
                break
        return node

    def is_handed_model(self, node: cst.BaseExpression) -> bool:
        """An argument that is a model: a name or `self` attribute that holds one, or a part
        of the model a module class is (`self.text_decoder`)."""
        key = self.key(node)
        if key is None and isinstance(node, cst.Attribute):
            key = self.attribute_owner(node)
        if key is None or key == "self" and not (self.module_classes and self.module_classes[-1]):
            return False
        return key == "self" or self.is_model(key, node) or self.is_submodule(node)

    def in_training_here(self, node: cst.BaseExpression) -> bool:
        """Whether the model `node` holds is shown to be in training mode here: switched by
        `train()` (or an engine's fit), or a torch module whose modes may differ that nothing
        put in eval mode."""
        mode = None
        part: cst.BaseExpression = node
        while mode is None:
            key = self.key(part)
            mode = self.mode_of(key) if key is not None else None
            if not isinstance(part, cst.Attribute):
                break
            part = part.value  # `self.decoder` after `self.eval()`: eval() switched it too
        if mode is not None:
            return mode == "train"
        return any(tag.kind == MODULE and not tag.info.framework and not tag.info.in_eval
                   and tag.info.mode_dependent is not False for tag in self.facts.value(node))

    def is_submodule(self, node: cst.BaseExpression) -> bool:
        """`self.net`, `nets.decoder` where `nets` holds one, or a choice between such
        (`self.a if flag else self.b`): in a module class, a part of the model."""
        if isinstance(node, cst.IfExp):
            return self.is_submodule(node.body) and self.is_submodule(node.orelse)
        dotted = dotted_name(node) or ""
        return dotted.startswith("self.") or (
            "." in dotted and dotted.split(".", 1)[0] in self.scope.submodules)

    def chain_mode(self, node: cst.BaseExpression) -> str | None:
        """`Net().to(device).eval()` puts the new model in eval mode; `model.to(device)`,
        `DDP(model)` or `copy.deepcopy(model)` keep the mode `model` has."""
        if isinstance(node, cst.Call):
            flags = catalog.MODE_VIEWS.get(self.imports.call_name(node) or "", ())
            values = [arg.value for arg in node.args if arg.keyword and arg.keyword.value in flags]
            if values and all(isinstance(value, cst.Name) and value.value in ("True", "False")
                              for value in values):
                return "eval" if all(value.value == "True" for value in values) else "train"
        current = node
        while isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute):
            mode = self.mode_call(current)
            if mode is not None:
                return mode
            if current.func.attr.value in catalog.EVAL_MODE_LOADERS or \
                    current.func.attr.value in catalog.INFERENCE_MODE_LOADERS:
                # `BloomModel.from_pretrained(...)`, `self.model_class.from_pretrained(...)`,
                # whatever the class: the loader hands the model back in eval mode.
                return "eval"
            current = current.func.value
        source = self.source_key(node)
        if source is None:
            source = self.attribute_owner(node)
        return None if source is None else self.mode_of(source)

    def attribute_owner(self, node: cst.BaseExpression) -> str | None:
        """The model `model.module` or `self.net.encoder` is a part of: `eval()` and `train()`
        switch every submodule, so `model = model.module` after `model.eval()` stays in eval
        mode."""
        while isinstance(node, cst.Attribute):
            node = node.value
            key = self.key(node)
            if key is not None:
                return key
        return None

    def mode_of(self, key: str) -> str | None:
        return self.scope.modes.get(key) or self.module_facts.modes.get(key)

    def source_key(self, node: cst.BaseExpression) -> str | None:
        """The model an expression is the same model as, or wraps: `model` for
        `model.to(device)`, `torch.compile(model)`, `copy.deepcopy(model).cuda()`,
        `to_feature_extractor(model)`."""
        while isinstance(node, cst.Call):
            wrapped = next((key for arg in node.args if arg.keyword is None and not arg.star
                            and (key := self.key(arg.value)) is not None
                            and self.is_model(key, arg.value)), None)
            if wrapped is not None:
                return wrapped
            if not isinstance(node.func, cst.Attribute):
                return None
            node = node.func.value
        return self.key(node)

    def is_model(self, key: str, node: cst.BaseExpression) -> bool:
        """Whether `key` is a model: one whose mode is known, or a module, or named like one
        (`to(device)` does not wrap `device`)."""
        return self.mode_of(key) is not None or key in self.scope.derived or \
            MODEL_NAME.search(key.rsplit(".", 1)[-1]) is not None or \
            first(self.facts.value(node), MODULE) is not None

    def is_dummy(self, node: cst.BaseExpression) -> bool:
        """`torch.randn(2, 3, 32, 32)`, also moved: `torch.zeros(1, 3, 224, 224).to(device)`."""
        while isinstance(node, cst.Call):
            if self.imports.call_name(node) in catalog.DUMMY_INPUT_FACTORIES:
                return True
            if not isinstance(node.func, cst.Attribute):
                return False
            node = node.func.value
        return isinstance(node, cst.Name) and node.value in self.scope.dummies

    def is_constructed(self, node: cst.BaseExpression) -> bool:
        """`Net()` or `Net(num_classes=10).to(device)`: a model built from its class, with the
        random weights it starts with."""
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value in catalog.SAME_MODULE_METHODS:
            node = node.func.value
        if not isinstance(node, cst.Call):
            return False
        name = node.func.value if isinstance(node.func, cst.Name) else (
            node.func.attr.value if isinstance(node.func, cst.Attribute) else "")
        return name[:1].isupper() and first(self.facts.value(node), MODULE) is not None

    def switches_another_model(self, receiver: cst.BaseExpression) -> bool:
        """Whether switching `receiver`'s mode leaves the trained model's dropout and batch norm
        as they are: it is a copy with parameters of its own (`copy.deepcopy(model)`,
        `AveragedModel(model)`, an EMA wrapper or what it holds: `ema.module`), or a module
        whose modes do not differ."""
        modules = [tag for tag in self.facts.value(receiver) if tag.kind == MODULE]
        if modules and all(tag.info.mode_dependent is False for tag in modules):
            return True
        made = receiver
        while isinstance(made, cst.Call) and isinstance(made.func, cst.Attribute) and \
                made.func.attr.value in catalog.SAME_MODULE_METHODS:
            made = made.func.value
        if self.is_copy(made):
            # `copy.deepcopy(net).eval()`: the switch reaches only the fresh copy, whatever it
            # copies (a snapshot to save), never the model the loop goes on training.
            return True
        while True:
            key = self.key(receiver)
            if key is not None and (key in self.scope.copies or key in self.copies_held()):
                return True
            if any(isinstance(tag.node, cst.Call) and self.is_copy(tag.node)
                   for tag in self.facts.value(receiver) if tag.kind == MODULE):
                return True
            if not isinstance(receiver, cst.Attribute):
                return False
            receiver = receiver.value

    def switched_key(self, receiver: cst.BaseExpression) -> str | None:
        """The model whose mode `receiver.eval()` sets: `model` for `model.module.eval()`, the
        model a DDP or EMA wrapper holds and runs."""
        if isinstance(receiver, cst.Attribute) and \
                receiver.attr.value in catalog.WRAPPED_MODULE_ATTRIBUTES:
            wrapper = self.key(receiver.value)
            if wrapper is not None:
                return wrapper
        return self.key(receiver)

    def copies_held(self) -> set[str]:
        """The attributes of the class being walked that hold a copy of a model."""
        return self.attribute_copies.get(id(self.class_nodes[-1]), set()) \
            if self.class_nodes else set()

    def quiet_wrappers_held(self) -> set[str]:
        """The attributes of the class being walked that hold a quiet wrapper."""
        return self.attribute_quiet_wrappers.get(id(self.class_nodes[-1]), set()) \
            if self.class_nodes else set()

    def is_copy(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Call) and self.imports.call_name(node) in catalog.MODULE_COPIES

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

    def judge_keras_evaluation_hook(self, node: cst.Call) -> None:
        """`self(x, training=True)` in a Keras model's own `test_step`: the batches `evaluate()`
        hands it run with dropout on and batch norm on batch statistics (updating its moving
        averages with the evaluation data)."""
        if not (self.functions and self.class_nodes and isinstance(node.func, cst.Name)
                and node.func.value == "self"):
            return
        hook = self.functions[-1]
        owner = self.class_nodes[-1]
        if hook.name not in KERAS_EVALUATION_HOOKS or not any(
                statement is hook.node for statement in owner.body.body):
            return  # a method of the class itself, not a function nested in one
        flag = keyword(node, "training")
        if flag is None or not (isinstance(flag.value, cst.Name) and flag.value.value == "True"):
            return
        if not self.is_keras_model_class(owner):
            return
        self.report(node, f"`self(..., training=True)` in the Keras model's `{hook.name}`: "
                          f"`evaluate()` runs the model in training mode, with dropout dropping "
                          f"and batch norm normalizing with (and updating its moving averages "
                          f"from) the evaluation batches; pass `training=False`")

    def is_keras_model_class(self, node: cst.ClassDef) -> bool:
        """A Keras model by its base (`keras.Model`, a subclass the model knows), or, in a file
        that imports Keras or TensorFlow, by overriding Keras's `train_step` as well as
        `test_step` (its base class the project's own, defined in another file)."""
        state = self.facts.enclosing_class
        if state is not None and state.framework == "keras":
            return True
        if not any(name.split(".")[0] in ("keras", "tensorflow", "tf_keras")
                   for name in self.imports.imported()):
            return False
        methods = {statement.name.value for statement in node.body.body
                   if isinstance(statement, cst.FunctionDef)}
        return "train_step" in methods and bool(methods & KERAS_EVALUATION_HOOKS)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        self.order += 1
        self.judge_keras_evaluation_hook(node)
        engine = self.engine_fit(node)
        if engine is not None:
            self.judge_engine_fit(node, *engine)
            return
        if isinstance(func, cst.Attribute) and func.attr.value == "reset_running_stats":
            self.scope.statistics_reset = True
        if isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_":
            flag = argument(node, 0, "requires_grad")
            self.note_requires_grad(func.value, flag is not None and _is_false(flag.value))
        mode = self.mode_call(node)
        if mode is not None and isinstance(func, cst.Attribute):
            self.switch_scopes[id(node)] = self.scope
            self.switch_blocks[id(node)] = tuple(self.open_blocks)
            if self.switches_another_model(func.value):
                self.other_model_switches.add(id(node))
            if self.functions and isinstance(func.value, cst.Name) and \
                    func.value.value in self.functions[-1].params:
                # `def test_step(model, ...): model.eval()`: which model it switches is the
                # caller's argument, judged where a loop calls the helper.
                self.parameter_switches[id(node)] = (self.functions[-1].name,
                                                     self.functions[-1].params,
                                                     func.value.value)
            key = self.switched_key(func.value)
            if key is not None:
                self.switched_anywhere.add(key)
            if key is not None:
                # Only a switch back from eval() is a mistake: `train()` under no_grad on a
                # model never put in eval mode here is deliberate (swa_utils.update_bn
                # re-estimates batch-norm statistics; a test checks no_grad accumulates none).
                switched_back = self.mode_of(key) == "eval" and not self.scope.statistics_reset
                self.scope.modes[key] = mode
                held = self.scope.holds.get(key)
                if held is not None:
                    self.scope.modes[held] = mode  # eval() switches the wrapped model too
                self.scope.switches[key] = node
                loops = tuple(loop for loop, _ in self.open_loops)
                self.scope.switch_loops[key] = loops
                if mode == "train" and id(node) not in self.other_model_switches:
                    self.train_switches.append((key, node, loops, self.scope, self.order))
                if mode == "train":
                    self.scope.train_switched_at[key] = self.order
                else:
                    self.scope.train_switched_at.pop(key, None)
                if mode == "train" and switched_back and self.no_grad_blocks and \
                        not self.lambda_depth:
                    block = self.no_grad_blocks[-1]
                    block.switches.append((key, node, self.loops_in(block), self.order))
            return
        if isinstance(func, cst.Attribute):
            if func.attr.value == "backward":
                self.scope.trained_at = self.order
            if func.attr.value in catalog.BACKWARD_METHODS:
                self.scope.backward_run = True
                self.scope.backward_at.append(self.order)
            if func.attr.value == "load_state_dict":
                key = self.key(func.value)
                if key is not None:
                    self.scope.loaded.add(key)
        # Training is an optimizer step: gradients computed and compared (a conversion or
        # export script checking its port) change no weights, and leave the model in the mode
        # its caller handed it in.
        if "step" in self.facts.events_at(node):
            self.scope.trained = True
            self.scope.trained_at = self.order
            for loop in self.facts.open_loops[-1:]:
                self.scope.trained_owners.update(
                    owner for event in loop.events if event[0] == "step" and event[1] is node
                    and len(event) > 3 for owner in event[3])
        callee = func.value if isinstance(func, cst.Name) and self.facts.qualified(func) is None \
            else (func.attr.value if isinstance(func, cst.Attribute) and (
                self.key(func) is not None or self.is_local_method(func)) else None)
        # A local function, a method of this class (`self.validate(...)`), or of an instance of
        # a class of this file (`sampler.sample(model)`).
        for arg in node.args:
            handed = self.handed_model_key(arg.value)
            if handed is not None:
                self.scope.handed_at[handed] = self.order
                self.handed_anywhere.add(handed)
        if isinstance(func, cst.Attribute) and func.attr.value in (
                "parameters", "named_parameters", "requires_grad_"):
            owner = self.key(func.value)
            if owner is not None:
                self.parameters_read.add(owner)
        if callee is not None and callee in self.modes_left.by_name:
            self.scope.trained_at = self.order  # a function of this file: it may train
        if callee is not None:
            self.local_calls.append((callee, node, dict(self.scope.modes), self.scope,
                                     self.scope.trained))
            for arg in node.args:  # values as they are here, not after the whole file
                if self.has_no_training_mode(arg.value):
                    self.handed_without_modes.add(id(arg.value))
                if _mode_free(self.facts.value(arg.value)):
                    self.handed_mode_free.add(id(arg.value))
            self.apply_modes_left(callee, node)
        else:
            qualified = self.facts.qualified(func)
            if qualified is not None and not self.modes_per_call:
                self.apply_imported_modes(qualified, node)
        self.check_imported_evaluation(node)
        self.check_module_call(node)

    def check_imported_evaluation(self, node: cst.Call) -> None:
        """`generate(model, idx)` where `generate`, of another file, runs its `model` under
        no_grad (or calls its `generate`): the helper evaluates the model in the mode this call
        hands it, so a model with dropout or batch norm not switched to eval() here is
        evaluated in training mode. Reported at the call, the helper's forward related."""
        if self.lambda_depth or self.modes_per_call:
            return
        qualified = self.facts.qualified(node.func)
        if qualified is None:
            return
        for position, parameter, location in self.facts.imported_evaluations(qualified):
            arg = argument(node, position, parameter)
            key = self.handed_model_key(arg.value) if arg is not None else None
            if key is None or self.mode_of(key) == "eval" or \
                    any(key in keys for keys in self.managed):
                continue
            switched = self.mode_of(key) == "train"
            if not switched and (key in self.scope.params or key.startswith("self.")):
                continue  # its mode is set by this function's callers, or another method
            if self.chose_training_mode(key):
                continue  # net.train() just before: Monte Carlo dropout on purpose
            # In the same order every run: the first suspect's evidence is in the message.
            suspects = [tag for tag in tags(self.facts.value(arg.value), MODULE)
                        if tag.info.mode_dependent and tag.info.framework != "keras"
                        and (switched or not tag.info.in_eval)]
            if not suspects or not self.facts.has_mode_dependent_layers(frozenset(suspects)):
                continue
            module = suspects[0]
            self.report(node, f"`{key}` (has {module.info.evidence}) is handed in training "
                              f"mode to `{qualified.rsplit('.', 1)[-1]}`, which runs it without "
                              f"gradients: dropout stays active and batch norm uses batch "
                              f"statistics; call `{key}.eval()` first",
                        related=[location])

    def apply_imported_modes(self, qualified: str, call: cst.Call) -> None:
        """A helper of another file of the project, called here: the mode it leaves the model
        it is handed in holds after the call (and inside a training loop, is judged as a switch
        made there), and one that evaluates the model in whatever mode its caller left is judged
        by the mode the model has here."""
        for parameter, position, effect, where in self.facts.imported_mode_effects(qualified):
            arg = argument(call, position, parameter)
            key = self.handed_model_key(arg.value) if arg is not None else None
            if key is None:
                continue
            value = self.facts.value(arg.value)
            if self.facts.has_mode_dependent_layers(value) is False:
                continue  # no dropout, no batch norm: the mode changes nothing
            if effect != "evaluated":
                self.scope.modes[key] = effect
                loops = frozenset(id(loop.node) for loop in self.facts.open_loops)
                if loops:
                    self.imported_switches.append((call, key, effect, where, loops))
                continue
            if any(handed == position for handed, _, _ in
                   self.facts.imported_evaluations(qualified)):
                continue  # run without gradients there: `check_imported_evaluation` judges it
            mode = self.scope.modes.get(key) or self.module_facts.modes.get(key)
            module = self.facts.module_mode(value)
            if any(tag.kind == LOSS for tag in value):
                continue  # a loss function handed to the helper, no model
            if mode != "train" and not (mode is None and self.scope.trained and
                                        module is not None and not module.in_eval):
                continue  # nothing here says a model is handed in training mode
            name = qualified.rsplit(".", 1)[-1]
            self.report(call, f"`{name}` evaluates the model it is handed in `{parameter}` "
                              "without calling `eval()`, and this call hands it "
                              f"`{key}` in training mode: dropout and batch norm stay on for "
                              f"the evaluation; call `{key}.eval()` before it (and "
                              f"`{key}.train()` after it, to go on training)",
                        related=[where])

    def apply_modes_left(self, callee: str, call: cst.Call) -> None:
        """After `evaluate(loader, model)`, whose body calls `model.eval()`, the caller's model
        is in eval mode."""
        params = self.modes_left.params.get(callee, [])
        for parameter, mode in self.modes_left.by_name.get(callee, {}).items():
            index = params.index(parameter)
            if params[:1] == ["self"] and isinstance(call.func, cst.Attribute):
                index -= 1  # self.method(model, ...): `self` is not among the arguments
            if index < 0:
                continue  # `self.eval()` in a method: the instance it is called on, not an argument
            arg = argument(call, index, parameter)
            key = self.handed_model_key(arg.value) if arg is not None else None
            if key is not None:
                self.scope.modes[key] = mode

    # ---- training engines ---------------------------------------------------------------------

    def engine_built_by(self, node: cst.BaseExpression
                        ) -> tuple[catalog.TrainingEngine, str | None] | None:
        """`pl.Trainer(max_epochs=3)`, `create_supervised_trainer(model, optimizer, loss)`: the
        engine, and the model it was built with when that is where it takes it."""
        if not isinstance(node, cst.Call):
            return None
        engine = catalog.TRAINING_ENGINES.get(self.imports.call_name(node) or "")
        if engine is None:
            return None
        if engine.model_in_fit:
            return engine, None
        arg = argument(node, engine.model_argument[1], engine.model_argument[0])
        return engine, self.handed_model_key(arg.value) if arg is not None else None

    def engine_fit(self, node: cst.Call) -> tuple[catalog.TrainingEngine, str | None] | None:
        """The engine whose training `node` runs (`trainer.fit(model)`, `trainer.run(loader)`),
        with the model it was built with."""
        func = node.func
        if not isinstance(func, cst.Attribute):
            return None
        key = self.key(func.value)
        engine = (self.scope.engines.get(key) or self.module_facts.engines.get(key)) \
            if key is not None else self.engine_built_by(func.value)
        if engine is None or func.attr.value not in engine[0].fit_methods:
            return None
        return engine

    def judge_engine_fit(self, node: cst.Call, engine: catalog.TrainingEngine,
                         built_with: str | None) -> None:
        """A fit is training: what follows runs after training. An engine that trains in the
        mode it is handed (Lightning) trains a model left in eval mode with dropout and batch
        norm off; one that switches to training mode itself makes an eval() before it harmless.
        Afterwards the model is in the mode the engine leaves it in."""
        facts = self.scope
        facts.trained = True
        self.trains_anywhere = True
        key = built_with
        if engine.model_in_fit:
            arg = argument(node, engine.model_argument[1], engine.model_argument[0])
            key = self.handed_model_key(arg.value) if arg is not None else None
        if key is None:
            return
        if not engine.sets_train_mode and self.mode_of(key) == "eval":
            switch = facts.switches.get(key) or self.module_facts.switches.get(key)
            self.report(node, f"{engine.display} trains `{key}` in the mode it is handed, and "
                              f"`{key}` is in eval mode here: dropout and batch norm stay off "
                              f"for all of training; call `{key}.train()` before it",
                        related=[(switch, "put in eval mode here")] if switch is not None else [])
        if engine.mode_after == "train":
            facts.modes[key] = "train"
        elif engine.mode_after != "kept":
            facts.modes.pop(key, None)

    def is_local_method(self, func: cst.Attribute) -> bool:
        """`sampler.sample` where a class of this file defines `sample`, called on an instance
        of it: one the value flow knows (`sampler = Sampler()`), or one named after the class
        (`sampler`, `self.sampler` for `Sampler`), never a library object's method of the same
        name (`clf.predict`)."""
        if self.facts.qualified(func) is not None:
            return False
        owners = self.facts.classes_defining(func.attr.value)
        if not owners:
            return False
        if any(tag.kind == INSTANCE and tag.detail in owners
               for tag in self.facts.value(func.value)):
            return True
        receiver = (dotted_name(func.value) or "").rsplit(".", 1)[-1]
        return any(receiver == _snake_case(owner) for owner in owners)

    def check_module_call(self, node: cst.Call) -> None:
        func = node.func
        generates = isinstance(func, cst.Attribute) and \
            func.attr.value in catalog.GENERATION_METHODS
        if isinstance(func, cst.Attribute) and (func.attr.value == "forward" or generates):
            if generates and self.method_switches_to_eval(func):
                return  # its class's `generate` calls `self.eval()` itself
            func = func.value
        key = self.key(func)
        if key is not None and not self.lambda_depth:
            self.note_forward(key)
        if self.modes_per_call or self.lambda_depth or key is None or key == "self" or (
                key.startswith("self.") and self.module_classes and self.module_classes[-1]) \
                or key in self.scope.submodules:
            return
        if not self.facts.in_no_grad and self.mode_of(key) == "eval":
            self.note_forward_in_eval(key, node, func)
        if self.no_grad_blocks:
            block = self.no_grad_blocks[-1]
            block.evaluations.append((key, self.loops_in(block), self.order))
            if any(switched == key for switched, *_ in block.switches):
                return  # reported where the block switches it back to training mode
        if self.mode_of(key) == "eval" or any(key in keys for keys in self.managed):
            return
        if keyword(node, "training") is not None:
            return  # Keras: model(x, training=False) names its mode
        if node.args and all(arg.keyword is None and not arg.star and self.is_dummy(arg.value)
                             for arg in node.args):
            return  # net(torch.randn(2, 3, 32, 32)): a shape probe, its values unread
        if self.facts.in_no_grad and self.chose_training_mode(key) and self.repeats_input(node):
            return  # net.train(), then sampled runs under no_grad: Monte Carlo dropout
        context = self.evaluation_context(key)
        if context is None and generates:
            context = GENERATION_CONTEXT  # model.generate(...): generation is evaluation
        if context is None:
            self.note_unswitched_run(key, node, func)
            return
        facts = self.scope
        if _by_convention(context) and key in facts.fresh and key not in facts.loaded:
            return  # def test(): net = Net(); net(x): random weights, nothing to evaluate
        # In the same order every run: the first suspect's evidence is in the message.
        modules = tags(self.facts.value(func), MODULE)
        if any(tag.info.framework == "keras" for tag in modules):
            return  # a Keras model runs in inference mode unless called with training=True
        if modules:
            # A model built or returned in eval mode (`self.eval()` in its constructor, a
            # factory ending in `model.eval()`) stays so unless this code calls `train()`.
            switched = self.mode_of(key) == "train"
            suspects = [tag for tag in modules if tag.info.mode_dependent is not False
                        and (switched or not tag.info.in_eval)]
            if not suspects:
                return
            if not switched and all(tag.info.mode_dependent is None for tag in suspects) and (
                    key in facts.quiet_wrappers or key in self.quiet_wrappers_held()):
                return  # a wrapper's unknown layers are those of models it holds, not in training
            if not switched and not self.facts.has_mode_dependent_layers(frozenset(suspects)):
                # No layer of it is shown to differ between modes (its layers are not visible:
                # an unknown base class, `nn.Sequential(*layers)`): no evidence the mode matters.
                return
            module = next((tag for tag in suspects if tag.info.mode_dependent), suspects[0])
            if module.info.mode_dependent is None and context.startswith("in `"):
                return  # layers unknown, and only the function's name says it evaluates
            what = (f"has {module.info.evidence}" if module.info.mode_dependent
                    else "may have dropout or batch norm")
            parameter = key if key in facts.params else facts.derived.get(key)
            if parameter is not None and facts.node is not None:
                # A model that came in as a parameter: its callers decide its mode.
                # Handed in only by calls of other files (their values have no node here):
                # those calls are judged where they are made.
                elsewhere = all(tag.node is None for tag in suspects)
                self.deferred.append((facts, parameter, key, node, context, what, True,
                                      elsewhere))
                return
            if key.startswith("self.") and facts.params[:1] == ["self"] and \
                    self.mode_of(key) is None:
                # A model the instance holds: the methods that call this one may have set it.
                self.deferred_attributes.append((facts, key, node, context, what))
                return
            self.report_evaluation_unless_trained(node, key, what, context)
            return
        if self.mode_of(key) == "train" and not _by_convention(context) and \
                key not in facts.params:
            # Layers unknown, but this code put it in training mode (a train() call, or an
            # engine whose fit leaves it so) and then evaluates it.
            self.report_evaluation_unless_trained(node, key, "put in training mode here",
                                                  context)
            return
        held_out = next((loader for _, loader in reversed(self.open_loops) if loader), None)
        if held_out is not None and key in facts.params and facts.node is not None and \
                self.mode_of(key) is None and key in facts.trained_owners:
            # Handed in, trained here in the mode it came in (training mode, for a model to
            # train), then evaluated over held-out data: nothing between switches it.
            self.deferred_trained.append((facts, key, node,
                                          f"in a loop over `{held_out}` after training"))
            return
        name = key.rsplit(".", 1)[-1]
        if key in facts.params and MODEL_NAME.search(name) and facts.node is not None and (
                generates or self.facts.in_no_grad or EVALUATION_NAME.search(facts.name)) and \
                not facts.name.startswith("test_"):
            # A model handed to an evaluation, generation or no_grad helper: callers in this
            # file may have set eval().
            self.deferred.append((facts, key, key, node, context, "a model passed in", False,
                                  False))

    def method_switches_to_eval(self, method: cst.Attribute) -> bool:
        """Whether every class the receiver may be an instance of runs the method called in eval
        mode: its first switch is `self.eval()` (`def generate(self, x): self.eval(); ...`)."""
        modules = tags(self.facts.value(method.value), MODULE)
        return bool(modules) and all(method.attr.value in tag.info.eval_methods
                                     for tag in modules)

    def report_evaluation_unless_trained(self, node: cst.Call, key: str, what: str,
                                         context: str) -> None:
        """A no_grad forward pass inside a training step (a loop body or function that runs a
        backward pass: a GAN's discriminator step making fakes with the generator) is no
        evaluation when the file trains that model too (runs it with gradients, or hands its
        parameters to an optimizer): judged once the whole file is seen."""
        if self.facts.in_no_grad and self.in_training_step():
            # Outside a loop, the step is the function's: its backward pass must come after.
            after = (self.scope, self.order) if not self.open_loops else None
            self.training_step_runs.append((node, key, what, context, after))
            return
        self.report_evaluation(node, key, what, context)

    def in_training_step(self) -> bool:
        """Inside a loop body that runs a backward pass, or a function that does."""
        block = self.open_loops[-1][0].body if self.open_loops else (
            self.scope.node.body if self.scope.node is not None else None)
        if block is None:
            return False
        trains = self.training_blocks.get(id(block))
        if trains is None:
            trains = self.training_blocks[id(block)] = \
                "backward" in self.context.module.code_for_node(block)
        return trains

    def leave_Call(self, original_node: cst.Call) -> None:
        # Whether the file computes a loss matters only once a model ran unswitched; after its
        # forward pass (post-order), the loss that takes its output is still to come here.
        if self.unswitched_runs and not self.loss_computed and not self.trains_anywhere and \
                first(self.facts.value(original_node), LOSS_VALUE) is not None:
            self.loss_computed = True

    def note_unswitched_run(self, key: str, node: cst.Call, func: cst.BaseExpression) -> None:
        """A forward pass nothing marks as an evaluation, of a model with dropout or batch norm
        built in this file in training mode: judged in `leave_Module`, once the whole file has
        shown whether anything trains, switches or hands on that model."""
        if key in self.scope.params or self.mode_of(key) is not None:
            return
        if any(self.is_dummy(arg.value) for arg in node.args):
            return  # run on made-up input (a demo's `torch.randn`): a shape check
        modules = [tag for tag in self.facts.value(func) if tag.kind == MODULE
                   and tag.node is not None and tag.info.framework == ""]
        if not modules or not all(tag.info.mode_dependent and not tag.info.in_eval
                                  for tag in modules):
            return
        # Weights to evaluate: a zoo's model (pretrained weights, as a scorer's network has) or
        # weights loaded here. One built with random weights and run (a tutorial's shape
        # check) evaluates nothing.
        if key in self.scope.loaded or all(
                tag.detail.startswith(catalog.OPAQUE_MODEL_PREFIXES) for tag in modules):
            self.unswitched_runs.append((key, node, modules[0].info.evidence))

    def chose_training_mode(self, key: str) -> bool:
        """Whether `key` was switched to training mode by an explicit `train()` in this scope
        with nothing since that may train it: no backward pass, no helper of the file called, the
        model handed to no call. A forward pass then runs in training mode on purpose."""
        facts = self.scope
        switched_at = facts.train_switched_at.get(key)
        return switched_at is not None and facts.trained_at < switched_at and \
            facts.handed_at.get(key, 0) < switched_at

    def repeats_input(self, call: cst.Call) -> bool:
        """Whether `call` runs the same input again and again: it is in a `for _ in range(n)`
        loop opened inside the no_grad block, and its arguments do not use the loop's
        variable (samples of one prediction, as Monte Carlo dropout draws them)."""
        if not self.no_grad_blocks or len(self.open_loops) <= self.no_grad_blocks[-1].loop_depth:
            return False
        loop = self.open_loops[-1][0]
        if not (isinstance(loop, cst.For) and isinstance(loop.iter, cst.Call)
                and self.facts.qualified(loop.iter.func) == "builtins.range"):
            return False
        counters = {name.value for name in _names_in(loop.target)}
        return not any(name.value in counters for arg in call.args
                       for name in _names_in(arg.value))

    def note_forward_in_eval(self, key: str, node: cst.Call, func: cst.BaseExpression) -> None:
        """A forward pass with gradients, in a loop, of a model put in eval mode before that
        loop (`model.eval()` at the top of the epoch): a candidate training step run in eval
        mode, if the loop switches the model to training mode only after it."""
        if not self.open_loops:
            return
        loop = self.open_loops[-1][0]
        switched_in = self.scope.switch_loops.get(key, ())
        if any(around is loop for around in switched_in):
            return  # eval() inside this very loop, before the forward pass: deliberate
        modules = [tag for tag in self.facts.value(func) if tag.kind == MODULE]
        if modules and all(tag.info.mode_dependent is False for tag in modules):
            return
        self.eval_mode_forwards.append((key, node, loop, self.scope, self.order))

    def judge_forwards_before_train(self) -> None:
        """`model.eval()` at the top of the epoch and `model.train()` only after the forward
        pass of the training step: each epoch's first step runs its forward pass in eval mode
        (and any step after an evaluation that switched the model again)."""
        trains = {id(loop.node) for loop in self.facts.loops
                  if any(event[0] == "backward" for event in self.facts.expand(loop.events))}
        for key, call, loop, facts, order in self.eval_mode_forwards:
            if id(loop) not in trains:
                continue
            switch = next((node for switched, node, loops, where, later in self.train_switches
                           if switched == key and where is facts and later > order
                           and any(around is loop for around in loops)), None)
            if switch is None:
                continue
            self.report(call, f"`{key}` runs this training step's forward pass in eval mode: "
                              f"it was put in eval mode before the loop, and `{key}.train()` "
                              "comes only after the forward pass, so dropout and batch norm "
                              f"are off for it; call `{key}.train()` before the forward pass",
                        related=[(switch, "switched to training mode only here")])

    def loops_in(self, block: NoGradBlock) -> tuple:
        return tuple(loop for loop, _ in self.open_loops[block.loop_depth:])

    def evaluation_context(self, key: str) -> str | None:
        if self.facts.in_no_grad:
            return "under no_grad/inference_mode"
        function = self.scope
        if function.node is not None and EVALUATION_NAME.search(function.name) and \
                not TRAINING_NAME.search(function.name) and function.modes.get(key) != "train" \
                and not function.trained and \
                not function.name.startswith("test_") and \
                function.name not in catalog.FRAMEWORK_EVALUATION_HOOKS:
            return f"in `{function.name}()`"
        loader = next((loader for _, loader in reversed(self.open_loops) if loader), None)
        if loader is not None and function.trained:
            return f"in a loop over `{loader}` after training"
        if key in self.scope.loaded and not self.trains_anywhere:
            return "after load_state_dict in a script that never trains"
        return None

    def report_evaluation(self, node: cst.Call, key: str, what: str, context: str,
                          related: list[tuple[cst.CSTNode, str]] | None = None) -> None:
        self.report(node, f"`{key}` ({what}) runs {context} while in training mode: dropout "
                          f"stays active and batch norm uses batch statistics; call "
                          f"`{key}.eval()` first", related=related or [])

    # ---- judgements that need the whole file ------------------------------------------------

    def leave_Module(self, original_node: cst.Module) -> None:
        for facts, parameter, key, node, context, what, known, elsewhere in self.deferred:
            calls = self.calls_of(facts)
            if not calls and facts.overrides:
                continue  # a hook its framework calls (Trainer.prediction_step): callers unseen
            if not calls and not known and self.modes_left.used_as_value(facts.name):
                continue  # called through a name it was assigned to: callers unseen
            # Callers elsewhere decide a model of unknown layers evaluated only by convention,
            # or handed to a helper whose name does not even say it evaluates.
            # (torch's `default_eval_fn`, handed to `quantize()`, which calls eval() first):
            # nothing here says it is in training mode.
            named_for_it = _by_convention(context) or EVALUATION_NAME.search(facts.name)
            if not calls and not known and (_by_convention(context) or not named_for_it):
                continue
            if facts.backward_run and context.startswith("in `"):
                # Only its name said it evaluates (`_test_forward_backward`): a function that
                # runs the model forward and then backward tests or runs training.
                continue
            if not calls and elsewhere:
                # The model's layers are known, but only callers in other files hand it in:
                # whether they switched it to eval() is theirs to show, and a caller that
                # did not is reported at its call (`imported_evaluations`).
                continue
            # A call that hands a model whose layers are known and none differs between modes
            # (no dropout, no batch norm), directly, in a list or dict of models, or as an
            # object's attribute (`server.net`): its mode changes nothing there.
            calls = [(call, modes, caller) for call, modes, caller in calls
                     if not self.hands_mode_free_model(facts, parameter, call)]
            if not calls and self.calls_of(facts):
                continue
            if known or named_for_it:
                in_training = [call for call, modes, caller in calls if not self.passed_in_eval(
                    facts, parameter, call, modes, caller, known)]
            else:
                # A no_grad helper that neither its name nor the model's layers say evaluates
                # (`log_images(model, batch)`): only a caller that put the model in training
                # mode, or trained it just before, is evidence.
                in_training = [call for call, modes, caller in calls
                               if self.hands_training_mode(facts, parameter, call, modes)]
                if not in_training:
                    continue
            if calls and not in_training:
                continue
            self.report_evaluation(node, key, what, context, related=[
                (call, f"called here without `eval()` on the model it hands to `{parameter}`")
                for call in in_training])
        for facts, key, node, context, what in self.deferred_attributes:
            calls = [(call, modes) for call, modes, _ in self.calls_of(facts)
                     if _is_self_call(call)]
            in_training = [call for call, modes in calls if modes.get(key) != "eval"]
            if calls and not in_training:
                continue  # every method that calls this one put the model in eval mode first
            self.report_evaluation(node, key, what, context, related=[
                (call, f"called here without `{key}.eval()`") for call in in_training])
        for facts, key, node, context in self.deferred_trained:
            handed = []
            index = facts.params.index(key)
            for call, _, _ in self.calls_of(facts):
                arg = argument(call, index - (1 if facts.params[:1] == ["self"] and isinstance(
                    call.func, cst.Attribute) else 0), key)
                if arg is not None:
                    handed.append(self.facts.has_mode_dependent_layers(self.facts.value(
                        arg.value)))
            if handed and all(modes is False for modes in handed):
                continue  # every model this file hands it has no dropout and no batch norm
            effect = "its dropout stays active and its batch norm uses batch statistics" \
                if any(handed) else "any dropout it has stays active and any batch norm uses " \
                                    "batch statistics"
            self.report(node, f"`{key}`, trained here, runs {context} still in training mode "
                              f"(nothing here calls `eval()`): {effect}; call `{key}.eval()` "
                              "before the evaluation loop")
        self.judge_unswitched_runs()
        trained = self.run_with_gradients | self.parameters_read
        for node, key, what, context, after in self.training_step_runs:
            if after is not None and not any(order > after[1] for order in after[0].backward_at):
                # The function's backward passes all come before (generation after training):
                # an evaluation of the trained model.
                self.report_evaluation(node, key, what, context)
            elif not any(_same_or_part(key, other) or _same_or_part(other, key)
                         for other in trained):
                self.report_evaluation(node, key, what, context)
        reported: set[int] = set()
        for loop in self.facts.loops:
            self.judge_loop(loop, reported)
        if not self.modes_per_call:
            self.judge_forwards_before_train()

    def judge_unswitched_runs(self) -> None:
        """A model with dropout or batch norm that the file builds and runs but never trains
        (no optimizer reads its parameters, no backward pass in the file runs it), never
        switches and never hands to anything that might: used only for its outputs (a metric's
        Inception network, a frozen teacher), it is evaluated in training mode."""
        if self.trains_anywhere or self.loss_computed:
            return  # a file that trains: a model run with it may be trained by its step
        judged: set[str] = set()
        for key, node, evidence in self.unswitched_runs:
            if key in judged:
                continue
            judged.add(key)
            if any(_same_or_part(key, other) or _same_or_part(other, key)
                   for other in (*self.switched_anywhere, *self.handed_anywhere,
                                 *self.parameters_read)):
                continue
            self.report(node, f"`{key}` (has {evidence}) is built here and run for its outputs, "
                              "but nothing trains it or calls `eval()` on it: it runs in "
                              "training mode, so dropout stays active and batch norm uses "
                              "each batch's statistics (and overwrites its running averages); "
                              f"call `{key}.eval()` once it is built")

    def calls_of(self, facts: FunctionFacts) -> list[tuple[cst.Call, dict[str, str],
                                                            FunctionFacts]]:
        """The calls of a function in this file, each with the modes its caller had set there. A
        caller that trained before the call (ran a backward pass) hands on its own parameters in
        training mode unless it switched them: whatever its callers set was undone by training."""
        return [(call, {**dict.fromkeys(caller.params, "train"), **modes} if trained else modes,
                 caller) for name, call, modes, caller, trained in self.local_calls
                if name == facts.name]

    def passed_in_eval(self, facts: FunctionFacts, parameter: str, call: cst.Call,
                       modes: dict[str, str], caller: FunctionFacts, known: bool,
                       seen: frozenset = frozenset()) -> bool:
        """Whether this call site hands `parameter` a model its caller put in eval mode. A
        caller that only forwards its own parameter leaves the mode to its own callers: for a
        model of unknown layers that is taken on trust (decided further up, unseen); for a
        module the value flow brought here, its callers in this file are asked in turn."""
        index = facts.params.index(parameter)
        if facts.params[:1] == ["self"] and isinstance(call.func, cst.Attribute):
            index -= 1  # self.method(model, ...): `self` is not among the arguments
        arg = argument(call, index, parameter)
        key = self.handed_model_key(arg.value) if arg is not None else None
        if key is None:
            # A part of a model (`classifier.vit`): eval() on the model switched it too.
            owner = self.attribute_owner(arg.value) if arg is not None else None
            return owner is not None and "eval" in (modes.get(owner),
                                                    self.module_facts.modes.get(owner))
        if modes.get(key) == "eval" or self.module_facts.modes.get(key) == "eval":
            return True
        if any(tag.kind == MODULE and tag.info.framework == "keras"
               for tag in self.facts.value(arg.value)):
            return True  # a Keras model: in inference mode unless called with training=True
        if id(arg.value) in self.handed_without_modes:
            return True  # no torch module (a KerasHub task class), or a wrapper of eval models
        if key not in caller.params or modes.get(key) == "train":
            return False
        if not known:
            return True
        calls = self.calls_of(caller) if caller.name not in seen else []
        return bool(calls) and all(
            self.passed_in_eval(caller, key, outer, outer_modes, outer_caller, True,
                                seen | {caller.name})
            for outer, outer_modes, outer_caller in calls)

    def hands_mode_free_model(self, facts: FunctionFacts, parameter: str,
                              call: cst.Call) -> bool:
        """Whether this call hands `parameter` only models the value flow knows and that have
        no layer that differs between modes: `NeRF()` of linear layers, `models[0]` of a list
        of such models, the list itself, `server.net`. Unknown layers are no evidence."""
        index = facts.params.index(parameter)
        if facts.params[:1] == ["self"] and isinstance(call.func, cst.Attribute):
            index -= 1
        arg = argument(call, index, parameter)
        return arg is not None and id(arg.value) in self.handed_mode_free

    def hands_training_mode(self, facts: FunctionFacts, parameter: str, call: cst.Call,
                            modes: dict[str, str]) -> bool:
        """Whether this call hands `parameter` a model its caller switched to training mode
        (or trained just before the call) and did not switch back."""
        index = facts.params.index(parameter)
        if facts.params[:1] == ["self"] and isinstance(call.func, cst.Attribute):
            index -= 1
        arg = argument(call, index, parameter)
        key = self.handed_model_key(arg.value) if arg is not None else None
        return key is not None and (modes.get(key) or self.module_facts.modes.get(key)) == "train"

    def handed_model_key(self, node: cst.BaseExpression) -> str | None:
        """The model an argument hands on, whose mode is the caller's to set: `model` for
        `model`, `model.module` (what a DDP wrapper runs), `model.to(device)` or
        `unwrap_model(model)`."""
        if isinstance(node, cst.Attribute) and \
                node.attr.value in catalog.WRAPPED_MODULE_ATTRIBUTES:
            return self.key(node.value) or self.key(node)
        return self.source_key(node)

    def judge_switches(self, block: NoGradBlock) -> None:
        """`net.train()` inside a no_grad block, with `net` evaluated after it in the block, or
        before it in a loop of the block that comes round again: evaluated in training mode."""
        for key, node, loops, order in block.switches:
            if not any(evaluated == key and (later > order or set(around) & set(loops))
                       for evaluated, around, later in block.evaluations):
                continue  # switched back once the evaluation is over
            module = first(self.facts.value(node.func.value), MODULE)
            if module is not None and module.info.mode_dependent is False:
                continue
            self.report(node, f"`{key}.train()` inside this no_grad evaluation block switches "
                              f"`{key}` back to training mode while it is still evaluated: "
                              "dropout turns on and batch norm uses batch statistics; call "
                              f"`{key}.train()` after the block")

    def judge_loop(self, loop, reported: set[int]) -> None:
        if self.modes_per_call:
            return
        events = self.trained_model_events(loop, list(self.facts.expand(loop.events)))
        events += self.imported_switch_events(loop, events)
        kinds = {event[0] for event in events}
        # A loop that computes gradients but steps no optimizer (a gradient or saliency check)
        # trains nothing: its eval() is no mode left behind for training.
        if not {"backward", "step", "eval"} <= kinds or "train" in kinds:
            return
        backward = next(event[1] for event in events if event[0] == "backward")
        evaluation = next(event[1] for event in events if event[0] == "eval")
        if id(evaluation) in reported:
            return
        reported.add(id(evaluation))
        imported = [where for call, _, mode, where, _ in self.imported_switches
                    if call is evaluation and mode == "eval"]
        self.report(evaluation, "this puts the model in eval mode inside the training loop, and "
                                "nothing calls `train()` before the next training step: from "
                                "the second epoch on, dropout and batch norm are off; call "
                                "`model.train()` at the top of each epoch",
                    related=[(backward, "the training step"), *imported[:1]])

    def imported_switch_events(self, loop, events: list[tuple]) -> list[tuple]:
        """The mode switches that helpers of other files make inside `loop`, as its events:
        ("eval", call, call) or ("train", call, call), each at the call that hands the model.
        Where the loop steps an optimizer built here from the modules it runs, a model that is
        none of them (a teacher) is not the trained one."""
        owners = {owner for event in events if event[0] == "step" and len(event) > 3
                  and _made_here(event) for owner in event[3]}
        return [(mode, call, call) for call, key, mode, _, loops in self.imported_switches
                if id(loop.node) in loops and not (owners and not any(
                    _same_or_part(key, owner) for owner in owners))]

    def note_forward(self, key: str) -> None:
        if not self.facts.in_no_grad:
            self.run_with_gradients.add(key)
            return
        if not self.open_loops:
            return
        loop = self.open_loops[-1][0]
        trains = self.training_loops.get(id(loop))
        if trains is None:
            trains = "backward" in self.context.module.code_for_node(loop.body)
            self.training_loops[id(loop)] = trains
        if trains:
            self.feature_extractors.add(key)

    def is_frozen(self, site: cst.CSTNode, switch: cst.Call) -> bool:
        """Whether the model `switch` puts in eval mode has its parameters frozen in this file
        (and never unfrozen): under its own name, or, where `switch` is made in a helper that
        `site` calls, under the name of the argument the call hands to that parameter."""
        receiver = dotted_name(switch.func.value)
        if receiver is None:
            return False
        names = [receiver]
        scope = self.switch_scopes.get(id(switch))
        root, _, rest = receiver.partition(".")
        if site is not switch and isinstance(site, cst.Call) and scope is not None and \
                root in scope.params:
            handed = _handed_argument(site, scope.params, root)
            name = dotted_name(handed) if handed is not None else None
            if name is not None:
                names.append(f"{name}.{rest}" if rest else name)
        return any((name in self.frozen or (name in self.feature_extractors
                                            and name not in self.run_with_gradients))
                   and name not in self.unfrozen for name in names)

    def frozen_with_switch(self, loop, switch: cst.Call) -> bool:
        """Whether a block inside `loop` that holds `switch` (to eval mode) also freezes the
        model it switches with `requires_grad_(False)`: the model stops training there."""
        receiver = dotted_name(switch.func.value)
        blocks = self.switch_blocks.get(id(switch), ())
        body = id(loop.node.body)
        if receiver is None or body not in blocks:
            return False
        inside = blocks[blocks.index(body):]
        return any(model == receiver and block in inside for model, block in self.block_freezes)

    def trained_model_events(self, loop, events: list[tuple]) -> list[tuple]:
        """The loop's events without the mode switches of models it does not train: a copy or
        a model with no dropout or batch norm, and, where the loop steps an optimizer built from
        modules it runs (`Adam(student.parameters())`, `student(x)`), a model the loop switches
        itself that is none of them (a teacher)."""
        code = self.context.module.code_for_node(loop.node)
        owners = {owner for event in events if event[0] == "step" and len(event) > 3
                  and _made_here(event) for owner in event[3]
                  if re.search(rf"(^|[^\w.]){re.escape(owner)}\s*\(", code)}
        kept = []
        for event in events:
            if event[0] in ("eval", "train"):
                switch = event[2]
                if id(switch) in self.other_model_switches or \
                        self.switches_handed_model_without_modes(event[1], switch):
                    continue
                if event[0] == "eval" and (self.is_frozen(event[1], switch)
                                           or self.frozen_with_switch(loop, switch)):
                    continue
                receiver = dotted_name(switch.func.value)
                if owners and switch is event[1] and receiver is not None and not any(
                        _same_or_part(receiver, owner) for owner in owners):
                    continue
            kept.append(event)
        return kept


    def switches_handed_model_without_modes(self, call: cst.CSTNode, switch: cst.Call) -> bool:
        """Whether `switch`, an eval()/train() on a parameter of the helper that `call` (a loop's
        call of this file's function) runs, switches a model the call hands it whose layers
        compute the same in both modes: `test_step(model_1, loader)` with `model_1` of Linear
        and ReLU layers only."""
        helper = self.parameter_switches.get(id(switch))
        if helper is None or not isinstance(call, cst.Call) or call is switch:
            return False
        name, params, parameter = helper
        if self.facts.local_callee(call) != name:
            return False  # reached through another helper: the argument here is not its own
        index = params.index(parameter)
        if params[:1] == ["self"] and isinstance(call.func, cst.Attribute):
            index -= 1
        handed = argument(call, index, parameter)
        if handed is None:
            return False
        modules = [tag for tag in self.facts.value(handed.value) if tag.kind == MODULE]
        return bool(modules) and all(tag.info.mode_dependent is False for tag in modules)


_CHAINED_MODULE_METHODS = ("eval", "train", "to", "cuda", "cpu", "half", "float")


def _freezes(node: cst.BaseExpression) -> bool:
    """`....requires_grad_(False)`, possibly followed by a device move or a mode switch."""
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        if node.func.attr.value == "requires_grad_":
            flag = argument(node, 0, "requires_grad")
            return flag is not None and _is_false(flag.value)
        if node.func.attr.value not in _CHAINED_MODULE_METHODS:
            return False
        node = node.func.value
    return False


def _parameters_owner(node: cst.BaseExpression) -> str | None:
    """`model` for a loop over `model.parameters()`, `model.named_parameters()`, also through
    `enumerate(...)`, `list(...)` or `tuple(...)`."""
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and \
            node.func.value in ("enumerate", "list", "tuple") and node.args:
        node = node.args[0].value
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
            node.func.attr.value in ("parameters", "named_parameters"):
        return dotted_name(node.func.value)
    return None


def _last_target(node: cst.BaseExpression) -> str | None:
    """The name bound to each parameter by a loop target: `p` in `for name, p in ...` and in
    `for i, (name, p) in enumerate(...)`."""
    while isinstance(node, (cst.Tuple, cst.List)) and node.elements:
        node = node.elements[-1].value
    return node.value if isinstance(node, cst.Name) else None


def _made_here(event: tuple) -> bool:
    """Whether a loop event is made by the loop's own code, not by a helper it calls."""
    node = event[1]
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
        node.func.attr.value == "step"


def _handed_argument(call: cst.Call, params: list[str], parameter: str
                     ) -> cst.BaseExpression | None:
    """The argument `call` hands to `parameter` of a function with `params` (a method called on
    an instance does not hand `self`)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == parameter:
            return arg.value
    index = params.index(parameter)
    if params and params[0] in ("self", "cls") and isinstance(call.func, cst.Attribute):
        index -= 1
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return positional[index].value if 0 <= index < len(positional) else None


def _same_or_part(name: str, other: str) -> bool:
    """`model` and `model.module`, `self.net` and `self.net.head`: one model, or a part of it."""
    return name == other or name.startswith(other + ".") or other.startswith(name + ".")


def _iterated_name(node: cst.BaseExpression) -> str | None:
    """The loader a `for` iterates: `test_loader` in `enumerate(tqdm(test_loader))`."""
    while isinstance(node, cst.Call) and node.args:
        node = node.args[0].value
    return dotted_name(node)


def _modes_left(function: cst.FunctionDef) -> dict[str, str]:
    """The modes a function leaves its parameters in (`mode_effects.modes_left`, without the
    switches): `def evaluate(model, loader): model.eval(); ...` leaves the caller's model in
    eval mode."""
    return {parameter: mode for parameter, (mode, _) in modes_left(function).items()}


class _ModesLeftCollector(CachedVisitorNames, cst.BatchableCSTVisitor):
    """`_modes_left` of every function of a file, by name; a name defined twice with different
    results leaves nothing (which definition a call reaches is not known)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: dict[str, dict[str, str]] = {}
        self.params: dict[str, list[str]] = {}
        # How often each name occurs, and how often as what a call calls (`f(...)`,
        # `obj.f(...)`) or what a `def` defines: the rest are uses as a value
        # (`run = evaluate_e2e if e2e else evaluate_retrieval`), calls this file cannot follow.
        self.occurrences: dict[str, int] = {}
        self.called_or_defined: dict[str, int] = {}

    def visit_Name(self, node: cst.Name) -> None:
        self.occurrences[node.value] = self.occurrences.get(node.value, 0) + 1

    def visit_Annotation(self, node: cst.Annotation) -> None:
        # `walk` skips annotations (no rule visits them); a name in one is still a use of it.
        for name in _names_in(node.annotation):
            self.visit_Name(name)

    def visit_Param(self, node: cst.Param) -> None:
        if node.annotation is not None:
            self.visit_Annotation(node.annotation)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.visit_Annotation(node.annotation)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.value if isinstance(func, cst.Name) else (
            func.attr.value if isinstance(func, cst.Attribute) else None)
        if name is not None:
            self.called_or_defined[name] = self.called_or_defined.get(name, 0) + 1

    def used_as_value(self, name: str) -> bool:
        return self.occurrences.get(name, 0) > self.called_or_defined.get(name, 0)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = node.name.value
        self.called_or_defined[name] = self.called_or_defined.get(name, 0) + 1
        if node.returns is not None:
            self.visit_Annotation(node.returns)
        modes = _modes_left(node)
        params = [param.name.value for param in (*node.params.posonly_params,
                                                  *node.params.params)]
        if name in self.by_name and (self.by_name[name] != modes or self.params[name] != params):
            self.by_name[name] = {}
        elif name not in self.by_name:
            self.by_name[name], self.params[name] = modes, params


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    """Every name read or bound in an expression (or assignment target)."""
    found: list[cst.Name] = []

    class _Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.append(name)

    node.visit(_Names())
    return found
