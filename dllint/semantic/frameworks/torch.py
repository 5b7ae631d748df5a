"""PyTorch knowledge (torch, torch.nn, torch.nn.functional, the model zoos whose layers are not
visible), keyed by qualified names as `ImportMap` resolves them: `import torch.nn.functional as F`
+ `F.softmax` is `torch.nn.functional.softmax`. `catalog.py` merges these tables with the other
frameworks' and turns them into effect rows; torchvision's transforms and readers are in
`data.py`."""

from __future__ import annotations

from dataclasses import dataclass

from dllint.semantic.effects import Effect, Match, Row, loss_rows, rows

# Calls whose result is a probability distribution (non-negative, rows summing to 1, or in [0,1]).
PROBABILITY_FUNCTIONS = {
    "torch.softmax": "softmax", "torch.nn.functional.softmax": "softmax",
    "torch.special.softmax": "softmax", "torch.sigmoid": "sigmoid",
    "torch.nn.functional.sigmoid": "sigmoid", "torch.special.expit": "sigmoid",
}
LOG_PROBABILITY_FUNCTIONS = frozenset({
    "torch.log_softmax", "torch.nn.functional.log_softmax", "torch.special.log_softmax",
    "torch.nn.functional.logsigmoid",
})
LOG_FUNCTIONS = frozenset({"torch.log"})
# `1 / (1 + exp(-x))` written out is a sigmoid (`catalog.EXP_FUNCTIONS`).
EXP_FUNCTIONS = frozenset({"torch.exp"})
# `(x - torch.min(x)) / (torch.max(x) - torch.min(x))` scales `x` to [0, 1] (EXTREMUM rows).
EXTREMUM_FUNCTIONS = {"torch.min": "min", "torch.amin": "min", "torch.max": "max",
                      "torch.amax": "max"}
# Calls that bound a value to a range, first argument the value (`torch.clamp(p, eps, 1 - eps)`);
# and the methods that do it (`p.clamp(min=eps)`). What they bound keeps its meaning.
CLIPPING_FUNCTIONS = frozenset({"torch.clamp", "torch.clip"})
CLIPPING_METHODS = frozenset({"clamp", "clamp_", "clip", "clip_"})
PROBABILITY_METHODS = {"softmax": "softmax", "sigmoid": "sigmoid"}
LOG_PROBABILITY_METHODS = frozenset({"log_softmax"})

# Layers whose output is probabilities / log-probabilities / a single column.
PROBABILITY_LAYERS = {"torch.nn.Softmax": "nn.Softmax", "torch.nn.Sigmoid": "nn.Sigmoid",
                      "torch.nn.Softmax2d": "nn.Softmax2d"}
LOG_PROBABILITY_LAYERS = frozenset({"torch.nn.LogSoftmax", "torch.nn.LogSigmoid"})
@dataclass(frozen=True)
class ModeArgument:
    """The constructor argument that decides whether a layer's train and eval modes differ: a
    drop probability (they differ unless it is 0) or a flag (they differ when it is True).
    `differs_by_default`: what the layer does when the argument is not given."""
    keyword: str
    position: int
    differs_by_default: bool
    is_flag: bool = False


