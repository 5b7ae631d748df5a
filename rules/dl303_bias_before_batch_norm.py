"""DL303: a convolution or linear layer with a bias feeding straight into batch norm."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, is_true, keyword
from dllint.types import Applicability, Severity

LAYERS = {"torch.nn.Conv1d": "torch.nn.BatchNorm1d", "torch.nn.Conv2d": "torch.nn.BatchNorm2d",
          "torch.nn.Conv3d": "torch.nn.BatchNorm3d", "torch.nn.Linear": "torch.nn.BatchNorm1d"}
BIAS_POSITION = {"torch.nn.Linear": 2, "torch.nn.Conv1d": 7, "torch.nn.Conv2d": 7,
                 "torch.nn.Conv3d": 7}


class BiasBeforeBatchNorm(Rule):
    """
    ## What it does
    Flags `nn.Conv2d(...)` / `nn.Linear(...)` with a bias (the default) placed directly before
    the matching batch norm in an `nn.Sequential`, written there or returned by a function of
    the file (or a method, `self.conv(...)`) called there
    (`nn.Sequential(conv3x3(64, 64), nn.BatchNorm2d(64))`).

    TensorFlow and Keras: a TF1 `tf.layers.dense`/`conv1d`/`conv2d`/`conv3d` (`use_bias=True`
    by default) or a tf.contrib `fully_connected`/`conv2d` with `activation_fn=None` (which adds
    `biases_initializer` unless given a `normalizer_fn`) whose output, directly or through the
    variable it was assigned to, goes into `tf.layers.batch_normalization` or
    `tf.contrib.layers.batch_norm`; and a Keras `Dense`/`Conv*D` without an activation followed
    by `BatchNormalization` in a `Sequential` list or in the functional API.

    ## Why is this bad?
    Batch norm subtracts the per-channel mean, which removes any constant the previous layer
    added: the bias learns nothing, costs memory and compute, and its gradient is noise.
    "Turn off bias before batch norm" is standard practice.

    ## Example
    ```python
    nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())
    ```

    ## Use instead
    ```python
    nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
    ```

    ## References
    Ioffe and Szegedy, "Batch Normalization" (2015), section 3.2.
    """

    code = "DL303"
    name = "bias-before-batch-norm"
    summary = "Conv/Linear bias right before batch norm is cancelled by it"
    severity = Severity.INFO
    # Opt-in (`--extend-select DL303`): true, but the fix breaks loading pretrained checkpoints.
    enabled_by_default = False
    requires_any = ("BatchNorm", "batch_norm")

    VALID = [
        Valid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        """),
        Valid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.ReLU(), nn.BatchNorm2d(64))
        """),
        Valid("""
            from torch import nn
            head = nn.Sequential(nn.Linear(128, 64, bias=False), nn.BatchNorm1d(64))
        """),
        Valid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.GroupNorm(8, 64))
        """),
        Valid("""
            from torch import nn
            conv = nn.Conv2d(3, 64, 3)
            norm = nn.BatchNorm2d(64)
        """),
        Valid("""
            from torch import nn
            use_bias = False
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=use_bias), nn.BatchNorm2d(64))
        """),
        # TF1: an activation between the layer and batch norm keeps the bias useful; tf.contrib
        # drops the bias itself when given the normalizer; `use_bias=False` is the fix.
        Valid("""
            import tensorflow as tf
            conv = tf.layers.conv2d(x, 64, 3, activation=tf.nn.relu)
            bn = tf.layers.batch_normalization(conv, training=is_training)
            hidden = tf.contrib.layers.batch_norm(tf.contrib.layers.fully_connected(x, 256))
            normed = tf.contrib.layers.conv2d(x, 64, 3, activation_fn=None,
                                              normalizer_fn=tf.contrib.layers.batch_norm)
            plain = tf.layers.conv2d(x, 64, 3, use_bias=False)
            plain = tf.layers.batch_normalization(plain, training=is_training)
        """),
        Valid("""
            from tensorflow import keras
            from tensorflow.keras import layers
            model = keras.Sequential([layers.Conv2D(32, 3, use_bias=False),
                                      layers.BatchNormalization(),
                                      layers.Dense(64, activation="relu"),
                                      layers.BatchNormalization()])
            x = layers.Conv2D(64, 3, use_bias=False)(inputs)
            x = layers.BatchNormalization()(x)
        """),
        # The function's layer has no bias, or takes it from its caller.
        Valid("""
            from torch import nn

            def conv3x3(in_channels, out_channels, stride=1):
                return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)

            def conv1x1(in_channels, out_channels, bias=True):
                return nn.Conv2d(in_channels, out_channels, 1, bias=bias)

            body = nn.Sequential(conv3x3(64, 64), nn.BatchNorm2d(64), nn.ReLU())
            shortcut = nn.Sequential(conv1x1(64, 128, bias=False), nn.BatchNorm2d(128))
        """),
    ]
    INVALID = [
        Invalid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3), nn.BatchNorm2d(64), nn.ReLU())
        """, line=2, unsafe=True, fixed="""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        """),
        Invalid("""
            import torch.nn as nn
            head = nn.Sequential(nn.Linear(128, 64), nn.BatchNorm1d(64), nn.ReLU())
        """, line=2, unsafe=True, fixed="""
            import torch.nn as nn
            head = nn.Sequential(nn.Linear(128, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU())
        """),
        Invalid("""
            from torch import nn
            block = nn.Sequential(nn.Conv2d(3, 64, 3, bias=True), nn.BatchNorm2d(64))
        """, line=2),
        Invalid("""
            import torch
            block = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 5, padding=2), torch.nn.BatchNorm1d(8))
        """, line=2, unsafe=True, fixed="""
            import torch
            block = torch.nn.Sequential(torch.nn.Conv1d(8, 8, 5, padding=2, bias=False), torch.nn.BatchNorm1d(8))
        """),
        Invalid("""
            from torch.nn import BatchNorm3d, Conv3d, Sequential
            stem = Sequential(Conv3d(1, 16, 3), BatchNorm3d(16))
        """, line=2, unsafe=True, fixed="""
            from torch.nn import BatchNorm3d, Conv3d, Sequential
            stem = Sequential(Conv3d(1, 16, 3, bias=False), BatchNorm3d(16))
        """),
        Invalid("""
            from torch import nn
            layers = [nn.Conv2d(64, 128, 3, stride=2), nn.BatchNorm2d(128)]
            down = nn.Sequential(*layers)
            block = nn.Sequential(nn.Conv2d(128, 128, 1), nn.BatchNorm2d(128))
        """, line=4, unsafe=True, fixed="""
            from torch import nn
            layers = [nn.Conv2d(64, 128, 3, stride=2), nn.BatchNorm2d(128)]
            down = nn.Sequential(*layers)
            block = nn.Sequential(nn.Conv2d(128, 128, 1, bias=False), nn.BatchNorm2d(128))
        """),
        Invalid("""
            import tensorflow as tf
            conv = tf.layers.conv2d(x, 64, 3, padding="same")
            bn = tf.layers.batch_normalization(conv, training=is_training)
        """, line=2, unsafe=True, fixed="""
            import tensorflow as tf
            conv = tf.layers.conv2d(x, 64, 3, padding="same", use_bias=False)
            bn = tf.layers.batch_normalization(conv, training=is_training)
        """),
        Invalid("""
            import tensorflow as tf
            hidden = tf.contrib.layers.batch_norm(
                tf.contrib.layers.fully_connected(x, 256, activation_fn=None))
        """, line=3, unsafe=True, fixed="""
            import tensorflow as tf
            hidden = tf.contrib.layers.batch_norm(
                tf.contrib.layers.fully_connected(x, 256, activation_fn=None, biases_initializer=None))
        """),
        Invalid("""
            from tensorflow.keras import layers
            x = layers.Conv2D(64, 3, padding="same")(inputs)
            x = layers.BatchNormalization()(x)
        """, line=2, unsafe=True, fixed="""
            from tensorflow.keras import layers
            x = layers.Conv2D(64, 3, padding="same", use_bias=False)(inputs)
            x = layers.BatchNormalization()(x)
        """),
        Invalid("""
            from tensorflow import keras
            model = keras.Sequential([keras.layers.Dense(128, use_bias=True),
                                      keras.layers.BatchNormalization(),
                                      keras.layers.ReLU()])
        """, line=2),
        # The layer comes from a function of the file.
        Invalid("""
            from torch import nn

            def conv3x3(in_channels, out_channels, stride=1):
                return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)

            class BasicBlock(nn.Module):
                def __init__(self, channels):
                    super().__init__()
                    self.body = nn.Sequential(conv3x3(channels, channels), nn.BatchNorm2d(channels))
        """, line=9, related_lines=(4,)),
        # ... or from a method of the class.
        Invalid("""
            from torch import nn

            class Stem(nn.Module):
                def _conv(self, in_channels, out_channels):
                    return nn.Conv2d(in_channels, out_channels, 7, stride=2, padding=3)

                def __init__(self):
                    super().__init__()
                    self.layers = nn.Sequential(self._conv(3, 64), nn.BatchNorm2d(64), nn.ReLU())
        """, line=9, related_lines=(5,)),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        # What each plain name was last assigned in the current function (or the module): a
        # batch norm's input is often the variable the layer's output was stored in.
        self.assigned: list[dict[str, cst.BaseExpression]] = [{}]
        self.function_names: list[str] = []  # the open functions, innermost last
        # Functions of the file that return a new layer (`def conv3x3(...): return nn.Conv2d(...)`)
        self.factories: dict[str, cst.Call] = {}
        # (the member call, the batch norm after it, the function it calls)
        self.factory_members: list[tuple[cst.Call, cst.Call, str]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.assigned.append({})
        self.function_names.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.assigned.pop()
        self.function_names.pop()

    def leave_Assign(self, original_node: cst.Assign) -> None:
        for target in original_node.targets:
            if isinstance(target.target, cst.Name):
                self.assigned[-1][target.target.value] = original_node.value

    def visit_Return(self, node: cst.Return) -> None:
        if self.function_names and isinstance(node.value, cst.Call) and \
                self.imports.call_name(node.value) in LAYERS:
            self.factories.setdefault(self.function_names[-1], node.value)

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.imports.call_name(node)
        if qualified in catalog.KERAS_SEQUENTIAL_MODELS:
            self.check_keras_sequential(node)
        elif qualified in catalog.BATCH_NORM_FUNCTIONS:  # tf.layers.batch_normalization(conv)
            self.check_input(argument(node, 0, "inputs"))
        elif isinstance(node.func, cst.Call) and node.args and \
                self.imports.call_name(node.func) in catalog.KERAS_BATCH_NORM_LAYERS:
            self.check_input(node.args[0])  # layers.BatchNormalization()(x), the functional API
        if qualified != "torch.nn.Sequential":
            return
        members = [arg.value for arg in node.args if not arg.star]
        for layer, norm in zip(members, members[1:]):
            if not (isinstance(layer, cst.Call) and isinstance(norm, cst.Call)):
                continue
            function = _own_function(layer.func)
            if function is not None and self.imports.call_name(layer) is None:
                self.factory_members.append((layer, norm, function))
                continue
            kind = self.imports.call_name(layer)
            if kind not in LAYERS or self.imports.call_name(norm) != LAYERS[kind] or \
                    not self._has_bias(layer, kind):
                continue
            fix = None
            if argument(layer, BIAS_POSITION[kind], "bias") is None and layer.args and \
                    not any(arg.star for arg in layer.args):
                fix = NodeFix.wrap(layer.args[-1].value, "", ", bias=False",
                                   description="Pass bias=False",
                                   applicability=Applicability.UNSAFE)
            self.report(layer, "this layer's bias is cancelled by the batch norm right after it "
                               "(which subtracts the channel mean); pass `bias=False`", fix=fix)

    def check_keras_sequential(self, node: cst.Call) -> None:
        """`keras.Sequential([layers.Conv2D(64, 3), layers.BatchNormalization()])`."""
        arg = argument(node, 0, "layers")
        if arg is None or not isinstance(arg.value, (cst.List, cst.Tuple)):
            return
        members = [element.value for element in arg.value.elements]
        for layer, norm in zip(members, members[1:]):
            if isinstance(layer, cst.Call) and isinstance(norm, cst.Call) and \
                    self.imports.call_name(norm) in catalog.KERAS_BATCH_NORM_LAYERS:
                self.check_keras_layer(layer)

    def check_input(self, arg: cst.Arg | None) -> None:
        """What a batch norm normalises: a layer's output, given directly or through the name
        it was assigned to."""
        if arg is None:
            return
        value = arg.value
        if isinstance(value, cst.Name):
            value = self.assigned[-1].get(value.value)
        if not isinstance(value, cst.Call):
            return
        qualified = self.imports.call_name(value)
        if qualified in catalog.BIASED_LAYER_FUNCTIONS:
            self.check_layer_function(value, catalog.BIASED_LAYER_FUNCTIONS[qualified])
        elif isinstance(value.func, cst.Call):
            self.check_keras_layer(value.func)

    def check_keras_layer(self, layer: cst.Call) -> None:
        """A Keras layer with its bias on (`use_bias=True`, the default) and no activation."""
        if self.imports.call_name(layer) not in catalog.KERAS_BIASED_LAYERS:
            return
        bias = keyword(layer, "use_bias")
        if (bias is not None and not is_true(bias.value)) or not _no_activation(
                keyword(layer, "activation"), "None"):
            return
        self.report_bias(layer, "use_bias=False", fixable=bias is None)

    def check_layer_function(self, layer: cst.Call, row) -> None:
        """A TF1 (`tf.layers.conv2d`) or tf.contrib layer function whose bias is on and whose
        output goes into batch norm without an activation in between."""
        bias = argument(layer, *row.bias)
        if bias is not None and not (row.bias_off == "False" and is_true(bias.value)):
            return
        if row.normalizer is not None and argument(layer, *row.normalizer) is not None:
            return  # tf.contrib leaves the bias out itself when given a normalizer_fn
        if not _no_activation(argument(layer, *row.activation), row.activation_default):
            return
        self.report_bias(layer, f"{row.bias[1]}={row.bias_off}", fixable=bias is None)

    def report_bias(self, layer: cst.Call, switch: str, fixable: bool) -> None:
        fix = None
        if fixable and layer.args and not any(arg.star for arg in layer.args):
            fix = NodeFix.wrap(layer.args[-1].value, "", f", {switch}",
                               description=f"Pass {switch}", applicability=Applicability.UNSAFE)
        self.report(layer, "this layer's bias is cancelled by the batch norm right after it "
                           f"(which subtracts the channel mean); pass `{switch}`", fix=fix)


    def leave_Module(self, original_node: cst.Module) -> None:
        # `nn.Sequential(conv3x3(64, 64), nn.BatchNorm2d(64))`: the layer its function returns.
        # No fix: the function may serve places without a batch norm too.
        for member, norm, name in self.factory_members:
            built = self.factories.get(name)
            if built is None:
                continue
            kind = self.imports.call_name(built)
            if self.imports.call_name(norm) != LAYERS[kind] or not self._has_bias(built, kind):
                continue
            self.report(member, f"the layer `{name}` returns has a bias, and the batch norm right "
                                f"after it cancels it (it subtracts the channel mean); build it "
                                f"with `bias=False`", related=[(built, "the layer is built here")])

    @staticmethod
    def _has_bias(layer: cst.Call, kind: str) -> bool:
        """The default, or `bias=True` written out; a bias from a name is not known."""
        bias = argument(layer, BIAS_POSITION[kind], "bias")
        return bias is None or (isinstance(bias.value, cst.Name) and bias.value.value == "True")


def _no_activation(arg: cst.Arg | None, default: str) -> bool:
    """Whether a layer applies no activation after its bias: the argument left to a default of
    None, or given as `None` or "linear"."""
    if arg is None:
        return default == "None"
    value = arg.value
    return (isinstance(value, cst.Name) and value.value == "None") or (
        isinstance(value, cst.SimpleString) and value.evaluated_value == "linear")


def _own_function(func: cst.BaseExpression) -> str | None:
    """The name of the function (or method, `self.conv(...)`) of the file a call may call."""
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
            func.value.value == "self":
        return func.attr.value
    return None
