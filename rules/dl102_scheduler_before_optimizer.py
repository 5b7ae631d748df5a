"""DL102: the learning-rate scheduler is stepped before the optimizer in the same loop."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid


class SchedulerBeforeOptimizer(Rule):
    """
    ## What it does
    Flags `scheduler.step()` that runs before `optimizer.step()` in a training loop's body (the
    body's first scheduler step comes before its first optimizer step). A step given an argument
    (`scheduler.step(epoch)`, a metric for `ReduceLROnPlateau`) sets the schedule itself and is
    not flagged. Steps made in local
    functions or in methods of the class called on `self` (`self.train_epoch()`) count where
    they are called.

    ## Why is this bad?
    Since PyTorch 1.1 the scheduler must step after the optimizer. Stepping it first skips the
    first value of the schedule: warm-up starts one step late and every later learning rate is
    shifted. PyTorch warns once and training goes on with the wrong schedule.

    ## Example
    ```python
    for x, y in loader:
        scheduler.step()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    ```

    ## References
    PyTorch documentation, "How to adjust learning rate".
    """

    code = "DL102"
    name = "scheduler-before-optimizer"
    summary = "lr_scheduler.step() runs before optimizer.step()"
    requires_any = ("sched",)
    uses_model = True

    VALID = [
        Valid("""
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
                scheduler.step()
        """),
        Valid("""
            for epoch in range(10):
                for x, y in loader:
                    optimizer.zero_grad()
                    loss_fn(model(x), y).backward()
                    optimizer.step()
                scheduler.step()
        """),
        Valid("""
            for epoch in range(10):
                train_one_epoch(model, optimizer)
                val_loss = evaluate(model)
                scheduler.step(val_loss)
        """),
        # The epoch handed over sets the schedule's position: the first value is not skipped.
        Valid("""
            for epoch in range(start_epoch, epochs):
                scheduler.step(epoch)
                for x, y in loader:
                    optimizer.zero_grad()
                    loss_fn(model(x), y).backward()
                    optimizer.step()
        """),
        Valid("""
            import torch
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 30)
            for epoch in range(90):
                for x, y in loader:
                    optimizer.zero_grad()
                    loss_fn(model(x), y).backward()
                    optimizer.step()
                scheduler.step()
        """),
        Valid("""
            def step(x, y):
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()

            for x, y in loader:
                step(x, y)
                lr_scheduler.step()
        """),
        Valid("""
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
        """),
        Valid("""
            class Trainer:
                def train_epoch(self, loader):
                    for x, y in loader:
                        self.optimizer.zero_grad()
                        self.criterion(self.model(x), y).backward()
                        self.optimizer.step()

                def fit(self, loader, epochs):
                    for epoch in range(epochs):
                        self.train_epoch(loader)
                        self.scheduler.step()
        """),
        # A class of the project, derived from no library scheduler, whose step() sets the rate
        # of the coming optimizer step: it is meant to run first, also once handed to a function.
        Valid("""
            class RampedRate:
                def __init__(self, optimizer, peak, ramp_steps):
                    self.optimizer, self.peak, self.ramp_steps, self.count = \\
                        optimizer, peak, ramp_steps, 0

                def step(self):
                    self.count += 1
                    rate = self.peak * min(1.0, self.count / self.ramp_steps)
                    for group in self.optimizer.param_groups:
                        group["lr"] = rate

            def run_epoch(batches, net, optimizer, lr_sched):
                for inputs, targets in batches:
                    lr_sched.step()
                    optimizer.zero_grad()
                    loss_fn(net(inputs), targets).backward()
                    optimizer.step()

            run_epoch(batches, net, optimizer, RampedRate(optimizer, 0.1, 500))
        """),
    ]
    INVALID = [
        Invalid("""
            for x, y in loader:
                scheduler.step()
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
        """, line=2, related_lines=(5,)),
        Invalid("""
            for epoch in range(100):
                lr_scheduler.step()
                for x, y in loader:
                    optimizer.zero_grad()
                    loss_fn(model(x), y).backward()
                    optimizer.step()
        """, line=2, related_lines=(6,)),
        Invalid("""
            import torch
            warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1)
            for batch in loader:
                warmup.step()
                opt.zero_grad()
                compute_loss(batch).backward()
                opt.step()
        """, line=4, related_lines=(7,)),
        Invalid("""
            def update(loss):
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

            for batch in loader:
                scheduler.step()
                update(compute_loss(batch))
        """, line=7, related_lines=(8,)),
        Invalid("""
            from transformers import get_linear_schedule_with_warmup
            schedule = get_linear_schedule_with_warmup(optimizer, 100, 1000)
            for batch in loader:
                schedule.step()
                optimizer.zero_grad()
                model(**batch).loss.backward()
                optimizer.step()
        """, line=4, related_lines=(7,)),
        Invalid("""
            step = 0
            while step < total:
                self.scheduler.step()
                self.optimizer.zero_grad()
                self.loss(batch).backward()
                self.optimizer.step()
                step += 1
        """, line=3, related_lines=(6,)),
        # The optimizer steps in the method the epoch loop calls on self, after the scheduler.
        Invalid("""
            class Trainer:
                def train_epoch(self, loader):
                    for x, y in loader:
                        self.optimizer.zero_grad()
                        self.criterion(self.model(x), y).backward()
                        self.optimizer.step()

                def fit(self, loader, epochs):
                    for epoch in range(epochs):
                        self.scheduler.step()
                        self.train_epoch(loader)
        """, line=10, related_lines=(11,)),
        # The project's class derives from PyTorch's scheduler: its step() moves the schedule
        # on, so stepping it first skips the first value, whatever the variable is called.
        Invalid("""
            from torch.optim import lr_scheduler

            class HalvingRate(lr_scheduler.LRScheduler):
                def get_lr(self):
                    return [base / 2 ** self.last_epoch for base in self.base_lrs]

            def run_epoch(batches, net, optimizer, rate):
                for inputs, targets in batches:
                    rate.step()
                    optimizer.zero_grad()
                    loss_fn(net(inputs), targets).backward()
                    optimizer.step()

            run_epoch(batches, net, optimizer, HalvingRate(optimizer))
        """, line=9, related_lines=(12,)),
    ]

    def leave_Module(self, original_node: cst.Module) -> None:
        reported: set[int] = set()
        for loop in self.facts.loops:
            events = [event for event in self.facts.expand(loop.events)
                      if event[0] in ("step", "scheduler_step")]
            if not events or events[0][0] != "scheduler_step":
                continue
            optimizer_step = next((event[1] for event in events if event[0] == "step"), None)
            if optimizer_step is None or id(events[0][1]) in reported:
                continue
            if isinstance(events[0][1], cst.Call) and events[0][1].args:
                # `scheduler.step(epoch)` sets the schedule's position (or hands a metric to
                # ReduceLROnPlateau): no value is skipped, whichever steps first.
                continue
            reported.add(id(events[0][1]))
            self.report(events[0][1], "the scheduler steps before the optimizer in this loop: "
                                      "the schedule's first value is skipped; call "
                                      "`scheduler.step()` after `optimizer.step()`",
                        related=[(optimizer_step, "the optimizer steps here")])
