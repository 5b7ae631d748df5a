"""DL005: uint8 or float64 data reaching float32 weights, uint8 arithmetic that wraps around, and
casts to uint8 that truncate [0, 1] values or wrap pixels pushed out of 0-255."""

from __future__ import annotations

import re

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.effects import Effect
from dllint.semantic.syntax import argument, keyword, positional
from dllint.semantic.values import (
    FLOAT64, MODULE, OUT_OF_RANGE, PROBABILITIES, UINT8, UNIT_RANGE, Tag, Value, first, has)

MODEL_NAME = re.compile(catalog.MODEL_NAME_PATTERN)
WRAPPING_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply)


def _is_int_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.UnaryOperation):
        return _is_int_literal(node.expression)
    return isinstance(node, cst.Integer)



# Names of uint8 arrays that hold class ids rather than pixel intensities: segmentation masks and
# label maps read as images, whose values are shifted on purpose (`mask - 1`).
LABEL_MAP_WORDS = ("mask", "label", "trimap", "seg", "annotation", "target")


def _names_label_map(node: cst.BaseExpression) -> bool:
    name = node.attr.value if isinstance(node, cst.Attribute) else \
        node.value if isinstance(node, cst.Name) else ""
    return any(word in name.lower() for word in LABEL_MAP_WORDS)

class _Uint8Checks(cst.CSTVisitor):
    """Expressions a scope asserts to be uint8: `assert x.dtype == np.uint8`, or
    `if x.dtype != np.uint8: raise ...`. Arithmetic on them wraps on purpose (label - 1 maps the
    ignore index 0 to 255)."""

    def __init__(self, is_uint8) -> None:
        super().__init__()
        self.is_uint8 = is_uint8
        self.checked: list[cst.BaseExpression] = []

    def visit_Assert(self, node: cst.Assert) -> None:
        self._record(node.test, (cst.Equal, cst.Is))

    def visit_If(self, node: cst.If) -> None:
        body = node.body.body
        last = body[-1] if body else None
        if isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Raise):
            self._record(node.test, (cst.NotEqual, cst.IsNot))

    def _record(self, test: cst.BaseExpression, operators: tuple) -> None:
        if isinstance(test, cst.BooleanOperation) and isinstance(
                test.operator, cst.And if cst.Equal in operators else cst.Or):
            self._record(test.left, operators)  # assert x.dtype == np.uint8 and x.ndim == 2
            self._record(test.right, operators)
            return
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return
        comparison = test.comparisons[0]
        if not isinstance(comparison.operator, operators):
            return
        for dtype_side, other in ((test.left, comparison.comparator),
                                  (comparison.comparator, test.left)):
            if isinstance(dtype_side, cst.Attribute) and dtype_side.attr.value == "dtype" and \
                    self.is_uint8(other):
                self.checked.append(dtype_side.value)


