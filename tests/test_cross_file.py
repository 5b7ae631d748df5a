"""A model defined in one file and trained or evaluated in another is still judged correctly,
and the cache stays correct when only one of the files changes."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from dllint.config import FileConfig, build_settings
from dllint.runner import run
from dllint.semantic.project import summarise, wants_summary
from dllint.semantic.values import LOSS, PROBABILITIES

MODEL_WITH_SOFTMAX = '''
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        return F.softmax(self.fc(self.drop(x)), dim=1)


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(x)
'''
TRAIN = '''
from torch import nn
from model import Net

net = Net()
criterion = nn.CrossEntropyLoss()
loss = criterion(net(images), labels)
'''
EVALUATE = '''
import torch
from .model import Net, Plain


def report(images):
    net, plain = Net(), Plain()
    with torch.no_grad():
        return net(images), plain(images)
'''
UNRELATED = "import os\nprint(os.getcwd())\n"


def project(tmp_path: Path, package: bool = False) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    if package:
        (root / "__init__.py").write_text("")
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX)
    (root / "train.py").write_text(TRAIN)
    (root / "evaluate.py").write_text(EVALUATE)
    (root / "unrelated.py").write_text(UNRELATED)
    return root


def lint(root: Path, use_cache: bool = False):
    settings = build_settings(FileConfig(root=root))
    result = run([str(root)], settings, use_cache=use_cache, jobs=1)
    found = {(os.path.basename(d.path), d.line, d.code,
              tuple((os.path.basename(r.path), r.span.start_line) for r in d.related))
             for d in result.diagnostics}
    return found, result


def test_softmax_in_model_py_reaches_the_loss_in_train_py(tmp_path):
    found, _ = lint(project(tmp_path))
    assert ("train.py", 7, "DL002", (("model.py", 13),)) in found


def test_dropout_in_model_py_is_known_when_evaluating_elsewhere(tmp_path):
    found, _ = lint(project(tmp_path, package=True))
    codes = {(name, line, code) for name, line, code, _ in found}
    assert ("evaluate.py", 9, "DL004") in codes
    # Plain has neither dropout nor batch norm: its call on the same line is not a finding.
    assert sum(1 for name, line, code in codes if code == "DL004") == 1


def test_a_file_named_alone_is_judged_with_its_project(tmp_path):
    """`dllint train.py` knows what model.py beside it defines (issue 24): the run's index is
    built from the file's whole project, and only the named file is reported on."""
    root = project(tmp_path)
    settings = build_settings(FileConfig(root=root))
    result = run([str(root / "train.py")], settings, use_cache=False)
    assert {(os.path.basename(d.path), d.line, d.code) for d in result.diagnostics} == \
        {("train.py", 7, "DL002")}
    assert [file.path for file in result.files] == [str(root / "train.py")]


def test_cache_follows_changes_in_an_imported_file(tmp_path):
    root = project(tmp_path)
    cold, first = lint(root, use_cache=True)
    assert first.cached == 0 and any(code == "DL002" for _, _, code, _ in cold)
    warm, second = lint(root, use_cache=True)
    assert warm == cold and second.cached == 4
    # Only model.py changes: its forward now returns logits.
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX.replace(
        "return F.softmax(self.fc(self.drop(x)), dim=1)", "return self.fc(self.drop(x))"))
    after, third = lint(root, use_cache=True)
    assert not any(code == "DL002" for _, _, code, _ in after)
    # model.py and its importers were linted again; unrelated.py came from the cache.
    assert third.cached == 1
    assert lint(root, use_cache=False)[0] == after


def test_cache_notices_a_module_that_appears(tmp_path):
    root = project(tmp_path)
    (root / "model.py").unlink()
    before, _ = lint(root, use_cache=True)
    assert not any(code == "DL002" for _, _, code, _ in before)
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX)
    after, _ = lint(root, use_cache=True)
    assert any(code == "DL002" for _, _, code, _ in after)


RE_EXPORT = "from .model import Net\n"
ENGINE = '''
def fit(model, loader, criterion):
    for x, y in loader:
        criterion(model(x), y).backward()
'''
MAIN = '''
from torch import nn
from nets import Net
from engine import fit

fit(Net(), loader, nn.CrossEntropyLoss())
'''


def call_site_project(tmp_path: Path, main: str = MAIN) -> Path:
    root = tmp_path / "proj"
    (root / "nets").mkdir(parents=True)
    (root / "nets" / "__init__.py").write_text(RE_EXPORT)
    (root / "nets" / "model.py").write_text(MODEL_WITH_SOFTMAX)
    (root / "engine.py").write_text(ENGINE)
    (root / "main.py").write_text(main)
    return root


def test_call_sites_in_another_file_bind_parameters_through_a_package_re_export(tmp_path):
    """engine.fit's parameters get main.py's Net() (re-exported by nets/__init__.py, defined in
    nets/model.py) and CrossEntropyLoss: the softmax meets the loss in engine.py."""
    found, _ = lint(call_site_project(tmp_path))
    assert ("engine.py", 4, "DL002", (("model.py", 13),)) in found


def test_a_caller_passing_logits_model_is_silent(tmp_path):
    found, _ = lint(call_site_project(tmp_path, MAIN.replace(
        "fit(Net(), loader, nn.CrossEntropyLoss())", "fit(Net(), loader, nn.MSELoss())")))
    assert not any(code == "DL002" for _, _, code, _ in found)


def test_cache_follows_a_new_call_site_in_another_file(tmp_path):
    root = call_site_project(tmp_path, MAIN.replace(
        "fit(Net(), loader, nn.CrossEntropyLoss())", "fit(Net(), loader, nn.MSELoss())"))
    before, _ = lint(root, use_cache=True)
    assert not any(code == "DL002" for _, _, code, _ in before)
    # Only main.py changes; engine.py (skipped by every rule's text gate before) must be redone.
    (root / "main.py").write_text(MAIN)
    after, _ = lint(root, use_cache=True)
    assert ("engine.py", 4, "DL002", (("model.py", 13),)) in after
    assert lint(root, use_cache=False)[0] == after


SIGMOID_MODEL = '''
from torch import nn


class Scorer(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())

    def forward(self, x):
        return self.head(x)
'''
USES_SCORER = '''
from torch import nn
from scorer import Scorer

criterion = nn.BCELoss()
loss = criterion(Scorer()(x), y)
'''


def test_one_cause_in_another_file_is_one_finding(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "scorer.py").write_text(SIGMOID_MODEL)
    for name in ("train.py", "evaluate.py", "export.py"):
        (root / name).write_text(USES_SCORER)
    found, result = lint(root)
    dl203 = [d for d in result.diagnostics if d.code == "DL203"]
    assert len(dl203) == 1
    finding = dl203[0]
    assert os.path.basename(finding.path) == "evaluate.py"  # the first use, in path order
    assert os.path.basename(finding.cause.path) == "scorer.py"
    assert [(os.path.basename(r.path), r.span.start_line) for r in finding.related] == [
        ("scorer.py", 8), ("export.py", 6), ("train.py", 6)]


SEGMENTER = '''
import torch
from torch import nn


class Segmenter(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv2d(3, 16, 3, padding=1)
        self.out = nn.Conv2d(16, 1, kernel_size=1)

    def forward(self, x):
        return self.out(torch.relu(self.body(x)))
'''
TRAINS_SEGMENTER = '''
import torch.nn.functional as F
from segmenter import Segmenter

model = Segmenter()
for images, masks in loader:
    loss = F.mse_loss(model(images), masks[:, 0])
    loss = F.mse_loss(model(images), masks[:, :1])
'''


