"""DL105: a DistributedSampler whose `set_epoch` is never called: every epoch, the same order."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.semantic.imports import dotted_name
from dllint.types import FixAvailability

SAMPLERS = frozenset({"torch.utils.data.DistributedSampler",
                      "torch.utils.data.distributed.DistributedSampler"})


class SamplerWithoutSetEpoch(Rule):
    """
    ## What it does
    Flags a `DistributedSampler` assigned to a name or attribute, in a file that loops over
    epochs, when nothing in the file calls `set_epoch` on it.

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
            from torch.utils.data import DistributedSampler
            sampler = DistributedSampler(dataset)
            loader = make_loader(dataset, sampler)
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
            from torch.utils.data.distributed import DistributedSampler

            class Trainer:
                def __init__(self, dataset):
                    self.sampler = DistributedSampler(dataset)

                def fit(self):
                    for epoch in range(self.epochs):
                        self.run_epoch()
        """, line=5),
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
        self.set_epoch: set[str] = set()
        self.loops = 0

    def visit_Assign(self, node: cst.Assign) -> None:
        if not (isinstance(node.value, cst.Call)
                and self.imports.call_name(node.value) in SAMPLERS):
            return
        for target in node.targets:
            name = dotted_name(target.target) if not isinstance(target.target, cst.Subscript) \
                else self.context.module.code_for_node(target.target)
            if name:
                self.samplers.append((name.rsplit(".", 1)[-1] if name.startswith("self.") else name,
                                      node.value))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "set_epoch":
            receiver = self.context.module.code_for_node(func.value)
            self.set_epoch.add(receiver.rsplit(".", 1)[-1] if receiver.startswith("self.")
                               else receiver)

    def visit_For(self, node: cst.For) -> None:
        self.loops += 1

    def visit_While(self, node: cst.While) -> None:
        self.loops += 1

    def leave_Module(self, original_node: cst.Module) -> None:
        if not self.loops:
            return
        for name, call in self.samplers:
            if name in self.set_epoch:
                continue
            shuffle = next((arg for arg in call.args if arg.keyword and arg.keyword.value == "shuffle"),
                           None)
            if shuffle is not None and isinstance(shuffle.value, cst.Name) and \
                    shuffle.value.value == "False":
                continue  # no shuffling: the epoch does not matter
            self.report(call, f"`{name}` never gets `set_epoch(epoch)`: DistributedSampler then "
                              "shuffles every epoch the same way; call it at the top of each epoch")
