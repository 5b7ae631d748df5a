"""DL003: pixels scaled to [0, 1] twice, or normalized with 0-255 statistics after scaling."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.effects import Effect
from dllint.semantic.syntax import (
    argument, inspects_dtype_or_range, is_255, is_half_255, is_inverse_255, is_inverse_half_255,
    keyword, lambda_body, leaves, multiplies_by_255, number, positional)
from dllint.semantic.syntax import std_key
from dllint.semantic.normalization import standardized, undone
from dllint.semantic.values import STANDARDIZED, TRANSFORM, UNIT_SCALED, Tag, Value, first
from dllint.types import Applicability


def _large_mean(call: cst.CSTNode, index: int = 0) -> bool:
    """`Normalize(mean=[123.7, 116.3, 103.5], ...)`: statistics of 0-255 pixels."""
    if not isinstance(call, cst.Call):
        return False
    mean = argument(call, index, "mean")
    if mean is None or not isinstance(mean.value, (cst.List, cst.Tuple)):
        return False
    values = [number(element.value) for element in mean.value.elements]
    return bool(values) and all(v is not None for v in values) and max(values) > 1.0  # type: ignore[type-var]


def _divides_by_half_255(node: cst.BaseExpression) -> bool:
    """`x / 127.5` (of `x / 127.5 - 1`): a scaling of 0-255 pixels to [-1, 1]."""
    return isinstance(node, cst.BinaryOperation) and (
        (isinstance(node.operator, cst.Divide) and is_half_255(node.right)) or (
            isinstance(node.operator, cst.Multiply) and is_inverse_half_255(node.right)))


def _divides_by_255(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.BinaryOperation):
        return (isinstance(node.operator, cst.Divide) and is_255(node.right)) or (
            isinstance(node.operator, cst.Multiply) and is_inverse_255(node.right))
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.args:
        return node.func.attr.value in ("div", "div_", "true_divide") and is_255(node.args[0].value)
    return False


class DoubleNormalization(Rule):
    """
    ## What it does
    Flags image data scaled to [0, 1] a second time: a division by 255 (or `.div(255)`,
    `* (1/255)`, a `Lambda` doing it) applied to a value that `ToTensor()`,
    `convert_image_dtype`, `ToDtype(scale=True)`, albumentations' `Normalize()` or `ToFloat()`,
    or an earlier division by 255 already scaled (also through a helper function's return value
    and `np.stack`/`torch.cat` of a list of such images); an albumentations `Normalize()` (which
    divides by `max_pixel_value=255`) given an image already scaled; and `Normalize` with mean
    and std sized for 0-255 pixels applied after such scaling. A remap of 0-255 pixels to
    [-1, 1] (`x / 127.5 - 1`) counts as a scaling: applied to pixels already in [0, 1], or
    followed by a division by 255, it is reported as well. Min-max scaling by the value's own
    range (`(x - x.min()) / (x.max() - x.min())`, `/ np.ptp(x)`) is a scaling to [0, 1] too. And
    a value standardized (`(x - mean) / std`, or a `Normalize(mean, std)` transform) that is
    divided by the same std again (`x / STD`, `(x - MEAN) / STD` a second time) is reported.

    TensorFlow and Keras: a division by 255 after `tf.image.convert_image_dtype(image,
    tf.float32)` (which scales uint8 images, not float ones: of a helper's parameter, only
    where a caller of the file hands it integer pixels); pixels already scaled fed to a
    keras.applications `preprocess_input` (resnet50, vgg16, mobilenet_v2, efficientnet, ...),
    which expects 0-255, or to `model.fit`/`model.predict`/`model(x)` of a Keras model that starts
    with `Rescaling(1./255)`; and `ImageDataGenerator(rescale=1./255,
    preprocessing_function=preprocess_input)`, which rescales what `preprocess_input` returned.
    The scaling is followed through `tf.cast` (and TF1's `tf.to_float`), `tf.reshape`,
    `tf.expand_dims`, `tf.squeeze` and `tf.image.resize` (and TF1's `resize_bilinear`, which
    returns float pixels, and `resize_nearest_neighbor`, which keeps the dtype), and joined
    by `tf.concat` (also TF 0.x's `tf.concat(axis, values)`) and `tf.stack`.

    A scaling that depends on the data is not reported: a division under an `if` (or after an
    early `return`) that tests the dtype or the range (`if image.max() > 1:`,
    `if image.dtype == np.uint8:`), and a value such a division scaled in only some branches,
    which is then only maybe scaled. A `Lambda(lambda x: x * 255)` after `ToTensor()` takes the
    pixels back to 0-255, so what follows it may divide by 255 or use 0-255 statistics.

    ## Why is this bad?
    `ToTensor()` already divides uint8 pixels by 255. Dividing again leaves inputs in
    [0, 0.004]: every image looks almost black, activations are tiny, and the network learns
    slowly or not at all. Nothing fails; the accuracy is just poor. Normalizing [0, 1] pixels
    with 0-255 statistics (mean 123.7) shifts every input to about -2 with almost no spread.

    ## Example
    ```python
    transform = T.Compose([T.ToTensor()])
    image = transform(Image.open(path)) / 255.0
    ```

    ## Use instead
    ```python
    transform = T.Compose([T.ToTensor()])  # already scales to [0, 1]
    image = transform(Image.open(path))
    ```

    ## References
    "Pre-processing done wrong: inputs normalized twice (a library may already scale to
    [0, 1])" is one of the most common silent deep-learning bugs.
    """

    code = "DL003"
    name = "double-normalization"
    summary = "Image data scaled to [0, 1] twice, or normalized with 0-255 statistics"
    consumes = (Effect.SCALING, Effect.PIXEL_DIVISION)
    requires_any = ("255", "Normalize", "normalize", "std")
    uses_model = True

    VALID = [
        # The file's own helpers, defined below their caller: the decoder keeps uint8 pixels,
        # and a helper that rescales to [0, 255] returns pixels the division needs.
        Valid("""
            import tensorflow as tf

            def inputs(buffer, other, size):
                image = _center_crop(_decode(buffer), size)
                restored = _to_pixels(_decode_scaled(other))
                return tf.to_float(image) / 255.0, restored / 255.0

            def _center_crop(image, size):
                offsets = tf.stack([0, 0, 0])
                return tf.strided_slice(image, offsets, offsets + [size, size, 3])

            def _to_pixels(image):
                return image * 255.0

            def _decode(buffer):
                return tf.image.decode_jpeg(buffer, channels=3)

            def _decode_scaled(buffer):
                image = tf.image.decode_jpeg(buffer, channels=3)
                return tf.image.convert_image_dtype(image, dtype=tf.float32)
        """),
        Valid("""
            import cv2
            image = cv2.imread(path)
            image = image.astype("float32") / 255.0
        """),
        Valid("""
            import numpy as np
            import torchvision.transforms as T
            array = np.asarray(image, dtype=np.float32) / 255.0
            tensor = T.ToTensor()(array)
        """),
        Valid("""
            from torchvision import transforms
            transform = transforms.Compose([
                transforms.ToTensor(),
                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
            ])
        """),
        Valid("""
            import torch
            from torchvision.io import read_image
            image = read_image(path).float() / 255
            mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
            image = (image - mean) / 0.25
        """),
        Valid("""
            import torchvision.transforms as T
            transform = T.Compose([T.PILToTensor(), T.Lambda(lambda x: x.float() / 255)])
        """),
        Valid("""
            import torchvision.transforms as T
            transform = T.Compose([
                T.Normalize(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
            ])
            image = transform(raw.float())
        """),
        Valid("""
            import torchvision.transforms.functional as TF
            for path in paths:
                image = TF.to_tensor(load(path))
                batch.append(image)
            masks = [mask / 255 for mask in raw_masks]
        """),
        Valid("""
            import cv2
            image = cv2.imread(path)
            if image.max() > 1:
                scaled = image / 255.0
            else:
                scaled = image
        """),
        # Guarded: the division runs only for integer images (kornia's image_to_string).
        Valid("""
            import torch
            import torchvision.transforms.functional as TF

            def to_string(image):
                if image.dtype not in [torch.float16, torch.float32, torch.float64]:
                    image = image / 255.0
                return render(image)

            to_string(TF.to_tensor(picture))
        """),
        # The helper hands back its input untouched when asked to (kornia's load_image with
        # ImageLoadType.UNCHANGED), so its result is not known to be scaled.
        Valid("""
            import torch

            def convert(image, desired):
                if desired == "unchanged":
                    return image
                return image.float() / 255.0

            def to_tensor(raw):
                return convert(raw, "unchanged") / 255
        """),
        Valid("""
            import torchvision.transforms as T
            transform = T.ToTensor()
            image = transform(pil_image)
            depth = transform(depth_image)
            weights = counts / 255
        """),
        # Constructor injection, near miss: PILToTensor keeps 0-255 integers, so /255 is needed.
        Valid("""
            import torchvision.transforms as T
            from torch.utils.data import Dataset
            from PIL import Image

            class Images(Dataset):
                def __init__(self, files, transform=None):
                    self.files = files
                    self.transform = transform

                def __getitem__(self, index):
                    image = Image.open(self.files[index])
                    return self.transform(image).float() / 255

            train = Images(files, transform=T.Compose([T.PILToTensor()]))
        """),
        # A list handed to a stacking helper, and a nested list: raw pixels, scaled once.
        Valid("""
            import cv2
            import numpy as np

            def to_batch(images):
                return np.stack(images)

            batch = to_batch([cv2.imread(p) for p in paths]) / 255
            grid = np.array([[cv2.imread(p) for p in row] for row in rows]) / 255
        """),
        # Near miss: the helper returns raw uint8 pixels, so the batch is scaled only once.
        Valid("""
            import cv2
            import numpy as np

            def load(path):
                return cv2.imread(path)

            batch = np.stack([load(path) for path in paths]) / 255
        """),
        Valid("""
            import torch
            import torchvision.transforms as T
            to_tensor = T.PILToTensor()
            frames = []
            for image in images:
                frames.append(to_tensor(image))
            clip = torch.stack(frames).float() / 255.0
        """),
        # Near miss: Normalize already scaled the image; the mask is not normalized and is 0/255.
        Valid("""
            import albumentations as A
            import cv2
            from albumentations.pytorch import ToTensorV2
            transform = A.Compose([A.Resize(224, 224), A.Normalize(), ToTensorV2()])
            image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
            augmented = transform(image=image, mask=cv2.imread(mask_path, 0))
            image, mask = augmented["image"], augmented["mask"] / 255.0
        """),
        # Near miss: max_pixel_value=1.0 because the image was scaled before the pipeline.
        Valid("""
            import albumentations as A
            import cv2
            transform = A.Compose([
                A.HorizontalFlip(),
                A.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                            max_pixel_value=1.0),
            ])
            image = cv2.imread(path).astype("float32") / 255.0
            augmented = transform(image=image)
        """),
        Valid("""
            import albumentations as A
            transform = A.Compose([
                A.ToFloat(max_value=255),
                A.Normalize(mean=0, std=1, max_pixel_value=1.0),
            ])
        """),
        # Near miss: preprocess_input gets the float pixels in 0-255 it expects.
        Valid("""
            import tensorflow as tf
            from tensorflow.keras.applications.resnet50 import preprocess_input
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            image = tf.image.resize(tf.cast(image, tf.float32), (224, 224))
            batch = preprocess_input(tf.expand_dims(image, 0))
        """),
        Valid("""
            from tensorflow import keras
            image = keras.utils.img_to_array(keras.utils.load_img(path)) / 255.0
            restored = keras.applications.mobilenet_v2.preprocess_input(image * 255.0)
        """),
        # Near miss: tf.image.resize already made the pixels float, so convert_image_dtype leaves
        # them in 0-255 and the division by 255 is the only scaling.
        Valid("""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.image.resize(image, (64, 64))
            image = tf.image.convert_image_dtype(image, tf.float32)
            image = image / 255.0
        """),
        Valid("""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.reshape(tf.image.convert_image_dtype(image, tf.float32), (-1, 64, 64, 3))
        """),
        # A helper's parameter: convert_image_dtype scales only integer images, and the only
        # caller hands it resized (float) pixels; a helper no caller of the file shows is left
        # to its callers.
        Valid("""
            import tensorflow as tf

            def normalize(image):
                image = tf.image.convert_image_dtype(image, tf.float32)
                return image / 255.0

            def load(path):
                image = tf.image.resize(tf.io.decode_png(tf.io.read_file(path)), (64, 64))
                return normalize(image)
        """),
        Valid("""
            import tensorflow as tf

            def normalize(input_image, input_mask):
                input_image = tf.image.convert_image_dtype(input_image, tf.float32)
                return input_image / 255, input_mask - 1
        """),
        # TF1 spellings: `tf.to_float` is a cast and `resize_bilinear` returns float32 pixels in
        # 0-255, so convert_image_dtype leaves them as they are and the division scales once.
        Valid("""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.image.convert_image_dtype(tf.to_float(image), tf.float32)
            image = image / 255.0
        """),
        Valid("""
            import tensorflow as tf
            image = tf.image.decode_jpeg(raw, channels=3)
            image = tf.image.resize_bilinear(tf.expand_dims(image, 0), [224, 224])
            image = tf.image.convert_image_dtype(image, tf.float32) / 255.0
        """),
        # TF 0.x's `tf.concat(axis, values)` joins the float pixels, still in 0-255.
        Valid("""
            import tensorflow as tf
            left = tf.to_float(tf.image.decode_png(left_raw, channels=3))
            right = tf.to_float(tf.image.decode_png(right_raw, channels=3))
            pair = tf.concat(2, [left, right]) / 255.0
        """),
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(32, 32, 3))
            x = layers.Rescaling(1.0 / 255)(inputs)
            x = layers.Conv2D(32, 3, activation="relu")(x)
            model = keras.Model(inputs, layers.Dense(10)(layers.Flatten()(x)))
            (x_train, y_train), _ = keras.datasets.cifar10.load_data()
            model.fit(x_train, y_train, epochs=10)
        """),
        # Near miss: the model's Rescaling layer is the only scaling of the raw uint8 images.
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
            model = keras.Sequential([
                layers.Rescaling(1.0 / 255),
                layers.Conv2D(32, 3, activation="relu"),
                layers.Flatten(),
                layers.Dense(10),
            ])
            model.fit(x_train, y_train, epochs=10)
        """),
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            (x_train, y_train), _ = keras.datasets.cifar10.load_data()
            x_train = x_train.astype("float32") / 255.0
            model = keras.Sequential([layers.Conv2D(32, 3), layers.Flatten(), layers.Dense(10)])
            model.fit(x_train, y_train, epochs=10)
        """),
        Valid("""
            from tensorflow.keras.applications.mobilenet_v2 import preprocess_input
            from tensorflow.keras.preprocessing.image import ImageDataGenerator
            generator = ImageDataGenerator(preprocessing_function=preprocess_input,
                                           horizontal_flip=True)
            plain = ImageDataGenerator(rescale=1. / 255)
        """),
        # A parameter named like a module-level variable is not that variable: the helper
        # scales the raw images it is given, once.
        Valid("""
            import torchvision.transforms as T
            from torchvision.io import read_image
            image = T.ToTensor()(picture)

            def to_unit(image):
                return image.float() / 255

            batch = to_unit(read_image(path))
        """),
        # An early return on the range guards the division after it: images already in [0, 1]
        # come back as they are.
        Valid("""
            import torchvision.transforms.functional as TF

            def to_unit(image):
                if image.max() <= 1:
                    return image
                return image / 255.0

            batch = to_unit(TF.to_tensor(picture))
        """),
        # The helper scales only uint8 images; a float image in 0-255 comes back unscaled, so
        # the caller's division is the one that scales it.
        Valid("""
            import numpy as np

            def to_float(image):
                if image.dtype == np.uint8:
                    image = image / 255.0
                return image

            depth = to_float(np.load(path).astype(np.float32)) / 255.0
        """),
        # `Lambda(x * 255)` after ToTensor takes the pixels back to 0-255 (fast neural style):
        # the later division and the 0-255 statistics are right.
        Valid("""
            from torchvision import transforms
            content_transform = transforms.Compose([
                transforms.ToTensor(),
                transforms.Lambda(lambda x: x.mul(255)),
            ])

            def normalize_batch(batch):
                mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
                batch = batch.div_(255.0)
                return batch - mean

            features = vgg(normalize_batch(content_transform(image)))
        """),
        Valid("""
            from torchvision import transforms as T
            pipeline = T.Compose([
                T.ToTensor(),
                T.Lambda(lambda x: x * 255),
                T.Normalize(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
            ])
        """),
        # [0, 1] pixels remapped to [-1, 1] with `* 2 - 1`; raw pixels with `/ 127.5 - 1`.
        Valid("""
            import cv2
            image = cv2.imread(path) / 255.0
            centred = image * 2 - 1
            raw = cv2.imread(other_path)
            also_centred = raw / 127.5 - 1
        """),
        # A resize after the scaling: `Resize((64, 64))`'s first argument is a size, no mean.
        Valid("""
            import torchvision
            from torchvision import transforms
            image = torchvision.io.read_image("photo.png") / 255.
            resize = transforms.Resize((64, 64))
            image = resize(image)
        """),
        # Min-max scaling of one array, a division by 255 of another.
        Valid("""
            import cv2
            import numpy as np
            depth = np.load(depth_path)
            depth = (depth - np.min(depth)) / np.ptp(depth)
            image = cv2.imread(image_path) / 255.0
        """),
        # Standardized once; the later divisions are by other quantities (a temperature, the
        # target's own std).
        Valid("""
            features = (raw - MU) / SIGMA
            logits = features / TEMPERATURE
            targets = (prices - prices.mean()) / prices.std()
            restored = features * SIGMA + MU
        """),
        # Undone, then standardized anew: `Normalize(-1, 2)` is `(x + 1) / 2`, the inverse of
        # `Normalize(0.5, 0.5)`, taking the crops back to [0, 1] for PIL; by hand,
        # `x * std + mean` undoes `(x - mean) / std`. The repetition count is no std.
        Valid("""
            from torchvision import transforms as T

            class CropPairs:
                def __init__(self, side, bands):
                    self.full = T.Compose([
                        T.CenterCrop(side), T.ToTensor(),
                        T.Normalize(mean=(0.5,) * bands, std=(0.5,) * bands),
                    ])
                    self.small = T.Compose([
                        T.Normalize(mean=(-1.0,) * bands, std=(2.0,) * bands),
                        T.ToPILImage(), T.Resize(side // 2), T.ToTensor(),
                        T.Normalize(mean=(0.5,) * bands, std=(0.5,) * bands),
                    ])

                def pair(self, photo):
                    full = self.full(photo)
                    return full, self.small(full)
        """),
        Valid("""
            signal = (raw - centre) / std_dev
            recovered = signal * std_dev + centre
            again = (recovered - centre) / std_dev
        """),
        # Standardized again by its own statistics (a no-op), sharing only an epsilon.
        Valid("""
            import numpy as np
            h = (x - mean) / (std + EPS)
            z = (h - h.mean()) / (h.std() + EPS)
            z = (z - np.mean(z)) / np.std(z)
        """),
    ]
    INVALID = [
        # Scaled by a decoder defined below its caller, kept through the file's own crop helper
        # (a strided slice) and a cast, then divided again.
        Invalid("""
            import tensorflow as tf

            def inputs(buffer, size):
                image = _decode(buffer)
                image = _center_crop([image], size)[0]
                return tf.to_float(image) / 255.0

            def _center_crop(images, size):
                outputs = []
                for image in images:
                    offsets = tf.stack([0, 0, 0])
                    outputs.append(tf.strided_slice(image, offsets, offsets + [size, size, 3]))
                return outputs

            def _decode(buffer):
                image = tf.image.decode_jpeg(buffer, channels=3)
                return tf.image.convert_image_dtype(image, dtype=tf.float32)
        """, line=6, related_lines=(17,), unsafe=True, fixed="""
            import tensorflow as tf

            def inputs(buffer, size):
                image = _decode(buffer)
                image = _center_crop([image], size)[0]
                return tf.to_float(image)

            def _center_crop(images, size):
                outputs = []
                for image in images:
                    offsets = tf.stack([0, 0, 0])
                    outputs.append(tf.strided_slice(image, offsets, offsets + [size, size, 3]))
                return outputs

            def _decode(buffer):
                image = tf.image.decode_jpeg(buffer, channels=3)
                return tf.image.convert_image_dtype(image, dtype=tf.float32)
        """),
        Invalid("""
            import cv2
            image = cv2.imread(path) / 255.0
            centred = image / 127.5 - 1
        """, line=3, related_lines=(2,)),
        Invalid("""
            import cv2
            centred = cv2.imread(path) / 127.5 - 1.0
            image = centred / 255.0
        """, line=3, related_lines=(2,), unsafe=True, fixed="""
            import cv2
            centred = cv2.imread(path) / 127.5 - 1.0
            image = centred
        """),
        # Near miss: without the Lambda, ToTensor's output reaches the helper's division.
        Invalid("""
            from torchvision import transforms
            content_transform = transforms.Compose([transforms.ToTensor()])

            def normalize_batch(batch):
                mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
                batch = batch.div_(255.0)
                return batch - mean

            features = vgg(normalize_batch(content_transform(image)))
        """, line=6, related_lines=(2,), unsafe=True, fixed="""
            from torchvision import transforms
            content_transform = transforms.Compose([transforms.ToTensor()])

            def normalize_batch(batch):
                mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
                batch = batch
                return batch - mean

            features = vgg(normalize_batch(content_transform(image)))
        """),
        # Near miss: the Lambda maps [0, 1] to [-1, 1]; it does not restore 0-255.
        Invalid("""
            from torchvision import transforms as T
            pipeline = T.Compose([
                T.ToTensor(),
                T.Lambda(lambda x: x * 2 - 1),
                T.Normalize(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
            ])
        """, line=5, related_lines=(3,)),
        # Near miss: the early return tests the shape, not the range.
        Invalid("""
            import torchvision.transforms.functional as TF

            def to_unit(image):
                if image.ndim != 3:
                    raise ValueError("expected a CHW image")
                return image / 255.0

            batch = to_unit(TF.to_tensor(picture))
        """, line=6, related_lines=(8,), unsafe=True, fixed="""
            import torchvision.transforms.functional as TF

            def to_unit(image):
                if image.ndim != 3:
                    raise ValueError("expected a CHW image")
                return image

            batch = to_unit(TF.to_tensor(picture))
        """),
        # Near miss: both branches of the dtype test scale, so every image it returns is scaled.
        Invalid("""
            import numpy as np

            def to_float(image):
                if image.dtype == np.uint8:
                    image = image / 255.0
                else:
                    image = image.astype(np.float32) / 255.0
                return image

            depth = to_float(np.load(path)) / 255.0
        """, line=10, unsafe=True, fixed="""
            import numpy as np

            def to_float(image):
                if image.dtype == np.uint8:
                    image = image / 255.0
                else:
                    image = image.astype(np.float32) / 255.0
                return image

            depth = to_float(np.load(path))
        """),
        # Near miss: the same helper given the image ToTensor already scaled.
        Invalid("""
            import torchvision.transforms as T
            image = T.ToTensor()(picture)

            def to_unit(image):
                return image.float() / 255

            batch = to_unit(image)
        """, line=5, related_lines=(2,), unsafe=True, fixed="""
            import torchvision.transforms as T
            image = T.ToTensor()(picture)

            def to_unit(image):
                return image.float()

            batch = to_unit(image)
        """),
        Invalid("""
            import torchvision.transforms as T
            transform = T.Compose([T.Resize(224), T.ToTensor()])
            image = transform(pil_image) / 255.0
        """, line=3, related_lines=(2,), unsafe=True, fixed="""
            import torchvision.transforms as T
            transform = T.Compose([T.Resize(224), T.ToTensor()])
            image = transform(pil_image)
        """),
        Invalid("""
            import cv2
            image = cv2.imread(path) / 255.0
            image = image / 255.0
        """, line=3, related_lines=(2,), unsafe=True, fixed="""
            import cv2
            image = cv2.imread(path) / 255.0
            image = image
        """),
        Invalid("""
            from torchvision import transforms
            transform = transforms.Compose([
                transforms.ToTensor(),
                transforms.Lambda(lambda x: x / 255),
            ])
        """, line=4, related_lines=(3,)),
        Invalid("""
            from torchvision import transforms as T
            pipeline = T.Compose([
                T.ToTensor(),
                T.Normalize(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
            ])
        """, line=4, related_lines=(3,)),
        Invalid("""
            from torch.utils.data import Dataset
            from torchvision.transforms import Compose, ToTensor

            class Images(Dataset):
                def __init__(self):
                    self.transform = Compose([ToTensor()])

                def __getitem__(self, index):
                    image = self.transform(self.images[index])
                    image /= 255.0
                    return image
        """, line=10, related_lines=(6,)),
        Invalid("""
            import torchvision.transforms.functional as TF
            tensor = TF.to_tensor(image)
            tensor = tensor.div(255)
        """, line=3, related_lines=(2,), unsafe=True, fixed="""
            import torchvision.transforms.functional as TF
            tensor = TF.to_tensor(image)
            tensor = tensor
        """),
        Invalid("""
            import torch
            from torchvision.transforms import v2
            convert = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
            x = convert(frame) * (1 / 255)
        """, line=4, related_lines=(3,), unsafe=True, fixed="""
            import torch
            from torchvision.transforms import v2
            convert = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
            x = convert(frame)
        """),
        Invalid("""
            import torchvision.transforms.functional as F
            from torchvision.io import read_image
            image = F.convert_image_dtype(read_image(path))
            image = F.normalize(image, [123.7, 116.3, 103.5], [58.4, 57.1, 57.4])
        """, line=4, related_lines=(3,)),
        Invalid("""
            import numpy as np
            from PIL import Image

            def load(path):
                return np.asarray(Image.open(path), dtype=np.float32) / 255.0

            def preprocess(path):
                pixels = load(path)
                return pixels / 255.0
        """, line=9, related_lines=(5,), unsafe=True, fixed="""
            import numpy as np
            from PIL import Image

            def load(path):
                return np.asarray(Image.open(path), dtype=np.float32) / 255.0

            def preprocess(path):
                pixels = load(path)
                return pixels
        """),
        # Constructor injection: the transform arrives through the Dataset's parameter.
        Invalid("""
            import torchvision.transforms as T
            from torch.utils.data import Dataset
            from PIL import Image

            class Images(Dataset):
                def __init__(self, files, transform=None):
                    self.files = files
                    self.transform = transform

                def __getitem__(self, index):
                    image = Image.open(self.files[index])
                    return self.transform(image) / 255

            train = Images(files, transform=T.Compose([T.ToTensor()]))
        """, line=12, related_lines=(14,), unsafe=True, fixed="""
            import torchvision.transforms as T
            from torch.utils.data import Dataset
            from PIL import Image

            class Images(Dataset):
                def __init__(self, files, transform=None):
                    self.files = files
                    self.transform = transform

                def __getitem__(self, index):
                    image = Image.open(self.files[index])
                    return self.transform(image)

            train = Images(files, transform=T.Compose([T.ToTensor()]))
        """),
        # A list of scaled images handed to a helper that stacks them.
        Invalid("""
            import cv2
            import numpy as np

            def to_batch(images):
                return np.stack(images)

            batch = to_batch([cv2.imread(p) / 255.0 for p in paths]) / 255
        """, line=7, related_lines=(7,), unsafe=True, fixed="""
            import cv2
            import numpy as np

            def to_batch(images):
                return np.stack(images)

            batch = to_batch([cv2.imread(p) / 255.0 for p in paths])
        """),
        # A nested list of scaled images made into one array.
        Invalid("""
            import cv2
            import numpy as np
            grid = [[cv2.imread(p) / 255.0 for p in row] for row in rows]
            batch = np.array(grid) / 255
        """, line=4, related_lines=(3,), unsafe=True, fixed="""
            import cv2
            import numpy as np
            grid = [[cv2.imread(p) / 255.0 for p in row] for row in rows]
            batch = np.array(grid)
        """),
        # Through a helper and a list comprehension stacked into a batch.
        Invalid("""
            import cv2
            import numpy as np

            def load(path):
                return cv2.imread(path) / 255.0

            batch = np.stack([load(path) for path in paths]) / 255
        """, line=7, related_lines=(5,), unsafe=True, fixed="""
            import cv2
            import numpy as np

            def load(path):
                return cv2.imread(path) / 255.0

            batch = np.stack([load(path) for path in paths])
        """),
        Invalid("""
            import torch
            import torchvision.transforms as T
            to_tensor = T.ToTensor()
            frames = []
            for image in images:
                frames.append(to_tensor(image))
            clip = torch.stack(frames) / 255.0
        """, line=7, related_lines=(3,), unsafe=True, fixed="""
            import torch
            import torchvision.transforms as T
            to_tensor = T.ToTensor()
            frames = []
            for image in images:
                frames.append(to_tensor(image))
            clip = torch.stack(frames)
        """),
        # albumentations' Normalize divides by max_pixel_value=255 by default.
        Invalid("""
            import albumentations as A
            import cv2
            from albumentations.pytorch import ToTensorV2
            transform = A.Compose([A.Resize(224, 224), A.Normalize(), ToTensorV2()])
            image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
            tensor = transform(image=image)["image"] / 255.0
        """, line=6, related_lines=(4,), unsafe=True, fixed="""
            import albumentations as A
            import cv2
            from albumentations.pytorch import ToTensorV2
            transform = A.Compose([A.Resize(224, 224), A.Normalize(), ToTensorV2()])
            image = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
            tensor = transform(image=image)["image"]
        """),
        Invalid("""
            import albumentations as A
            import cv2
            transform = A.Compose([
                A.HorizontalFlip(),
                A.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
            ])
            image = cv2.imread(path).astype("float32") / 255.0
            augmented = transform(image=image)
        """, line=8, related_lines=(5, 7)),
        Invalid("""
            import albumentations as A
            transform = A.Compose([
                A.ToFloat(max_value=255),
                A.Normalize(mean=0, std=1),
            ])
        """, line=4, related_lines=(3,)),
        # Near miss: the `if` looks at the shape, not the dtype, so the division always runs.
        Invalid("""
            import torch
            import torchvision.transforms.functional as TF

            def to_string(image):
                if image.ndim == 3:
                    image = image / 255.0
                return render(image)

            to_string(TF.to_tensor(picture))
        """, line=6, related_lines=(9,), unsafe=True, fixed="""
            import torch
            import torchvision.transforms.functional as TF

            def to_string(image):
                if image.ndim == 3:
                    image = image
                return render(image)

            to_string(TF.to_tensor(picture))
        """),
        # Near miss: the early return is no image, so every image the helper returns is scaled.
        Invalid("""
            import torch

            def convert(image, desired):
                if desired is None:
                    return None
                return image.float() / 255.0

            def to_tensor(raw):
                return convert(raw, "rgb") / 255
        """, line=9, related_lines=(6,), unsafe=True, fixed="""
            import torch

            def convert(image, desired):
                if desired is None:
                    return None
                return image.float() / 255.0

            def to_tensor(raw):
                return convert(raw, "rgb")
        """),
        Invalid("""
            import tensorflow as tf
            from tensorflow.keras.applications.resnet50 import preprocess_input
            image = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
            image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, (224, 224))
            batch = preprocess_input(tf.expand_dims(image, 0))
        """, line=5, related_lines=(4,)),
        Invalid("""
            from tensorflow import keras
            image = keras.utils.img_to_array(keras.utils.load_img(path)) / 255.0
            restored = keras.applications.mobilenet_v2.preprocess_input(image)
        """, line=3, related_lines=(2,)),
        # Twin of the helper: its caller hands it the decoded uint8 image.
        Invalid("""
            import tensorflow as tf

            def normalize(image):
                image = tf.image.convert_image_dtype(image, tf.float32)
                return image / 255.0

            def load(path):
                image = tf.io.decode_png(tf.io.read_file(path))
                return normalize(image)
        """, line=5, related_lines=(4,), unsafe=True, fixed="""
            import tensorflow as tf

            def normalize(image):
                image = tf.image.convert_image_dtype(image, tf.float32)
                return image

            def load(path):
                image = tf.io.decode_png(tf.io.read_file(path))
                return normalize(image)
        """),
        # convert_image_dtype already scaled the uint8 image to [0, 1].
        Invalid("""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.reshape(tf.image.convert_image_dtype(image, tf.float32), (-1, 64, 64, 3))
            image = tf.squeeze(image) / 255.0
        """, line=4, related_lines=(3,), unsafe=True, fixed="""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.reshape(tf.image.convert_image_dtype(image, tf.float32), (-1, 64, 64, 3))
            image = tf.squeeze(image)
        """),
        # `tf.to_float` keeps the values it casts: still in [0, 1]. Nearest-neighbour resizing
        # keeps the uint8 dtype, which convert_image_dtype then scales.
        Invalid("""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.to_float(tf.image.convert_image_dtype(image, tf.float32))
            image = image / 255.0
        """, line=4, related_lines=(3,), unsafe=True, fixed="""
            import tensorflow as tf
            image = tf.io.decode_png(tf.io.read_file(path), channels=3)
            image = tf.to_float(tf.image.convert_image_dtype(image, tf.float32))
            image = image
        """),
        Invalid("""
            import tensorflow as tf
            image = tf.image.decode_jpeg(raw, channels=3)
            image = tf.image.resize_nearest_neighbor(tf.expand_dims(image, 0), [224, 224])
            image = tf.image.convert_image_dtype(image, tf.float32) / 255.0
        """, line=4, related_lines=(4,), unsafe=True, fixed="""
            import tensorflow as tf
            image = tf.image.decode_jpeg(raw, channels=3)
            image = tf.image.resize_nearest_neighbor(tf.expand_dims(image, 0), [224, 224])
            image = tf.image.convert_image_dtype(image, tf.float32)
        """),
        # tf.concat joins images already scaled, in TF 0.x's order and in today's.
        Invalid("""
            import tensorflow as tf
            image = tf.image.convert_image_dtype(tf.image.decode_png(raw), tf.float32)
            pair = tf.concat(2, [image, tf.image.flip_left_right(image)]) / 255.0
        """, line=3, related_lines=(2,), unsafe=True, fixed="""
            import tensorflow as tf
            image = tf.image.convert_image_dtype(tf.image.decode_png(raw), tf.float32)
            pair = tf.concat(2, [image, tf.image.flip_left_right(image)])
        """),
        Invalid("""
            import tensorflow as tf
            left = tf.image.convert_image_dtype(tf.image.decode_png(left_raw), tf.float32)
            pair = tf.stack([left, left], axis=0) / 255.0
        """, line=3, related_lines=(2,), unsafe=True, fixed="""
            import tensorflow as tf
            left = tf.image.convert_image_dtype(tf.image.decode_png(left_raw), tf.float32)
            pair = tf.stack([left, left], axis=0)
        """),
        # The model's first layer scales again what the data pipeline already scaled.
        Invalid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
            x_train = x_train.astype("float32") / 255.0
            model = keras.Sequential([
                layers.Rescaling(1.0 / 255),
                layers.Conv2D(32, 3, activation="relu"),
                layers.Flatten(),
                layers.Dense(10),
            ])
            model.fit(x_train, y_train, epochs=10)
        """, line=11, related_lines=(4, 6)),
        Invalid("""
            import tensorflow as tf
            augment = tf.keras.Sequential([tf.keras.layers.RandomFlip("horizontal")])
            model = tf.keras.Sequential([
                augment,
                tf.keras.layers.experimental.preprocessing.Rescaling(1. / 255),
                tf.keras.layers.Conv2D(16, 3),
            ])
            image = tf.image.convert_image_dtype(tf.io.decode_jpeg(data), tf.float32)
            scores = model(image[None])
        """, line=9, related_lines=(8, 5)),
        Invalid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            inputs = keras.Input(shape=(32, 32, 3))
            x = layers.Rescaling(1.0 / 255)(inputs)
            x = layers.Conv2D(32, 3, activation="relu")(x)
            model = keras.Model(inputs, layers.Dense(10)(layers.Flatten()(x)))
            (x_train, y_train), _ = keras.datasets.cifar10.load_data()
            x_train = x_train.astype("float32") / 255.0
            model.fit(x_train, y_train, epochs=10)
        """, line=9, related_lines=(4, 8)),
        # ImageDataGenerator runs preprocessing_function first, then multiplies by rescale.
        Invalid("""
            from tensorflow.keras.applications.mobilenet_v2 import preprocess_input
            from tensorflow.keras.preprocessing.image import ImageDataGenerator
            generator = ImageDataGenerator(rescale=1. / 255, preprocessing_function=preprocess_input)
        """, line=3, related_lines=(3,)),
        # The same pipeline with a normalization whose positional mean is sized for 0-255.
        Invalid("""
            import torchvision
            from torchvision import transforms
            image = torchvision.io.read_image("photo.png") / 255.
            normalize = transforms.Normalize((123.7, 116.3, 103.5), (58.4, 57.1, 57.4))
            image = normalize(image)
        """, line=5, related_lines=(3,)),
        # Min-max scaling by the image's own range is a scaling to [0, 1] as well.
        Invalid("""
            import cv2
            image = cv2.imread(path).astype("float32")
            image = (image - image.min()) / (image.max() - image.min() + 1e-8)
            image = image / 255.0
        """, line=4, related_lines=(3,), unsafe=True, fixed="""
            import cv2
            image = cv2.imread(path).astype("float32")
            image = (image - image.min()) / (image.max() - image.min() + 1e-8)
            image = image
        """),
        # The same with the extremes held in variables, in torch.
        Invalid("""
            import torch
            from torchvision.io import read_image
            image = read_image(path).float()
            low, high = torch.min(image), torch.max(image)
            image = (image - low) / (high - low)
            batch = image.unsqueeze(0) / 255
        """, line=6, related_lines=(5,), unsafe=True, fixed="""
            import torch
            from torchvision.io import read_image
            image = read_image(path).float()
            low, high = torch.min(image), torch.max(image)
            image = (image - low) / (high - low)
            batch = image.unsqueeze(0)
        """),
        # Standardized by the pipeline's Normalize, then divided by the same std again.
        Invalid("""
            import numpy as np
            from torchvision import transforms
            MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
            to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
            x = to_input(image)
            x = (x - np.array(MEAN)[:, None, None]) / np.array(STD)[:, None, None]
        """, line=6, related_lines=(4,)),
        Invalid("""
            def standardize(features, mean, std):
                return (features - mean) / std

            features = (raw - mean) / std
            features /= std
        """, line=5, related_lines=(4,)),
        # Near misses of the inverse: a sign slip (mean +1) undoes nothing, so the last
        # Normalize standardizes a second time; by hand, multiplying by another quantity.
        Invalid("""
            from torchvision import transforms as T

            class CropPairs:
                def __init__(self, side, bands):
                    self.full = T.Compose([
                        T.CenterCrop(side), T.ToTensor(),
                        T.Normalize(mean=(0.5,) * bands, std=(0.5,) * bands),
                    ])
                    self.small = T.Compose([
                        T.Normalize(mean=(1.0,) * bands, std=(2.0,) * bands),
                        T.ToPILImage(), T.Resize(side // 2), T.ToTensor(),
                        T.Normalize(mean=(0.5,) * bands, std=(0.5,) * bands),
                    ])

                def pair(self, photo):
                    full = self.full(photo)
                    return full, self.small(full)
        """, line=17, related_lines=(7,)),
        Invalid("""
            signal = (raw - centre) / std_dev
            recovered = signal * gain + centre
            again = (recovered - centre) / std_dev
        """, line=3, related_lines=(1,)),
        # The pipeline already ends with the Normalize that is applied again.
        Invalid("""
            from torchvision import transforms
            normalize = transforms.Normalize(MEAN, STD)
            to_input = transforms.Compose([transforms.ToTensor(), normalize])
            x = normalize(to_input(image))
        """, line=4, related_lines=(2,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.dtype_guards = 0  # open `if`s whose test looks at the dtype or the range
        # Per function (the module first): how many `if`s on the dtype or the range that leave
        # (`if image.max() <= 1: return image`) came before; what follows them is guarded too.
        self.guarding_exits = [0]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.guarding_exits.append(0)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.guarding_exits.pop()

    def visit_If(self, node: cst.If) -> None:
        self.dtype_guards += inspects_dtype_or_range(node.test)

    def leave_If(self, original_node: cst.If) -> None:
        guard = inspects_dtype_or_range(original_node.test)
        self.dtype_guards -= guard
        if guard and leaves(original_node.body):
            self.guarding_exits[-1] += 1

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self.dtype_guards += inspects_dtype_or_range(node.test)

    def leave_IfExp(self, original_node: cst.IfExp) -> None:
        self.dtype_guards -= inspects_dtype_or_range(original_node.test)

    def report_double(self, node: cst.CSTNode, earlier: Tag, fix_operand=None) -> None:
        if self.dtype_guards or self.guarding_exits[-1]:
            return  # `if image.dtype == torch.uint8: image = image / 255`: scaled only once
        how = earlier.detail or "an earlier scaling"
        message = (f"this divides by 255 again: the value was already scaled to [0, 1] by {how}; "
                   "inputs end up in [0, 0.004]")
        fix = None
        if fix_operand is not None:
            fix = NodeFix.replace(node, fix_operand, description="Remove the second scaling",
                                  applicability=Applicability.UNSAFE)
        self.report(node, message, fix=fix, related=self.origin_of(earlier, "first scaled here"))


    def scaled_tag(self, value: Value) -> Tag | None:
        return first(value, UNIT_SCALED)

    def check_standardized_again(self, node: cst.CSTNode, value: cst.BaseExpression,
                                 std: str) -> None:
        """`x / std` of a value `(x - mean) / std` or `Normalize(mean, std)` already
        standardized with the same std (`syntax.std_key`)."""
        self.report_standardized_again(node, self.facts.value(value), std)

    def check_normalizations(self, node: cst.Call, value: Value, transform: Tag) -> None:
        """A pipeline applied to `value`: each of its Normalize steps in order, against what the
        value is by then. A step that undoes the value's standardization (`Normalize(-1, 2)`
        after `Normalize(0.5, 0.5)`) restores its earlier range; only a step that standardizes
        again with the same std is reported."""
        for step in transform.info.normalizations:
            if undone(value, step.mean, step.std) is None and \
                    self.report_standardized_again(node, value, step.std_key):
                return
            value = standardized(value, step.node, step.std_key, step.mean, step.std)

    def report_standardized_again(self, node: cst.CSTNode, value: Value, std: str) -> bool:
        if self.dtype_guards or self.guarding_exits[-1] or not std:
            return False
        for earlier in value:
            if earlier.kind == STANDARDIZED and earlier.node is not node and \
                    std == earlier.detail:
                what = "normalizes with" if isinstance(node, cst.Call) else "divides by"
                self.report(node, f"this {what} the std `{std}` again: the value was already "
                                  "standardized with it; its spread shrinks by the std a second "
                                  "time (standardize once)",
                            related=self.origin_of(earlier, "standardized here"))
                return True
        return False

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Divide):
            divided = node.left
            if isinstance(divided, cst.BinaryOperation) and isinstance(
                    divided.operator, cst.Subtract):
                divided = divided.left  # `(x - mean) / std` of an x already standardized
            self.check_standardized_again(
                node, divided, std_key(node.right, self.imports.qualified_name, divided))
        if _divides_by_255(node):
            earlier = self.scaled_tag(self.facts.value(node.left))
            if earlier is not None:
                self.report_double(node, earlier, node.left.with_changes(lpar=(), rpar=()))
        elif _divides_by_half_255(node):
            earlier = self.scaled_tag(self.facts.value(node.left))
            if earlier is not None and not self.dtype_guards and not self.guarding_exits[-1]:
                self.report(node, f"this maps 0-255 pixels to [-1, 1], but the value was already "
                                  f"scaled to [0, 1] by {earlier.detail or 'an earlier scaling'}; "
                                  "inputs end up in [-1, -0.99] (use `x * 2 - 1` on [0, 1] data)",
                            related=self.origin_of(earlier, "first scaled here"))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.DivideAssign):
            self.check_standardized_again(
                node, node.target, std_key(node.value, self.imports.qualified_name, node.target))
        divides = (isinstance(node.operator, cst.DivideAssign) and is_255(node.value)) or (
            isinstance(node.operator, cst.MultiplyAssign) and is_inverse_255(node.value))
        if divides:
            earlier = self.scaled_tag(self.facts.value(node.target))
            if earlier is not None:
                self.report_double(node, earlier)

    def visit_Call(self, node: cst.Call) -> None:
        if node.args and isinstance(node.args[0].value, (cst.Name, cst.Attribute, cst.Call,
                                                         cst.Subscript)):
            for transform in self.facts.value(node.func):
                if transform.kind == TRANSFORM and transform.info.normalizations:
                    self.check_normalizations(node, self.facts.value(node.args[0].value),
                                              transform)
        qualified = self.imports.call_name(node)
        if qualified in catalog.ZERO_TO_255_PREPROCESSING:
            self.check_preprocess_input(node, argument(node, 0, "x"), qualified)
            return
        if qualified in catalog.IMAGE_DATA_GENERATORS:
            self.check_generator(node)
            return
        self.check_keras_input(node)
        if _divides_by_255(node) and isinstance(node.func, cst.Attribute):
            earlier = self.scaled_tag(self.facts.value(node.func.value))
            if earlier is not None:
                self.report_double(node, earlier, node.func.value)
            return
        if qualified in catalog.COMPOSE or qualified in catalog.ALBUMENTATIONS_COMPOSE:
            self.check_pipeline(node)
        elif qualified in catalog.NORMALIZE_TRANSFORMS and qualified.endswith("normalize"):
            if _large_mean(node, 1):
                self.check_normalize_input(node, argument(node, 0, "tensor"))
        else:
            callee = first(self.facts.value(node.func), TRANSFORM) if not qualified or \
                isinstance(node.func, cst.Call) else None
            if callee is not None and self.normalizes(callee.node) and _large_mean(callee.node) \
                    and node.args:
                self.check_normalize_input(node, node.args[0])
            if callee is not None and callee.info.divides_float:
                self.check_divided_input(node, callee)

    def check_preprocess_input(self, call: cst.Call, arg: cst.Arg | None, qualified: str) -> None:
        """`preprocess_input(x / 255)`: keras.applications expect 0-255 pixels."""
        earlier = self.scaled_tag(self.facts.value(arg.value)) if arg is not None else None
        if earlier is not None:
            name = ".".join(qualified.split(".")[-2:])
            self.report(call, f"`{name}` expects pixels in 0-255, but this image was already "
                              f"scaled to [0, 1] by {earlier.detail}; pass the unscaled pixels",
                        related=self.origin_of(earlier, "scaled to [0, 1] here"))

    def check_generator(self, call: cst.Call) -> None:
        """`ImageDataGenerator(rescale=1./255, preprocessing_function=preprocess_input)`."""
        rescale, function = keyword(call, "rescale"), keyword(call, "preprocessing_function")
        if rescale is None or function is None or not is_inverse_255(rescale.value):
            return
        preprocessing = self.imports.qualified_name(function.value) or ""
        if preprocessing in catalog.ZERO_TO_255_PREPROCESSING:
            name = ".".join(preprocessing.split(".")[-2:])
            self.report(rescale, f"`rescale` divides by 255 what `{name}` (the "
                                 "`preprocessing_function`, which runs first) already "
                                 "normalized; drop `rescale`",
                        related=[(function, "normalizes 0-255 pixels here")])

    def check_keras_input(self, call: cst.Call) -> None:
        """`model.fit(x / 255)` for a Keras model whose first layer is `Rescaling(1./255)`."""
        keras_model, data = self.facts.keras_input(call)
        if data is None or keras_model is None or \
                getattr(keras_model.info, "input_pixels", "") != "scaled":
            return
        earlier = self.scaled_tag(self.facts.value(data.value))
        if earlier is not None:
            self.report(call, f"this image was already scaled to [0, 1] by {earlier.detail}, and "
                              "the model's first layer (`Rescaling`) divides it by 255 again; "
                              "inputs end up in [0, 0.004] (drop one of the two scalings)",
                        related=self.origin_of(earlier, "first scaled here")
                        + [(keras_model.info.input_scaling, "divides by 255 here")])

    def check_divided_input(self, call: cst.Call, pipeline: Tag) -> None:
        """`pipeline(image=x / 255)` where the pipeline's Normalize divides by 255 itself."""
        image = positional(call, 0) or keyword(call, "image")
        earlier = self.scaled_tag(self.facts.value(image.value)) if image is not None else None
        if earlier is not None:
            self.report(call, f"this image was already scaled to [0, 1] by {earlier.detail}, and "
                              f"{pipeline.info.scaling_name} divides it by 255 again; inputs end "
                              "up in [0, 0.004] (pass max_pixel_value=1.0 or drop the first "
                              "scaling)",
                        related=self.origin_of(earlier, "first scaled here")
                        + [(pipeline.info.scaling, "divides by 255 here")])

    def normalizes(self, constructor: cst.CSTNode | None) -> bool:
        """Whether a transform was built as a normalization (`Normalize(mean, std)`, or any
        transform given `mean=`): only then is its first argument a mean. `Resize((64, 64))`'s
        first argument is a size."""
        if not isinstance(constructor, cst.Call):
            return False
        qualified = self.imports.call_name(constructor) or ""
        return qualified in catalog.NORMALIZE_TRANSFORMS or qualified.endswith(".Normalize") \
            or keyword(constructor, "mean") is not None

    def check_normalize_input(self, call: cst.Call, arg: cst.Arg | None) -> None:
        if arg is None:
            return
        earlier = self.scaled_tag(self.facts.value(arg.value))
        if earlier is not None:
            self.report(call, f"mean and std sized for 0-255 pixels, but the input was scaled to "
                              f"[0, 1] by {earlier.detail}; use [0, 1] statistics "
                              "(e.g. mean=[0.485, 0.456, 0.406])",
                        related=self.origin_of(earlier, "scaled to [0, 1] here"))

    def check_pipeline(self, node: cst.Call) -> None:
        if not node.args or not isinstance(node.args[0].value, (cst.List, cst.Tuple)):
            return
        scaling: Tag | None = None
        for element in node.args[0].value.elements:
            step = element.value
            step_tag = first(self.facts.value(step), TRANSFORM)
            if scaling is not None and isinstance(step, cst.Call):
                step_name = self.imports.call_name(step) or ""
                body = lambda_body(step)
                if step_name in catalog.LAMBDA_TRANSFORMS and body is not None and \
                        multiplies_by_255(body):
                    scaling = None  # `Lambda(lambda x: x * 255)` undid the scaling
                    continue
                if step_name in catalog.LAMBDA_TRANSFORMS and step.args and isinstance(
                        step.args[0].value, cst.Lambda) and _divides_by_255(step.args[0].value.body):
                    self.report(step, f"this step divides by 255 again after {scaling.detail} "
                                      "already scaled to [0, 1]",
                                related=[(scaling.node, "first scaled here")])
                elif step_name in catalog.NORMALIZE_TRANSFORMS and _large_mean(step):
                    self.report(step, f"mean and std sized for 0-255 pixels after {scaling.detail} "
                                      "scaled to [0, 1]; use [0, 1] statistics "
                                      "(e.g. mean=[0.485, 0.456, 0.406])",
                                related=[(scaling.node, "scaled to [0, 1] here")])
                elif step_tag is not None and step_tag.info.divides_float:
                    self.report(step, f"this step divides by 255 again after {scaling.detail} "
                                      "already scaled to [0, 1] (pass max_pixel_value=1.0)",
                                related=[(scaling.node, "first scaled here")])
            if scaling is None and step_tag is not None and step_tag.info.scaling is not None:
                scaling = Tag(UNIT_SCALED, step_tag.info.scaling, step_tag.info.scaling_name)
