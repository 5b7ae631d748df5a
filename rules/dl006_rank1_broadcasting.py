"""DL006: rank-1 arrays and reductions without keepdims that broadcast silently."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.effects import Effect
from dllint.semantic.syntax import argument, keyword, number, positional
from dllint.semantic.values import (
    AXIS_DROPPED, COLUMN, LOSS, RANK1, SINGLE_CHANNEL, SQUEEZED, Tag, Value, first, known_rank,
    tags)
from dllint.types import Applicability

REDUCTIONS = frozenset({"sum", "mean", "std", "var", "norm", "logsumexp", "amax", "amin", "nansum",
                        "nanmean", "prod"})
# Reductions whose order (`ord`, `p`) comes before the axis: `np.linalg.norm(v, 2)`,
# `x.norm(2)` are norms of the whole value, a scalar; the axis is the argument after the order.
ORDER_BEFORE_AXIS = frozenset({"norm", "vector_norm"})
ELEMENTWISE = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)
# Elementwise functions that make a hand-written loss of a difference: `jnp.square(pred - y)`.
DIFFERENCE_LOSSES = frozenset({"square", "abs", "absolute", "fabs"})
LOSS_FUNCTION_NAMES = frozenset(catalog.LOSS_FUNCTIONS)


class Rank1Broadcasting(Rule):
    """
    ## What it does
    Flags shapes that broadcast silently into the wrong result:
    a 2-D value combined with its own reduction along axis 1 without `keepdims`
    (`x / x.sum(axis=1)`, also through a function defined earlier in the file that returns
    such a reduction of its parameter, `x / row_totals(x)`); an `(N, 1)` output of `Linear(..., 1)` combined with, or given to an
    elementwise loss together with, an `(N,)` target (a 1-D constructor, a column's `.values`, and
    in a loss `y[:, 0]` or a `squeeze()`d target); an `(N, 1, H, W)` output of `Conv2d(..., 1)`
    given to such a loss with an `(N, H, W)` target (`masks[:, 0]`, `masks.squeeze(1)`); a side
    reshaped to `(-1, 1)` given to a library loss with an `(N,)` other side; a rank-1
    array from `np.random.randn(n)` transposed as if it were a column; and `squeeze()` without a
    dim on a batch that reaches a loss (not on a known `(N, 1)` output, where the squeeze is
    the alignment with an `(N,)` target and a batch of one still gives the same loss). It covers PyTorch and numpy, JAX (`jnp` reductions, Flax
    `nn.Dense(1)`, Optax's `l2_loss`, `squared_error` and `huber_loss`), TensorFlow
    (`tf.reduce_mean` and the other `tf.reduce_*`, `tf.squeeze`; `tf.matmul(x, w)` or `x @ w`
    with a weight made with the literal shape `[k, 1]` is an (N, 1) output, a placeholder of
    shape `[None]` an (N,) target) and Keras (`Dense(1)`, the
    Keras 2 loss functions `tf.keras.losses.mse`, `mae`, `huber`, whose classes and Keras 3
    versions match ranks first), and squared or absolute errors written out
    (`jnp.mean((pred - y) ** 2)`).

    ## Why is this bad?
    Broadcasting aligns shapes from the right. `(N, M) / (N,)` divides each row by the wrong
    totals (and raises nothing when N == M); `(N, 1) - (N,)` is an `(N, N)` matrix, so an MSE
    loss averages N² pairwise differences and the model learns to predict the mean; an
    `(N, 1, H, W)` mask prediction against `(N, H, W)` masks likewise compares every image with
    every mask. (`BCELoss` and `BCEWithLogitsLoss` raise instead, on the first batch.) A rank-1
    array's `.T` is the same array. `squeeze()` turns the last batch of size 1 into a scalar.

    ## Example
    ```python
    probabilities = counts / counts.sum(axis=1)
    loss = F.mse_loss(model(x), y)  # model ends in Linear(16, 1), y has shape (N,)
    ```

    ## Use instead
    ```python
    probabilities = counts / counts.sum(axis=1, keepdims=True)
    loss = F.mse_loss(model(x).squeeze(1), y)
    ```

    ## References
    "Wrong tensor shapes, often through silent broadcasting" is the most common bug when
    implementing a deep-learning model; rank-1 arrays are a classic source of it.
    """

    code = "DL006"
    name = "rank1-broadcasting"
    summary = "Shapes broadcast silently: reduction without keepdims, (N,1) vs (N,), rank-1 .T"
    consumes = (Effect.COLUMN_LAYER, Effect.SINGLE_CHANNEL_LAYER, Effect.RANK1_CONSTRUCTOR,
                Effect.RESHAPE, Effect.SQUEEZE_METHOD, Effect.REDUCTION, Effect.LOSS_CLASS,
                Effect.LOSS_FUNCTION, Effect.SHAPED_CONSTRUCTOR, Effect.VARIABLE_CONSTRUCTOR,
                Effect.MATMUL)
    # Reductions of torch and numpy are found by method or function name, not by a row.
    requires_any = ("sum", "mean", "std", "var", "norm", ".T", "logsumexp", "amax", "amin",
                    "prod", "Conv", "Loss", "_loss", "square")
    uses_model = True

    VALID = [
        # A bias of shape (n,) added to a matrix product: broadcasting gives the larger rank, so
        # the sum is 2-D and its `.T` a real transpose (a hand-written backward pass).
        Valid("""
            import torch
            W1 = torch.randn((30, 200))
            b1 = torch.randn(200)

            def backward(inputs, grad):
                hidden = torch.tanh(inputs @ W1 + b1)
                return hidden.T @ grad, (b1 * grad).T
        """),
        # A target made with another tensor's whole shape has that shape: (N, 1) like the output.
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            discriminator = nn.Sequential(nn.Linear(10, 100), nn.Tanh(), nn.Linear(100, 1))
            real = discriminator(samples)
            loss = F.binary_cross_entropy_with_logits(real, torch.ones(real.size())) + \
                F.binary_cross_entropy_with_logits(real, torch.zeros(real.shape))
        """),
        # A reshape to (-1, 1) outside a loss: pairwise differences, broadcast on purpose.
        Valid("""
            import numpy as np
            centers = np.random.randn(16)
            distances = np.abs(points.reshape(-1, 1) - centers)
        """),
        # A known (N, 1) output squeezed before the loss: the squeeze is what aligns it with
        # the (N,) target, and a last batch of one gives a scalar against (1,), the same loss.
        Valid("""
            import torch
            from torch import nn

            class Regressor(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
                    self.head = nn.Linear(16, 1)

                def forward(self, x):
                    return self.head(self.body(x))

            model = Regressor()
            criterion = nn.BCEWithLogitsLoss()
            for x, y in loader:
                loss = criterion(model(x).squeeze(), y.float())
                mse = ((model(x).squeeze() - y) ** 2).mean()
        """),
        Valid("""
            import numpy as np
            probabilities = counts / counts.sum(axis=1, keepdims=True)
        """),
        Valid("""
            import numpy as np
            centred = data - data.mean(axis=0)
        """),
        Valid("""
            import numpy as np
            probabilities = counts / counts.sum(axis=1)[:, None]
        """),
        Valid("""
            import torch
            attention = scores / scores.sum(1, keepdim=True)
            average = features.sum(dim=1) / lengths
        """),
        Valid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
            y = torch.randn(64)
            loss = F.mse_loss(model(x).squeeze(1), y)
        """),
        Valid("""
            import torch
            from torch import nn
            head = nn.Linear(32, 1)
            target = torch.randn(64).unsqueeze(1)
            loss = nn.MSELoss()(head(features), target)
        """),
        Valid("""
            import numpy as np
            v = np.random.randn(5, 1)
            outer = v @ v.T
        """),
        Valid("""
            import torch.nn.functional as F
            predictions = net(x).squeeze(-1)
            loss = F.binary_cross_entropy_with_logits(predictions, y)
            print(net(x).squeeze())
        """),
        Valid("""
            import numpy as np
            weights = weights / weights.sum(-1)
            normalised = x.sum(axis=1) / x.shape[1]
        """),
        Valid("""
            from torch.nn import MSELoss
            loss_fct = MSELoss()
            loss = loss_fct(logits.squeeze(), labels.squeeze())
        """),
        Valid("""
            import torch
            from torch import nn
            regressor = nn.Linear(4, 1)
            target = torch.randn(64, 1)
            error = regressor(inputs) - target
        """),
        Valid("""
            import numpy as np
            import torch
            from torch import nn
            model = nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 1))
            targets = torch.from_numpy(np.squeeze(labels, axis=1)).float()
            loss = nn.L1Loss()(model(features).squeeze(1), targets)
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn
            model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
            for batch in loader:
                loss = F.smooth_l1_loss(model(batch[:, :8]), batch[:, 8:9])
                loss = F.smooth_l1_loss(model(batch[:, :8]), batch[:, 8].unsqueeze(1))
                loss = F.smooth_l1_loss(model(batch[:, :8]), batch[:, 8].view(-1, 1))
                loss = F.smooth_l1_loss(model(batch[:, :8]), batch[:, 8, None])
                loss = F.smooth_l1_loss(model(batch[:, :8])[:, 0], batch[:, 8])
        """),
        Valid("""
            import pandas as pd
            import torch
            import torch.nn.functional as F
            from torch import nn
            frame = pd.read_csv("houses.csv")
            prices = torch.tensor(frame[["price"]].values).float()
            model = nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 1))
            loss = F.mse_loss(model(features), prices)
        """),
        Valid("""
            import torch
            from torch import nn
            gate = nn.Linear(64, 1)
            mixed = torch.sigmoid(gate(hidden)) * memory[:, 0]
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn
            classifier = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
            scores = classifier(batch[:, :8])
            loss = F.cross_entropy(scores, batch[:, 8].long())
            loss = F.mse_loss(scores, batch[:, 8:10])
        """),
        Valid("""
            from torch import nn
            model = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
            criterion = nn.BCELoss()
            loss = criterion(model(x), labels[:, :1])
        """),
        Valid("""
            import torch
            from torch import nn

            class Segmenter(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU())
                    self.out = nn.Conv2d(32, 1, kernel_size=1)

                def forward(self, x):
                    return torch.sigmoid(self.out(self.encoder(x)))

            model = Segmenter()
            criterion = nn.MSELoss()
            for images, masks in loader:
                loss = criterion(model(images), masks[:, :1])
                loss = criterion(model(images), torch.squeeze(masks, 1).unsqueeze(1))
                loss = criterion(model(images).squeeze(1), masks[:, 0])
                loss = criterion(model(images), masks.squeeze(-1))
        """),
        Valid("""
            import torch.nn.functional as F
            from torch import nn
            model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 4, 1))
            loss = F.cross_entropy(model(images), masks[:, 0].long())
        """),
        # The boolean mask flattens batch and time into the leading axis (fairseq's Tacotron2
        # loss): squeeze() drops the trailing axis of size 1, never a batch.
        Valid("""
            import torch.nn.functional as F

            def eos_loss(eos_out, eos_target, lengths):
                mask = lengths_to_mask(lengths)
                return F.binary_cross_entropy_with_logits(eos_out[mask].squeeze(), eos_target[mask])
        """),
        Valid("""
            import jax.numpy as jnp
            import tensorflow as tf
            probabilities = counts / jnp.sum(counts, axis=1, keepdims=True)
            shares = counts / jnp.sum(counts, axis=-1)[..., None]
            centred = features - tf.reduce_mean(features, axis=1, keepdims=True)
        """),
        Valid("""
            import flax.linen as nn
            import jax.numpy as jnp
            import optax

            class Regressor(nn.Module):
                @nn.compact
                def __call__(self, x, y):
                    prediction = nn.Dense(1)(nn.relu(nn.Dense(64)(x)))
                    squared = jnp.mean((jnp.squeeze(prediction, -1) - y) ** 2)
                    return optax.l2_loss(jnp.squeeze(prediction, -1), y).mean()
        """),
        Valid("""
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                                         tf.keras.layers.Dense(1)])
            for features, prices in dataset:
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.keras.losses.mse(prices, model(features)))
        """),
        # A reduction known only from a framework's table (no torch or numpy name in the file).
        Valid("""
            import jax.numpy as jnp

            def rescale(scores):
                return scores / jnp.max(scores, axis=1, keepdims=True)
        """),
        # TF1 linear regression with the labels as a column, or the product squeezed; a (1,)
        # bias broadcasts as meant.
        Valid("""
            import tensorflow as tf
            X = tf.placeholder(tf.float32, [None, 13])
            Y = tf.placeholder(tf.float32, [None, 1])
            Z = tf.placeholder(tf.float32, [None])
            W = tf.Variable(tf.random_normal([13, 1]))
            b = tf.Variable(tf.zeros([1]))
            pred = tf.matmul(X, W) + b
            cost = tf.reduce_mean(tf.square(pred - Y))
            other = tf.reduce_mean(tf.square(tf.squeeze(pred, 1) - Z))
        """),
        # A subclassed Keras model outputs what its `call` returns: an (N, 1) column.
        Valid("""
            import tensorflow as tf

            class Regressor(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = tf.keras.layers.Dense(64, activation="relu")
                    self.price = tf.keras.layers.Dense(1)

                def call(self, x):
                    return self.price(self.hidden(x))

            model = Regressor()
            for features, prices in dataset:
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.keras.losses.mse(prices, model(features)))
        """),
        # The function keeps the axis, or reduces the axis that broadcasts correctly, or its
        # result meets another value.
        Valid("""
            import torch

            def row_totals(scores):
                return scores.sum(dim=1, keepdim=True)

            def column_totals(scores):
                return scores.sum(dim=0)

            def unkept_totals(scores):
                return scores.sum(dim=1)

            weights = attention / row_totals(attention)
            shares = attention / column_totals(attention)
            scaled = other / unkept_totals(attention)
        """),
        # The labels a placeholder of shape (N, 1), like the product: no broadcast.
        Valid("""
            import tensorflow as tf
            N, d = 100, 10
            x = tf.placeholder(tf.float32, (N, d))
            y = tf.placeholder(tf.float32, (N, 1))
            W = tf.Variable(tf.random_normal((d, 1)))
            loss = tf.reduce_sum((y - tf.matmul(x, W)) ** 2)
        """),
        # A norm's order comes before its axis: `np.linalg.norm(v, 2)` and `v.norm(2)` are the
        # 2-norm of the whole value, a scalar, which broadcasts over anything.
        Valid("""
            import numpy as np
            centroid = np.mean(clip_vectors, axis=0)
            unit_centroid = centroid / np.linalg.norm(centroid, 2)
            direction = offsets / offsets.norm(2)
        """),
        # A value shown to have one axis has no axis 1: reducing along it raises, nothing
        # broadcasts.
        Valid("""
            import torch
            flat = activations.reshape(-1)
            shares = flat / flat.sum(dim=1)
        """),
        # A constructor given a shape object makes a tensor of as many axes as that shape holds,
        # so its `.T` may be a real transpose.
        Valid("""
            import torch
            noise = torch.randn(layer.weight.shape)
            jittered = inputs @ noise.T
            kernel_dims = tuple(kernel.shape)
            probe = torch.rand(kernel_dims)
            probed = inputs @ probe.T
            grid = torch.zeros(*grid_sizes)
            swapped = grid.T
        """),
    ]
    INVALID = [
        # The target made a column on purpose, the (N, 1) output squeezed: (N,) against (N, 1).
        Invalid("""
            import torch.nn.functional as F
            from torch import nn

            head = nn.Linear(32, 1)
            predicted = head(features).squeeze()
            loss = F.mse_loss(predicted, targets.view(-1, 1))
        """, line=6, related_lines=(5, 6)),
        Invalid("""
            import numpy as np
            probabilities = counts / counts.sum(axis=1)
        """, line=2, unsafe=True, fixed="""
            import numpy as np
            probabilities = counts / counts.sum(axis=1, keepdims=True)
        """),
        Invalid("""
            import torch
            attention = scores / scores.sum(dim=1)
        """, line=2, unsafe=True, fixed="""
            import torch
            attention = scores / scores.sum(dim=1, keepdim=True)
        """),
        Invalid("""
            import numpy as np
            totals = counts.sum(1)
            frequencies = counts / totals
        """, line=2, related_lines=(3,)),
        Invalid("""
            import numpy as np
            centred = data - np.mean(data, axis=1)
        """, line=2, unsafe=True, fixed="""
            import numpy as np
            centred = data - np.mean(data, axis=1, keepdims=True)
        """),
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
            y = torch.randn(64)
            loss = F.mse_loss(model(x), y)
        """, line=6, related_lines=(4, 5)),
        Invalid("""
            import pandas as pd
            import torch
            from torch import nn

            class Regressor(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.out = nn.Linear(32, 1)

                def forward(self, x):
                    return self.out(x)

            frame = pd.read_csv("houses.csv")
            prices = torch.tensor(frame["price"].values).float()
            criterion = nn.MSELoss()
            loss = criterion(Regressor()(features), prices)
        """, line=16, related_lines=(8, 14)),
        Invalid("""
            import torch
            from torch import nn
            net = nn.Linear(4, 1)
            targets = torch.rand(128)
            residual = net(inputs) - targets
        """, line=5, related_lines=(3, 4)),
        Invalid("""
            import numpy as np
            v = np.random.randn(5)
            outer = np.dot(v, v.T)
        """, line=3, related_lines=(2,)),
        Invalid("""
            from torch import nn
            criterion = nn.BCEWithLogitsLoss()
            predictions = net(x).squeeze()
            loss = criterion(predictions, y)
        """, line=3, related_lines=(4,)),
        # Near miss: a slice keeps the batch axis in front, so squeeze() can still drop it.
        Invalid("""
            import torch.nn.functional as F

            def eos_loss(eos_out, eos_target, steps):
                return F.binary_cross_entropy_with_logits(eos_out[:, :steps].squeeze(),
                                                          eos_target[:, :steps])
        """, line=4, related_lines=(4,)),
        Invalid("""
            import torch
            import torch.nn.functional as F
            loss = F.l1_loss(torch.squeeze(model(x)), y)
        """, line=3, related_lines=(3,)),
        Invalid("""
            import numpy as np
            import torch
            from torch import nn
            model = nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 1))
            targets = torch.from_numpy(np.squeeze(labels)).float()
            loss = nn.L1Loss()(model(features), targets)
        """, line=6, related_lines=(4, 5)),
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn

            class Regressor(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.hidden = nn.Linear(8, 32)
                    self.head = nn.Linear(32, 1)

                def forward(self, x):
                    return self.head(torch.relu(self.hidden(x)))

            model = Regressor()
            for batch in loader:
                prediction = model(batch[:, :8])
                loss = F.smooth_l1_loss(prediction, batch[:, 8])
        """, line=17, related_lines=(9, 17)),
        Invalid("""
            from torch import nn
            model = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
            criterion = nn.BCELoss()
            loss = criterion(model(x), labels[:, 0])
        """, line=4, related_lines=(2, 4)),
        Invalid("""
            import torch
            from torch import nn

            class Segmenter(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoder = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU())
                    self.out = nn.Conv2d(32, 1, kernel_size=1)

                def forward(self, x):
                    return torch.sigmoid(self.out(self.encoder(x)))

            model = Segmenter()
            criterion = nn.MSELoss()
            for images, masks in loader:
                loss = criterion(model(images), torch.squeeze(masks, 1))
        """, line=16, related_lines=(8, 16)),
        Invalid("""
            import torch.nn.functional as F
            from torch import nn
            head = nn.Conv2d(64, 1, kernel_size=1)
            for features, masks in loader:
                loss = F.l1_loss(head(features), masks[:, 0])
        """, line=5, related_lines=(3, 5)),
        Invalid("""
            import numpy as np
            import torch
            from torch import nn
            model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 1, 1))
            mask = torch.from_numpy(np.squeeze(mask_array)).float()
            loss = nn.BCEWithLogitsLoss()(model(images), mask)
        """, line=6, related_lines=(4, 5)),
        Invalid("""
            import jax.numpy as jnp
            probabilities = counts / jnp.sum(counts, axis=1)
        """, line=2, unsafe=True, fixed="""
            import jax.numpy as jnp
            probabilities = counts / jnp.sum(counts, axis=1, keepdims=True)
        """),
        Invalid("""
            import tensorflow as tf
            centred = features - tf.reduce_mean(features, axis=1)
        """, line=2, unsafe=True, fixed="""
            import tensorflow as tf
            centred = features - tf.reduce_mean(features, axis=1, keepdims=True)
        """),
        Invalid("""
            import flax.linen as nn
            import jax.numpy as jnp
            import optax

            class Regressor(nn.Module):
                @nn.compact
                def __call__(self, x, y):
                    prediction = nn.Dense(1)(nn.relu(nn.Dense(64)(x)))
                    return optax.l2_loss(prediction, jnp.squeeze(y, -1)).mean()
        """, line=9, related_lines=(8, 9)),
        # A squared error written out is compared like an elementwise loss's arguments.
        Invalid("""
            import flax.linen as nn
            import jax.numpy as jnp

            class Regressor(nn.Module):
                @nn.compact
                def __call__(self, x, y):
                    prediction = nn.Dense(1)(nn.relu(nn.Dense(64)(x)))
                    return jnp.mean((prediction - jnp.squeeze(y, -1)) ** 2)
        """, line=8, related_lines=(7, 8)),
        # Keras 2's loss functions (not its loss classes) subtract without matching ranks.
        Invalid("""
            import tensorflow as tf
            model = tf.keras.Sequential([tf.keras.layers.Dense(64, activation="relu"),
                                         tf.keras.layers.Dense(1)])
            for features, prices in dataset:
                with tf.GradientTape() as tape:
                    targets = tf.squeeze(prices, axis=-1)
                    loss = tf.reduce_mean(tf.keras.losses.mse(targets, model(features)))
        """, line=7, related_lines=(3, 6)),
        # The rule's text gate is computed from the reductions' rows: `jnp.max` alone lets the
        # file through.
        Invalid("""
            import jax.numpy as jnp

            def rescale(scores):
                return scores / jnp.max(scores, axis=1)
        """, line=4, unsafe=True, fixed="""
            import jax.numpy as jnp

            def rescale(scores):
                return scores / jnp.max(scores, axis=1, keepdims=True)
        """),
        # TF1: the product with a (13, 1) weight is (N, 1); the labels are a [None] placeholder.
        Invalid("""
            import tensorflow as tf
            X = tf.placeholder(tf.float32, [None, 13])
            Y = tf.placeholder(tf.float32, [None])
            W = tf.Variable(tf.random_normal([13, 1]))
            b = tf.Variable(tf.zeros([1]))
            pred = tf.matmul(X, W) + b
            cost = tf.reduce_mean(tf.square(pred - Y))
        """, line=7, related_lines=(3, 6)),
        Invalid("""
            import tensorflow as tf
            features = tf.compat.v1.placeholder(tf.float32, shape=[None, 8])
            labels = tf.compat.v1.placeholder(tf.float32, shape=[None])
            weights = tf.compat.v1.get_variable("weights", shape=[8, 1])
            loss = tf.reduce_mean(tf.abs(features @ weights - labels))
        """, line=5, related_lines=(3, 5)),
        Invalid("""
            import tensorflow as tf

            class Regressor(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.hidden = tf.keras.layers.Dense(64, activation="relu")
                    self.price = tf.keras.layers.Dense(1)

                def call(self, x):
                    return self.price(self.hidden(x))

            model = Regressor()
            for features, prices in dataset:
                with tf.GradientTape() as tape:
                    targets = tf.squeeze(prices, axis=-1)
                    loss = tf.reduce_mean(tf.keras.losses.mse(targets, model(features)))
        """, line=16, related_lines=(7, 15)),
        # The reduction is returned by a function of the file.
        Invalid("""
            import torch

            def row_totals(scores):
                return scores.sum(dim=1)

            totals = row_totals(attention)
            weights = attention / totals
        """, line=4, related_lines=(7,)),
        Invalid("""
            import jax.numpy as jnp

            def totals_of(counts):
                return jnp.sum(counts, axis=1)

            frequencies = counts / totals_of(counts)
        """, line=4, related_lines=(6,)),
        # ... or by a closure over the value it reduces.
        Invalid("""
            import torch

            def normalise(scores):
                def totals():
                    return scores.sum(dim=1)
                return scores / totals()
        """, line=5, related_lines=(6,)),
        # Arithmetic with numbers keeps a rank-1 array rank 1.
        Invalid("""
            import numpy as np
            v = np.random.randn(5) * 0.1 + 1.0
            outer = np.dot(v, v.T)
        """, line=3, related_lines=(2,)),
        # With the order and the axis both written, the norm is along axis 1.
        Invalid("""
            import numpy as np
            unit_rows = embeddings / np.linalg.norm(embeddings, 2, 1)
        """, line=2, unsafe=True, fixed="""
            import numpy as np
            unit_rows = embeddings / np.linalg.norm(embeddings, 2, 1, keepdims=True)
        """),
        Invalid("""
            import torch
            grid = activations.reshape(batch, -1)
            shares = grid / grid.norm(2, 1)
        """, line=3, unsafe=True, fixed="""
            import torch
            grid = activations.reshape(batch, -1)
            shares = grid / grid.norm(2, 1, keepdim=True)
        """),
        # One element of a shape is one size: a 1-D tensor. numpy's randn takes sizes only, so
        # whatever name it is given is one size too.
        Invalid("""
            import numpy as np
            import torch
            noise = torch.randn(layer.weight.shape[0])
            jittered = inputs * noise.T
            bias = np.random.randn(width)
            shifted = np.dot(bias, bias.T)
        """, line=4, related_lines=(3,), more_lines=(6,)),
        # A constructor given a length, not a shape, still makes an (N,) target.
        Invalid("""
            import torch
            import torch.nn.functional as F
            from torch import nn
            discriminator = nn.Sequential(nn.Linear(10, 100), nn.Tanh(), nn.Linear(100, 1))
            real = discriminator(samples)
            loss = F.binary_cross_entropy_with_logits(real, torch.ones(real.size(0)))
        """, line=6, related_lines=(4, 6)),

        # A placeholder's first axis is the batch whether written None or a size: `(N,)` labels.
        Invalid("""
            import tensorflow as tf
            N, d = 100, 10
            x = tf.placeholder(tf.float32, (N, d))
            y = tf.placeholder(tf.float32, (N,))
            W = tf.Variable(tf.random_normal((d, 1)))
            y_pred = tf.matmul(x, W)
            loss = tf.reduce_sum((y - y_pred) ** 2)
        """, line=7, related_lines=(4, 6)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.reductions: list[dict[str, tuple[cst.Call, str]]] = [{}]
        self.open_functions: list[cst.FunctionDef] = []
        # Functions of the file (seen so far) returning a reduction of one of their parameters:
        # name -> (the reduction, the parameter's position, the parameter's name)
        self.reducers: dict[str, tuple[cst.Call, int, str]] = {}
        # per open function: its closures that reduce one of its names -> (reduction, name)
        self.closures: list[dict[str, tuple[cst.Call, cst.BaseExpression]]] = []
        self.reported: set[int] = set()

    def code_of(self, node: cst.CSTNode) -> str:
        return self.context.module.code_for_node(node).strip()

    # ---- x / x.sum(axis=1) ------------------------------------------------------------------

    def reduction(self, node: cst.BaseExpression) -> tuple[cst.Call, cst.BaseExpression] | None:
        """(call, reduced value) for `x.sum(axis=1)` / `np.sum(x, axis=1)` without keepdims, or
        for a call of a function of the file that returns such a reduction of its parameter
        (`row_totals(x)`), the call being the reduction inside it."""
        if not isinstance(node, cst.Call):
            return None
        func = node.func
        qualified = self.imports.call_name(node) or ""
        if isinstance(func, cst.Name) and not qualified:
            for closures in reversed(self.closures):
                if func.value in closures:  # a closure reducing a name of its enclosing function
                    return closures[func.value]
            if func.value in self.reducers:
                inner, position, parameter = self.reducers[func.value]
                passed = argument(node, position, parameter)
                return (inner, passed.value) if passed is not None else None
        if isinstance(func, cst.Attribute) and func.attr.value in REDUCTIONS and not qualified:
            axis_at = 1 if func.attr.value in ORDER_BEFORE_AXIS else 0
            reduced, axis = func.value, argument(node, axis_at, "axis") or keyword(node, "dim")
        elif qualified in catalog.REDUCTION_FUNCTIONS or (
                qualified.rsplit(".", 1)[-1] in REDUCTIONS
                and qualified.startswith(("numpy.", "torch."))):
            first_arg = positional(node, 0)
            if first_arg is None:
                return None
            axis_at = 2 if qualified.rsplit(".", 1)[-1] in ORDER_BEFORE_AXIS else 1
            reduced = first_arg.value
            axis = argument(node, axis_at, "axis") or keyword(node, "dim")
        else:
            return None
        if axis is None or any(keyword(node, flag) is not None
                               for flag in ("keepdims", "keepdim", "keep_dims")):
            return None
        value = number(axis.value)
        if value is None or value < 1:  # axis 0 broadcasts correctly; -1 is fine on 1-D data
            return None
        rank = known_rank(self.facts.value(reduced))
        if rank is not None and value >= int(rank.detail):
            return None  # a 0-D or 1-D value has no axis 1 to reduce: it raises, never broadcasts
        return node, reduced

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.reductions.append({})
        self.open_functions.append(node)
        self.closures.append({})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.reductions.pop()
        self.open_functions.pop()
        self.closures.pop()

    def visit_Return(self, node: cst.Return) -> None:
        # `def row_totals(x): return x.sum(axis=1)`: its calls reduce what they pass as `x`
        if not self.open_functions or node.value is None:
            return
        found = self.reduction(node.value)
        if found is None or not isinstance(found[1], cst.Name):
            return
        function = self.open_functions[-1]
        positional = [*function.params.posonly_params, *function.params.params]
        for position, param in enumerate(positional):
            if param.name.value == found[1].value:
                self.reducers.setdefault(function.name.value,
                                         (found[0], position, param.name.value))
                return
        if len(self.open_functions) > 1 and found[1].value not in _parameter_names(function):
            # `def totals(): return scores.sum(dim=1)` nested where `scores` is a local: known
            # to the enclosing function only
            self.closures[-2].setdefault(function.name.value, found)

    def visit_Assign(self, node: cst.Assign) -> None:
        found = self.reduction(node.value)
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                if found is None:
                    self.reductions[-1].pop(target.target.value, None)
                else:
                    self.reductions[-1][target.target.value] = (found[0], self.code_of(found[1]))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Power) and _is_difference(node.left):
            self.check_difference_loss(node.left)  # (pred - y) ** 2: a hand-written loss
        if not isinstance(node.operator, ELEMENTWISE):
            return
        for reduced_side, other in ((node.right, node.left), (node.left, node.right)):
            found = self.reduction(reduced_side)
            if found is not None and self.code_of(found[1]) == self.code_of(other):
                # through a function, the fix would belong in it, for all its callers: none
                self.report_reduction(found[0], None if found[0] is reduced_side else node)
                return
            if isinstance(reduced_side, cst.Name) and reduced_side.value in self.reductions[-1]:
                call, reduced_code = self.reductions[-1][reduced_side.value]
                if reduced_code == self.code_of(other):
                    self.report_reduction(call, node)
                    return
        self.check_column_against_rank1(node, node.left, node.right)

    def report_reduction(self, call: cst.Call, combined: cst.CSTNode | None) -> None:
        if id(call) in self.reported:
            return
        self.reported.add(id(call))
        # numpy arrays have no norm method: `x.norm(2, 1)` is a tensor's.
        torch_style = keyword(call, "dim") is not None or (
            (self.imports.call_name(call) or "").startswith("torch.")) or (
            isinstance(call.func, cst.Attribute) and call.func.attr.value in ORDER_BEFORE_AXIS
            and self.imports.call_name(call) is None)
        flag = "keepdim=True" if torch_style else "keepdims=True"
        fix = None
        if combined is None:
            last = call.args[-1]
            fix = NodeFix.wrap(last.value, "", f", {flag}", description=f"Add `{flag}`",
                               applicability=Applicability.UNSAFE)
        related = [(combined, "combined with the unreduced value here")] if combined else []
        self.report(call, f"reduction along axis 1 without `{flag}` is combined with the value "
                          f"it reduces: shape (N, M) meets (N,), which broadcasts along the wrong "
                          f"axis (silently when N == M); add `{flag}`", fix=fix, related=related)

    # ---- (N, 1) output against an (N,) target ----------------------------------------------

    @staticmethod
    def missing_axis(output: Value, target: Value, in_loss: bool, library_loss: bool = False
                     ) -> tuple[Tag, Tag, str, str, str, str] | None:
        """(output tag, target tag, output shape, target shape, broadcast shape, fix) when an
        output with a size-1 axis 1 meets a target without that axis. Outside a loss only a
        known rank-1 array counts: `gate(h) * memory[:, 0]` is (N, 1) * (N, D) when memory is
        (N, T, D), a broadcast meant to happen."""
        column = first(output, COLUMN)
        # A reshape to (-1, 1) outside a library loss is how pairwise differences are written on
        # purpose (`(a.reshape(-1, 1) - b) ** 2` is a distance matrix as often as a loss).
        if column is not None and (library_loss or column.info != "reshape"):
            missing = first(target, RANK1) or (first(target, AXIS_DROPPED) if in_loss else None)
            if missing is not None and column.info == "reshape":
                return (column, missing, "(N, 1)", "(N,)", "(N, N)",
                        "give both sides one shape: drop the reshape to (N, 1), or squeeze "
                        "only where the other side is (N,)")
            if missing is not None:
                return (column, missing, "(N, 1)", "(N,)", "(N, N)",
                        "squeeze the output's last axis or reshape the target to (N, 1)")
        channel = first(output, SINGLE_CHANNEL)
        if channel is not None and in_loss:
            # y.squeeze(-1) removes W (when it is 1), not the channel axis: only axis 1 counts.
            missing = next((tag for tag in tags(target, AXIS_DROPPED) if tag.info in ("1", "unit")),
                           None)
            if missing is not None:
                shape = channel.info
                return (channel, missing, shape, shape.replace(", 1", ""), shape.replace("1", "N"),
                        "squeeze the output's channel axis (`squeeze(1)`) or keep the target's "
                        "(`unsqueeze(1)`)")
        return None

    def check_difference_loss(self, difference: cst.BinaryOperation) -> None:
        """`(pred - y) ** 2`, `jnp.abs(pred - y)`: a squared or absolute error written out,
        compared like an elementwise loss's input and target."""
        self.check_column_against_rank1(difference, difference.left, difference.right,
                                        "a squared or absolute error")

    def check_column_against_rank1(self, sink: cst.CSTNode, left, right, loss: str = "",
                                   raising: str = "", library_loss: bool = False) -> None:
        """`loss`: the loss that compares left and right, if any; `raising`: that loss, when it
        raises on different shapes rather than broadcasting."""
        left_value, right_value = self.facts.value(left), self.facts.value(right)
        for output, target in ((left_value, right_value), (right_value, left_value)):
            found = self.missing_axis(output, target, bool(loss), library_loss)
            if found is not None and id(sink) not in self.reported:
                origin, missing, shape, target_shape, broadcast, fix = found
                self.reported.add(id(sink))
                if missing.node is not None:
                    self.reported.add(id(missing.node))  # not also the squeeze() message
                what = missing.detail  # `masks[:, 0]` says more than `[:, 0]`, if it is short
                code = self.code_of(missing.node) if missing.node is not None else ""
                if missing.kind == AXIS_DROPPED and code and len(code) <= 40:
                    what = f"`{code}`"
                outcome = (f"`{raising}` raises a ValueError for a target whose shape differs "
                           "from the input's" if raising else f"they broadcast to {broadcast}")
                # A reshaped column may sit on either side of the loss: name neither the output.
                role, other = ("value", "value") if origin.info == "reshape" else ("output", "target")
                self.report(sink, f"an {shape} {role} from {origin.detail} meets an "
                                  f"{target_shape} {other} ({what}): {outcome}; {fix}",
                            related=[*self.origin_of(origin, f"{shape} {role} made here"),
                                     *self.origin_of(missing, f"{target_shape} {other} made here")])
                return


    # ---- losses, .T on rank-1 ---------------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if (qualified or "").rsplit(".", 1)[-1] in DIFFERENCE_LOSSES and node.args \
                and _is_difference(node.args[0].value):
            self.check_difference_loss(node.args[0].value)
            return
        loss, display = None, ""
        prediction_at, prediction_keyword = 0, "input"
        if qualified in LOSS_FUNCTION_NAMES:
            row = catalog.LOSS_FUNCTIONS[qualified]
            loss, display = qualified, row.display
            prediction_at, prediction_keyword = row.argument, row.keyword
        else:
            callee = first(self.facts.value(node.func), LOSS) if not qualified else None
            if callee is not None:
                loss, display = callee.info.qualified, callee.info.display
        if loss is None:
            return
        # Keras losses take (y_true, y_pred): the target is the other of the first two.
        prediction = argument(node, prediction_at, prediction_keyword)
        target = argument(node, 1 - prediction_at,
                          catalog.LOSS_TARGET_KEYWORDS.get(prediction_keyword, "target"))
        if prediction is None or target is None:
            return
        if loss in catalog.SAME_SHAPE_LOSSES:
            self.check_column_against_rank1(
                node, prediction.value, target.value, loss,
                "" if loss in catalog.BROADCASTING_LOSSES else display, library_loss=True)
        squeezed_sides = [first(self.facts.value(arg.value), SQUEEZED) for arg in (prediction, target)]
        if all(squeezed_sides):
            return  # both sides squeezed alike: a batch of one becomes two scalars, consistently
        for squeezed in squeezed_sides:
            if squeezed is not None and squeezed.node is not None and id(squeezed.node) not in self.reported:
                self.reported.add(id(squeezed.node))
                self.report(squeezed.node, "`squeeze()` without a dim also drops the batch axis "
                                           "when a batch has one sample (often the last one), "
                                           "and the loss then broadcasts or fails; squeeze the "
                                           "axis you mean (`squeeze(-1)`)",
                            related=[(node, "reaches the loss here")])

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "T":
            return
        rank1 = first(self.facts.value(node.value), RANK1)
        if rank1 is not None and rank1.node is not None and id(node) not in self.reported:
            self.reported.add(id(node))
            self.report(node, f"`.T` of a rank-1 array (from `{rank1.detail}`) is the same array, "
                              "not a column; create it with shape (n, 1) or use `reshape(-1, 1)`",
                        related=[(rank1.node, "rank-1 array made here")])


def _is_difference(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Subtract)


def _parameter_names(function: cst.FunctionDef) -> set[str]:
    params = function.params
    return {param.name.value for param in (*params.posonly_params, *params.params,
                                           *params.kwonly_params)}
