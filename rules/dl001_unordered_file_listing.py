"""DL001: a directory listing, in arbitrary order, used where order matters."""

from __future__ import annotations


import libcst as cst

from dllint.rule import Invalid, NodeFix, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.values import LISTING, Tag, first
from dllint.types import FixAvailability

# Calls that pair their iterables with an index: zipping a listing with these numbers its items.
INDEX_SOURCES = frozenset({"builtins.range", "itertools.count"})
# Calls that take several iterables without pairing them by position.
ORDER_FREE = frozenset({
    "builtins.sorted", "builtins.set", "builtins.frozenset", "builtins.len", "builtins.print",
    "builtins.any", "builtins.all", "builtins.sum", "builtins.min", "builtins.max",
    "builtins.isinstance", "builtins.zip", "builtins.enumerate", "itertools.chain",
}) | catalog.ORDER_KEEPING | catalog.SORTING


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
    uses_model = True

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
        # map() keeps the order of the listing it maps over: sorted first, it is stable.
        Valid("""
            import os
            names = list(map(str.upper, sorted(os.listdir(root))))
            label = {name: i for i, name in enumerate(names)}
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
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        # Subscripts by index name, per function: `images[i]` and `masks[i]` pair two listings.
        self.indexed: list[dict[str, list[tuple[cst.Subscript, Tag]]]] = [{}]
        self.target_depth = 0
        self.reported: set[int] = set()

    def listing(self, node: cst.BaseExpression) -> Tag | None:
        return first(self.model.value(node), LISTING)

    # ---- scopes -----------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.indexed.append({})

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.check_shared_index(self.indexed.pop())

    def leave_Module(self, original_node: cst.Module) -> None:
        self.check_shared_index(self.indexed[0])

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.target_depth += 1

    def leave_AssignTarget(self, original_node: cst.AssignTarget) -> None:
        self.target_depth -= 1

    # ---- sinks: where order matters ---------------------------------------------------------

    def visit_For(self, node: cst.For) -> None:
        self.check_enumerate_loop(node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "index" and len(node.args) == 1:
            listing = self.listing(func.value)
            if listing is not None:
                self.flag(listing, node, "its position is used as a class index here")
        qualified = self.imports.call_name(node)
        if qualified == "builtins.zip":
            self.check_zip(node)
        elif qualified not in ORDER_FREE:
            self.check_parallel_arguments(node)

    def check_zip(self, node: cst.Call) -> None:
        listings = [self.listing(arg.value) for arg in node.args]
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
            listing = self.listing(arg.value)
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
            listing = self.listing(iterable.args[0].value)
            if listing is not None:
                self.flag(listing, sink, why)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self.target_depth or len(node.slice) != 1:
            return
        element = node.slice[0].slice
        if isinstance(element, cst.Index) and isinstance(element.value, cst.Name):
            listing = self.listing(node.value)
            if listing is not None:
                self.indexed[-1].setdefault(element.value.value, []).append((node, listing))

    def check_shared_index(self, indexed: dict[str, list[tuple[cst.Subscript, Tag]]]) -> None:
        for uses in indexed.values():
            distinct = {id(listing): (subscript, listing) for subscript, listing in uses}
            if len(distinct) < 2:
                continue
            for subscript, listing in distinct.values():
                self.flag(listing, subscript, "the same index reads another listing here, "
                                              "pairing them by position")

    # ---- reporting --------------------------------------------------------------------------

    def flag(self, listing: Tag, sink: cst.CSTNode, why: str) -> None:
        if listing.info.ordered or listing.node is None or id(listing.node) in self.reported:
            return
        self.reported.add(id(listing.node))
        if listing.info.walk:
            message = (f"`os.walk` yields directories and files in arbitrary order, and {why}; "
                       "sort `dirs` in place and iterate `sorted(files)`")
            self.report(listing.node, message, related=[(sink, "order matters here")])
            return
        key = ", key=lambda entry: entry.name" if listing.info.function == "os.scandir" else ""
        message = (f"`{listing.info.function}` returns entries in arbitrary order, and {why}; "
                   f"wrap it in `sorted(){'' if not key else ' with a key'}`")
        fix = NodeFix.wrap(listing.node, "sorted(", f"{key})",
                           description="Wrap the listing in `sorted()`")
        self.report(listing.node, message, fix=fix, related=[(sink, "order matters here")])


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


