"""DL105: a DistributedSampler whose `set_epoch` is never called: every epoch, the same order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic import catalog
from dllint.semantic.syntax import argument, is_true

SAMPLERS = frozenset({"torch.utils.data.DistributedSampler",
                      "torch.utils.data.distributed.DistributedSampler"})
BATCH_SAMPLERS = frozenset({"torch.utils.data.BatchSampler",
                            "torch.utils.data.sampler.BatchSampler"})


class SamplerWithoutSetEpoch(Rule):
    """
    ## What it does
    Flags a `DistributedSampler` that is used in a loop of the same file (itself, or a
    DataLoader or BatchSampler built with it; one a function of the file returns,
    `sampler = make_sampler(dataset)`, counts under the name it is assigned to) when nothing in the file calls `set_epoch` on it
    (directly, or as `loader.sampler.set_epoch`) and it is not handed to a function that may
    (one of another module, or one of this file that calls `set_epoch` or passes it on). A call
    of another module that is handed the loader and returns it to be iterated here
    (`engine, opt, loader, _ = backend.distribute(training_data=loader)`) runs once: what it
    returns stands for the loader, and it sets no epoch, unless it is one of the wrappers that
    re-seed the sampler each time they are iterated (Accelerate's `prepare`, Fabric's
    `setup_dataloaders`).

    ## Why is this bad?
    `DistributedSampler` seeds its shuffle with the epoch number. Without `set_epoch(epoch)`
    every epoch uses the epoch-0 permutation: each rank sees the same samples in the same order
    every epoch, which weakens shuffling exactly when training is distributed.

    ## Example
    ```python
    sampler = DistributedSampler(dataset)
    loader = DataLoader(dataset, sampler=sampler)
    for epoch in range(epochs):
        for batch in loader: ...
    ```

    ## Use instead
    ```python
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for batch in loader: ...
    ```

    ## References
    PyTorch documentation, `DistributedSampler` ("calling set_epoch() ... is necessary").
    """

    code = "DL105"
    name = "sampler-without-set-epoch"
    summary = "DistributedSampler without set_epoch(): the same order every epoch"
    requires_any = ("DistributedSampler",)

    VALID = [
        # Accelerate's prepare re-seeds the sampler each time the prepared loader is iterated.
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler

            sampler = DistributedSampler(dataset)
            loader = DataLoader(dataset, sampler=sampler, batch_size=32)
            model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
            for epoch in range(10):
                for batch in loader:
                    step(batch)
        """),
        # Handed to an object of another module whose method runs each epoch: it may set it.
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            from engine import Trainer

            sampler = DistributedSampler(dataset)
            loader = DataLoader(dataset, sampler=sampler, batch_size=32)
            trainer = Trainer(model, loader)
            for epoch in range(10):
                trainer.train_epoch(epoch)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            sampler = DistributedSampler(dataset)
            loader = DataLoader(dataset, sampler=sampler)
            for epoch in range(10):
                sampler.set_epoch(epoch)
                for batch in loader:
                    step(batch)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            loader = DataLoader(dataset, sampler=DistributedSampler(dataset, shuffle=False))
            for batch in loader:
                evaluate(batch)
        """),
        Valid("""
            from torch.utils.data.distributed import DistributedSampler

            class Trainer:
                def setup(self):
                    self.sampler = DistributedSampler(self.dataset)

                def epoch(self, epoch):
                    self.sampler.set_epoch(epoch)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def auto_dataloader(dataset, **kwargs):
                sampler = DistributedSampler(dataset)
                for key in ("shuffle",):
                    kwargs.pop(key, None)
                return DataLoader(dataset, sampler=sampler, **kwargs)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            sampler = DistributedSampler(validation_set, shuffle=False)
            for epoch in range(10):
                for batch in DataLoader(validation_set, sampler=sampler):
                    evaluate(batch)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            train_sampler = DistributedSampler(train_set)
            for epoch in range(10):
                if isinstance(train_sampler, DistributedSampler):
                    train_sampler.set_epoch(epoch)
                train_one_epoch()
        """),
        Valid("""
            import torch

            def train(loader, epoch):
                loader.sampler.set_epoch(epoch)
                for x, y in loader:
                    step(x, y)

            sampler = torch.utils.data.distributed.DistributedSampler(train_set, shuffle=True)
            train_loader = torch.utils.data.DataLoader(train_set, sampler=sampler, batch_size=32)
            for epoch in range(args.epochs):
                train(train_loader, epoch)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            from utils import train

            sampler = DistributedSampler(train_set, shuffle=True)
            loader = DataLoader(train_set, sampler=sampler, batch_size=32)
            for epoch in range(1, args.epochs + 1):
                train(model, loader, optimizer, epoch, sampler=sampler)
        """),
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def main():
                train_sampler = DistributedSampler(train_set)
                loader = DataLoader(train_set, sampler=train_sampler)
                for epoch in range(90):
                    loader.sampler.set_epoch(epoch)
                    for images, labels in loader:
                        step(images, labels)
        """),
        Valid("""
            from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
            sampler = DistributedSampler(train_set)
            batch_sampler = BatchSampler(sampler, batch_size=32, drop_last=True)
            loader = DataLoader(train_set, batch_sampler=batch_sampler)
            for epoch in range(10):
                batch_sampler.sampler.set_epoch(epoch)
                for batch in loader:
                    step(batch)
        """),
        # Built by a function (a method) of the file, its epoch set through the loader.
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler

            class Trainer:
                def build_sampler(self, dataset):
                    return DistributedSampler(dataset, shuffle=True)

                def fit(self, dataset, epochs):
                    sampler = self.build_sampler(dataset)
                    loader = DataLoader(dataset, sampler=sampler)
                    for epoch in range(epochs):
                        loader.sampler.set_epoch(epoch)
                        for batch in loader:
                            self.step(batch)
        """),
    ]
    INVALID = [
        # The loader comes back from a distributed backend under another name and is iterated:
        # the backend was called once, before the epochs, and set no epoch.
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            sampler = DistributedSampler(dataset)
            dl = DataLoader(dataset, sampler=sampler, batch_size=32)
            (engine, opt, distr_dl, _) = backend.distribute(
                model=model, training_data=dataset if deepspeed else dl)
            for epoch in range(10):
                for batch in distr_dl:
                    engine.step(batch)
        """, line=3),
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler
            sampler = DistributedSampler(dataset)
            loader = DataLoader(dataset, sampler=sampler)
            for epoch in range(10):
                for batch in loader:
                    step(batch)
        """, line=2),
        Invalid("""
            import torch

            def train(loader):
                for x, y in loader:
                    step(x, y)

            sampler = torch.utils.data.distributed.DistributedSampler(train_set, shuffle=True)
            loader = torch.utils.data.DataLoader(train_set, sampler=sampler, batch_size=32)
            for epoch in range(args.epochs):
                train(loader)
        """, line=7),
        Invalid("""
            from torch.utils.data import DataLoader
            from torch.utils.data.distributed import DistributedSampler

            class Trainer:
                def __init__(self, dataset):
                    self.sampler = DistributedSampler(dataset)

                def fit(self):
                    for epoch in range(self.epochs):
                        for batch in DataLoader(self.dataset, sampler=self.sampler):
                            self.step(batch)
        """, line=6),
        Invalid("""
            from torch.utils.data import DistributedSampler as DS

            def train(sampler):
                for index in sampler:
                    update(dataset[index])

            sampler = DS(dataset, num_replicas=4, rank=rank)
            epoch = 0
            while epoch < 100:
                train(sampler)
                epoch += 1
        """, line=7),
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def main():
                train_sampler = DistributedSampler(train_set)
                loader = DataLoader(train_set, sampler=train_sampler)
                for epoch in range(90):
                    for images, labels in loader:
                        step(images, labels)
        """, line=4),
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def run(sampler):
                for batch in DataLoader(train_set, sampler=sampler, batch_size=64):
                    step(batch)

            samplers = {}
            samplers["train"] = DistributedSampler(train_set)
            for epoch in range(5):
                run(samplers["train"])
        """, line=8),
        Invalid("""
            from torch.utils.data import BatchSampler, DataLoader, DistributedSampler
            sampler = DistributedSampler(train_set)
            batch_sampler = BatchSampler(sampler, batch_size=32, drop_last=True)
            loader = DataLoader(train_set, batch_sampler=batch_sampler)
            for epoch in range(10):
                for batch in loader:
                    step(batch)
        """, line=2),
        # Built by a function of the file, used under the name it is assigned to.
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def make_sampler(dataset):
                return DistributedSampler(dataset, shuffle=True)

            sampler = make_sampler(train_set)
            loader = DataLoader(train_set, sampler=sampler)
            for epoch in range(10):
                for batch in loader:
                    step(batch)
        """, line=4),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.samplers: list[tuple[str, cst.CSTNode]] = []
        # What is built from a sampler (a DataLoader, a BatchSampler), by the sampler's text.
        self.wrappers: dict[str, list[str]] = {}
        self.set_epoch: set[str] = set()
        self.loops: list[str] = []
        # (argument text, callee): a sampler or loader handed to a call that may set its epoch;
        # the callee is a local function's name, or None for anything else.
        self.handed: list[tuple[str, str | None, cst.Call]] = []
        self.functions: dict[str, _Function] = {}
        self.open_functions: list[_Function] = []
        # Functions of this file that return a new sampler (`return DistributedSampler(...)`),
        # by name, and assignments whose value is a call of a function of this file.
        self.factories: dict[str, cst.Call] = {}
        self.open_names: list[str] = []
        self.built_by_call: list[tuple[list[str], cst.Call, str]] = []
        # `distr_dl = backend.distribute(training_data=dl)`: a call of another module that is
        # handed a loader and returns it, wrapped, to be iterated here. Called once, it cannot
        # set the epoch of the epochs to come: the names it binds stand for what it was handed.
        # (target names, the texts it was handed, the call)
        self.passed_through: list[tuple[list[str], set[str], cst.Call]] = []
        self.iterables: list[str] = []  # what each `for` loop iterates

    def text_of(self, node: cst.CSTNode) -> str:
        return self.context.module.code_for_node(node).strip()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = {param.name.value for param in (*node.params.posonly_params, *node.params.params,
                                                  *node.params.kwonly_params)}
        function = _Function(params)
        self.functions.setdefault(node.name.value, function)
        self.open_functions.append(function)
        self.open_names.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.open_functions.pop()
        self.open_names.pop()

    def visit_Return(self, node: cst.Return) -> None:
        if self.open_names and isinstance(node.value, cst.Call) and \
                self.imports.call_name(node.value) in SAMPLERS:
            self.factories.setdefault(self.open_names[-1], node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if not isinstance(node.value, cst.Call):
            return
        targets = [self.text_of(target.target) for target in node.targets]
        qualified = self.imports.call_name(node.value)
        if qualified in SAMPLERS:
            self.samplers.extend((name, node.value) for name in targets)
            return
        callee = _local_callee(node.value.func, qualified)
        if callee is not None:
            self.built_by_call.append((targets, node.value, callee))
        elif qualified not in catalog.SAMPLER_PASSIVE_CALLS and not _reseeds(node.value, qualified):
            handed = {self.text_of(value) for arg in node.value.args
                      for value in _alternatives(arg.value)}
            names = [name for target in node.targets for name in _target_names(target.target)]
            self.passed_through.append((names, handed, node.value))
        # loader = DataLoader(dataset, sampler=sampler): the loader stands for the sampler, as
        # does BatchSampler(sampler, ...) and a loader built with that as its batch_sampler.
        for index, arg in enumerate(node.value.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword in ("sampler", "batch_sampler") or (
                    index == 0 and keyword is None and qualified in BATCH_SAMPLERS):
                for name in targets:
                    self.wrappers.setdefault(self.text_of(arg.value), []).append(name)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "set_epoch":
            self.set_epoch.add(self.text_of(func.value))
            for function in self.open_functions:
                function.sets_epoch = True
            return
        if not node.args:
            return
        qualified = self.imports.call_name(node)
        if qualified in catalog.SAMPLER_PASSIVE_CALLS:
            return
        # a local function (or a method of this file, self.run_epoch), else None
        callee = _local_callee(func, qualified)
        for arg in node.args:
            text = self.text_of(arg.value)
            self.handed.extend((self.text_of(value), callee, node)
                               for value in _alternatives(arg.value))
            root = _root_name(arg.value)
            if self.open_functions and root in self.open_functions[-1].params:
                function = self.open_functions[-1]
                if callee is None:
                    function.hands_on = True  # its parameter goes where this file cannot see
                else:
                    function.callees.add(callee)

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(self.text_of(node))
        self.iterables.append(self.text_of(node.iter))

    def visit_While(self, node: cst.While) -> None:
        self.loops.append(self.text_of(node))

    def built_from(self, name: str) -> tuple[set[str], set[int]]:
        """The sampler's name and the names of everything built from it, transitively (a
        DataLoader built with it, what a call of another module returns when handed one); and
        the ids of the calls of another module whose result a `for` loop iterates: they hand
        back what they were handed rather than set its epoch each epoch. A call whose result is
        not iterated (`trainer = Trainer(loader)`, then `trainer.fit()`) may still set it."""
        names, todo, passing = {name}, [name], set()
        while todo:
            current = todo.pop()
            wrappers = list(self.wrappers.get(current, []))
            for targets, handed, call in self.passed_through:
                if current in handed:
                    wrappers.extend(targets)
                    if any(_mentions(iterable, target) for iterable in self.iterables
                           for target in targets):
                        passing.add(id(call))
            for wrapper in wrappers:
                if wrapper not in names:
                    names.add(wrapper)
                    todo.append(wrapper)
        return names, passing

    def used_in_a_loop(self, names: set[str]) -> bool:
        return any(_mentions(loop, candidate) for loop in self.loops for candidate in names)

    def epoch_set(self, names: set[str]) -> bool:
        """`sampler.set_epoch(e)`, or through what was built from it: `loader.sampler.set_epoch`,
        `loader.batch_sampler.sampler.set_epoch`."""
        for receiver in self.set_epoch:
            while True:
                if receiver in names:
                    return True
                stripped = re.sub(r"\.(batch_sampler|sampler)$", "", receiver)
                if stripped == receiver:
                    break
                receiver = stripped
        return False

    def may_set_epoch(self, callee: str | None) -> bool:
        """Whether a call that is handed the sampler may call its `set_epoch`: anything but a
        local function that, as far as this file shows, neither calls `set_epoch` nor passes
        its parameters on to code this file does not hold."""
        seen: set[str] = set()
        todo = [callee]
        while todo:
            name = todo.pop()
            function = self.functions.get(name) if name is not None else None
            if function is None or function.sets_epoch or function.hands_on:
                return True
            seen.add(name)
            todo.extend(inner for inner in function.callees if inner not in seen)
        return False

    def leave_Module(self, original_node: cst.Module) -> None:
        # `sampler = make_sampler(dataset)`: the sampler its function builds, under this name
        for targets, call, callee in self.built_by_call:
            if callee in self.factories:
                self.samplers.extend((name, self.factories[callee]) for name in targets)
        reported: set[int] = set()
        for name, call in self.samplers:
            if id(call) in reported:
                continue
            names, passing = self.built_from(name)
            if self.epoch_set(names) or not self.used_in_a_loop(names):
                continue  # set each epoch, or not iterated here (handed to a framework)
            shuffle = argument(call, 3, "shuffle")
            if shuffle is not None and not is_true(shuffle.value):
                continue  # no shuffling (or not known to shuffle): the epoch does not matter
            if any(text in names and id(at) not in passing and self.may_set_epoch(callee)
                   for text, callee, at in self.handed):
                continue  # handed to a helper, maybe in another module, that may set the epoch
            reported.add(id(call))
            self.report(call, f"`{name}` never gets `set_epoch(epoch)`: DistributedSampler then "
                              "shuffles every epoch the same way; call it at the top of each epoch")


@dataclass
class _Function:
    """What a function of this file does with what it is handed."""
    params: set[str]
    sets_epoch: bool = False
    hands_on: bool = False  # passes a parameter to a call outside this file
    callees: set[str] = field(default_factory=set)  # local functions it passes parameters to


def _local_callee(func: cst.BaseExpression, qualified: str | None) -> str | None:
    """The name of the function of this file a call calls (`run(...)`, `self.run(...)`)."""
    if isinstance(func, cst.Name) and qualified is None:
        return func.value
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
            func.value.value == "self":
        return func.attr.value
    return None


def _mentions(text: str, name: str) -> bool:
    """`name` as a whole name in `text` (not `distr_dl` for `dl`, nor `self.dl`)."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def _reseeds(call: cst.Call, qualified: str | None) -> bool:
    """A call that wraps a loader and sets its sampler's epoch on each iteration itself."""
    if qualified is not None:
        return qualified in catalog.RESEEDING_LOADER_FUNCTIONS
    return isinstance(call.func, cst.Attribute) and \
        call.func.attr.value in catalog.RESEEDING_LOADER_METHODS


def _alternatives(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """What an argument may be: both branches of `ds if deepspeed else dl`."""
    if isinstance(node, cst.IfExp):
        return [*_alternatives(node.body), *_alternatives(node.orelse)]
    return [node]


def _target_names(target: cst.BaseExpression) -> list[str]:
    """The names an assignment target binds: each element of `(engine, opt, loader, _)`."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return [cst.Module([]).code_for_node(target).strip()]


def _root_name(node: cst.BaseExpression) -> str | None:
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None