def test_single_channel_output_in_another_file_meets_a_channel_less_target(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "segmenter.py").write_text(SEGMENTER)
    (root / "train.py").write_text(TRAINS_SEGMENTER)
    found, _ = lint(root)
    assert {entry for entry in found if entry[2] == "DL006"} == {
        ("train.py", 7, "DL006", (("segmenter.py", 10), ("train.py", 7)))}


FACTORY = '''
import torchvision


def get_model(name):
    model = torchvision.models.get_model(name, weights="DEFAULT").cuda()
    model.eval()
    return model
'''
AUGMENTATION_CONTAINER = '''
import torch

from kornia.augmentation.base import ImageSequentialBase


class AugmentationSequential(ImageSequentialBase):
    def forward(self, image, params=None):
        return self.apply(torch.as_tensor(image), params=params)
'''
EXTRACT = '''
import torch
from factory import get_model
from kornia.augmentation.container import AugmentationSequential

model = get_model("resnet152")
transforms = AugmentationSequential()
with torch.no_grad():
    features = model(transforms(images))
'''


def extraction_project(tmp_path: Path, factory: str) -> Path:
    root = tmp_path / "proj"
    (root / "kornia" / "augmentation").mkdir(parents=True)
    for package in (root / "kornia", root / "kornia" / "augmentation"):
        (package / "__init__.py").write_text("")
    (root / "kornia" / "augmentation" / "container.py").write_text(AUGMENTATION_CONTAINER)
    (root / "factory.py").write_text(factory)
    (root / "extract.py").write_text(EXTRACT)
    return root


def test_a_factory_in_another_file_returns_its_model_in_eval_mode(tmp_path):
    found, _ = lint(extraction_project(tmp_path, FACTORY))
    # kornia's augmentations behave the same in both modes, whatever their base classes.
    assert not [entry for entry in found if entry[2] == "DL004"]


def test_a_factory_that_never_calls_eval_returns_a_model_in_training_mode(tmp_path):
    found, _ = lint(extraction_project(tmp_path, FACTORY.replace("    model.eval()\n", "")))
    assert {entry[:3] for entry in found if entry[2] == "DL004"} == {("extract.py", 9, "DL004")}


KERAS_REGRESSOR = '''
from tensorflow import keras
from tensorflow.keras import layers


def build_regressor():
    return keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1)])
'''
TRAINS_KERAS_REGRESSOR = '''
import tensorflow as tf
from regressor import build_regressor

model = build_regressor()
for features, prices in dataset:
    targets = tf.squeeze(prices, axis=-1)
    loss = tf.reduce_mean(tf.keras.losses.mse(targets, model(features)))
'''


def test_a_file_whose_only_shared_value_is_a_listing_is_summarised():
    # SHAREABLE includes listings and loss values: the gate, computed from the rows whose effect
    # originates a shared tag, lets such a helper file through (a fixed token list did not).
    assert wants_summary("import os\n\n\ndef images(root):\n    return os.listdir(root)\n",
                         "data.py")
    assert wants_summary("import torch.nn.functional as F\n\n\ndef total(out, y):\n"
                         "    return F.mse_loss(out, y)\n", "losses.py")
    assert not wants_summary("def total(values):\n    return sum(values)\n", "util.py")


def test_a_keras_model_alone_in_its_file_is_summarised():
    # Nothing in the file but Keras layers: the summary gate is computed from the tables' rows,
    # so `Dense` (an (N, 1) column layer) makes the file worth summarising.
    only_a_model = ("from tensorflow import keras\nfrom tensorflow.keras import layers\n\n"
                    "model = keras.Sequential([layers.Dense(16, activation='relu'), "
                    "layers.Dense(1)])\n")
    assert wants_summary(only_a_model, "model.py")
    summary = summarise("regressor.py", KERAS_REGRESSOR)
    assert summary is not None
    (model,) = summary["functions"]["build_regressor"]
    assert model["kind"] == "module" and model["info"]["framework"] == "keras"
    assert [tag["kind"] for tag in model["info"]["output"]] == ["column"]


def test_a_keras_column_model_in_another_file_meets_a_rank1_target(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "regressor.py").write_text(KERAS_REGRESSOR)
    (root / "train.py").write_text(TRAINS_KERAS_REGRESSOR)
    found, _ = lint(root)
    assert {entry[:3] for entry in found if entry[2] == "DL006"} == {("train.py", 8, "DL006")}


KERAS_MODEL = '''
import tensorflow as tf
from tensorflow.keras import layers


class Tagger(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.encode = layers.Bidirectional(layers.LSTM(32, dropout=0.3))
        self.out = layers.Dense(5)

    def call(self, x, training=False):
        return self.out(self.encode(x, training=training))


class Probe(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.out = layers.Dense(5)

    def call(self, x):
        return self.out(x)
'''
KERAS_TRAIN = '''
import tensorflow as tf
from nets import Probe, Tagger

tagger, probe = Tagger(), Probe()
with tf.GradientTape() as tape:
    loss = loss_fn(tags, tagger(tokens)) + loss_fn(tags, probe(tokens))
grads = tape.gradient(loss, tagger.trainable_variables + probe.trainable_variables)
'''


def test_a_keras_model_with_dropout_in_another_file_is_trained_without_training_true(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "nets.py").write_text(KERAS_MODEL)
    (root / "train.py").write_text(KERAS_TRAIN)
    found, _ = lint(root)
    # Only the Tagger has recurrent dropout; the Probe's call on the same line is silent.
    assert {(name, line, code, related) for name, line, code, related in found
            if code == "DL307"} == {("train.py", 7, "DL307", (("train.py", 8), ("train.py", 5)))}


KERAS_SOFTMAX_MODEL = '''
import tensorflow as tf


class Classifier(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.head = tf.keras.layers.Dense(10)

    def call(self, x):
        return tf.nn.softmax(self.head(x))
'''
KERAS_SOFTMAX_TRAIN = '''
import tensorflow as tf
from classifier import Classifier

model = Classifier()
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
loss = loss_fn(labels, model(images))
'''


def test_a_subclassed_keras_models_call_in_another_file_is_its_forward(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "classifier.py").write_text(KERAS_SOFTMAX_MODEL)
    (root / "train.py").write_text(KERAS_SOFTMAX_TRAIN)
    found, _ = lint(root)
    assert ("train.py", 7, "DL002", (("classifier.py", 11),)) in found

