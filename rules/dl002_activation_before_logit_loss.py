"""DL002: softmax or sigmoid output fed to a loss that applies it again."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.effects import Effect
from dllint.semantic.syntax import argument, keyword
from dllint.semantic.transfer import loss_wants
from dllint.semantic.values import LOSS, MODULE, PROBABILITIES, LossInfo, Tag, first, tags
from dllint.types import Applicability

def _activation_name(activation: Tag) -> str:
    return "sigmoid" if activation.detail in ("sigmoid", "nn.Sigmoid") else "softmax"


def _applied_by(loss: LossInfo) -> str:
    """What a library loss applies to its prediction (`Loss.applies`); "" when not known."""
    row = catalog.LOSSES.get(loss.qualified)
    return row.applies if row is not None else ""


def _same_family(activation: str, applies: str) -> bool:
    """Whether the loss applies the activation the value already went through: a softmax
    before `log_softmax` or `softmax`, a sigmoid before `sigmoid`."""
    return (activation == "sigmoid") == (applies == "sigmoid")


def loss_input_message(activation: str, wants: str, display: str, applies: str) -> str:
    """The finding's message for an `activation` output ("softmax" | "sigmoid") reaching a loss
    that wants logits or log-probabilities, naming what that loss really applies."""
    if wants != "logits":
        what = "softmax probabilities" if activation == "softmax" else "sigmoid output"
        return (f"{what} reach `{display}`, which expects log-probabilities; use `log_softmax`"
                if activation == "softmax" else
                f"{what} reaches `{display}`, which expects log-probabilities; pass "
                "`log_softmax` of the logits")
    if not applies:
        return (f"{activation} output reaches `{display}`, which expects logits: pass the "
                "logits")
    if _same_family(activation, applies):
        return (f"{activation} output reaches `{display}`, which applies {applies} itself: the "
                "loss sees the activation twice and its gradients shrink; pass the logits")
    return (f"{activation} output reaches `{display}`, which applies {applies} to its input: "
            f"it expects logits, and the {activation}'s outputs in [0, 1] leave it almost no "
            "spread between scores to work with; pass the logits")


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

    Besides PyTorch it covers Keras (a `Dense(..., activation="softmax")`, `Softmax()` or
    `Activation("sigmoid")` last layer of a `Sequential`, also grown with `add`, or of a
    functional `keras.Model`, reaching a cross-entropy built or called with `from_logits=True`,
    through `model.compile(loss=...)` or a direct call, whose prediction is the second
    argument), TensorFlow (`tf.nn.softmax`, `tf.sigmoid` or a TF1 `dense(...,
    activation=tf.nn.softmax)` given as `logits=` to `tf.nn.*_cross_entropy_with_logits`) and
    JAX (`jax.nn.softmax` / `nn.softmax` into optax's `softmax_cross_entropy`,
    `softmax_cross_entropy_with_integer_labels` or `sigmoid_binary_cross_entropy`, also as the
    return value of a Flax module's `__call__` reached through `model.apply` or
    `state.apply_fn`). A subclassed `keras.Model`'s `call` is its forward, and Keras 1's
    `Model(input=..., output=...)` is a functional model. tflearn: a `fully_connected(...,
    activation="softmax")` (or "sigmoid") given to `regression(..., loss=...)` with
    `softmax_categorical_crossentropy`, `binary_crossentropy` or `weighted_crossentropy`, which
    take logits (`categorical_crossentropy`, the default, takes probabilities). A positional
    `tf.nn.softmax_cross_entropy_with_logits(a, b)` (also the sparse and sigmoid ones) is read
    as TF 0.x's `(logits, labels)` in a file that calls TF 0.x/1.x graph-mode API
    (`tf.placeholder`, `tf.Session`, ...), and as TF 2's `(labels, logits)` otherwise.

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
    consumes = (Effect.LOSS_CLASS, Effect.LOSS_FUNCTION)
    # Keras' from_logits flag; tflearn's losses named by a string (`loss='..._crossentropy'`).
    requires_any = ("from_logits", "crossentropy")
    uses_model = True

    VALID = [
        # A lambda's parameter is its own: the module-level softmax of the same name never
        # reaches the loss through it.
        Valid("""
            import torch.nn.functional as F

            scores = F.softmax(logits, dim=1)
            pick = lambda scores: scores[:, :10]
            loss = F.cross_entropy(pick(logits), labels)
        """),
        # Softmax only outside training: the loss gets logits, callers get probabilities.
        Valid("""
            import tensorflow as tf

            def conv_net(x, n_classes, is_training):
                out = tf.compat.v1.layers.dense(x, n_classes)
                out = tf.nn.softmax(out) if not is_training else out
                return out

            logits = conv_net(images, 10, is_training=True)
            loss = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)

                def forward(self, x):
                    x = self.fc(x)
                    if not self.training:
                        x = F.softmax(x, dim=1)
                    return x

            loss = F.cross_entropy(Net()(x), y)
        """),
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
        # Keras, TensorFlow, JAX: probabilities into losses that expect them, logits into
        # those that apply the activation.
        Valid("""
            import tensorflow as tf
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dense(10, activation=tf.nn.softmax),
            ])
            model.compile(optimizer="adam", loss=tf.keras.losses.CategoricalCrossentropy())
        """),
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(784,))
            x = layers.Dense(64, activation="relu")(inputs)
            outputs = layers.Dense(10)(x)
            model = keras.Model(inputs=inputs, outputs=outputs)
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            loss = loss_fn(y_batch, model(x_batch, training=True))
            probabilities = layers.Softmax()(model(x_batch))
        """),
        Valid("""
            import keras
            from keras import layers
            model = keras.Sequential()
            model.add(layers.Dense(10))
            model.add(layers.Activation("softmax"))
            loss = keras.losses.sparse_categorical_crossentropy(y, model(x))
            model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False))
        """),
        Valid("""
            import tensorflow as tf
            logits = tf.matmul(x, w) + b
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
            prediction = tf.argmax(tf.nn.softmax(logits), 1)
        """),
        Valid("""
            import tensorflow as tf
            logits = tf.compat.v1.layers.dense(features, 10)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            gate = tf.sigmoid(z)
            balanced = tf.nn.sigmoid_cross_entropy_with_logits(labels=gate, logits=scores)
        """),
        Valid("""
            import jax
            import optax
            loss = optax.softmax_cross_entropy(logits, one_hot).mean()
            distillation = optax.l2_loss(jax.nn.softmax(logits), teacher_probabilities)
        """),
        Valid("""
            import jax
            import optax
            import flax.linen as nn
            from flax.training import train_state

            class CNN(nn.Module):
                @nn.compact
                def __call__(self, x):
                    return nn.Dense(10)(x)

                def predict(self, x):
                    return nn.softmax(self(x))

            def train_step(state, batch):
                logits = state.apply_fn({"params": state.params}, batch["image"])
                return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

            cnn = CNN()
            state = train_state.TrainState.create(apply_fn=cnn.apply, params=params, tx=tx)
            for batch in batches:
                train_step(state, batch)
        """),
        # A subclassed Keras model whose `call` returns logits.
        Valid("""
            import tensorflow as tf

            class Classifier(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.head = tf.keras.layers.Dense(10)

                def call(self, x):
                    return self.head(x)

            model = Classifier()
            loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            loss = loss_fn(labels, model(images))
        """),
        # Keras 1 spelling, `Model(input=..., output=...)`, of a model that outputs logits.
        Valid("""
            from keras.layers import Dense, Input
            from keras.models import Model
            from keras.losses import CategoricalCrossentropy
            inputs = Input(shape=(784,))
            model = Model(input=inputs, output=Dense(10)(inputs))
            model.compile(optimizer="sgd", loss=CategoricalCrossentropy(from_logits=True))
        """),
        # tflearn: `categorical_crossentropy` (the default) wants the softmax output; the
        # softmax objective gets logits from a linear layer.
        Valid("""
            import tflearn
            net = tflearn.input_data(shape=[None, 784])
            probabilities = tflearn.fully_connected(net, 10, activation="softmax")
            model = tflearn.regression(probabilities, optimizer="adam")
            logits = tflearn.fully_connected(net, 10)
            other = tflearn.regression(logits, loss="softmax_categorical_crossentropy")
        """),
        # TF 2 takes `(labels, logits)`: soft labels from a teacher's softmax come first.
        Valid("""
            import tensorflow as tf
            soft_labels = tf.nn.softmax(teacher_logits / 4.0)
            loss = tf.nn.softmax_cross_entropy_with_logits(soft_labels, student_logits)
        """),
        # TF 0.x graph code takes `(logits, labels)`: here the logits come first.
        Valid("""
            import tensorflow as tf
            x = tf.placeholder(tf.float32, [None, 784])
            logits = tf.matmul(x, W) + b
            soft_labels = tf.nn.softmax(teacher_logits)
            cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits, soft_labels))
        """),
        # A wrapper (FSDP, DDP, torch.compile) runs the model it wraps: logits stay logits.
        Valid("""
            import torch.nn.functional as F
            from torch import nn
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

            model = FSDP(nn.Sequential(nn.Linear(8, 3)))
            loss = F.cross_entropy(model(x), y)
            probabilities = F.softmax(model(x), dim=1)
            unwrapped_loss = F.cross_entropy(model.module(x), y)
        """),
        # A method's return value and an attribute read outside the class are followed: these
        # hand on logits, and probabilities only where no loss reads them.
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            class Classifier(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = self.build()

                def build(self):
                    return nn.Sequential(nn.Linear(8, 3))

                def forward(self, x):
                    return self.net(x)

                def predict(self, x):
                    return F.softmax(self.net(x), dim=1)

            class Trainer:
                def __init__(self):
                    self.model = Classifier()

            trainer = Trainer()
            loss = F.cross_entropy(trainer.model(x), y)
            confidence = trainer.model.predict(x).max(1)
        """),
        # Star imports: the names come from the modules the tables know them from.
        Valid("""
            from torch.nn import *
            from torch.nn.functional import *

            model = Sequential(Linear(8, 3))
            loss = cross_entropy(model(x), y)
            probabilities = softmax(model(x), dim=1)
        """),
        # A closure reads its enclosing function's parameter: here a model returning logits.
        Valid("""
            import torch.nn.functional as F
            from torch import nn

            def make_step(model, optimizer):
                def step(x, y):
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
                    optimizer.step()
                return step

            step = make_step(nn.Sequential(nn.Linear(8, 3)), optimizer)
        """),
        # A helper that returns the sigmoid only `if activation:`, called with
        # `activation=False` for the output layer: the loss gets the linear branch, logits.
        Valid("""
            import tensorflow as tf

            def dense(inputs, weight, bias, activation=True):
                linear = tf.matmul(inputs, weight) + bias
                if activation:
                    return tf.nn.sigmoid(linear)
                else:
                    return linear

            hidden = dense(features, w1, b1)
            logits = dense(hidden, w2, b2, activation=False)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits,
                                                                          labels=labels))
        """),
        # Held without a call, a loss that wants probabilities takes the sigmoid's output.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Classifier(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 1)
                    self.loss_func = F.binary_cross_entropy

                def forward(self, x):
                    return torch.sigmoid(self.fc(x))

                def training_step(self, x, y):
                    return self.loss_func(self.forward(x), y)
        """),
        Valid("""
            import torch.nn.functional as F
            criterion = F.cross_entropy
            loss = criterion(model(x), y)
        """),
        Valid("""
            import tensorflow as tf

            class GAN:
                def build(self, images, labels):
                    if self.conditional:
                        self.d, self.d_logits = self.discriminator(images, labels)
                    else:
                        self.d, self.d_logits = self.discriminator(images)
                    return tf.nn.sigmoid_cross_entropy_with_logits(logits=self.d_logits,
                                                                   labels=labels)

                def discriminator(self, images, condition=None):
                    h = tf.keras.layers.Dense(1)(images)
                    return tf.nn.sigmoid(h), h
        """),
        # A loss bound with functools.partial takes the logits, as the wrapped loss would.
        Valid("""
            from functools import partial

            import torch.nn.functional as F

            loss_fn = partial(F.cross_entropy, label_smoothing=0.1)
            for images, labels in loader:
                loss = loss_fn(model(images), labels)
                loss.backward()
        """),
        # Activation outputs turned into new scores by a temperature (an attribute, a number
        # other than 1), also when the rescaling runs only if a scale is configured: bounded
        # scores with a temperature, as in contrastive ranking, are a design.
        Valid("""
            import torch
            from torch import nn

            class PairRanker(nn.Module):
                def __init__(self, scorer, sharpness=12.0, squash=nn.Sigmoid()):
                    super().__init__()
                    self.scorer = scorer
                    self.sharpness = sharpness
                    self.squash = squash
                    self.ranking_loss = nn.CrossEntropyLoss()

                def forward(self, candidates, correct):
                    similarity = self.squash(self.scorer(candidates))
                    if self.sharpness:
                        similarity = similarity * self.sharpness
                    return self.ranking_loss(similarity, correct)
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            bounded = torch.sigmoid(pair_scores) / 0.07
            loss = F.cross_entropy(bounded, positives)
        """),
    ]
    INVALID = [
        # Near misses of the temperature: the `if` tests another setting, so without it the
        # sigmoid output reaches the loss as it is.
        Invalid("""
            import torch
            from torch import nn

            class PairRanker(nn.Module):
                def __init__(self, scorer, sharpness=12.0, squash=nn.Sigmoid()):
                    super().__init__()
                    self.scorer = scorer
                    self.sharpness = sharpness
                    self.use_sharpness = False
                    self.squash = squash
                    self.ranking_loss = nn.CrossEntropyLoss()

                def forward(self, candidates, correct):
                    similarity = self.squash(self.scorer(candidates))
                    if self.use_sharpness:
                        similarity = similarity * self.sharpness
                    return self.ranking_loss(similarity, correct)
        """, line=5, related_lines=(17,)),
        # A factor of 1, or a mask made by a comparison, leaves probabilities probabilities.
        Invalid("""
            import torch
            import torch.nn.functional as F
            kept = F.softmax(class_scores, dim=1) * (valid_rows > 0).float()
            loss = F.cross_entropy(kept, labels)
        """, line=3, related_lines=(4,)),
        Invalid("""
            import torch
            import torch.nn.functional as F
            loss = F.cross_entropy(torch.sigmoid(class_scores) * 1.0, labels)
        """, line=3, related_lines=(3,)),

        # A function held as a value: a lambda, and a closure over the step's logits.
        Invalid("""
            import torch
            import torch.nn.functional as F

            head = lambda scores: torch.softmax(scores, dim=-1)

            def train_step(model, x, y):
                loss = F.cross_entropy(head(model(x)), y)
                loss.backward()
        """, line=4, related_lines=(7,)),
        Invalid("""
            import torch.nn.functional as F

            def train_step(model, x, y):
                logits = model(x)
                def probabilities():
                    return logits.softmax(-1)
                loss = F.cross_entropy(probabilities(), y)
        """, line=6, related_lines=(7,)),
        # A test on something other than the training flag: both branches reach the loss.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Net(nn.Module):
                def __init__(self, normalise):
                    super().__init__()
                    self.fc = nn.Linear(8, 3)
                    self.normalise = normalise

                def forward(self, x):
                    x = self.fc(x)
                    if self.normalise:
                        x = F.softmax(x, dim=1)
                    return x

            loss = F.cross_entropy(Net(True)(x), y)
        """, line=13, related_lines=(16,)),
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
        # Keras: `activation=tf.nn.softmax` spelled as a function, through `tf.keras`.
        Invalid("""
            import tensorflow as tf
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dense(10, activation=tf.nn.softmax),
            ])
            model.compile(optimizer="adam",
                          loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))
        """, line=4, related_lines=(7,)),
        # Keras functional API; a Keras loss called directly takes (y_true, y_pred).
        Invalid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(784,))
            x = layers.Dense(64, activation="relu")(inputs)
            outputs = layers.Dense(10, activation="softmax")(x)
            model = keras.Model(inputs=inputs, outputs=outputs)
            loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            loss = loss_fn(y_batch, model(x_batch, training=True))
        """, line=5, related_lines=(8,)),
        # The loss function form, with from_logits=True at the call.
        Invalid("""
            import keras
            from keras import layers
            model = keras.Sequential()
            model.add(layers.Dense(10))
            model.add(layers.Activation("softmax"))
            loss = keras.losses.sparse_categorical_crossentropy(y, model(x), from_logits=True)
        """, line=5, related_lines=(6,)),
        Invalid("""
            import tensorflow as tf
            probabilities = tf.nn.softmax(tf.matmul(x, w) + b)
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(
                labels=y, logits=probabilities))
        """, line=2, related_lines=(3,)),
        Invalid("""
            import tensorflow as tf
            logits = tf.compat.v1.layers.dense(features, 10, activation=tf.nn.softmax)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            gate = tf.sigmoid(z)
            balanced = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=gate)
        """, line=2, related_lines=(3,), more_lines=(4,)),
        Invalid("""
            import jax
            import optax
            loss = optax.softmax_cross_entropy(jax.nn.softmax(logits), one_hot).mean()
        """, line=3, related_lines=(3,), unsafe=True, fixed="""
            import jax
            import optax
            loss = optax.softmax_cross_entropy(logits, one_hot).mean()
        """),
        # Flax: the module's `__call__` ends in softmax; `state.apply_fn` runs it.
        Invalid("""
            import jax
            import optax
            import flax.linen as nn
            from flax.training import train_state

            class CNN(nn.Module):
                @nn.compact
                def __call__(self, x):
                    return jax.nn.softmax(nn.Dense(10)(x))

            def train_step(state, batch):
                probabilities = state.apply_fn({"params": state.params}, batch["image"])
                return optax.softmax_cross_entropy_with_integer_labels(
                    probabilities, batch["label"]).mean()

            cnn = CNN()
            state = train_state.TrainState.create(apply_fn=cnn.apply, params=params, tx=tx)
            for batch in batches:
                train_step(state, batch)
        """, line=9, related_lines=(13,)),
        Invalid("""
            import optax
            from flax import linen as nn

            class Discriminator(nn.Module):
                @nn.compact
                def __call__(self, x):
                    return nn.sigmoid(nn.Dense(1)(x))

            model = Discriminator()
            loss = optax.sigmoid_binary_cross_entropy(model.apply(variables, x), labels).mean()
        """, line=7, related_lines=(10,)),
        # A subclassed Keras model's `call` is its forward.
        Invalid("""
            import tensorflow as tf

            class Classifier(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.head = tf.keras.layers.Dense(10)

                def call(self, x):
                    return tf.nn.softmax(self.head(x))

            model = Classifier()
            loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            loss = loss_fn(labels, model(images))
        """, line=9, related_lines=(13,)),
        Invalid("""
            from keras.layers import Dense, Input
            from keras.models import Model
            from keras.losses import CategoricalCrossentropy
            inputs = Input(shape=(784,))
            model = Model(input=inputs, output=Dense(10, activation="softmax")(inputs))
            model.compile(optimizer="sgd", loss=CategoricalCrossentropy(from_logits=True))
        """, line=5, related_lines=(6,)),
        # tflearn's softmax and binary objectives apply the activation themselves.
        Invalid("""
            import tflearn
            net = tflearn.input_data(shape=[None, 784])
            net = tflearn.fully_connected(net, 10, activation="softmax")
            net = tflearn.regression(net, optimizer="adam", loss="softmax_categorical_crossentropy")
        """, line=3, related_lines=(4,)),
        Invalid("""
            from tflearn.layers.core import fully_connected
            from tflearn.layers.estimator import regression
            network = fully_connected(features, 1, activation="sigmoid")
            network = regression(network, loss="binary_crossentropy", learning_rate=0.001)
        """, line=3, related_lines=(4,)),
        # TF 0.x graph code (tf.placeholder, tf.Session): positional arguments are
        # `(logits, labels)`, so the softmax is given as the logits.
        Invalid("""
            import tensorflow as tf
            x = tf.placeholder(tf.float32, [None, 784])
            y = tf.placeholder(tf.float32, [None, 10])
            pred = tf.nn.softmax(tf.matmul(x, W) + b)
            cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(pred, y))
        """, line=4, related_lines=(5,)),
        Invalid("""
            import tensorflow as tf
            cost = tf.nn.sigmoid_cross_entropy_with_logits(tf.sigmoid(scores), targets)
            with tf.Session() as session:
                session.run(tf.initialize_all_variables())
        """, line=2, related_lines=(2,), unsafe=True, fixed="""
            import tensorflow as tf
            cost = tf.nn.sigmoid_cross_entropy_with_logits(scores, targets)
            with tf.Session() as session:
                session.run(tf.initialize_all_variables())
        """),
        # The wrapped model still ends in softmax: DDP and torch.compile run it unchanged.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            from torch.nn.parallel import DistributedDataParallel as DDP

            net = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
            model = torch.compile(DDP(net, device_ids=[rank]))
            loss = F.cross_entropy(model(x), y)
        """, line=6, related_lines=(8,)),
        # The model a wrapper holds (`.module`) is the same model.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            model = nn.DataParallel(nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1)))
            loss = F.cross_entropy(model.module(x), y)
        """, line=4, related_lines=(5,)),
        # `self.build()` returns a model ending in softmax, though `build` comes after `__init__`.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Classifier(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.net = self.build()

                def build(self):
                    return nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))

                def forward(self, x):
                    return self.net(x)

            loss = F.cross_entropy(Classifier()(x), y)
        """, line=10, related_lines=(15,)),
        # What a method returns, and an attribute its class set, read outside the class.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            class Trainer:
                def __init__(self):
                    self.model = nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))

                def predict(self, x):
                    return F.softmax(self.model(x), dim=1)

            trainer = Trainer()
            loss = F.cross_entropy(trainer.model(x), y)
            tuned = F.cross_entropy(trainer.predict(x), y)
        """, line=6, related_lines=(12,), more_lines=(9,)),
        Invalid("""
            from torch.nn import *
            from torch.nn.functional import *

            model = Sequential(Linear(8, 3), Softmax(dim=1))
            loss = cross_entropy(model(x), y)
        """, line=4, related_lines=(5,)),
        # The model reaches the loss through a closure over the factory's parameter.
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            def make_step(model, optimizer):
                def step(x, y):
                    loss = F.cross_entropy(model(x), y)
                    loss.backward()
                    optimizer.step()
                return step

            step = make_step(nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1)), optimizer)
        """, line=11, related_lines=(6,)),
        # The same helper called with its flag on: the sigmoid branch reaches the loss.
        Invalid("""
            import tensorflow as tf

            def dense(inputs, weight, bias, activation=True):
                linear = tf.matmul(inputs, weight) + bias
                if activation:
                    return tf.nn.sigmoid(linear)
                else:
                    return linear

            hidden = dense(features, w1, b1)
            logits = dense(hidden, w2, b2, activation=True)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(logits=logits,
                                                                          labels=labels))
        """, line=6, related_lines=(12,)),

        # A loss function held without a call, in an attribute or a name, is called later.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Classifier(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.fc = nn.Linear(16, 1)
                    self.loss_func = F.binary_cross_entropy_with_logits

                def forward(self, x):
                    return torch.sigmoid(self.fc(x))

                def training_step(self, x, y):
                    return self.loss_func(input=self.forward(x), target=y)
        """, line=12, related_lines=(15,)),
        # Attributes set in branches join like names: one branch unpacks the pair swapped.
        Invalid("""
            import tensorflow as tf

            class GAN:
                def build(self, images, labels):
                    if self.conditional:
                        self.d_logits, self.d = self.discriminator(images)
                    else:
                        self.d, self.d_logits = self.discriminator(images)
                    return tf.nn.sigmoid_cross_entropy_with_logits(logits=self.d_logits,
                                                                   labels=labels)

                def discriminator(self, images):
                    h = tf.keras.layers.Dense(1)(images)
                    return tf.nn.sigmoid(h), h
        """, line=14, related_lines=(9,)),

        # A partial of a loss is the loss: softmax output handed to it is softmaxed twice.
        Invalid("""
            from functools import partial

            import torch.nn.functional as F

            loss_fn = partial(F.cross_entropy, label_smoothing=0.1)
            for images, labels in loader:
                probabilities = F.softmax(model(images), dim=1)
                loss = loss_fn(probabilities, labels)
                loss.backward()
        """, line=7, related_lines=(8,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.graph_mode = False  # the file calls TF 0.x/1.x graph-mode API (`tf.placeholder`)
        # Positional calls of losses whose order TF 0.x had the other way round: the call, and
        # what each position holds (argument, activation), judged once the whole file is seen.
        self.order_unknown: list[tuple[cst.Call, str, list]] = []

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if qualified in catalog.TF_GRAPH_MODE_CALLS:
            self.graph_mode = True
        if qualified in catalog.LOGITS_FIRST_LOSSES and len(node.args) >= 2 and not any(
                arg.keyword or arg.star for arg in node.args[:2]):
            readings = [(arg, first(self.facts.value(arg.value), PROBABILITIES))
                        for arg in node.args[:2]]
            self.order_unknown.append((node, qualified, readings))
            return
        if qualified in catalog.LOSS_FUNCTIONS:
            loss = catalog.LOSS_FUNCTIONS[qualified]
            self.check_loss_input(node, loss_wants(loss, node), loss.display, loss.applies,
                                  loss.argument, loss.keyword)
            return
        if qualified in catalog.NAMED_LOSS_ESTIMATORS:
            self.check_named_loss(node, qualified)
            return
        callee = first(self.facts.value(node.func), LOSS) if not qualified else None
        if callee is None and isinstance(node.func, cst.Call):
            callee = first(self.facts.value(node.func), LOSS)
        if callee is not None:
            info = callee.info
            self.check_loss_input(node, info.wants, info.display, _applied_by(info),
                                  info.argument, info.keyword)
            return
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "compile":
            self.check_compile(node)

    def leave_Module(self, original_node: cst.Module) -> None:
        """`tf.nn.softmax_cross_entropy_with_logits(pred, y)`: the logits first in TF 0.x code
        (a file of graph-mode calls), second in TF 2's `(labels, logits)`."""
        for call, qualified, readings in self.order_unknown:
            loss = catalog.LOSS_FUNCTIONS[qualified]
            position = catalog.LOGITS_FIRST_LOSSES[qualified] if self.graph_mode else loss.argument
            arg, activation = readings[position]
            self.report_loss_input(call, arg, activation, loss.wants, loss.display, loss.applies)

    def check_loss_input(self, call: cst.Call, wants: str, display: str, applies: str,
                         position: int = 0, name: str = "input") -> None:
        if wants not in ("logits", "log_probabilities"):
            return
        arg = argument(call, position, name)
        if arg is None:
            return
        self.report_loss_input(call, arg, first(self.facts.value(arg.value), PROBABILITIES),
                               wants, display, applies)

    def report_loss_input(self, call: cst.Call, arg: cst.Arg, activation: Tag | None,
                          wants: str, display: str, applies: str) -> None:
        if activation is None:
            return
        what = _activation_name(activation)
        message = loss_input_message(what, wants, display, applies)
        label = ("the loss that expects log-probabilities" if wants != "logits"
                 else "the loss that applies it again" if applies and _same_family(what, applies)
                 else f"the loss that applies {applies}" if applies else "the loss")
        self.report_at_activation(activation, call, arg, message, wants, label)

    def check_named_loss(self, node: cst.Call, qualified: str) -> None:
        """tflearn's `regression(net, loss='softmax_categorical_crossentropy')`: the loss, named
        by a string, is applied to the first argument."""
        position, name, default = catalog.NAMED_LOSS_ESTIMATORS[qualified]
        arg = argument(node, position, name)
        objective = default if arg is None else (
            arg.value.evaluated_value if isinstance(arg.value, cst.SimpleString) else None)
        if objective in catalog.LOGIT_LOSS_NAMES:
            display = f"{qualified.rsplit('.', 1)[-1]}(loss='{objective}')"
            self.check_loss_input(node, "logits", display, catalog.LOGIT_LOSS_NAMES[objective],
                                  0, "incoming")

    def report_at_activation(self, activation: Tag, call: cst.Call, arg: cst.Arg, message: str,
                             wants: str, label: str) -> None:
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
        self.report(inner, message, fix=fix, related=[(call, label)])

    # ---- Keras: a softmax/sigmoid output layer compiled with from_logits=True ----------------

    def check_compile(self, node: cst.Call) -> None:
        """`model.compile(loss=...)`: the loss is applied to the model's output."""
        loss_arg = keyword(node, "loss")
        if loss_arg is None:
            return
        loss = first(self.facts.value(loss_arg.value), LOSS)
        if loss is None or loss.info.wants != "logits":
            return
        for module in tags(self.facts.value(node.func.value), MODULE):
            activation = first(module.info.output, PROBABILITIES)
            if activation is None:
                continue
            what = _activation_name(activation)
            applies = _applied_by(loss.info) or what
            again = "it again" if _same_family(what, applies) else f"{applies} to it"
            message = (f"the output layer applies {what}, but the loss is built with "
                       f"`from_logits=True` and applies {again}; drop the activation "
                       f"or use `from_logits=False`")
            related = [(loss.node or loss_arg.value, "the loss is built with from_logits=True here")]
            if activation.node is None:
                self.report(node, message, cause=activation.location)
            else:
                self.report(activation.node, message, related=related)
            return
