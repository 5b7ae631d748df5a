"""DL304: `torch.Tensor(n, m)` allocates uninitialised memory."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.callable_fills import ALL_PARAMETERS
from dllint.semantic.init_hooks import class_matches, init_hook_fills, row_written
from dllint.semantic.syntax import integer
from dllint.types import Applicability

CONSTRUCTORS = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.LongTensor",
                          "torch.DoubleTensor", "torch.cuda.FloatTensor"})


def _is_size(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Integer):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value in ("size", "numel", "dim")
    # `x.shape[1]` is a size; a slice of a shape (`image.shape[1::-1]`) is a tuple, data when
    # `image` is a numpy array (sizes only for a tensor's torch.Size), so it is no evidence.
    return isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute) and \
        node.value.attr.value == "shape" and all(
            isinstance(element.slice, cst.Index) for element in node.slice)


_DATA = (cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp,
         cst.GeneratorExp, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
         cst.Float)


def _are_sizes(arguments: list[cst.BaseExpression]) -> bool:
    """The legacy constructor takes one piece of data (a list, an array, a tensor) or sizes:
    two or more positional arguments can only be sizes, whatever names hold them
    (`torch.Tensor(out_features, in_features)`); a single one must look like a size."""
    if len(arguments) >= 2:
        return not any(isinstance(argument, _DATA) for argument in arguments)
    return _is_size(arguments[0])


def _range_bound(loop: cst.For) -> cst.BaseExpression | None:
    """`n` of `for i in range(n)` or `range(0, n)`."""
    iterator = loop.iter
    if not (isinstance(iterator, cst.Call) and isinstance(iterator.func, cst.Name)
            and iterator.func.value == "range"):
        return None
    arguments = [arg.value for arg in iterator.args]
    if len(arguments) == 2 and isinstance(arguments[0], cst.Integer) and \
            arguments[0].value == "0":
        arguments = arguments[1:]
    return arguments[0] if len(arguments) == 1 and not iterator.args[0].star else None


def _enumerated(loop: cst.For) -> tuple[str, cst.BaseExpression] | None:
    """(index variable, iterable) of `for i, x in enumerate(items)` (from 0): the index runs
    over `len(items)` rows."""
    iterator, target = loop.iter, loop.target
    if not (isinstance(iterator, cst.Call) and isinstance(iterator.func, cst.Name)
            and iterator.func.value == "enumerate" and iterator.args
            and not any(arg.star for arg in iterator.args)):
        return None
    if len(iterator.args) > 2 or iterator.args[0].keyword is not None:
        return None
    if len(iterator.args) == 2 and not (isinstance(iterator.args[1].value, cst.Integer)
                                        and iterator.args[1].value.value == "0"):
        return None  # enumerate(items, 1): the indices are shifted by one
    if not (isinstance(target, cst.Tuple) and len(target.elements) == 2
            and isinstance(target.elements[0].value, cst.Name)):
        return None
    return target.elements[0].value.value, iterator.args[0].value


# Reads of a tensor that use only its dtype and device (`x.new(size)`, `y.to(t)`), never its
# values: a one-element tensor read only this way is a template, its memory never seen.
TEMPLATE_ATTRIBUTES = frozenset({"new", "new_zeros", "new_ones", "new_full", "new_empty",
                                 "new_tensor", "device", "dtype", "is_cuda", "type"})
TEMPLATE_TAKERS = frozenset({"to", "type_as", "new_tensor"})


def _is_self_attribute(node: cst.BaseExpression) -> bool:
    """`self.name`."""
    return isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and \
        node.value.value == "self"


def _within(call: cst.Call, statement: cst.Assign) -> bool:
    """The constructor call is the assigned value itself or inside it (`.to(device)`)."""
    value = statement.value
    while isinstance(value, cst.Call) and value is not call and isinstance(
            value.func, cst.Attribute):
        value = value.func.value
    return value is call


class UninitializedTensor(Rule):
    """
    ## What it does
    Flags `torch.Tensor(3, 4)` (and `torch.FloatTensor(...)`) called with sizes: integers,
    `x.size(0)`, `x.shape[1]`, or two or more positional arguments of any kind
    (`torch.Tensor(out_features, in_features)`: the constructor takes a single piece of data,
    so several arguments are sizes). A tensor filled in the same expression
    (`torch.Tensor(n).normal_()`, `nn.init.xavier_uniform_(torch.Tensor(n, m))`) is not
    flagged, nor one assigned to a target that the same function, or a method it calls on
    `self` (`self.reset_parameters()`), or a function of the file it hands the tensor to
    (`init_embedding(embeddings)` with `nn.init.uniform_` on its parameter), later fills in
    place (`nn.init.kaiming_uniform_(self.weight)`, `self.bias.data.zero_()`) on any path:
    under a condition, in a loop or a `try`, through a method handed the tensor
    (`self._init(self.bias)`), a helper of another file of the project, a base class's method
    of another file, or a `functools.partial` of any of these (`self.init = partial(init_fn,
    scale=s)`, then `self.init(self.bias)`); the rule claims "never filled" only when no path
    fills it. A fill of each element of a container fills the container
    (`for p in self.table.values(): nn.init.xavier_uniform_(p)` for a `ParameterDict`, a list
    filled in a comprehension, `map(nn.init.zeros_, self.biases)`), and a fill of each of
    `self.parameters()` (`named_parameters()`) fills every parameter of the module, not its
    buffers. An initialiser returns the tensor it fills, so
    `nn.init.kaiming_uniform_(nn.Parameter(torch.Tensor(n, m)))` is filled where it is made;
    `nn.init._calculate_fan_in_and_fan_out(w)` only reads `w`.
    Nor is one flagged whose rows a `for i in range(n)` loop writes
    (`t[i] = ...`, `n` its first size; or a helper the loop hands `t` and `i` that writes
    `t[i] = ...`, of the file or of another file of the project: SSD's `match(..., loc_t, idx)`),
    nor a name bound again in the same block before
    anything reads it. A tensor handed to `register_buffer(name, ...)` or
    `register_parameter(name, ...)` is the attribute it names. An attribute that an init
    hook of the file fills on the module it receives (`module.r_w_bias.data.normal_()` in
    `_init_weights(self, module)`, which the model applies to every submodule) is initialised,
    as is an entry appended to such an attribute (`self.out_projs.append(...)`, filled as
    `module.out_projs[i]`). Such a hook may be in another file of the project: one imported
    and applied (`model.apply(init_weights)`, `init_weights(model)`), or an `_init_weights`
    inherited from a base class defined there (the project's summaries carry what each hook
    fills), or a hook that a file importing this one defines and applies to its models
    (`model.apply(init_weights)` in train.py on a model of this file's classes). A fill of slices of the tensor (`w[:k].fill_(0)`,
    `m.weight.data[:, k].fill_(1.0)` in an init function) is the author's initialisation of
    it. A method called on `self` may be defined by a parent class of the file, and a class
    derived from a torch layer (`class Linear(nn.Linear)`) that calls `self.reset_parameters()`
    gets the layer's, which fills `self.weight` and `self.bias`. A one-element tensor
    (`torch.FloatTensor(1)`) that the file reads only for its dtype and device
    (`x.to(self._float_tensor)`, `self._float_tensor.new(size)`) is a template whose value is
    never read.

    ## Why is this bad?
    With sizes, the legacy constructor returns uninitialised memory: whatever bytes were there,
    often zeros in a fresh process and garbage (even NaN) later. A weight or buffer created this
    way and not filled right after starts training from random junk, differently on every run.

    ## Example
    ```python
    self.bias = nn.Parameter(torch.Tensor(out_features))
    ```

    ## Use instead
    ```python
    self.bias = nn.Parameter(torch.zeros(out_features))
    ```

    ## References
    PyTorch documentation, `torch.Tensor` ("use torch.empty / torch.zeros").
    """

    code = "DL304"
    name = "uninitialized-tensor"
    summary = "torch.Tensor(sizes) allocates uninitialised memory"
    requires_any = ("Tensor(",)
    uses_model = True  # init hooks of other files, from the project's summaries

    VALID = [
        Valid("""
            import torch
            weights = torch.zeros(3, 4)
        """),
        Valid("""
            import torch
            values = torch.Tensor([1.0, 2.0, 3.0])
        """),
        Valid("""
            import torch
            converted = torch.Tensor(numpy_array)
        """),
        Valid("""
            import torch
            buffer = torch.empty(8, 8)
            buffer.normal_()
        """),
        Valid("""
            import torch
            t = torch.tensor(3)
        """),
        Valid("""
            import torch
            empty = torch.Tensor()
            outputs[0] = torch.Tensor(0)
        """),
        Valid("""
            import torch
            noise = torch.cuda.FloatTensor(images.size(0), 100).normal_()
        """),
        Valid("""
            import torch
            from torch import nn
            weight = nn.Parameter(nn.init.xavier_uniform_(torch.Tensor(64, 32)))
        """),
        # Moved to the GPU, then filled (fairseq's unit2speech): initialised in one expression.
        Valid("""
            import torch
            label = torch.LongTensor(1).cuda().fill_(speaker)
        """),
        # Sizes held in names, and the weight filled by the method __init__ calls (nn.Linear's
        # own form): initialised before any use.
        Valid("""
            import math
            import torch
            from torch import nn

            class ScaledLinear(nn.Module):
                def __init__(self, in_features, out_features):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(out_features, in_features))
                    self.bias = nn.Parameter(torch.Tensor(out_features, 1))
                    self.reset_parameters()

                def reset_parameters(self):
                    nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
                    self.bias.data.zero_()
        """),
        # Filled later in the same function.
        Valid("""
            import torch
            embedding = torch.Tensor(vocab_size, dim)
            embedding.uniform_(-0.1, 0.1)
        """),
        # Two positional arguments that are data, not sizes, are no legacy sizes call.
        Valid("""
            import torch
            pair = torch.Tensor([1.0, 2.0], [3.0, 4.0])
        """),
        # Registered under a name, then filled through that attribute.
        Valid("""
            import torch
            from torch import nn

            class Embedder(nn.Module):
                def __init__(self, vertices, dim):
                    super().__init__()
                    self.register_buffer("features", torch.Tensor(vertices, dim))
                    self.reset_parameters()

                def reset_parameters(self):
                    self.features.zero_()
        """),
        # The model's init hook, applied to every submodule, fills the attention's parameters.
        Valid("""
            import torch
            from torch import nn

            class RelativeAttention(nn.Module):
                def __init__(self, heads, dim):
                    super().__init__()
                    self.q = nn.Parameter(torch.FloatTensor(dim, heads))
                    self.r_w_bias = nn.Parameter(torch.FloatTensor(heads, dim))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, module):
                    if isinstance(module, RelativeAttention):
                        for param in [module.q]:
                            param.data.normal_(mean=0.0, std=0.02)
                        self._init_weight(module.r_w_bias)
        """),
        Valid("""
            import torch
            from torch import nn

            class Attention(nn.Module):
                def __init__(self, heads, dim):
                    super().__init__()
                    self.r_r_bias = nn.Parameter(torch.FloatTensor(heads, dim))

            def weights_init(m):
                if hasattr(m, "r_r_bias"):
                    nn.init.normal_(m.r_r_bias, 0.0, 0.02)
        """),
        # Entries of a parameter list, each filled by the hook through the module it receives.
        Valid("""
            import torch
            from torch import nn

            class AdaptiveSoftmax(nn.Module):
                def __init__(self, cutoffs, dim):
                    super().__init__()
                    self.out_projs = nn.ParameterList()
                    for size in cutoffs:
                        self.out_projs.append(nn.Parameter(torch.FloatTensor(dim, size)))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, m):
                    if hasattr(m, "out_projs"):
                        for i in range(len(m.out_projs)):
                            nn.init.normal_(m.out_projs[i], 0.0, 0.02)
        """),
        # Every row written by a loop over the first size before any use.
        Valid("""
            import torch
            codes = torch.Tensor(steps, 20).to(device)
            for i in range(steps):
                codes[i] = i / (steps - 1) * end + (1 - i / (steps - 1)) * start
            images = decoder(codes)
        """),
        # Bound again in the same block before anything reads it: the memory is never used.
        Valid("""
            import torch
            sample = torch.Tensor(16, 28, 28).to(device)
            codes = encoder(batch)
            sample = decoder(codes)
            show(sample)
        """),
        # An init function applied with `model.apply(init_fn)` that fills the weight of the
        # modules it receives slice by slice.
        Valid("""
            import torch
            from torch import nn

            def init_weights(m):
                if isinstance(m, Gate):
                    m.weight.data[:, 0].fill_(1.0)
                    m.weight.data[:, 1:].fill_(0.0)

            class Gate(nn.Module):
                def __init__(self, n):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(n, 4))

                def forward(self, x):
                    return x @ self.weight

            model = nn.Sequential(Gate(8))
            model.apply(init_weights)
        """),
        # Slice fills under no_grad in the constructor initialise the whole tensor.
        Valid("""
            import torch
            from torch import nn

            class Mask(nn.Module):
                def __init__(self, n, k):
                    super().__init__()
                    self.scale = nn.Parameter(torch.Tensor(n, 4))
                    with torch.no_grad():
                        self.scale[:k].fill_(0.0)
                        self.scale[k:].fill_(1.0)

                def forward(self, x):
                    return x * self.scale
        """),
        # `self.reset_parameters()` defined by a parent class of the file, or inherited from
        # the torch layer the class derives from (nn.Linear's fills weight and bias).
        Valid("""
            import math
            import torch
            from torch import nn

            class Base(nn.Module):
                def reset_parameters(self):
                    nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

            class Scaled(Base):
                def __init__(self, n):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(n, n))
                    self.reset_parameters()

                def forward(self, x):
                    return x @ self.weight

            class Linear(nn.Linear):
                def __init__(self, n, m):
                    super().__init__(n, m)
                    self.weight = nn.Parameter(torch.Tensor(m, n))
                    self.reset_parameters()
        """),
        # A one-element tensor read only for its dtype and device (fairseq's positional
        # embeddings): its uninitialised element is never read.
        Valid("""
            import torch
            from torch import nn

            class SinusoidalPositionalEmbedding(nn.Module):
                def __init__(self, dim):
                    super().__init__()
                    self.dim = dim
                    self.register_buffer("_float_tensor", torch.FloatTensor(1))

                def forward(self, positions):
                    table = torch.arange(positions.max() + 1).unsqueeze(1) * torch.ones(self.dim)
                    table = table.to(self._float_tensor)
                    return table[positions].to(self._float_tensor.device)

            class Filler(nn.Module):
                def __init__(self):
                    super().__init__()
                    self._float_tensor = torch.FloatTensor(1)

                def forward(self, x):
                    return self._float_tensor.new(x.size()).fill_(0)
        """),
        # A helper of the file that fills the tensor it is handed initialises it.
        Valid("""
            import numpy as np
            import torch

            def init_embedding(embeddings):
                bound = np.sqrt(3.0 / embeddings.size(1))
                torch.nn.init.uniform_(embeddings, -bound, bound)

            def load_embeddings(vocab, dim):
                embeddings = torch.FloatTensor(len(vocab), dim)
                init_embedding(embeddings)
                return embeddings
        """),
        # A slice of a shape is a tuple: from a numpy image's shape, the data (width, height).
        Valid("""
            import cv2
            import torch
            rgb_image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            scale = torch.Tensor(rgb_image.shape[1::-1]).repeat(2)
        """),
        # A helper called for every row with the row index writes each row (SSD's `match`).
        Valid("""
            import torch

            def match(truths, labels, loc_t, conf_t, idx):
                loc_t[idx] = truths * 2
                conf_t[idx] = labels

            def targets(batch, num, num_priors):
                loc_t = torch.Tensor(num, num_priors, 4)
                conf_t = torch.LongTensor(num, num_priors)
                for idx in range(num):
                    match(batch[idx][0], batch[idx][1], loc_t, conf_t, idx)
                return loc_t, conf_t
        """),
        # A hook that dispatches on the class's name and hands the attribute to a helper that
        # fills what it is given initialises the parameter of the class it names.
        Valid("""
            import torch
            from torch import nn

            def init_weight(weight):
                nn.init.normal_(weight, 0.0, 0.02)

            def weights_init(m):
                classname = m.__class__.__name__
                if classname.find('MemoryLM') != -1:
                    if hasattr(m, 'r_bias'):
                        init_weight(m.r_bias)

            class MemoryLM(nn.Module):
                def __init__(self, n, d):
                    super().__init__()
                    self.r_bias = nn.Parameter(torch.Tensor(n, d))
        """),
        # Every row written while enumerating the data set the tensor has one row per item of,
        # counted by `len` or by hand.
        Valid("""
            import torch

            def stack(dataset, d):
                features = torch.Tensor(len(dataset), d)
                for idx, example in enumerate(dataset):
                    features[idx] = example[0]
                labels = torch.LongTensor(60000)
                for i, (image, label) in enumerate(dataset):
                    labels[i] = label
                return features, labels
        """),
        # A fill on any path of the constructor initialises: under a condition (a setting
        # the configuration may always turn on), in a `try`, through a partial of a helper
        # bound to the instance, or through a method handed the tensor.
        Valid("""
            import functools
            import torch
            from torch import nn

            def spread_(tensor, radius):
                nn.init.uniform_(tensor, -radius, radius)

            class TokenMixer(nn.Module):
                def __init__(self, tokens, width, scheme=None):
                    super().__init__()
                    self.offsets = nn.Parameter(torch.Tensor(tokens, width))
                    self.gates = nn.Parameter(torch.Tensor(tokens, 1))
                    self.seed_offsets = functools.partial(spread_, radius=width ** -0.5)
                    if scheme is not None:
                        self.seed_offsets(self.offsets)
                    try:
                        self._seed(self.gates)
                    except RuntimeError:
                        pass

                def _seed(self, tensor):
                    tensor.data.normal_(0.0, 0.01)
        """),
        # A fill of each element of a container fills the container: a loop over a dict's
        # values, `map` of an initialiser over a parameter list, a comprehension that fills each
        # tensor of a list; and a fill of each of the module's parameters fills every one.
        Valid("""
            import torch
            from torch import nn

            class RelationTable(nn.Module):
                def __init__(self, relation_sizes, width):
                    super().__init__()
                    self.heads = nn.ParameterDict(
                        {rel: nn.Parameter(torch.Tensor(n, width)) for rel, n in relation_sizes})
                    self.tails = nn.ParameterList(
                        [nn.Parameter(torch.Tensor(width, 1)) for _ in relation_sizes])
                    self.anchors = [torch.Tensor(n, width) for _, n in relation_sizes]
                    self.reinit()

                def reinit(self):
                    for head in self.heads.values():
                        nn.init.xavier_normal_(head)
                    list(map(nn.init.zeros_, self.tails))
                    [anchor.uniform_(-0.5, 0.5) for anchor in self.anchors]

            class GatedMixer(nn.Module):
                def __init__(self, width):
                    super().__init__()
                    self.gate = nn.Parameter(torch.Tensor(width, width))
                    self.register_parameter("shift", nn.Parameter(torch.Tensor(width, 1)))
                    self._reseed()

                def _reseed(self):
                    for label, tensor in self.named_parameters():
                        self._spread(tensor)

                def _spread(self, tensor):
                    nn.init.trunc_normal_(tensor, std=0.02)
        """),
        # An initialiser returns the tensor it fills in place: what it is handed, wrapped in a
        # parameter or moved to a device, is initialised where it is made.
        Valid("""
            import math
            import torch
            from torch import nn

            class ColumnBias(nn.Module):
                def __init__(self, columns, width, device):
                    super().__init__()
                    self.offset = nn.init.kaiming_uniform_(
                        nn.Parameter(torch.Tensor(columns, width)), a=math.sqrt(5))
                    self.gain = nn.init.ones_(nn.Parameter(torch.Tensor(width, 1).to(device)))
                    self.drift = nn.Parameter(torch.Tensor(columns, 1)).data.zero_()
        """),
    ]
    INVALID = [
        # Twin of the class-name dispatch: the hook fills `r_bias` only on classes named like
        # `Linear`, not on this model.
        Invalid("""
            import torch
            from torch import nn

            def init_weight(weight):
                nn.init.normal_(weight, 0.0, 0.02)

            def weights_init(m):
                classname = m.__class__.__name__
                if classname.find('Linear') != -1:
                    if hasattr(m, 'r_bias'):
                        init_weight(m.r_bias)

            class MemoryLM(nn.Module):
                def __init__(self, n, d):
                    super().__init__()
                    self.r_bias = nn.Parameter(torch.Tensor(n, d))
        """, line=16, unsafe=True, fixed="""
            import torch
            from torch import nn

            def init_weight(weight):
                nn.init.normal_(weight, 0.0, 0.02)

            def weights_init(m):
                classname = m.__class__.__name__
                if classname.find('Linear') != -1:
                    if hasattr(m, 'r_bias'):
                        init_weight(m.r_bias)

            class MemoryLM(nn.Module):
                def __init__(self, n, d):
                    super().__init__()
                    self.r_bias = nn.Parameter(torch.zeros(n, d))
        """),
        # Twin of the enumerated fill: one row more than the data set has stays garbage.
        Invalid("""
            import torch

            def stack(dataset, d):
                features = torch.Tensor(len(dataset) + 1, d)
                for idx, example in enumerate(dataset):
                    features[idx] = example[0]
                return features
        """, line=4, unsafe=True, fixed="""
            import torch

            def stack(dataset, d):
                features = torch.zeros(len(dataset) + 1, d)
                for idx, example in enumerate(dataset):
                    features[idx] = example[0]
                return features
        """),
        # Twins of the loop fill and of the rebinding: a loop over fewer rows than the tensor
        # has, and a rebinding that reads the uninitialised values first.
        Invalid("""
            import torch
            codes = torch.Tensor(steps + 1, 20)
            for i in range(steps):
                codes[i] = encoder(batch[i])
            images = decoder(codes)
        """, line=2, unsafe=True, fixed="""
            import torch
            codes = torch.zeros(steps + 1, 20)
            for i in range(steps):
                codes[i] = encoder(batch[i])
            images = decoder(codes)
        """),
        # Twin of the init hook: it fills another attribute than the one left uninitialised.
        Invalid("""
            import torch
            from torch import nn

            class RelativeAttention(nn.Module):
                def __init__(self, heads, dim):
                    super().__init__()
                    self.seg_embed = nn.Parameter(torch.FloatTensor(2, heads, dim))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, module):
                    if isinstance(module, RelativeAttention):
                        for param in [module.q]:
                            param.data.normal_(mean=0.0, std=0.02)
        """, line=7, unsafe=True, fixed="""
            import torch
            from torch import nn

            class RelativeAttention(nn.Module):
                def __init__(self, heads, dim):
                    super().__init__()
                    self.seg_embed = nn.Parameter(torch.zeros(2, heads, dim))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, module):
                    if isinstance(module, RelativeAttention):
                        for param in [module.q]:
                            param.data.normal_(mean=0.0, std=0.02)
        """),
        # Twin of the parameter list: the hook fills another list.
        Invalid("""
            import torch
            from torch import nn

            class AdaptiveSoftmax(nn.Module):
                def __init__(self, cutoffs, dim):
                    super().__init__()
                    self.out_projs = nn.ParameterList()
                    for size in cutoffs:
                        self.out_projs.append(nn.Parameter(torch.FloatTensor(dim, size)))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, m):
                    if hasattr(m, "emb_projs"):
                        for i in range(len(m.emb_projs)):
                            nn.init.normal_(m.emb_projs[i], 0.0, 0.02)
        """, line=9, unsafe=True, fixed="""
            import torch
            from torch import nn

            class AdaptiveSoftmax(nn.Module):
                def __init__(self, cutoffs, dim):
                    super().__init__()
                    self.out_projs = nn.ParameterList()
                    for size in cutoffs:
                        self.out_projs.append(nn.Parameter(torch.zeros(dim, size)))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, m):
                    if hasattr(m, "emb_projs"):
                        for i in range(len(m.emb_projs)):
                            nn.init.normal_(m.emb_projs[i], 0.0, 0.02)
        """),
        # Twin: the hook fills `weight` only on nn.Linear modules, not on this layer.
        Invalid("""
            import torch
            from torch import nn

            class GroupedLinear(nn.Module):
                def __init__(self, groups, size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(groups, size, size))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, module):
                    if isinstance(module, nn.Linear):
                        module.weight.data.normal_(mean=0.0, std=0.02)
        """, line=7, unsafe=True, fixed="""
            import torch
            from torch import nn

            class GroupedLinear(nn.Module):
                def __init__(self, groups, size):
                    super().__init__()
                    self.weight = nn.Parameter(torch.zeros(groups, size, size))

            class PreTrainedModel(nn.Module):
                def _init_weights(self, module):
                    if isinstance(module, nn.Linear):
                        module.weight.data.normal_(mean=0.0, std=0.02)
        """),
        # Twin of the registered buffer: the method fills another attribute.
        Invalid("""
            import torch
            from torch import nn

            class Embedder(nn.Module):
                def __init__(self, vertices, dim):
                    super().__init__()
                    self.register_buffer("features", torch.Tensor(vertices, dim))
                    self.reset_parameters()

                def reset_parameters(self):
                    self.embeddings.zero_()
        """, line=7, unsafe=True, fixed="""
            import torch
            from torch import nn

            class Embedder(nn.Module):
                def __init__(self, vertices, dim):
                    super().__init__()
                    self.register_buffer("features", torch.zeros(vertices, dim))
                    self.reset_parameters()

                def reset_parameters(self):
                    self.embeddings.zero_()
        """),
        Invalid("""
            import torch
            sample = torch.Tensor(16, 28, 28)
            sample = sample + decoder(codes)
        """, line=2, unsafe=True, fixed="""
            import torch
            sample = torch.zeros(16, 28, 28)
            sample = sample + decoder(codes)
        """),
        Invalid("""
            import torch
            sample = torch.Tensor(16, 28, 28)
            if ready:
                sample = decoder(codes)
            show(sample)
        """, line=2, unsafe=True, fixed="""
            import torch
            sample = torch.zeros(16, 28, 28)
            if ready:
                sample = decoder(codes)
            show(sample)
        """),
        Invalid("""
            import torch
            weights = torch.Tensor(3, 4)
        """, line=2, unsafe=True, fixed="""
            import torch
            weights = torch.zeros(3, 4)
        """),
        Invalid("""
            import torch
            from torch import nn
            bias = nn.Parameter(torch.Tensor(10))
        """, line=3, unsafe=True, fixed="""
            import torch
            from torch import nn
            bias = nn.Parameter(torch.zeros(10))
        """),
        Invalid("""
            import torch
            mask = torch.FloatTensor(x.size(0), 5)
        """, line=2, unsafe=True, fixed="""
            import torch
            mask = torch.zeros(x.size(0), 5)
        """),
        Invalid("""
            import torch as T
            state = T.Tensor(batch.shape[0], 128)
        """, line=2, unsafe=True, fixed="""
            import torch as T
            state = T.zeros(batch.shape[0], 128)
        """),
        Invalid("""
            from torch import Tensor
            grid = Tensor(64, 64)
        """, line=2),
        Invalid("""
            import torch
            counts = torch.LongTensor(5)
        """, line=2),
        # Sizes held in names: the weight of a hand-written layer, never filled.
        Invalid("""
            import torch
            from torch import nn

            class ScaledLinear(nn.Module):
                def __init__(self, in_features, out_features):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(out_features, in_features))
                    self.reset_parameters()

                def reset_parameters(self):
                    nn.init.zeros_(self.bias)
        """, line=7, unsafe=True, fixed="""
            import torch
            from torch import nn

            class ScaledLinear(nn.Module):
                def __init__(self, in_features, out_features):
                    super().__init__()
                    self.weight = nn.Parameter(torch.zeros(out_features, in_features))
                    self.reset_parameters()

                def reset_parameters(self):
                    nn.init.zeros_(self.bias)
        """),
        # Filled in a method that __init__ never calls: the buffer stays garbage.
        Invalid("""
            import torch

            class Memory:
                def __init__(self, slots, width):
                    self.table = torch.Tensor(slots, width)

                def clear(self):
                    self.table.zero_()
        """, line=5, unsafe=True, fixed="""
            import torch

            class Memory:
                def __init__(self, slots, width):
                    self.table = torch.zeros(slots, width)

                def clear(self):
                    self.table.zero_()
        """),
        # Near miss: a one-element tensor whose value is read, not only its dtype.
        Invalid("""
            import torch
            from torch import nn

            class Counter(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.register_buffer("seen", torch.FloatTensor(1))

                def forward(self, x):
                    self.seen += x.size(0)
                    return x * self.seen.to(x.dtype)
        """, line=7, unsafe=True, fixed="""
            import torch
            from torch import nn

            class Counter(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.register_buffer("seen", torch.zeros(1))

                def forward(self, x):
                    self.seen += x.size(0)
                    return x * self.seen.to(x.dtype)
        """),
        # Near miss: the parent's reset_parameters fills the weight, not the new scale.
        Invalid("""
            import torch
            from torch import nn

            class Base(nn.Module):
                def reset_parameters(self):
                    nn.init.xavier_uniform_(self.weight)

            class Scaled(Base):
                def __init__(self, n):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(n, n))
                    self.scale = nn.Parameter(torch.Tensor(n, 1))
                    self.reset_parameters()
        """, line=12, unsafe=True, fixed="""
            import torch
            from torch import nn

            class Base(nn.Module):
                def reset_parameters(self):
                    nn.init.xavier_uniform_(self.weight)

            class Scaled(Base):
                def __init__(self, n):
                    super().__init__()
                    self.weight = nn.Parameter(torch.Tensor(n, n))
                    self.scale = nn.Parameter(torch.zeros(n, 1))
                    self.reset_parameters()
        """),
        # Near miss: moved to the GPU but never filled.
        Invalid("""
            import torch
            label = torch.LongTensor(1).cuda()
        """, line=2),
        # A helper that only reads the tensor it is handed leaves it uninitialised.
        Invalid("""
            import torch

            def describe(embeddings):
                print(embeddings.shape)

            def load_embeddings(vocab, dim):
                embeddings = torch.FloatTensor(len(vocab), dim)
                describe(embeddings)
                return embeddings
        """, line=7, unsafe=True, fixed="""
            import torch

            def describe(embeddings):
                print(embeddings.shape)

            def load_embeddings(vocab, dim):
                embeddings = torch.zeros(len(vocab), dim)
                describe(embeddings)
                return embeddings
        """),
        # One axis of a shape is a size.
        Invalid("""
            import torch
            scores = torch.Tensor(batch.shape[0])
        """, line=2, unsafe=True, fixed="""
            import torch
            scores = torch.zeros(batch.shape[0])
        """),
        # The helper is called for all rows but the last: that row stays uninitialised.
        Invalid("""
            import torch

            def fill_row(table, idx):
                table[idx] = 1.0

            def build(num, k):
                table = torch.Tensor(num, k)
                for idx in range(num - 1):
                    fill_row(table, idx)
                return table
        """, line=7, unsafe=True, fixed="""
            import torch

            def fill_row(table, idx):
                table[idx] = 1.0

            def build(num, k):
                table = torch.zeros(num, k)
                for idx in range(num - 1):
                    fill_row(table, idx)
                return table
        """),
        # Twin of the fill on any path: a fill only in a method nobody calls, and a condition
        # with no fill in either branch, leave both parameters uninitialised.
        Invalid("""
            import torch
            from torch import nn

            def spread_(tensor, radius):
                nn.init.uniform_(tensor, -radius, radius)

            class TokenMixer(nn.Module):
                def __init__(self, tokens, width, scheme=None):
                    super().__init__()
                    self.offsets = nn.Parameter(torch.Tensor(tokens, width))
                    self.gates = nn.Parameter(torch.Tensor(tokens, 1))
                    if scheme is not None:
                        self.scheme = scheme
                    else:
                        self.scheme = "plain"

                def reseed(self):
                    spread_(self.offsets, 0.1)
                    self.gates.data.normal_(0.0, 0.01)
        """, line=10, more_lines=(11,), unsafe=True, fixed="""
            import torch
            from torch import nn

            def spread_(tensor, radius):
                nn.init.uniform_(tensor, -radius, radius)

            class TokenMixer(nn.Module):
                def __init__(self, tokens, width, scheme=None):
                    super().__init__()
                    self.offsets = nn.Parameter(torch.zeros(tokens, width))
                    self.gates = nn.Parameter(torch.zeros(tokens, 1))
                    if scheme is not None:
                        self.scheme = scheme
                    else:
                        self.scheme = "plain"

                def reseed(self):
                    spread_(self.offsets, 0.1)
                    self.gates.data.normal_(0.0, 0.01)
        """),
        # Twins of the container fills: a loop over the dict that fills nothing in it (an
        # in-place call that is no fill), a fill of another container, and a buffer next to a
        # fill of the module's parameters (a buffer is no parameter).
        Invalid("""
            import torch
            from torch import nn

            class RelationTable(nn.Module):
                def __init__(self, relation_sizes, width):
                    super().__init__()
                    self.heads = nn.ParameterDict(
                        {rel: nn.Parameter(torch.Tensor(n, width)) for rel, n in relation_sizes})
                    self.tails = nn.ParameterList(
                        [nn.Parameter(torch.Tensor(width, 1)) for _ in relation_sizes])
                    self.spares = nn.ParameterList(
                        [nn.Parameter(torch.zeros(width, 1)) for _ in relation_sizes])
                    self.reinit()

                def reinit(self):
                    for head in self.heads.values():
                        head.requires_grad_(False)
                    list(map(nn.init.ones_, self.spares))

            class GatedMixer(nn.Module):
                def __init__(self, width):
                    super().__init__()
                    self.gate = nn.Parameter(torch.Tensor(width, width))
                    self.register_buffer("history", torch.Tensor(width, 4))
                    for label, tensor in self.named_parameters():
                        nn.init.trunc_normal_(tensor, std=0.02)
        """, line=8, more_lines=(10, 24), unsafe=True, fixed="""
            import torch
            from torch import nn

            class RelationTable(nn.Module):
                def __init__(self, relation_sizes, width):
                    super().__init__()
                    self.heads = nn.ParameterDict(
                        {rel: nn.Parameter(torch.zeros(n, width)) for rel, n in relation_sizes})
                    self.tails = nn.ParameterList(
                        [nn.Parameter(torch.zeros(width, 1)) for _ in relation_sizes])
                    self.spares = nn.ParameterList(
                        [nn.Parameter(torch.zeros(width, 1)) for _ in relation_sizes])
                    self.reinit()

                def reinit(self):
                    for head in self.heads.values():
                        head.requires_grad_(False)
                    list(map(nn.init.ones_, self.spares))

            class GatedMixer(nn.Module):
                def __init__(self, width):
                    super().__init__()
                    self.gate = nn.Parameter(torch.Tensor(width, width))
                    self.register_buffer("history", torch.zeros(width, 4))
                    for label, tensor in self.named_parameters():
                        nn.init.trunc_normal_(tensor, std=0.02)
        """),
        # Twins of the initialiser's result: an in-place call that reads the garbage instead of
        # filling it, and an `nn.init` helper that only reads the tensor's shape.
        Invalid("""
            import torch
            from torch import nn
            clipped = nn.Parameter(torch.Tensor(16, 4).clamp_(-1.0, 1.0))
            weight = torch.Tensor(16, 4)
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
        """, line=3, more_lines=(4,), unsafe=True, fixed="""
            import torch
            from torch import nn
            clipped = nn.Parameter(torch.zeros(16, 4).clamp_(-1.0, 1.0))
            weight = torch.zeros(16, 4)
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(weight)
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.initialised: set[int] = set()  # constructor calls filled in the same expression
        # the module, then each enclosing def
        self.scopes: list[_Scope] = [_Scope(context.module)]
        # how many scopes were open at the start of each enclosing class
        self.classes: list[int] = []
        self.assigned: list[str | None] = []  # the target of each enclosing assignment
        # (constructor call, fix, assigned target, function scope, enclosing class name,
        # whether it becomes a parameter of the module: `nn.Parameter(torch.Tensor(n))`)
        self.pending: list[tuple[cst.Call, NodeFix | None, str | None, _Scope, str | None,
                                 bool]] = []
        # The calls open that make their arguments parameters (`nn.Parameter(...)`,
        # `nn.ParameterDict(...)`, `register_parameter(...)`).
        self.parameter_holders: list[int] = []
        # `for i in range(n):` loops open: (the loop variable, the code of n).
        self.row_loops: list[tuple[str, str]] = []
        # The lengths `for i, x in enumerate(items)` loops run over (`len(items)`): a tensor
        # with a literal count of rows (`torch.Tensor(60000, 28, 28)`, the size of the data
        # set) filled at every index of the whole iterable was sized for it by its author.
        self.enumerated_lengths: set[str] = set()
        # The statement blocks open (ids), innermost last, and the stored names of the
        # assignment being walked: a name bound to a constructor and bound again in the same
        # block before anything reads it never exposes the uninitialised memory.
        self.blocks: list[int] = []
        self.stored: set[int] = set()
        # name -> (pending index, block, scope)
        self.unread: dict[str, tuple[int, int, _Scope]] = {}
        self.overwritten: set[int] = set()  # pending indices rebound before any read
        self.registering: set[int] = set()  # register_buffer/register_parameter calls
        # Attribute names an init hook fills on the module it receives
        # (`module.q.data.normal_()` in `_init_weights(self, module)`), as (class name,
        # attribute): see `init_hooks`. The file's own hooks, and those of other files of the
        # project it applies (`model.apply(init_weights)`, imported) or inherits (an
        # `_init_weights` of a base class of another file).
        self.hook_filled: set[tuple[str | None, str]] = {
            fill for fills in init_hook_fills(context.module, context.source,
                                              context.imports).values() for fill in fills}
        # and the hooks other files of the project apply to their models, on every submodule
        self.hook_filled |= self.facts.applied_init_fills()
        self.class_names: list[str] = []
        # Reads of `self.<name>` in the file, and those that use only its dtype and device
        # (`self._float_tensor.new(n)`, `x.to(self._float_tensor)`), by code; assigned
        # attribute nodes are no reads.
        self.attribute_reads: dict[str, int] = {}
        self.template_reads: dict[str, int] = {}
        self.assigned_nodes: set[int] = set()
        # The file's top-level functions, by name, and every scope: a helper called for every
        # row with the row index (`match(..., loc_t, idx)`) fills the caller's tensor.
        self.module_functions: dict[str, _Scope] = {}
        self.all_scopes: list[_Scope] = [self.scopes[0]]

    def _code(self, node: cst.CSTNode) -> str:
        code = self.context.module.code_for_node(node).strip()
        return code[:-len(".data")] if code.endswith(".data") else code

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.append(len(self.scopes))
        self.class_names.append(node.name.value)
        for base in node.bases:
            qualified = self.imports.qualified_name(base.value)
            if qualified is not None:  # an `_init_weights` inherited from another file
                self.hook_filled |= self.facts.imported_init_fills(qualified)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.classes.pop()
        self.class_names.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = _Scope(node)
        scope.params = [param.name.value for param in (*node.params.posonly_params,
                                                        *node.params.params)]
        if not self.classes and len(self.scopes) == 1:
            self.module_functions[node.name.value] = scope  # init_embedding(embeddings)
        self.all_scopes.append(scope)
        self.scopes.append(scope)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_Module(self, node: cst.Module) -> None:
        self.blocks.append(id(node))

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.blocks.append(id(node))

    def leave_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.blocks.pop()

    def visit_For(self, node: cst.For) -> None:
        bound = _range_bound(node)
        enumerated = _enumerated(node)
        if bound is not None and isinstance(node.target, cst.Name):
            self.row_loops.append((node.target.value, self._code(bound)))
        elif enumerated is not None:
            # `for idx, example in enumerate(dataset)`: idx runs over len(dataset) rows
            length = f"len({self._code(enumerated[1])})"
            self.enumerated_lengths.add(length)
            self.row_loops.append((enumerated[0], length))
        else:
            self.row_loops.append(("", ""))

    def leave_For(self, node: cst.For) -> None:
        self.row_loops.pop()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if _is_self_attribute(node) and id(node) not in self.assigned_nodes:
            code = self._code(node)
            self.attribute_reads[code] = self.attribute_reads.get(code, 0) + 1
        elif _is_self_attribute(node.value) and node.attr.value in TEMPLATE_ATTRIBUTES:
            code = self._code(node.value)
            self.template_reads[code] = self.template_reads.get(code, 0) + 1

    def _is_template(self, call: cst.Call, target: str | None) -> bool:
        """`self._float_tensor = torch.FloatTensor(1)` read only for its dtype and device
        (fairseq's positional embeddings): its one uninitialised element is never read."""
        if target is None or len(call.args) != 1 or not isinstance(
                call.args[0].value, cst.Integer) or integer(call.args[0].value) != 1:
            return False
        reads = self.attribute_reads.get(target, 0)
        return reads > 0 and reads == self.template_reads.get(target, 0)

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self.stored:
            self.unread.pop(node.value, None)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.assigned.append(self._code(node.targets[0].target) if len(node.targets) == 1
                             else None)
        loops = {variable: bound for variable, bound in self.row_loops if variable}
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.stored.add(id(target.target))
            self.assigned_nodes.add(id(target.target))
            filled = target.target
            if isinstance(filled, cst.Subscript) and len(filled.slice) == 1 and isinstance(
                    filled.slice[0].slice, cst.Index) and isinstance(
                    filled.slice[0].slice.value, cst.Name) and \
                    filled.slice[0].slice.value.value in loops:
                # `code[i] = ...` in `for i in range(n)`: every row of an n-row tensor.
                self.scopes[-1].rows_filled.add(
                    (self._code(filled.value), loops[filled.slice[0].slice.value.value]))
            row = row_written(target.target)
            params = self.scopes[-1].params
            if row is not None and row[0] in params and row[1] in params:
                # `loc_t[idx] = ...` in a helper: the caller's loop over idx fills every row.
                self.scopes[-1].row_writes.add((params.index(row[0]), params.index(row[1])))

    def leave_Assign(self, node: cst.Assign) -> None:
        self.assigned.pop()
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        name = node.targets[0].target.value
        earlier = self.unread.pop(name, None)
        if earlier is not None and earlier[1] == self.blocks[-1] and \
                earlier[2] is self.scopes[-1]:
            self.overwritten.add(earlier[0])
        if self.pending and self.pending[-1][2] == name and \
                self.pending[-1][3] is self.scopes[-1] and _within(self.pending[-1][0], node):
            self.unread[name] = (len(self.pending) - 1, self.blocks[-1], self.scopes[-1])

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.assigned.append(self._code(node.target))

    def leave_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.assigned.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        scope = self.scopes[-1]
        if isinstance(func, cst.Attribute) and \
                func.attr.value in catalog.ATTRIBUTE_REGISTERING_METHODS and \
                len(node.args) >= 2 and isinstance(node.args[0].value, cst.SimpleString):
            # self.register_buffer("features", torch.Tensor(n, d)): the target is self.features
            name = node.args[0].value.evaluated_value
            self.assigned.append(f"{self._code(func.value)}.{name}"
                                 if isinstance(name, str) else None)
            self.registering.add(id(node))
        elif isinstance(func, cst.Attribute) and func.attr.value in ("append", "extend") and \
                isinstance(func.value, cst.Attribute):
            # self.out_projs.append(nn.Parameter(torch.FloatTensor(n, m))): an entry of
            # self.out_projs, which an init hook fills as module.out_projs[i]
            self.assigned.append(self._code(func.value))
            self.registering.add(id(node))
        self._apply_imported_hooks(node)
        qualified = self.imports.call_name(node)
        if qualified in catalog.PARAMETER_HOLDERS or (
                isinstance(func, cst.Attribute) and func.attr.value == "register_parameter"):
            self.parameter_holders.append(id(node))
        if isinstance(func, cst.Attribute) and func.attr.value in catalog.IN_PLACE_INITIALISERS:
            # torch.Tensor(n).normal_(), nn.Parameter(torch.Tensor(n)).data.zero_()
            self.initialised.add(id(self._storage(func.value)))
        if isinstance(func, cst.Attribute) and func.attr.value in TEMPLATE_TAKERS:
            for arg in node.args:  # table.to(self._float_tensor): its dtype and device
                if _is_self_attribute(arg.value):
                    code = self._code(arg.value)
                    self.template_reads[code] = self.template_reads.get(code, 0) + 1
        loops = {variable: bound for variable, bound in self.row_loops if variable}
        if loops and not any(arg.star or arg.keyword is not None for arg in node.args):
            # A helper called for every row, handed the row index (`match(..., loc_t, idx)` in
            # `for idx in range(num)`): of the file, judged at the end; of another file, now.
            codes = [self._code(arg.value) for arg in node.args]
            if isinstance(func, cst.Name) and qualified is None:
                scope.row_calls.append((func.value, codes, loops))
            elif qualified is not None:
                self._fill_rows(scope, self.facts.imported_row_fills(qualified), codes, loops)
        if catalog.is_init_fill(qualified) and node.args:
            # nn.init.xavier_uniform_(torch.Tensor(n, m)), also of nn.Parameter(...): the
            # initialiser fills its argument in place and returns it
            self.initialised.add(id(self._storage(node.args[0].value)))
        if qualified not in CONSTRUCTORS or not node.args or id(node) in self.initialised:
            return
        if any(arg.keyword is not None or arg.star for arg in node.args) or \
                not _are_sizes([arg.value for arg in node.args]):
            return
        if any(isinstance(arg.value, cst.Integer) and integer(arg.value) == 0
               for arg in node.args):
            return  # a size of 0: an empty tensor, nothing uninitialised (used to free memory)
        fix = None
        if qualified in ("torch.Tensor", "torch.FloatTensor") and isinstance(node.func, cst.Attribute):
            fix = NodeFix.replace(node.func.attr, "zeros", description="Use torch.zeros",
                                  applicability=Applicability.UNSAFE)
        self.pending.append((node, fix, self.assigned[-1] if self.assigned else None, scope,
                             self.class_names[-1] if self.class_names else None,
                             bool(self.parameter_holders)))

    def _storage(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """The expression whose memory `node` holds: the constructor call of
        `torch.LongTensor(1).cuda()`, `nn.Parameter(torch.Tensor(n))` or `w.data`."""
        while True:
            if isinstance(node, cst.Attribute) and node.attr.value == "data":
                node = node.value
            elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                    node.func.attr.value in catalog.DEVICE_MOVING_METHODS:
                node = node.func.value
            elif isinstance(node, cst.Call) and node.args and node.args[0].keyword is None \
                    and not node.args[0].star and \
                    self.imports.call_name(node) in catalog.STORAGE_SHARING_WRAPPERS:
                node = node.args[0].value
            else:
                return node

    def _apply_imported_hooks(self, node: cst.Call) -> None:
        """`model.apply(init_weights)` (also `partial(init_weights, std=0.02)`) or
        `init_weights(model)`, with `init_weights` imported from another file of the project:
        what it fills on the modules it receives is initialised."""
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "apply" and node.args:
            hook = node.args[0].value  # any function handed to `apply` is a hook
            if isinstance(hook, cst.Call) and hook.args:  # partial(init_weights, ...)
                hook = hook.args[0].value
        else:  # a direct call, of a function whose name says it initialises
            hook = func
        qualified = self.imports.qualified_name(hook) if isinstance(
            hook, (cst.Name, cst.Attribute)) else None
        if qualified is not None and (hook is not func or "init" in qualified.lower()):
            self.hook_filled |= self.facts.imported_init_fills(qualified)

    def leave_Call(self, node: cst.Call) -> None:
        if id(node) in self.registering:
            self.assigned.pop()
        if self.parameter_holders and self.parameter_holders[-1] == id(node):
            self.parameter_holders.pop()

    @staticmethod
    def _fill_rows(scope: "_Scope", writes, codes: list[str], loops: dict[str, str]) -> None:
        """The rows a helper writes (`writes`: positions of the tensor and of the index) of the
        tensors a call hands it, indexed by a row loop's variable, are filled in `scope`."""
        for filled, index in writes:
            if filled < len(codes) and index < len(codes) and codes[index] in loops:
                scope.rows_filled.add((codes[filled], loops[codes[index]]))

    def leave_Module(self, node: cst.Module) -> None:
        if not self.pending:
            return
        fills = self.facts.callable_fills()
        for scope in self.all_scopes:
            for name, codes, loops in scope.row_calls:
                helper = self.module_functions.get(name)
                if helper is not None:
                    self._fill_rows(scope, helper.row_writes, codes, loops)
        # Decided at the end: the filling may come later in the function, on any of its paths,
        # or in what it calls (`self.reset_parameters()`, as nn.Linear itself does, a helper it
        # hands the tensor to, of the file or of another file, or a partial of one).
        for index, (call, fix, target, scope, class_name, as_parameter) in \
                enumerate(self.pending):
            filled = fills.codes_filled(scope.node)
            if target is not None and target in filled:
                continue
            if as_parameter and target is not None and target.startswith("self.") and \
                    ALL_PARAMETERS in filled:
                continue  # `for p in self.parameters(): nn.init.normal_(p)`
            if index in self.overwritten or (target, self._code(call.args[0].value)) in \
                    scope.rows_filled or self._is_template(call, target):
                continue
            if isinstance(call.args[0].value, cst.Integer) and any(
                    filled == target and length in self.enumerated_lengths
                    for filled, length in scope.rows_filled):
                continue  # every row of a data set counted by hand, filled by enumerating it
            if target is not None and target.startswith("self.") and target.count(".") == 1 \
                    and any(attribute == target[len("self."):]
                            and class_matches(pattern, class_name)
                            for pattern, attribute in self.hook_filled):
                continue  # filled by the init hook the model applies to its modules
            self.report(call, "with sizes, this constructor returns uninitialised memory "
                              "(garbage, sometimes NaN); use `torch.zeros` or `torch.empty` "
                              "plus an explicit initialisation", fix=fix)


class _Scope:
    """One function (or the module): its rows filled by loops and by helpers called per row."""

    def __init__(self, node: cst.CSTNode) -> None:
        self.node = node  # the FunctionDef, or the Module
        self.rows_filled: set[tuple[str, str]] = set()  # (target, n) filled row by row
        # (position of a parameter, position of another) for each `param[index] = ...`
        self.row_writes: set[tuple[int, int]] = set()
        # Calls of the file's functions inside `for i in range(n)` loops: (name, code of each
        # positional argument, the open loops' variables and bounds).
        self.row_calls: list[tuple[str, list[str], dict[str, str]]] = []
        self.params: list[str] = []  # its positional parameters, in order
