"""DL306: dropout switched off where the model trains (TF1 `tf.layers.dropout`, Flax)."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, is_true, keyword
from dllint.types import FixAvailability

# Keywords of a Flax `apply` (or a TrainState's `apply_fn`) that switch the model to inference:
# the value that does it.
INFERENCE_KEYWORDS = {"deterministic": True, "train": False, "training": False}
APPLY_NAMES = frozenset({"apply", "apply_fn"})


class DropoutNeverActive(Rule):
    """
    ## What it does
    Flags dropout that can never drop anything while the model trains: TensorFlow 1's
    `tf.layers.dropout(x, rate)` (also `tf.compat.v1.layers.dropout`) without `training=`, and,
    in a file with a Flax training step (a function that calls `jax.grad` or
    `jax.value_and_grad`, or named `train_step`), `nn.Dropout` built or called with a hard-coded
    `deterministic=True`, or the model applied in the training step with `deterministic=True` or
    `train=False`.

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
    fix_availability = FixAvailability.SOMETIMES
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
        """, line=8, related_lines=(11,)),
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
        """, line=7, related_lines=(11,)),
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
        """, line=6, related_lines=(4,)),
        # The loss function differentiated by jax.value_and_grad is the training step.
        Invalid("""
            import flax.linen as nn
            import jax

            def loss_fn(params, batch, rng):
                logits = model.apply({"params": params}, batch["x"], deterministic=True,
                                     rngs={"dropout": rng})
                return cross_entropy(logits, batch["y"])

            grad_fn = jax.value_and_grad(loss_fn)
        """, line=5, related_lines=(4,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.training_steps: list[cst.FunctionDef] = []  # the training steps of the file
        self.open_steps: list[cst.FunctionDef] = []  # those the visit is inside
        self.flax = False

    def visit_Module(self, node: cst.Module) -> None:
        self.flax = any(name.split(".", 1)[0] == "flax" for name in self.imports.aliases.values())
        if self.flax:
            finder = _TrainingSteps(self.imports)
            node.visit(finder)
            self.training_steps = finder.steps

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if any(step is node for step in self.training_steps):
            self.open_steps.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if self.open_steps and self.open_steps[-1] is original_node:
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
                          "argument", related=[(self.training_steps[0].name, "training step")])

    def check_apply(self, node: cst.Call) -> None:
        for name, switches_off in INFERENCE_KEYWORDS.items():
            flag = keyword(node, name)
            if flag is None or not isinstance(flag.value, cst.Name) or \
                    flag.value.value != str(switches_off):
                continue
            self.report(flag, f"the model is applied with `{name}={switches_off}` in a training "
                              "step: its dropout is off (and batch norm uses its running "
                              f"averages) while it trains; pass `{name}={not switches_off}`",
                        related=[(self.open_steps[0].name, "training step")])
            return


class _TrainingSteps(cst.CSTVisitor):
    """The functions of a file that are a training step: named so, or differentiating."""

    def __init__(self, imports) -> None:
        super().__init__()
        self.imports = imports
        self.steps: list[cst.FunctionDef] = []
        self.open: list[cst.FunctionDef] = []
        self.functions: dict[str, cst.FunctionDef] = {}
        self.differentiated: set[str] = set()  # names handed to jax.grad: `grad(loss_fn)`

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.open.append(node)
        self.functions.setdefault(node.name.value, node)
        if node.name.value in catalog.TRAINING_STEP_NAMES:
            self.steps.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.open.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if self.imports.call_name(node) not in catalog.GRADIENT_TRANSFORMS:
            return
        if node.args and isinstance(node.args[0].value, cst.Name):
            self.differentiated.add(node.args[0].value.value)
        if self.open:
            self.add(self.open[0])  # the outermost function: loss_fn inside it runs there too

    def leave_Module(self, original_node: cst.Module) -> None:
        for name in sorted(self.differentiated):
            if name in self.functions:
                self.add(self.functions[name])

    def add(self, step: cst.FunctionDef) -> None:
        if not any(found is step for found in self.steps):
            self.steps.append(step)