def test_pixels_in_unit_range_from_a_helper_elsewhere_are_not_cast_to_uint8(tmp_path):
    """A helper of another file returns pixels divided by 255: cast to uint8 they are all 0; the
    same pixels taken back to 0-255 first are fine."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "loading.py").write_text(
        "import cv2\n\n\ndef load(path):\n    return cv2.imread(path) / 255.0\n")
    (root / "save.py").write_text(
        "import numpy as np\nfrom loading import load\n\n"
        "broken = load('a.png').astype(np.uint8)\n"
        "saved = (load('a.png') * 255).astype(np.uint8)\n")
    found, _ = lint(root)
    assert ("save.py", 4, "DL005", (("loading.py", 5),)) in found
    assert not any(name == "save.py" and line == 5 for name, line, _, _ in found)
# ---- values across files: what a use site sees of a class or function of another file -------

def cross_probes(tmp_path: Path, files: dict[str, str], main: str) -> list[set[str]]:
    """The tag kinds of each `probe(expr)` in `main`, linted with the summaries of `files`."""
    import libcst as cst

    from dllint.context import FileContext
    from dllint.semantic.imports import ImportMap
    from dllint.semantic.model import analyse
    from dllint.semantic.project import ProjectIndex, summarise

    from test_semantic_model import Probe

    summaries = []
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        summary = summarise(str(path), path.read_text())
        if summary is not None:
            summaries.append(summary)
    index = ProjectIndex.from_summaries(summaries)
    path = tmp_path / main
    text = path.read_text()
    module = cst.parse_module(text)
    context = FileContext(str(path), text, module, ImportMap.from_module(module))
    made: list[Probe] = []
    analyse(context, index, lambda model: made.append(Probe(model)) or [made[-1]])
    return made[-1].seen


TRAINER = """
    from torch import nn
    from model import Net

    class Trainer:
        def __init__(self):
            self.model = Net()
            self.criterion = nn.CrossEntropyLoss()

        def build_head(self):
            return nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
"""
USES_TRAINER = """
    import torch.nn.functional as F
    from trainer import Trainer

    trainer = Trainer()
    probe(trainer.model(x))
    probe(trainer.criterion)
    probe(trainer.build_head()(x))
    loss = F.cross_entropy(trainer.model(x), y)
"""


def test_attributes_and_methods_of_a_class_of_another_file(tmp_path):
    seen = cross_probes(tmp_path, {"model.py": MODEL_WITH_SOFTMAX, "trainer.py": TRAINER,
                                   "run.py": USES_TRAINER}, "run.py")
    assert seen == [{PROBABILITIES}, {LOSS}, {PROBABILITIES}]


def test_softmax_of_a_model_held_by_a_trainer_of_another_file_reaches_its_loss(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX)
    (root / "trainer.py").write_text(textwrap.dedent(TRAINER))
    (root / "run.py").write_text(textwrap.dedent(USES_TRAINER).replace("probe(", "print("))
    found, _ = lint(root)
    assert ("run.py", 9, "DL002", (("model.py", 13),)) in {
        (name, line, code, related) for name, line, code, related in found}
    # The same Trainer holding a model that returns logits: nothing to report.
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX.replace(
        "return F.softmax(self.fc(self.drop(x)), dim=1)", "return self.fc(self.drop(x))"))
    assert not any(name == "run.py" and code == "DL002" for name, _, code, _ in lint(root)[0])


DATA_HELPERS = """
    import glob
    import torch
    import torch.nn.functional as F

    def list_images(root):
        return glob.glob(root + "/*.png")

    def split(root):
        return glob.glob(root + "/train/*.png"), sorted(glob.glob(root + "/val/*.png"))

    def compute_loss(logits, y):
        return F.cross_entropy(logits, y)

    def head(logits):
        return logits, torch.softmax(logits, 1)

    class Images:
        def __init__(self, root):
            self.files = glob.glob(root + "/*.png")

        def masks(self):
            return glob.glob("masks/*.png")
"""
USES_HELPERS = """
    from data import Images, compute_loss, head, list_images, split

    probe(list_images("x"))
    train, val = split("x")
    probe(train)
    probe(val)
    probe(compute_loss(a, b))
    logits, probabilities = head(z)
    probe(probabilities)
    probe(logits)
    images = Images("x")
    probe(images.files)
    probe(images.masks())
"""


def test_listings_loss_values_and_tuples_returned_by_another_file(tmp_path):
    from dllint.jsonshape import problem
    from dllint.semantic.project import SUMMARY, ProjectIndex, summarise
    from dllint.semantic.values import LISTING, LOSS_VALUE, TUPLE

    seen = cross_probes(tmp_path, {"data.py": DATA_HELPERS, "use.py": USES_HELPERS}, "use.py")
    assert seen == [{LISTING}, {LISTING}, {LISTING}, {LOSS_VALUE}, {PROBABILITIES}, set(),
                    {LISTING}, {LISTING}]
    # What is written is what the cache's check admits, and it reads back as written.
    summary = summarise(str(tmp_path / "data.py"), (tmp_path / "data.py").read_text())
    assert problem(summary, SUMMARY) is None
    index = ProjectIndex.from_summaries([summary])
    [pair] = index.lookup_function("data.split", str(tmp_path / "use.py"))
    assert pair.kind == TUPLE
    assert [next(iter(part)).info.ordered for part in pair.info] == [False, True]
    assert [next(iter(part)).info.function for part in pair.info] == ["glob.glob"] * 2


KERAS_MODELS = """
    from tensorflow import keras
    from tensorflow.keras import layers

    def build_model():
        model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        return model

    class Regressor(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(64, activation="relu")
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))
"""
USES_KERAS_MODELS = """
    from models import Regressor, build_model

    probe(build_model()(x))
    probe(Regressor()(x))
"""


def test_a_keras_model_of_another_file_outputs_its_column(tmp_path):
    from dllint.semantic.project import summarise
    from dllint.semantic.values import COLUMN

    seen = cross_probes(tmp_path, {"models.py": KERAS_MODELS, "use.py": USES_KERAS_MODELS},
                        "use.py")
    assert seen[:2] == [{COLUMN}, {COLUMN}]
    summary = summarise(str(tmp_path / "models.py"), (tmp_path / "models.py").read_text())
    assert summary["classes"]["Regressor"]["framework"] == "keras"
    assert [tag["kind"] for tag in summary["classes"]["Regressor"]["output"]] == [COLUMN]


FOLDER_DATASET = """
    import glob
    from torch.utils.data import Dataset
    from torchvision.io import read_image


    class Folder(Dataset):
        def __init__(self, root):
            self.images = glob.glob(root + "/images/*.png")
            self.masks = sorted(glob.glob(root + "/masks/*.png"))

        def mask_files(self):
            return glob.glob("masks/*.png")

        def __getitem__(self, index):
            return read_image(self.images[index]), read_image(self.masks[index])
"""
PAIRS_FOLDER_FILES = """
    import os
    from data import Folder

    folder = Folder("data")
    labels = sorted(os.listdir("labels"))
    pairs = list(zip(folder.images, labels))
    masks = list(zip(folder.images, folder.mask_files()))
"""


def test_listings_of_a_dataset_class_of_another_file_paired_here(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "data.py").write_text(textwrap.dedent(FOLDER_DATASET))
    (root / "pairs.py").write_text(textwrap.dedent(PAIRS_FOLDER_FILES))
    found, _ = lint(root)
    in_pairs = {(line, code, related) for name, line, code, related in found
                if name == "pairs.py"}
    # One finding per listing made in data.py: the attribute and the method's return value.
    assert in_pairs == {(7, "DL001", (("data.py", 9),)), (8, "DL001", (("data.py", 13),))}
    # Sorted where they are made: nothing to report.
    (root / "data.py").write_text(textwrap.dedent(FOLDER_DATASET).replace(
        'self.images = glob.glob(root + "/images/*.png")',
        'self.images = sorted(glob.glob(root + "/images/*.png"))').replace(
        'return glob.glob("masks/*.png")', 'return sorted(glob.glob("masks/*.png"))'))
    assert not any(name == "pairs.py" for name, _, _, _ in lint(root)[0])


SOFTMAX_FACTORY = """
from torch import nn


def build():
    return nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=1))
"""
TRAIN_WITH_FACTORY = """
import torch.nn.functional as F
from utils import build

