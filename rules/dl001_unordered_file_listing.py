"""DL001: a directory listing, in arbitrary order, used where order matters."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.types import FixAvailability

# Functions whose result order is whatever the filesystem returns.
LISTING_FUNCTIONS = {
    "glob.glob": "glob.glob",
    "glob.iglob": "glob.iglob",
    "os.listdir": "os.listdir",
    "os.scandir": "os.scandir",
    "os.walk": "os.walk",
    "tensorflow.io.gfile.glob": "tf.io.gfile.glob",
    "tensorflow.io.gfile.listdir": "tf.io.gfile.listdir",
}
# Methods of pathlib.Path (and look-alikes) with the same property, whatever the receiver.
LISTING_METHODS = frozenset({"glob", "rglob", "iterdir"})
# Calls that keep the order of their (first) iterable argument, so the listing flows through.
ORDER_KEEPING = frozenset({
    "builtins.list", "builtins.tuple", "builtins.map", "builtins.filter", "builtins.reversed",
    "numpy.array", "numpy.asarray", "itertools.islice",
})
# Calls that put a listing in a stable order.
SORTING = frozenset({"builtins.sorted", "natsort.natsorted", "natsort.os_sorted",
                     "natsort.humansorted", "numpy.sort"})
# Calls that pair their iterables with an index: zipping a listing with these numbers its items.
INDEX_SOURCES = frozenset({"builtins.range", "itertools.count"})
# Calls that take several iterables without pairing them by position.
ORDER_FREE = frozenset({
    "builtins.sorted", "builtins.set", "builtins.frozenset", "builtins.len", "builtins.print",
    "builtins.any", "builtins.all", "builtins.sum", "builtins.min", "builtins.max",
    "builtins.isinstance", "builtins.zip", "builtins.enumerate", "itertools.chain",
})


@dataclass(eq=False)
class Listing:
    """One call that produced an unordered listing; values derived from it share this object."""

    call: cst.Call
    function: str
    # A sorted listing is still a file list: pairing an unordered listing with it is the bug.
    ordered: bool = False

    @property
    def walk(self) -> bool:
        return self.function == "os.walk"


@dataclass
class Frame:
    """Names bound to listings in one function (or the module), and subscripts by index name."""

    names: dict[str, Listing] = field(default_factory=dict)
    indexed: dict[str, list[tuple[cst.Subscript, Listing]]] = field(default_factory=dict)


class UnorderedFileListing(Rule):
    """
    ## What it does
    Flags a directory listing (`glob.glob`, `glob.iglob`, `os.listdir`, `os.scandir`, `os.walk`,
    `Path.glob`, `Path.rglob`, `Path.iterdir`) whose order matters where it is used: two listings
    paired by position (`zip`, the same index into both, both handed to one constructor), or a
    listing turned into class indices (`enumerate` into a mapping, `.index()`, `zip` with `range`).

    ## Why is this bad?
    These functions return entries in the order the filesystem stores them, which differs between
    machines, filesystems and even runs. Two listings of `images/` and `masks/` that line up on
    your laptop pair each image with another image's mask on the cluster; class indices built
    from `os.listdir` change meaning between the machine that trained the model and the one that
    serves it. Nothing fails: the model just learns from wrong labels.

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
    fix_availability = FixAvailability.SOMETIMES
    requires_any = ("glob(", "glob import", "listdir", "scandir", "walk(", "iterdir")

    VALID = [
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
    ]
    INVALID = [
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
            images = list(sorted(root.glob("images/*.jpg")))
            masks = sorted(root.glob("masks/*.jpg"))
            dataset = SegmentationDataset(images, masks)
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
        Invalid("""
            import os
            classes = os.listdir("train")
            class_to_idx = {}
            for index, name in enumerate(classes):
                class_to_idx[name] = index
        """, line=2, related_lines=(4,), fixed="""
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
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.module_frame = Frame()
        self.frames: list[Frame] = [self.module_frame]
        self.class_attributes: list[dict[str, Listing]] = []
        self.loop_listings: list[Listing | None] = []
        self.target_depth = 0
        self.reported: set[int] = set()

    # ---- where values come from -------------------------------------------------------------

    def listing_call(self, node: cst.Call) -> Listing | None:
        qualified = self.imports.call_name(node)
        if qualified in LISTING_FUNCTIONS:
            return Listing(node, LISTING_FUNCTIONS[qualified])
        func = node.func
        if (isinstance(func, cst.Attribute) and func.attr.value in LISTING_METHODS
                and qualified is None):
            return Listing(node, f"Path.{func.attr.value}")
        return None

    def origin(self, node: cst.BaseExpression) -> Listing | None:
        if isinstance(node, cst.Call):
            listing = self.listing_call(node)
            if listing is not None:
                return listing
            qualified = self.imports.call_name(node)
            if qualified in SORTING and node.args:
                inner = self.origin(node.args[0].value)
                return None if inner is None else Listing(node, inner.function, ordered=True)
            if qualified in ORDER_KEEPING and node.args:
                return self.origin(node.args[-1 if qualified in ("builtins.map", "builtins.filter")
                                             else 0].value)
            return None
        if isinstance(node, cst.Name):
            return self.lookup(node.value)
        if isinstance(node, cst.Attribute):
            key = self.attribute_key(node)
            if key is not None and self.class_attributes:
                return self.class_attributes[-1].get(key)
            return None
        if isinstance(node, cst.Subscript) and any(
                isinstance(element.slice, cst.Slice) for element in node.slice):
            return self.origin(node.value)
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return None if isinstance(node, cst.SetComp) else self.origin(node.for_in.iter)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return self.origin(node.left) or self.origin(node.right)
        return None

    def lookup(self, name: str) -> Listing | None:
        frame = self.frames[-1]
        if name in frame.names:
            return frame.names[name]
        return self.module_frame.names.get(name)

    @staticmethod
    def attribute_key(node: cst.Attribute) -> str | None:
        if isinstance(node.value, cst.Name) and node.value.value == "self":
            return node.attr.value
        return None

    def bind(self, target: cst.BaseExpression, listing: Listing | None) -> None:
        if isinstance(target, cst.Name):
            names = self.frames[-1].names
            if listing is None:
                names.pop(target.value, None)
            else:
                names[target.value] = listing
        elif isinstance(target, cst.Attribute) and self.class_attributes:
            key = self.attribute_key(target)
            if key is not None:
                if listing is None:
                    self.class_attributes[-1].pop(key, None)
                else:
                    self.class_attributes[-1][key] = listing

    # ---- scopes -----------------------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_attributes.append({})

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.class_attributes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.frames.append(Frame())

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.check_shared_index(self.frames.pop())

    def leave_Module(self, original_node: cst.Module) -> None:
        self.check_shared_index(self.module_frame)

    # ---- bindings ---------------------------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, (cst.Tuple, cst.List)) and isinstance(
                    node.value, (cst.Tuple, cst.List)) and len(target.target.elements) == len(
                    node.value.elements):
                for element, value in zip(target.target.elements, node.value.elements):
                    self.bind(element.value, self.origin(value.value))
            else:
                self.bind(target.target, self.origin(node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.bind(node.target, self.origin(node.value))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.target_depth += 1

    def leave_AssignTarget(self, original_node: cst.AssignTarget) -> None:
        self.target_depth -= 1

    def visit_For(self, node: cst.For) -> None:
        listing = self.origin(node.iter)
        if listing is not None and listing.walk and isinstance(node.target, cst.Tuple):
            # for root, dirs, files in os.walk(...): dirs and files come in arbitrary order.
            for element in node.target.elements[1:]:
                self.bind(element.value, listing)
            self.loop_listings.append(listing)
        elif listing is not None:
            self.loop_listings.append(listing)
            self.check_enumerate_loop(node)
        else:
            self.loop_listings.append(self.loop_listings[-1] if self.loop_listings else None)
            self.check_enumerate_loop(node)

    def leave_For(self, original_node: cst.For) -> None:
        self.loop_listings.pop()

    # ---- sinks: where order matters ---------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method == "sort":
                listing = self.origin(func.value)
                if listing is not None:
                    self.bind(func.value, Listing(node, listing.function, ordered=True))
            elif method in ("append", "extend", "insert") and self.loop_listings and \
                    self.loop_listings[-1] is not None and self.origin(func.value) is None:
                # A list filled while iterating a listing inherits its order.
                self.bind(func.value, self.loop_listings[-1])
            elif method == "index" and len(node.args) == 1:
                listing = self.origin(func.value)
                if listing is not None:
                    self.flag(listing, node, "its position is used as a class index here")
        qualified = self.imports.call_name(node)
        if qualified == "builtins.zip":
            self.check_zip(node)
        elif qualified not in ORDER_FREE and qualified not in ORDER_KEEPING:
            self.check_parallel_arguments(node)

    def check_zip(self, node: cst.Call) -> None:
        listings = [self.origin(arg.value) for arg in node.args]
        distinct = {id(listing): listing for listing in listings if listing is not None}
        numbered = any(isinstance(arg.value, cst.Call)
                       and self.imports.call_name(arg.value) in INDEX_SOURCES for arg in node.args)
        if len(distinct) >= 2:
            for listing in distinct.values():
                self.flag(listing, node, "it is paired by position with another listing here")
        elif distinct and numbered:
            self.flag(next(iter(distinct.values())), node, "its items are numbered here")

    def check_parallel_arguments(self, node: cst.Call) -> None:
        listings = {}
        for arg in node.args:
            listing = self.origin(arg.value)
            if listing is not None:
                listings[id(listing)] = listing
        if len(listings) >= 2:
            for listing in listings.values():
                self.flag(listing, node, "it is handed with another listing to this call, "
                                         "which pairs them by position")

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self.check_enumerate(node.for_in.iter, node, "its position becomes a class index here")

    def check_enumerate_loop(self, node: cst.For) -> None:
        """`for i, name in enumerate(listing): mapping[name] = i` numbers the listing."""
        if not (isinstance(node.target, cst.Tuple) and node.target.elements
                and isinstance(node.target.elements[0].value, cst.Name)):
            return
        index_name = node.target.elements[0].value.value
        if any(_assigns_name_into_mapping(statement, index_name) for statement in node.body.body):
            self.check_enumerate(node.iter, node, "its position becomes a class index here")

    def check_enumerate(self, iterable: cst.BaseExpression, sink: cst.CSTNode, why: str) -> None:
        if (isinstance(iterable, cst.Call) and iterable.args
                and self.imports.call_name(iterable) == "builtins.enumerate"):
            listing = self.origin(iterable.args[0].value)
            if listing is not None:
                self.flag(listing, sink, why)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.target_depth or len(node.slice) != 1:
            return
        element = node.slice[0].slice
        if isinstance(element, cst.Index) and isinstance(element.value, cst.Name):
            listing = self.origin(node.value)
            if listing is not None:
                self.frames[-1].indexed.setdefault(element.value.value, []).append((node, listing))

    def check_shared_index(self, frame: Frame) -> None:
        for uses in frame.indexed.values():
            distinct = {id(listing): (subscript, listing) for subscript, listing in uses}
            if len(distinct) < 2:
                continue
            for subscript, listing in distinct.values():
                self.flag(listing, subscript, "the same index reads another listing here, "
                                              "pairing them by position")

    # ---- reporting --------------------------------------------------------------------------

    def flag(self, listing: Listing, sink: cst.CSTNode, why: str) -> None:
        if listing.ordered or id(listing.call) in self.reported:
            return
        self.reported.add(id(listing.call))
        if listing.walk:
            message = (f"`os.walk` yields directories and files in arbitrary order, and {why}; "
                       "sort `dirs` in place and iterate `sorted(files)`")
            self.report(listing.call, message, related=[(sink, "order matters here")])
            return
        key = ", key=lambda entry: entry.name" if listing.function == "os.scandir" else ""
        message = (f"`{listing.function}` returns entries in arbitrary order, and {why}; "
                   f"wrap it in `sorted(){'' if not key else ' with a key'}`")
        fix = NodeFix.wrap(listing.call, "sorted(", f"{key})",
                           description="Wrap the listing in `sorted()`")
        self.report(listing.call, message, fix=fix, related=[(sink, "order matters here")])


def _assigns_name_into_mapping(statement: cst.BaseStatement, value_name: str) -> bool:
    """`mapping[key] = value_name` as a simple statement of the loop body."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if (isinstance(small, cst.Assign) and isinstance(small.value, cst.Name)
                and small.value.value == value_name
                and any(isinstance(target.target, cst.Subscript) for target in small.targets)):
            return True
    return False


