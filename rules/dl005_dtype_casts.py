"""DL005: uint8 or float64 data reaching float32 weights, or uint8 arithmetic that wraps around."""

from __future__ import annotations

import re

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.effects import Effect
from dllint.semantic.values import FLOAT64, MODULE, UINT8, Value, first
from dllint.types import FixAvailability

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
    (`frame - background`), which wraps around modulo 256. Arithmetic on a value the function
    asserts is uint8 (`assert label.dtype == np.uint8`) is taken as intended.

    Keras, TensorFlow and JAX: uint8 images (`tf.io.decode_jpeg`/`decode_png`/`decode_image`,
    `tf.image.decode_*`, `keras.datasets.mnist.load_data()` and the other image datasets,
    `cv2.imread`) fed to `model.fit`, `model.predict` or `model(x)` of a Keras model whose first
    weighted layer takes them as given (no `Rescaling` before it) without being scaled; and uint8
    arithmetic on `jnp.asarray`/`jnp.array` arrays, which wraps around as in numpy.

    ## Why is this bad?
    numpy defaults to float64 and torch keeps numpy's dtype, so float32 weights meet float64
    inputs: at best a dtype error far from its cause, at worst (after an implicit `.double()`
    of the model) twice the memory and a much slower model. uint8 arithmetic does not
    saturate: `100 - 128` is `228`, so a mean subtraction silently corrupts every dark pixel.

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
    summary = "uint8/float64 data reaches float32 weights, or uint8 arithmetic wraps around"
    fix_availability = FixAvailability.SOMETIMES
    consumes = (Effect.UINT8_SOURCE, Effect.UINT8_DECODER, Effect.UINT8_DATASET,
                Effect.FLOAT64_SOURCE, Effect.FLOAT64_CAST_METHOD)
    requires_any = ("numpy", "cv2", "pandas", "Image", "jax")
    uses_model = True

    VALID = [
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
    ]
    INVALID = [
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
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.reported: set[int] = set()
        self.uint8_checks: dict[int, list[cst.BaseExpression]] = {}

    def is_uint8_dtype(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.SimpleString):
            return node.evaluated_value == "uint8"
        return self.imports.qualified_name(node) in catalog.UINT8_DTYPES

    def checked_uint8(self, operand: cst.BaseExpression) -> bool:
        """Whether the enclosing function (or the module) asserts `operand` is uint8."""
        function = self.model.current_function
        scope = function.node if function is not None else self.context.module
        if id(scope) not in self.uint8_checks:
            checks = _Uint8Checks(self.is_uint8_dtype)
            scope.visit(checks)
            self.uint8_checks[id(scope)] = checks.checked
        return any(checked.deep_equals(operand) for checked in self.uint8_checks[id(scope)])

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, WRAPPING_OPERATORS):
            return
        left, right = self.model.value(node.left), self.model.value(node.right)
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
        other_uint8 = first(self.model.value(other), UINT8)
        if _is_int_literal(other) or (other_uint8 is not None and other_uint8.detail != "cast"
                                      and not isinstance(node.operator, cst.Multiply)):
            self.report(node, "arithmetic on uint8 pixels wraps around modulo 256 "
                              "(100 - 128 is 228); cast to float first",
                        related=self.origin_of(uint8, "uint8 image read here"))

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if qualified in catalog.TENSOR_DATASETS:
            for arg in node.args:
                self.check_tensor(self.model.value(arg.value), node, "a TensorDataset",
                                  only_float64=True)
            return
        if self.check_keras_input(node):
            return
        if not node.args or not self.is_model(node.func, qualified):
            return
        self.check_tensor(self.model.value(node.args[0].value), node, "the model",
                          accepts_float64=self.converted_to_float64(node.func))

    def check_keras_input(self, call: cst.Call) -> bool:
        """`model.fit(x_train)` of uint8 pixels, for a Keras model whose first weighted layer
        sees them as given: Keras casts them to float32 but does not scale them. Whether the
        call feeds a Keras model (then the torch checks do not apply)."""
        keras_model, data = self.model.keras_input(call)
        if keras_model is None or getattr(keras_model.info, "framework", "") != "keras":
            return False
        uint8 = first(self.model.value(data.value), UINT8) if data is not None else None
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
        value = self.model.value(func)
        module = first(value, MODULE)
        if module is not None and getattr(module.info, "dtype", "") == "float64":
            return True
        converted = first(value, FLOAT64)  # a model known only by its name, then `.double()`
        return converted is not None and converted.info == "torch"

    def is_model(self, func: cst.BaseExpression, qualified: str | None) -> bool:
        if first(self.model.value(func), MODULE) is not None:
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