loss = F.cross_entropy(build()(x), y)
"""


def sibling_project(tmp_path: Path, utils: dict[str, str]) -> Path:
    """`a/train.py` imports `utils` by its bare name; no folder has an __init__.py."""
    root = tmp_path / "proj"
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
    (root / "a" / "train.py").write_text(TRAIN_WITH_FACTORY)
    for folder, text in utils.items():
        (root / folder / "utils.py").write_text(text)
    return root


def test_a_bare_import_names_the_file_in_the_importers_own_folder(tmp_path):
    logits = SOFTMAX_FACTORY.replace("nn.Softmax(dim=1)", "nn.ReLU()")
    found, _ = lint(sibling_project(tmp_path, {"a": SOFTMAX_FACTORY, "b": logits}))
    assert {(name, line, code) for name, line, code, _ in found} == {("train.py", 5, "DL002")}
    [(_, _, _, related)] = found
    assert related == (("utils.py", 6),)
    root = sibling_project(tmp_path / "swapped", {"a": logits, "b": SOFTMAX_FACTORY})
    assert lint(root)[0] == set()


def test_a_bare_import_never_names_a_same_named_file_of_another_folder(tmp_path):
    assert lint(sibling_project(tmp_path, {"b": SOFTMAX_FACTORY}))[0] == set()


def test_a_dotted_import_reaches_a_module_of_a_folder_without_init(tmp_path):
    """`from include.model import build` where `include/` has no __init__.py (a namespace
    package): include/model.py, not a `model.py` elsewhere."""
    root = tmp_path / "proj"
    for folder in ("include", "other"):
        (root / folder).mkdir(parents=True)
    (root / "include" / "utils.py").write_text(SOFTMAX_FACTORY)
    (root / "other" / "utils.py").write_text(SOFTMAX_FACTORY.replace("nn.Softmax(dim=1)",
                                                                     "nn.ReLU()"))
    (root / "train.py").write_text(TRAIN_WITH_FACTORY.replace("from utils import",
                                                              "from include.utils import"))
    found, _ = lint(root)
    assert {(name, code, related) for name, _, code, related in found} == {
        ("train.py", "DL002", (("utils.py", 6),))}
    (root / "train.py").write_text(TRAIN_WITH_FACTORY.replace("from utils import",
                                                              "from other.utils import"))
    assert lint(root)[0] == set()


def test_a_star_import_of_a_project_module_reaches_its_definitions(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "utils.py").write_text(SOFTMAX_FACTORY)
    (root / "train.py").write_text(TRAIN_WITH_FACTORY.replace("from utils import build",
                                                              "from utils import *"))
    found, _ = lint(root, use_cache=True)
    assert {(name, line, code) for name, line, code, _ in found} == {("train.py", 5, "DL002")}
    # The star import is a dependency: the cached result follows a change to utils.py.
    (root / "utils.py").write_text(SOFTMAX_FACTORY.replace("nn.Softmax(dim=1)", "nn.ReLU()"))
    assert lint(root, use_cache=True)[0] == set()


WRAPPERS = """
    from torch import nn


    class Wrapper(nn.Module):
        def __init__(self, backbone, dropout=0.1):
            super().__init__()
            self.backbone = backbone
            self.drop = nn.Dropout(dropout)

        def forward(self, x):
            return self.backbone(self.drop(x))


    class Apply(nn.Module):
        def forward(self, x, head):
            return head(x)
"""
USES_WRAPPERS = """
    from torch import nn
    from arch import Apply, Wrapper

    softmax_net = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    probe(Wrapper(softmax_net)(x))
    probe(Wrapper(backbone=nn.Linear(4, 3))(x))
    probe(Apply()(x, softmax_net))
    probe(Apply()(x, nn.Linear(4, 3)))
    probe(Wrapper(Wrapper(softmax_net))(x))
