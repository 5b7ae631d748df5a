"""A model defined in one file and trained or evaluated in another is still judged correctly,
and the cache stays correct when only one of the files changes."""

from __future__ import annotations

import os
from pathlib import Path

from dllint.config import FileConfig, build_settings
from dllint.runner import run
from dllint.semantic.project import summarise, wants_summary

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


def test_a_file_alone_knows_nothing_of_its_neighbours(tmp_path):
    root = project(tmp_path)
    settings = build_settings(FileConfig(root=root))
    result = run([str(root / "train.py")], settings, use_cache=False)
    assert result.diagnostics == []


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
