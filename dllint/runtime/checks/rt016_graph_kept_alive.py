"""RT016: earlier steps' autograd graphs kept alive, step over step (a loss accumulated as a
tensor): memory that grows every step."""

from __future__ import annotations

import dis
import sys
import weakref
from types import FrameType

import torch

from dllint.runtime import codes
from dllint.runtime.checks.registry import register
from dllint.runtime.dispatch import Check, StepEvent
from dllint.runtime.tracing import is_user_file, user_location

# The key of our mark in a graph node's `metadata` (a dict autograd keeps with the node).
MARK = "dllint_step"
# Nodes marked per backward: the tensor backpropagated and the nodes just below it, so that
# `(loss / accumulation).backward()` still marks the `loss` a running total would hold.
MARK_DEPTH = 2
MARK_NODES = 8
# Graph nodes visited when looking for the variable that holds the graphs (at a finding only).
SEARCH_NODES = 2000
# The trace runs at most this many steps past --steps to confirm a graph kept past its step.
EXTRA_STEPS = 2


class StepMark:
    """Put in the metadata of a step's graph nodes: alive exactly as long as one of them."""
    __slots__ = ("step", "__weakref__")

    def __init__(self, step: int) -> None:
        self.step = step


def _next_nodes(node) -> list:
    return [child for child, _ in getattr(node, "next_functions", ()) if child is not None]


@register
class GraphKeptAlive(Check):
    code = codes.GRAPH_KEPT_ALIVE
    events = frozenset({"on_backward", "on_step", "on_step_limit", "on_step_done"})

    def __init__(self, context) -> None:
        super().__init__(context)
        # Rounds of the training loop so far: steps of the optimizer that stepped first. With
        # several optimizers per round (a GAN, MoCo), a round's variables hold its graphs until
        # the next round rebinds them: graphs of one round are never "earlier steps".
        self.steps_done = 0
        self.lead: int | None = None
        self.marks: list[weakref.ref] = []
        self.extended = 0
        self.reported = False
        # How many earlier steps' graphs were alive at the last optimizer step (None: not seen).
        self.last_kept: int | None = None

    def on_backward(self, tensor: torch.Tensor) -> None:
        if self.reported:
            return
        # A GradScaler's scaled loss: the user holds the loss before scaling.
        tensor = self.context.unscaled.get(id(tensor), tensor)
        if tensor.grad_fn is None:
            return
        mark = StepMark(self.steps_done)
        level, marked = [tensor.grad_fn], 0
        for _ in range(MARK_DEPTH):
            below = []
            for node in level:
                if marked >= MARK_NODES or type(node).__name__ == "AccumulateGrad":
                    continue
                metadata = getattr(node, "metadata", None)
                if metadata is None:
                    continue
                metadata[MARK] = mark
                marked += 1
                below.extend(_next_nodes(node))
            level = below
        self.marks.append(weakref.ref(mark))

    def kept_steps(self) -> set[int]:
        """The earlier steps (before the one running now) whose graph is still alive."""
        alive = [ref for ref in self.marks if ref() is not None]
        self.marks = alive
        return {mark.step for mark in (ref() for ref in alive)
                if mark is not None and mark.step < self.steps_done}

    def on_step(self, step: StepEvent) -> None:
        if not self.reported and self.steps_done >= 1 and id(step.optimizer) == self.lead:
            kept = self.kept_steps()
            if not self.judge(kept):
                self.last_kept = len(kept)

    def on_step_limit(self, step: StepEvent) -> None:
        if self.reported:
            return
        kept = self.kept_steps()
        if self.judge(kept):
            return
        growing = self.last_kept is None or len(kept) > self.last_kept
        if kept and growing and self.extended < EXTRA_STEPS:
            # A graph outlived its step: one more step tells a running total (growing) from a
            # graph kept for one step (`previous = loss`).
            self.extended += 1
            self.context.max_steps += 1
        self.last_kept = len(kept)

    def on_step_done(self, step: StepEvent) -> None:
        if self.lead is None:
            self.lead = id(step.optimizer)
        if id(step.optimizer) == self.lead:
            self.steps_done += 1

    def judge(self, kept: set[int]) -> bool:
        if len(kept) < 2:
            return False
        self.reported = True
        frame = _user_frame()
        holder, where = _holder(frame, kept) if frame is not None else ("", None)
        where = where or user_location()
        held = f"`{holder}` holds" if holder else "something holds"
        self.context.find(
            self.code,
            f"{held} the autograd graphs of {len(kept)} earlier steps after their backward "
            "(a loss accumulated as a tensor): memory grows every step; accumulate "
            "`loss.item()` or `loss.detach()` instead",
            {"steps_kept_alive": len(kept), "step": self.steps_done + 1,
             "holder": holder}, where, subject=holder)
        self.marks = []
        return True


def _user_frame() -> FrameType | None:
    frame = sys._getframe(1)
    while frame is not None and not is_user_file(frame.f_code.co_filename):
        frame = frame.f_back
    return frame


def _holds(value: object, kept: set[int]) -> bool:
    """Whether `value` (a tensor, or a list or dict of tensors) reaches a node marked by one of
    the `kept` steps in its graph."""
    if isinstance(value, (list, tuple)):
        return any(_holds(item, kept) for item in value[-3:])
    if isinstance(value, dict):
        return any(_holds(item, kept) for item in list(value.values())[:16]
                   if isinstance(item, torch.Tensor))
    if not isinstance(value, torch.Tensor) or value.grad_fn is None:
        return False
    queue, seen = [value.grad_fn], set()
    while queue and len(seen) < SEARCH_NODES:
        node = queue.pop()
        if id(node) in seen or type(node).__name__ == "AccumulateGrad":
            continue
        seen.add(id(node))
        mark = (getattr(node, "metadata", None) or {}).get(MARK)
        if mark is not None and mark.step in kept:
            return True
        queue.extend(_next_nodes(node))
    return False


def _holder(frame: FrameType, kept: set[int]) -> tuple[str, tuple[str, int] | None]:
    """The name of the user's variable that holds the kept graphs, from the training loop's
    frame or the two around it, and the line that adds to it (`total += loss`), if found."""
    for _ in range(3):
        if frame is None:
            break
        if is_user_file(frame.f_code.co_filename):
            for name, value in list(frame.f_locals.items()):
                if name.startswith("__") or isinstance(value, torch.nn.Parameter):
                    continue
                if _holds(value, kept):
                    line = _accumulation_line(frame.f_code, name)
                    return name, (frame.f_code.co_filename, line) if line else None
        frame = frame.f_back
    return "", None


_STORES = {"STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF"}
_ADDS = {"INPLACE_ADD", "BINARY_ADD"}


def _accumulation_line(code, name: str) -> int | None:
    """The line of `name += ...` (or `name = name + ...`) in `code`, read from its bytecode."""
    line = None
    previous = None
    for instruction in dis.get_instructions(code):
        positions = getattr(instruction, "positions", None)
        if positions is not None and positions.lineno is not None:
            line = positions.lineno
        elif isinstance(instruction.starts_line, int) and not isinstance(
                instruction.starts_line, bool):
            line = instruction.starts_line
        if instruction.opname in _STORES and instruction.argval == name and previous is not None \
                and (previous.opname in _ADDS or (previous.opname == "BINARY_OP" and
                                                  previous.argrepr in ("+=", "+"))):
            return line
        previous = instruction
    return None
