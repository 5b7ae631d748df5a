"""DL101: a training loop that steps the optimizer without ever clearing the gradients."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid
from dllint.types import FixAvailability


class MissingZeroGrad(Rule):
    """
    ## What it does
    Flags a loop that calls `backward()` and `optimizer.step()` (directly or through local helper
    functions) but never `zero_grad()` (or sets `.grad = None`) anywhere in its body.

    ## Why is this bad?
    PyTorch adds each backward pass's gradients to the ones already there. Without zeroing, every
    step applies the sum of all previous gradients: the effective learning rate grows step after
    step, and training diverges or crawls with nothing to point at the cause.

    ## Example
    ```python
    for inputs, targets in loader:
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
    ```

    ## References
    The runtime check RT009 observes the same bug in a traced step.
    """

    code = "DL101"
    name = "missing-zero-grad"
    summary = "Training loop steps the optimizer without zeroing gradients"
    fix_availability = FixAvailability.NONE
    requires_any = ("backward",)
    uses_model = True

    VALID = [
        Valid("""
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
        """),
        Valid("""
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
                model.zero_grad(set_to_none=True)
        """),
        Valid("""
            for step, (x, y) in enumerate(loader):
                (loss_fn(model(x), y) / 4).backward()
                if (step + 1) % 4 == 0:
                    optimizer.step()
                    optimizer.zero_grad()
        """),
        Valid("""
            def closure():
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                return loss

            for epoch in range(10):
                optimizer.step(closure)
        """),
        Valid("""
            def train_step(x, y):
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()

            for x, y in loader:
                train_step(x, y)
        """),
        Valid("""
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
                for parameter in model.parameters():
                    parameter.grad = None
        """),
        Valid("""
            for x in loader:
                encoded = encoder(x)
                print(encoded.sum().item())
                scheduler.step()
        """),
    ]
    INVALID = [
        Invalid("""
            for x, y in loader:
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
        """, line=4, related_lines=(3,)),
        Invalid("""
            import torch
            opt = torch.optim.Adam(model.parameters())
            for epoch in range(10):
                for x, y in loader:
                    criterion(model(x), y).backward()
                    opt.step()
        """, line=6, related_lines=(5,)),
        Invalid("""
            def train_step(x, y):
                loss_fn(model(x), y).backward()
                optimizer.step()

            for x, y in loader:
                train_step(x, y)
        """, line=6, related_lines=(6,)),
        Invalid("""
            optimizer.zero_grad()
            for x, y in loader:
                loss_fn(model(x), y).backward()
                optimizer.step()
        """, line=4, related_lines=(3,)),
        Invalid("""
            step = 0
            while step < 1000:
                loss = loss_fn(model(batch), target)
                loss.backward()
                self.optimizer.step()
                step += 1
        """, line=5, related_lines=(4,)),
        Invalid("""
            import torch
            g_opt = torch.optim.Adam(generator.parameters())
            for noise in batches:
                g_loss = -discriminator(generator(noise)).mean()
                g_loss.backward()
                g_opt.step()
        """, line=6, related_lines=(5,)),
    ]

    def leave_Module(self, original_node: cst.Module) -> None:
        reported: set[int] = set()
        for loop in self.model.loops:
            events = list(self.model.expand(loop.events))
            kinds = {event[0] for event in events}
            if {"backward", "step"} <= kinds and "zero_grad" not in kinds:
                step = next(event[1] for event in events if event[0] == "step")
                backward = next(event[1] for event in events if event[0] == "backward")
                if id(step) in reported:
                    continue
                reported.add(id(step))
                self.report(step, "this loop steps the optimizer after backward() but never "
                                  "calls zero_grad(): gradients add up across steps; call "
                                  "`optimizer.zero_grad()` every step",
                            related=[(backward, "gradients accumulate here")])
