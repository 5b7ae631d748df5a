"""The semantic model on its own: which tags an expression carries at a point of the file.

Each source calls `probe(expr)`; the probe visitor runs right after the model in the same walk
(as rules do) and records the tag kinds of `expr` there.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst

from dllint.context import FileContext
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.values import LOSS, MODULE, PROBABILITIES, TUPLE
from dllint.semantic.values import LISTING, RECORDS
from dllint.semantic.values import AXIS_DROPPED, COLUMN, RANK1, SINGLE_CHANNEL
from dllint.walk import CachedVisitorNames, walk


class Probe(CachedVisitorNames, cst.BatchableCSTVisitor):
    def __init__(self, model: SemanticModel) -> None:
        super().__init__()
        self.model = model
        self.seen: list[set[str]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.seen.append({tag.kind for tag in self.model.value(node.args[0].value)})


def probes(source: str, *, flow: bool = True) -> list[set[str]]:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    if not flow:  # one walk, no hints: what the model knew before value flow
        model = SemanticModel(context)
        probe = Probe(model)
        walk(module, [model, probe])
        return probe.seen
    made: list[Probe] = []
    analyse(context, None, lambda model: made.append(Probe(model)) or [made[-1]])
    return made[-1].seen  # the last walk is the one that stands


FIT = """
    import torch.nn.functional as F
    from torch import nn

    def fit(model, criterion):
        probe(model)
        probe(criterion)
        probe(model(x))

    fit(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)), nn.CrossEntropyLoss())
