"""DL301: layers held in a plain list or dict attribute of an nn.Module."""

from __future__ import annotations

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
    registered through those attributes, and a list of only such layers is not flagged.
    It also flags `self.layers = make_layers(...)` (or `self._make_layers(...)`) where
    that function of the file returns such a plain list or dict.

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
        # Filled in a loop, then wrapped: the ModuleList registers them.
        Valid("""
            from torch import nn

            class Tower(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.convs = []
                    for _ in range(depth):
                        self.convs.append(nn.Conv2d(8, 8, 3))
                    self.convs = nn.ModuleList(self.convs)

                def forward(self, x):
                    for conv in self.convs:
                        x = conv(x)
                    return x
        """),
        # An empty list filled with sizes, and one filled with layers that are attributes.
        Valid("""
            from torch import nn

            class Net(nn.Module):
                def __init__(self, widths):
                    super().__init__()
                    self.conv1 = nn.Conv2d(3, 8, 3)
                    self.sizes = []
                    self.order = []
                    for width in widths:
                        self.sizes.append(width * 2)
                    self.order.append(self.conv1)
                    self.body = nn.Sequential(*[nn.Linear(w, w) for w in widths])
        """),
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
    ]
    INVALID = [
        # An empty list attribute filled with layers in a loop, used in forward.
        Invalid("""
            from torch import nn

            class Tower(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.convs = []
                    self.norms = []
                    for _ in range(depth):
                        self.convs.append(nn.Conv2d(8, 8, 3, padding=1))
                        self.norms.append(nn.BatchNorm2d(8))

                def forward(self, x):
                    for index in range(len(self.convs)):
                        x = self.norms[index](self.convs[index](x))
                    return x
        """, line=6, more_lines=(7,), unsafe=True, fixed="""
            from torch import nn

            class Tower(nn.Module):
                def __init__(self, depth):
                    super().__init__()
                    self.convs = nn.ModuleList()
                    self.norms = nn.ModuleList()
                    for _ in range(depth):
                        self.convs.append(nn.Conv2d(8, 8, 3, padding=1))
                        self.norms.append(nn.BatchNorm2d(8))

                def forward(self, x):
                    for index in range(len(self.convs)):
                        x = self.norms[index](self.convs[index](x))
                    return x
        """),
        # An empty dict attribute filled by key.
        Invalid("""
            import torch

            class Heads(torch.nn.Module):
                def __init__(self, tasks):
                    super().__init__()
                    self.heads = {}
                    for task in tasks:
                        self.heads[task] = torch.nn.Linear(64, 1)

                def forward(self, x):
                    return {task: head(x) for task, head in self.heads.items()}
        """, line=6, unsafe=True, fixed="""
            import torch

            class Heads(torch.nn.Module):
                def __init__(self, tasks):
                    super().__init__()
                    self.heads = torch.nn.ModuleDict()
                    for task in tasks:
                        self.heads[task] = torch.nn.Linear(64, 1)

                def forward(self, x):
                    return {task: head(x) for task, head in self.heads.items()}
        """),
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
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.module_classes: list[bool] = []
        self.pending: list[list] = []
        self.registers: list[bool] = []
        # Per class: local names whose layer `__init__` also assigns to an attribute of self
        # (`self.encoder = encoder`), which registers it.
        self.held: list[set[str]] = []
        # Functions and methods of the file that return a plain list or dict of layers, by
        # name, with that container; and `self.x = build(...)` in a module's __init__ whose
        # class does not register by hand, judged at the end (the function may come later).
        self.factories: dict[str, tuple[cst.BaseExpression, str]] = {}
        self.built_by_call: list[tuple[cst.Assign, str]] = []
        self.open_calls: list[list[tuple[cst.Assign, str]]] = []
        # Per class: `self.convs = []` (or `{}`) in `__init__`, by attribute, with the layers
        # later added to it in place (`self.convs.append(nn.Conv2d(...))`, `self.heads[k] = ...`).
        self.filled: list[dict[str, tuple[cst.Assign, str, list[cst.BaseExpression]]]] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        is_module = any(isinstance(s, cst.FunctionDef) and s.name.value == "forward"
                        for s in node.body.body)
        for base in node.bases:
            qualified = self.imports.qualified_name(base.value) or ""
            name = base.value.value if isinstance(base.value, cst.Name) else ""
            local = self.facts.local_class(name)
            # Keras and Flax track the layers of a list attribute themselves.
            if qualified in catalog.NN_MODULE_BASES or qualified in catalog.LIGHTNING_BASES or \
                    (local is not None and not local.framework):
                is_module = True
        self.module_classes.append(is_module)
        self.pending.append([])
        self.registers.append(False)
        self.held.append(set())
        self.open_calls.append([])
        self.filled.append({})

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.module_classes.pop()
        pending, registers, held = self.pending.pop(), self.registers.pop(), self.held.pop()
        calls = self.open_calls.pop()
        filled = self.filled.pop()
        if registers:
            return  # the class registers its listed layers by hand (self.add_module(...))
        for attribute, (node, container, layers) in filled.items():
            loose = [layer for layer in layers if not _read_from_self(layer)]
            if not loose:
                continue
            kind = "dict" if container == "ModuleDict" else "list"
            call = next((layer for layer in loose if isinstance(layer, cst.Call)), None)
            fix = None
            if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute):
                prefix = self.context.module.code_for_node(call.func.value)
                fix = NodeFix.replace(node.value, f"{prefix}.{container}()",
                                      description=f"Start from an empty {container}",
                                      applicability=Applicability.UNSAFE)
            pending.append((node, f"layers added to the plain {kind} `{attribute}` are not "
                                  f"registered: parameters() misses them (never trained), and "
                                  f".to(), .eval() and state_dict() skip them; start from "
                                  f"nn.{container}()", fix, loose))
        self.built_by_call.extend(calls)
        for node, message, fix, loose in pending:
            if all(isinstance(layer, cst.Name) and layer.value in held for layer in loose):
                continue  # every listed layer is also an attribute: registered through it
            self.report(node, message, fix=fix)

    def visit_Return(self, node: cst.Return) -> None:
        function = self.facts.function
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
        if not self.filled:
            return
        # nn.ModuleList(self.convs), nn.Sequential(*self.convs): registered through the module
        # the list is handed to; in __init__, a helper of unknown effect may register them too
        # (`len(self.convs)` and the like do not)
        function = self.facts.function
        qualified = self.imports.call_name(node) or ""
        if first(self.facts.value(node), MODULE) is not None or (
                function is not None and function.name == "__init__"
                and not qualified.startswith("builtins.")):
            for arg in node.args:
                self.filled[-1].pop(self.context.module.code_for_node(arg.value), None)
        # self.convs.append(nn.Conv2d(...)): a layer added to an empty list attribute
        if isinstance(func, cst.Attribute) and \
                func.attr.value in _ADDING_METHODS and node.args:
            entry = self.filled[-1].get(self.context.module.code_for_node(func.value))
            if entry is not None and entry[1] == "ModuleList":
                added = node.args[-1].value
                items = ([element.value for element in added.elements]
                         if func.attr.value == "extend" and isinstance(added, (cst.List, cst.Tuple))
                         else [added] if func.attr.value != "extend" else [])
                entry[2].extend(item for item in items
                                if first(self.facts.value(item), MODULE) is not None)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self.filled:
            self._fill(node)
        function = self.facts.function
        if not self.module_classes or not self.module_classes[-1] or function is None or \
                function.name != "__init__":
            return
        if not any(isinstance(t.target, cst.Attribute) and isinstance(t.target.value, cst.Name)
                   and t.target.value.value == "self" for t in node.targets):
            return
        value = node.value
        if isinstance(value, cst.Name):
            self.held[-1].add(value.value)  # self.encoder = encoder
            return
        if (isinstance(value, cst.List) and not value.elements) or \
                (isinstance(value, cst.Dict) and not value.elements):
            container = "ModuleList" if isinstance(value, cst.List) else "ModuleDict"
            for target in node.targets:
                if isinstance(target.target, cst.Attribute):
                    text = self.context.module.code_for_node(target.target)
                    self.filled[-1][text] = (node, container, [])
            return
        if isinstance(value, cst.Call):
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
                                       f"nn.{container}", fix, loose))

    def _fill(self, node: cst.Assign) -> None:
        """`self.heads[name] = nn.Linear(...)` adds a layer to an empty dict attribute;
        `self.convs = nn.ModuleList(self.convs)` replaces the plain list."""
        for target in node.targets:
            if isinstance(target.target, cst.Subscript):
                entry = self.filled[-1].get(self.context.module.code_for_node(target.target.value))
                if entry is not None and entry[1] == "ModuleDict" and \
                        first(self.facts.value(node.value), MODULE) is not None:
                    entry[2].append(node.value)
            elif isinstance(target.target, cst.Attribute):
                self.filled[-1].pop(self.context.module.code_for_node(target.target), None)

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
        layers = [element for element in elements
                  if first(self.facts.value(element), MODULE) is not None]
        if not layers or len(layers) != len(elements):
            return None
        return layers, container


_ADDING_METHODS = frozenset({"append", "extend", "insert"})


def _read_from_self(node: cst.BaseExpression) -> bool:
    """`self.conv`, `self.blocks[0]`, `self.encoder.stem`: a module the instance already holds."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
        if isinstance(node, cst.Name):
            return node.value == "self"
    return False
