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
        # The helper hands the loader itself on, to code this file does not hold.
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler
            from engine import run_epoch

            def train(config, loader, model):
                log(config.name)
                run_epoch(model, loader)

            sampler = DistributedSampler(dataset)
            loader = DataLoader(dataset, sampler=sampler)
            for epoch in range(10):
                train(config, loader, model)
        """),
        # Loaders in a dict kept by a local class that sets the epoch through them.
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler

            class Runner:
                def __init__(self, loaders):
                    self.loaders = loaders

                def epoch(self, epoch):
                    self.loaders["train"].sampler.set_epoch(epoch)
                    for batch in self.loaders["train"]:
                        step(batch)

            sampler = DistributedSampler(dataset)
            loaders = {"train": DataLoader(dataset, sampler=sampler)}
            runner = Runner(loaders)
            for epoch in range(10):
                runner.epoch(epoch)
        """),
        # A factory's loader with its sampler built inline, its epoch set through the loader.
        Valid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def make_loader(dataset):
                return DataLoader(dataset, batch_size=32, sampler=DistributedSampler(dataset))

            loader = make_loader(train_set)
            for epoch in range(10):
                loader.sampler.set_epoch(epoch)
                for batch in loader:
                    step(batch)
        """),
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
        # The helper hands another parameter on (to a logger), not the loader: it iterates the
        # loader and sets no epoch.
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            def train(config, loader, model, writer):
                for batch in loader:
                    model(batch)
                    writer.add_scalar("step", config.step)

            sampler = DistributedSampler(dataset, shuffle=True)
            loader = DataLoader(dataset, sampler=sampler)
            for epoch in range(10):
                train(config, loader, model, writer)
        """, line=8),
        # Loaders kept in a dict by a local class whose methods iterate them and set no epoch.
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            class Runner:
                def __init__(self, steps, loaders):
                    self.loaders = loaders

                def run(self):
                    while True:
                        for batch in enumerate(self.loaders["train"], 1):
                            step(batch)

            sampler = DistributedSampler(dataset)
            loaders = {"train": DataLoader(dataset, sampler=sampler)}
            Runner(steps=0, loaders=loaders).run()
        """, line=12),
        # A factory's loader with its sampler built inline, kept and iterated by a local class.
        Invalid("""
            from torch.utils.data import DataLoader, DistributedSampler

            class Runner:
                def __init__(self, model, data):
                    self.data = data

                def fit(self, epochs):
                    for epoch in range(epochs):
                        for x, y in self.data:
                            step(x, y)

            def make_loader(dataset):
                return DataLoader(dataset, batch_size=32, sampler=DistributedSampler(dataset))

            Runner(model, make_loader(train_set)).fit(10)
        """, line=13),
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
        # (argument text, callee, the call, slot): a sampler or loader handed to a call that may
        # set its epoch; the callee is a local function's or class's name, or None for anything
        # else; the slot is the argument's position or keyword (None after a `*args`).
        self.handed: list[tuple[str, str | None, cst.Call, _Slot]] = []
        self.functions: dict[str, _Function] = {}
        self.open_functions: list[_Function] = []
        # Classes of this file (by name) and the ones being read.
        self.classes: dict[str, _Class] = {}
        self.scopes: list[_Class | _Function] = []  # the classes and functions being read
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

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        # A class with no base (or only `object`) is read whole here: its methods are all it
        # does with what its constructor is handed.
        plain = all(isinstance(base.value, cst.Name) and base.value.value == "object"
                    for base in node.bases) and not node.keywords
        cls = _Class(plain)
        self.classes.setdefault(node.name.value, cls)
        self.scopes.append(cls)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scopes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        params = node.params
        names = [param.name.value for param in (*params.posonly_params, *params.params)]
        keywords = {param.name.value for param in params.kwonly_params}
        starred = isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None
        function = _Function(names, keywords, starred)
        if self.scopes and isinstance(self.scopes[-1], _Class):
            self.scopes[-1].methods.append(function)
            if node.name.value == "__init__":
                self.scopes[-1].init = function
        self.functions.setdefault(node.name.value, function)
        self.open_functions.append(function)
        self.open_names.append(node.name.value)
        self.scopes.append(function)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.open_functions.pop()
        self.open_names.pop()
        self.scopes.pop()

    def current_class(self) -> _Class | None:
        """The class whose method is being read (not a function nested in a method)."""
        if len(self.scopes) >= 2 and isinstance(self.scopes[-2], _Class):
            return self.scopes[-2]
        return None

    def visit_Return(self, node: cst.Return) -> None:
        if not self.open_names or not isinstance(node.value, cst.Call):
            return
        if self.imports.call_name(node.value) in SAMPLERS:
            self.factories.setdefault(self.open_names[-1], node.value)
            return
        # `return DataLoader(dataset, sampler=DistributedSampler(dataset))`: the loader the
        # function returns stands for the sampler built inline in it
        for sampler in self.inline_samplers(node.value):
            self.factories.setdefault(self.open_names[-1], sampler)

    def inline_samplers(self, call: cst.Call) -> list[cst.Call]:
        """The samplers built inline as a loader's `sampler=` or `batch_sampler=` argument."""
        return [arg.value for arg in call.args
                if arg.keyword is not None and arg.keyword.value in ("sampler", "batch_sampler")
                and isinstance(arg.value, cst.Call)
                and self.imports.call_name(arg.value) in SAMPLERS]


    def visit_Assign(self, node: cst.Assign) -> None:
        targets = [self.text_of(target.target) for target in node.targets]
        cls = self.current_class()
        if cls is not None and isinstance(node.value, cst.Name) and \
                self.open_functions[-1] is cls.init:
            # `self.train_data = train_data` in the constructor: the attribute stands for what
            # the constructor is handed
            for target in targets:
                if target.startswith("self."):
                    cls.stores.setdefault(node.value.value, set()).add(target)
        if isinstance(node.value, (cst.Dict, cst.List, cst.Tuple)):
            # `loaders = {"train": DataLoader(dataset, sampler=sampler), ...}`: the container
            # stands for the samplers of the loaders it holds
            for element in _elements(node.value):
                if isinstance(element, cst.Call):
                    self.note_loader(element, targets)
            return
        if not isinstance(node.value, cst.Call):
            return
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
        self.note_loader(node.value, targets)

    def note_loader(self, call: cst.Call, targets: list[str]) -> None:
        """loader = DataLoader(dataset, sampler=sampler): the loader stands for the sampler, as
        does BatchSampler(sampler, ...) and a loader built with that as its batch_sampler. A
        sampler built inline (`sampler=DistributedSampler(dataset)`) is a sampler of its own."""
        qualified = self.imports.call_name(call)
        for index, arg in enumerate(call.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword in ("sampler", "batch_sampler") or (
                    index == 0 and keyword is None and qualified in BATCH_SAMPLERS):
                text = self.text_of(arg.value)
                for name in targets:
                    self.wrappers.setdefault(text, []).append(name)
        for sampler in self.inline_samplers(call):
            self.samplers.append((self.text_of(sampler), sampler))

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
        # a local function or class (or a method of this file, self.run_epoch), else None
        callee = _local_callee(func, qualified)
        cls = self.current_class()
        bound = _via_self(node)
        for slot, arg in _slots(node):
            if isinstance(arg.value, cst.Call):
                # `Runner(make_loader(dataset))`: what a function of this file builds, handed
                # on at once, under the text of its call
                inner = _local_callee(arg.value.func, self.imports.call_name(arg.value))
                if inner is not None:
                    self.built_by_call.append(([self.text_of(arg.value)], arg.value, inner))
            self.handed.extend((self.text_of(value), callee, node, slot)
                               for value in _alternatives(arg.value))
            root = _root_name(arg.value)
            # a parameter of the function being read, or (in a method) an attribute of `self`,
            # handed on: to code this file does not hold (callee None), or to a local callee
            if self.open_functions and root in self.open_functions[-1].all_params:
                self.open_functions[-1].passes.append((root, callee, slot, bound))
            attribute = _self_attribute(arg.value)
            if cls is not None and attribute is not None:
                cls.passes.append((attribute, callee, slot, bound))

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
            # handed to a constructor of this file that keeps it: `self.train_data` stands for it
            for text, callee, _, slot in self.handed:
                if text == current and callee in self.classes:
                    cls = self.classes[callee]
                    param = cls.init.param_at(slot, bound=True) if cls.init else None
                    wrappers.extend(sorted(cls.stores.get(param, ())) if param else ())
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

    def may_set_epoch(self, callee: str | None, slot: _Slot, bound: bool = False) -> bool:
        """Whether a call that is handed the sampler (as argument `slot`) may call its
        `set_epoch`: anything but a local function that, as far as this file shows, neither
        calls `set_epoch` nor passes that parameter on to code this file does not hold, and a
        local class none of whose methods calls `set_epoch` or passes on the attribute its
        constructor keeps the argument in. Each parameter is followed on its own: a function
        that hands another parameter (`args`) to a logger does not excuse the loader."""
        seen: set[tuple[str, _Slot, bool]] = set()
        todo: list[tuple[str | None, _Slot, bool]] = [(callee, slot, bound)]
        while todo:
            name, slot, bound = todo.pop()
            if name is None:
                return True
            if (name, slot, bound) in seen:
                continue
            seen.add((name, slot, bound))
            cls = self.classes.get(name)
            if cls is not None:
                if not cls.plain or cls.init is None or \
                        any(method.sets_epoch for method in cls.methods):
                    return True
                param = cls.init.param_at(slot, bound=True)
                if param is None:
                    return True
                kept = cls.stores.get(param, set())
                todo.extend((inner, inner_slot, inner_bound)
                            for held, inner, inner_slot, inner_bound in cls.init.passes
                            if held == param)
                todo.extend((inner, inner_slot, inner_bound)
                            for attribute, inner, inner_slot, inner_bound in cls.passes
                            if attribute in kept)
                continue
            function = self.functions.get(name)
            if function is None or function.sets_epoch:
                return True
            param = function.param_at(slot, bound)
            todo.extend((inner, inner_slot, inner_bound)
                        for held, inner, inner_slot, inner_bound in function.passes
                        if param is None or held == param)
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
            if any(text in names and id(at) not in passing and self.may_set_epoch(
                    callee, slot, _via_self(at))
                   for text, callee, at, slot in self.handed):
                continue  # handed to a helper, maybe in another module, that may set the epoch
            reported.add(id(call))
            subject = ("the DistributedSampler built here" if name == self.text_of(call)
                       else f"`{name}`")
            self.report(call, f"{subject} never gets `set_epoch(epoch)`: DistributedSampler then "
                              "shuffles every epoch the same way; call it at the top of each epoch")


_Slot = int | str | None  # an argument's position, its keyword, or None (after `*args`)


@dataclass
class _Function:
    """What a function of this file does with what it is handed."""
    positional: list[str]  # its parameters that take a position, `self` included
    keywords: set[str]  # its keyword-only parameters
    starred: bool  # it takes `*args` or `**kwargs`: an argument may land in either
    sets_epoch: bool = False
    # (parameter, callee, slot, through `self.`): a parameter handed on, to code this file does
    # not hold (callee None) or to a function or class of this file
    passes: list[tuple[str, str | None, _Slot, bool]] = field(default_factory=list)

    @property
    def all_params(self) -> set[str]:
        return {*self.positional, *self.keywords}

    def param_at(self, slot: _Slot, bound: bool) -> str | None:
        """The parameter an argument lands in (None: unknown); `bound` for a call through
        `self.` or a constructor, whose first parameter is the instance."""
        positional = self.positional[1:] if bound and self.positional else self.positional
        if isinstance(slot, int):
            return positional[slot] if slot < len(positional) else None
        if isinstance(slot, str) and slot in self.all_params:
            return slot
        return None


@dataclass
class _Class:
    """What a class of this file does with what its constructor is handed."""
    plain: bool  # no base class (its inherited methods are nothing this file cannot see)
    init: _Function | None = None
    methods: list[_Function] = field(default_factory=list)
    # constructor parameter -> the attributes of `self` it is kept in
    stores: dict[str, set[str]] = field(default_factory=dict)
    # (attribute of self, callee, slot, through `self.`): an attribute handed on by a method
    passes: list[tuple[str, str | None, _Slot, bool]] = field(default_factory=list)


def _slots(call: cst.Call) -> list[tuple[_Slot, cst.Arg]]:
    """Each argument with its slot: its position, its keyword, or None from a `*args` on."""
    slots: list[tuple[_Slot, cst.Arg]] = []
    position: int | None = 0
    for arg in call.args:
        if arg.star:
            position = None
            slots.append((None, arg))
        elif arg.keyword is not None:
            slots.append((arg.keyword.value, arg))
        else:
            slots.append((position, arg))
            position = position + 1 if position is not None else None
    return slots


def _via_self(call: cst.Call) -> bool:
    """A call of a method through `self.` (its first parameter is the instance)."""
    return isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Name) and \
        call.func.value.value == "self"


def _self_attribute(node: cst.BaseExpression) -> str | None:
    """`self.data` for `self.data`, `self.data["train"]`, `self.data.dataset`."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and \
                node.value.value == "self":
            return f"self.{node.attr.value}"
        node = node.value
    return None


def _elements(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The values a dict, list or tuple display holds."""
    if isinstance(node, cst.Dict):
        return [element.value for element in node.elements if isinstance(element, cst.DictElement)]
    return [element.value for element in node.elements if isinstance(element, cst.Element)]


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
