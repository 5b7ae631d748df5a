"""The semantic model on its own: which tags an expression carries at a point of the file.

Each source calls `probe(expr)`; the probe visitor runs right after the model in the same walk
(as rules do) and records the tag kinds of `expr` there.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import libcst.matchers
import pytest

from dllint.context import FileContext
from dllint.semantic import catalog
from dllint.semantic.effects import ConflictingRows, Effect, Match, Registry, Row, Stage
from dllint.semantic.imports import ImportMap
from dllint.semantic.model import SemanticModel, analyse
from dllint.semantic.transfer import CALL_HANDLERS, METHOD_HANDLERS
from dllint.semantic.values import LOG_PROBABILITIES, LOSS, MODULE, PROBABILITIES, TUPLE
from dllint.semantic.values import LISTING, RECORDS, UNIT_SCALED
from dllint.semantic.values import FLOAT64, OUT_OF_RANGE, UINT8, UNIT_RANGE, UNSCALED_FLOAT
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


def test_a_call_of_a_partial_is_a_call_of_the_wrapped_callable_with_the_bound_arguments():
    loss, loss_value, norm, activation, softmax, nested, bound_input, unknown = probes("""
        import functools
        from functools import partial
        import torch.nn.functional as F
        from torch import nn

        loss_fn = partial(F.cross_entropy, label_smoothing=0.1)
        probe(loss_fn)
        probe(loss_fn(logits, labels))
        norm = functools.partial(nn.BatchNorm2d, eps=1e-3)
        probe(norm(64))
        probe(partial(nn.GELU, approximate="tanh")())
        softmax = partial(F.softmax, dim=1)
        probe(softmax(logits))
        probe(partial(softmax)(logits))
        probe(partial(F.cross_entropy, logits))
        probe(partial(print, 1)(2))
    """)
    assert LOSS in loss and loss_value == {"loss_value"}
    assert norm == {MODULE} and activation == {MODULE}
    assert softmax == {PROBABILITIES} and nested == {PROBABILITIES}
    assert LOSS not in bound_input  # the prediction itself is bound: no loss left to call
    assert unknown == set()


def test_a_partial_whose_wrapped_name_resolves_back_to_itself_is_expanded_once():
    """`step = make_step()` at module level rebinds the name the inner `partial(step)` wraps:
    read as the global, the partial wraps itself. Its value stops at the cycle (before, the
    expansion recursed until the file was skipped as too deeply nested)."""
    [value] = probes("""
        from functools import partial
        import tensorflow as tf

        def make_step(model, optimizer, clip):
            @tf.function
            def step(x, y, clip):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(model(x) - y))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss
            return partial(step, clip=clip)

        step = make_step(model, optimizer, clip=True)
        for i in range(100):
            probe(step(x, y))
    """)
    assert value == set()


def test_a_partial_of_a_loss_takes_its_prediction_after_the_bound_arguments():
    # The model's own view: the loss tag says where the prediction goes in the partial's call.
    text = textwrap.dedent("""
        from functools import partial
        import keras
        loss_fn = partial(keras.losses.sparse_categorical_crossentropy, labels, from_logits=True)
    """)
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    model = SemanticModel(context)
    walk(module, [model])
    (loss,) = [tag for tag in model.value(module.body[-1].body[0].value) if tag.kind == LOSS]
    # (y_true, y_pred): with the labels bound, the prediction is the call's first argument.
    assert loss.info.argument == 0 and loss.info.wants == "logits"
    assert loss.node is module.body[-1].body[0].value


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


def test_rank1_survives_arithmetic_only_with_operands_of_at_most_one_axis():
    scaled, of_two, with_unknown, with_matrix, whole_shape, length = probes("""
        import numpy as np
        import torch
        v = np.random.randn(5)
        probe(v * 0.1 + 1.0)
        probe(v - np.random.rand(5))
        probe(x + v)
        probe(x @ w + torch.randn(200))
        probe(torch.ones(output.size()))
        probe(torch.ones(output.size(0)))
    """)
    assert RANK1 in scaled and RANK1 in of_two and RANK1 in length
    assert RANK1 not in with_unknown | with_matrix | whole_shape


def test_a_call_that_writes_a_flag_out_gets_only_the_returns_of_that_branch():
    default, off, on_by_position, off_by_position, unknown, negated = probes("""
        import torch

        def head(x, activation=True):
            z = x @ w
            if activation:
                return torch.softmax(z, 1)
            else:
                return z

        def plain(x, logits=False):
            if not logits:
                return torch.softmax(x, 1)
            return x

        probe(head(x))
        probe(head(x, activation=False))
        probe(head(x, True))
        probe(head(x, False))
        probe(head(x, activation=flag))
        probe(plain(x, logits=True))
    """)
    assert PROBABILITIES in default and PROBABILITIES in on_by_position
    assert PROBABILITIES not in off | off_by_position | negated
    assert PROBABILITIES in unknown  # a flag not written out: either branch


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


def test_calls_of_one_definition_do_not_feed_a_redefinition(tmp_path):
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
    settings = build_settings(FileConfig(root=tmp_path), select=["DL002"])
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


def test_a_module_wrapper_is_a_row_that_precedes_the_layer_catch_all(monkeypatch):
    # DataParallel is also a `torch.nn.<Upper>`: the wrapper's row decides first, so the result
    # outputs what the wrapped model does instead of being a bare layer.
    effects = [row.effect for row in catalog.REGISTRY.calls("torch.nn.DataParallel")]
    assert effects == [Effect.MODULE_WRAPPER, Effect.LAYER]
    source = """
        from torch import nn
        import newlib
        probe(nn.DataParallel(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)))(x))
        probe(newlib.Replicate(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)))(x))
    """
    assert probes(source) == [{PROBABILITIES}, set()]
    monkeypatch.setattr(catalog, "REGISTRY", Registry([
        *catalog.ROWS, Row("newlib.Replicate", Effect.MODULE_WRAPPER, keyword="module")]))
    assert probes(source) == [{PROBABILITIES}, {PROBABILITIES}]


def test_a_cast_rows_data_fixes_its_dtype(monkeypatch):
    # `tf.to_float(x)` is a CAST row whose data is the dtype: uint8 pixels become float pixels
    # still in 0-255, as `tf.cast(x, tf.float32)` makes them.
    assert catalog.FIXED_DTYPE_CASTS["tensorflow.to_float"] == "tensorflow.float32"
    assert "tensorflow.to_float" not in catalog.CAST_FUNCTIONS
    source = """
        import tensorflow as tf
        import newlib
        image = tf.io.decode_png(data)
        probe(tf.to_float(image))
        probe(newlib.to_half(image))
    """
    found = probes(source)
    assert UINT8 not in found[0] and UNSCALED_FLOAT in found[0]
    assert found[1] == set()
    monkeypatch.setattr(catalog, "REGISTRY", Registry([
        *catalog.ROWS, Row("newlib.to_half", Effect.CAST, position=-1, data="tensorflow.float16")]))
    assert probes(source)[1] == found[0]


def test_a_stacking_rows_data_says_the_axis_comes_first(monkeypatch):
    source = """
        import cv2
        import newlib
        probe(newlib.join(1, [cv2.imread(a), cv2.imread(b)]))
        probe(newlib.join([cv2.imread(a), cv2.imread(b)], 1))
    """
    monkeypatch.setattr(catalog, "REGISTRY", Registry([
        *catalog.ROWS, Row("newlib.join", Effect.STACKING, keyword="values")]))
    assert probes(source) == [set(), {UINT8}]
    monkeypatch.setattr(catalog, "REGISTRY", Registry([
        *catalog.ROWS, Row("newlib.join", Effect.STACKING, keyword="values",
                           data="axis first")]))
    assert probes(source) == [{UINT8}, {UINT8}]


def test_the_views_of_main_tables_are_computed_from_rows():
    assert catalog.MODULE_COPIES["copy.deepcopy"] == ("x", 0)
    assert catalog.MODULE_COLLECTIONS["torch.nn.ModuleList"] == "nn.ModuleList"
    assert catalog.MODE_DEPENDENT_LAYERS["torch.nn.Dropout"] == catalog.ModeArgument("p", 0, True)
    assert "tensorflow.concat" in catalog.AXIS_FIRST_STACKING
    assert {"torch.clamp", "numpy.clip", "jax.numpy.clip"} <= catalog.CLIPPING_FUNCTIONS
    assert catalog.CLIPPING_METHODS == {"clamp", "clamp_", "clip", "clip_"}
    assert catalog.SHAPED_CONSTRUCTORS["tensorflow.placeholder"] == (1, "shape")
    for table, effect in ((catalog.MODULE_COPIES, Effect.MODULE_COPY),
                          (catalog.MODULE_WRAPPERS, Effect.MODULE_WRAPPER),
                          (catalog.MATMUL, Effect.MATMUL)):
        assert all(catalog.REGISTRY.has(name, effect) for name in table)


def test_star_imports_know_a_name_only_a_row_holds():
    # `torch.autograd.Variable` is in no table rules read, only a NO_OP_WRAPPER row: the star
    # import of torch.autograd still claims it over a later project star import.
    module = cst.parse_module("from torch.autograd import *\nfrom utils import *\n")
    imports = ImportMap.from_module(module)
    assert imports.qualified_name(cst.Name("Variable")) == "torch.autograd.Variable"
    assert imports.qualified_name(cst.Name("Net")) == "utils.Net"


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


def _loop_event_kinds(source: str) -> list[list[str]]:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    model = SemanticModel(FileContext("example.py", text, module, ImportMap.from_module(module)))
    walk(module, [model])
    return [[event[0] for event in loop.events] for loop in model.loop_events.loops]


def test_every_backward_form_is_a_backward_event_of_its_loop():
    """`catalog.BACKWARD_METHODS`: Lightning's `manual_backward` runs a backward pass as
    `loss.backward()`, `accelerator.backward(loss)` and `scaler.scale(loss).backward()` do."""
    assert _loop_event_kinds("""
        for x in a:
            loss.backward()
        for x in b:
            accelerator.backward(loss)
        for x in c:
            scaler.scale(loss).backward()
        for x in d:
            self.manual_backward(loss)
        for x in e:
            self.manual_step(loss)
    """) == [["backward"], ["backward"], ["backward"], ["backward"], []]

class ModuleProbe(Probe):
    """Records, for each `probe(expr)`, the ModuleInfo of the Keras model `expr` holds."""

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            module = next((tag.info for tag in self.model.value(node.args[0].value)
                           if tag.kind == MODULE), None)
            self.seen.append(module)


def module_probes(source: str) -> list:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    made: list[ModuleProbe] = []
    analyse(context, None, lambda model: made.append(ModuleProbe(model)) or [made[-1]])
    return made[-1].seen


def test_keras_models_know_the_layers_that_depend_on_the_training_flag():
    found = module_probes("""
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers
        probe(keras.Sequential([layers.Dense(8), layers.Dropout(0.5), layers.Dense(2)]))
        probe(keras.Sequential([layers.Dense(8), layers.Dense(2)]))
        probe(keras.Sequential([layers.LSTM(8, recurrent_dropout=0.25), layers.Dense(2)]))
        probe(keras.Sequential([layers.LSTM(8, dropout=0.0), layers.Dense(2)]))
        probe(keras.Sequential([layers.Bidirectional(layers.GRU(8, dropout=0.1))]))
        grown = keras.Sequential()
        grown.add(layers.Dense(8))
        grown.add(layers.BatchNormalization())
        probe(grown)
        inputs = keras.Input(shape=(4,))
        hidden = layers.GaussianNoise(0.1)(inputs)
        probe(keras.Model(inputs, layers.Dense(2)(layers.Dense(8)(hidden))))
        probe(keras.Model(inputs, layers.Dense(2)(inputs)))

        class Net(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.norm = layers.BatchNormalization()

            def call(self, x):
                return self.norm(x)

        class Deeper(Net):
            pass

        probe(Net())
        probe(Deeper())
    """)
    assert [info.training_layer for info in found] == [
        "keras.Dropout", "", "keras.LSTM(recurrent_dropout=...)", "", "keras.GRU(dropout=...)",
        "keras.BatchNormalization", "keras.GaussianNoise", "", "keras.BatchNormalization",
        "keras.BatchNormalization"]
    # Keras has no train()/eval(): none of them is mode-dependent in PyTorch's sense.
    assert not any(info.mode_dependent for info in found)
    assert {info.framework for info in found} == {"keras"}


def test_a_subclassed_keras_model_outputs_what_its_call_returns():
    softmax, plain, keras1 = probes("""
        import tensorflow as tf
        from keras.models import Model
        from keras.layers import Dense, Input

        class Classifier(tf.keras.Model):
            def __init__(self):
                super().__init__()
                self.head = tf.keras.layers.Dense(10)

            def call(self, x):
                return tf.nn.softmax(self.head(x))

        class Scorer(tf.keras.layers.Layer):
            def call(self, x):
                return x * 2.0

        probe(Classifier()(images))
        probe(Scorer()(images))
        inputs = Input(shape=(784,))
        probe(Model(input=inputs, output=Dense(10, activation="softmax")(inputs))(images))
    """)
    assert PROBABILITIES in softmax
    assert PROBABILITIES not in plain
    assert PROBABILITIES in keras1  # Keras 1 spelled `outputs=` as `output=`


def test_a_product_with_a_k_by_1_tensorflow_weight_is_a_column():
    from dllint.semantic.values import COLUMN_WEIGHT
    weight, product, operator, transposed, batch, labels, bias = probes("""
        import tensorflow as tf
        W = tf.Variable(tf.truncated_normal([64, 1], stddev=0.1))
        probe(W)
        probe(tf.matmul(hidden, W))
        probe(hidden @ W)
        probe(tf.matmul(hidden, W, transpose_b=True))
        probe(tf.placeholder(tf.float32, [None, 1]))
        probe(tf.placeholder(tf.float32, shape=[None]))
        probe(tf.zeros([1]))
    """)
    assert weight == {COLUMN_WEIGHT}
    assert product == {COLUMN} and operator == {COLUMN}
    assert transposed == set()  # (1, 64) once transposed: no column
    assert batch == set()  # [None, 1] is a column of data, not a weight
    assert labels == {RANK1}
    assert bias == set()  # a (1,) bias broadcasts as meant

def test_a_parameter_shadows_the_module_level_name_it_shares():
    """`image` the parameter is not `image` the module variable: only its call sites and its
    default say what it holds (also for `*args`, `**kwargs` and keyword-only parameters)."""
    plain, starred, keyword_only, passed, outside = probes("""
        import torch
        image = torch.softmax(z, 1)
        args = torch.softmax(z, 1)
        kind = torch.softmax(z, 1)
        probs = torch.softmax(z, 1)

        def show(image):
            probe(image)

        def log(*args, **kwargs):
            probe(args)

        def draw(*, kind=None):
            probe(kind)

        def keep(probs):
            probe(probs)

        show(raw)
        keep(torch.sigmoid(z))
        probe(image)
    """)
    assert plain == set() and starred == set() and keyword_only == set()
    assert PROBABILITIES in passed and PROBABILITIES in outside


def test_a_scaling_under_a_dtype_or_range_test_is_only_maybe_scaled_after_the_if():
    """`if x.max() > 1: x = x / 255` scales only some inputs: after the `if` the pixels are not
    known to be scaled. When every branch scales, or the test is about something else, they
    are."""
    some, ternary, every, other_test = probes("""
        import numpy as np
        a = np.load(path)
        if a.max() > 1:
            a = a / 255.0
        probe(a)
        b = np.load(path)
        probe(b / 255 if b.dtype == np.uint8 else b)
        c = np.load(path)
        if c.dtype == np.uint8:
            c = c / 255.0
        else:
            c = c.astype(np.float32) / 255.0
        probe(c)
        d = np.load(path)
        if augment:
            d = d / 255.0
        probe(d)
    """)
    assert UNIT_SCALED not in some and UNIT_SCALED not in ternary
    assert UNIT_SCALED in every and UNIT_SCALED in other_test


def test_a_lambda_times_255_after_to_tensor_undoes_its_scaling():
    undone, kept, before = probes("""
        import torchvision.transforms as T
        probe(T.Compose([T.ToTensor(), T.Lambda(lambda x: x.mul(255))])(picture))
        probe(T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2 - 1)])(picture))
        probe(T.Compose([T.Lambda(lambda x: x * 255), T.ToTensor()])(picture))
    """)
    assert UNIT_SCALED not in undone and UNIT_SCALED in kept and UNIT_SCALED in before


def test_a_sigmoid_written_out_is_probabilities():
    numpy_form, method_form, helper, positive, doubled = probes("""
        import numpy as np
        import torch

        def sigmoid(z):
            return 1.0 / (np.exp(-z) + 1)

        probe(1 / (1 + np.exp(-x)))
        probe(1 / (1 + (-t).exp()))
        probe(sigmoid(x))
        probe(1 / (1 + np.exp(x)))
        probe(2 / (1 + torch.exp(-t)))
    """)
    assert PROBABILITIES in numpy_form and PROBABILITIES in method_form
    assert PROBABILITIES in helper
    assert positive == set() and doubled == set()


def test_unit_range_is_the_value_as_it_is_now_and_out_of_range_pixels_until_a_cast():
    scaled, stretched, back, clipped_cast, bright, dim, cast_back, canvas, floats = probes("""
        import cv2
        import numpy as np
        image = cv2.imread(path)
        probe(image / 255.0)
        probe(image / 255.0 * 2 - 1)
        probe(255 * (image / 255.0))
        probe((image / 255.0).astype(np.uint8))
        probe(image * 1.2)
        probe(image * 0.5)
        probe((image * 1.2).astype(np.uint8))
        probe(np.zeros((4, 4), np.uint8))
        probe(np.zeros((4, 4)))
    """)
    assert {UNIT_SCALED, UNIT_RANGE} <= scaled
    assert UNIT_SCALED in stretched and UNIT_RANGE not in stretched
    assert UNIT_SCALED not in back and UNIT_RANGE not in back
    assert UNIT_RANGE not in clipped_cast
    assert OUT_OF_RANGE in bright and FLOAT64 in bright and UINT8 not in bright
    assert OUT_OF_RANGE not in dim and FLOAT64 in dim
    assert OUT_OF_RANGE not in cast_back and UINT8 in cast_back
    assert UINT8 in canvas and FLOAT64 not in canvas and FLOAT64 in floats


def test_uint8_pixels_cast_to_float_stay_pixels_that_arithmetic_can_push_out_of_range():
    brightened, scaled_first, not_pixels = probes("""
        import cv2
        import numpy as np
        image = cv2.imread(path).astype(np.float32)
        probe(image * gain + 20.0)
        probe((image / 255.0).astype(np.float32) + 0.5)
        probe(np.random.rand(4).astype(np.float32) + 20.0)
    """)
    assert OUT_OF_RANGE in brightened
    assert OUT_OF_RANGE not in scaled_first and OUT_OF_RANGE not in not_pixels


def test_clipping_keeps_what_a_value_is_and_brings_pixels_back_in_range():
    probabilities, method, pixels, unclipped = probes("""
        import numpy as np
        import torch
        from torchvision.io import read_image
        probe(np.clip(torch.sigmoid(z).numpy(), 1e-7, 1 - 1e-7))
        probe(torch.softmax(z, 1).clamp(min=1e-8))
        probe((read_image(path).float() * 1.3).clamp(0, 255))
        probe(read_image(path).float() * 1.3)
    """)
    assert PROBABILITIES in probabilities and PROBABILITIES in method
    assert OUT_OF_RANGE not in pixels and OUT_OF_RANGE in unclipped


def test_wrappers_output_what_the_wrapped_module_outputs():
    seen = probes("""
        import torch
        from torch import nn
        from torch.nn.parallel import DistributedDataParallel as DDP
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        net = nn.Sequential(nn.Linear(4, 3), nn.Softmax(1))
        probe(torch.compile(net)(x))
        probe(nn.DataParallel(net)(x))
        probe(DDP(net, device_ids=[0])(x))
        probe(FSDP(module=net)(x))
        probe(torch.compile(lambda x: x))
    """)
    assert seen[:4] == [{PROBABILITIES}] * 4
    assert seen[4] == set()  # a compiled function is no module


def test_method_return_values_inside_and_outside_the_class():
    seen = probes("""
        import torch
        from torch import nn

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = self.build()  # build comes later in the class

            def build(self):
                return nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))

            def forward(self, x):
                probe(self.net(x))
                probe(self.parameters())  # not a method of the class: library meaning
                return self.net(x)

        class Head:
            def predict(self, x):
                return torch.softmax(x, 1)

            def features(self, x):
                return x

        head = Head()
        probe(head.predict(x))
        probe(head.features(x))
        probe(Classifier()(x))
    """)
    assert seen == [{PROBABILITIES}, set(), {PROBABILITIES}, set(), {PROBABILITIES}]


def test_a_later_method_is_unknown_without_the_flow_walks():
    source = """
        from torch import nn

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                probe(self.build())

            def build(self):
                return nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
    """
    assert probes(source, flow=False) == [set()]
    assert probes(source) == [{MODULE}]


def test_attributes_read_outside_the_class_and_inherited():
    seen = probes("""
        from torch import nn

        class Base:
            def __init__(self):
                self.criterion = nn.BCEWithLogitsLoss()

        class Trainer(Base):
            def __init__(self, lr):
                super().__init__()
                self.model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
                self.lr = lr

        trainer = Trainer(0.1)
        probe(trainer.model(x))
        probe(trainer.criterion)
        probe(trainer.lr)
        probe(trainer.unknown)
    """)
    assert seen[0] >= {PROBABILITIES, COLUMN}
    assert seen[1:] == [{LOSS}, set(), set()]


def test_star_imports_resolve_names_the_file_binds_nowhere():
    seen = probes("""
        from keras.models import *
        from keras.layers import *
        from torch.nn.functional import *

        model = Sequential([Dense(64, activation="relu"), Dense(1)])
        probe(model(x))
        probe(softmax(z, dim=1))

        def helper(sigmoid):
            probe(sigmoid(z))  # a parameter, not the star-imported function

        probe(len(z))
    """)
    assert seen == [{COLUMN}, {PROBABILITIES}, set(), set()]


def test_star_import_resolution():
    from dllint.semantic.imports import ImportMap

    def resolve(source: str, name: str) -> str | None:
        module = cst.parse_module(textwrap.dedent(source))
        return ImportMap.from_module(module).qualified_name(cst.Name(name))

    layers_last = "from keras.models import *\nfrom keras.layers import *\n"
    # A table keys `keras.models.Sequential` exactly: that beats the later layers' prefix.
    assert resolve(layers_last, "Sequential") == "keras.models.Sequential"
    assert resolve(layers_last, "Dense") == "keras.layers.Dense"
    # A name no table knows is the project's: `from utils import *` after a library's star.
    assert resolve("from torch.nn import *\nfrom utils import *\n", "Net") == "utils.Net"
    assert resolve("from .utils import *\n", "Net") == ".utils.Net"
    # Builtins and names bound in the file stay what they were.
    assert resolve("from utils import *\n", "len") == "builtins.len"
    assert resolve("from utils import *\nfor Net in nets: pass\n", "Net") is None
    assert resolve("import utils\n", "Net") is None


def test_closures_read_the_enclosing_functions_names_unless_hidden():
    seen = probes("""
        import torch
        from torch import nn

        def make_step(model, criterion):
            def step(x, y):
                probe(model(x))
                probe(criterion)
            return step

        step = make_step(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)), nn.CrossEntropyLoss())

        def outer():
            scores = torch.softmax(z, 1)
            def hidden(scores, *args):
                probe(scores)  # its own parameter, whatever its callers pass
            def reads():
                probe(scores)
    """)
    assert seen == [{PROBABILITIES}, {LOSS}, set(), {PROBABILITIES}]


def test_lambdas_closures_and_function_references_are_functions_held_as_values():
    seen = probes("""
        import torch
        import torch.nn.functional as F

        head = lambda scores: torch.softmax(scores, dim=-1)
        probe(head(z))

        x = F.softmax(z, 1)
        identity = lambda x: x  # its parameter hides the module's x
        probe(identity(z))
        probe(x)

        def compute(scores):
            return F.softmax(scores, dim=-1)

        class Trainer:
            def __init__(self):
                self.head = lambda s: s.log_softmax(-1)
                self.compute = compute  # a function of the file, held as a value

            def step(self, logits):
                probe(self.head(logits))
                probe(self.compute(logits))
                def scores():
                    return logits.softmax(-1)
                probe(scores())
                def nothing():
                    return logits
                probe(nothing())

        def outer():
            x = torch.softmax(z, 1)
            def x():  # a nested def hides the enclosing binding of its name
                pass
            probe(x)
    """)
    assert seen == [{PROBABILITIES}, set(), {PROBABILITIES}, {LOG_PROBABILITIES},
                    {PROBABILITIES}, {PROBABILITIES}, set(), set()]


def test_nested_lists_and_lists_handed_to_a_helper():
    seen = probes("""
        import cv2
        import numpy as np

        def to_batch(images):
            return np.stack(images)

        images = [cv2.imread(p) for p in paths]
        probe(to_batch(images))
        grid = [[cv2.imread(p) for p in row] for row in rows]
        probe(np.array(grid))
        probe(np.array([[cv2.imread(a), cv2.imread(b)]]))
        for row in grid:
            probe(np.stack(row))
        probe(np.array([[a / 255 for a in row] for row in grid]))
    """)
    assert seen[:4] == [{UINT8}] * 4
    assert UNIT_SCALED in seen[4] and UINT8 not in seen[4]  # scaled: float64 in [0, 1]


def test_loop_events_of_methods_are_where_they_are_called():
    text = textwrap.dedent("""
        class Trainer:
            def train_step(self, x, y):
                criterion(self.model(x), y).backward()
                self.optimizer.step()

            def fit(self, loader):
                for x, y in loader:
                    self.train_step(x, y)

        trainer = Trainer()
        for x, y in loader:
            trainer.train_step(x, y)
            trainer.unknown_method(x)
    """).lstrip("\\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    model = analyse(context, None, lambda model: [])
    for loop in model.loop_events.loops:
        assert [event[0] for event in model.loop_events.expand(loop.events)] == ["backward", "step"]
    calls = cst.matchers.findall(module, cst.matchers.Call())
    methods = [key for key in map(model.loop_events.local_callee, calls) if key and "." in key]
    assert methods == ["Trainer.train_step"] * 2  # not `unknown_method`: no such method


def test_the_module_a_wrapper_holds():
    seen = probes("""
        import torch
        from torch import nn

        net = nn.Sequential(nn.Linear(4, 3), nn.Softmax(1))
        ddp = nn.parallel.DistributedDataParallel(net)
        probe(ddp.module(x))
        probe(torch.compile(net)._orig_mod(x))
        probe(net.module)  # no wrapper: an attribute nn.Sequential does not have
    """)
    assert seen == [{PROBABILITIES}, {PROBABILITIES}, set()]


def _model_of(source: str) -> SemanticModel:
    text = textwrap.dedent(source).lstrip("\n")
    module = cst.parse_module(text)
    context = FileContext("example.py", text, module, ImportMap.from_module(module))
    return analyse(context, None, lambda model: [])



def test_a_method_called_on_self_brings_its_loop_events_to_the_caller():
    model = _model_of("""
        class Trainer:
            def reset(self):
                self.optimizer.zero_grad()

            def update(self, loss):
                loss.backward()
                self.optimizer.step()

            def fit(self, loader):
                for x, y in loader:
                    self.reset()
                    self.update(self.criterion(self.model(x), y))
                    self.log(x)

        class Other:
            def update(self, loss):
                pass
    """)
    assert [event[0] for event in model.loop_events.function_events["Trainer.update"]] == ["backward", "step"]
    (loop,) = model.loop_events.loops
    # `self.log` is no method of Trainer: nothing to expand; Other.update is another class's.
    assert [event[0] for event in model.loop_events.expand(loop.events)] == ["zero_grad", "backward", "step"]



def test_self_calls_in_a_nested_class_or_function_are_not_the_outer_class_methods():
    model = _model_of("""
        def build():
            class Local:
                def step_all(self):
                    self.optimizer.step()

                def fit(self, loader):
                    for batch in loader:
                        self.step_all()
            return Local
    """)
    assert "Local.step_all" not in model.loop_events.function_events
    (loop,) = model.loop_events.loops
    assert [event[0] for event in model.loop_events.expand(loop.events)] == []


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
    epoch_loop = next(loop for loop in model.loop_events.loops if code(loop.node).strip().startswith("for epoch"))
    switch = next(event for event in model.loop_events.expand(epoch_loop.events) if event[0] == "eval")
    assert (code(switch[1]), code(switch[2])) == ("set_eval(model)", "net.eval()")



def test_tensorflow_convert_image_dtype_of_a_parameter_follows_its_callers():
    # TF's convert_image_dtype scales integer images only: a parameter no caller describes
    # is not claimed scaled, one a caller hands decoded uint8 pixels is, and one handed
    # resized (float) pixels is kept as it is.
    source = """
        import tensorflow as tf

        def unknown(image):
            probe(tf.image.convert_image_dtype(image, tf.float32))

        def from_uint8(image):
            probe(tf.image.convert_image_dtype(image, tf.float32))

        def from_float(image):
            probe(tf.image.convert_image_dtype(image, tf.float32))

        decoded = tf.io.decode_png(tf.io.read_file(path))
        from_uint8(decoded)
        from_float(tf.image.resize(decoded, (64, 64)))
        probe(tf.image.convert_image_dtype(decoded, tf.float32))
    """
    unknown, from_uint8, from_float, direct = probes(source)
    assert UNIT_SCALED not in unknown
    assert UNIT_SCALED in from_uint8 and UNIT_SCALED in direct
    assert UNIT_SCALED not in from_float


def test_an_optimizer_over_chained_parameters_is_owned_by_each_module():
    model = _model_of("""
        import itertools
        import torch

        optimizer = torch.optim.Adam(itertools.chain(g_ab.parameters(), g_ba.parameters()))
        solo = torch.optim.Adam(chain(d.parameters()))
        for batch in loader:
            optimizer.step()
            solo.step()
    """)
    (loop,) = model.loop_events.loops
    owners = [event[3] for event in loop.events if event[0] == "step"]
    # `chain` not imported from itertools is some other function: nothing is known of it.
    assert owners == [frozenset({"g_ab", "g_ba"}), frozenset()]



def test_a_helper_that_hands_back_its_parameter_passes_the_module_through():
    source = """
        import torch
        from torch import nn

        def layer_init(layer, std=1.0):
            torch.nn.init.orthogonal_(layer.weight, std)
            return layer

        def pick(first, second):
            if flag:
                return first
            return second

        def width(layer):
            return layer.out_features

        probe(layer_init(nn.Linear(4, 4)))
        probe(pick(nn.Linear(4, 4), nn.ReLU()))
        probe(width(nn.Linear(4, 4)))
    """
    handed_back, chosen, measured = probes(source)
    assert MODULE in handed_back
    # Returns of two parameters, or of something else than the parameter: no pass-through.
    assert MODULE not in chosen and MODULE not in measured


def test_a_values_tags_are_chosen_the_same_way_in_every_run():
    """A value is a set of tags, and a set of tags holding syntax nodes iterates in memory-address
    order: `first` and `tags` must not depend on it (DL003's "first scaled here" changed between
    runs). Fresh nodes at fresh addresses, every time the same choice."""
    from dllint.semantic.values import Tag, first, tags

    chosen, listed = set(), set()
    for _ in range(30):
        nodes = [cst.parse_expression(text) for text in ("image / 255", "pixels / 255.0",
                                                         "batch * (1 / 255)")]
        value = frozenset(Tag("unit-scaled", node, "a division by 255") for node in nodes)
        code = cst.Module(body=[]).code_for_node
        chosen.add(code(first(value, "unit-scaled").node))
        listed.add(tuple(code(tag.node) for tag in tags(value, "unit-scaled")))
    assert chosen == {"batch * (1 / 255)"}
    assert len(listed) == 1
