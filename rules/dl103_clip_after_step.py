"""DL103: gradients clipped after the optimizer step, when they no longer matter."""

from __future__ import annotations

import libcst as cst

from dllint.rule import Invalid, Rule, Valid


class ClipAfterStep(Rule):
    """
    ## What it does
    Flags `clip_grad_norm_` / `clip_grad_value_` that runs after `optimizer.step()` and before
    the next `backward()` in a training loop's body. Clips and steps made in local functions
    or in methods of the class called on `self` count where they are called. A step and a clip
    in different branches of one `if` (`if scaler: ... else: ...`) are alternatives, never
    one after the other.

    ## Why is this bad?
    The step has already used the unclipped gradients; clipping them afterwards changes nothing
    (or only gradients that are about to be zeroed). Exploding gradients go through untouched
    while the code looks protected.

    ## Example
    ```python
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    ```

    ## Use instead
    ```python
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    ```

    ## References
    PyTorch documentation, `torch.nn.utils.clip_grad_norm_`.
    """

    code = "DL103"
    name = "clip-after-step"
    summary = "Gradient clipping runs after optimizer.step()"
    requires_any = ("clip_grad",)
    uses_model = True

    VALID = [
        Valid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
        """),
        Valid("""
            from torch.nn.utils import clip_grad_value_
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                clip_grad_value_(model.parameters(), 0.5)
                optimizer.step()
        """),
        Valid("""
            import torch
            for step, (x, y) in enumerate(loader):
                loss_fn(model(x), y).backward()
                if (step + 1) % 4 == 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
                    optimizer.zero_grad()
        """),
        Valid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                scaler.scale(loss_fn(model(x), y)).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
        """),
        Valid("""
            import torch
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            report = {"norm": 1.0}
        """),
        Valid("""
            import torch

            def backward_and_clip(loss):
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

            for x, y in loader:
                optimizer.zero_grad()
                backward_and_clip(loss_fn(model(x), y))
                optimizer.step()
        """),
        Valid("""
            import torch

            class Trainer:
                def clip(self):
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)

                def fit(self, loader):
                    for x, y in loader:
                        self.optimizer.zero_grad()
                        self.criterion(self.model(x), y).backward()
                        self.clip()
                        self.optimizer.step()
        """),
        # The branches of `if scaler: ... else: ...` are alternatives: each clips before its
        # own step, and the scaler's step never runs before the plain branch's clip.
        Valid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
        """),
        Valid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                if use_amp:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    scaler.step(optimizer)
                elif sharded:
                    optimizer.step()
                else:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()
        """),
        # The same alternatives inside a helper the loop calls.
        Valid("""
            import torch

            def finish_step(optimizer, scaler):
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    optimizer.step()

            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                finish_step(optimizer, scaler)
        """),
    ]
    INVALID = [
        Invalid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """, line=6, related_lines=(5,)),
        Invalid("""
            from torch.nn.utils import clip_grad_norm_ as clip
            for batch in loader:
                opt.zero_grad()
                compute_loss(batch).backward()
                opt.step()
                clip(model.parameters(), max_norm=5.0)
        """, line=6, related_lines=(5,)),
        Invalid("""
            import torch.nn as nn
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
                nn.utils.clip_grad_value_(model.parameters(), 0.1)
        """, line=6, related_lines=(5,)),
        Invalid("""
            import torch

            def step():
                optimizer.step()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                step()
        """, line=10, related_lines=(10,)),
        Invalid("""
            import torch
            while not done:
                self.optimizer.zero_grad()
                self.loss().backward()
                self.optimizer.step()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_norm)
        """, line=6, related_lines=(5,)),
        Invalid("""
            import torch
            for epoch in range(3):
                for x, y in loader:
                    optimizer.zero_grad()
                    loss_fn(model(x), y).backward()
                    optimizer.step()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """, line=7, related_lines=(6,)),
        # The clipping is in a method called on self after the step.
        Invalid("""
            import torch

            class Trainer:
                def clip(self):
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)

                def fit(self, loader):
                    for x, y in loader:
                        self.optimizer.zero_grad()
                        self.criterion(self.model(x), y).backward()
                        self.optimizer.step()
                        self.clip()
        """, line=12, related_lines=(11,)),
        # Twin of the `if scaler:` example: here the plain branch clips after its own step.
        Invalid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """, line=12, related_lines=(11,)),
        # A step in a branch, then an unconditional clip: it follows the step when the branch runs.
        Invalid("""
            import torch
            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                if use_amp:
                    scaler.step(optimizer)
                else:
                    optimizer.step()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """, line=9, related_lines=(8,)),
        # Twin of the helper: its plain branch clips after its step.
        Invalid("""
            import torch

            def finish_step(optimizer, scaler):
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

            for x, y in loader:
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                finish_step(optimizer, scaler)
        """, line=14, related_lines=(14,)),
    ]

    def leave_Module(self, original_node: cst.Module) -> None:
        reported: set[int] = set()
        for loop in self.facts.loops:
            steps: list[tuple] = []  # the steps since the last backward(), with their traces
            for event, trace in self.facts.expand_traced(loop.events):
                if event[0] == "step":
                    steps.append((event[1], trace))
                elif event[0] == "backward":
                    steps = []
                elif event[0] == "clip" and id(event[1]) not in reported:
                    # A step in the other branch of `if scaler: ... else: ...` never runs
                    # before this clip in the same pass.
                    stepped = next((step for step, step_trace in reversed(steps)
                                    if not self.facts.alternatives(step_trace, trace)), None)
                    if stepped is None:
                        continue
                    reported.add(id(event[1]))
                    self.report(event[1], "gradients are clipped after the optimizer step has "
                                          "used them: clip between backward() and "
                                          "optimizer.step()",
                                related=[(stepped, "the optimizer steps here")])