"""


def test_a_module_handed_to_a_module_of_another_file_and_called_in_its_forward(tmp_path):
    seen = cross_probes(tmp_path, {"arch.py": WRAPPERS, "use.py": USES_WRAPPERS}, "use.py")
    assert seen == [{PROBABILITIES}, set(), {PROBABILITIES}, set(), {PROBABILITIES}]


def test_softmax_handed_to_a_wrapper_of_another_file_reaches_the_loss(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "arch.py").write_text(textwrap.dedent(WRAPPERS))
    run_text = ("import torch.nn.functional as F\nfrom torch import nn\nfrom arch import Wrapper\n"
                "net = Wrapper(nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1)))\n"
                "loss = F.cross_entropy(net(x), y)\n")
    (root / "run.py").write_text(run_text)
    found, _ = lint(root)
    assert {(name, code) for name, _, code, _ in found} == {("run.py", "DL002")}
    (root / "run.py").write_text(run_text.replace(", nn.Softmax(dim=1)", ""))
    assert lint(root)[0] == set()


def test_a_list_returned_by_another_file_keeps_what_its_elements_are(tmp_path):
    from dllint.jsonshape import problem
    from dllint.semantic.project import SUMMARY, summarise
    from dllint.semantic.values import UINT8

    loader = """
        import cv2

        def load_all(paths):
            return [cv2.imread(p) for p in paths]

        def load_grid(rows):
            return [[cv2.imread(p) for p in row] for row in rows]
    """
    use = """
        import numpy as np
        from loader import load_all, load_grid

        probe(np.stack(load_all(paths)))
        probe(np.array(load_grid(rows)))
    """
    seen = cross_probes(tmp_path, {"loader.py": loader, "use.py": use}, "use.py")
    assert seen == [{UINT8}, {UINT8}]
    summary = summarise(str(tmp_path / "loader.py"), (tmp_path / "loader.py").read_text())
    assert problem(summary, SUMMARY) is None

CONTAINER_MODELS = '''
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 64)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return self.drop(self.fc(x))


class Encoder(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.blocks = nn.ModuleList([Block() for _ in range(depth)])

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class StyleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.norms = nn.ModuleDict({"content": nn.InstanceNorm2d(8), "style": nn.InstanceNorm2d(8)})

    def forward(self, x):
        return self.norms["style"](self.norms["content"](x))
'''
CONTAINER_EVALUATION = '''
import torch
from models import Encoder, StyleNet

encoder, stylizer = Encoder(6), StyleNet()
with torch.no_grad():
    features = encoder(tokens)
    stylized = stylizer(images)
'''


def test_mode_dependent_layers_in_containers_are_known_in_another_file(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "models.py").write_text(CONTAINER_MODELS)
    (root / "evaluate.py").write_text(CONTAINER_EVALUATION)
    found, _ = lint(root)
    # The encoder's dropout sits in a ModuleList of blocks; the stylizer's instance norms keep
    # no running statistics, so its modes do not differ.
    assert {entry[:3] for entry in found if entry[2] == "DL004"} == {("evaluate.py", 7, "DL004")}


STEP_HELPERS = '''
import torch


def clear(optimizer):
    optimizer.zero_grad(set_to_none=True)


def update(model, optimizer):
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def backward_only(loss):
    loss.backward()
'''
STEP_LOOP = '''
from helpers import backward_only, clear, update


def fit(model, loader, criterion, optimizer):
    for x, y in loader:
        {clear}
        loss = criterion(model(x), y)
        loss.backward()
        update(model, optimizer)
'''


def test_training_events_of_helpers_in_another_file_count_where_they_are_called(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "helpers.py").write_text(STEP_HELPERS)
    # The gradients are cleared by a helper of another file: no DL101.
    (root / "train.py").write_text(STEP_LOOP.format(clear="clear(optimizer)"))
    found, _ = lint(root)
    assert not [entry for entry in found if entry[2] == "DL101"]
    # Nothing clears them, and the step is a helper's: the loop accumulates gradients.
    (root / "train.py").write_text(STEP_LOOP.format(clear="pass"))
    found, _ = lint(root)
    assert [(name, code) for name, _, code, _ in found if code == "DL101"] == \
        [("train.py", "DL101")]
    summary = summarise(str(root / "helpers.py"), STEP_HELPERS)
    # Kinds whose order matters (a clip, a scheduler step) stay in their file: the summary
    # flattens the helper's branches.
    assert summary["events"] == {"clear": ["zero_grad"], "update": ["step"],
                                 "backward_only": ["backward"]}


def test_names_a_package_star_reexports_from_its_modules_are_found(tmp_path):
    root = tmp_path / "proj"
    (root / "models").mkdir(parents=True)
    (root / "models" / "__init__.py").write_text("from .plain import *\nfrom .vgg import *\n")
    (root / "models" / "plain.py").write_text(MODEL_WITH_SOFTMAX.replace("class Net", "class Old"))
    (root / "models" / "vgg.py").write_text(MODEL_WITH_SOFTMAX)
    (root / "train.py").write_text(TRAIN.replace("from model import Net", "from models import *"))
    found, _ = lint(root)
    assert ("train.py", 7, "DL002", (("vgg.py", 13),)) in found
    # A star import brings no private name, whatever a module defines.
    (root / "models" / "vgg.py").write_text(MODEL_WITH_SOFTMAX.replace("class Net", "class _Net"))
    (root / "train.py").write_text(TRAIN.replace("from model import Net", "from models import *")
                                   .replace("Net()", "_Net()"))
    found, _ = lint(root)
    assert not [entry for entry in found if entry[2] == "DL002"]


SCALER = '''
import torch


class LossScaler:
    def __init__(self):
        self._scaler = torch.cuda.amp.GradScaler()

    def __call__(self, loss, optimizer):
        self._scaler.scale(loss).backward()
        self._scaler.step(optimizer)
        self._scaler.update()
'''
SCALED_ENGINE = '''
def train_one_epoch(model, loader, optimizer, loss_scaler):
    for x, y in loader:
        {clear}
        loss = model(x, y)
        loss_scaler(loss, optimizer)  # backward and step happen in the scaler
'''
SCALED_MAIN = '''
import torch
from engine import train_one_epoch
from scaler import LossScaler

train_one_epoch(model, loader, torch.optim.AdamW(model.parameters()), LossScaler())
'''


def test_an_instance_of_a_class_of_another_file_does_what_its_method_does(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    (root / "scaler.py").write_text(SCALER)
    (root / "main.py").write_text(SCALED_MAIN)
    (root / "engine.py").write_text(SCALED_ENGINE.format(clear="optimizer.zero_grad()"))
    found, _ = lint(root)
    assert not [entry for entry in found if entry[2] == "DL101"]
    (root / "engine.py").write_text(SCALED_ENGINE.format(clear="pass"))
    found, _ = lint(root)
    assert [(name, line, code) for name, line, code, _ in found if code == "DL101"] == \
        [("engine.py", 6, "DL101")]
    # The same class in the loop's own file: its __call__ is a method of the file.
    (root / "engine.py").write_text(SCALER + SCALED_ENGINE.format(clear="pass")
                                    .replace("loss_scaler)", "loss_scaler=LossScaler())"))
    found, _ = lint(root)
    assert [code for _, _, code, _ in found] == ["DL101"]



def test_a_helper_that_clips_in_both_branches_of_another_file_is_no_clip_after_step(tmp_path):
    """A summary flattens the helper's branches: read in order, `if scaler: clip; step else:
    clip; step` would be a step followed by a clip. Clips and scheduler steps stay in their
    file."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "engine.py").write_text('''
import torch


def finish_step(model, optimizer, scaler, clip):
    if scaler is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(optimizer)
    else:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()


def train_one_epoch(model, loader, optimizer, scaler, clip):
    for x, y in loader:
        optimizer.zero_grad()
        model(x, y).backward()
        finish_step(model, optimizer, scaler, clip)
''')
    (root / "main.py").write_text('''
import torch  # clip_grad_norm_ is the engine's
from engine import train_one_epoch

for epoch in range(10):
    train_one_epoch(model, loader, optimizer, scaler, 1.0)
''')
    found, _ = lint(root)
    assert not [entry for entry in found if entry[2] in ("DL102", "DL103")]


LAYERS_ELSEWHERE = '''
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.LayerNorm):
    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


class SharedDropout(nn.Dropout):
    def forward(self, x):
        return super().forward(x)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = LayerNorm(32)
        self.fc = nn.Linear(32, 32)

    def forward(self, x):
        return self.fc(F.gelu(self.ln(x)))


class DroppingEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 32)
        self.drop = SharedDropout(0.1)

    def forward(self, x):
        return self.drop(self.fc(x))
'''
EVALUATE_ELSEWHERE = '''
import torch
from layers import DroppingEncoder, Encoder, LayerNorm

encoder, dropping, norm = Encoder(), DroppingEncoder(), LayerNorm(32)
batch = next(iter(test_loader))
with torch.no_grad():
    features = encoder(batch)
    dropped = dropping(batch)
    normed = norm(batch)
'''


def test_layers_derived_from_torch_layers_in_another_file_keep_their_modes(tmp_path):
    # A model of another file with no dropout or batch norm (a LayerNorm subclass among its
    # layers) is evaluated the same in either mode; one with a Dropout subclass is not.
    root = tmp_path / "proj"
    root.mkdir()
    (root / "layers.py").write_text(LAYERS_ELSEWHERE)
    (root / "evaluate.py").write_text(EVALUATE_ELSEWHERE)
    found, _ = lint(root)
    assert {entry[:3] for entry in found if entry[2] == "DL004"} == {("evaluate.py", 9, "DL004")}


INIT_HOOKS = '''
import torch
from torch import nn


def init_weights(module):
    if isinstance(module, Gate):
        nn.init.xavier_uniform_(module.weight)


class PreTrained(nn.Module):
    def _init_weights(self, module):
        if isinstance(module, Memory):
            module.slots.data.normal_(0.0, 0.02)
'''
GATED_MODEL = '''
import torch
from torch import nn
from init_hooks import init_weights


class Gate(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(n, n))


model = Gate(8)
model.apply(init_weights)
'''
MEMORY_MODEL = '''
import torch
from torch import nn
from init_hooks import PreTrained


class Memory(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.slots = nn.Parameter(torch.Tensor(n, n))


class Reader(PreTrained):
    def __init__(self, n):
        super().__init__()
        self.memory = Memory(n)
        self.apply(self._init_weights)
'''


def init_hook_project(tmp_path: Path, hooks: str = INIT_HOOKS) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "init_hooks.py").write_text(hooks)
    (root / "gated.py").write_text(GATED_MODEL)
    (root / "memory.py").write_text(MEMORY_MODEL)
    return root


def test_init_hooks_of_another_file_initialise_the_tensors_they_fill(tmp_path):
    """DL304: a hook imported and applied (`model.apply(init_weights)`), and an
    `_init_weights` inherited from a base class of another file, fill what they name."""
    summary = summarise("init_hooks.py", INIT_HOOKS)
    assert summary is not None and summary["init_fills"] == {
        "init_weights": [["Gate", "weight"]], "PreTrained._init_weights": [["Memory", "slots"]]}
    found, _ = lint(init_hook_project(tmp_path))
    assert not any(code == "DL304" for _, _, code, _ in found)


def test_a_hook_of_another_file_that_fills_other_attributes_leaves_the_finding(tmp_path):
    hooks = INIT_HOOKS.replace("module.weight", "module.bias").replace(
        "module.slots", "module.keys")
    found, _ = lint(init_hook_project(tmp_path, hooks))
    assert {(name, line) for name, line, code, _ in found if code == "DL304"} == {
        ("gated.py", 10), ("memory.py", 10)}


def test_cache_follows_a_change_of_an_init_hook_in_another_file(tmp_path):
    root = init_hook_project(tmp_path)
    before, _ = lint(root, use_cache=True)
    assert not any(code == "DL304" for _, _, code, _ in before)
    (root / "init_hooks.py").write_text(INIT_HOOKS.replace("module.weight", "module.bias"))
    after, _ = lint(root, use_cache=True)
    assert {(name, line) for name, line, code, _ in after if code == "DL304"} == {
        ("gated.py", 10)}


APPLIED_LAYERS = '''
import torch
from torch import nn


class ProjectedSoftmax(nn.Module):
    def __init__(self, n, d):
        super().__init__()
        self.out_proj = nn.Parameter(torch.Tensor(n, d))


class MemoryLM(nn.Module):
    def __init__(self, n, d):
        super().__init__()
        self.r_bias = nn.Parameter(torch.Tensor(n, d))
        self.crit = ProjectedSoftmax(n, d)
'''
APPLIED_TRAIN = '''
from torch import nn
from layers import MemoryLM


def init_weight(weight):
    nn.init.normal_(weight, 0.0, 0.02)


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('MemoryLM') != -1:
        if hasattr(m, 'r_bias'):
            init_weight(m.r_bias)
    elif 'Softmax' in classname:
        nn.init.normal_(m.out_proj, 0.0, 0.02)


model = MemoryLM(8, 4)
model.apply(weights_init)
'''


def applied_hook_project(tmp_path: Path, train: str = APPLIED_TRAIN) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "layers.py").write_text(APPLIED_LAYERS)
    (root / "train.py").write_text(train)
    return root


MODE_HELPERS = '''
import torch


def eval_net(net, loader):
    net.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += (net(x).argmax(1) == y).float().mean().item()
    return total / len(loader)


def do_eval(model, loader):
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct
'''
MODE_TRAIN = '''
import torch
from torch import nn
from helpers import eval_net, do_eval

net = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for epoch in range(10):
    net.train()
    for step, (x, y) in enumerate(train_loader):
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 100 == 0:
            {check}
'''


def mode_project(tmp_path, check: str, model: str = "") -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "helpers.py").write_text(MODE_HELPERS)
    train = MODE_TRAIN.format(check=check)
    if model:
        train = train.replace("nn.Dropout(0.5)", model)
    (root / "train.py").write_text(train)
    return root


def test_a_hook_another_file_applies_to_the_model_fills_its_submodules(tmp_path):
    """DL304: `model.apply(weights_init)` in train.py, with a hook of train.py that dispatches
    on the class's name, fills the parameters of the model and of its submodules, defined in
    layers.py."""
    summary = summarise("train.py", APPLIED_TRAIN)
    assert summary is not None and summary["applied_fills"] == [
        ["*MemoryLM*", "r_bias"], ["*Softmax*", "out_proj"]]
    found, _ = lint(applied_hook_project(tmp_path))
    assert not any(code == "DL304" for _, _, code, _ in found)


def test_a_hook_applied_elsewhere_leaves_the_classes_it_does_not_name(tmp_path):
    train = APPLIED_TRAIN.replace("'Softmax' in classname", "classname == 'Softmax'")
    found, _ = lint(applied_hook_project(tmp_path, train))
    assert {(name, line) for name, line, code, _ in found if code == "DL304"} == {
        ("layers.py", 9)}


def test_cache_follows_a_change_of_a_hook_applied_in_another_file(tmp_path):
    root = applied_hook_project(tmp_path)
    before, _ = lint(root, use_cache=True)
    assert not any(code == "DL304" for _, _, code, _ in before)
    (root / "train.py").write_text(APPLIED_TRAIN.replace("model.apply(weights_init)", ""))
    after, _ = lint(root, use_cache=True)
    assert {(name, line) for name, line, code, _ in after if code == "DL304"} == {
        ("layers.py", 9), ("layers.py", 15)}


LISTED_NERF = '''
from torch import nn


class NeRF(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)

    def forward(self, x):
        return self.fc(x)
'''
LISTED_RENDERING = '''
import torch


def render_rays(models, rays):
    def inference(model, xyz):
        return model(xyz)

    coarse = models[0]
    return inference(coarse, rays)
'''
LISTED_SYSTEM = '''
from torch import nn
from nerf import NeRF
from rendering import render_rays


class System(nn.Module):
    def __init__(self):
        super().__init__()
        self.coarse = NeRF()
        self.models = [self.coarse]

    def forward(self, rays):
        return render_rays(self.models, rays)
'''


def listed_models_project(tmp_path: Path, nerf: str = LISTED_NERF) -> Path:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "nerf.py").write_text(nerf)
    (root / "rendering.py").write_text(LISTED_RENDERING)
    (root / "system.py").write_text(LISTED_SYSTEM)
    return root


def test_a_list_of_models_without_dropout_from_another_file_changes_nothing_in_its_mode(
        tmp_path):
    """DL004: `render_rays(self.models, ...)` in system.py hands a list of NeRF (no dropout,
    no batch norm) of nerf.py; `inference(models[0], ...)` in rendering.py is no evaluation
    in training mode that matters."""
    found, _ = lint(listed_models_project(tmp_path))
    assert not any(code == "DL004" for _, _, code, _ in found)


def test_a_tuple_of_models_without_dropout_from_another_file_changes_nothing(tmp_path):
    root = listed_models_project(tmp_path)
    (root / "system.py").write_text(LISTED_SYSTEM.replace(
        "self.models = [self.coarse]", "self.models = (self.coarse, NeRF())"))
    found, _ = lint(root)
    assert not any(code == "DL004" for _, _, code, _ in found)
    (root / "nerf.py").write_text(LISTED_NERF.replace(
        "nn.Linear(3, 4)", "nn.Sequential(nn.Linear(3, 4), nn.Dropout())"))
    found, _ = lint(root)
    assert {(name, line) for name, line, code, _ in found if code == "DL004"} == {
        ("rendering.py", 7)}


def test_a_list_of_models_with_dropout_from_another_file_is_still_reported(tmp_path):
    nerf = LISTED_NERF.replace("nn.Linear(3, 4)", "nn.Sequential(nn.Linear(3, 4), nn.Dropout())")
    found, _ = lint(listed_models_project(tmp_path, nerf))
    assert {(name, line) for name, line, code, _ in found if code == "DL004"} == {
        ("rendering.py", 7)}
def test_a_helper_of_another_file_that_leaves_the_model_in_eval_mode_counts_in_the_loop(
        tmp_path):
    """DL004: `eval_net` (helpers.py) calls `net.eval()` and returns; called inside the batch
    loop, the steps after it train in eval mode. Its summary says so."""
    summary = summarise("helpers.py", MODE_HELPERS)
    assert summary is not None and [entry[:3] for entry in summary["modes"]["eval_net"]] == \
        [["net", 0, "eval"]]
    assert [entry[:3] for entry in summary["modes"]["do_eval"]] == [["model", 0, "evaluated"]]
    found, _ = lint(mode_project(tmp_path, "score = eval_net(net, val_loader)"))
    assert ("train.py", 15, "DL004", (("train.py", 11), ("helpers.py", 6))) in found


def test_a_helper_that_leaves_eval_mode_is_fine_when_train_follows_it(tmp_path):
    found, _ = lint(mode_project(tmp_path, "score = eval_net(net, val_loader); net.train()"))
    assert not [entry for entry in found if entry[2] == "DL004"]


def test_a_helper_that_leaves_eval_mode_is_fine_for_a_model_without_modes(tmp_path):
    found, _ = lint(mode_project(tmp_path, "score = eval_net(net, val_loader)", model="nn.ReLU()"))
    assert not [entry for entry in found if entry[2] == "DL004"]


def test_an_evaluation_helper_of_another_file_judged_by_the_mode_its_caller_hands(tmp_path):
    """DL004: `do_eval` (helpers.py) runs the model it is handed without `eval()`; the caller
    hands it a model in training mode."""
    found, _ = lint(mode_project(tmp_path, "score = do_eval(net, val_loader)"))
    assert ("train.py", 15, "DL004", (("helpers.py", 17),)) in found


def test_an_evaluation_helper_of_another_file_handed_an_eval_model_is_fine(tmp_path):
    found, _ = lint(mode_project(
        tmp_path, "net.eval(); score = do_eval(net, val_loader); net.train()"))
    assert not [entry for entry in found if entry[2] == "DL004"]


def test_an_evaluation_helper_of_another_file_handed_a_loss_function_is_fine(tmp_path):
    """`do_eval(criterion, ...)` runs what it is handed, but a loss function has no mode."""
    found, _ = lint(mode_project(
        tmp_path, "criterion = nn.CrossEntropyLoss(); score = do_eval(criterion, val_loader)"))
    assert not [entry for entry in found if entry[2] == "DL004"]


def test_a_model_without_modes_defined_in_another_file_is_never_judged(tmp_path):
    """DL004 is silent on a model whose class, in another file, has neither dropout nor batch
    norm, however it is evaluated (loaded, under no_grad, over a test loader, handed to an
    evaluation helper of a third file), and on a `from_pretrained` model nothing trains."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX)
    (root / "helpers.py").write_text(MODE_HELPERS)
    (root / "evaluate.py").write_text('''
import torch
from model import Plain
from helpers import do_eval
from transformers import AutoModelForSequenceClassification

net = Plain()
net.load_state_dict(torch.load("weights.pt"))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
for x, y in train_loader:
    torch.nn.functional.cross_entropy(net(x), y).backward()
    optimizer.step()
with torch.no_grad():
    for x, y in test_loader:
        print(net(x))
print(do_eval(net, test_loader))
scorer = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
with torch.no_grad():
    print(scorer(**batch))
''')
    found, _ = lint(root)
    assert not [entry for entry in found if entry[2] == "DL004"]
    # The same with the dropout model: the test loop and the helper's call are flagged.
    (root / "evaluate.py").write_text((root / "evaluate.py").read_text().replace("Plain", "Net"))
    found, _ = lint(root)
    assert {(name, line) for name, line, code, _ in found if code == "DL004"} == {
        ("evaluate.py", 15), ("evaluate.py", 16)}


METER = '''
class AverageMeter:
    def __init__(self):
        self.reset()

    def reset(self):
        self.sum = 0
        self.count = 0

    def update(self, val, n=1):
        self.sum += val * n
        self.count += n
'''
METER_LOOP = '''
import torch.nn.functional as F
from utils import AverageMeter

losses = AverageMeter()
for x, y in loader:
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.update({handed}, x.size(0))
'''


def test_a_meter_of_another_file_that_adds_its_argument_keeps_the_loss_tensors(tmp_path):
    """DL104: `AverageMeter.update` (utils.py, which imports nothing) adds `val` into
    `self.sum`; handed the loss tensor each step, it keeps every graph. Its summary says so."""
    summary = summarise("utils.py", METER)
    assert summary is not None and summary["accumulates"] == {
        "AverageMeter.update": [[0, "val"], [1, "n"]]}
    root = tmp_path / "proj"
    root.mkdir()
    (root / "utils.py").write_text(METER)
    (root / "train.py").write_text(METER_LOOP.format(handed="loss"))
    found, _ = lint(root)
    assert ("train.py", 11, "DL104", ()) in found
    (root / "train.py").write_text(METER_LOOP.format(handed="loss.item()"))
    found, _ = lint(root)
    assert not [entry for entry in found if entry[2] == "DL104"]


FITS_A_CLASSIFIER = '''
import torch.nn as nn


def fit(classifier, loader):
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        loss = criterion(classifier(x), y)
        loss.backward()
'''


def _script_through_plain_imports(tmp_path: Path, model_class: str) -> Path:
    """A script that names nothing of the gate: `import model`, `import train`, and the model
    handed from one to the other through module attributes, moved to the GPU on the way."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX + "\n\nclass Logits(nn.Module):\n"
                                   "    def forward(self, x):\n        return x\n")
    (root / "train.py").write_text(FITS_A_CLASSIFIER)
    (root / "main.py").write_text(f"import model\nimport train\n\n"
                                  f"classifier = model.{model_class}().cuda()\n"
                                  f"train.fit(classifier, loader)\n")
    return root


def test_a_model_handed_through_plain_module_imports_reaches_the_loss(tmp_path):
    found, _ = lint(_script_through_plain_imports(tmp_path, "Net"))
    assert ("train.py", 8, "DL002", (("model.py", 13),)) in found


def test_a_logits_model_handed_through_plain_module_imports_is_silent(tmp_path):
    found, _ = lint(_script_through_plain_imports(tmp_path, "Logits"))
    assert not [entry for entry in found if entry[2] == "DL002"]


def test_a_script_importing_a_module_of_its_project_is_summarised():
    # It may hand one file's model to another file's function while naming nothing of the gate;
    # a script importing only libraries and the standard library is not.
    assert wants_summary("import model\nimport train\n\ntrain.fit(model.Net(), loader)\n",
                         "main.py")
    assert wants_summary("from .train import fit\n\nfit(net, loader)\n", "main.py")
    assert not wants_summary("import os\nimport numpy as np\n\nprint(os.getcwd())\n", "util.py")


ROW_HELPERS = '''
import torch


def encode(truths):
    return torch.cat([truths, truths * 2], 1)


def match(threshold, truths, labels, loc_t, conf_t, idx):
    loc_t[idx] = encode(truths)
    conf_t[idx] = labels
'''
ROW_LOSS = '''
import torch
from row_helpers import match


def targets(batch, num, num_priors):
    loc_t = torch.Tensor(num, num_priors, 4)
    conf_t = torch.LongTensor(num, num_priors)
    for idx in range(num):
        match(0.5, batch[idx][0], batch[idx][1], loc_t, conf_t, idx)
    return loc_t, conf_t
'''


def test_a_helper_of_another_file_that_writes_each_row_fills_the_tensor(tmp_path):
    """DL304: `match(..., loc_t, conf_t, idx)` in `for idx in range(num)`, with `match` in
    another file writing `loc_t[idx] = ...`, fills every row of a `num`-row tensor; called
    for fewer rows, the tensor is still reported."""
    summary = summarise("row_helpers.py", ROW_HELPERS)
    assert summary is not None and summary["row_fills"] == {"match": [[3, 5], [4, 5]]}
    root = tmp_path / "proj"
    root.mkdir()
    (root / "row_helpers.py").write_text(ROW_HELPERS)
    (root / "loss.py").write_text(ROW_LOSS)
    found, _ = lint(root)
    assert not any(code == "DL304" for _, _, code, _ in found)
    (root / "loss.py").write_text(ROW_LOSS.replace("range(num)", "range(num - 1)"))
    found, _ = lint(root)
    assert {(name, line) for name, line, code, _ in found if code == "DL304"} == {
        ("loss.py", 7), ("loss.py", 8)}


FIT_HELPER = '''
def fit(model, loader, criterion):
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
'''
CALLER_OF_FIT = '''
from torch import nn
from helpers import fit
from model import {model}

fit({model}(), loader, nn.CrossEntropyLoss())
'''


def test_callers_of_a_bare_module_are_those_of_its_own_folder(tmp_path):
    """Two script folders, each with its own `helpers.py` and `train.py`: a's train.py hands
    its helper a softmax model, b's a model of logits. b's helper is called only by b's
    train.py, and is clean, alone or linted with the whole tree."""
    root = tmp_path / "proj"
    for folder, model in (("a", "Net"), ("b", "Plain")):
        (root / folder).mkdir(parents=True)
        (root / folder / "helpers.py").write_text(FIT_HELPER)
    (root / "setup.cfg").write_text("[metadata]\nname = chapters\n")
    for folder, model in (("a", "Net"), ("b", "Plain")):
        (root / folder / "model.py").write_text(MODEL_WITH_SOFTMAX)
        (root / folder / "train.py").write_text(CALLER_OF_FIT.format(model=model))
    settings = build_settings(FileConfig(root=root))
    result = run([str(root)], settings, use_cache=False, jobs=1)
    found = {(Path(d.path).parent.name, Path(d.path).name, d.line, d.code,
              tuple(Path(r.path).parent.name for r in d.related)) for d in result.diagnostics}
    assert found == {("a", "helpers.py", 4, "DL002", ("a",))}
    alone = run([str(root / "b")], settings, use_cache=False, jobs=1)
    assert alone.diagnostics == []


GENERATE_HELPER = '''
import torch


def generate(model, idx, steps):
    for _ in range(steps):
        with torch.no_grad():
            logits = model(idx)
        idx = torch.cat([idx, logits.argmax(-1)], dim=1)
    return idx
'''
GENERATING_APP = '''
import torch
from helpers import generate
from model import Net

model = Net()
model.load_state_dict(torch.load("weights.pt"))
{switch}print(generate(model, torch.zeros(1, 1), 10))
'''


def test_a_generation_helper_of_another_file_is_judged_at_its_calls(tmp_path):
    """`generate(model, idx)` runs its model under no_grad in the mode its caller left it: the
    caller that skipped eval() is reported at its call (the helper's forward related), the one
    that called it is not, and the helper itself, whose own file never calls it, is silent."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "helpers.py").write_text(GENERATE_HELPER)
    (root / "model.py").write_text(MODEL_WITH_SOFTMAX)
    (root / "app.py").write_text(GENERATING_APP.format(switch=""))
    (root / "app_eval.py").write_text(GENERATING_APP.format(switch="model.eval()\n"))
    found, _ = lint(root)
    assert {(name, line, code, related) for name, line, code, related in found
            if code == "DL004"} == {("app.py", 8, "DL004", (("helpers.py", 8),))}


SEEDING = '''
from torch import nn


def seed_uniform(tensor, radius=None):
    if radius is None:
        return
    nn.init.uniform_(tensor, -radius, radius)


def describe(tensor):
    print(tensor.shape)


class Seeded(nn.Module):
    def reset_parameters(self):
        if self.scale is not None:
            nn.init.ones_(self.scale)
'''
SEEDED_LAYERS = '''
import functools
import torch
from torch import nn
from seeding import Seeded, describe, seed_uniform


class Mixer(nn.Module):
    def __init__(self, n, d, radius=None):
        super().__init__()
        self.table = nn.Parameter(torch.Tensor(n, d))
        self.seed = functools.partial(seed_uniform, radius=radius)
        if radius is not None:
            self.seed(self.table)
        self.offsets = nn.Parameter(torch.Tensor(n, d))
        seed_uniform(self.offsets, 0.1)
        self.lookup = nn.Parameter(torch.Tensor(n, d))
        describe(self.lookup)


class Scaled(Seeded):
    def __init__(self, n):
        super().__init__()
        self.scale = nn.Parameter(torch.Tensor(n, 1))
        self.shift = nn.Parameter(torch.Tensor(n, 1))
        self.reset_parameters()
'''


def test_helpers_and_base_classes_of_another_file_fill_what_they_are_handed(tmp_path):
    """DL304: a function of another file that fills its parameter on some path, called
    directly or through a partial bound to the instance, and a `reset_parameters` inherited
    from a base class of another file, initialise; a helper that only reads the tensor, and an
    inherited method that fills another attribute, do not."""
    summary = summarise("seeding.py", SEEDING)
    assert summary is not None and summary["parameter_fills"] == {"seed_uniform": [0]}
    assert summary["self_fills"] == {"Seeded.reset_parameters": ["scale"]}
    root = tmp_path / "proj"
    root.mkdir()
    (root / "seeding.py").write_text(SEEDING)
    (root / "layers.py").write_text(SEEDED_LAYERS)
    found, _ = lint(root)
    assert {(name, line) for name, line, code, _ in found if code == "DL304"} == {
        ("layers.py", 17), ("layers.py", 25)}


SWEEPING = '''
from torch import nn


def spread_each(tables):
    for _, table in tables.items():
        nn.init.normal_(table, 0.0, 0.02)


class Swept(nn.Module):
    def reset_parameters(self):
        for tensor in self.parameters():
            nn.init.uniform_(tensor, -0.1, 0.1)
'''
SWEPT_LAYERS = '''
import torch
from torch import nn
from sweeping import Swept, spread_each


class Codebook(Swept):
    def __init__(self, n, d):
        super().__init__()
        self.codes = nn.Parameter(torch.Tensor(n, d))
        self.register_buffer("usage", torch.Tensor(n, 1))
        self.reset_parameters()


def build_tables(sizes, d):
    tables = {name: torch.Tensor(n, d) for name, n in sizes.items()}
    spread_each(tables)
    spares = {name: torch.Tensor(n, d) for name, n in sizes.items()}
    return tables, spares
'''


def test_a_fill_of_each_element_of_a_container_in_another_file_fills_it(tmp_path):
    """DL304: a helper of another file that fills each value of the dict it is handed, and a
    base class's `reset_parameters` that fills each of `self.parameters()`, initialise the
    dict and the subclass's parameters; not the buffer (no parameter) nor the other dict."""
    summary = summarise("sweeping.py", SWEEPING)
    assert summary is not None and summary["parameter_fills"] == {"spread_each": [0]}
    assert summary["self_fills"] == {"Swept.reset_parameters": ["parameters()"]}
    root = tmp_path / "proj"
    root.mkdir()
    (root / "sweeping.py").write_text(SWEEPING)
    (root / "layers.py").write_text(SWEPT_LAYERS)
    found, _ = lint(root)
    assert {(name, line) for name, line, code, _ in found if code == "DL304"} == {
        ("layers.py", 11), ("layers.py", 18)}
