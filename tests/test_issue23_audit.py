"""Issue 23, items 3-5: one small project of each class the issue lists, linted as a folder.

Items 3 and 4 (reach of value flow, forms real code uses) must be found: every line marked
`# BUG` and nothing else, under the case's rule. Item 5 (precision classes) must be silent.
Each case is our own minimal source of the class; docs/issue23-audit.md is the table of items,
their status and the test that covers each one. A case the code does not yet meet is marked
`xfail(strict=True)` with the reason, so that fixing it turns the test red until the mark goes.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from dllint.config import FileConfig, build_settings
from dllint.runner import run

MARK = "# BUG"


@dataclass(frozen=True)
class Case:
    item: str
    code: str
    files: dict[str, str]
    # The case's open reason when today's code does not meet it (an xfail).
    open: str | None = None
    # A silent case's near miss: the edit (old text, new text) that puts the bug back, after
    # which the rule must fire, so the silence is the rule's judgement and not blindness.
    twin: tuple[str, str] | None = None


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _notebook(cells: list[str]) -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
                   "source": _dedent(cell).splitlines(keepends=True)} for cell in cells],
        "metadata": {"kernelspec": {"name": "python3", "language": "python",
                                    "display_name": "Python 3"}},
        "nbformat": 4, "nbformat_minor": 5})


SOFTMAX_NET = '''
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)
'''

# The same net in the file that trains it: the finding is at the activation to remove.
SOFTMAX_NET_HERE = SOFTMAX_NET.replace("dim=1)\n", "dim=1)  # BUG\n")

CASES: list[Case] = []


def case(item: str, code: str, open: str | None = None, twin: tuple[str, str] | None = None,
         **files: str) -> None:
    CASES.append(Case(item, code, {name.replace("__", "/").replace("_DOT_", "."): _dedent(text)
                                   for name, text in files.items()}, open, twin))


# ---- 3. Reach of value flow (must fire) ----

case("3.1 method return value (self.build())", "DL002", train_DOT_py='''
    from torch import nn


    class Classifier:
        def __init__(self):
            self.model = self.build()
            self.criterion = nn.CrossEntropyLoss()

        def build(self):
            return nn.Sequential(nn.Linear(16, 4), nn.Softmax(dim=1))  # BUG

        def loss(self, x, y):
            return self.criterion(self.model(x), y)
    ''')

case("3.1 loop events of a method (obj.step())", "DL101", train_DOT_py='''
    import torch.nn.functional as F


    class Trainer:
        def __init__(self, model, optimizer):
            self.model = model
            self.optimizer = optimizer

        def step(self, x, y):
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            return loss.item()


    def fit(model, optimizer, loader):
        trainer = Trainer(model, optimizer)
        for x, y in loader:
            trainer.step(x, y)  # BUG
    ''')

case("3.1 loop events of a method of a class in another file", "DL101", engine_DOT_py='''
    import torch.nn.functional as F


    class Trainer:
        def __init__(self, model, optimizer):
            self.model = model
            self.optimizer = optimizer

        def step(self, x, y):
            loss = F.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            return loss.item()
    ''', train_DOT_py='''
    from engine import Trainer


    def fit(model, optimizer, loader):
        trainer = Trainer(model, optimizer)
        for x, y in loader:
            trainer.step(x, y)  # BUG
    ''')

case("3.1 a method's return value read in another file", "DL002", builder_DOT_py='''
    from torch import nn


    class Builder:
        def build(self):
            return nn.Sequential(nn.Linear(16, 4), nn.Softmax(dim=1))
    ''', train_DOT_py='''
    from torch import nn
    from builder import Builder

    model = Builder().build()
    criterion = nn.CrossEntropyLoss()


    def step(x, y):
        return criterion(model(x), y)  # BUG
    ''')

case("3.2 attribute of an instance read outside its class, across files", "DL002",
     model_DOT_py=SOFTMAX_NET + '''

class Experiment:
    def __init__(self):
        self.net = Net()
''', train_DOT_py='''
    from torch import nn
    from model import Experiment

    experiment = Experiment()
    criterion = nn.CrossEntropyLoss()


    def step(x, y):
        return criterion(experiment.net(x), y)  # BUG
    ''')

case("3.3 tuple elements of a cross-file return (listings)", "DL001", data_DOT_py='''
    import glob


    def listings(root):
        return glob.glob(root + "/images/*.png"), glob.glob(root + "/masks/*.png")
    ''', train_DOT_py='''
    from data import listings

    images, masks = listings("data")
    pairs = list(zip(images, masks))  # BUG
    ''')

case("3.3 a loss value returned from another file", "DL002", losses_DOT_py='''
    from torch import nn


    def make_criterion():
        return nn.CrossEntropyLoss()
    ''', train_DOT_py='''
    import torch.nn.functional as F
    from losses import make_criterion

    criterion = make_criterion()


    def step(logits, y):
        return criterion(F.softmax(logits, dim=1), y)  # BUG
    ''')

case("3.3 loop events of a helper in another file", "DL101", engine_DOT_py='''
    import torch.nn.functional as F


    def train_step(model, optimizer, x, y):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    ''', train_DOT_py='''
    from engine import train_step


    def fit(model, optimizer, loader):
        for x, y in loader:
            train_step(model, optimizer, x, y)  # BUG
    ''')

for wrapper, imports in (
        ("torch.compile(Net())", "import torch"),
        ("nn.DataParallel(Net())", ""),
        ("DistributedDataParallel(Net(), device_ids=[rank])",
         "from torch.nn.parallel import DistributedDataParallel"),
        ("FSDP(Net())",
         "from torch.distributed.fsdp import FullyShardedDataParallel as FSDP")):
    case(f"3.4 wrapper {wrapper.split('(')[0]}", "DL002", train_DOT_py=SOFTMAX_NET_HERE + f'''
{imports}


def fit(loader, rank=0):
    model = {wrapper}
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
''')

case("3.5 nested lists", "DL001", train_DOT_py='''
    import glob

    folders = [glob.glob("images/*.png"), glob.glob("masks/*.png")]  # BUG
    pairs = list(zip(folders[0], folders[1]))
    ''')

case("3.5 a list of listings returned from another file, unpacked", "DL001", data_DOT_py='''
    import glob


    def folders(root):
        return [glob.glob(root + "/images/*"), glob.glob(root + "/masks/*")]
    ''', train_DOT_py='''
    from data import folders

    images, masks = folders("data")
    pairs = list(zip(images, masks))  # BUG
    ''')

case("3.5 lists passed through a helper", "DL001", train_DOT_py='''
    import glob


    def pair_up(images, masks):
        return list(zip(images, masks))


    pairs = pair_up(glob.glob("images/*.png"), glob.glob("masks/*.png"))  # BUG
    ''')

case("3.6 closure over an enclosing function's parameters", "DL002",
     train_DOT_py=SOFTMAX_NET_HERE + '''

def train(model, loader):
    criterion = nn.CrossEntropyLoss()

    def step(x, y):
        return criterion(model(x), y)

    for x, y in loader:
        step(x, y).backward()


train(Net(), [])
''')

case("3.7 a module passed as an argument, called in another module's forward", "DL002",
     train_DOT_py='''
    import torch.nn.functional as F
    from torch import nn


    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return F.softmax(self.fc(x), dim=1)  # BUG


    class Net(nn.Module):
        def __init__(self, head):
            super().__init__()
            self.body = nn.Linear(32, 64)
            self.head = head

        def forward(self, x):
            return self.head(self.body(x))


    net = Net(Head())
    criterion = nn.CrossEntropyLoss()


    def step(x, y):
        return criterion(net(x), y)
    ''')

case("3.8 star import of a library (from keras.layers import *)", "DL002", train_DOT_py='''
    from keras.layers import *
    from keras.losses import SparseCategoricalCrossentropy
    from keras.models import Sequential

    model = Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")])  # BUG
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True))
    ''')

case("3.8 star import of a project module (from utils import *)", "DL002",
     utils_DOT_py=SOFTMAX_NET, train_DOT_py='''
    from torch import nn
    from utils import *

    net = Net()
    criterion = nn.CrossEntropyLoss()


    def step(x, y):
        return criterion(net(x), y)  # BUG
    ''')

case("3.8 star import of a project module binds the library names it imports", "DL002",
     utils_DOT_py=SOFTMAX_NET, train_DOT_py='''
    from utils import *

    criterion = nn.CrossEntropyLoss()


    def step(logits, y):
        return criterion(F.softmax(logits, dim=1), y)  # BUG
    ''')

case("3.9 a script importing its sibling in a folder without __init__.py", "DL002",
     pyproject_DOT_toml="[project]\nname = 'p'\n",
     scripts__model_DOT_py=SOFTMAX_NET, scripts__train_DOT_py='''
    from torch import nn
    from model import Net

    net = Net()
    criterion = nn.CrossEntropyLoss()


    def step(x, y):
        return criterion(net(x), y)  # BUG
    ''')

case("3.9 a bare-name import never binds a same-named file of another folder", "DL002",
     pyproject_DOT_toml="[project]\nname = 'p'\n",
     a__model_DOT_py=SOFTMAX_NET,
     b__model_DOT_py=SOFTMAX_NET.replace("F.softmax(self.fc(x), dim=1)", "self.fc(x)"),
     b__train_DOT_py='''
    from torch import nn
    from model import Net

    net = Net()
    criterion = nn.CrossEntropyLoss()


    def step(x, y):
        return criterion(net(x), y)
    ''')

# ---- 4. Forms real code uses (must fire) ----

case("4.1 subclassed tf.keras.Model.call as a forward", "DL002", train_DOT_py='''
    import tensorflow as tf


    class Classifier(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(10)

        def call(self, x):
            return tf.nn.softmax(self.dense(x))  # BUG


    model = Classifier()
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


    def train_step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        return tape.gradient(loss, model.trainable_variables)
    ''')

case("4.1 legacy Model(input=..., output=...)", "DL002", train_DOT_py='''
    import tensorflow as tf
    from keras.layers import Dense, Input
    from keras.models import Model

    inputs = Input(shape=(32,))
    outputs = Dense(10, activation="softmax")(inputs)  # BUG
    model = Model(input=inputs, output=outputs)
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True))
    ''')

case("4.1 tflearn layers", "DL002", train_DOT_py='''
    import tflearn

    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 64, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")  # BUG
    net = tflearn.regression(net, optimizer="adam", loss="softmax_categorical_crossentropy")
    ''')

case("4.1 TF 0.x argument order (logits, labels)", "DL002", train_DOT_py='''
    import tensorflow as tf

    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    W = tf.Variable(tf.zeros([784, 10]))
    y = tf.nn.softmax(tf.matmul(x, W))  # BUG
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(y, y_))
    ''')

case("4.1 tf.to_float and resize_bilinear keep pixels in 0-255", "DL003", train_DOT_py='''
    import tensorflow as tf


    def preprocess(raw):
        image = tf.image.decode_jpeg(raw, channels=3)
        image = tf.image.convert_image_dtype(image, tf.float32)
        image = tf.image.resize_bilinear(tf.expand_dims(image, 0), [224, 224])
        return tf.to_float(image) / 255.0  # BUG
    ''')

case("4.1 tf.log of tf.nn.softmax", "DL201", train_DOT_py='''
    import tensorflow as tf

    logits = tf.layers.dense(features, 10)
    probs = tf.nn.softmax(logits)
    loss = -tf.reduce_sum(labels * tf.log(probs), axis=1)  # BUG
    ''')

case("4.1 tf.math.log of tf.nn.softmax", "DL201", train_DOT_py='''
    import tensorflow as tf


    def loss_fn(labels, logits):
        probs = tf.nn.softmax(logits)
        return -tf.reduce_mean(tf.reduce_sum(labels * tf.math.log(probs), axis=-1))  # BUG
    ''')

case("4.1 RNN dropout in a custom GradientTape loop", "DL307", train_DOT_py='''
    import tensorflow as tf

    model = tf.keras.Sequential([
        tf.keras.layers.LSTM(64, dropout=0.3, recurrent_dropout=0.3),
        tf.keras.layers.Dense(1),
    ])
    optimizer = tf.keras.optimizers.Adam()


    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))  # BUG
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ''')

case("4.1 TF1 bias before batch norm", "DL303", train_DOT_py='''
    import tensorflow as tf


    def block(x, is_training):
        h = tf.layers.conv2d(x, 64, 3, padding="same")  # BUG
        h = tf.layers.batch_normalization(h, training=is_training)
        return tf.nn.relu(h)
    ''')

case("4.1 tf.matmul shapes (N, 1) against (N,)", "DL006", train_DOT_py='''
    import tensorflow as tf

    x = tf.placeholder(tf.float32, [None, 13])
    y = tf.placeholder(tf.float32, [None])
    W = tf.Variable(tf.zeros([13, 1]))
    b = tf.Variable(tf.zeros([1]))
    pred = tf.matmul(x, W) + b
    loss = tf.reduce_mean(tf.square(pred - y))  # BUG
    ''')

case("4.1 Keras model in a GradientTape loop without training=True", "DL307",
     train_DOT_py='''
    import tensorflow as tf

    model = tf.keras.Sequential([
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(10),
    ])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()

    for images, labels in dataset:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images))  # BUG
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ''')

case("4.2 hand-written cross-entropy on a sigmoid (torch)", "DL203", train_DOT_py='''
    import torch


    def loss_fn(model, x, y):
        p = torch.sigmoid(model(x))
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()  # BUG
    ''')

case("4.2 hand-written cross-entropy on a sigmoid (numpy)", "DL203", train_DOT_py='''
    import numpy as np


    def sigmoid(z):
        return 1 / (1 + np.exp(-z))


    def cost(w, X, y):
        p = sigmoid(X @ w)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))  # BUG
    ''')

case("4.2 hand-written cross-entropy on a sigmoid (TF)", "DL203", train_DOT_py='''
    import tensorflow as tf


    def loss_fn(logits, labels):
        p = tf.sigmoid(logits)
        return -tf.reduce_mean(labels * tf.math.log(p) + (1 - labels) * tf.math.log(1 - p))  # BUG
    ''')

case("4.3 DL003 a [-1, 1] remap of data already in [0, 1]", "DL003", train_DOT_py='''
    import numpy as np
    from PIL import Image
    from torchvision import transforms


    def load(path):
        image = transforms.ToTensor()(Image.open(path).convert("RGB"))
        return image / 127.5 - 1.0  # BUG
    ''')

case("4.3 DL003 a second /255 before a Normalize whose statistics are divided by 255", "DL003",
     train_DOT_py='''
    import numpy as np
    from torchvision import transforms

    MEAN = np.array([123.7, 116.3, 103.5]) / 255
    STD = np.array([58.4, 57.1, 57.4]) / 255

    preprocess = transforms.Compose([
        transforms.ToTensor(),
        transforms.Lambda(lambda t: t / 255.0),  # BUG
        transforms.Normalize(mean=MEAN, std=STD),
    ])
    ''')

case("4.3 DL003 min-max scaling, then /255", "DL003", train_DOT_py='''
    import cv2


    def load(path):
        image = cv2.imread(path).astype("float32")
        image = (image - image.min()) / (image.max() - image.min())
        return image / 255.0  # BUG
    ''')

case("4.3 DL003 division by the same std twice", "DL003",
     train_DOT_py='''
    import numpy as np
    from torchvision import transforms

    MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


    def load(image):
        x = to_input(image)
        return x / np.array(STD)[:, None, None]  # BUG
    ''')

case("4.4 DL005 [0, 1] floats cast to uint8", "DL005", train_DOT_py='''
    import cv2
    import numpy as np


    def save(path, image):
        image = image.astype(np.float32) / 255.0
        cv2.imwrite(path, image.astype(np.uint8))  # BUG
    ''')

case("4.4 DL005 floats written into a uint8 array", "DL005", train_DOT_py='''
    import numpy as np
    import torch


    def to_mask(logits, height, width):
        probs = torch.sigmoid(logits).numpy()
        canvas = np.zeros((height, width), dtype=np.uint8)
        canvas[:, :] = probs  # BUG
        return canvas
    ''')

case("4.4 DL005 astype(original dtype) without clipping", "DL005", train_DOT_py='''
    import cv2
    import numpy as np


    def brighten(path):
        image = cv2.imread(path)
        brighter = image.astype(np.float32) * 1.4 + 20
        return brighter.astype(image.dtype)  # BUG
    ''')

case("4.4 DL005 uint8 * float is float64", "DL005", train_DOT_py='''
    import cv2
    import torch


    def predict(model, path):
        image = cv2.imread(path)
        x = torch.from_numpy(image * (1 / 255.0)).permute(2, 0, 1)[None]  # BUG
        return model(x)
    ''')

case("4.5 DL004 eval() at the top of the epoch, train() just before backward", "DL004",
     train_DOT_py='''
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 2)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.fc(self.drop(x))


    def fit(loader, optimizer, criterion):
        model = Net()
        for epoch in range(10):
            model.eval()
            for x, y in loader:
                loss = criterion(model(x), y)  # BUG
                model.train()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    ''')

case("4.5 DL004 dropout inside ModuleList", "DL004", train_DOT_py='''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.3))])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x


    def predict(x):
        model = Net()
        with torch.no_grad():
            return model(x)  # BUG
    ''')

case("4.5 DL004 dropout inside ModuleDict", "DL004", train_DOT_py='''
    import torch
    from torch import nn


    class MultiHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Sequential(nn.Dropout(0.2), nn.Linear(8, 2))})

        def forward(self, x):
            return {name: head(x) for name, head in self.heads.items()}


    def predict(x):
        model = MultiHead()
        with torch.no_grad():
            return model(x)  # BUG
    ''')

case("4.5 DL004 trainer engine (ignite) trains, evaluation after it without eval()", "DL004",
     train_DOT_py='''
    import torch
    from ignite.engine import create_supervised_trainer
    from torch import nn


    def main(loader, test_x):
        model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss())
        trainer.run(loader, max_epochs=5)
        with torch.no_grad():
            return model(test_x)  # BUG
    ''')

case("4.5 DL004 .generate() as a model call", "DL004", train_DOT_py='''
    import torch
    from transformers import AutoModelForCausalLM


    def fit(loader, optimizer):
        model = AutoModelForCausalLM.from_pretrained("gpt2")
        model.train()
        for batch in loader:
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        with torch.no_grad():
            return model.generate(batch["input_ids"], max_new_tokens=20)  # BUG
    ''')

case("4.5 DL004 trainer engine (Lightning fit) as training", "DL004", train_DOT_py='''
    import pytorch_lightning as pl
    from torch import nn


    class Net(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.3), nn.Linear(8, 2))

        def forward(self, x):
            return self.fc(x)


    model = Net()
    model.eval()
    trainer = pl.Trainer(max_epochs=3)
    trainer.fit(model)  # BUG
    ''')

NOTEBOOK_BUG = '''
import torch.nn.functional as F

loss = F.cross_entropy(F.softmax(logits, dim=1), labels)  # BUG
'''
for label, odd_cell in (
        ("an automagic (cd dir)", "cd data\n"),
        ("a comment ending in ?", "# is the model ready?\nx = 1\n"),
        ("a continuation line starting with %", "n = (10\n% 3)\n"),
        ("an indented first line", "    x = 1\n    y = 2\n")):
    case(f"4.6 notebook with {label}", "DL002",
         notebook_DOT_ipynb=_notebook([odd_cell, NOTEBOOK_BUG]))

# ---- 5. Precision classes (must be silent) ----

case("5.1 DL004 eval() before a sampling helper is seen inside the helper", "DL004",
     twin=('model.eval()', 'pass'),
     train_DOT_py='''
    import torch
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.3), nn.Linear(8, 8))

        def forward(self, x):
            return self.fc(x)


    @torch.no_grad()
    def sample(model, noise):
        return model(noise)


    def fit(loader, optimizer):
        model = Net()
        for epoch in range(3):
            model.train()
            for x in loader:
                model(x).mean().backward()
                optimizer.step()
                optimizer.zero_grad()
            model.eval()
            sample(model, torch.randn(4, 8))
    ''')

case("5.1 DL004 eval() on an EMA copy does not switch the trained model", "DL004",
     twin=('ema.eval()', 'model.eval()'),
     train_DOT_py='''
    import copy

    from torch import nn


    def fit(loader, optimizer, evaluate):
        model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.3), nn.Linear(8, 2))
        ema = copy.deepcopy(model)
        model.train()
        for epoch in range(3):
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                optimizer.zero_grad()
            ema.eval()
            evaluate(ema)
    ''')

case("5.1 DL004 InstanceNorm without running stats and Dropout(p=0) are not mode-dependent",
     "DL004",
     twin=('nn.InstanceNorm2d(8), nn.Dropout(p=0.0)',
           'nn.InstanceNorm2d(8, track_running_stats=True), nn.Dropout(p=0.1)'),
     train_DOT_py='''
    import torch
    from torch import nn


    def predict(x):
        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8), nn.Dropout(p=0.0))
        with torch.no_grad():
            return model(x)
    ''')

case("5.1 DL004 eval without train() on a model with no dropout or batch norm", "DL004",
     twin=('nn.ReLU()', 'nn.Dropout(0.2)'),
     train_DOT_py='''
    from torch import nn


    def fit(loader, optimizer, validate):
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
        for epoch in range(3):
            for x, y in loader:
                nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                optimizer.zero_grad()
            model.eval()
            validate(model)
    ''')

case("5.1 DL004 a Keras model is not judged by PyTorch's train/eval rule", "DL004",
     train_DOT_py='''
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.Dropout(0.3),
                                 tf.keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x_train, y_train, epochs=3)
    predictions = model(x_test, training=False)
    ''')

case("5.2 DL306 a frozen auxiliary model applied deterministically inside a loss", "DL306",
     twin=('train=True, rngs', 'deterministic=True, rngs'),
     train_DOT_py='''
    import flax.linen as nn
    import jax
    import jax.numpy as jnp


    def train_step(state, vae_params, batch, rng):
        def loss_fn(params):
            latents = vae.apply({"params": vae_params}, batch["image"], deterministic=True)
            pred = unet.apply({"params": params}, latents, train=True, rngs={"dropout": rng})
            return jnp.mean((pred - batch["target"]) ** 2)

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss
    ''')

case("5.2 DL306 sibling evaluation beside a nested value_and_grad caller", "DL306",
     twin=('deterministic=False,', 'deterministic=True,'),
     train_DOT_py='''
    import flax.linen as nn
    import jax
    import optax


    def train_and_evaluate(state, batches, eval_batch, rng):
        def loss_fn(params, batch):
            logits = model.apply({"params": params}, batch["x"], deterministic=False,
                                 rngs={"dropout": rng})
            return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()

        for batch in batches:
            loss, grads = jax.value_and_grad(loss_fn)(state.params, batch)
            state = state.apply_gradients(grads=grads)
        logits = model.apply({"params": state.params}, eval_batch["x"], deterministic=True)
        return (logits.argmax(-1) == eval_batch["y"]).mean()
    ''')

case("5.3 DL003 a parameter named like a scaled module-level variable", "DL003",
     twin=('def preprocess(image):\n    return image.astype',
           'def preprocess(raw):\n    return image.astype'),
     train_DOT_py='''
    import numpy as np
    from PIL import Image
    from torchvision import transforms

    image = transforms.ToTensor()(Image.open("example.png"))


    def preprocess(image):
        return image.astype(np.float32) / 255.0


    batch = preprocess(np.asarray(Image.open("other.png")))
    ''')

case("5.3 DL003 a /255 guarded by a range check", "DL003",
     twin=('if x.max() > 1:\n        x = x / 255.0', 'x = x / 255.0'), train_DOT_py='''
    from torchvision import transforms


    def load(image):
        x = transforms.ToTensor()(image)
        if x.max() > 1:
            x = x / 255.0
        return x
    ''')

case("5.3 DL003 x255 between ToTensor and Normalize", "DL003",
     twin=('transforms.Lambda(lambda t: t * 255),\n', ''), train_DOT_py='''
    from torchvision import transforms

    preprocess = transforms.Compose([
        transforms.ToTensor(),
        transforms.Lambda(lambda t: t * 255),
        transforms.Normalize(mean=[123.7, 116.3, 103.5], std=[58.4, 57.1, 57.4]),
    ])
    ''')

case("5.4 DL104 a per-step loss built with += and accelerator.backward", "DL104",
     twin=('optimizer.zero_grad()\n', 'optimizer.zero_grad()\n        total += loss\n'),
     train_DOT_py='''
    def fit(model, loader, optimizer, accelerator, criterion):
        for batch in loader:
            outputs = model(batch["x"])
            loss = 0
            for name in outputs:
                loss += criterion(outputs[name], batch[name])
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
    ''')

case("5.4 DL104 a per-step loss built with += and scaler.scale(loss).backward()", "DL104",
     twin=('optimizer.zero_grad()\n', 'optimizer.zero_grad()\n        total += loss\n'),
     train_DOT_py='''
    def fit(model, loader, optimizer, scaler, criterion):
        for x, targets in loader:
            outputs = model(x)
            loss = 0.0
            for output, target in zip(outputs, targets):
                loss += criterion(output, target)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
    ''')

case("5.5 DL001 two lists filtered out of one listing", "DL001",
     twin=('[f[:-4] + ".txt" for f in images_with_labels]', 'os.listdir("labels")'),
     train_DOT_py='''
    import os

    files = os.listdir("data")
    images = [f for f in files if f.endswith(".png")]
    images_with_labels = [f for f in images if os.path.exists(f[:-4] + ".txt")]
    pairs = list(zip(images_with_labels, [f[:-4] + ".txt" for f in images_with_labels]))
    ''')

case("5.5 DL001 one loop target read through constant subscripts, partner derived", "DL001",
     twin=('os.path.join("labels", os.path.basename(scan))', 'item[1]'),
     train_DOT_py='''
    import glob
    import os

    samples = []
    for item in zip(glob.glob("scans/*.nii"), glob.glob("labels/*.nii")):
        scan = item[0]
        label = os.path.join("labels", os.path.basename(scan))
        samples.append((scan, label))
    ''')

case("5.6 DL301 listed layers already registered as attributes", "DL301",
     twin=('self.stages = [self.conv1, self.conv2]',
           'self.stages = [nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3)]'),
     train_DOT_py='''
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3)
            self.conv2 = nn.Conv2d(8, 8, 3)
            self.stages = [self.conv1, self.conv2]

        def forward(self, x):
            for stage in self.stages:
                x = stage(x)
            return x
    ''')

case("5.7 DL006 a Linear(n, 1) output squeezed before the loss", "DL006",
     twin=('.squeeze(1)', ''), train_DOT_py='''
    import pandas as pd
    import torch
    import torch.nn.functional as F
    from torch import nn

    regressor = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
    targets = torch.tensor(pd.read_csv("train.csv")["price"].values, dtype=torch.float32)


    def step(x, index):
        prediction = regressor(x).squeeze(1)
        return F.mse_loss(prediction, targets[index])
    ''')

case("5.8 DL501 the torch requirement is read from the linted tree's root", "DL501",
     twin=('torch>=2.6', 'torch>=2.0'),
     requirements_DOT_txt="torch>=2.6\n", src__train_DOT_py='''
    import torch

    state = torch.load("checkpoint.pt")
    ''')


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _marked(files: dict[str, str]) -> set[tuple[str, int | None, int]]:
    marked = set()
    for name, text in files.items():
        if name.endswith(".ipynb"):
            for index, cell in enumerate(json.loads(text)["cells"], 1):
                for line, source in enumerate("".join(cell["source"]).split("\n"), 1):
                    if MARK in source:
                        marked.add((name, index, line))
        else:
            for line, source in enumerate(text.split("\n"), 1):
                if MARK in source:
                    marked.add((name, None, line))
    return marked


def lint_case(tmp_path: Path, item: Case):
    root = tmp_path / "project"
    root.mkdir()
    if not any(name.endswith(("pyproject.toml", "requirements.txt")) for name in item.files):
        (root / "pyproject.toml").write_text("[project]\nname = 'audit'\n")
    _write(root, item.files)
    settings = build_settings(FileConfig(root=root), select=[item.code], start=root)
    # Linted from another working directory: a project's facts come from its own root.
    result = run([str(root)], settings, use_cache=False, jobs=1)
    return {(os.path.relpath(d.path, root).replace(os.sep, "/"), d.cell, d.line, d.code)
            for d in result.diagnostics}


@pytest.mark.parametrize("item", [
    pytest.param(item, id=item.item, marks=[pytest.mark.xfail(reason=item.open, strict=True)]
                 if item.open else []) for item in CASES])
def test_issue23_class(tmp_path, item):
    found = lint_case(tmp_path, item)
    assert {(name, cell, line) for name, cell, line, code in found if code == item.code} == \
        _marked(item.files)
    assert not {code for *_, code in found if code != item.code}, found
    if item.twin is not None:
        old, new = item.twin
        assert any(old in text for text in item.files.values())
        twin = replace(item, files={name: text.replace(old, new)
                                    for name, text in item.files.items()})
        (tmp_path / "twin").mkdir()
        assert {code for *_, code in lint_case(tmp_path / "twin", twin)} == {item.code}