_DROP = ModeArgument("p", 0, True)
_RUNNING_STATS = ModeArgument("track_running_stats", 4, True, is_flag=True)
_LAZY_RUNNING_STATS = ModeArgument("track_running_stats", 3, True, is_flag=True)
# InstanceNorm keeps no running statistics unless told to: both modes normalise per sample.
_INSTANCE_STATS = ModeArgument("track_running_stats", 4, False, is_flag=True)
_LAZY_INSTANCE_STATS = ModeArgument("track_running_stats", 3, False, is_flag=True)
# Recurrent layers drop between stacked layers only with `dropout=` (0 by default); nn.RNN
# takes `nonlinearity` before it.
_RECURRENT_DROPOUT = ModeArgument("dropout", 5, False)
_RNN_DROPOUT = ModeArgument("dropout", 6, False)
# Layers that make train() and eval() behave differently, by the argument that decides it.
MODE_DEPENDENT_LAYERS = {
    **{f"torch.nn.{name}": _DROP for name in (
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")},
    **{f"torch.nn.{name}": _RUNNING_STATS for name in (
        "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm")},
    **{f"torch.nn.{name}": _LAZY_RUNNING_STATS for name in (
        "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d")},
    **{f"torch.nn.{name}": _INSTANCE_STATS for name in (
        "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")},
    **{f"torch.nn.{name}": _LAZY_INSTANCE_STATS for name in (
        "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d")},
    **{f"torch.nn.{name}": _RECURRENT_DROPOUT for name in ("LSTM", "GRU")},
    "torch.nn.RNN": _RNN_DROPOUT,
    "torch.nn.TransformerEncoderLayer": ModeArgument("dropout", 3, True),
    "torch.nn.TransformerDecoderLayer": ModeArgument("dropout", 3, True),
    "torch.nn.Transformer": ModeArgument("dropout", 5, True),
    "torch.nn.MultiheadAttention": ModeArgument("dropout", 2, False),
}
CONTAINER_LAYERS = frozenset({"torch.nn.Sequential"})
# Containers that hold modules without calling them (the owner's forward does): their mode is
# their members' (given as a list, a dict, or a comprehension), by the name messages use.
MODULE_COLLECTIONS = {
    f"{package}.{name}": f"nn.{name}" for package in ("torch.nn", "torch.nn.modules.container")
    for name in ("ModuleList", "ModuleDict")
}
# Convolutions, by the output shape they have with out_channels=1: a size-1 channel axis.
SINGLE_CHANNEL_LAYERS = {
    "torch.nn.Conv1d": "(N, 1, L)", "torch.nn.Conv2d": "(N, 1, H, W)",
    "torch.nn.Conv3d": "(N, 1, D, H, W)", "torch.nn.ConvTranspose1d": "(N, 1, L)",
    "torch.nn.ConvTranspose2d": "(N, 1, H, W)", "torch.nn.ConvTranspose3d": "(N, 1, D, H, W)",
}
# Elementwise activations: the output has the input's shape, so an (N, 1) output stays one.
SHAPE_KEEPING_LAYERS = frozenset({"torch.nn.Sigmoid", "torch.nn.Tanh", "torch.nn.ReLU",
                                  "torch.nn.LeakyReLU", "torch.nn.Softplus", "torch.nn.Identity"})
SHAPE_KEEPING_FUNCTIONS = frozenset({
    "torch.sigmoid", "torch.nn.functional.sigmoid", "torch.special.expit", "torch.tanh",
    "torch.nn.functional.tanh", "torch.relu", "torch.nn.functional.relu",
})
SHAPE_KEEPING_METHODS = frozenset({"sigmoid", "tanh", "relu"})
# PyTorch's functional dropouts: the position of their `training` argument. Each is on unless
# told otherwise, so a class that calls one behaves differently in train and eval mode only when
# it passes its own mode (DL302), and a model that calls one has a mode to get right (DL004).
FUNCTIONAL_DROPOUTS = {f"torch.nn.functional.{name}": 2 for name in (
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")}
# Functional calls whose result depends on the module's mode (batch norm takes it as an argument).
MODE_DEPENDENT_FUNCTIONS = frozenset({*FUNCTIONAL_DROPOUTS, "torch.nn.functional.batch_norm"})
# Calls that build a model whose layers dllint cannot see. Their families have dropout or batch
# norm (torchvision's and timm's CNNs batch norm, their transformers stochastic depth or dropout,
# Hugging Face models dropout in every layer), so the model is taken to have them: the evidence
# DL004 names, by prefix.
OPAQUE_MODEL_FAMILIES = {
    "torchvision.models.": "batch norm or dropout, as torchvision models do",
    "timm.create_model": "batch norm or dropout, as timm models do",
    "torch.hub.load": "batch norm or dropout, as torch.hub models do",
    "transformers.AutoModel": "dropout, as Hugging Face models do",
    "segmentation_models_pytorch.": "batch norm, as segmentation_models_pytorch models do",
    # The Inception network FID and IS are computed with; its constructor leaves it in training
    # mode (torchmetrics' FID wrapper switches it itself).
    "pytorch_fid.inception.InceptionV3": "batch norm, as pytorch_fid's Inception network does",
}
OPAQUE_MODEL_PREFIXES = tuple(OPAQUE_MODEL_FAMILIES)
# ... except what those packages ship that is not a model.
NOT_MODELS = (".losses.", ".metrics.", ".utils.", ".transforms.", "._api.", ".get_weight",
              "Loss", "Weights")
# Library models whose layers compute the same in train and eval mode (embedding tables with
# no dropout or batch norm): a model whose mode changes nothing, wherever it is evaluated.
MODE_FREE_MODELS = tuple(f"torch_geometric.nn{package}.{name}"
                         for name in ("Node2Vec", "MetaPath2Vec")
                         for package in ("", ".models"))
# Modules that behave the same in train and eval mode whatever their base classes, when the
# run holds their package's source: kornia's augmentations draw random parameters in either mode.
MODE_FREE_PACKAGES = ("kornia.augmentation.",)
# Calls that wrap a module and run it unchanged when called (compiled, replicated, sharded):
# the result outputs what the wrapped module outputs. Value: where the module is passed
# (position, keyword).
MODULE_WRAPPERS = {
    "torch.compile": (0, "model"),
    **{name: (0, "module") for name in (
        "torch.nn.DataParallel", "torch.nn.parallel.DataParallel",
        "torch.nn.parallel.data_parallel.DataParallel",
        "torch.nn.parallel.DistributedDataParallel",
        "torch.nn.parallel.distributed.DistributedDataParallel",
        "torch.distributed.fsdp.FullyShardedDataParallel",
        "torch.distributed.fsdp.fully_sharded_data_parallel.FullyShardedDataParallel",
        "torch.distributed.fsdp.fully_shard", "torch.distributed._composable.fsdp.fully_shard")},
}
# Their loaders that hand the model back in eval mode: Hugging Face's `from_pretrained` calls
# `model.eval()` ("the model is set in evaluation mode by default").
EVAL_MODE_LOADERS = frozenset({"from_pretrained"})
# Methods that run a model for generation, not training: Hugging Face's `generate` turns off
# gradients but leaves dropout to the model's mode, which the caller must set.
GENERATION_METHODS = frozenset({"generate"})
# Calls that return a copy of a model (its layers and its mode, its own parameters): an EMA or
# SWA average, a frozen teacher. Switching the copy's mode leaves the original's alone. By the
# argument that is copied: (keyword, position).
MODULE_COPIES = {
    "copy.deepcopy": ("x", 0), "torch.optim.swa_utils.AveragedModel": ("model", 0),
    **{f"timm.utils.{name}": ("model", 0) for name in ("ModelEma", "ModelEmaV2", "ModelEmaV3")},
    **{f"timm.utils.model_ema.{name}": ("model", 0)
       for name in ("ModelEma", "ModelEmaV2", "ModelEmaV3")},
    "ema_pytorch.EMA": ("model", 0), "ema_pytorch.ema_pytorch.EMA": ("model", 0),
}
# Attributes through which a wrapper holds the model its forward runs (DistributedDataParallel,
# DataParallel, AveragedModel, timm's ModelEma: `.module`; ema_pytorch's EMA: `.ema_model`):
# switching that model's mode switches what the wrapper computes.
WRAPPED_MODULE_ATTRIBUTES = frozenset({"module", "ema_model"})
NN_MODULE_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})
# Base classes of PyTorch's own losses, which user losses derive from too.
LOSS_BASES = frozenset({"torch.nn.modules.loss._Loss", "torch.nn.modules.loss._WeightedLoss"})
TO_TENSOR = frozenset({"torch.from_numpy", "torch.tensor", "torch.as_tensor"})
TENSOR_DATASETS = frozenset({"torch.utils.data.TensorDataset"})
# Methods that run a backward pass, with the keywords of the tensor they backpropagate when it
# is an argument: `accelerator.backward(loss)` (Accelerate), `fabric.backward(loss)` (Fabric),
# `engine.backward(loss)` (DeepSpeed), `torch.autograd.backward(tensors)`, Lightning's
# `self.manual_backward(loss)`. A tensor's own `loss.backward(gradient)` backpropagates its
# receiver, so for `backward` the receiver and the first argument both count.
BACKWARD_METHODS = {"backward": ("loss", "tensor", "tensors"), "manual_backward": ("loss",)}
# Context managers that hand a loss on, scaled, to their `as` name, whose backward is the
# loss's: `with amp.scale_loss(loss, optimizer) as scaled: scaled.backward()` (NVIDIA Apex).
LOSS_SCALING_CONTEXTS = frozenset({"apex.amp.scale_loss"})
# In-place methods that clear a gradient by hand when called on a tensor's `.grad` (or
# `.grad.data`): `w.grad.zero_()` does what `optimizer.zero_grad()` does for that tensor.
GRADIENT_CLEARING_METHODS = frozenset({"zero_"})
# Functions, imported from anywhere (their bodies are in other files), that clear the gradients
# of the parameters they are given, named like the method they stand for:
# `from .fp16_util import zero_grad; zero_grad(self.model_params)`.
GRADIENT_CLEARING_FUNCTIONS = frozenset({"zero_grad"})
# Calls and methods that keep the value's meaning (shape or device changes only).
PASSTHROUGH_METHODS = frozenset({
    "view", "reshape", "to", "cuda", "cpu", "detach", "contiguous", "clone", "permute",
    "transpose", "unsqueeze", "flatten", "view_as", "reshape_as", "expand", "expand_as",
    "requires_grad_", "pin_memory", "copy", "squeeze", "resize", "resize_", "resize_as",
    "repeat",  # numpy's and torch's: the same elements, repeated (the shape changes)
})
FLOAT_CASTS = frozenset({"float", "half", "bfloat16"})
# Module methods that convert every parameter to one dtype (in place, returning the module).
MODULE_DTYPE_METHODS = {"double": "float64", "float": "", "half": "float16",
                        "bfloat16": "bfloat16"}
# Methods that return the module (or loss) they are called on, moved to a device or cast: the
# value stays that model or that loss (`Net().to(device)`, `nn.CrossEntropyLoss().cuda()`).
SAME_MODULE_METHODS = frozenset({"to", "cuda", "cpu", "requires_grad_", *MODULE_DTYPE_METHODS})
# torch dtypes by qualified name, as a module's `.to(dtype)` records them.
TORCH_FLOAT_DTYPES = {"torch.float64": "float64", "torch.double": "float64",
                      "torch.float32": "", "torch.float": "", "torch.float16": "float16",
                      "torch.half": "float16", "torch.bfloat16": "bfloat16"}
NO_GRAD_CONTEXTS = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                              "torch.autograd.grad_mode.no_grad"})
# Backward passes that keep their gradients in a context of their own (distributed autograd):
# nothing adds up in `.grad` from one step to the next, so no zero_grad is needed.
CONTEXT_BACKWARDS = frozenset({"torch.distributed.autograd.backward"})
# Tensors made up for a forward pass (a shape probe, a smoke test): what the model returns on
# them is looked at for its shape, never for its values, so its mode does not matter.
DUMMY_INPUT_FACTORIES = frozenset({
    "torch.randn", "torch.rand", "torch.randint", "torch.zeros", "torch.ones", "torch.empty",
    "torch.full", "torch.randn_like", "torch.rand_like", "torch.zeros_like", "torch.ones_like",
})
# Tensor methods that overwrite every element in place: `torch.Tensor(n).normal_()` is
# initialised in the same expression. (Every function of `torch.nn.init` does the same.)
IN_PLACE_INITIALISERS = frozenset({
    "normal_", "uniform_", "zero_", "fill_", "copy_", "random_", "bernoulli_", "exponential_",
    "geometric_", "cauchy_", "log_normal_", "set_",
})
# Methods that move a tensor but keep its contents: `torch.LongTensor(1).cuda().fill_(label)`
# still initialises the constructor's tensor (a copy of it, with the same garbage until filled).
DEVICE_MOVING_METHODS = frozenset({"cuda", "cpu", "to", "pin_memory", "contiguous"})
# `torch.nn.init` functions that read a tensor's shape and fill nothing: every other function
# of the module (`xavier_uniform_`, the deprecated `normal`) fills its first argument in place
# and returns it.
INIT_NON_FILLS = frozenset({
    "torch.nn.init.calculate_gain", "torch.nn.init._calculate_fan_in_and_fan_out",
    "torch.nn.init._calculate_correct_fan",
})
# Calls whose result holds their first argument's memory: filling `nn.Parameter(t)` fills `t`.
STORAGE_SHARING_WRAPPERS = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
# Calls that make what their argument holds parameters of the module (`self.parameters()`).
PARAMETER_HOLDERS = frozenset({
    "torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.nn.ParameterList",
    "torch.nn.ParameterDict", "torch.nn.modules.container.ParameterList",
    "torch.nn.modules.container.ParameterDict",
})
# Module methods that iterate over its parameters (and its submodules'), the named ones as
# (name, parameter) pairs.
PARAMETER_ITERATORS = frozenset({"parameters"})
NAMED_PARAMETER_ITERATORS = frozenset({"named_parameters"})
# Module methods that store their second argument as the attribute their first names:
# `self.register_buffer("features", t)` makes `self.features` hold `t`.
ATTRIBUTE_REGISTERING_METHODS = frozenset({"register_buffer", "register_parameter"})
# Calls that take a DistributedSampler (or a loader built with one) and never call its
# `set_epoch`: the sampler handed to anything else may get its epoch there.
SAMPLER_PASSIVE_CALLS = frozenset({
    "torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader",
    "torch.utils.data.BatchSampler", "torch.utils.data.sampler.BatchSampler",
    "builtins.enumerate", "builtins.iter", "builtins.len", "builtins.zip", "builtins.next",
    "builtins.print", "builtins.isinstance", "builtins.list", "itertools.islice",
    "tqdm.tqdm", "tqdm.auto.tqdm", "tqdm.notebook.tqdm",
})

