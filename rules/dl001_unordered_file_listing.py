"""DL001: a directory listing, in arbitrary order, used where order matters."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from dllint.rule import Invalid, NodeEdit, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.effects import Effect
from dllint.semantic.syntax import integer, keyword
from dllint.semantic.values import LISTING, RECORDS, Tag, first, has
from dllint.types import Applicability, RelatedLocation, Span

# Calls that pair their iterables with an index: zipping a listing with these numbers its items.
INDEX_SOURCES = frozenset({"builtins.range", "itertools.count"})
# Calls that take several iterables without pairing them by position.
ORDER_FREE = frozenset({
    "builtins.sorted", "builtins.set", "builtins.frozenset", "builtins.len", "builtins.print",
    "builtins.any", "builtins.all", "builtins.sum", "builtins.min", "builtins.max",
    "builtins.isinstance", "builtins.zip", "builtins.enumerate", "itertools.chain",
}) | catalog.ORDER_KEEPING | catalog.SORTING


def _split_named(arg: cst.Arg) -> str:
    """The data split a keyword argument names (`dev_files=` is "dev"), else ""."""
    if arg.keyword is None:
        return ""
    words = arg.keyword.value.lower().split("_")
    return next((catalog.DATA_SPLIT_WORDS[word] for word in words
                 if word in catalog.DATA_SPLIT_WORDS), "")


class UnorderedFileListing(Rule):
    """
    ## What it does
    Flags a directory listing (`glob.glob`, `glob.iglob`, `os.listdir`, `os.scandir`, `os.walk`,
    `Path.glob`, `Path.rglob`, `Path.iterdir`, TensorFlow's `tf.io.gfile.glob` and
    `tf.io.gfile.listdir`) whose order matters where it is used: two listings paired by position
    (`zip`, `tf.data.Dataset.zip`, `Dataset.from_tensor_slices((images, masks))`, the same index
    into both, both handed to one constructor), a
    listing paired by position with rows loaded from a file (`zip(files, df["label"])`,
    `labels[i]` in a loop over `enumerate(files)`, `df.iloc[index]` beside `files[index]`), a
    listing turned into class indices (`enumerate` into a mapping or beside each class's files,
    `.index()`, `zip` with `range`, `{names[i]: i for i in range(len(names))}`), or a listing
    split with a fixed seed (`train_test_split(files, random_state=0)`, `random.shuffle(files)` or
    `rng.permutation(files)` after `random.seed(0)` or from `rng = random.Random(0)`, or a seeded
    draw compared once per file in a loop over the listing:
    `dest = valid if rng.random() < 0.1 else train`). `next(os.walk(root))[1]`
    counts as a listing of `root`'s directories. `tf.data.Dataset.list_files` counts as a listing
    too: it shuffles the files unless given `shuffle=False` or a seed. Keras' directory loaders
    (`image_dataset_from_directory`, `flow_from_directory`) sort, and are not listings.
    One directory listed twice in one function (the same call, no name in its arguments bound
    again in between) is one listing: the lists filtered or mapped out of it line up. A zipped
    item the loop reads at one position only (`pair[0]`, or `_` for the other name) pairs
    nothing.

    Listings are followed through method return values and attributes (`folder.images()`,
    `dataset.files`); one made in another file of the run is reported where its order matters,
    pointing at where it is made (the fix, `sorted()`, goes there).

    ## Why is this bad?
    These functions return entries in the order the filesystem stores them, which differs between
    machines, filesystems and even runs. Two listings of `images/` and `masks/` that line up on
    your laptop pair each image with another image's mask on the cluster; class indices built
    from `os.listdir` change meaning between the machine that trained the model and the one that
    serves it. Nothing fails: the model just learns from wrong labels. A seeded split of a listing
    puts different files in the test set on each machine, so the seed reproduces nothing.

    ## Example
    ```python
    images = glob.glob("data/images/*.png")
    masks = glob.glob("data/masks/*.png")
    pairs = list(zip(images, masks))
    ```

    ## Use instead
    ```python
    images = sorted(glob.glob("data/images/*.png"))
    masks = sorted(glob.glob("data/masks/*.png"))
    pairs = list(zip(images, masks))
    ```
    Better still, pair files by name (`masks_dir / image.name`) rather than by position.

    ## References
    Pre-processing bugs are among the most common silent deep-learning bugs; `glob` and
    `os.listdir` document their order as arbitrary.
    """

    code = "DL001"
    name = "unordered-file-listing"
    summary = "Directory listing in arbitrary order is paired by position or numbered"
    consumes = (Effect.LISTING, Effect.SHUFFLED_LISTING, Effect.LISTING_METHOD)
    uses_model = True

    VALID = [
        # The same helper call twice lists one directory twice: the two lists line up.
        Valid("""
            import os

            def list_image_files(directory):
                files = os.listdir(directory)
                return [os.path.join(directory, f) for f in files if f.endswith(".png")]

            images = list_image_files("data/A")
            names = [os.path.basename(p) for p in list_image_files("data/A")]
            pairs = list(zip(images, list_image_files("data/A")))
        """),
        Valid("""
            import os
            from six.moves import range

            classes = []
            for subdir in sorted(os.listdir(root)):
                classes.append(subdir)
            class_indices = dict(zip(classes, range(len(classes))))
        """),
        Valid("""
            import glob
            images = sorted(glob.glob("images/*.png"))
            masks = sorted(glob.glob("masks/*.png"))
            pairs = list(zip(images, masks))
        """),
        Valid("""
            import os
            files = os.listdir("data")
            files.sort()
            labels = os.listdir("labels")
            labels.sort()
            for image, label in zip(files, labels):
                print(image, label)
        """),
        Valid("""
            import os
            for name in os.listdir("cache"):
                os.remove(os.path.join("cache", name))
            print(len(os.listdir("data")), "files")
        """),
        Valid("""
            from pathlib import Path
            root = Path("data")
            images = list(root.glob("images/*.png"))
            pairs = [(image, root / "masks" / image.name) for image in images]
        """),
        Valid("""
            import glob
            seen = set(glob.glob("*.png"))
            if "a.png" in seen:
                print("found")
        """),
        Valid("""
            import os
            classes = sorted(entry.name for entry in os.scandir("train") if entry.is_dir())
            class_to_idx = {name: index for index, name in enumerate(classes)}
        """),
        Valid("""
            import glob
            images = glob.glob("images/*.png")
            masks = [path.replace("images", "masks") for path in images]
            pairs = list(zip(images, masks))
        """),
        Valid("""
            import os
            images, labels = [], []
            for name in os.listdir("data"):
                images.append(name)
                labels.append(int(name.split("_")[0]))
            dataset = list(zip(images, labels))
        """),
        Valid("""
            import glob
            for index, path in enumerate(glob.glob("logs/*.txt")):
                print(index, path)
        """),
        Valid("""
            import os
            from natsort import natsorted
            frames = natsorted(os.listdir("frames"))
            masks = natsorted(os.listdir("masks"))
            pairs = zip(frames, masks)
        """),
        # map() keeps the order of the listing it maps over: sorted first, it is stable.
        Valid("""
            import os
            names = list(map(str.upper, sorted(os.listdir(root))))
            label = {name: i for i, name in enumerate(names)}
        """),
        Valid("""
            import glob
            folders = sorted(glob.glob("train/*"))
            class_to_idx = {folders[i]: i for i in range(len(folders))}
        """),
        # A count per class is keyed by name: the listing's order does not reach the values.
        Valid("""
            import os
            counts = {name: len(os.listdir(os.path.join(root, name))) for name in os.listdir(root)}
        """),
        Valid("""
            import os
            class_to_idx = {name: i for i, name in enumerate(sorted(os.listdir(root)))}
        """),
        Valid("""
            import os
            classes = sorted(next(os.walk(root))[1])
            class_to_idx = {name: i for i, name in enumerate(classes)}
        """),
        Valid("""
            import os
            _, classes, _ = next(os.walk(root))
            classes.sort()
            class_to_idx = {name: i for i, name in enumerate(classes)}
        """),
        # The files of each class come in any order: only the class index must be stable.
        Valid("""
            import os
            samples = []
            for label, name in enumerate(sorted(os.listdir(root))):
                for file in os.listdir(os.path.join(root, name)):
                    samples.append((os.path.join(root, name, file), label))
        """),
        Valid("""
            import os
            samples = []
            for name in os.listdir(root):
                for file in os.listdir(os.path.join(root, name)):
                    samples.append((os.path.join(root, name, file), name))
        """),
        Valid("""
            import os
            for i, name in enumerate(os.listdir(root)):
                count = len(os.listdir(os.path.join(root, name)))
                print(f"{i}: {name} has {count} images")
        """),
        Valid("""
            import glob
            import numpy as np
            files = sorted(glob.glob("features/*.npy"))
            labels = np.load("labels.npy")
            for i, path in enumerate(files):
                x, y = np.load(path), labels[i]
        """),
        # The file names come from the annotation file itself: each row names its image.
        Valid("""
            import os
            import pandas as pd
            frame = pd.read_csv("labels.csv")
            images = [os.path.join("images", name) for name in frame["file"]]
            dataset = list(zip(images, frame["label"]))
        """),
        Valid("""
            import os
            import pandas as pd
            from torch.utils.data import Dataset

            class Images(Dataset):
                def __init__(self, root, csv_file):
                    self.root = root
                    self.annotations = pd.read_csv(csv_file)

                def __getitem__(self, index):
                    image = os.path.join(self.root, self.annotations.iloc[index, 0])
                    label = self.annotations.iloc[index, 1]
                    return image, label
        """),
        Valid("""
            import glob
            from sklearn.model_selection import train_test_split
            files = sorted(glob.glob("data/*.png"))
            train, test = train_test_split(files, test_size=0.2, random_state=0)
        """),
        # Unseeded, a shuffle or a draw differs on every run anyway: the order adds nothing.
        Valid("""
            import os
            import random
            files = os.listdir("images")
            random.shuffle(files)
            rng = random.Random()
            for path in os.listdir("clips"):
                if rng.random() < 0.1:
                    print(path)
        """),
        # Sorted first, the seeded shuffle and the seeded draws are the same on every machine.
        Valid("""
            import glob
            import random
            random.seed(0)
            files = sorted(glob.glob("data/*.png"))
            random.shuffle(files)
            rng = random.Random(0)
            for path in sorted(glob.glob("clips/*.wav")):
                if rng.random() < 0.1:
                    print(path)
        """),
        # A seeded draw per file that decides nothing (no comparison): not a split.
        Valid("""
            import glob
            import numpy as np
            rng = np.random.RandomState(0)
            for path in glob.glob("data/*.png"):
                noise = rng.rand()
                print(path, noise)
        """),
        # Unseeded, the split differs on every run anyway: the order adds nothing.
        Valid("""
            import glob
            from sklearn.model_selection import train_test_split
            train, test = train_test_split(glob.glob("data/*.png"), test_size=0.2)
        """),
        # The mask is found by name; the second listing only feeds a name the loop never reads.
        Valid("""
            import glob
            for image, _ in zip(glob.glob("images/*.png"), glob.glob("masks/*.png")):
                mask = image.replace("images", "masks")
        """),
        Valid("""
            import glob
            for image, mask in zip(glob.glob("images/*.png"), glob.glob("masks/*.png")):
                mask = image.replace("images", "masks")
                print(image, mask)
        """),
        # The position points back into the same list, in the same run: it labels nothing.
        Valid("""
            import glob
            files = glob.glob("docs/*.txt")
            hits = []
            for i, path in enumerate(files):
                for line in open(path):
                    if "error" in line:
                        hits.append(i)
            print([files[i] for i in hits])
        """),
        Valid("""
            import glob
            samples = []
            files = glob.glob("volumes/*.npy")
            for i, path in enumerate(files):
                for j in range(16):
                    samples.append((i, j))
        """),
        Valid("""
            import os
            texts, labels = [], []
            for i, name in enumerate(sorted(os.listdir(root))):
                with open(os.path.join(root, name, "data.txt")) as file:
                    for line in file:
                        texts.append(line.lower())
                        labels.append(i)
        """),
        # Two splits of one corpus (flair's MultiCoNer): the training files and the development
        # files are read separately, never matched by position.
        Valid("""
            from pathlib import Path
            data_folder = Path("data")
            train_files = list(data_folder.glob("*-train.conll"))
            dev_files = list(data_folder.glob("*-dev.conll"))
            corpus = MultiFileColumnCorpus(train_files=train_files, dev_files=dev_files)
        """),
        Valid("""
            import tensorflow as tf
            images = sorted(tf.io.gfile.glob("data/images/*.png"))
            masks = sorted(tf.io.gfile.glob("data/masks/*.png"))
            dataset = tf.data.Dataset.from_tensor_slices((images, masks))
        """),
        # Unshuffled, list_files lists the matching files in sorted order.
        Valid("""
            import tensorflow as tf
            images = tf.data.Dataset.list_files("data/images/*.png", shuffle=False)
            masks = tf.data.Dataset.list_files("data/masks/*.png", shuffle=False)
            dataset = tf.data.Dataset.zip((images.map(load_image), masks.map(load_mask)))
        """),
        # One directory listed twice in one function, with the same filter: the same entries
        # in the same order, so the two lists line up item for item.
        Valid("""
            import os
            images = [os.path.join(root, name) for name in os.listdir(root) if name.endswith(".png")]
            names = [name[:-4] for name in os.listdir(root) if name.endswith(".png")]
            pairs = list(zip(images, names))
        """),
        Valid("""
            import os
            from torch.utils.data import Dataset

            class Frames(Dataset):
                def __init__(self, root):
                    self.paths = [os.path.join(root, name) for name in os.listdir(root)]
                    self.ids = [name.split(".")[0] for name in os.listdir(root)]

                def __getitem__(self, index):
                    return self.paths[index], self.ids[index]
        """),
        # The zipped item is read only as `pair[0]`; the mask is derived from the image.
        Valid("""
            import glob
            for pair in zip(glob.glob("images/*.png"), glob.glob("masks/*.png")):
                image = pair[0]
                mask = image.replace("images", "masks")
                print(image, mask)
        """),
        Valid("""
            import glob
            images = glob.glob("images/*.png")
            masks = glob.glob("masks/*.png")
            samples = [(pair[-2], pair[-2].replace("images", "masks")) for pair in zip(images, masks)]
        """),
        # Keras' directory loaders sort the class folders and the files themselves.
        Valid("""
            from tensorflow import keras
            from tensorflow.keras.preprocessing.image import ImageDataGenerator
            train = keras.utils.image_dataset_from_directory("data/train", image_size=(224, 224))
            flow = ImageDataGenerator(rescale=1 / 255).flow_from_directory("data/train")
            class_names = train.class_names
            labels = {name: index for index, name in enumerate(class_names)}
        """),
        # Listings returned by methods, both sorted where they are made.
        Valid("""
            import glob

            class Folder:
                def __init__(self, root):
                    self.root = root

                def images(self):
                    return sorted(glob.glob(self.root + "/images/*.png"))

                def masks(self):
                    return sorted(glob.glob(self.root + "/masks/*.png"))

            folder = Folder("data")
            pairs = list(zip(folder.images(), folder.masks()))
        """),
        # A numbered loop inside another: each position is its own loop's. The labels are the
        # sorted groups' positions; the unsorted names' positions `j` label nothing.
        Valid("""
            import os
            def load(root):
                samples = []
                for i, group in enumerate(sorted(os.listdir(root))):
                    for j, name in enumerate(os.listdir(os.path.join(root, group))):
                        for file in os.listdir(os.path.join(root, group, name)):
                            samples.append((file, i))
                return samples
        """),
        # The position is collected in a function defined in the loop, which runs later with
        # names of its own; the loop's own body stores no label.
        Valid("""
            import os
            def index(root, registry):
                for i, name in enumerate(os.listdir(root)):
                    def entries(folder, i=0):
                        return [(file, i) for file in os.listdir(folder)]
                    registry[name] = entries
        """),
        # The zipped mask is replaced before it is read, in a loop that also reads an index of
        # the images: the masks' order is never used.
        Valid("""
            import os
            images = os.listdir("images")
            masks = os.listdir("masks")
            for image, mask in zip(sorted(images), masks):
                mask = image.replace("images", "masks")
                save(image, mask, sorted(images).index(image))
        """),
        # The sorted element of a list display, numbered: the unsorted one beside it is not read.
        Valid("""
            import glob
            folders = [glob.glob("images/*.png"), sorted(glob.glob("masks/*.png"))]
            masks = folders[1]
            index = {name: i for i, name in enumerate(masks)}
        """),
        # A walk that breaks after its first step lists the top folder only, and the file names
        # are rebound to a sorted copy before they are read: nothing is in arbitrary order.
        Valid("""
            import os

            def top_level_clips(folder):
                clips = []
                for base, subfolders, names in os.walk(folder):
                    names = sorted(names)
                    for name in names:
                        clips.append(os.path.join(base, name))
                    break
                return clips

            left, right = top_level_clips("left"), top_level_clips("right")
            for index in range(len(left)):
                print(left[index], right[index])
        """),
    ]
    INVALID = [
        # A helper that lists a directory, called for two directories: two listings.
        Invalid("""
            import os

            def list_image_files(directory):
                files = os.listdir(directory)
                return [os.path.join(directory, f) for f in files if f.endswith(".png")]

            blurred = list_image_files("data/A")
            sharp = list_image_files("data/B")
            pairs = list(zip(blurred, sharp))
        """, line=4, related_lines=(9,), fixed="""
            import os

            def list_image_files(directory):
                files = sorted(os.listdir(directory))
                return [os.path.join(directory, f) for f in files if f.endswith(".png")]

            blurred = list_image_files("data/A")
            sharp = list_image_files("data/B")
            pairs = list(zip(blurred, sharp))
        """),
        # `range` from a Python 2/3 compatibility module is the builtin: the listing is numbered.
        Invalid("""
            import os
            from six.moves import range

            classes = []
            for subdir in os.listdir(root):
                classes.append(subdir)
            class_indices = dict(zip(classes, range(len(classes))))
        """, line=5, related_lines=(7,), fixed="""
            import os
            from six.moves import range

            classes = []
            for subdir in sorted(os.listdir(root)):
                classes.append(subdir)
            class_indices = dict(zip(classes, range(len(classes))))
        """),
        # A listing returned by a method of a dataset class, paired where it is called.
        Invalid("""
            import glob

            class Folder:
                def __init__(self, root):
                    self.root = root

                def images(self):
                    return glob.glob(self.root + "/images/*.png")

                def masks(self):
                    return sorted(glob.glob(self.root + "/masks/*.png"))

            folder = Folder("data")
            pairs = list(zip(folder.images(), folder.masks()))
        """, line=8, related_lines=(14,), fixed="""
            import glob

            class Folder:
                def __init__(self, root):
                    self.root = root

                def images(self):
                    return sorted(glob.glob(self.root + "/images/*.png"))

                def masks(self):
                    return sorted(glob.glob(self.root + "/masks/*.png"))

            folder = Folder("data")
            pairs = list(zip(folder.images(), folder.masks()))
        """),
        Invalid("""
            import glob
            images = glob.glob("images/*.png")
            masks = sorted(glob.glob("masks/*.png"))
            pairs = list(zip(images, masks))
        """, line=2, related_lines=(4,), fixed="""
            import glob
            images = sorted(glob.glob("images/*.png"))
            masks = sorted(glob.glob("masks/*.png"))
            pairs = list(zip(images, masks))
        """),
        Invalid("""
            from glob import glob as find
            images = find("images/*.png")
            masks = find("masks/*.png")
            for image, mask in zip(images, masks):
                pass
        """, line=2, more_lines=(3,), related_lines=(4,), fixed="""
            from glob import glob as find
            images = sorted(find("images/*.png"))
            masks = sorted(find("masks/*.png"))
            for image, mask in zip(images, masks):
                pass
        """),
        Invalid("""
            import os
            classes = [d for d in os.listdir("train") if os.path.isdir(d)]
            class_to_idx = {name: index for index, name in enumerate(classes)}
        """, line=2, related_lines=(3,), fixed="""
            import os
            classes = [d for d in sorted(os.listdir("train")) if os.path.isdir(d)]
            class_to_idx = {name: index for index, name in enumerate(classes)}
        """),
        Invalid("""
            import os
            from torch.utils.data import Dataset

            class Segmentation(Dataset):
                def __init__(self, root):
                    self.images = os.listdir(os.path.join(root, "images"))
                    self.masks = sorted(os.listdir(os.path.join(root, "masks")))

                def __getitem__(self, index):
                    return self.images[index], self.masks[index]
        """, line=6, related_lines=(10,), fixed="""
            import os
            from torch.utils.data import Dataset

            class Segmentation(Dataset):
                def __init__(self, root):
                    self.images = sorted(os.listdir(os.path.join(root, "images")))
                    self.masks = sorted(os.listdir(os.path.join(root, "masks")))

                def __getitem__(self, index):
                    return self.images[index], self.masks[index]
        """),
        Invalid("""
            from pathlib import Path
            root = Path("data")
            images = list(root.glob("images/*.jpg"))
            masks = sorted(root.glob("masks/*.jpg"))
            dataset = SegmentationDataset(images, masks)
        """, line=3, related_lines=(5,), fixed="""
            from pathlib import Path
            root = Path("data")
            images = sorted(root.glob("images/*.jpg"))
            masks = sorted(root.glob("masks/*.jpg"))
            dataset = SegmentationDataset(images, masks)
        """),
        # Already in list(): the fix makes it sorted(), keeping os.scandir's key, not
        # list(sorted(...)).
        Invalid("""
            import os
            images = list(os.scandir("images"))
            masks = sorted(os.scandir("masks"), key=lambda entry: entry.name)
            pairs = list(zip(images, masks))
        """, line=2, related_lines=(4,), fixed="""
            import os
            images = sorted(os.scandir("images"), key=lambda entry: entry.name)
            masks = sorted(os.scandir("masks"), key=lambda entry: entry.name)
            pairs = list(zip(images, masks))
        """),
        # Near miss of flair's corpus: keywords that name no data split, so one pairing.
        Invalid("""
            from pathlib import Path
            root = Path("data")
            images = list(root.glob("images/*.jpg"))
            masks = sorted(root.glob("masks/*.jpg"))
            dataset = SegmentationDataset(image_files=images, mask_files=masks)
        """, line=3, related_lines=(5,), fixed="""
            from pathlib import Path
            root = Path("data")
            images = sorted(root.glob("images/*.jpg"))
            masks = sorted(root.glob("masks/*.jpg"))
            dataset = SegmentationDataset(image_files=images, mask_files=masks)
        """),
        Invalid("""
            import os
            classes = os.listdir("train")
            label = classes.index("cat")
        """, line=2, related_lines=(3,), fixed="""
            import os
            classes = sorted(os.listdir("train"))
            label = classes.index("cat")
        """),
        Invalid("""
            import os
            names = [entry.name for entry in os.scandir("train")]
            mapping = dict(zip(names, range(len(names))))
        """, line=2, related_lines=(3,), fixed="""
            import os
            names = [entry.name for entry in sorted(os.scandir("train"), key=lambda entry: entry.name)]
            mapping = dict(zip(names, range(len(names))))
        """),
        Invalid("""
            import os
            images, masks = [], []
            for root, dirs, files in os.walk("images"):
                for name in files:
                    images.append(os.path.join(root, name))
            for root, dirs, files in os.walk("masks"):
                for name in files:
                    masks.append(os.path.join(root, name))
            pairs = list(zip(images, masks))
        """, line=3, more_lines=(6,), related_lines=(9,)),
        # Its twins: without the break every folder is visited in the walk's order; with it,
        # the names of the top folder still come unsorted.
        Invalid("""
            import os

            def every_clip(folder):
                clips = []
                for base, subfolders, names in os.walk(folder):
                    names = sorted(names)
                    for name in names:
                        clips.append(os.path.join(base, name))
                return clips

            left, right = every_clip("left"), every_clip("right")
            for index in range(len(left)):
                print(left[index], right[index])
        """, line=5),
        Invalid("""
            import os

            def top_level_clips(folder):
                clips = []
                for base, subfolders, names in os.walk(folder):
                    for name in names:
                        clips.append(os.path.join(base, name))
                    break
                return clips

            left, right = top_level_clips("left"), top_level_clips("right")
            for index in range(len(left)):
                print(left[index], right[index])
        """, line=5),
        Invalid("""
            import os
            classes = os.listdir("train")
            class_to_idx = {}
            for index, name in enumerate(classes):
                class_to_idx[name] = index
        """, line=2, related_lines=(5,), fixed="""
            import os
            classes = sorted(os.listdir("train"))
            class_to_idx = {}
            for index, name in enumerate(classes):
                class_to_idx[name] = index
        """),
        Invalid("""
            import glob

            def load(root):
                frames = glob.iglob(root + "/frames/*.png")
                flows = glob.iglob(root + "/flows/*.flo")
                for index in range(100):
                    pass
                return list(zip(frames, flows))
        """, line=4, more_lines=(5,), related_lines=(8,), fixed="""
            import glob

            def load(root):
                frames = sorted(glob.iglob(root + "/frames/*.png"))
                flows = sorted(glob.iglob(root + "/flows/*.flo"))
                for index in range(100):
                    pass
                return list(zip(frames, flows))
        """),
        # map() keeps the order of the listing it maps over (its last argument).
        Invalid("""
            import os
            names = list(map(str.upper, os.listdir(root)))
            label = {name: i for i, name in enumerate(names)}
        """, line=2, related_lines=(3,), fixed="""
            import os
            names = list(map(str.upper, sorted(os.listdir(root))))
            label = {name: i for i, name in enumerate(names)}
        """),
        Invalid("""
            import glob
            folders = glob.glob("train/*")
            class_to_idx = {folders[i]: i for i in range(len(folders))}
        """, line=2, related_lines=(3,), fixed="""
            import glob
            folders = sorted(glob.glob("train/*"))
            class_to_idx = {folders[i]: i for i in range(len(folders))}
        """),
        Invalid("""
            import os
            class_to_idx = {name: i for i, name in enumerate(os.listdir(root))}
        """, line=2, related_lines=(2,), fixed="""
            import os
            class_to_idx = {name: i for i, name in enumerate(sorted(os.listdir(root)))}
        """),
        # next(os.walk(root)) is the walk's first step: (root, dirs, files) of root itself.
        Invalid("""
            import os
            classes = next(os.walk(root))[1]
            class_to_idx = {name: i for i, name in enumerate(classes)}
        """, line=2, related_lines=(3,), fixed="""
            import os
            classes = sorted(next(os.walk(root))[1])
            class_to_idx = {name: i for i, name in enumerate(classes)}
        """),
        Invalid("""
            import os
            _, classes, _ = next(os.walk(root))
            class_to_idx = {name: i for i, name in enumerate(classes)}
        """, line=2, related_lines=(3,)),
        Invalid("""
            import os
            samples = []
            for label, name in enumerate(os.listdir(root)):
                for file in os.listdir(os.path.join(root, name)):
                    samples.append((os.path.join(root, name, file), label))
        """, line=3, related_lines=(5,), fixed="""
            import os
            samples = []
            for label, name in enumerate(sorted(os.listdir(root))):
                for file in os.listdir(os.path.join(root, name)):
                    samples.append((os.path.join(root, name, file), label))
        """),
        Invalid("""
            import glob
            import os
            classes = os.listdir(root)
            paths, labels = [], []
            for index, name in enumerate(classes):
                files = glob.glob(os.path.join(root, name, "*.jpg"))
                paths += files
                labels += [index] * len(files)
        """, line=3, related_lines=(8,), fixed="""
            import glob
            import os
            classes = sorted(os.listdir(root))
            paths, labels = [], []
            for index, name in enumerate(classes):
                files = glob.glob(os.path.join(root, name, "*.jpg"))
                paths += files
                labels += [index] * len(files)
        """),
        # One label per line of each class's file: the class index is the listing position.
        Invalid("""
            import os
            texts, labels = [], []
            for i, name in enumerate(os.listdir(root)):
                with open(os.path.join(root, name, "data.txt")) as file:
                    for line in file:
                        texts.append(line.lower())
                        labels.append(i)
        """, line=3, related_lines=(7,), fixed="""
            import os
            texts, labels = [], []
            for i, name in enumerate(sorted(os.listdir(root))):
                with open(os.path.join(root, name, "data.txt")) as file:
                    for line in file:
                        texts.append(line.lower())
                        labels.append(i)
        """),
        Invalid("""
            import glob
            import numpy as np
            files = glob.glob("features/*.npy")
            labels = np.load("labels.npy")
            for i, path in enumerate(files):
                x, y = np.load(path), labels[i]
        """, line=3, related_lines=(6,), fixed="""
            import glob
            import numpy as np
            files = sorted(glob.glob("features/*.npy"))
            labels = np.load("labels.npy")
            for i, path in enumerate(files):
                x, y = np.load(path), labels[i]
        """),
        Invalid("""
            import glob
            import pandas as pd
            frame = pd.read_csv("labels.csv")
            images = glob.glob("images/*.png")
            dataset = list(zip(images, frame["label"]))
        """, line=4, related_lines=(5,), fixed="""
            import glob
            import pandas as pd
            frame = pd.read_csv("labels.csv")
            images = sorted(glob.glob("images/*.png"))
            dataset = list(zip(images, frame["label"]))
        """),
        Invalid("""
            import os
            import pandas as pd
            from torch.utils.data import Dataset

            class Images(Dataset):
                def __init__(self, root, csv_file):
                    self.files = os.listdir(root)
                    self.annotations = pd.read_csv(csv_file)

                def __getitem__(self, index):
                    image = self.files[index]
                    label = self.annotations.iloc[index, 1]
                    return image, label
        """, line=7, related_lines=(12,), fixed="""
            import os
            import pandas as pd
            from torch.utils.data import Dataset

            class Images(Dataset):
                def __init__(self, root, csv_file):
                    self.files = sorted(os.listdir(root))
                    self.annotations = pd.read_csv(csv_file)

                def __getitem__(self, index):
                    image = self.files[index]
                    label = self.annotations.iloc[index, 1]
                    return image, label
        """),
        Invalid("""
            import glob
            from sklearn.model_selection import train_test_split
            train, test = train_test_split(glob.glob("data/*.png"), random_state=0)
        """, line=3, related_lines=(3,), fixed="""
            import glob
            from sklearn.model_selection import train_test_split
            train, test = train_test_split(sorted(glob.glob("data/*.png")), random_state=0)
        """),
        Invalid("""
            import os
            from sklearn.model_selection import train_test_split
            files = [os.path.join("data", name) for name in os.listdir("data")]
            labels = [int(os.path.basename(path).split("_")[0]) for path in files]
            x_train, x_test, y_train, y_test = train_test_split(files, labels, random_state=42)
        """, line=3, related_lines=(5,), fixed="""
            import os
            from sklearn.model_selection import train_test_split
            files = [os.path.join("data", name) for name in sorted(os.listdir("data"))]
            labels = [int(os.path.basename(path).split("_")[0]) for path in files]
            x_train, x_test, y_train, y_test = train_test_split(files, labels, random_state=42)
        """),
        Invalid("""
            import tensorflow as tf
            images = tf.io.gfile.glob("data/images/*.png")
            masks = sorted(tf.io.gfile.glob("data/masks/*.png"))
            dataset = tf.data.Dataset.from_tensor_slices((images, masks))
        """, line=2, related_lines=(4,), fixed="""
            import tensorflow as tf
            images = sorted(tf.io.gfile.glob("data/images/*.png"))
            masks = sorted(tf.io.gfile.glob("data/masks/*.png"))
            dataset = tf.data.Dataset.from_tensor_slices((images, masks))
        """),
        Invalid("""
            import pandas as pd
            import tensorflow as tf
            labels = pd.read_csv("labels.csv")["label"].values
            files = tf.io.gfile.listdir("data/images")
            dataset = tf.data.Dataset.from_tensor_slices((files, labels))
        """, line=4, related_lines=(5,), fixed="""
            import pandas as pd
            import tensorflow as tf
            labels = pd.read_csv("labels.csv")["label"].values
            files = sorted(tf.io.gfile.listdir("data/images"))
            dataset = tf.data.Dataset.from_tensor_slices((files, labels))
        """),
        # The same text, but `folder` names another directory by the second listing.
        Invalid("""
            import os
            folder = "images"
            images = [os.path.join(folder, name) for name in os.listdir(folder)]
            folder = "masks"
            masks = [os.path.join(folder, name) for name in os.listdir(folder)]
            pairs = list(zip(images, masks))
        """, line=3, more_lines=(5,), related_lines=(6,), fixed="""
            import os
            folder = "images"
            images = [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
            folder = "masks"
            masks = [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
            pairs = list(zip(images, masks))
        """),
        # The same text in two functions: `root` is each function's own parameter.
        Invalid("""
            import os

            def images(root):
                return [name for name in os.listdir(root)]

            def masks(root):
                return [name for name in os.listdir(root)]

            pairs = list(zip(images("images"), masks("masks")))
        """, line=4, more_lines=(7,), related_lines=(9,), fixed="""
            import os

            def images(root):
                return [name for name in sorted(os.listdir(root))]

            def masks(root):
                return [name for name in sorted(os.listdir(root))]

            pairs = list(zip(images("images"), masks("masks")))
        """),
        Invalid("""
            from torch.utils.data import Dataset
            import os

            class Frames(Dataset):
                def __init__(self, root):
                    self.paths = [os.path.join(root, name) for name in os.listdir(root + "/images")]
                    self.ids = [name.split(".")[0] for name in os.listdir(root + "/masks")]

                def __getitem__(self, index):
                    return self.paths[index], self.ids[index]
        """, line=6, more_lines=(7,), related_lines=(10,), fixed="""
            from torch.utils.data import Dataset
            import os

            class Frames(Dataset):
                def __init__(self, root):
                    self.paths = [os.path.join(root, name) for name in sorted(os.listdir(root + "/images"))]
                    self.ids = [name.split(".")[0] for name in sorted(os.listdir(root + "/masks"))]

                def __getitem__(self, index):
                    return self.paths[index], self.ids[index]
        """),
        # Both items of the zipped pair are read by position.
        Invalid("""
            import glob
            images = glob.glob("images/*.png")
            masks = glob.glob("masks/*.png")
            for pair in zip(images, masks):
                image, mask = load(pair[0]), load(pair[-1])
        """, line=2, more_lines=(3,), related_lines=(4,), fixed="""
            import glob
            images = sorted(glob.glob("images/*.png"))
            masks = sorted(glob.glob("masks/*.png"))
            for pair in zip(images, masks):
                image, mask = load(pair[0]), load(pair[-1])
        """),
        Invalid("""
            import glob
            images = glob.glob("images/*.png")
            masks = glob.glob("masks/*.png")
            for pair in zip(images, masks):
                show(*pair)
        """, line=2, more_lines=(3,), related_lines=(4,), fixed="""
            import glob
            images = sorted(glob.glob("images/*.png"))
            masks = sorted(glob.glob("masks/*.png"))
            for pair in zip(images, masks):
                show(*pair)
        """),
        # Each call of list_files shuffles anew: the same pattern twice is two orders.
        Invalid("""
            import tensorflow as tf
            images = tf.data.Dataset.list_files("data/*.png")
            labels = tf.data.Dataset.list_files("data/*.png")
            dataset = tf.data.Dataset.zip((images.map(load_image), labels.map(load_label)))
        """, line=2, more_lines=(3,), related_lines=(4,), fixed="""
            import tensorflow as tf
            images = tf.data.Dataset.list_files("data/*.png", shuffle=False)
            labels = tf.data.Dataset.list_files("data/*.png", shuffle=False)
            dataset = tf.data.Dataset.zip((images.map(load_image), labels.map(load_label)))
        """),
        # list_files shuffles by default, each dataset in its own order.
        Invalid("""
            import tensorflow as tf
            images = tf.data.Dataset.list_files("data/images/*.png")
            masks = tf.data.Dataset.list_files("data/masks/*.png")
            dataset = tf.data.Dataset.zip((images.map(load_image), masks.map(load_mask)))
        """, line=2, more_lines=(3,), related_lines=(4,), fixed="""
            import tensorflow as tf
            images = tf.data.Dataset.list_files("data/images/*.png", shuffle=False)
            masks = tf.data.Dataset.list_files("data/masks/*.png", shuffle=False)
            dataset = tf.data.Dataset.zip((images.map(load_image), masks.map(load_mask)))
        """),
        # The inner numbered loop's position is collected beside the files each entry lists.
        Invalid("""
            import os
            def load(root):
                samples = []
                for i, group in enumerate(sorted(os.listdir(root))):
                    for j, name in enumerate(os.listdir(os.path.join(root, group))):
                        for file in os.listdir(os.path.join(root, group, name)):
                            samples.append((file, j))
                return samples
        """, line=5, related_lines=(7,), fixed="""
            import os
            def load(root):
                samples = []
                for i, group in enumerate(sorted(os.listdir(root))):
                    for j, name in enumerate(sorted(os.listdir(os.path.join(root, group)))):
                        for file in os.listdir(os.path.join(root, group, name)):
                            samples.append((file, j))
                return samples
        """),
        # The class index, decided when its loop's body ends, is the first use of the order, and
        # the one reported: the zip after the loop reports only the other listing.
        Invalid("""
            import os
            classes = os.listdir("data")
            index = {}
            for i, name in enumerate(classes):
                index[name] = i
            pairs = list(zip(classes, os.listdir("labels")))
        """, line=2, more_lines=(6,), related_lines=(5,), fixed="""
            import os
            classes = sorted(os.listdir("data"))
            index = {}
            for i, name in enumerate(classes):
                index[name] = i
            pairs = list(zip(classes, sorted(os.listdir("labels"))))
        """),
        # Two uses of the images' order: the zip (decided when its loop ends, once the body
        # showed both items read) comes first in the code, and is the one reported.
        Invalid("""
            import os
            images = os.listdir("images")
            masks = os.listdir("masks")
            for image, mask in zip(images, masks):
                save(image, mask, images.index(image))
        """, line=2, more_lines=(3,), related_lines=(4,), fixed="""
            import os
            images = sorted(os.listdir("images"))
            masks = sorted(os.listdir("masks"))
            for image, mask in zip(images, masks):
                save(image, mask, images.index(image))
        """),
        # Each file takes the next draw of a seeded generator: which files the draws send to the
        # validation set follows the listing's order.
        Invalid("""
            import glob
            import random
            rng = random.Random(0)
            train, valid = [], []
            for path in glob.iglob("clips/**/*.wav", recursive=True):
                (valid if rng.random() < 0.1 else train).append(path)
        """, line=5, related_lines=(6,), fixed="""
            import glob
            import random
            rng = random.Random(0)
            train, valid = [], []
            for path in sorted(glob.iglob("clips/**/*.wav", recursive=True)):
                (valid if rng.random() < 0.1 else train).append(path)
        """),
        Invalid("""
            import os
            import random
            random.seed(42)
            files = os.listdir("images")
            random.shuffle(files)
            train, test = files[:800], files[800:]
        """, line=4, related_lines=(5,), fixed="""
            import os
            import random
            random.seed(42)
            files = sorted(os.listdir("images"))
            random.shuffle(files)
            train, test = files[:800], files[800:]
        """),
        Invalid("""
            import glob
            import numpy as np
            rng = np.random.default_rng(seed=1)
            order = rng.permutation(glob.glob("data/*.png"))
        """, line=4, related_lines=(4,), fixed="""
            import glob
            import numpy as np
            rng = np.random.default_rng(seed=1)
            order = rng.permutation(sorted(glob.glob("data/*.png")))
        """),
        # A list display is positional, as a tuple is: `folders[0]` is the first listing.
        Invalid("""
            import glob
            folders = [glob.glob("images/*.png"), sorted(glob.glob("masks/*.png"))]
            pairs = list(zip(folders[0], folders[1]))
        """, line=2, fixed="""
            import glob
            folders = [sorted(glob.glob("images/*.png")), sorted(glob.glob("masks/*.png"))]
            pairs = list(zip(folders[0], folders[1]))
        """),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        # Subscripts by index name, per function: `images[i]` and `masks[i]` pair two listings.
        # A rows-from-a-file subscript is kept with no listing (None).
        self.indexed: list[dict[str, list[tuple[cst.Subscript, Tag | None]]]] = [{}]
        # Parameter names per function: `self.labels[idx]` in `__getitem__(self, idx)` reads
        # the row a caller's index picks, as `self.files[idx]` reads the file.
        self.parameters: list[frozenset[str]] = [frozenset()]
        self.target_depth = 0
        self.reported_elsewhere: set[tuple[str, Span]] = set()
        # zip() calls whose items are unpacked into names the loop never reads, by position:
        # `for image, _ in zip(images, masks)` pairs nothing with the masks.
        self.unread_positions: dict[int, frozenset[int]] = {}
        # Open loops and comprehensions over `enumerate(listing)` / `range(len(listing))`: the
        # index name, the listing, and the loop that binds it.
        self.positions: list[tuple[str, Tag, cst.CSTNode]] = []
        # Per function (the module first): how often each name has been bound so far, a
        # parameter counting once. `os.listdir(d)` twice in one function, `d` bound once, lists
        # one directory twice: the same entries in the same order.
        self.bindings: list[dict[str, int]] = [{}]
        self.scopes: list[cst.CSTNode | None] = [None]
        # Listing calls by id, with what they list: their function's scope and their text.
        self.listed: dict[int, tuple[int, str]] = {}
        # Findings are decided in walk order, some only when their loop is left: each decision
        # keeps the place in that order where its evidence was seen, and per listing the
        # earliest decision stands (one finding per listing), reported in leave_Module.
        self.decision_order = itertools.count()
        self.findings: dict[int, tuple[int, Tag, cst.CSTNode, str]] = {}
        # `for` loops over zip(...) whose unread items are known only when the loop is left, by
        # the id of their zip call.
        self.zip_loops: dict[int, _ZipLoop] = {}
        # Observers of loop bodies, fed by this rule's own hooks during the one walk: numbered
        # loops' index uses (per function: a function defined in a loop runs later) and zipped
        # items read by position, by name.
        self.waiting_index_uses: list[_IndexUses] = []
        self.index_uses: list[list[_IndexUses]] = [[]]
        self.waiting_item_reads: list[_ItemReads] = []
        self.item_reads: dict[str, list[_ItemReads]] = {}
        self.subscripted: set[int] = set()  # ids of the names in `pair[0]` read by position
        # `list(listing)` calls by the id of the listing they hold: the fix turns `list` into
        # `sorted` (which returns a list) rather than wrapping it into `list(sorted(...))`.
        self.list_calls: dict[int, cst.Call] = {}
        # Seeded random generators: names bound to one per scope, whether `random.seed` (or
        # numpy's) was called, the loops over a listing open now (innermost last) and how deep
        # in comparisons the walk is.
        self.seeded_generators: list[set[str]] = [set()]
        self.globally_seeded = False
        self.listing_loops: list[tuple[Tag | None, cst.For]] = []
        self.comparison_depth = 0

    def listing(self, node: cst.BaseExpression) -> Tag | None:
        return first(self.facts.value(node), LISTING)

    def records(self, node: cst.BaseExpression) -> bool:
        return has(self.facts.value(node), RECORDS)

    # ---- scopes -----------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.index_uses.append([])
        self.indexed.append({})
        params = node.params
        self.parameters.append(frozenset(
            param.name.value for param in (*params.posonly_params, *params.params,
                                           *params.kwonly_params)))
        self.bindings.append(dict.fromkeys(self.parameters[-1], 1))
        self.scopes.append(node)
        self.seeded_generators.append(set())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.index_uses.pop()
        self.check_shared_index(self.indexed.pop(), self.parameters.pop())
        self.bindings.pop()
        self.scopes.pop()
        self.seeded_generators.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.index_uses.append([])

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.index_uses.pop()

    def leave_Module(self, original_node: cst.Module) -> None:
        self.check_shared_index(self.indexed[0], self.parameters[0])
        for _, listing, sink, why in sorted(self.findings.values(), key=lambda found: found[0]):
            self.report_listing(listing, sink, why)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.target_depth += 1
        self.note_binding(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        for uses in self.index_uses[-1]:
            uses.aug_assign(node)
        self.note_binding(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.note_binding(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.note_binding(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self.note_binding(node.name)

    def note_binding(self, target: cst.BaseExpression) -> None:
        for name in _bound_names(target):
            self.bindings[-1][name] = self.bindings[-1].get(name, 0) + 1

    def note_listing(self, node: cst.Call) -> None:
        """Records what the listing call `node` lists, unless a name its arguments read was
        bound more than once (`path = images; ...; path = masks`): then it is a listing of its
        own, like every other."""
        if any(count > 1 for name in _read_names(*(arg.value for arg in node.args))
               for count in (scope.get(name, 0) for scope in self.bindings)):
            return
        self.listed[id(node)] = (id(self.scopes[-1]), self.context.module.code_for_node(node))

    def listing_key(self, listing: Tag) -> object:
        """Two listings of one directory in one function (the same call text, its arguments
        unchanged between them) come in the same order: two lists filtered or mapped out of
        them are paired as a list with itself. A shuffled listing shuffles on each call."""
        if listing.info.shuffled or listing.node is None:
            return id(listing)
        if listing.via is not None:  # made by a call of the file's function: that call lists
            if id(listing.via) not in self.listed and isinstance(listing.via, cst.Call):
                self.note_listing(listing.via)  # an argument of the sink, not visited yet
            return self.listed.get(id(listing.via), id(listing.via))
        return self.listed.get(id(listing.node), id(listing))

    def leave_AssignTarget(self, original_node: cst.AssignTarget) -> None:
        self.target_depth -= 1

    # ---- sinks: where order matters ---------------------------------------------------------

    def visit_For(self, node: cst.For) -> None:
        for uses in self.index_uses[-1]:
            uses.enter_loop(node)
        self.note_binding(node.target)
        self.watch_zipped_items(node)
        numbered = self.numbered_listing(node.iter, node.target)
        if numbered is not None:
            index_name, listing = numbered
            self.waiting_index_uses.append(_IndexUses(
                index_name, listing, node, _counted(node.iter), self.lists_directory,
                next(self.decision_order)))
            self.positions.append((*numbered, node))
        self.listing_loops.append((self.listing(node.iter), node))

    def leave_For(self, original_node: cst.For) -> None:
        self.listing_loops.pop()
        for uses in self.index_uses[-1]:
            uses.leave_loop()
        self.close_positions(original_node)
        zipped = self.zip_loops.pop(id(original_node.iter), None)
        if zipped is not None:
            self.check_zip_loop(zipped)

    def visit_While(self, node: cst.While) -> None:
        for uses in self.index_uses[-1]:
            uses.enter_loop(node)

    def leave_While(self, original_node: cst.While) -> None:
        for uses in self.index_uses[-1]:
            uses.leave_loop()

    # A loop's body begins and ends: the observers of that body start and stop.
    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.begin_body(node)

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.end_body(original_node)

    def visit_SimpleStatementSuite(self, node: cst.SimpleStatementSuite) -> None:
        self.begin_body(node)

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite) -> None:
        self.end_body(original_node)

    def begin_body(self, node: cst.BaseSuite) -> None:
        # The loop whose body this is was the last one seen: it is the body's parent.
        if self.waiting_index_uses and self.waiting_index_uses[-1].loop.body is node:
            self.index_uses[-1].append(self.waiting_index_uses.pop())
        if self.waiting_item_reads and self.waiting_item_reads[-1].loop.body is node:
            reads = self.waiting_item_reads.pop()
            self.item_reads.setdefault(reads.name, []).append(reads)

    def end_body(self, node: cst.BaseSuite) -> None:
        # Only the body of a numbered loop is its observer's (its else block is not).
        active = self.index_uses[-1]
        if active and active[-1].loop.body is node:
            uses = active.pop()
            labels = uses.labels()
            if labels:
                self.flag(uses.listing, labels[0], "its position becomes a class index here",
                          order=uses.order)

    def visit_Assign(self, node: cst.Assign) -> None:
        for uses in self.index_uses[-1]:
            uses.assign(node)
        if isinstance(node.value, cst.Call) and self.is_seeded_generator(node.value):
            self.seeded_generators[-1].update(
                target.target.value for target in node.targets
                if isinstance(target.target, cst.Name))

    def is_seeded_generator(self, call: cst.Call) -> bool:
        """`random.Random(0)`, `np.random.default_rng(seed)`: a generator given a seed."""
        seed_keyword = catalog.SEEDED_GENERATORS.get(self.imports.call_name(call) or "")
        if seed_keyword is None:
            return False
        seed = keyword(call, seed_keyword) or next(
            (arg for arg in call.args[:1] if arg.keyword is None and not arg.star), None)
        return seed is not None and not (isinstance(seed.value, cst.Name)
                                         and seed.value.value == "None")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.comparison_depth += 1

    def leave_Comparison(self, original_node: cst.Comparison) -> None:
        self.comparison_depth -= 1

    def check_seeded_randomness(self, node: cst.Call, qualified: str | None) -> None:
        """A seeded shuffle of a listing, or a seeded draw compared once per file of a loop
        over one: the seed fixes the draws, the listing's order decides which file gets which."""
        if qualified in catalog.GLOBAL_SEEDING and node.args:
            self.globally_seeded = True
            return
        func = node.func
        method = func.attr.value if isinstance(func, cst.Attribute) else None
        seeded_receiver = (method is not None and isinstance(func.value, cst.Name)
                           and any(func.value.value in names for names in self.seeded_generators))
        if (seeded_receiver and method in catalog.SHUFFLE_METHODS) or (
                self.globally_seeded and qualified in catalog.GLOBAL_SHUFFLES):
            listing = self.listing(node.args[0].value) if node.args else None
            if listing is not None:
                self.flag(listing, node, "it is shuffled here with a fixed seed: the shuffle "
                                         "permutes the listing's order, so the seed does not "
                                         "make it reproducible")
        elif ((seeded_receiver and method in catalog.DRAW_METHODS) or (
                self.globally_seeded and qualified in catalog.GLOBAL_DRAWS)) \
                and self.comparison_depth and self.listing_loops:
            listing, _ = self.listing_loops[-1]
            if listing is not None:
                self.flag(listing, node, "each file is assigned here by the next draw of a "
                                         "seeded generator, in the listing's order, so the seed "
                                         "does not make the assignment reproducible")

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        for uses in self.index_uses[-1]:
            uses.binary_operation(node)

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self.subscripted:
            self.subscripted.discard(id(node))  # read through `pair[0]`, counted there
            return
        for reads in self.item_reads.get(node.value, ()):
            reads.whole = True

    def close_positions(self, owner: cst.CSTNode) -> None:
        while self.positions and self.positions[-1][2] is owner:
            self.positions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        for uses in self.index_uses[-1]:
            uses.call(node)
        self.check_seeded_randomness(node, self.imports.call_name(node))
        if self.lists_directory(node) or isinstance(func, cst.Name):
            # A call of the file's function may return a listing it makes: the same call text
            # twice, its arguments unchanged, lists the same directory twice.
            self.note_listing(node)
        if isinstance(func, cst.Attribute) and func.attr.value == "index" and len(node.args) == 1:
            listing = self.listing(func.value)
            if listing is not None:
                self.flag(listing, node, "its position is used as a class index here")
        qualified = self.imports.call_name(node)
        if qualified == "builtins.list" and len(node.args) == 1 and not node.args[0].star \
                and node.args[0].keyword is None:
            self.list_calls[id(node.args[0].value)] = node
        if qualified == "builtins.zip" and id(node) in self.zip_loops:
            # The loop's items are read in its body, not walked yet: decide when it is left.
            self.zip_loops[id(node)].evidence = self.pairing_evidence(
                [arg.value for arg in node.args])
        elif qualified == "builtins.zip":
            self.check_zip(node)
        elif qualified in catalog.POSITIONAL_PAIRING:
            self.check_pairing(node, _paired_arguments(node))
        elif qualified not in ORDER_FREE:
            self.check_parallel_arguments(node)
        if qualified in catalog.SEEDED_SPLITS:
            self.check_split(node, catalog.SEEDED_SPLITS[qualified])

    def check_zip(self, node: cst.Call) -> None:
        unread = self.unread_positions.get(id(node), frozenset())
        self.check_pairing(node, [arg.value for position, arg in enumerate(node.args)
                                  if position not in unread])

    def check_pairing(self, node: cst.Call, args: list[cst.BaseExpression]) -> None:
        """`node` pairs the items of `args` by position, as zip() does."""
        self.decide_pairing(node, self.pairing_evidence(args))

    def pairing_evidence(self, args: list[cst.BaseExpression]) -> _PairingEvidence:
        """What each of the paired `args` is here: a listing (and its key), numbers, rows."""
        return _PairingEvidence(
            tuple((listing, self.listing_key(listing)) if listing is not None else None
                  for listing in map(self.listing, args)),
            tuple(isinstance(arg, cst.Call) and self.imports.call_name(arg) in INDEX_SOURCES
                  for arg in args),
            tuple(self.records(arg) for arg in args),
            next(self.decision_order))

    def decide_pairing(self, node: cst.Call, evidence: _PairingEvidence,
                       unread: frozenset[int] = frozenset()) -> None:
        """Flag the listings `node` pairs, leaving out the `unread` positions."""
        kept = [position for position in range(len(evidence.listings))
                if position not in unread]
        distinct = {found[1]: found[0] for found in (evidence.listings[position]
                                                     for position in kept) if found is not None}
        order = evidence.order
        if len(distinct) >= 2:
            for listing in distinct.values():
                self.flag(listing, node, "it is paired by position with another listing here",
                          order=order)
        elif distinct and any(evidence.numbers[position] for position in kept):
            self.flag(next(iter(distinct.values())), node, "its items are numbered here",
                      order=order)
        elif distinct and any(evidence.rows[position] for position in kept):
            self.flag(next(iter(distinct.values())), node,
                      "it is paired by position with rows loaded from a file here", order=order)

    def watch_zipped_items(self, loop: cst.For) -> None:
        """A loop `for a, b in zip(...)`, or `for pair in zip(...)` that may read only
        `pair[0]`: which zipped items it reads is known when it is left."""
        iterable, target = loop.iter, loop.target
        if not (isinstance(iterable, cst.Call)
                and self.imports.call_name(iterable) == "builtins.zip"):
            return
        zipped = _ZipLoop(loop)
        if isinstance(target, cst.Name) and not any(arg.star for arg in iterable.args):
            zipped.item_reads = _ItemReads(target.value, len(iterable.args), loop)
            self.waiting_item_reads.append(zipped.item_reads)
        self.zip_loops[id(iterable)] = zipped

    def check_zip_loop(self, zipped: _ZipLoop) -> None:
        loop = zipped.loop
        if zipped.item_reads is not None:
            self.item_reads[zipped.item_reads.name].remove(zipped.item_reads)
        if zipped.evidence is None:
            return
        target = loop.target
        unread: frozenset[int] = frozenset()
        if isinstance(target, cst.Tuple):
            read = self.facts.names_read(loop)
            unread = frozenset(position for position, element in enumerate(target.elements)
                               if isinstance(element.value, cst.Name)
                               and element.value.value not in read)
            count = len(target.elements)
        elif zipped.item_reads is not None:
            reads = zipped.item_reads
            count = reads.count
            if not reads.whole:
                unread = frozenset(range(count)) - reads.positions
        else:
            count = 0
        if len(unread) >= count:  # a body that reads nothing is a placeholder
            unread = frozenset()
        self.decide_pairing(loop.iter, zipped.evidence, unread)

    def note_unread_targets(self, target: cst.BaseExpression, iterable: cst.BaseExpression,
                            scope: tuple[cst.CSTNode | None, ...]) -> None:
        """Remember which items of `for a, b in zip(...)`, or of `for pair in zip(...)` read
        only as `pair[0]`, the loop (`scope`) never reads."""
        if not (isinstance(iterable, cst.Call)
                and self.imports.call_name(iterable) == "builtins.zip"):
            return
        if isinstance(target, cst.Tuple):
            read = _read_names(*scope)
            unread = frozenset(position for position, element in enumerate(target.elements)
                               if isinstance(element.value, cst.Name)
                               and element.value.value not in read)
            count = len(target.elements)
        elif isinstance(target, cst.Name) and not any(arg.star for arg in iterable.args):
            count = len(iterable.args)
            uses = _ItemReads(target.value, count, None)
            for node in scope:
                if node is not None:
                    node.visit(_ItemReadsVisitor(uses))
            if uses.whole:
                return
            unread = frozenset(range(count)) - uses.positions
        else:
            return
        if len(unread) < count:  # a body that reads nothing is a placeholder
            self.unread_positions[id(iterable)] = unread

    def check_split(self, node: cst.Call, seed_keyword: str) -> None:
        """`train_test_split(listing, random_state=0)`: which files land in which split follows
        the listing's order, so the fixed seed gives another split on another machine."""
        seed = keyword(node, seed_keyword)
        shuffle = keyword(node, "shuffle")
        if shuffle is not None and isinstance(shuffle.value, cst.Name) \
                and shuffle.value.value == "False":
            why = "the split made here takes its items by position"
        elif seed is not None and not (isinstance(seed.value, cst.Name)
                                       and seed.value.value == "None"):
            why = (f"the split made here follows that order, so `{seed_keyword}` does not "
                   "make it reproducible")
        else:
            return  # an unseeded split differs on every run anyway
        for arg in node.args:
            listing = self.listing(arg.value) if arg.keyword is None and not arg.star else None
            if listing is not None:
                self.flag(listing, node, why)

    def check_parallel_arguments(self, node: cst.Call) -> None:
        listings: dict[object, tuple[Tag, str]] = {}
        for arg in node.args:
            listing = self.listing(arg.value)
            if listing is not None:
                listings[self.listing_key(listing)] = (listing, _split_named(arg))
        for key, (listing, split) in listings.items():
            # `train_files=` and `dev_files=` are two splits, not two halves of one pairing.
            if any(other_key != key and (not split or not other_split or split == other_split)
                   for other_key, (_, other_split) in listings.items()):
                self.flag(listing, node, "it is handed with another listing to this call, "
                                         "which pairs them by position")

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self.check_comprehension(node, (node.key, node.value))

    def visit_ListComp(self, node: cst.ListComp) -> None:
        for uses in self.index_uses[-1]:
            uses.comprehension(node)
        self.check_comprehension(node, (node.elt,))

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self.check_comprehension(node, (node.elt,))

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        for uses in self.index_uses[-1]:
            uses.comprehension(node)
        self.check_comprehension(node, (node.elt,))

    def check_comprehension(self, node: cst.BaseComp | cst.DictComp,
                            produced: tuple[cst.BaseExpression, ...]) -> None:
        fors = [node.for_in, *_inner_fors(node.for_in)]
        scope = (*produced, *(test for for_in in fors for test in for_in.ifs),
                 *(for_in.iter for for_in in fors[1:]))
        for position, for_in in enumerate(fors):
            self.note_unread_targets(for_in.target, for_in.iter, scope)
            numbered = self.numbered_listing(for_in.iter, for_in.target)
            if numbered is None:
                continue
            index_name, listing = numbered
            if isinstance(node, cst.DictComp):
                labels = index_name in _read_names(*produced)  # {name: i ...}
            else:  # [(file, i) for i, name in enumerate(classes) for file in listdir(name)]
                labels = any(_carries(part, index_name) for part in produced) and any(
                    self.listing(inner.iter) is not None for inner in fors[position + 1:])
            if labels:
                self.flag(listing, node, "its position becomes a class index here")
            self.positions.append((index_name, listing, node))

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self.close_positions(original_node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self.close_positions(original_node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self.close_positions(original_node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self.close_positions(original_node)

    def numbered_listing(self, iterable: cst.BaseExpression,
                         target: cst.BaseExpression) -> tuple[str, Tag] | None:
        """The index name and the listing of `for i, name in enumerate(listing)` or
        `for i in range(len(listing))`: `i` is the item's position in the listing."""
        if not (isinstance(iterable, cst.Call) and iterable.args):
            return None
        qualified = self.imports.call_name(iterable)
        if qualified == "builtins.enumerate" and isinstance(target, cst.Tuple) \
                and target.elements and isinstance(target.elements[0].value, cst.Name):
            index_name = target.elements[0].value.value
        elif qualified == "builtins.range" and isinstance(target, cst.Name) \
                and len(iterable.args) <= 2:
            sized = iterable.args[-1].value
            if not (isinstance(sized, cst.Call) and sized.args
                    and self.imports.call_name(sized) == "builtins.len"):
                return None
            index_name = target.value
        else:
            return None
        listing = self.listing(_counted(iterable))
        return None if listing is None else (index_name, listing)

    def lists_directory(self, node: cst.Call) -> bool:
        """Whether the call is a listing, by its name alone: the loop body is not yet walked."""
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in catalog.LISTING_METHODS:
            return True
        return self.imports.call_name(node) in catalog.LISTING_FUNCTIONS

    def check_position_read(self, listing: Tag, subscript: cst.Subscript) -> None:
        """`labels[i]` inside `for i, file in enumerate(listing)`."""
        if self.records(subscript.value):
            self.flag(listing, subscript, "the same index reads rows loaded from a file here, "
                                          "pairing them by position")
            return
        other = self.listing(subscript.value) if len(subscript.slice) == 1 else None
        if other is not None and self.listing_key(other) != self.listing_key(listing):
            for paired in (listing, other):
                self.flag(paired, subscript, "the same index reads another listing here, "
                                             "pairing them by position")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Name) and self.item_reads.get(node.value.value):
            self.subscripted.add(id(node.value))
            for reads in self.item_reads[node.value.value]:
                reads.subscript(node)
        if self.target_depth:
            return
        element = node.slice[0].slice
        if not (isinstance(element, cst.Index) and isinstance(element.value, cst.Name)):
            return
        index_name = element.value.value
        position = next((entry for entry in reversed(self.positions) if entry[0] == index_name),
                        None)
        if position is not None:
            self.check_position_read(position[1], node)
        listing = self.listing(node.value) if len(node.slice) == 1 else None
        if listing is not None:
            self.indexed[-1].setdefault(index_name, []).append((node, listing))
        elif self.records(node.value):
            self.indexed[-1].setdefault(index_name, []).append((node, None))

    def check_shared_index(self, indexed: dict[str, list[tuple[cst.Subscript, Tag | None]]],
                           parameters: frozenset[str]) -> None:
        for index_name, uses in indexed.items():
            distinct = {self.listing_key(listing): (subscript, listing)
                        for subscript, listing in uses if listing is not None}
            if len(distinct) >= 2:
                for subscript, listing in distinct.values():
                    self.flag(listing, subscript, "the same index reads another listing here, "
                                                  "pairing them by position")
                continue
            # Rows of a file and a listing read at a function's index parameter (`__getitem__`):
            # a loop index could be any loop's, a parameter is one position.
            row = next((subscript for subscript, listing in uses if listing is None), None)
            if distinct and row is not None and index_name in parameters:
                for _, listing in distinct.values():
                    self.flag(listing, row, "the same index reads rows loaded from a file here, "
                                            "pairing them by position")

    # ---- reporting --------------------------------------------------------------------------

    def flag(self, listing: Tag, sink: cst.CSTNode, why: str, *, order: int | None = None
             ) -> None:
        """`listing` is used where its order matters, at `sink`. `order`: where in the walk the
        evidence was seen, when the decision was made later (at the end of a loop)."""
        if listing.node is None and listing.location is not None and not listing.info.ordered:
            self.flag_elsewhere(listing, listing.location, sink, why)
            return
        if listing.info.ordered or listing.node is None:
            return
        order = next(self.decision_order) if order is None else order
        earlier = self.findings.get(id(listing.node))
        if earlier is None or order < earlier[0]:
            self.findings[id(listing.node)] = (order, listing, sink, why)

    def report_listing(self, listing: Tag, sink: cst.CSTNode, why: str) -> None:
        if listing.info.shuffled:
            message = (f"`{listing.info.function}` shuffles the file names by default, and "
                       f"{why}; pass `shuffle=False` (or one `seed` to every listing paired)")
            fix = None
            if keyword(listing.node, "shuffle") is None and listing.node.args:
                fix = NodeFix.wrap(listing.node.args[-1].value, "", ", shuffle=False",
                                   description="Pass `shuffle=False`")
            self.report(listing.node, message, fix=fix, related=[(sink, "order matters here")])
            return
        if listing.info.walk:
            message = (f"`os.walk` yields directories and files in arbitrary order, and {why}; "
                       "sort `dirs` in place and iterate `sorted(files)`")
            self.report(listing.node, message, related=[(sink, "order matters here")])
            return
        key = ", key=lambda entry: entry.name" if listing.info.function == "os.scandir" else ""
        message = (f"`{listing.info.function}` returns entries in arbitrary order, and {why}; "
                   f"wrap it in `sorted(){'' if not key else ' with a key'}`")
        wrapper = self.list_calls.get(id(listing.node))
        if wrapper is None:
            fix = NodeFix.wrap(listing.node, "sorted(", f"{key})",
                               description="Wrap the listing in `sorted()`")
        else:  # list(listing) -> sorted(listing): sorted already returns a list
            fix = NodeFix((NodeEdit(wrapper.func, "replace", "sorted"),
                           *((NodeEdit(listing.node, "after", key),) if key else ())),
                          Applicability.SAFE, "Sort the listing: `list()` becomes `sorted()`")
        self.report(listing.node, message, fix=fix, related=[(sink, "order matters here")])

    def flag_elsewhere(self, listing: Tag, where: RelatedLocation, sink: cst.CSTNode,
                       why: str) -> None:
        """A listing made in another file (a dataset class's attribute or method, a helper):
        reported here, where its order matters, pointing at where it is made; the fix is
        there."""
        key = (where.path, where.span)
        if key in self.reported_elsewhere:
            return
        self.reported_elsewhere.add(key)
        self.report(sink, f"`{listing.info.function}` (in {Path(where.path).name}) returns "
                          f"entries in arbitrary order, and {why}; sort the listing where it "
                          "is made", cause=where)



class _IndexUses:
    """How the body of the numbered loop `loop` stores the position `index_name` of the item it
    iterates. Fed by the rule's hooks while the walk is in the body (and not in a function or
    lambda defined there: those run later, with their own names)."""

    def __init__(self, index_name: str, listing: Tag, loop: cst.For,
                 counted: cst.BaseExpression, lists_directory: Callable[[cst.Call], bool],
                 order: int) -> None:
        self.index_name = index_name
        self.listing = listing
        self.loop = loop
        self.counted = counted  # the listing the position is taken in
        self.lists_directory = lists_directory
        self.order = order  # where in the walk the loop began: its place among decisions
        self.mapped: list[cst.CSTNode] = []  # mapping[name] = i
        # The position collected: samples.append((file, i)), labels += [i] * n. A class index
        # when the body lists each entry's own files (the entries are class directories)...
        self.collected: list[cst.CSTNode] = []
        self.lists_entries = False
        # ...or when an inner loop collects it beside each item it reads: texts.append(line);
        # labels.append(i), one label per line of the entry.
        self.paired: list[cst.CSTNode] = []
        self.inner_loops: list[_InnerLoop] = []

    def labels(self) -> list[cst.CSTNode]:
        """Where the body stores the position as a class index: into a mapping, beside the
        files it lists in each entry, or beside each item an inner loop reads."""
        return self.mapped + self.paired + (self.collected if self.lists_entries else [])

    def enter_loop(self, node: cst.For | cst.While) -> None:
        if isinstance(node, cst.While):
            self.inner_loops.append(_InnerLoop(counting=True))
            return
        # `for j in range(n)` counts (patches of the entry: (i, j) indexes it, labels nothing);
        # `for other in files` pairs the listing with itself (pairwise comparisons).
        iterated = node.iter.value if isinstance(node.iter, cst.Subscript) else node.iter
        counting = (isinstance(iterated, cst.Call) and isinstance(iterated.func, cst.Name)
                    and iterated.func.value == "range") or iterated.deep_equals(self.counted)
        self.inner_loops.append(_InnerLoop(counting))

    def leave_loop(self) -> None:
        loop = self.inner_loops.pop()
        if loop.others and not loop.counting:
            self.paired.extend(loop.positions)

    def assign(self, node: cst.Assign) -> None:
        if (isinstance(node.value, cst.Name) and node.value.value == self.index_name
                and any(isinstance(target.target, cst.Subscript) for target in node.targets)):
            self.mapped.append(node)

    def aug_assign(self, node: cst.AugAssign) -> None:
        if isinstance(node.value, (cst.List, cst.Tuple)):  # labels += [i]
            self.collect(node, node.value)

    def call(self, node: cst.Call) -> None:
        if self.lists_directory(node):
            self.lists_entries = True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in LABEL_COLLECTING \
                and node.args:
            self.collect(node, node.args[-1].value)

    def collect(self, node: cst.CSTNode, item: cst.BaseExpression) -> None:
        if not _carries(item, self.index_name):
            if self.inner_loops:
                self.inner_loops[-1].others = True
            return
        self.collected.append(node)
        if self.inner_loops and not self.inner_loops[-1].counting:
            if isinstance(item, cst.Name):
                self.inner_loops[-1].positions.append(node)
            else:
                self.paired.append(node)  # (file, i): paired with the item in one entry

    def binary_operation(self, node: cst.BinaryOperation) -> None:
        # [i] * len(files): the position repeated once per file
        if isinstance(node.operator, cst.Multiply) and any(
                isinstance(side, (cst.List, cst.Tuple)) and _carries(side, self.index_name)
                for side in (node.left, node.right)):
            self.collected.append(node)

    def comprehension(self, node: cst.ListComp | cst.GeneratorExp) -> None:
        if _carries(node.elt, self.index_name):
            self.collected.append(node)  # [(file, i) for file in files]


@dataclass
class _InnerLoop:
    counting: bool  # over range(): its items are numbers, not the entry's files or lines
    positions: list[cst.CSTNode] = field(default_factory=list)  # labels.append(i)
    others: bool = False  # something else collected in the same loop: texts.append(line)


# Methods that add an item to a collection of samples or labels.
LABEL_COLLECTING = frozenset({"append", "extend", "insert", "add"})


def _paired_arguments(node: cst.Call) -> list[cst.BaseExpression]:
    """What `Dataset.zip((a, b))` or `Dataset.from_tensor_slices((files, labels))` pairs: the
    items of its one tuple argument, else its positional arguments (`Dataset.zip(a, b)`)."""
    positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
    if len(positional) == 1 and isinstance(positional[0], (cst.Tuple, cst.List)):
        return [element.value for element in positional[0].elements
                if not isinstance(element, cst.StarredElement)]
    return positional


def _carries(node: cst.BaseExpression, name: str) -> bool:
    """`name` itself, or an item of a tuple, list or dict display: `(file, i)`, `{"label": i}`."""
    if isinstance(node, cst.Name):
        return node.value == name
    if isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        return any(_carries(element.value, name) for element in node.elements)
    if isinstance(node, cst.Dict):
        return any(isinstance(element, cst.DictElement) and _carries(element.value, name)
                   for element in node.elements)
    return False


def _counted(iterable: cst.BaseExpression) -> cst.BaseExpression:
    """The sequence numbered by `enumerate(x)` or `range(len(x))` (the loop's iterable, else)."""
    if isinstance(iterable, cst.Call) and iterable.args:
        inner = iterable.args[-1].value
        if isinstance(iterable.func, cst.Name) and iterable.func.value == "range" \
                and isinstance(inner, cst.Call) and inner.args:
            return inner.args[0].value
        return iterable.args[0].value
    return iterable


def _inner_fors(for_in: cst.CompFor) -> list[cst.CompFor]:
    inner = []
    while for_in.inner_for_in is not None:
        for_in = for_in.inner_for_in
        inner.append(for_in)
    return inner


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)  # `x.mask` reads x, not a name `mask`
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)  # `f(mask=x)` reads x
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        return not isinstance(node.target, cst.Name)  # `mask = ...` rebinds, reads nothing


def _read_names(*nodes: cst.CSTNode | None) -> set[str]:
    """Names read in `nodes`; in a block, not those read only after the block rebinds them
    (`mask = image.replace("images", "masks")` discards the loop's `mask`)."""
    read: set[str] = set()
    for node in nodes:
        if isinstance(node, cst.IndentedBlock):
            rebound: set[str] = set()
            for statement in node.body:
                read |= _read_names(statement) - rebound
                rebound |= _rebound_names(statement)
        elif node is not None:
            collector = _Names()
            node.visit(collector)
            read |= collector.names
    return read


def _bound_names(target: cst.BaseExpression) -> list[str]:
    """The names (and dotted attributes, `self.root`) an assignment target binds."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _bound_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _bound_names(target.value)
    if isinstance(target, cst.Name):
        return [target.value]
    return []


@dataclass(frozen=True)
class _PairingEvidence:
    """The iterables a call pairs by position, as they were where the call was walked: per
    position the listing (with its key) or None, whether it numbers, whether it holds rows."""

    listings: tuple[tuple[Tag, object] | None, ...]
    numbers: tuple[bool, ...]
    rows: tuple[bool, ...]
    order: int  # where in the walk the call was: its place among decisions


@dataclass
class _ZipLoop:
    """A `for` loop over zip(...), decided when it is left."""

    loop: cst.For
    evidence: _PairingEvidence | None = None  # set when its zip call is walked
    item_reads: _ItemReads | None = None  # `for pair in zip(...)`


class _ItemReads:
    """How a loop reads its one target `name` over a zip of `count` iterables: the positions
    it reads through constant subscripts (`pair[0]`, `pair[-1]`), or `whole` when it reads the
    item any other way (unpacked, passed on, sliced). Fed by the rule's hooks while the walk is
    in the loop's body and else block."""

    def __init__(self, name: str, count: int, loop: cst.For | None) -> None:
        self.name = name
        self.count = count
        self.loop = loop
        self.positions: set[int] = set()
        self.whole = False

    def subscript(self, node: cst.Subscript) -> None:
        """`name[...]`: a position, or the whole item when the index is no constant."""
        element = node.slice[0].slice if len(node.slice) == 1 else None
        position = _constant_index(element.value) if isinstance(element, cst.Index) else None
        if position is None or not -self.count <= position < self.count:
            self.whole = True
        else:
            self.positions.add(position % self.count)


class _ItemReadsVisitor(cst.CSTVisitor):
    """Feeds `_ItemReads` from a comprehension's parts, which are visited on their own."""

    def __init__(self, reads: _ItemReads) -> None:
        super().__init__()
        self.reads = reads

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        if not (isinstance(node.value, cst.Name) and node.value.value == self.reads.name):
            return True
        self.reads.subscript(node)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.reads.name:
            self.reads.whole = True


def _constant_index(node: cst.BaseExpression) -> int | None:
    """`0`, `1` or `-1` as an index, else None."""
    if isinstance(node, cst.Integer):
        return integer(node)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) \
            and isinstance(node.expression, cst.Integer):
        value = integer(node.expression)
        return None if value is None else -value
    return None


def _rebound_names(statement: cst.BaseStatement) -> set[str]:
    if not isinstance(statement, cst.SimpleStatementLine):
        return set()
    return {target.target.value for small in statement.body if isinstance(small, cst.Assign)
            for target in small.targets if isinstance(target.target, cst.Name)}