"""


def test_call_sites_bind_parameters():
    model, criterion, output = probes(FIT)
    assert MODULE in model and LOSS in criterion and PROBABILITIES in output


def test_without_the_flow_walks_parameters_are_unknown():
    assert probes(FIT, flow=False) == [set(), set(), set()]


def test_several_hops():
    [seen] = probes("""
        import torch
        def inner(p):
            probe(p)
        def middle(p):
            inner(p)
        def outer(p):
            middle(p)
        outer(torch.softmax(z, 1))
    """)
    assert PROBABILITIES in seen


def test_constructor_and_setter_injection_reach_attributes():
    constructed, injected = probes("""
        from torch import nn
        class Trainer:
            def __init__(self, criterion):
                self.criterion = criterion
            def step(self):
                probe(self.criterion)
                probe(self.extra)
            def set_extra(self, loss):
                self.extra = loss
        trainer = Trainer(nn.CrossEntropyLoss())
        trainer.set_extra(nn.BCEWithLogitsLoss().cuda())
    """)
    assert LOSS in constructed and LOSS in injected


def test_default_parameter_values():
    [seen] = probes("""
        from torch import nn
        def train(model, loss=nn.CrossEntropyLoss()):
            probe(loss)
    """)
    assert LOSS in seen


def test_self_call_is_the_modules_own_forward_even_before_forward_is_defined():
    [seen] = probes("""
        import torch
        from torch import nn
        class Net(nn.Module):
            def predict(self, x):
                probe(self(x))
            def forward(self, x):
                return torch.softmax(x, 1)
    """)
    assert PROBABILITIES in seen


def test_tuples_unpack_and_index_by_position():
    whole, first, second, indexed = probes("""
        import torch
        pair = (logits, torch.sigmoid(logits))
        probe(pair)
        a, b = pair
        probe(a)
        probe(b)
        probe(pair[-1])
    """)
    assert whole == {TUPLE} and first == set() and PROBABILITIES in second
    assert PROBABILITIES in indexed


def test_branches_merge_and_leaving_branches_do_not():
    merged, left_early = probes("""
        import torch
        out = logits
        if calibrated:
            out = torch.softmax(logits, 1)
        probe(out)
        result = logits
        if debug:
            result = torch.softmax(logits, 1)
            return result
        probe(result)
    """)
    assert PROBABILITIES in merged and PROBABILITIES not in left_early


def test_else_branch_replaces_not_accumulates():
    [seen] = probes("""
        import torch
        if a:
            out = torch.softmax(z, 1)
        else:
            out = z
        out = z
        probe(out)
    """)
    assert seen == set()


def test_rows_of_a_tensor_and_exp_of_log_softmax():
    row, exp = probes("""
        import torch
        import torch.nn.functional as F
        for row in F.softmax(z, 1):
            probe(row)
        probe(torch.exp(F.log_softmax(z, 1)))
    """)
    assert PROBABILITIES in row and PROBABILITIES in exp


def test_single_channel_outputs_and_activations_that_keep_them():
    sequential, wide, column, through_forward, squeezed, viewed = probes("""
        import torch
        from torch import nn
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.out = nn.Conv2d(32, 1, kernel_size=1)
                self.act = nn.Sigmoid()
            def forward(self, x):
                return self.act(self.out(x))
        segmenter = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 1, 1))
        probe(segmenter(x))
        probe(nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 4, 1))(x))
        probe(nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())(x))
        probe(Head()(x))
        probe(segmenter(x).squeeze(1))
        probe(segmenter(x).view(-1, 1))
    """)
    assert SINGLE_CHANNEL in sequential and SINGLE_CHANNEL not in wide
    assert {COLUMN, PROBABILITIES} <= column and SINGLE_CHANNEL in through_forward
    assert SINGLE_CHANNEL not in squeezed and AXIS_DROPPED in squeezed
    assert SINGLE_CHANNEL not in viewed


def test_axis_dropped_by_an_integer_column_index_or_a_squeeze():
    seen = probes("""
        import numpy as np
        import torch
        probe(y[:, 0])
        probe(masks[:, -1, ...])
        probe(torch.squeeze(masks, 1))
        probe(np.squeeze(masks))
        probe(y.squeeze(dim=-1))
        probe(y[:, 0:1])
        probe(y[:, 0].unsqueeze(1))
        probe(y[:, 0].view(-1, 1))
        probe(y[:, 0, None])
        probe(y[0])
        probe(y[:, 0, 1])
        probe(y[:, i])
    """)
    assert all(AXIS_DROPPED in tags for tags in seen[:5])
    assert not any(AXIS_DROPPED in tags for tags in seen[5:])


def test_indexing_transposing_and_reshaping_a_column_or_a_rank1_array():
    indexed, transposed, viewed_as, sliced, reshaped, element = probes("""
        import numpy as np
        from torch import nn
        model = nn.Linear(8, 1)
        probe(model(x)[:, 0])
        probe(model(x).T)
        probe(model(x).view_as(y))
        probe(model(x)[:32])
        probe(np.reshape(np.random.randn(5), (-1, 1)))
        probe(np.random.randn(5)[0])
    """)
    assert COLUMN not in indexed | transposed | viewed_as and COLUMN in sliced
    assert RANK1 not in reshaped | element


def test_first_step_of_a_walk_lists_the_top_directory():
    indexed, unpacked, root, ordered, other = probes("""
        import os
        probe(next(os.walk(top))[1])
        _, dirs, files = next(os.walk(top))
        probe(dirs)
        probe(next(os.walk(top))[0])
        probe(sorted(next(os.walk(top))[1]))
        probe(next(iter(names))[1])
    """)
    assert LISTING in indexed and LISTING in unpacked and LISTING in ordered
    assert LISTING not in root and LISTING not in other


def test_rows_read_from_a_file_stay_records():
    loaded, column, row, values, listed, built = probes("""
        import numpy as np
        import pandas as pd
        probe(np.load("labels.npy"))
        frame = pd.read_csv("labels.csv")
        probe(frame["label"])
        probe(frame.iloc[3])
        probe(frame["label"].values)
        probe(frame["label"].tolist())
        probe(pd.DataFrame({"file": names}))
    """)
    assert all(RECORDS in seen for seen in (loaded, column, row, values, listed))
    assert RECORDS not in built


def test_dtype_and_scale_through_lists_helpers_and_stacking():
    from dllint.semantic.values import ELEMENTS, UINT8, UNIT_SCALED
    stacked, appended, indexed, looped, repeated, unleaked, resized = probes("""
        import cv2
        import numpy as np
        import torch

        def load(path):
            return cv2.imread(path) / 255.0

        probe(np.stack([load(path) for path in paths]))
        frames = []
        for path in paths:
            frames.append(cv2.imread(path))
        probe(torch.cat(frames))
        probe(frames[0])
        for frame in frames:
            probe(frame)
        probe([cv2.imread(path)] * 3)
        image = cv2.imread(path)
        probe([image + 1 for image in raw])
        probe(cv2.cvtColor(cv2.resize(image, (224, 224)), cv2.COLOR_BGR2RGB))
    """)
    assert UNIT_SCALED in stacked
    assert UINT8 in appended and UINT8 in indexed and UINT8 in looped and UINT8 in resized
    # A list of images is not itself uint8: `[image] * 3` repeats it, nothing wraps.
    assert UINT8 not in repeated and ELEMENTS in repeated
    # The comprehension's `image` is an element of `raw` (unknown), not the uint8 `image` outside.
    assert ELEMENTS not in unleaked


def test_albumentations_pipeline_scales_the_image_entry_only():
    from dllint.semantic.values import UINT8, UNIT_SCALED
    image, mask, unscaled, plain = probes("""
        import albumentations as A
        import cv2
        from albumentations.pytorch import ToTensorV2
        transform = A.Compose([A.Resize(224, 224), A.Normalize(), ToTensorV2()])
        augmented = transform(image=cv2.imread(path), mask=cv2.imread(mask_path, 0))
        probe(augmented["image"])
        probe(augmented["mask"])
        same = A.Compose([A.Normalize(mean=0, std=1, max_pixel_value=1.0)])
        probe(same(image=cv2.imread(path))["image"])
        probe(A.Compose([A.HorizontalFlip()])(image=cv2.imread(path))["image"])
    """)
    assert UNIT_SCALED in image and UINT8 not in image
    assert not mask
    assert UNIT_SCALED not in unscaled and UNIT_SCALED not in plain and UINT8 in plain


def test_calls_of_one_definition_do_not_feed_a_redefinition():
    # A notebook redefines `cross_entropy`: the first one takes probabilities, the second
    # logits; the first one's call site must not reach the second one's parameter.
    source = '''
import tensorflow as tf

def cross_entropy(y_pred, y_true):
    return tf.reduce_mean(-tf.reduce_sum(y_true * tf.math.log(y_pred)))

loss = cross_entropy(tf.nn.softmax(logits), labels)

def cross_entropy(x, y):
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)

loss = cross_entropy(model(images), labels)
'''
    from dllint.config import FileConfig, build_settings
    from dllint.runner import lint_text
    settings = build_settings(FileConfig(root=Path.cwd()), select=["DL002"])
    assert lint_text(source, "notebook.py", settings).diagnostics == ()


class ModeProbe(Probe):
    """Records whether the module `probe(expr)` names behaves differently in train and eval
    mode (True, False, or None when its layers are not visible)."""

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            module = next(tag for tag in self.model.value(node.args[0].value)
                          if tag.kind == MODULE)
            self.seen.append(module.info.mode_dependent)


def module_modes(source: str) -> list[bool | None]:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    made: list[ModeProbe] = []
    analyse(context, None, lambda model: made.append(ModeProbe(model)) or [made[-1]])
    return made[-1].seen


def test_a_layers_arguments_decide_whether_its_modes_differ():
    assert module_modes("""
        from torch import nn
        probe(nn.InstanceNorm2d(8))
        probe(nn.InstanceNorm2d(8, affine=True, track_running_stats=True))
        probe(nn.InstanceNorm1d(8, 1e-5, 0.1, False, True))
        probe(nn.BatchNorm2d(8, track_running_stats=False))
        probe(nn.BatchNorm2d(8))
        probe(nn.Dropout(p=0.0))
        probe(nn.Dropout(0))
        probe(nn.Dropout(rate))
        probe(nn.LSTM(32, 64))
        probe(nn.LSTM(32, 64, num_layers=2, dropout=0.2))
        probe(nn.GRU(32, 64, dropout=hparams.dropout))
        probe(nn.TransformerEncoderLayer(64, 4))
        probe(nn.TransformerEncoderLayer(64, 4, dropout=0.0))
        probe(nn.MultiheadAttention(64, 4))
        probe(nn.RNN(32, 64, 2, "tanh", True, False, 0.3))
        probe(nn.LSTM(32, 64, 2, True, False, 0.0))
    """) == [False, True, True, False, True, False, False, True, False, True, None, True, False,
             False, True, False]


def test_module_collections_take_the_mode_of_their_members():
    assert module_modes("""
        from torch import nn

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.drop = nn.Dropout(0.1)

            def forward(self, x):
                return self.drop(x)

        probe(nn.ModuleList([nn.Linear(8, 8), nn.Dropout(0.1)]))
        probe(nn.ModuleList([Block() for _ in range(4)]))
        probe(nn.ModuleDict({"head": nn.Sequential(nn.Linear(8, 2), nn.BatchNorm1d(2))}))
        probe(nn.ModuleDict({name: nn.Linear(8, 2) for name in heads}))
        probe(nn.ModuleList([nn.Linear(8, 8), nn.ReLU()]))
        probe(nn.ModuleList(layers))
        grown = nn.ModuleList()
        probe(grown)
        grown.append(Block())
        probe(grown)
    """) == [True, True, True, False, False, None, False, True]


class OriginProbe(Probe):
    """Records where each module `probe(expr)` names was made, as source text."""

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            code = self.model.context.module.code_for_node
            self.seen.append({code(tag.node) for tag in self.model.value(node.args[0].value)
                              if tag.kind == MODULE})


def test_a_copy_of_a_module_is_a_module_of_its_own():
    text = textwrap.dedent("""
        import copy
        from torch import nn
        from torch.optim.swa_utils import AveragedModel
        net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
        ema = copy.deepcopy(net)
        probe(net)
        probe(ema)
        probe(AveragedModel(net))
        probe(copy.deepcopy(config))
    """).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    made: list[OriginProbe] = []
    analyse(context, None, lambda model: made.append(OriginProbe(model)) or [made[-1]])
    assert made[-1].seen == [{"nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))"},
                             {"copy.deepcopy(net)"}, {"AveragedModel(net)"}, set()]
    assert module_modes("""
        import copy
        from torch import nn
        probe(copy.deepcopy(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))))
    """) == [True]


def _analysed(source: str) -> SemanticModel:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    return analyse(context, None, lambda model: [])


def test_a_pretrained_hugging_face_model_comes_back_in_eval_mode():
    model = _analysed("""
        import transformers
        from transformers import AutoModelForCausalLM
        pretrained = AutoModelForCausalLM.from_pretrained("gpt2")
        configured = transformers.AutoModelForCausalLM.from_config(config)
    """)
    in_eval = {name: next(tag for tag in model.lookup(name) if tag.kind == MODULE).info.in_eval
               for name in ("pretrained", "configured")}
    assert in_eval == {"pretrained": True, "configured": False}


def test_loop_events_carry_the_mode_switch_a_helper_makes():
    model = _analysed("""
        def set_eval(net):
            net.eval()

        for epoch in range(3):
            for x in loader:
                loss(model(x)).backward()
            set_eval(model)
    """)
    code = model.context.module.code_for_node
    epoch_loop = next(loop for loop in model.loops if code(loop.node).strip().startswith("for epoch"))
    switch = next(event for event in model.expand(epoch_loop.events) if event[0] == "eval")
    assert (code(switch[1]), code(switch[2])) == ("set_eval(model)", "net.eval()")