# Calls that wrap a DataLoader and re-seed its sampler with the epoch each time it is iterated:
# methods of an object (Accelerate's `accelerator.prepare`, Lightning Fabric's
# `fabric.setup_dataloaders`) and library functions. A loader handed to them and iterated as
# they return it needs no `set_epoch`. Other calls that return the loader (DeepSpeed's, Ray's
# `prepare_data_loader`, a project's own distributed backend) leave that to the caller.
RESEEDING_LOADER_METHODS = frozenset({"prepare", "prepare_data_loader", "setup_dataloaders"})
RESEEDING_LOADER_FUNCTIONS = frozenset({"accelerate.data_loader.prepare_data_loader"})

# One row per loss (see `effects.Loss`): what its input must be, and how messages name it.
LOSSES = {
    "torch.nn.functional.cross_entropy": dict(wants="logits", display="F.cross_entropy",
                                              is_class=False, applies="log_softmax"),
    "torch.nn.functional.binary_cross_entropy_with_logits":
        dict(wants="logits", display="F.binary_cross_entropy_with_logits", is_class=False,
             applies="sigmoid"),
    "torch.nn.functional.nll_loss": dict(wants="log_probabilities", display="F.nll_loss",
                                         is_class=False),
    "torch.nn.functional.binary_cross_entropy":
        dict(wants="probabilities", display="F.binary_cross_entropy", is_class=False),
    **{f"torch.nn.functional.{name}": dict(wants="elementwise", display=f"F.{name}",
                                           is_class=False)
       for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")},
    "torch.nn.CrossEntropyLoss": dict(wants="logits", display="nn.CrossEntropyLoss",
                                      is_class=True, applies="log_softmax"),
    "torch.nn.BCEWithLogitsLoss": dict(wants="logits", display="nn.BCEWithLogitsLoss",
                                       is_class=True, applies="sigmoid"),
    "torch.nn.NLLLoss": dict(wants="log_probabilities", display="nn.NLLLoss", is_class=True),
    "torch.nn.BCELoss": dict(wants="probabilities", display="nn.BCELoss", is_class=True),
    **{f"torch.nn.{name}": dict(wants="elementwise", display=f"nn.{name}", is_class=True)
       for name in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss")},
}
# Layers whose output has as many columns as one argument says (see `catalog.COLUMN_LAYERS`).
COLUMN_LAYERS = {"torch.nn.Linear": (1, "out_features")}
# Calls that join a list (or tuple) of tensors into one of the same dtype and scale.
STACKING = frozenset({"torch.stack", "torch.cat", "torch.concat", "torch.concatenate",
                      "torch.vstack", "torch.hstack", "torch.dstack"})
# How many axes each join adds to its tensors' rank: `cat` joins along an axis they have,
# `stack` along a new one. (vstack, hstack and dstack depend on the rank they are given.)
JOIN_AXES_ADDED = {"torch.cat": 0, "torch.concat": 0, "torch.concatenate": 0, "torch.stack": 1}
# Layers whose output has their input's rank plus this many axes: `Linear` maps the last axis
# (any leading ones kept), elementwise layers and norms over the last axes keep the shape,
# `Embedding` adds the embedding axis.
LAYER_AXES_ADDED = {
    **{name: 0 for name in SHAPE_KEEPING_LAYERS},
    **{f"torch.nn.{name}": 0 for name in (
        "Linear", "Dropout", "LayerNorm", "GELU", "ELU", "SELU", "SiLU", "Mish", "PReLU",
        "ReLU6", "Hardtanh", "Softmax", "LogSoftmax")},
    "torch.nn.Embedding": 1,
}
UINT8_DTYPES = frozenset({"torch.uint8"})
# Functions that add or remove axes.
RESHAPING_FUNCTIONS = frozenset({"torch.squeeze", "torch.unsqueeze", "torch.flatten",
                                 "torch.reshape"})
RANK1_CONSTRUCTORS = frozenset({"torch.randn", "torch.rand", "torch.zeros", "torch.ones",
                                "torch.empty"})
# Of those, the ones whose every positional argument is a size (`torch.zeros(b, t, c)`);
# the others take the whole shape as their first argument.
SIZES_AS_ARGUMENTS = RANK1_CONSTRUCTORS
FLOAT32_DTYPES = frozenset({"torch.float32", "torch.float", "torch.float16", "torch.half",
                            "torch.bfloat16"})


# ---- effect rows ------------------------------------------------------------------------------
# What each table above does to a value (see `effects.py`): the registry in `catalog.py` compiles
# every framework's ROWS; the effects' declared order is the precedence.
ROWS = (
    *(Row(name, Effect.EXTREMUM, data=which) for name, which in EXTREMUM_FUNCTIONS.items()),
    *rows(Effect.PROBABILITIES, PROBABILITY_FUNCTIONS),
    *rows(Effect.SHAPE_KEEPING, SHAPE_KEEPING_FUNCTIONS),
    *rows(Effect.LOG_PROBABILITIES, LOG_PROBABILITY_FUNCTIONS),
    Row("torch.exp", Effect.EXP),
    # A no-op wrapper since PyTorch 0.4: the value is its `data` argument.
    *rows(Effect.NO_OP_WRAPPER, ("torch.autograd.Variable", "torch.autograd.variable.Variable"),
          position=0, keyword="data"),
    *rows(Effect.LOG, LOG_FUNCTIONS),
    *rows(Effect.PROBABILITY_LAYER, PROBABILITY_LAYERS),
    *rows(Effect.LOG_PROBABILITY_LAYER, LOG_PROBABILITY_LAYERS),
    *(Row(name, Effect.MODULE_COPY, keyword=keyword, position=position)
      for name, (keyword, position) in MODULE_COPIES.items()),
    *(Row(name, Effect.MODULE_WRAPPER, position=position, keyword=keyword)
      for name, (position, keyword) in MODULE_WRAPPERS.items()),
    *(Row(name, Effect.MODE_DEPENDENT_LAYER, data=argument)
      for name, argument in MODE_DEPENDENT_LAYERS.items()),
    *rows(Effect.CONTAINER, CONTAINER_LAYERS),
    *rows(Effect.MODULE_COLLECTION, MODULE_COLLECTIONS),
    *loss_rows(LOSSES),
    *(Row(name, Effect.COLUMN_LAYER, position=position, keyword=keyword)
      for name, (position, keyword) in COLUMN_LAYERS.items()),
    *rows(Effect.SINGLE_CHANNEL_LAYER, SINGLE_CHANNEL_LAYERS),
    *rows(Effect.LAYER, MODE_FREE_MODELS),
    # Any other `torch.nn.<Upper>` is a layer; a Parameter (or ParameterList) is not.
    Row("torch.nn.", Effect.LAYER, match=Match.PREFIX, capitalised=True, dots=2,
        excluding=("torch.nn.Parameter",)),
    Row("torch.optim.lr_scheduler.", Effect.SCHEDULER, match=Match.PREFIX, capitalised=True),
    # The base class of PyTorch < 2.0 (still an alias): a class derived from it is a scheduler.
    Row("torch.optim.lr_scheduler._LRScheduler", Effect.SCHEDULER),
    Row("torch.optim.", Effect.OPTIMIZER, match=Match.PREFIX, capitalised=True, dots=2),
    *(Row(prefix, Effect.OPAQUE_MODEL, match=Match.PREFIX, excluding=NOT_MODELS)
      for prefix in OPAQUE_MODEL_PREFIXES),
    *rows(Effect.CLIPPING, CLIPPING_FUNCTIONS),
    *rows(Effect.STACKING, STACKING, position=0, keyword="arrays"),
    *rows(Effect.RANK1_CONSTRUCTOR, RANK1_CONSTRUCTORS),
    *(Row(name, Effect.TO_TENSOR, position=0, keyword="data",
          gate=("tensor(",) if name == "torch.tensor" else ())  # "tensor" alone: tensorflow too
      for name in TO_TENSOR),
    # Tensors built without a dtype: float32 whatever they are built from.
    *rows(Effect.UNTYPED_TENSOR, ("torch.Tensor", "torch.FloatTensor")),
    *rows(Effect.RESHAPE, RESHAPING_FUNCTIONS),
    *rows(Effect.PROBABILITY_METHOD, PROBABILITY_METHODS, match=Match.METHOD),
    *rows(Effect.SHAPE_KEEPING_METHOD, SHAPE_KEEPING_METHODS, match=Match.METHOD),
    *rows(Effect.LOG_PROBABILITY_METHOD, LOG_PROBABILITY_METHODS, match=Match.METHOD),
    Row("log", Effect.LOG_METHOD, match=Match.METHOD),
    Row("exp", Effect.EXP_METHOD, match=Match.METHOD),
    Row("forward", Effect.FORWARD_METHOD, match=Match.METHOD),
    Row("to", Effect.MODULE_DTYPE_METHOD, match=Match.METHOD),  # the dtype given, if any
    *(Row(name, Effect.MODULE_DTYPE_METHOD, data=dtype, match=Match.METHOD)
      for name, dtype in MODULE_DTYPE_METHODS.items()),
    *rows(Effect.MODE_SWITCH_METHOD, ("eval", "train"), match=Match.METHOD),
    *rows(Effect.SAME_MODULE_METHOD, SAME_MODULE_METHODS, match=Match.METHOD),
    # A cast only when it names a dtype (`.to(torch.float64)`, `.to(dtype=torch.double)`).
    Row("to", Effect.TO_METHOD, match=Match.METHOD, gate=("float64", "double", "uint8")),
    Row("squeeze", Effect.SQUEEZE_METHOD, match=Match.METHOD),
    *rows(Effect.PASSTHROUGH_METHOD, PASSTHROUGH_METHODS - {"detach", "squeeze"},
          match=Match.METHOD),
    Row("detach", Effect.PASSTHROUGH_METHOD, data="drops the graph", match=Match.METHOD),
    *rows(Effect.CLIPPING_METHOD, CLIPPING_METHODS, match=Match.METHOD),
    *rows(Effect.FLOAT_CAST_METHOD, FLOAT_CASTS, match=Match.METHOD),
    Row("double", Effect.FLOAT64_CAST_METHOD, match=Match.METHOD),
    # They scale only by 255 (`x.div(255)`, `x.mul(1 / 255)`).
    *rows(Effect.SCALING_METHOD, ("div", "div_", "true_divide"), data="divide",
          match=Match.METHOD, gate=("255",)),
    *rows(Effect.SCALING_METHOD, ("mul", "mul_"), data="multiply", match=Match.METHOD,
          gate=("255",)),
    *rows(Effect.COPY_METHOD, ("numpy", "copy", "clone"), match=Match.METHOD),
)

# Calls that join iterables into one, as optimizers are built over several modules' parameters
# (`Adam(itertools.chain(g1.parameters(), g2.parameters()))`): each argument is a source.
ITERABLE_CONCATENATIONS = frozenset({"itertools.chain"})
