"""DL105: a DistributedSampler whose `set_epoch` is never called: every epoch, the same order."""

from __future__ import annotations

import re

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.types import FixAvailability

SAMPLERS = frozenset({"torch.utils.data.DistributedSampler",
                      "torch.utils.data.distributed.DistributedSampler"})


class SamplerWithoutSetEpoch(Rule):
    """
    ## What it does
    Flags a `DistributedSampler` that is used in a loop of the same file (itself, or a
    DataLoader built with it) when nothing in the file calls `set_epoch` on it.

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
    fix_availability = FixAvailability.NONE
    requires_any = ("DistributedSampler",)

    VALID = [
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
    ]
    INVALID = [
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
            sampler = torch.utils.data.distributed.DistributedSampler(train_set, shuffle=True)
            loader = torch.utils.data.DataLoader(train_set, sampler=sampler, batch_size=32)
            for epoch in range(args.epochs):
                train(loader)
        """, line=2),
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
            sampler = DS(dataset, num_replicas=4, rank=rank)
            epoch = 0
            while epoch < 100:
                train(sampler)
                epoch += 1
        """, line=2),
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
            samplers = {}
            samplers["train"] = DistributedSampler(train_set)
            for epoch in range(5):
                run(samplers["train"])
        """, line=3),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.samplers: list[tuple[str, cst.CSTNode]] = []
        self.loaders: dict[str, list[str]] = {}
        self.set_epoch: set[str] = set()
        self.loops: list[str] = []

    def text_of(self, node: cst.CSTNode) -> str:
        return self.context.module.code_for_node(node).strip()

    def visit_Assign(self, node: cst.Assign) -> None:
        if not isinstance(node.value, cst.Call):
            return
        targets = [self.text_of(target.target) for target in node.targets]
        if self.imports.call_name(node.value) in SAMPLERS:
            self.samplers.extend((name, node.value) for name in targets)
            return
        # loader = DataLoader(dataset, sampler=sampler): the loader stands for the sampler.
        for arg in node.value.args:
            if arg.keyword is not None and arg.keyword.value == "sampler":
                for name in targets:
                    self.loaders.setdefault(self.text_of(arg.value), []).append(name)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "set_epoch":
            self.set_epoch.add(self.text_of(func.value))

    def visit_For(self, node: cst.For) -> None:
        self.loops.append(self.text_of(node))

    def visit_While(self, node: cst.While) -> None:
        self.loops.append(self.text_of(node))

    def used_in_a_loop(self, name: str) -> bool:
        names = [name, *self.loaders.get(name, [])]
        return any(re.search(rf"(?<![\w.]){re.escape(candidate)}(?!\w)", loop)
                   for loop in self.loops for candidate in names)

    def leave_Module(self, original_node: cst.Module) -> None:
        for name, call in self.samplers:
            if name in self.set_epoch or not self.used_in_a_loop(name):
                continue  # set each epoch, or not iterated here (handed to a framework)
            shuffle = next((arg for arg in call.args if arg.keyword and arg.keyword.value == "shuffle"),
                           None)
            if shuffle is not None and isinstance(shuffle.value, cst.Name) and \
                    shuffle.value.value == "False":
                continue  # no shuffling: the epoch does not matter
            self.report(call, f"`{name}` never gets `set_epoch(epoch)`: DistributedSampler then "
                              "shuffles every epoch the same way; call it at the top of each epoch")
