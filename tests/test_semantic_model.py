"""The semantic model on its own: which tags an expression carries at a point of the file.

Each source calls `probe(expr)`; the probe visitor runs right after the model in the same walk
(as rules do) and records the tag kinds of `expr` there.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from dllint.context import FileContext
from dllint.semantic import catalog
from dllint.semantic.effects import ConflictingRows, Effect, Match, Registry, Row, Stage
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.transfer import CALL_HANDLERS, METHOD_HANDLERS
from dllint.semantic.values import LOG_PROBABILITIES, LOSS, MODULE, PROBABILITIES, TUPLE
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


# ---- the effect rows (dllint/semantic/effects.py) ----------------------------------------------

def test_a_name_given_two_exclusive_effects_is_refused():
    with pytest.raises(ConflictingRows):
        Registry([Row("lib.activate", Effect.PROBABILITIES, "softmax"),
                  Row("lib.activate", Effect.LOG_PROBABILITIES)])


def test_one_effect_given_twice_with_different_parameters_is_refused():
    with pytest.raises(ConflictingRows):
        Registry([Row("lib.Dense", Effect.COLUMN_LAYER, position=0, keyword="units"),
                  Row("lib.Dense", Effect.COLUMN_LAYER, position=1, keyword="units")])


def test_a_names_rows_come_in_the_effects_declared_order():
    # A row repeated as it was is no conflict (two tables listing one name).
    registry = Registry([Row("lib.sigmoid", Effect.SHAPE_KEEPING),
                         Row("lib.sigmoid", Effect.PROBABILITIES, "sigmoid"),
                         Row("lib.sigmoid", Effect.SHAPE_KEEPING)])
    assert [row.effect for row in registry.calls("lib.sigmoid")] == [
        Effect.PROBABILITIES, Effect.SHAPE_KEEPING]


def test_a_prefix_row_covers_the_names_its_conditions_allow():
    layer = Row("torch.nn.", Effect.LAYER, match=Match.PREFIX, capitalised=True, dots=2,
                excluding=("torch.nn.Parameter",))
    linear = Row("torch.nn.Linear", Effect.COLUMN_LAYER, position=1, keyword="out_features")
    registry = Registry([layer, linear])
    assert registry.calls("torch.nn.Linear") == (linear, layer)
    assert registry.calls("torch.nn.Embedding") == (layer,)
    assert registry.calls("torch.nn.UninitializedBuffer") == (layer,)
    assert registry.calls("torch.nn.ParameterList") == ()
    assert registry.calls("torch.nn.functional.relu") == ()
    assert registry.calls("torch.nn.init") == ()


def test_every_dispatched_row_has_a_handler_for_its_effect():
    for row in catalog.ROWS:
        handlers = METHOD_HANDLERS if row.effect.stage is Stage.METHOD else CALL_HANDLERS
        assert row.effect in handlers, row


def test_a_library_function_is_one_row(monkeypatch):
    source = """
        import newlib
        probe(newlib.activations.softmax(logits))
        probe(newlib.activations.log_softmax(logits))
    """
    assert probes(source) == [set(), set()]
    monkeypatch.setattr(catalog, "REGISTRY", Registry([
        *catalog.ROWS, Row("newlib.activations.softmax", Effect.PROBABILITIES, "softmax"),
        Row("newlib.activations.log_softmax", Effect.LOG_PROBABILITIES)]))
    assert probes(source) == [{PROBABILITIES}, {LOG_PROBABILITIES}]


def test_a_keras_softmax_layer_is_a_probability_layer_before_it_is_a_keras_layer():
    assert [row.effect for row in catalog.REGISTRY.calls("keras.layers.Softmax")] == [
        Effect.PROBABILITY_LAYER, Effect.KERAS_LAYER]
    assert probes("""
        from tensorflow import keras
        probe(keras.layers.Softmax()(scores))
    """) == [{PROBABILITIES}]


def test_a_row_gates_files_on_the_text_every_use_of_it_contains():
    # A function's own name; a prefix's longest segment, which every import of it names ("torch"
    # rather than "nn", a substring of everyday words); a row's declared gate where its name is
    # too common.
    assert Row("numpy.random.randn", Effect.RANK1_CONSTRUCTOR).tokens == ("randn",)
    assert Row("torch.nn.", Effect.LAYER, match=Match.PREFIX).tokens == ("torch",)
    assert Row("transformers.", Effect.SCHEDULER, match=Match.PREFIX,
               last_contains="schedule").tokens == ("schedule",)
    assert Row("to", Effect.TO_METHOD, match=Match.METHOD, gate=("float64",)).tokens == (
        "float64",)
