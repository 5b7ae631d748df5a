"""DL307: a Keras model with dropout or batch norm called in a GradientTape without `training=True`."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, keyword
from dllint.semantic.values import MODULE, Tag, tags
from dllint.types import Applicability


@dataclass
class _Forward:
    """A call of a Keras model in a tape's block, and the names its output reached there."""
    call: cst.Call
    module: Tag
    callee: str  # the model's dotted name, `model` or `self.encoder`
    reached: set[str] = field(default_factory=set)
    reported: bool = False


@dataclass
class _Tape:
    names: frozenset[str]  # `with tf.GradientTape() as tape:` binds `tape`
    node: cst.With
    forwards: list[_Forward] = field(default_factory=list)


class _Parts(cst.CSTVisitor):
    """The names an expression reads, and the calls in it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.calls: set[int] = set()
        self.dotted: list[cst.BaseExpression] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.add(id(node))

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.dotted.append(node)
        return True

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _parts(node: cst.CSTNode | None) -> _Parts:
    parts = _Parts()
    if node is not None:
        node.visit(parts)
    return parts


def _dotted(node: cst.BaseExpression) -> str:
    """`self.encoder` for an attribute chain of names, "" for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr.value}" if inner else ""
    return ""


def _variable_owners(sources: cst.BaseExpression) -> set[str]:
    """Whose variables `tape.gradient` differentiates: `model` for `model.trainable_variables`,
    `encoder` and `head` for `encoder.trainable_weights + head.trainable_weights`."""
    return {_dotted(chain.value) for chain in _parts(sources).dotted
            if chain.attr.value in catalog.KERAS_VARIABLE_ATTRIBUTES and _dotted(chain.value)}


def _targets(node: cst.BaseAssignTargetExpression | cst.BaseExpression) -> set[str]:
    """The names an assignment target binds: `loss`, `logits, aux`, `*rest`."""
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, (cst.Tuple, cst.List)):
        return set().union(*(_targets(element.value) for element in node.elements))
    if isinstance(node, cst.StarredElement):
        return _targets(node.value)
    return set()