class DtypeCasts(Rule):
    """
    ## What it does
    Flags float64 numpy data (`np.random.rand`, `np.zeros` without `dtype=`, pandas `.values`,
    a numpy uint8 image divided by 255) turned into a tensor with `torch.from_numpy`,
    `torch.tensor` or `torch.as_tensor` and fed to a model or a `TensorDataset` without
    `.float()` or `dtype=`; uint8 images (`cv2.imread`, a PIL image through `np.asarray`, kept
    uint8 by `cv2.resize`, `cv2.cvtColor`, `.permute`) fed to a model unconverted; and arithmetic
    on uint8 images with integers (`image - 128`) or with another uint8 image
    (`frame - background`), which wraps around modulo 256: an integer is a literal, a parameter
    with an integer default or an `int` annotation, or, in a product divided right away
    (`image * percent / 100`), any factor not declared a float. Arithmetic on a value the function
    asserts is uint8 (`assert label.dtype == np.uint8`) is taken as intended.

    Keras, TensorFlow and JAX: uint8 images (`tf.io.decode_jpeg`/`decode_png`/`decode_image`,
    `tf.image.decode_*`, `keras.datasets.mnist.load_data()` and the other image datasets,
    `cv2.imread`) fed to `model.fit`, `model.predict` or `model(x)` of a Keras model whose first
    weighted layer takes them as given (no `Rescaling` before it) without being scaled; and uint8
    arithmetic on `jnp.asarray`/`jnp.array` arrays, which wraps around as in numpy.

    Casts to uint8 (`.astype(np.uint8)`, `.to(torch.uint8)`, `.byte()`, `np.uint8(x)`,
    `tf.cast(x, tf.uint8)`, `np.array(x, dtype=np.uint8)`) of values in [0, 1] (pixels just
    scaled by a division by 255 or `ToTensor()`, sigmoid or softmax probabilities), and such
    values written into a uint8 array (`np.zeros(shape, np.uint8)`); and casts back to uint8,
    without a clip, of uint8 pixels that float arithmetic can take out of 0-255 (`image * 1.2`,
    `image.astype(np.float32) + 40.0`, `image.float() * 1.3`; `tf.saturate_cast` clips). A uint8 image times a float is float (float64 in
    numpy, `0.5 * image` as well as `image * 0.5`), and is judged as such.

    ## Why is this bad?
    numpy defaults to float64 and torch keeps numpy's dtype, so float32 weights meet float64
    inputs: at best a dtype error far from its cause, at worst (after an implicit `.double()`
    of the model) twice the memory and a much slower model. uint8 arithmetic does not
    saturate: `100 - 128` is `228`, so a mean subtraction silently corrupts every dark pixel.
    A cast to uint8 truncates: [0, 1] values all become 0 (a black image, an empty mask), and
    300 becomes 44 when a brightened image is cast back unclipped.

    ## Example
    ```python
    features = np.random.rand(1000, 16)
    logits = model(torch.from_numpy(features))
    ```

    ## Use instead
    ```python
    features = np.random.rand(1000, 16).astype(np.float32)
    logits = model(torch.from_numpy(features))
    ```

    ## References
    Casting mistakes (uint8 images, numpy's float64 default) are a common source of silent or
    far-from-cause failures when implementing a model.
    """

    code = "DL005"
    name = "dtype-casts"
    summary = ("uint8/float64 data reaches float32 weights, uint8 arithmetic wraps around, or a "
               "cast to uint8 truncates [0, 1] values or wraps")
    consumes = (Effect.UINT8_SOURCE, Effect.UINT8_DECODER, Effect.UINT8_DATASET,
                Effect.FLOAT64_SOURCE, Effect.FLOAT64_CAST_METHOD)
    # A uint8 buffer or cast made on purpose (`dtype=np.uint8`, `.byte()`).
    requires_any = ("numpy", "cv2", "pandas", "Image", "jax", "uint8", "byte(")
    uses_model = True

    VALID = [
        # Raw bytes read as float32, or as uint8 and widened before the offset.
        Valid("""
            import numpy as np

            def samples(data):
                return np.frombuffer(data, dtype=np.float32) - 16

            def planes(data):
                yuv = np.frombuffer(data, dtype=np.uint8).astype(np.int16)
                return yuv - 128
        """),
        Valid("""
            import numpy as np
            import torch
            features = np.random.rand(100, 8)
            logits = model(torch.from_numpy(features).float())
        """),
        Valid("""
            import numpy as np
            import torch
            features = np.random.randn(100, 8)
            logits = model(torch.tensor(features, dtype=torch.float32))
        """),
        Valid("""
            import numpy as np
            import torch
            features = np.zeros((100, 8), dtype=np.float32)
            logits = model(torch.as_tensor(features))
        """),
        Valid("""
            import numpy as np
            import torch
            grid = np.linspace(0, 1, 50).astype(np.float32)
            values = net(torch.from_numpy(grid))
        """),
        Valid("""
            from torchvision.io import read_image
            image = read_image(path).div(255)
            logits = model(image.unsqueeze(0))
        """),
        Valid("""
            import cv2
            import numpy as np
            image = cv2.imread(path).astype(np.float32)
            centred = image - 128
            inverted = 255 - cv2.imread(path)
        """),
        Valid("""
            import numpy as np
            import torch
            labels = torch.from_numpy(np.random.randint(0, 10, size=100))
            loss = criterion(model(inputs), labels)
        """),
        Valid("""
            import numpy as np
            weights = np.random.rand(10)
            total = float(np.sum(weights * 2))
        """),
        Valid("""
            import numpy as np
            import pandas as pd
            import torch
            frame = pd.read_csv("train.csv")
            features = torch.tensor(frame.values, dtype=torch.float32)
            logits = model(features)
        """),
        Valid("""
            import numpy as np
            class_mask = (mask == index).astype(np.uint8)
            colour = np.array(palette[index], dtype=np.uint8).reshape(3, 1, 1)
            rgb = np.expand_dims(class_mask, 0) * colour
        """),
        Valid("""
            import cv2
            image = cv2.imread(path)
            scaled = image / 255.0 - 0.5
            mask = image > 128
        """),
        # Near miss: resized and converted with cv2, but made float and scaled before the model.
        Valid("""
            import cv2
            import torch
            image = cv2.imread(path)
            image = cv2.cvtColor(cv2.resize(image, (224, 224)), cv2.COLOR_BGR2RGB)
            batch = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).float() / 255
            logits = model(batch)
        """),
        Valid("""
            import numpy as np
            import torch
            from PIL import Image
            pixels = np.asarray(Image.open(path).convert("RGB"))
            tensor = torch.from_numpy(pixels.transpose(2, 0, 1)).float().unsqueeze(0)
            scores = classifier(tensor)
        """),
        # Near miss: one side widened first, so the difference can go negative.
        Valid("""
            import cv2
            import numpy as np
            frame = cv2.imread(frame_path)
            background = cv2.imread(background_path)
            foreground = frame.astype(np.int16) - background
        """),
        # Asserted to be uint8 right here: the wrap is intended (0, unlabelled, becomes 255).
        Valid("""
            import numpy as np
            from PIL import Image

            def load_label(path):
                label = np.asarray(Image.open(path))
                assert label.dtype == np.uint8 and label.ndim == 2
                return label - 1
        """),
        Valid("""
            import cv2
            import numpy as np

            def read_label(path):
                label = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
                if label.dtype != np.uint8:
                    raise ValueError(f"labels must be uint8, not {label.dtype}")
                return label - 1
        """),
        # The module itself was converted to float64 (a gradient check): float64 is intended.
        Valid("""
            import torch
            from torch import nn

            def describe(patches, device):
                kernel = nn.Conv2d(1, 8, 3).double()
                kernel.to(device)
                return kernel(patches.double())
        """),
        Valid("""
            import torch
            from torch import nn
            regressor = nn.Linear(1, 1).to(dtype=torch.double)
            x = torch.linspace(0, 1, 50).double().unsqueeze(1)
            y = regressor(x)
        """),
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            x_train = x_train / 255.0
            model = keras.Sequential([layers.Flatten(), layers.Dense(128, activation="relu"),
                                      layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x_train.reshape(-1, 784), y_train, epochs=5)
        """),
        # A model that starts with Rescaling takes uint8 pixels and scales them itself.
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            model = keras.Sequential([keras.Input((28, 28, 1)), layers.Rescaling(1. / 255),
                                      layers.Flatten(), layers.Dense(10)])
            model.fit(x_train, y_train, epochs=5)
            model.evaluate(x_test, y_test)
        """),
        # Functional models: the layers applied to `keras.Input` decide, as for a layer list.
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(28, 28, 1))
            x = layers.Rescaling(1.0 / 255)(inputs)
            x = layers.Conv2D(32, 3, activation="relu")(x)
            outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
            model = keras.Model(inputs=inputs, outputs=outputs)
            (train_images, train_labels), _ = keras.datasets.mnist.load_data()
            model.fit(train_images, train_labels, epochs=5)
        """),
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(28, 28, 1))
            x = layers.Conv2D(32, 3, activation="relu")(inputs)
            outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
            model = keras.Model(inputs=inputs, outputs=outputs)
            (train_images, train_labels), _ = keras.datasets.mnist.load_data()
            train_images = train_images.reshape((60000, 28, 28, 1)).astype("float32") / 255
            model.fit(train_images, train_labels, epochs=5)
        """),
        # A model grown with `.add` that starts with Rescaling.
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            model = keras.Sequential()
            model.add(layers.Rescaling(1.0 / 255))
            model.add(layers.Flatten())
            model.add(layers.Dense(10))
            (x_train, y_train), _ = keras.datasets.fashion_mnist.load_data()
            model.fit(x_train, y_train)
        """),
        Valid("""
            import tensorflow as tf
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            batch = tf.expand_dims(tf.cast(image, tf.float32) / 255.0, 0)
            classifier = tf.keras.Sequential([tf.keras.layers.Conv2D(8, 3),
                                              tf.keras.layers.Flatten(),
                                              tf.keras.layers.Dense(2)])
            scores = classifier.predict(batch)
        """),
        Valid("""
            import cv2
            from keras import layers, models
            net = models.Sequential([layers.Conv2D(8, 3), layers.Flatten(), layers.Dense(1)])
            frame = cv2.resize(cv2.imread(path), (64, 64)).astype("float32") / 255
            output = net(frame[None])
        """),
        Valid("""
            import jax.numpy as jnp
            import numpy as np
            from PIL import Image
            pixels = jnp.asarray(np.asarray(Image.open(path)), dtype=jnp.float32)
            centred = pixels - 128
        """),
        Valid("""
            import jax.numpy as jnp
            palette = jnp.array(colours, dtype=jnp.uint8)
            brighter = palette * 2
        """),
        # Scaled back to 0-255 before the cast (either order of the product), or thresholded.
        Valid("""
            import cv2
            import numpy as np
            image = cv2.imread(path) / 255.0
            saved = (image * 255).astype(np.uint8)
            also = (255 * image).astype("uint8")
        """),
        Valid("""
            import torch
            probabilities = torch.sigmoid(logits)
            mask = (probabilities > 0.5).to(torch.uint8)
        """),
        # Clipped before the cast back; a dimming cannot leave 0-255; TF's saturate_cast clips.
        Valid("""
            import cv2
            import numpy as np
            image = cv2.imread(path)
            brighter = np.clip(image * 1.2, 0, 255).astype(np.uint8)
            darker = (image * 0.5).astype(np.uint8)
        """),
        Valid("""
            import tensorflow as tf
            image = tf.cast(tf.io.decode_png(data), tf.float32) + 40.0
            shown = tf.saturate_cast(image, tf.uint8)
        """),
        Valid("""
            import numpy as np
            import torch
            probabilities = torch.sigmoid(logits).numpy()
            canvas = np.zeros((height, width), np.uint8)
            canvas[:, :] = probabilities * 255
        """),
        # `0.5 * image` is float64: converted before the model.
        Valid("""
            import cv2
            import numpy as np
            import torch
            dimmed = 0.5 * cv2.imread(path)
            logits = model(torch.from_numpy(dimmed.astype(np.float32)))
        """),
        # Made float first, brightened, clipped, and only then cast back.
        Valid("""
            import cv2
            import numpy as np
            image = cv2.imread(path).astype(np.float32)
            image = np.clip(image * contrast + 20.0, 0, 255)
            saved = image.astype(np.uint8)
        """),
        Valid("""
            from torchvision.io import read_image
            frame = (read_image(path).float() * 1.3).clamp(0, 255).byte()
        """),
        # A uint8 image times a float factor is float: the division after it is safe.
        Valid("""
            import cv2
            import numpy as np

            def dim(path, factor: float = 0.8):
                image = np.roll(cv2.imread(path), 4, axis=0)
                return (image * factor / 2).astype(np.uint8)
        """),
        # Clipped before the cast back to the image's own dtype.
        Valid("""
            import cv2
            import numpy as np
            image = cv2.imread(path)
            brighter = image.astype(np.float32) * 1.4 + 20
            result = np.clip(brighter, 0, 255).astype(image.dtype)
        """),
        # A model whose forward converts its input itself: it takes uint8 frames by design.
        Valid("""
            import numpy as np
            import torch
            from torch import nn

            class QNetwork(nn.Module):
                def __init__(self, actions):
                    super().__init__()
                    self.conv = nn.Conv2d(4, 32, 8, stride=4)
                    self.head = nn.Linear(32 * 20 * 20, actions)

                def forward(self, x):
                    x = self.conv(x.float() / 255.0)
                    return self.head(x.flatten(1))

            online = QNetwork(6)
            frames = np.zeros((32, 4, 84, 84), dtype=np.uint8)
            q_values = online(torch.from_numpy(frames))
        """),
        # float64 rows handed to a model whose inherited forward casts each column it reads
        # (ids to integers, measurements to float32) before any layer sees them.
        Valid("""
            import numpy as np
            import torch
            from torch import nn

            class ColumnModel(nn.Module):
                def forward(self, rows):
                    codes = self.lookup(rows[:, self.code_columns].long())
                    amounts = self.scale(rows[:, self.amount_columns].float())
                    return self.head(torch.cat([codes.flatten(1), amounts], dim=1))

            class SurveyNet(ColumnModel):
                def __init__(self):
                    super().__init__()
                    self.code_columns, self.amount_columns = [0, 1], [2, 3]
                    self.lookup = nn.Embedding(50, 4)
                    self.scale = nn.Linear(2, 2)
                    self.head = nn.Linear(10, 1)

            survey = SurveyNet()
            answers = torch.from_numpy(np.random.rand(64, 4))
            scores = survey(answers)
        """),
        # A forward that converts with `torch.as_tensor(..., dtype=...)` takes any float dtype.
        Valid("""
            import numpy as np
            import torch
            from torch import nn

            class Smoother(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blend = nn.Linear(16, 16)

                def forward(self, signal):
                    signal = torch.as_tensor(signal, dtype=torch.float32)
                    return self.blend(signal)

            smoother = Smoother()
            smoothed = smoother(torch.from_numpy(np.linspace(0.0, 1.0, 16)))
        """),
        # A dtype dispatch: past the uint8 branch (which widens, or returns) the image is float,
        # and its arithmetic cannot wrap.
        Valid("""
            import cv2
            import numpy as np

            def brighten(path):
                tile = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if tile.dtype == np.uint8:
                    tile = tile.astype(np.int16)
                elif not np.issubdtype(tile.dtype, np.floating):
                    raise TypeError(tile.dtype)
                else:
                    tile = tile * 255
                return tile + 40
        """),
        Valid("""
            import numpy as np
            from PIL import Image

            def to_signed(path):
                frame = np.asarray(Image.open(path))
                if frame.dtype == np.uint8:
                    return frame / 127.5 - 1.0
                assert frame.dtype in (np.float16, np.float32, np.float64)
                return frame * 2
        """),
        # A helper's branch that no call takes: every call leaves `raw` at False (or passes
        # "centre"), so what it returns is float.
        Valid("""
            import cv2
            import numpy as np

            def read_tile(path, raw=False):
                tile = cv2.imread(path)
                if not raw:
                    tile = tile.astype(np.float32)
                return tile

            tile = read_tile("a.png")
            centred = tile - 128
        """),
        Valid("""
            import cv2
            import numpy as np

            def prepare(path, scaling="centre"):
                pixels = cv2.imread(path)
                if scaling == "unit":
                    pixels = pixels / 255.0
                elif scaling == "centre":
                    pixels = pixels.astype(np.float32) - 127.5
                return pixels

            def stack(paths):
                return [prepare(path) for path in paths]

            shifted = prepare(first_path, "centre") + 16
        """),
    ]
    INVALID = [
        # A camera buffer read as uint8 pixels, joined from a tuple of planes, kept by a class
        # and offset in another method: the offset wraps around.
        Invalid("""
            import numpy as np

            def to_yuv(data, size):
                a = np.frombuffer(data, dtype=np.uint8)
                y = a[:size].reshape((4, 4))
                u = a[size:].reshape((2, 2)).repeat(2, axis=0).repeat(2, axis=1)
                return np.dstack((y, u, u))[:4, :4]

            class Frame:
                def flush(self, data):
                    self.array = to_yuv(data, 16)

                def rgb(self):
                    yuv = self.array.copy()
                    yuv[:, :, 0] = yuv[:, :, 0] - 16
                    return yuv
        """, line=15),
        # The same without the clip: the addition can push pixels past 255.
        Invalid("""
            import cv2
            import numpy as np
            image = cv2.imread(path).astype(np.float32)
            image = image * contrast + 20.0
            saved = image.astype(np.uint8)
        """, line=5, related_lines=(4,)),
        Invalid("""
            from torchvision.io import read_image
            frame = (read_image(path).float() * 1.3).byte()
        """, line=2, related_lines=(2,)),
        Invalid("""
            import cv2
            import numpy as np
            image = cv2.imread(path) / 255.0
            saved = image.astype(np.uint8)
        """, line=4, related_lines=(3,)),
        Invalid("""
            import torchvision.transforms as T
            tensor = T.ToTensor()(picture)
            frame = tensor.byte()
        """, line=3, related_lines=(2,)),
        Invalid("""
            import torch
            probabilities = torch.sigmoid(logits)
            mask = probabilities.to(torch.uint8)
        """, line=3, related_lines=(2,)),
        # Brightness augmentation cast back without a clip: 1.2 * 250 is 300, stored as 44.
        Invalid("""
            import cv2
            import numpy as np
            image = cv2.imread(path)
            brighter = (image * 1.2).astype(np.uint8)
        """, line=4, related_lines=(4,)),
        Invalid("""
            import tensorflow as tf
            image = tf.cast(tf.io.decode_png(data), tf.float32) + 40.0
            shown = tf.cast(image, tf.uint8)
        """, line=3, related_lines=(2,)),
        Invalid("""
            import numpy as np
            import torch
            probabilities = torch.sigmoid(logits).numpy()
            canvas = np.zeros((height, width), np.uint8)
            canvas[:, :] = probabilities
        """, line=5, related_lines=(3, 4)),
        Invalid("""
            import numpy as np
            from scipy.special import expit
            mask = np.uint8(expit(scores))
        """, line=3, related_lines=(3,)),
        # `0.5 * image` of a uint8 image is float64, not uint8.
        Invalid("""
            import cv2
            import torch
            dimmed = 0.5 * cv2.imread(path)
            logits = model(torch.from_numpy(dimmed))
        """, line=4, related_lines=(3, 4), fixed="""
            import cv2
            import torch
            dimmed = 0.5 * cv2.imread(path)
            logits = model(torch.from_numpy(dimmed).float())
        """),
        Invalid("""
            import numpy as np
            import torch
            features = np.random.rand(100, 8)
            logits = model(torch.from_numpy(features))
        """, line=4, related_lines=(3, 4), fixed="""
            import numpy as np
            import torch
            features = np.random.rand(100, 8)
            logits = model(torch.from_numpy(features).float())
        """),
        Invalid("""
            import pandas as pd
            import torch
            frame = pd.read_csv("train.csv")
            inputs = torch.tensor(frame.values)
            predictions = model(inputs)
        """, line=4, related_lines=(4, 5), fixed="""
            import pandas as pd
            import torch
            frame = pd.read_csv("train.csv")
            inputs = torch.tensor(frame.values).float()
            predictions = model(inputs)
        """),
        Invalid("""
            import cv2
            image = cv2.imread(path)
            centred = image - 128
        """, line=3, related_lines=(2,)),
        Invalid("""
            import numpy as np
            from PIL import Image
            pixels = np.asarray(Image.open(path).convert("RGB"))
            brighter = pixels + 40
        """, line=4, related_lines=(3,)),
        Invalid("""
            import numpy as np
            import torch
            from torch.utils.data import TensorDataset
            dataset = TensorDataset(torch.from_numpy(np.random.randn(64, 3)), labels)
        """, line=4, related_lines=(4,), fixed="""
            import numpy as np
            import torch
            from torch.utils.data import TensorDataset
            dataset = TensorDataset(torch.from_numpy(np.random.randn(64, 3)).float(), labels)
        """),
        Invalid("""
            import numpy as np
            import torch
            from torch import nn

            class Probe:
                def __init__(self):
                    self.net = nn.Linear(4, 1)
                    self.inputs = torch.as_tensor(np.zeros((10, 4)))

                def run(self):
                    return self.net(self.inputs)
        """, line=8, related_lines=(8, 11), fixed="""
            import numpy as np
            import torch
            from torch import nn

            class Probe:
                def __init__(self):
                    self.net = nn.Linear(4, 1)
                    self.inputs = torch.as_tensor(np.zeros((10, 4))).float()

                def run(self):
                    return self.net(self.inputs)
        """),
        Invalid("""
            import cv2
            import torch
            image = cv2.imread(path) / 255.0
            batch = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
            output = model(batch)
        """, line=4, related_lines=(3, 5), fixed="""
            import cv2
            import torch
            image = cv2.imread(path) / 255.0
            batch = torch.from_numpy(image).float().permute(2, 0, 1).unsqueeze(0)
            output = model(batch)
        """),
        Invalid("""
            from torchvision.io import read_image
            image = read_image(path)
            logits = classifier(image.unsqueeze(0))
        """, line=2, related_lines=(3,)),
        Invalid("""
            import torch
            from torch import nn
            regressor = nn.Linear(1, 1)
            x = torch.linspace(0, 1, 50).double().unsqueeze(1)
            y = regressor(x)
        """, line=4, related_lines=(5,)),
        # Near miss: the module was moved to the device, not converted to float64.
        Invalid("""
            import torch
            from torch import nn

            def describe(patches, device):
                kernel = nn.Conv2d(1, 8, 3).to(device)
                return kernel(patches.double())
        """, line=6, related_lines=(6,)),
        Invalid("""
            import numpy as np
            import torch

            def make_batch(n):
                return torch.from_numpy(np.random.normal(size=(n, 16)))

            scores = encoder(make_batch(32))
        """, line=5, related_lines=(5, 7), fixed="""
            import numpy as np
            import torch

            def make_batch(n):
                return torch.from_numpy(np.random.normal(size=(n, 16))).float()

            scores = encoder(make_batch(32))
        """),
        Invalid("""
            import cv2
            import torch
            image = cv2.imread(path)
            image = cv2.cvtColor(cv2.resize(image, (224, 224)), cv2.COLOR_BGR2RGB)
            batch = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
            logits = model(batch)
        """, line=5, related_lines=(3, 6)),
        Invalid("""
            import numpy as np
            import torch
            from PIL import Image
            pixels = np.asarray(Image.open(path).convert("RGB"))
            tensor = torch.from_numpy(pixels.transpose(2, 0, 1)).unsqueeze(0)
            scores = classifier(tensor)
        """, line=5, related_lines=(4, 6)),
        Invalid("""
            import cv2
            frame = cv2.imread(frame_path)
            background = cv2.imread(background_path)
            foreground = frame - background
        """, line=4, related_lines=(2,)),
        Invalid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            model = keras.Sequential([layers.Flatten(), layers.Dense(128, activation="relu"),
                                      layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x_train.reshape(-1, 784), y_train, epochs=5)
        """, line=3, related_lines=(7,)),
        Invalid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(28, 28, 1))
            x = layers.Conv2D(32, 3, activation="relu")(inputs)
            outputs = layers.Dense(10, activation="softmax")(layers.Flatten()(x))
            model = keras.Model(inputs=inputs, outputs=outputs)
            (train_images, train_labels), _ = keras.datasets.mnist.load_data()
            train_images = train_images.reshape((60000, 28, 28, 1))
            model.fit(train_images, train_labels, epochs=5)
        """, line=7, related_lines=(9,)),
        Invalid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            model = keras.Sequential()
            model.add(layers.Flatten())
            model.add(layers.Dense(10))
            (x_train, y_train), _ = keras.datasets.fashion_mnist.load_data()
            model.fit(x_train, y_train)
        """, line=6, related_lines=(7,)),
        Invalid("""
            import tensorflow as tf
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            batch = tf.expand_dims(image, 0)
            classifier = tf.keras.Sequential([tf.keras.layers.Conv2D(8, 3),
                                              tf.keras.layers.Flatten(),
                                              tf.keras.layers.Dense(2)])
            scores = classifier.predict(batch)
        """, line=2, related_lines=(7,)),
        Invalid("""
            import cv2
            from keras import layers, models
            net = models.Sequential([layers.Conv2D(8, 3), layers.Flatten(), layers.Dense(1)])
            frame = cv2.resize(cv2.imread(path), (64, 64))
            output = net(frame[None])
        """, line=4, related_lines=(5,)),
        Invalid("""
            import jax.numpy as jnp
            import numpy as np
            from PIL import Image
            pixels = jnp.asarray(np.asarray(Image.open(path)))
            centred = pixels - 128
        """, line=5, related_lines=(4,)),
        Invalid("""
            import cv2
            import jax.numpy as jnp
            image = jnp.array(cv2.imread(path), dtype=jnp.uint8)
            brighter = image * 2
        """, line=4, related_lines=(3,)),
        # Scaled by a factor not known to be a float, then divided: an int factor keeps the
        # product uint8, which wraps before the division (np.pad keeps the dtype).
        Invalid("""
            import cv2
            import numpy as np

            def brighten(path, percent):
                image = np.pad(cv2.imread(path), 2)
                return (image * percent / 100).astype(np.uint8)
        """, line=6, related_lines=(5,)),
        Invalid("""
            import cv2

            def boost(path, gain=2):
                return cv2.imread(path) * gain
        """, line=4, related_lines=(4,)),
        # Cast back to the image's own dtype: `image.dtype` of a uint8 image is uint8.
        Invalid("""
            import cv2
            import numpy as np
            image = cv2.imread(path)
            brighter = image.astype(np.float32) * 1.4 + 20
            result = brighter.astype(image.dtype)
        """, line=5, related_lines=(4,)),
        # Its twin: the forward hands the frames to its first layer as they come.
        Invalid("""
            import numpy as np
            import torch
            from torch import nn

            class QNetwork(nn.Module):
                def __init__(self, actions):
                    super().__init__()
                    self.conv = nn.Conv2d(4, 32, 8, stride=4)
                    self.head = nn.Linear(32 * 20 * 20, actions)

                def forward(self, x):
                    x = self.conv(x)
                    return self.head(x.flatten(1) / 255.0)

            online = QNetwork(6)
            frames = np.zeros((32, 4, 84, 84), dtype=np.uint8)
            q_values = online(torch.from_numpy(frames))
        """, line=17, related_lines=(12, 16)),
        # The twin of the dtype dispatch: the uint8 branch itself still wraps.
        Invalid("""
            import cv2
            import numpy as np

            def brighten(path):
                tile = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if tile.dtype == np.uint8:
                    tile = tile + 40
                elif np.issubdtype(tile.dtype, np.floating):
                    tile = tile * 255
                return tile
        """, line=7, related_lines=(5,)),
        # A test on another array's dtype says nothing of this one.
        Invalid("""
            import numpy as np
            from PIL import Image

            def to_signed(path, reference):
                frame = np.asarray(Image.open(path))
                if reference.dtype == np.uint8:
                    return reference / 127.5 - 1.0
                return frame * 2
        """, line=8, related_lines=(5,)),
        # The helper's twins: a call passes `raw=True`, or a scaling that is no constant.
        Invalid("""
            import cv2
            import numpy as np

            def read_tile(path, raw=False):
                tile = cv2.imread(path)
                if not raw:
                    tile = tile.astype(np.float32)
                return tile

            tile = read_tile("a.png", raw=True)
            centred = tile - 128
        """, line=11, related_lines=(5,)),
        Invalid("""
            import cv2
            import numpy as np

            def prepare(path, scaling="centre"):
                pixels = cv2.imread(path)
                if scaling == "unit":
                    pixels = pixels / 255.0
                elif scaling == "centre":
                    pixels = pixels.astype(np.float32) - 127.5
                return pixels

            shifted = prepare(first_path, options.scaling) + 16
        """, line=12, related_lines=(5,)),
        # Near miss: the same subclass, but the inherited forward hands the rows on uncast.
        Invalid("""
            import numpy as np
            import torch
            from torch import nn

            class ColumnModel(nn.Module):
                def forward(self, rows):
                    amounts = self.scale(rows[:, self.amount_columns])
                    return self.head(amounts)

            class SurveyNet(ColumnModel):
                def __init__(self):
                    super().__init__()
                    self.amount_columns = [2, 3]
                    self.scale = nn.Linear(2, 2)
                    self.head = nn.Linear(2, 1)

            survey = SurveyNet()
            answers = torch.from_numpy(np.random.rand(64, 4))
            scores = survey(answers)
        """, line=18, related_lines=(18, 19), fixed="""
            import numpy as np
            import torch
            from torch import nn

            class ColumnModel(nn.Module):
                def forward(self, rows):
                    amounts = self.scale(rows[:, self.amount_columns])
                    return self.head(amounts)

            class SurveyNet(ColumnModel):
                def __init__(self):
                    super().__init__()
                    self.amount_columns = [2, 3]
                    self.scale = nn.Linear(2, 2)
                    self.head = nn.Linear(2, 1)

            survey = SurveyNet()
            answers = torch.from_numpy(np.random.rand(64, 4)).float()
            scores = survey(answers)
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.reported: set[int] = set()
        self.uint8_checks: dict[int, list[cst.BaseExpression]] = {}

    def is_uint8_dtype(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.SimpleString):
            return node.evaluated_value == "uint8"
        if isinstance(node, cst.Attribute) and node.attr.value == "dtype" and \
                self.imports.qualified_name(node) is None:
            return has(self.facts.value(node.value), UINT8)  # `image.dtype` of a uint8 image
        return self.imports.qualified_name(node) in catalog.UINT8_DTYPES

    def checked_uint8(self, operand: cst.BaseExpression) -> bool:
        """Whether the enclosing function (or the module) asserts `operand` is uint8."""
        function = self.facts.function
        scope = function.node if function is not None else self.context.module
        if id(scope) not in self.uint8_checks:
            checks = _Uint8Checks(self.is_uint8_dtype)
            scope.visit(checks)
            self.uint8_checks[id(scope)] = checks.checked
        return any(checked.deep_equals(operand) for checked in self.uint8_checks[id(scope)])

    def int_parameter(self, node: cst.BaseExpression) -> bool:
        """Whether `node` names a parameter of the enclosing function declared an int: an
        integer default (`scale=2`) or an `int` annotation."""
        function = self.facts.function
        if function is None or not isinstance(node, cst.Name):
            return False
        params = function.node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.name.value != node.value:
                continue
            annotation = param.annotation.annotation if param.annotation is not None else None
            return (param.default is not None and _is_int_literal(param.default)) or (
                isinstance(annotation, cst.Name) and annotation.value == "int")
        return False

    def scaled_in_uint8(self, node: cst.BinaryOperation) -> bool:
        """`image * factor / 100`: a product divided right after it is made, where `factor` is
        no literal and not known to be a float. Scaled in the product and brought back by the
        division, the pixels are only safe if the product is float: for an int factor the
        product stays uint8 and wraps before the division sees it."""
        if not isinstance(node.operator, (cst.Divide, cst.FloorDivide)):
            return False
        product = node.left
        if not (isinstance(product, cst.BinaryOperation) and
                isinstance(product.operator, cst.Multiply)):
            return False
        return any(isinstance(side, (cst.Name, cst.Attribute)) and
                   not first(self.facts.value(side), UINT8) and not self.is_float_name(side)
                   for side in (product.left, product.right))

    def is_float_name(self, node: cst.BaseExpression) -> bool:
        """A parameter declared a float (`alpha=0.5`, `alpha: float`)."""
        function = self.facts.function
        if function is None or not isinstance(node, cst.Name):
            return False
        params = function.node.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.name.value == node.value:
                annotation = param.annotation.annotation if param.annotation else None
                return isinstance(param.default, cst.Float) or (
                    isinstance(annotation, cst.Name) and annotation.value == "float")
        return False

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if self.scaled_in_uint8(node):
            self.check_wrapping(node.left, scaled=True)
            return
        self.check_wrapping(node)

    def check_wrapping(self, node: cst.BinaryOperation, scaled: bool = False) -> None:
        if not isinstance(node.operator, WRAPPING_OPERATORS) or id(node) in self.reported:
            return
        left, right = self.facts.value(node.left), self.facts.value(node.right)
        uint8 = first(left, UINT8)
        other = node.right
        if uint8 is None and not isinstance(node.operator, cst.Subtract):
            uint8, other = first(right, UINT8), node.left
        if uint8 is None or uint8.detail == "cast":
            return  # uint8 chosen with an explicit cast (masks, palettes) is deliberate
        if self.checked_uint8(node.left) or self.checked_uint8(node.right):
            return  # asserted to be uint8 right here: the wrap-around is intended
        if _names_label_map(node.left if other is node.right else node.right):
            return  # class ids shifted (1-based trimap to 0-based), not intensities
        other_uint8 = first(self.facts.value(other), UINT8)
        if _is_int_literal(other) or self.int_parameter(other) or (
                other_uint8 is not None and other_uint8.detail != "cast"
                and not isinstance(node.operator, cst.Multiply)):
            self.reported.add(id(node))
            self.report(node, "arithmetic on uint8 pixels wraps around modulo 256 "
                              "(100 - 128 is 228); cast to float first",
                        related=self.origin_of(uint8, "uint8 image read here"))
        elif scaled and other_uint8 is None:
            self.reported.add(id(node))
            name = cst.Module([]).code_for_node(other)
            self.report(node, f"uint8 pixels times `{name}` stay uint8 when `{name}` is an "
                              "integer: the product wraps around modulo 256 before the "
                              "division scales it back; cast to float first "
                              "(`image.astype(np.float32) * ...`)",
                        related=self.origin_of(uint8, "uint8 image read here"))

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        source = self.uint8_cast_source(node, qualified)
        if source is not None:
            self.check_uint8_cast(node, self.facts.value(source),
                                  saturating=qualified in catalog.SATURATING_CASTS)
        if qualified in catalog.TENSOR_DATASETS:
            for arg in node.args:
                self.check_tensor(self.facts.value(arg.value), node, "a TensorDataset",
                                  only_float64=True)
            return
        if self.check_keras_input(node):
            return
        if not node.args or not self.is_model(node.func, qualified):
            return
        module = first(self.facts.value(node.func), MODULE)
        if module is not None and getattr(module.info, "input_pixels", "") == "converted":
            return  # its forward converts the image to float itself
        self.check_tensor(self.facts.value(node.args[0].value), node, "the model",
                          accepts_float64=self.converted_to_float64(node.func))

    def uint8_cast_source(self, call: cst.Call, qualified: str | None
                          ) -> cst.BaseExpression | None:
        """What a cast to uint8 converts: `x.astype(np.uint8)`, `x.to(torch.uint8)`, `x.byte()`,
        `np.uint8(x)`, `tf.cast(x, tf.uint8)`, `np.array(x, dtype=np.uint8)`."""
        func = call.func
        if qualified is None and isinstance(func, cst.Attribute):
            method = func.attr.value
            dtypes = [arg.value for arg in call.args if arg.keyword is None or
                      arg.keyword.value == "dtype"]
            if (method in ("astype", "to", "type") and any(map(self.is_uint8_dtype, dtypes))) \
                    or (method == "byte" and not call.args):
                return func.value
            return None
        if qualified in catalog.UINT8_DTYPES and call.args:
            return call.args[0].value
        if qualified in catalog.CAST_FUNCTIONS:
            position, name = catalog.CAST_FUNCTIONS[qualified]
            dtype, value = argument(call, position, name), argument(call, 0, "x")
        elif qualified in catalog.NUMPY_ARRAY or qualified in catalog.TO_TENSOR:
            dtype, value = keyword(call, "dtype"), positional(call, 0)
        else:
            return None
        if dtype is None or value is None or not self.is_uint8_dtype(dtype.value):
            return None
        return value.value

    def check_uint8_cast(self, call: cst.Call, value: Value, saturating: bool) -> None:
        """Values in [0, 1] cast to uint8 truncate to 0; pixels pushed out of 0-255 by float
        arithmetic wrap around unless clipped first."""
        unit = first(value, UNIT_RANGE) or first(value, PROBABILITIES)
        if unit is not None:
            what = "probabilities" if unit.kind == PROBABILITIES else "pixels scaled to [0, 1]"
            self.report(call, f"these are {what} (by {unit.detail}); cast to uint8 every value "
                              "below 1 becomes 0: multiply by 255 first "
                              "(`(x * 255).astype(np.uint8)`) or threshold them",
                        related=self.origin_of(unit, "in [0, 1] here"))
            return
        outside = first(value, OUT_OF_RANGE)
        if outside is not None and not saturating:
            self.report(call, f"{outside.detail} can take these uint8 pixels out of 0-255; cast "
                              "back to uint8 without clipping they wrap around (300 becomes 44): "
                              "clip first (`np.clip(x, 0, 255)`, `x.clamp(0, 255)`)",
                        related=self.origin_of(outside, "can leave 0-255 here"))

    def visit_Assign(self, node: cst.Assign) -> None:
        """`canvas[...] = probabilities` into a uint8 array: the floats are truncated."""
        for target in node.targets:
            if not isinstance(target.target, cst.Subscript):
                continue
            array = first(self.facts.value(target.target.value), UINT8)
            if array is None:
                continue
            written = self.facts.value(node.value)
            unit: Tag | None = first(written, UNIT_RANGE) or first(written, PROBABILITIES)
            if unit is not None:
                self.report(node.value, "these values in [0, 1] are written into a uint8 array, "
                                        "which truncates every one below 1 to 0; scale them by "
                                        "255 first, or make the array float",
                            related=self.origin_of(array, "uint8 array made here")
                            + self.origin_of(unit, "in [0, 1] here"))
                return

    def check_keras_input(self, call: cst.Call) -> bool:
        """`model.fit(x_train)` of uint8 pixels, for a Keras model whose first weighted layer
        sees them as given: Keras casts them to float32 but does not scale them. Whether the
        call feeds a Keras model (then the torch checks do not apply)."""
        keras_model, data = self.facts.keras_input(call)
        if keras_model is None or getattr(keras_model.info, "framework", "") != "keras":
            return False
        uint8 = first(self.facts.value(data.value), UINT8) if data is not None else None
        if uint8 is None or uint8.detail == "cast" or keras_model.info.input_pixels != "raw":
            return True  # a model starting with Rescaling(1./255) takes uint8 pixels
        anchor = uint8.via or uint8.node
        if anchor is not None and id(anchor) not in self.reported:
            self.reported.add(id(anchor))
            self.report(anchor, "these uint8 pixels reach the Keras model unscaled: it casts "
                                "them to float32 but keeps them in 0-255; scale them "
                                "(`x.astype(\"float32\") / 255`) or start the model with "
                                "`layers.Rescaling(1./255)`",
                        related=[(call, "fed to the model here")])
        return True

    def converted_to_float64(self, func: cst.BaseExpression) -> bool:
        """Whether the model was converted with `.double()` or `.to(torch.float64)`: float64
        inputs are then what it expects (gradient checks run in double precision)."""
        value = self.facts.value(func)
        module = first(value, MODULE)
        if module is not None and getattr(module.info, "dtype", "") == "float64":
            return True
        converted = first(value, FLOAT64)  # a model known only by its name, then `.double()`
        return converted is not None and converted.info == "torch"

    def is_model(self, func: cst.BaseExpression, qualified: str | None) -> bool:
        if first(self.facts.value(func), MODULE) is not None:
            return True
        if qualified is not None:
            return False
        name = func.value if isinstance(func, cst.Name) else (
            func.attr.value if isinstance(func, cst.Attribute) else "")
        return bool(MODEL_NAME.search(name))

    def check_tensor(self, value: Value, sink: cst.Call, where: str, only_float64: bool = False,
                     accepts_float64: bool = False) -> None:
        float64 = None if accepts_float64 else first(value, FLOAT64)
        if float64 is not None and float64.info == "torch":
            line_to_change = float64.via or float64.node
            if line_to_change is None or id(line_to_change) in self.reported:
                return
            self.reported.add(id(line_to_change))
            fix = None
            if float64.via is not None:
                fix = NodeFix.wrap(float64.via, "", ".float()", description="Convert with `.float()`")
            related = [(sink, f"fed to {where} here")]
            if float64.via is not None and float64.node is not None:
                related.insert(0, (float64.node, f"float64 from `{float64.detail or 'numpy'}`"))
            self.report(line_to_change, f"this tensor is float64 (numpy's default) and reaches "
                                        f"{where}, whose weights are float32; convert with "
                                        f"`.float()` or pass `dtype=torch.float32`",
                        fix=fix, related=related)
            return
        uint8 = first(value, UINT8)
        if uint8 is not None and not only_float64 and uint8.info == "torch":
            anchor = uint8.via or uint8.node
            if anchor is None or id(anchor) in self.reported:
                return
            self.reported.add(id(anchor))
            related = [(sink, f"fed to {where} here")]
            if uint8.via is not None:
                related = self.origin_of(uint8, "uint8 image read here") + related
            self.report(anchor, f"this uint8 image reaches {where} unconverted; convert it to "
                                "float and scale it (`.float() / 255`)",
                        related=related)

