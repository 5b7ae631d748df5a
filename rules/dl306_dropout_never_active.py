"""DL306: dropout switched off where the model trains (TF1 `tf.layers.dropout`, Flax)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, is_true, keyword

# Keywords of a Flax `apply` (or a TrainState's `apply_fn`) that switch the model to inference:
# the value that does it.
INFERENCE_KEYWORDS = {"deterministic": True, "train": False, "training": False}
APPLY_NAMES = frozenset({"apply", "apply_fn"})


class DropoutNeverActive(Rule):
    """
    ## What it does
    Flags dropout that can never drop anything while the model trains: TensorFlow 1's
    `tf.layers.dropout(x, rate)` (also `tf.compat.v1.layers.dropout`) without `training=`, and,
    in a file with a Flax training step, `nn.Dropout` built or called with a hard-coded
    `deterministic=True`, or the model applied in the training step with `deterministic=True` or
    `train=False`. The training step is the function (or lambda) that `jax.grad` or
    `jax.value_and_grad` differentiates; the function that calls the transform when what it
    differentiates is not in the file; else a function named `train_step`. Only an `apply`
    of the parameters being differentiated counts (`argnums`, the first by default): a frozen
    VAE, text encoder or teacher applied deterministically inside the loss is right, and so is
    an evaluation next to the differentiated loss.

    DL302 covers the opposite mistake, PyTorch's functional dropout that stays on at inference;
    this rule is about dropout that is off in training, where the two frameworks make the
    flag's default or its value the caller's job.

    ## Why is this bad?
    `tf.layers.dropout` defaults to `training=False`, and a Flax `Dropout` with
    `deterministic=True` is the identity. Nothing fails: the model trains without the
    regularisation it was designed with, overfits, and the dropout rate looks like a
    hyperparameter that has no effect.

    ## Example
    ```python
    hidden = tf.compat.v1.layers.dropout(hidden, rate=0.5)

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(10)(nn.Dropout(0.5, deterministic=True)(x))
    ```

    ## Use instead
    ```python
    hidden = tf.compat.v1.layers.dropout(hidden, rate=0.5, training=is_training)

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            return nn.Dense(10)(nn.Dropout(0.5, deterministic=not train)(x))
    ```

    ## References
    TensorFlow documentation, `tf.compat.v1.layers.dropout`; Flax documentation, "Dropout"
    (`deterministic`, and the `dropout` RNG stream passed to `apply` in the training step).
    """

    code = "DL306"
    name = "dropout-never-active"
    summary = "Dropout switched off in training: tf.layers.dropout without training=, Flax deterministic=True"
    requires_any = ("dropout", "Dropout", "deterministic", "train=False", "training=False")

    VALID = [
        Valid("""
            import tensorflow as tf
            hidden = tf.compat.v1.layers.dense(features, 256, activation=tf.nn.relu)
            hidden = tf.compat.v1.layers.dropout(hidden, rate=0.5, training=is_training)
        """),
        Valid("""
            import tensorflow as tf
            hidden = tf.layers.dropout(hidden, 0.5, None, None, mode == tf.estimator.ModeKeys.TRAIN)
        """),
        Valid("""
            from tensorflow.python.layers import core as core_layers
            hidden = core_layers.dropout(hidden, 1. - keep_prob, training=self.phase_train)
        """),
        Valid("""
            import flax.linen as nn
            import jax

            class MLP(nn.Module):
                @nn.compact
                def __call__(self, x, train: bool):
                    x = nn.relu(nn.Dense(256)(x))
                    x = nn.Dropout(0.5, deterministic=not train)(x)
                    return nn.Dense(10)(x)

            def train_step(state, batch, rng):
                def loss_fn(params):
                    logits = state.apply_fn({"params": params}, batch["x"], train=True,
                                            rngs={"dropout": rng})
                    return cross_entropy(logits, batch["y"])
                grads = jax.grad(loss_fn)(state.params)
                return state.apply_gradients(grads=grads)

            def eval_step(state, batch):
                return state.apply_fn({"params": state.params}, batch["x"], train=False)
        """),
        # The evaluation applies the model deterministically: it computes no gradients.
        Valid("""
            import flax.linen as nn
            import jax

            def loss_fn(params, batch, rng):
                logits = model.apply({"params": params}, batch["x"], deterministic=False,
                                     rngs={"dropout": rng})
                return cross_entropy(logits, batch["y"])

            grad_fn = jax.value_and_grad(loss_fn)

            def evaluate(params, batch):
                return model.apply({"params": params}, batch["x"], deterministic=True)
        """),
        Valid("""
            import flax.linen as nn

            class MLP(nn.Module):
                deterministic: bool = False

                @nn.compact
                def __call__(self, x):
                    x = nn.Dropout(0.5)(x, deterministic=self.deterministic)
                    return nn.Dense(10)(x)
        """),
        # No training step in the file: an inference-only module.
        Valid("""
            import flax.linen as nn

            class Encoder(nn.Module):
                @nn.compact
                def __call__(self, x):
                    return nn.Dense(64)(nn.Dropout(0.1, deterministic=True)(x))
        """),
        # A frozen model (a VAE, a text encoder, a teacher) applied deterministically inside the
        # loss: only the parameters the gradient is taken for train.
        Valid("""
            import flax.linen as nn
            import jax

            def train_step(state, vae_params, batch, rng):
                def loss_fn(params):
                    latents = vae.apply({"params": vae_params}, batch["image"], deterministic=True)
                    predicted = state.apply_fn({"params": params}, latents, train=True,
                                               rngs={"dropout": rng})
                    return mse(predicted, batch["noise"])
                grads = jax.grad(loss_fn)(state.params)
                return state.apply_gradients(grads=grads)
        """),
        # A function that holds the differentiated loss is not trained as a whole: its
        # evaluation after the update runs without gradients.
        Valid("""
            import flax.linen as nn
            import jax

            def train_step(state, batch, held_out, rng):
                def loss_fn(params):
                    logits = state.apply_fn({"params": params}, batch["x"], train=True,
                                            rngs={"dropout": rng})
                    return cross_entropy(logits, batch["y"])
                loss, grads = jax.value_and_grad(loss_fn)(state.params)
                state = state.apply_gradients(grads=grads)
                logits = state.apply_fn({"params": state.params}, held_out["x"], train=False)
                return state, loss, accuracy(logits, held_out["y"])
        """),
    ]
    INVALID = [
        Invalid("""
            import tensorflow as tf
            hidden = tf.compat.v1.layers.dense(features, 256, activation=tf.nn.relu)
            hidden = tf.compat.v1.layers.dropout(hidden, rate=0.5)
        """, line=3, fixed="""
            import tensorflow as tf
            hidden = tf.compat.v1.layers.dense(features, 256, activation=tf.nn.relu)
            hidden = tf.compat.v1.layers.dropout(hidden, rate=0.5, training=is_training)
        """),
        Invalid("""
            import tensorflow as tf
            hidden = tf.layers.dropout(hidden, 0.5)
        """, line=2, fixed="""
            import tensorflow as tf
            hidden = tf.layers.dropout(hidden, 0.5, training=is_training)
        """),
        # The same function imported from the module that defines tf.layers' core functions.
        Invalid("""
            from tensorflow.python.layers import core as core_layers
            hidden = core_layers.dropout(hidden, 1. - keep_prob)
        """, line=2, fixed="""
            from tensorflow.python.layers import core as core_layers
            hidden = core_layers.dropout(hidden, 1. - keep_prob, training=is_training)
        """),
        Invalid("""
            import flax.linen as nn
            import jax

            class MLP(nn.Module):
                @nn.compact
                def __call__(self, x):
                    x = nn.relu(nn.Dense(256)(x))
                    x = nn.Dropout(0.5, deterministic=True)(x)
                    return nn.Dense(10)(x)

            def train_step(state, batch, rng):
                def loss_fn(params):
                    logits = state.apply_fn({"params": params}, batch["x"], rngs={"dropout": rng})
                    return cross_entropy(logits, batch["y"])
                grads = jax.grad(loss_fn)(state.params)
                return state.apply_gradients(grads=grads)
        """, line=8, related_lines=(15,)),
        Invalid("""
            import flax.linen as nn
            import jax

            class MLP(nn.Module):
                @nn.compact
                def __call__(self, x):
                    x = nn.Dropout(rate=0.2)(x, deterministic=True)
                    return nn.Dense(10)(x)

            @jax.jit
            def update(state, batch):
                loss, grads = jax.value_and_grad(loss_fn)(state.params, batch)
                return state.apply_gradients(grads=grads), loss
        """, line=7, related_lines=(12,)),
        Invalid("""
            import flax.linen as nn
            import jax

            def train_step(state, batch, rng):
                def loss_fn(params):
                    logits = state.apply_fn({"params": params}, batch["x"], train=False,
                                            rngs={"dropout": rng})
                    return cross_entropy(logits, batch["y"])
                grads = jax.grad(loss_fn)(state.params)
                return state.apply_gradients(grads=grads)
        """, line=6, related_lines=(9,)),
        # The loss function differentiated by jax.value_and_grad is the training step.
        Invalid("""
            import flax.linen as nn
            import jax

            def loss_fn(params, batch, rng):
                logits = model.apply({"params": params}, batch["x"], deterministic=True,
                                     rngs={"dropout": rng})
                return cross_entropy(logits, batch["y"])

            grad_fn = jax.value_and_grad(loss_fn)
        """, line=5, related_lines=(9,)),
        # The differentiated argument chosen by argnums is the one that trains; a lambda given
        # to the transform is the training step.
        Invalid("""
            import flax.linen as nn
            import jax

            def distill_loss(teacher_params, student_params, x):
                targets = teacher.apply(teacher_params, x, deterministic=True)
                logits = student.apply(student_params, x, deterministic=True)
                return kl_divergence(logits, targets)

            grads = jax.grad(distill_loss, argnums=1)(teacher_params, student_params, x)
        """, line=6, related_lines=(9,)),
        Invalid("""
            import flax.linen as nn
            import jax

            grads = jax.grad(lambda p: cross_entropy(model.apply(p, x, train=False), y))(params)
        """, line=4, related_lines=(4,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.training_steps: list[_TrainingRegion] = []  # where the file's model trains
        self.open_steps: list[_TrainingRegion] = []  # those the visit is inside
        self.flax = False

    def visit_Module(self, node: cst.Module) -> None:
        self.flax = any(name.split(".", 1)[0] == "flax" for name in self.imports.aliases.values())
        if self.flax:
            finder = _TrainingSteps(self.imports)
            node.visit(finder)
            self.training_steps = finder.regions()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._enter(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._leave(original_node)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._enter(node)

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._leave(original_node)

    def _enter(self, node: cst.FunctionDef | cst.Lambda) -> None:
        region = next((step for step in self.training_steps if step.node is node), None)
        if region is not None:
            self.open_steps.append(region)

    def _leave(self, node: cst.FunctionDef | cst.Lambda) -> None:
        if self.open_steps and self.open_steps[-1].node is node:
            self.open_steps.pop()

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if qualified in catalog.NEVER_ON_DROPOUTS:
            self.check_tf1_dropout(node, catalog.NEVER_ON_DROPOUTS[qualified])
        if not self.training_steps:
            return
        if qualified in catalog.FLAX_DROPOUT_LAYERS:
            flag = argument(node, catalog.FLAX_DROPOUT_LAYERS[qualified], "deterministic")
            if flag is not None and is_true(flag.value):
                self.report_flax(flag, "`nn.Dropout` built with `deterministic=True`")
        elif isinstance(node.func, cst.Call) and \
                self.imports.call_name(node.func) in catalog.FLAX_DROPOUT_LAYERS:
            flag = keyword(node, "deterministic")
            if flag is not None and is_true(flag.value):
                self.report_flax(flag, "`nn.Dropout` called with `deterministic=True`")
        elif self.open_steps and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value in APPLY_NAMES:
            self.check_apply(node)

    def check_tf1_dropout(self, node: cst.Call, training_position: int) -> None:
        if argument(node, training_position, "training") is not None or any(
                arg.star for arg in node.args) or not node.args:
            return
        fix = NodeFix.wrap(node.args[-1].value, "", ", training=is_training",
                           description="Pass training=is_training")
        self.report(node, "`tf.layers.dropout` defaults to training=False: it never drops "
                          "anything, in training either; pass `training=` a flag that is True "
                          "while training", fix=fix)

    def report_flax(self, flag: cst.Arg, what: str) -> None:
        self.report(flag, f"{what} is the identity, and this file trains the model: dropout "
                          "never regularises; pass `deterministic=not train` with a `train` "
                          "argument", related=[(self.training_steps[0].anchor, "training step")])

    def check_apply(self, node: cst.Call) -> None:
        step = self.open_steps[-1]
        if step.trained is not None and not _mentions(argument(node, 0, "variables"),
                                                      step.trained):
            return  # a frozen model (a VAE, a text encoder, a teacher): its parameters don't train
        for name, switches_off in INFERENCE_KEYWORDS.items():
            flag = keyword(node, name)
            if flag is None or not isinstance(flag.value, cst.Name) or \
                    flag.value.value != str(switches_off):
                continue
            self.report(flag, f"the model is applied with `{name}={switches_off}` in a training "
                              "step: its dropout is off (and batch norm uses its running "
                              f"averages) while it trains; pass `{name}={not switches_off}`",
                        related=[(step.anchor, "training step")])
            return


@dataclass(frozen=True)
class _TrainingRegion:
    """Code that runs while the model trains: a function differentiated by a gradient transform
    (`trained` names its parameters that are differentiated), or, where none is visible, a
    function named like a training step (`trained` None: which parameters train is unknown).
    `anchor` is what a finding points to: the gradient transform's call, or the step's name."""

    node: cst.FunctionDef | cst.Lambda
    trained: frozenset[str] | None
    anchor: cst.CSTNode


class _TrainingSteps(cst.CSTVisitor):
    """Where a file's model trains: the functions its gradient transforms differentiate
    (`jax.grad(loss_fn)`, `jax.value_and_grad(lambda p: ...)`), else the functions named like a
    training step. A function that only calls a gradient transform (a `train_step` holding
    `loss_fn`) is not itself differentiated: its evaluation outside `loss_fn` is not training."""

    def __init__(self, imports) -> None:
        super().__init__()
        self.imports = imports
        self.named: list[cst.FunctionDef] = []
        self.open: list[cst.FunctionDef] = []
        self.functions: dict[str, cst.FunctionDef] = {}
        # What gradient transforms differentiate: a function's name or a lambda, with the call.
        self.differentiated: list[tuple[str | cst.Lambda, cst.Call]] = []
        self.holding: set[int] = set()  # ids of functions that call a gradient transform
        # The outermost function around each gradient transform's call: the training step
        # when what is differentiated is not defined in this file.
        self.callers: list[tuple[cst.FunctionDef, cst.Call]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.open.append(node)
        self.functions.setdefault(node.name.value, node)
        if node.name.value in catalog.TRAINING_STEP_NAMES:
            self.named.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.open.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if self.imports.call_name(node) not in catalog.GRADIENT_TRANSFORMS or not node.args:
            return
        self.holding.update(id(function) for function in self.open)
        differentiated = node.args[0].value
        if isinstance(differentiated, cst.Name):
            self.differentiated.append((differentiated.value, node))
        elif isinstance(differentiated, cst.Lambda):
            self.differentiated.append((differentiated, node))
        if self.open:
            self.callers.append((self.open[0], node))

    def regions(self) -> list[_TrainingRegion]:
        found: list[_TrainingRegion] = []
        for target, call in self.differentiated:
            function = self.functions.get(target) if isinstance(target, str) else target
            if function is not None and not any(region.node is function for region in found):
                found.append(_TrainingRegion(function, _differentiated_parameters(function, call),
                                             call))
        for caller, call in self.callers:
            if any(region.anchor is call for region in found):
                continue
            if not any(region.node is caller for region in found):
                found.append(_TrainingRegion(caller, None, call))
        for step in self.named:
            if id(step) not in self.holding and not any(region.node is step for region in found):
                found.append(_TrainingRegion(step, None, step.name))
        return found


def _differentiated_parameters(function: cst.FunctionDef | cst.Lambda,
                               call: cst.Call) -> frozenset[str]:
    """The parameters `jax.grad(f, argnums=...)` differentiates: the first by default."""
    params = [*function.params.posonly_params, *function.params.params]
    positions: list[int] = [0]
    argnums = argument(call, 1, "argnums")
    if argnums is not None:
        literal = argnums.value
        elements = [element.value for element in literal.elements] \
            if isinstance(literal, (cst.Tuple, cst.List)) else [literal]
        if not all(isinstance(element, cst.Integer) for element in elements):
            return frozenset(param.name.value for param in params)  # computed: any of them
        positions = [int(element.value) for element in elements]  # type: ignore[union-attr]
    return frozenset(params[position].name.value for position in positions
                     if position < len(params))


def _mentions(arg: cst.Arg | None, names: frozenset[str]) -> bool:
    """Whether the variables given to `apply` are built from one of `names` (`params`,
    `{"params": params}`, `{**variables, "params": params}`). Unknown (no argument, `**kw`)
    counts as mentioning them."""
    if arg is None:
        return True
    found = _NameUses(names)
    arg.value.visit(found)
    return found.used


class _NameUses(cst.CSTVisitor):
    def __init__(self, names: frozenset[str]) -> None:
        super().__init__()
        self.names = names
        self.used = False

    def visit_Name(self, node: cst.Name) -> None:
        self.used = self.used or node.value in self.names
