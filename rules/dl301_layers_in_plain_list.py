"""DL301: layers held in a plain list or dict attribute of an nn.Module."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.values import MODULE, first
from dllint.types import Applicability


class LayersInPlainList(Rule):
    """
    ## What it does
    Flags `self.layers = [nn.Linear(...), ...]` (or a list comprehension, or a dict of layers)
    in an `nn.Module`. Layers the list reads from attributes of the module (`[self.conv1,
    self.conv2]`), or that `__init__` also assigns to one (`self.encoder = encoder`), are
    registered through those attributes, and a list of only such layers is not flagged. Nor is
    a catalogue of candidates (`self.models = {"a": A(), "b": B()}`) that the class only reads
    to pick the module an attribute then holds (`self.backbone = self.models[name]`, or a
    method's return value `self.backbone = self._get(name)` where `_get` returns
    `self.models[name]`): the module used is registered.
    It also flags `self.layers = make_layers(...)` (or `self._make_layers(...)`) where
    that function of the file returns such a plain list or dict, and an empty list or dict
    attribute (`self.blocks = []`) that `__init__` fills with layers (`self.blocks.append(
    nn.Conv2d(...))`, `self.heads[name] = nn.Linear(...)`) or that is annotated as holding
    them (`self.blocks: List[nn.Module]`), unless `__init__` hands the attribute on (to
    `nn.ModuleList(self.blocks)`, `nn.Sequential(*self.blocks)`), assigns it again, or hands
    each layer it adds to a container module of the instance (`self.body.add_module(name,
    self.blocks[name])`, `self.stack.append(block)`), which registers it.

    ## Why is this bad?
    A plain list or dict hides its layers from the module: `model.parameters()` does not
    return them, so the optimizer never updates them; `model.to(device)` does not move them;
    `model.eval()` does not reach them; `state_dict()` does not save them. The forward pass
    still works, so the model trains with part of itself frozen at random initial weights.

    ## Example
    ```python
    self.hidden = [nn.Linear(64, 64) for _ in range(depth)]
    ```

    ## Use instead
    ```python
    self.hidden = nn.ModuleList([nn.Linear(64, 64) for _ in range(depth)])
    ```

    ## References
    The runtime check RT008 observes the same bug as parameters in no optimizer.
    """

    code = "DL301"
    name = "layers-in-plain-list"
    summary = "Layers kept in a plain list or dict: never registered, never trained"
    requires_any = ("self.",)
    uses_model = True

    VALID = [
        Valid("""
            from torch import nn

            class MLP(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.hidden = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        """),
        Valid("""
            from torch import nn

            class Heads(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = nn.ModuleDict({"age": nn.Linear(8, 1), "sex": nn.Linear(8, 2)})
        """),
        Valid("""
            from torch import nn

            class MLP(nn.Module):
                def __init__(self, sizes):
                    super().__init__()
                    self.sizes = [8, 16, 8]
                    self.names = {"in": "input"}
        """),
        Valid("""
            from torch import nn

            class Config:
                def __init__(self):
                    self.layers = [nn.Linear(8, 8)]
        """),
        Valid("""
            from torch import nn

            class MLP(nn.Module):
                def __init__(self):
                    super().__init__()
                    layers = [nn.Linear(8, 8), nn.ReLU()]
                    self.body = nn.Sequential(*layers)
        """),
        Valid("""
            from torch import nn

            class PyramidBlock(nn.Module):
                def __init__(self, scale):
                    super().__init__()
                    self.layers = [nn.AdaptiveAvgPool2d(scale), nn.Conv2d(8, 8, 1)]
                    for index, layer in enumerate(self.layers):
                        self.add_module(str(index), layer)
        """),
        Valid("""
            import torch

            class Gaussian(torch.nn.Module):
                def __init__(self, sigmas):
                    super().__init__()
                    self.sigma = [torch.nn.Parameter(torch.as_tensor(s)) for s in sigmas]
                    for index, parameter in enumerate(self.sigma):
                        self.register_parameter(f"sigma_{index}", parameter)
        """),
        Valid("""
            from torch import nn

            class Ensemble(nn.Module):
                def forward(self, x):
                    self.outputs = [member(x) for member in self.members]
                    return sum(self.outputs)
        """),
        # Keras tracks the layers of a list attribute itself, also in a subclass of a subclass.
        Valid("""
            import tensorflow as tf

            class Base(tf.keras.Model):
                def call(self, x):
                    for block in self.blocks:
                        x = block(x)
                    return x

            class Tower(Base):
                def __init__(self):
                    super().__init__()
                    self.blocks = [tf.keras.layers.Dense(64), tf.keras.layers.Dense(10)]
        """),
        # Registered as attributes first; the list only keeps them in order.
        Valid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv1 = nn.Conv2d(3, 8, 3)
                    self.conv2 = nn.Conv2d(8, 8, 3)
                    self.layers = [self.conv1, self.conv2]
        """),
        Valid("""
            from torch import nn

            class AutoEncoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    encoder = nn.Linear(8, 2)
                    decoder = nn.Linear(2, 8)
                    self.stages = [encoder, decoder]
                    self.encoder = encoder
                    self.decoder = decoder
        """),
        # The function's list is registered by the caller, or the function returns a container.
        Valid("""
            from torch import nn

            def make_heads(features, tasks):
                return [nn.Linear(features, 1) for _ in range(tasks)]

            def make_body(widths):
                return nn.Sequential(*[nn.Linear(w, w) for w in widths])

            class MultiTask(nn.Module):
                def __init__(self, tasks):
                    super().__init__()
                    self.heads = nn.ModuleList(make_heads(64, tasks))
                    self.body = make_body([64, 64])
        """),
        # A catalogue of candidate backbones: the chosen one, handed back by a method, is
        # assigned to an attribute, which registers it; the others are never used.
        Valid("""
            import torchvision.models as models
            from torch import nn

            class Encoder(nn.Module):
                def __init__(self, name, dim):
                    super().__init__()
                    self.candidates = {"resnet18": models.resnet18(num_classes=dim),
                                       "resnet50": models.resnet50(num_classes=dim)}
                    self.backbone = self._choose(name)

                def _choose(self, name):
                    model = self.candidates[name]
                    return model

                def forward(self, x):
                    return self.backbone(x)
        """),
        Valid("""
            from torch import nn

            class Head(nn.Module):
                def __init__(self, kind):
                    super().__init__()
                    self.options = {"linear": nn.Linear(8, 2), "mlp": nn.Sequential(
                        nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))}
                    self.head = self.options[kind]

                def forward(self, x):
                    return self.head(x)
        """),
        # Filled in a loop, then wrapped (or handed to a Sequential) before __init__ ends.
        Valid("""
            from torch import nn

            class Tower(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.stages = []
                    for _ in range(depth):
                        self.stages.append(nn.Linear(16, 16))
                    self.stages = nn.ModuleList(self.stages)
                    self.norms = []
                    for _ in range(depth):
                        self.norms.append(nn.LayerNorm(16))
                    self.body = nn.Sequential(*self.norms)
        """),
        # An empty list filled with tensors or numbers holds no layers.
        Valid("""
            import torch
            from torch import nn

            class Recorder(nn.Module):
                def __init__(self, widths):
                    super().__init__()
                    self.head = nn.Linear(8, 2)
                    self.sizes = []
                    self.anchors = []
                    for width in widths:
                        self.sizes.append(width * 2)
                        self.anchors.append(torch.zeros(width))
        """),
        # A list display of layers stored again in a ModuleList later in __init__.
        Valid("""
            from torch import nn

            class UNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoders = [nn.Conv2d(3, 64, 4), nn.Conv2d(64, 128, 4)]
                    self.head = nn.Conv2d(128, 1, 1)
                    self.encoders = nn.ModuleList(self.encoders)
        """),
        # Each layer is also registered by `setattr(self, name, layer)`: the list is an index.
        Valid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.fcs = []
                    for i in range(depth):
                        fc = nn.Linear(10, 10)
                        setattr(self, "fc%i" % i, fc)
                        self.fcs.append(fc)
        """),
        # Each filled entry is handed to a container module of the instance, which registers
        # it: the plain dict and list only index registered layers.
        Valid("""
            from torch import nn

            class Committee(nn.Module):
                def __init__(self, voters):
                    super().__init__()
                    self.panel = nn.Sequential()
                    self.by_index = {}
                    for k in range(voters):
                        self.by_index[k] = nn.Sequential()
                        self.by_index[k].add_module("score", nn.Linear(32, 1))
                        self.panel.add_module("voter%d" % k, self.by_index[k])
                    self.stages = nn.ModuleList()
                    self.stage_refs = []
                    for _ in range(voters):
                        stage = nn.Conv1d(4, 4, 1)
                        self.stage_refs.append(stage)
                        self.stages.append(stage)
        """),
        # No nn.Module holds the list: a from-scratch layer class of a TensorFlow script and the
        # plain model that chains them, or a class whose only base is an abstract plain class.
        Valid("""
            import tensorflow as tf

            class ScratchDense:
                def __init__(self, width):
                    self.kernel = tf.Variable(tf.zeros((width, width)))

                def forward(self, x):
                    return tf.matmul(x, self.kernel)

            class ScratchTower:
                def __init__(self, depth):
                    self.steps = [ScratchDense(16) for _ in range(depth)]

                def forward(self, x):
                    for step in self.steps:
                        x = step.forward(x)
                    return x
        """),
        Valid("""
            from abc import ABC
            from torch import nn

            class Experiment(ABC):
                def __init__(self, device):
                    self.device = device

            class ProbeExperiment(Experiment):
                def __init__(self, device, levels):
                    super().__init__(device)
                    self.probes = [nn.Linear(32, 2) for _ in range(levels)]

                def forward(self):
                    return [probe for probe in self.probes]
        """),
    ]
    INVALID = [
        Invalid("""
            from torch import nn

            class MLP(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.hidden = [nn.Linear(64, 64) for _ in range(depth)]
        """, line=6, unsafe=True, fixed="""
            from torch import nn

            class MLP(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.hidden = nn.ModuleList([nn.Linear(64, 64) for _ in range(depth)])
        """),
        Invalid("""
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = [nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3)]
        """, line=6, unsafe=True, fixed="""
            import torch.nn as nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = nn.ModuleList([nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3)])
        """),
        Invalid("""
            from torch import nn

            class MultiTask(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = {"age": nn.Linear(8, 1), "sex": nn.Linear(8, 2)}
        """, line=6, unsafe=True, fixed="""
            from torch import nn

            class MultiTask(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.heads = nn.ModuleDict({"age": nn.Linear(8, 1), "sex": nn.Linear(8, 2)})
        """),
        Invalid("""
            import torch

            class Stack(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = [torch.nn.LSTM(8, 8) for _ in range(2)]
        """, line=6, unsafe=True, fixed="""
            import torch

            class Stack(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layers = torch.nn.ModuleList([torch.nn.LSTM(8, 8) for _ in range(2)])
        """),
        Invalid("""
            from torch import nn

            class Block(nn.Module):
                def forward(self, x):
                    return x

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.blocks = [Block() for _ in range(4)]
        """, line=10),
        # The second layer is held by nothing but the list.
        Invalid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv1 = nn.Conv2d(3, 8, 3)
                    self.layers = [self.conv1, nn.Conv2d(8, 8, 3)]
        """, line=7, unsafe=True, fixed="""
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv1 = nn.Conv2d(3, 8, 3)
                    self.layers = nn.ModuleList([self.conv1, nn.Conv2d(8, 8, 3)])
        """),
        Invalid("""
            from torch import nn

            class AutoEncoder(nn.Module):
                def __init__(self):
                    super().__init__()
                    encoder = nn.Linear(8, 2)
                    decoder = nn.Linear(2, 8)
                    self.stages = [encoder, decoder]
                    self.encoder = encoder
        """, line=8),
        Invalid("""
            from torch.nn import Linear, Module

            class Probe(Module):
                def __init__(self):
                    super().__init__()
                    self.probes = [Linear(32, 2), Linear(32, 2)]
        """, line=6),
        # The plain list comes from a function of the file (or a method).
        Invalid("""
            from torch import nn

            def make_heads(features, tasks):
                return [nn.Linear(features, 1) for _ in range(tasks)]

            class MultiTask(nn.Module):
                def __init__(self, tasks):
                    super().__init__()
                    self.heads = make_heads(64, tasks)
        """, line=9, related_lines=(4,)),
        Invalid("""
            from torch import nn

            class VGG(nn.Module):
                def __init__(self, config):
                    super().__init__()
                    self.features = self._make_layers(config)

                def _make_layers(self, config):
                    return [nn.Conv2d(3, width, 3) for width in config]
        """, line=6, related_lines=(9,)),
        # The catalogue's modules run straight from it in forward: never registered.
        Invalid("""
            from torch import nn

            class Head(nn.Module):
                def __init__(self, kind):
                    super().__init__()
                    self.options = {"linear": nn.Linear(8, 2), "wide": nn.Linear(8, 2)}
                    self.head = self.options[kind]
                    self.kind = kind

                def forward(self, x):
                    return self.head(x) + self.options[self.kind](x)
        """, line=6, unsafe=True, fixed="""
            from torch import nn

            class Head(nn.Module):
                def __init__(self, kind):
                    super().__init__()
                    self.options = nn.ModuleDict({"linear": nn.Linear(8, 2), "wide": nn.Linear(8, 2)})
                    self.head = self.options[kind]
                    self.kind = kind

                def forward(self, x):
                    return self.head(x) + self.options[self.kind](x)
        """),
        # An empty list or dict filled with layers in a loop of __init__.
        Invalid("""
            from torch import nn

            class Refiner(nn.Module):
                def __init__(self, channels, steps):
                    super().__init__()
                    self.convs = []
                    self.norms = {}
                    for step in range(steps):
                        self.convs.append(nn.Conv2d(channels, channels, 3, padding=1))
                        self.norms[str(step)] = nn.BatchNorm2d(channels)
        """, line=6, related_lines=(9,), more_lines=(7,)),
        # Annotated as a list of layers; what fills it is not known here.
        Invalid("""
            from typing import List, Optional
            from torch import nn

            class Merge(nn.Module):
                def __init__(self, parts):
                    super().__init__()
                    self.parts: Optional[List[nn.Module]] = None
                    if parts:
                        self.parts = []
                        for part in parts:
                            self.parts.append(part)
        """, line=9),
        # Its twin: the list is only read by a call, never stored again in a container.
        Invalid("""
            from torch import nn

            class UNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoders = [nn.Conv2d(3, 64, 4), nn.Conv2d(64, 128, 4)]
                    self.depth = len(self.encoders)
        """, line=6, unsafe=True, fixed="""
            from torch import nn

            class UNet(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.encoders = nn.ModuleList([nn.Conv2d(3, 64, 4), nn.Conv2d(64, 128, 4)])
                    self.depth = len(self.encoders)
        """),
        # Its twin: the setattr registers another object, not the listed layer.
        Invalid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.fcs = []
                    for i in range(depth):
                        fc = nn.Linear(10, 10)
                        setattr(self, "size%i" % i, i)
                        self.fcs.append(fc)
        """, line=6, related_lines=(10,)),
        # Its twin: the entries are handed to the append of a plain list, which registers
        # nothing.
        Invalid("""
            from torch import nn

            class Committee(nn.Module):
                def __init__(self, voters):
                    super().__init__()
                    self.ordered = []
                    self.by_index = {}
                    for k in range(voters):
                        self.by_index[k] = nn.Linear(32, 1)
                        self.ordered.append(self.by_index[k])
        """, line=7, related_lines=(9,)),
        # Their twins: the tower and the experiment are modules, so the lists hide parameters.
        Invalid("""
            from torch import nn

            class ScratchDense(nn.Module):
                def __init__(self, width):
                    super().__init__()
                    self.kernel = nn.Linear(width, width)

                def forward(self, x):
                    return self.kernel(x)

            class ScratchTower(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.steps = [ScratchDense(16) for _ in range(depth)]
        """, line=14),
        Invalid("""
            from abc import ABC
            from torch import nn

            class Experiment(ABC, nn.Module):
                def __init__(self, device):
                    super().__init__()
                    self.device = device

            class ProbeExperiment(Experiment):
                def __init__(self, device, levels):
                    super().__init__(device)
                    self.probes = [nn.Linear(32, 2) for _ in range(levels)]

                def forward(self):
                    return [probe for probe in self.probes]
        """, line=12, unsafe=True, fixed="""
            from abc import ABC
            from torch import nn

            class Experiment(ABC, nn.Module):
                def __init__(self, device):
                    super().__init__()
                    self.device = device

            class ProbeExperiment(Experiment):
                def __init__(self, device, levels):
                    super().__init__(device)
                    self.probes = nn.ModuleList([nn.Linear(32, 2) for _ in range(levels)])

                def forward(self):
                    return [probe for probe in self.probes]
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.module_classes: list[bool] = []
        self.pending: list[list] = []
        self.registers: list[bool] = []
        # Per class: local names whose layer `__init__` also assigns to an attribute of self
        # (`self.encoder = encoder`), which registers it.
        self.held: list[set[str]] = []
        # Per class: attributes __init__ hands to a call whose result it stores on self again
        # (`self.blocks = nn.ModuleList(self.blocks)`): the container registers their layers.
        self.rewrapped: list[set[str]] = []
        # Functions and methods of the file that return a plain list or dict of layers, by
        # name, with that container; and `self.x = build(...)` in a module's __init__ whose
        # class does not register by hand, judged at the end (the function may come later).
        self.factories: dict[str, tuple[cst.BaseExpression, str]] = {}
        self.built_by_call: list[tuple[cst.Assign, str]] = []
        self.open_calls: list[list[tuple[cst.Assign, str]]] = []
        # Per class: a catalogue of candidates (`self.models = {"a": A(), "b": B()}`) whose one
        # chosen module is then assigned to an attribute, which registers it (`self.backbone =
        # self.models[name]`, or through a method returning `self.models[name]`). By attribute:
        # how often the class reads it, and the reads that only pick a module out of it.
        self.attribute_reads: list[dict[str, int]] = []
        self.picks: list[list[tuple[str, int, str | None]]] = []  # (attribute, read, method)
        # Per function: local names bound to a pick (`model = self.models[name]`).
        self.picked_names: list[dict[str, list[tuple[str, int]]]] = [{}]
        # Per class: attributes `__init__` sets to an empty list or dict, filled with layers
        # later in `__init__` or annotated as holding them.
        self.filled: list[dict[str, _Filled]] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.module_classes.append(self._is_torch_module(node))
        self.pending.append([])
        self.registers.append(False)
        self.held.append(set())
        self.rewrapped.append(set())
        self.open_calls.append([])
        self.attribute_reads.append({})
        self.picks.append([])
        self.filled.append({})

    def _is_torch_module(self, node: cst.ClassDef) -> bool:
        """Whether the class is an nn.Module, whose attributes register the layers they hold:
        a base is a torch module (of torch, of this file, of another file of the project), or
        the class has a `forward` and a base of unknown kind (a library's module class). A
        class whose every base is known to be no module (none, `object`, `ABC`, a plain class
        of the project) registers nothing, whatever its methods are named; Keras and Flax
        track the layers of a list attribute themselves."""
        has_forward = any(isinstance(s, cst.FunctionDef) and s.name.value == "forward"
                          for s in node.body.body)
        unknown_base = False
        for base in node.bases:
            qualified = self.imports.qualified_name(base.value) or ""
            name = base.value.value if isinstance(base.value, cst.Name) else ""
            local = self.facts.local_class(name)
            if qualified in catalog.NN_MODULE_BASES or qualified in catalog.LIGHTNING_BASES or \
                    (local is not None and not local.framework and not local.plain):
                return True
            if local is not None or qualified in catalog.FRAMEWORK_MODULE_BASES or \
                    qualified in catalog.PLAIN_BASES or base.keyword is not None or \
                    (name and self.facts.is_local_class(name)) or \
                    (qualified and self.facts.is_plain_project_class(qualified)):
                continue  # a Keras or Flax model, or known to be no module
            unknown_base = True
        return has_forward and unknown_base

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.module_classes.pop()
        pending, registers, held = self.pending.pop(), self.registers.pop(), self.held.pop()
        rewrapped = self.rewrapped.pop()
        calls, filled = self.open_calls.pop(), self.filled.pop()
        reads, picks = self.attribute_reads.pop(), self.picks.pop()
        if registers:
            return  # the class registers its listed layers by hand (self.add_module(...))
        self.built_by_call.extend(calls)
        assigned_from = {method for _, method in calls}
        for node, message, fix, loose, attribute in pending:
            if attribute in rewrapped:
                continue  # stored again inside a container that registers its layers
            if all(isinstance(layer, cst.Name) and layer.value in held for layer in loose):
                continue  # every listed layer is also an attribute: registered through it
            registered = {read for picked, read, method in picks if picked == attribute
                          and (method is None or method in assigned_from)}
            if registered and len(registered) == reads.get(attribute, 0):
                continue  # only ever read to pick the module an attribute then registers
            self.report(node, message, fix=fix)
        for attribute in filled.values():
            if attribute.empty is None or attribute.handed_on:
                continue
            fills = [layer for layer in attribute.fills
                     if not (isinstance(layer, cst.Name) and layer.value in held)]
            if not fills and not attribute.typed:
                continue
            kind = "dict" if attribute.container == "ModuleDict" else "list"
            self.report(attribute.empty,
                        f"`self.{attribute.name}` is a plain {kind} that holds layers: they are "
                        f"not registered, so parameters() misses them (never trained), and "
                        f".to(), .eval() and state_dict() skip them; use "
                        f"nn.{attribute.container}()",
                        related=[(fills[0], "a layer is added here")] if fills else [])

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.picked_names.append({})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.picked_names.pop()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self.attribute_reads and isinstance(node.value, cst.Name) and \
                node.value.value == "self" and self.facts.function is not None:
            reads = self.attribute_reads[-1]
            reads[node.attr.value] = reads.get(node.attr.value, 0) + 1

    def _pick(self, node: cst.BaseExpression) -> tuple[str, int] | None:
        """`self.models[name]`: (the attribute, the read's id)."""
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute) and \
                isinstance(node.value.value, cst.Name) and node.value.value.value == "self":
            return node.value.attr.value, id(node.value)
        return None

    def visit_Return(self, node: cst.Return) -> None:
        function = self.facts.function
        if function is not None and node.value is not None and self.picks and \
                function.is_method:
            # A method handing back a module picked out of a catalogue attribute.
            pick = self._pick(node.value)
            found = [pick] if pick is not None else self.picked_names[-1].get(
                node.value.value, []) if isinstance(node.value, cst.Name) else []
            self.picks[-1].extend((attribute, read, function.name) for attribute, read in found)
        if function is not None and node.value is not None:
            found = self._listed_layers(node.value)
            if found is not None:
                self.factories.setdefault(function.name, (node.value, found[1]))

    def leave_Module(self, original_node: cst.Module) -> None:
        for assign, name in self.built_by_call:
            if name not in self.factories:
                continue
            built, container = self.factories[name]
            kind = "dict" if container == "ModuleDict" else "list"
            self.report(assign, f"`{name}` returns layers in a plain {kind}: stored on the "
                                f"module they are not registered, so parameters() misses them "
                                f"(never trained), and .to(), .eval() and state_dict() skip "
                                f"them; return nn.{container}",
                        related=[(built, f"the plain {kind} is built here")])

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.registers and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) \
                and func.value.value == "self" and func.attr.value in (
                    "add_module", "register_module", "register_parameter"):
            self.registers[-1] = True
        if not self._in_module_init():
            return
        # `setattr(self, "fc%i" % i, fc)` registers the layer `fc` under a computed name.
        if isinstance(func, cst.Name) and func.value == "setattr" and len(node.args) == 3 and \
                self.imports.qualified_name(func) in (None, "setattr", "builtins.setattr") and \
                isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == "self" \
                and isinstance(node.args[2].value, cst.Name):
            self.held[-1].add(node.args[2].value.value)
        filled = self.filled[-1]
        # `nn.ModuleList(self.blocks)`, `nn.Sequential(*self.blocks)`: the layers are registered
        # by what receives the list.
        for arg in node.args:
            name = _self_attribute(arg.value)
            if name in filled:
                filled[name].handed_on = True
        registered = self._registered_argument(node)
        if registered is not None:
            # `self.body.add_module(key, self.blocks[key])`, `self.stack.append(block)`: a
            # container module of the instance registers the layer it is handed, so the plain
            # container only indexes layers that are registered through it.
            if isinstance(registered, cst.Name):
                self.held[-1].add(registered.value)
            elif isinstance(registered, cst.Subscript):
                name = _self_attribute(registered.value)
                if name in filled:
                    filled[name].handed_on = True
        if isinstance(func, cst.Attribute):
            name = _self_attribute(func.value)
            if name in filled and func.attr.value in ("append", "insert", "extend"):
                values = [arg.value for arg in node.args[-1:]]
                if func.attr.value == "extend" and values and \
                        isinstance(values[0], (cst.List, cst.Tuple)):
                    values = [element.value for element in values[0].elements]
                filled[name].fills.extend(value for value in values if self._is_layer(value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        name = _self_attribute(node.target)
        if name is None or not self._in_module_init():
            return
        container = self._annotated_container(node.annotation.annotation)
        if container is not None:
            attribute = self.filled[-1].setdefault(name, _Filled(name, container))
            attribute.typed = True
        if node.value is not None:
            self._set_attribute(name, node, node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        function = self.facts.function
        if self.attribute_reads and function is not None:
            for target in node.targets:
                if isinstance(target.target, cst.Attribute) and isinstance(
                        target.target.value, cst.Name) and target.target.value.value == "self":
                    reads = self.attribute_reads[-1]  # an assignment is no read
                    reads[target.target.attr.value] = reads.get(target.target.attr.value, 0) - 1
            pick = self._pick(node.value)
            if pick is not None:
                for target in node.targets:
                    if isinstance(target.target, cst.Name):
                        self.picked_names[-1].setdefault(target.target.value, []).append(pick)
        if not self.module_classes or not self.module_classes[-1] or function is None or \
                function.name != "__init__":
            return
        for target in node.targets:
            name = _self_attribute(target.target)
            if name is not None:
                self._set_attribute(name, node, node.value)
            elif isinstance(target.target, cst.Subscript):
                name = _self_attribute(target.target.value)  # self.heads[key] = layer
                if name in self.filled[-1] and self._is_layer(node.value):
                    self.filled[-1][name].fills.append(node.value)
        if not any(isinstance(t.target, cst.Attribute) and isinstance(t.target.value, cst.Name)
                   and t.target.value.value == "self" for t in node.targets):
            return
        value = node.value
        pick = self._pick(value)
        if pick is not None:
            self.picks[-1].append((*pick, None))  # self.backbone = self.models[name]
        if isinstance(value, cst.Name):
            self.held[-1].add(value.value)  # self.encoder = encoder
            return
        if isinstance(value, cst.Call):
            if first(self.facts.value(value), MODULE) is not None:  # a container module
                self.rewrapped[-1].update(name for name in (_self_attribute(arg.value)
                                                            for arg in value.args) if name)
            func = value.func
            if isinstance(func, cst.Name) and self.imports.call_name(value) is None:
                self.open_calls[-1].append((node, func.value))  # self.heads = make_heads(n)
            elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                    func.value.value == "self":
                self.open_calls[-1].append((node, func.attr.value))  # self._make_layers(cfg)
            return
        found = self._listed_layers(value)
        if found is None:
            return
        layers, container = found
        # `self.conv1` in `[self.conv1, self.conv2]` is registered as the attribute it is read
        # from (nn.Module registers every module assigned to an attribute); the list only
        # orders them.
        loose = [layer for layer in layers if not _read_from_self(layer)]
        if not loose:
            return
        fix = None
        # The container is spelled as the first layer built here spells its module (`nn.`).
        call = next((layer for layer in layers if isinstance(layer, cst.Call)), None)
        if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute):
            prefix = self.context.module.code_for_node(call.func.value)
            fix = NodeFix.wrap(value, f"{prefix}.{container}(", ")",
                               description=f"Wrap the layers in {container}",
                               applicability=Applicability.UNSAFE)
        self.pending[-1].append((node, f"layers in a plain "
                                       f"{'dict' if container == 'ModuleDict' else 'list'} are not "
                                       "registered: parameters() misses them (never trained), and "
                                       f".to(), .eval() and state_dict() skip them; use "
                                       f"nn.{container}", fix, loose,
                            _assigned_attribute(node)))

    def _registered_argument(self, node: cst.Call) -> cst.BaseExpression | None:
        """The layer a call registers in a container module the instance holds:
        `self.body.add_module(name, layer)` or `self.body.append(layer)` where `self.body` is a
        module (an nn.Sequential, an nn.ModuleList); None for any other call (the `append` of a
        plain list registers nothing)."""
        func = node.func
        if not isinstance(func, cst.Attribute) or not node.args or \
                _self_attribute(func.value) is None or \
                first(self.facts.value(func.value), MODULE) is None:
            return None
        if func.attr.value in ("add_module", "register_module") and len(node.args) == 2:
            return node.args[1].value
        if func.attr.value in ("append", "insert"):
            return node.args[-1].value
        return None

    def _in_module_init(self) -> bool:
        function = self.facts.function
        return bool(self.module_classes) and self.module_classes[-1] and function is not None \
            and function.name == "__init__"

    def _is_layer(self, value: cst.BaseExpression) -> bool:
        return not _read_from_self(value) and self._torch_layer(value)

    def _torch_layer(self, value: cst.BaseExpression) -> bool:
        """A torch module: not a from-scratch layer class with no nn.Module behind it, nor a
        Keras or Flax layer (their frameworks track lists)."""
        module = first(self.facts.value(value), MODULE)
        return module is not None and not module.info.plain and not module.info.framework

    def _set_attribute(self, name: str, node: cst.CSTNode, value: cst.BaseExpression) -> None:
        """`self.name = value` in a module's __init__: an empty list or dict starts a container
        to watch; any other value after it replaces the container."""
        filled = self.filled[-1]
        empty = (isinstance(value, cst.List) and not value.elements) or \
                (isinstance(value, cst.Dict) and not value.elements)
        attribute = filled.get(name)
        if empty and (attribute is None or attribute.empty is None):
            container = "ModuleDict" if isinstance(value, cst.Dict) else "ModuleList"
            attribute = filled.setdefault(name, _Filled(name, container))
            attribute.empty, attribute.container = node, container
        elif attribute is not None and attribute.empty is not None:
            attribute.handed_on = True  # self.blocks = nn.ModuleList(self.blocks)

    def _annotated_container(self, annotation: cst.BaseExpression) -> str | None:
        """"ModuleList" for `List[nn.Module]` (`list[...]`, inside `Optional[...]`),
        "ModuleDict" for `Dict[str, nn.Linear]`: a plain container annotated as holding
        layers of torch.nn."""
        while isinstance(annotation, cst.Subscript):
            base = annotation.value
            base_name = base.attr.value if isinstance(base, cst.Attribute) else \
                base.value if isinstance(base, cst.Name) else ""
            elements = [element.slice.value for element in annotation.slice
                        if isinstance(element.slice, cst.Index)]
            if not elements:
                return None
            if base_name == "Optional":
                annotation = elements[0]
                continue
            if base_name not in ("List", "list", "Dict", "dict"):
                return None
            qualified = self.imports.qualified_name(elements[-1]) or ""
            if not qualified.startswith("torch.nn.") or \
                    not qualified.rpartition(".")[2][:1].isupper():
                return None
            return "ModuleDict" if base_name in ("Dict", "dict") else "ModuleList"
        return None

    def _listed_layers(self, value: cst.BaseExpression
                       ) -> tuple[list[cst.BaseExpression], str] | None:
        """(the layers, the container that would register them) when `value` is a plain
        list or dict (or comprehension) whose every element is a layer."""
        elements: list[cst.BaseExpression] = []
        container = "ModuleList"
        if isinstance(value, cst.List):
            elements = [element.value for element in value.elements]
        elif isinstance(value, cst.ListComp):
            elements = [value.elt]
        elif isinstance(value, cst.Dict):
            elements = [element.value for element in value.elements
                        if isinstance(element, cst.DictElement)]
            container = "ModuleDict"
        elif isinstance(value, cst.DictComp):
            elements = [value.value]
            container = "ModuleDict"
        layers = [element for element in elements if self._torch_layer(element)]
        if not layers or len(layers) != len(elements):
            return None
        return layers, container


def _assigned_attribute(node: cst.Assign) -> str | None:
    """`models` for `self.models = ...`."""
    for target in node.targets:
        if isinstance(target.target, cst.Attribute) and isinstance(target.target.value, cst.Name) \
                and target.target.value.value == "self":
            return target.target.attr.value
    return None


@dataclass
class _Filled:
    """An attribute a module's __init__ sets to an empty list or dict."""
    name: str
    container: str  # what would register it: "ModuleList" or "ModuleDict"
    empty: cst.CSTNode | None = None  # the assignment of the empty container
    typed: bool = False  # annotated as a list or dict of layers
    handed_on: bool = False  # given to a call or assigned again: registered elsewhere
    fills: list[cst.BaseExpression] = field(default_factory=list)  # layers added to it


def _self_attribute(node: cst.BaseExpression) -> str | None:
    """`x` for `self.x`, else None."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and \
            node.value.value == "self":
        return node.attr.value
    return None


def _read_from_self(node: cst.BaseExpression) -> bool:
    """`self.conv`, `self.blocks[0]`, `self.encoder.stem`: a module the instance already holds."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
        if isinstance(node, cst.Name):
            return node.value == "self"
    return False