class KerasCallWithoutTraining(Rule):
    """
    ## What it does
    Flags a Keras model (a `Sequential`, a functional `keras.Model` or a subclassed
    `keras.Model`, also from another file of the run) that has dropout or batch normalization
    (`Dropout`, `SpatialDropout*`, `GaussianDropout`, `GaussianNoise`, `AlphaDropout`,
    `BatchNormalization`, or a recurrent layer with `dropout=`/`recurrent_dropout=`, also in a
    `Bidirectional` or `TimeDistributed` wrapper), called inside a
    `with tf.GradientTape() as tape:` block without a `training` argument, when its output
    reaches the loss that `tape.gradient(loss, model.trainable_variables)` differentiates with
    respect to that model's variables (`trainable_variables`, `trainable_weights`, `variables`
    or `weights` of the model or of an object holding it), also `self(x)` in a Keras model's own
    `train_step` (`self.trainable_variables`). A call given `training=` (a literal or
    a variable) or a mode flag of the model's own under another name (`is_training=True`, any
    keyword naming `train`), a call outside the tape (evaluation), a model without such
    layers, and a model whose variables the tape does not differentiate (a teacher network next
    to the student, a model attacked or explained through the gradient of its input) are left
    alone; `model.fit` passes the flag itself.

    ## Why is this bad?
    Keras layers decide how to behave from the `training` argument of the call. `fit` passes
    `training=True`; a custom training loop must pass it itself, and `model(x)` without it runs
    in inference mode. Dropout then drops nothing and batch normalization normalises with its
    moving statistics and never updates them (they stay at their initial 0 and 1): the model
    trains without the regularisation it was designed with, and what it learns does not match
    what it does at inference. Nothing fails or warns.

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(128, activation="relu"), layers.Dropout(0.5),
                              layers.Dense(10)])

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ```

    ## Use instead
    ```python
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    ```

    The fix adds `training=True`. It is unsafe: it changes what the step computes (which is the
    point), and a model meant to stay in inference mode (a frozen backbone being fine-tuned)
    should say so with `training=False` instead.

    ## References
    TensorFlow guide, "Writing a training loop from scratch" (`training=True` in the tape) and
    Keras FAQ, "What's the difference between the `training` argument in `call()` and the
    `trainable` attribute?".
    """

    code = "DL307"
    name = "keras-call-without-training"
    summary = "Keras model with dropout/batch norm called in a GradientTape without training=True"
    requires_any = ("GradientTape",)
    uses_model = True

    VALID = [
        Valid("""
            import tensorflow as tf
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        # No dropout or batch norm: inference mode computes the same thing.
        Valid("""
            import tensorflow as tf
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64, activation="relu"),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                logits = model(x)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        # Evaluation, outside the tape.
        Valid("""
            import tensorflow as tf
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64), keras.layers.BatchNormalization(),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            validation_logits = model(x_val)
        """),
        # The flag passed on from the caller.
        Valid("""
            import tensorflow as tf
            from tensorflow.keras import layers

            class Net(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(64)
                    self.drop = layers.Dropout(0.3)
                    self.out = layers.Dense(10)

                def call(self, x, training=False):
                    return self.out(self.drop(self.hidden(x), training=training))

            net = Net()

            def step(x, y, training):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, net(x, training=training))
                return tape.gradient(loss, net.trainable_variables)
        """),
        # An LSTM without dropout has nothing that depends on the flag.
        Valid("""
            import tensorflow as tf
            from tensorflow.keras import layers, models
            model = models.Sequential([layers.Embedding(1000, 64), layers.LSTM(64),
                                       layers.Dense(1)])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(tokens) - targets))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        # Distillation: the teacher is not what the tape differentiates.
        Valid("""
            import tensorflow as tf
            from tensorflow import keras
            teacher = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                        keras.layers.Dense(10)])
            student = keras.Sequential([keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                soft = tf.nn.softmax(teacher(x) / 4.0)
                loss = distill_fn(soft, student(x))
            grads = tape.gradient(loss, student.trainable_variables)
        """),
        # A Keras model's own train_step, as the Keras guide writes it.
        Valid("""
            import tensorflow as tf
            from tensorflow import keras

            class Classifier(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = keras.layers.Dense(64)
                    self.drop = keras.layers.Dropout(0.5)
                    self.out = keras.layers.Dense(10)

                def call(self, x, training=False):
                    return self.out(self.drop(self.hidden(x), training=training))

                def train_step(self, data):
                    x, y = data
                    with tf.GradientTape() as tape:
                        loss = self.compiled_loss(y, self(x, training=True))
                    grads = tape.gradient(loss, self.trainable_variables)
                    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                    return {"loss": loss}
        """),
        # An adversarial example: the gradient of the input, with the model in inference mode.
        Valid("""
            import tensorflow as tf
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                tape.watch(image)
                loss = loss_object(label, model(image))
            perturbation = tf.sign(tape.gradient(loss, image))
        """),
        # model.fit passes training=True itself.
        Valid("""
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                      keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, y, epochs=5)
        """),
        # The model's own call names its mode flag otherwise, and the step passes it.
        Valid("""
            import tensorflow as tf
            from tensorflow.keras import layers

            class Discriminator(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(64)
                    self.norm = layers.BatchNormalization()
                    self.out = layers.Dense(1)

                def call(self, x, is_training=False):
                    return self.out(self.norm(self.hidden(x), training=is_training))

            discriminator = Discriminator()

            def run_optimization(images):
                with tf.GradientTape() as tape:
                    scores = discriminator(images, is_training=True)
                    loss = loss_fn(labels, scores)
                gradients = tape.gradient(loss, discriminator.trainable_variables)
        """),
    ]
    INVALID = [
        # Twin: the same model trained without its flag.
        Invalid("""
            import tensorflow as tf
            from tensorflow.keras import layers

            class Discriminator(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(64)
                    self.norm = layers.BatchNormalization()
                    self.out = layers.Dense(1)

                def call(self, x, is_training=False):
                    return self.out(self.norm(self.hidden(x), training=is_training))

            discriminator = Discriminator()

            def run_optimization(images):
                with tf.GradientTape() as tape:
                    scores = discriminator(images)
                    loss = loss_fn(labels, scores)
                gradients = tape.gradient(loss, discriminator.trainable_variables)
        """, line=18, related_lines=(14, 20), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow.keras import layers

            class Discriminator(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(64)
                    self.norm = layers.BatchNormalization()
                    self.out = layers.Dense(1)

                def call(self, x, is_training=False):
                    return self.out(self.norm(self.hidden(x), training=is_training))

            discriminator = Discriminator()

            def run_optimization(images):
                with tf.GradientTape() as tape:
                    scores = discriminator(images, training=True)
                    loss = loss_fn(labels, scores)
                gradients = tape.gradient(loss, discriminator.trainable_variables)
        """),
        Invalid("""
            import tensorflow as tf
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                logits = model(x)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=6, related_lines=(3, 8), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(64), keras.layers.Dropout(0.5),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = loss_fn(y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        # A subclassed model whose call takes the flag, called without it.
        Invalid("""
            import tensorflow as tf
            from tensorflow.keras import layers

            class Net(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(64)
                    self.norm = layers.BatchNormalization()
                    self.out = layers.Dense(10)

                def call(self, x, training=False):
                    return self.out(self.norm(self.hidden(x), training=training))

            net = Net()

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    predictions = net(x)
                    loss = loss_object(y, predictions)
                gradients = tape.gradient(loss, net.trainable_variables)
                optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        """, line=19, related_lines=(14, 21), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow.keras import layers

            class Net(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = layers.Dense(64)
                    self.norm = layers.BatchNormalization()
                    self.out = layers.Dense(10)

                def call(self, x, training=False):
                    return self.out(self.norm(self.hidden(x), training=training))

            net = Net()

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    predictions = net(x, training=True)
                    loss = loss_object(y, predictions)
                gradients = tape.gradient(loss, net.trainable_variables)
                optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        """),
        # A functional model with batch norm in its graph.
        Invalid("""
            import tensorflow as tf
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(32,))
            x = layers.Dense(64)(inputs)
            x = layers.BatchNormalization()(x)
            outputs = layers.Dense(10)(x)
            model = keras.Model(inputs, outputs)
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(features))
            grads = tape.gradient(loss, model.trainable_weights)
        """, line=10, related_lines=(8, 11), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(32,))
            x = layers.Dense(64)(inputs)
            x = layers.BatchNormalization()(x)
            outputs = layers.Dense(10)(x)
            model = keras.Model(inputs, outputs)
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(features, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
        """),
        # Recurrent dropout depends on the flag too; the output reaches the loss through
        # tuple unpacking and an augmented assignment.
        Invalid("""
            import tensorflow as tf
            from tensorflow.keras import layers, models
            model = models.Sequential([layers.Embedding(1000, 64),
                                       layers.LSTM(64, dropout=0.2, recurrent_dropout=0.2),
                                       layers.Dense(1)])
            with tf.GradientTape() as tape:
                scores, = [model(tokens)]
                loss = 0.0
                loss += tf.reduce_mean(tf.square(scores - targets))
            grads = tape.gradient(loss, model.trainable_variables)
        """, line=7, related_lines=(3, 10), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow.keras import layers, models
            model = models.Sequential([layers.Embedding(1000, 64),
                                       layers.LSTM(64, dropout=0.2, recurrent_dropout=0.2),
                                       layers.Dense(1)])
            with tf.GradientTape() as tape:
                scores, = [model(tokens, training=True)]
                loss = 0.0
                loss += tf.reduce_mean(tf.square(scores - targets))
            grads = tape.gradient(loss, model.trainable_variables)
        """),
        # A Sequential grown with add(), in a GAN-style step with two tapes.
        Invalid("""
            import tensorflow as tf
            from tensorflow.keras import layers
            critic = tf.keras.Sequential()
            critic.add(layers.Dense(64))
            critic.add(layers.Dropout(0.3))
            critic.add(layers.Dense(1))
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                fake = generator(noise, training=True)
                fake_output = critic(fake)
                disc_loss = tf.reduce_mean(fake_output)
            disc_grads = disc_tape.gradient(disc_loss, critic.trainable_variables)
        """, line=9, related_lines=(3, 11), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow.keras import layers
            critic = tf.keras.Sequential()
            critic.add(layers.Dense(64))
            critic.add(layers.Dropout(0.3))
            critic.add(layers.Dense(1))
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                fake = generator(noise, training=True)
                fake_output = critic(fake, training=True)
                disc_loss = tf.reduce_mean(fake_output)
            disc_grads = disc_tape.gradient(disc_loss, critic.trainable_variables)
        """),
        # The model's own train_step calls it without the flag.
        Invalid("""
            import tensorflow as tf
            from tensorflow import keras

            class Classifier(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = keras.layers.Dense(64)
                    self.drop = keras.layers.Dropout(0.5)
                    self.out = keras.layers.Dense(10)

                def call(self, x, training=False):
                    return self.out(self.drop(self.hidden(x), training=training))

                def train_step(self, data):
                    x, y = data
                    with tf.GradientTape() as tape:
                        y_pred = self(x)
                        loss = self.compiled_loss(y, y_pred)
                    grads = tape.gradient(loss, self.trainable_variables)
                    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                    return {"loss": loss}
        """, line=17, related_lines=(8, 19), unsafe=True, fixed="""
            import tensorflow as tf
            from tensorflow import keras

            class Classifier(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = keras.layers.Dense(64)
                    self.drop = keras.layers.Dropout(0.5)
                    self.out = keras.layers.Dense(10)

                def call(self, x, training=False):
                    return self.out(self.drop(self.hidden(x), training=training))

                def train_step(self, data):
                    x, y = data
                    with tf.GradientTape() as tape:
                        y_pred = self(x, training=True)
                        loss = self.compiled_loss(y, y_pred)
                    grads = tape.gradient(loss, self.trainable_variables)
                    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                    return {"loss": loss}
        """),
        # Keras 3 spelling, the gradient taken inside the block.
        Invalid("""
            import keras
            import tensorflow as tf
            model = keras.Sequential([keras.layers.Dense(64),
                                      keras.layers.SpatialDropout1D(0.2),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x))
                grads = tape.gradient(loss, model.trainable_variables)
        """, line=7, related_lines=(3, 8), unsafe=True, fixed="""
            import keras
            import tensorflow as tf
            model = keras.Sequential([keras.layers.Dense(64),
                                      keras.layers.SpatialDropout1D(0.2),
                                      keras.layers.Dense(10)])
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.open: list[_Tape] = []
        # The tapes of each enclosing function (and the module): `tape.gradient` may come after
        # the `with` block, in the same function.
        self.scopes: list[list[_Tape]] = [[]]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append([])

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_With(self, node: cst.With) -> None:
        names = frozenset(
            item.asname.name.value for item in node.items
            if isinstance(item.item, cst.Call) and isinstance(item.asname, cst.AsName)
            and isinstance(item.asname.name, cst.Name)
            and self.imports.call_name(item.item) in catalog.GRADIENT_TAPES)
        if names:
            tape = _Tape(names, node)
            self.open.append(tape)
            self.scopes[-1].append(tape)

    def leave_With(self, original_node: cst.With) -> None:
        if self.open and self.open[-1].node is original_node:
            self.open.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if self.open:
            self._record_forward(node)
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.attr.value in catalog.TAPE_GRADIENT_METHODS:
            tape = next((tape for tape in reversed(self.scopes[-1])
                         if func.value.value in tape.names), None)
            if tape is not None:
                self._check_gradient(tape, node)

    def _record_forward(self, node: cst.Call) -> None:
        if keyword(node, "training") is not None or len(
                [arg for arg in node.args if arg.keyword is None and not arg.star]) >= 2:
            return  # `model(x, training=...)`, `model(x, True)`
        if any(arg.keyword is not None and "train" in arg.keyword.value.lower()
               for arg in node.args):
            return  # `model(x, is_training=True)`: the model's own call takes the mode flag

        if any(arg.star for arg in node.args):
            return  # `model(*batch, **flags)`: the flag may be among them
        callee = _dotted(node.func)
        if not callee:
            return
        module = next((tag for tag in tags(self.facts.value(node.func), MODULE)
                       if tag.info.framework == "keras" and tag.info.training_layer), None) \
            or self._own_layer(node.func)
        if module is None:
            return
        for tape in self.open:
            tape.forwards.append(_Forward(node, module, callee))

    def _own_layer(self, func: cst.BaseExpression) -> Tag | None:
        """`self(x)` in a Keras model's own method (its `train_step`): the layer of the model
        that depends on `training`, if its attributes hold one."""
        state = self.facts.enclosing_class
        if not (isinstance(func, cst.Name) and func.value == "self" and state is not None):
            return None
        if state.framework != "keras":
            return None
        return next((tag for value in state.attributes.values() for tag in tags(value, MODULE)
                     if tag.info.training_layer), None)

    def _reached(self, forward: _Forward, parts: _Parts) -> bool:
        return id(forward.call) in parts.calls or bool(forward.reached & parts.names)

    def _flow(self, targets: set[str], value: cst.BaseExpression | None) -> None:
        """An assignment in a tape's block: its targets hold the model's output when its value
        reads that output."""
        if not self.open or not targets:
            return
        parts = _parts(value)
        for tape in self.open:
            for forward in tape.forwards:
                if self._reached(forward, parts):
                    forward.reached |= targets

    def leave_Assign(self, original_node: cst.Assign) -> None:
        targets = set().union(*(_targets(target.target) for target in original_node.targets))
        self._flow(targets, original_node.value)

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self._flow(_targets(original_node.target), original_node.value)

    def leave_AugAssign(self, original_node: cst.AugAssign) -> None:
        self._flow(_targets(original_node.target), original_node.value)

    def _check_gradient(self, tape: _Tape, node: cst.Call) -> None:
        target = argument(node, 0, "target")
        if target is None:
            return
        parts = _parts(target.value)
        sources = argument(node, 1, "sources")
        trained = _variable_owners(sources.value) if sources is not None else set()
        for forward in tape.forwards:
            if forward.reported or not self._reached(forward, parts):
                continue
            # Only a model whose variables the tape differentiates is being trained: not a
            # teacher next to its student, nor a model attacked through its input.
            if not any(forward.callee == owner or forward.callee.startswith(owner + ".")
                       for owner in trained):
                continue
            forward.reported = True
            self._report(forward, node)

    def _report(self, forward: _Forward, gradient: cst.Call) -> None:
        call = forward.call
        layer = forward.module.info.training_layer
        training = cst.Arg(value=cst.Name("True"), keyword=cst.Name("training"),
                           equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                 whitespace_after=cst.SimpleWhitespace("")))
        args = list(call.args)
        if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
            args[-1] = args[-1].with_changes(comma=cst.Comma(
                whitespace_after=cst.SimpleWhitespace(" ")))
        fix = NodeFix.replace(call, call.with_changes(args=[*args, training]),
                              description="Pass training=True",
                              applicability=Applicability.UNSAFE)
        related = [(gradient, "the tape differentiates its output here"),
                   *self.origin_of(forward.module, f"the model, with {layer}")]
        self.report(call, f"`{forward.callee}(...)` is trained here without `training=True`: its "
                          f"{layer} runs in inference mode, so dropout drops nothing and batch "
                          f"norm never learns its statistics; pass `training=True`",
                    fix=fix, related=related)
