"""What a rank publishes about itself. Plain typed data (see `wire`): the launcher (or rank 0)
reads it back from the job's store against these classes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dllint.runtime.script import TraceReport

Place = tuple[str, int]  # (absolute path, line)


def _shown(path: str) -> str:
    """A path as reports show it: relative to the working directory when inside it."""
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative


@dataclass
class Position:
    """Where a rank's main thread is, read from its stack by the rank's watchdog thread."""
    rank: int
    frames: list[tuple[str, int, str]]  # the script's own frames, outermost first: path, line, function
    inside: str  # the innermost call outside the script ("torch.distributed.all_reduce", "time.sleep")
    waiting: str | None  # the collective it waits in, None when it waits in none
    seconds: float  # how long it has waited there

    @property
    def place(self) -> Place:
        return (self.frames[-1][0], self.frames[-1][1]) if self.frames else ("<unknown>", 1)

    def describe(self) -> str:
        where = f"{_shown(self.frames[-1][0])}:{self.frames[-1][1]} in {self.frames[-1][2]}()" \
            if self.frames else "outside the script's code"
        if self.waiting:
            return f"waits in {self.waiting} at {where}, for {self.seconds:.1f} s"
        return f"is at {where}" + (f", inside {self.inside}" if self.inside else "")


@dataclass
class Replicas:
    """Checksums (norms) of the replicated parameters one optimizer steps: before its first step
    and after each step."""
    optimizer: str  # "SGD #1"
    names: list[str]
    before: list[float]
    after: list[list[float]] = field(default_factory=list)
    step_location: Place = ("<unknown>", 1)


@dataclass
class Loader:
    """A DataLoader the script built: where, and with which sampler."""
    place: Place
    sampler: str  # the sampler's class name


@dataclass
class RankReport:
    rank: int
    world_size: int
    pid: int
    backend: str  # "gloo", "nccl", or "" when the script started no process group
    trace: TraceReport
    replicas: list[Replicas] = field(default_factory=list)
    # The first batch the rank trained on: its shape and (sum, sum of squares), and where the
    # model was called with it.
    first_batch: tuple[str, tuple[float, float]] | None = None
    loaders: list[Loader] = field(default_factory=list)
    # Modules with parameters whose forward ran in the first training step, and parameters
    # without gradient after every step run.
    trained_modules: list[str] = field(default_factory=list)
    no_gradient: list[str] = field(default_factory=list)
    # Parameters sharded across ranks (FSDP, DTensor): their values and gradient norms are
    # this rank's shard, different on every rank by design.
    sharded: list[str] = field(default_factory=list)
    gradient_place: Place | None = None
    model_place: Place | None = None
    # Set when this rank ended the run: it waited in a collective past the timeout.
    hang: Position | None = None
    # Whether every hook, patch and mode the tracer installed was gone after the script.
    hooks_restored: bool = True
