"""One rank of a distributed run: the single-process instruments, plus what only a distributed
run has. `RankCompanion` adds, for the length of the script:

- wrappers around the `torch.distributed` collectives, and the tracer's backward events when a
  DDP or FSDP model is traced (its gradient all-reduce runs there), that note what the rank
  waits in;
- the tracer's optimizer step events, to take a checksum of every replicated parameter before
  the first step and after each step (kept on the device, read once at the end);
- a fingerprint of the first training batch, the DataLoaders built and their samplers, and every
  iteration of a `DistributedSampler` (RT013);
- a watchdog thread that ends the run when this rank waits in a collective past the timeout, or
  when another rank ended it, after publishing where this rank's main thread is.

It subscribes to the events of the tracer's dispatcher (`dllint/runtime/dispatch.py`), attached
first so that its handlers run before the checks'; the hooks themselves are the dispatcher's.
Everything it installs is removed when the script ends, whatever the script did.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from dllint.runtime import codes, dispatch
from dllint.runtime.dispatch import ModuleCall, StepEvent, Subscriber
from dllint.runtime.distributed.job import Exchange, RankPlace
from dllint.runtime.distributed.records import Loader, Position, RankReport, Replicas
from dllint.runtime.instruments import Instruments, is_user_file, read_vectors, user_location

# The collectives of torch.distributed that block until every rank joins (with async_op=False).
COLLECTIVES = (
    "all_reduce", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_to_all",
    "all_to_all_single", "barrier", "broadcast", "broadcast_object_list", "gather",
    "gather_object", "reduce", "reduce_scatter", "reduce_scatter_tensor", "scatter",
    "scatter_object_list", "monitored_barrier", "recv", "send")
# The watchdog looks at the main thread this often (seconds).
WATCH_INTERVAL = 0.1
# How long the rank that ends a run waits for the others to say where they are.
POSITION_WAIT = 3.0
# How long the other ranks wait for rank 0 to print the report (inside a user's torchrun).
PRINT_WAIT = 30.0
# Beyond --timeout, how long a rank may stay stuck in code the alarm cannot interrupt (a C++
# call that never returns) before its watchdog ends the run.
STUCK_GRACE = 10.0
# Exit status of a rank process that ended the run (or was ended) from its watchdog.
EXIT_ENDED = 1

_DATA_PARALLEL = ("DistributedDataParallel", "FullyShardedDataParallel", "FSDPModule")


@dataclass
class Waiting:
    what: str  # "torch.distributed.all_reduce", "backward (DDP's gradient all-reduce)"
    since: float
    module: nn.Module | None = None  # the DDP/FSDP model whose forward it is in


def sharded(parameter: torch.Tensor) -> bool:
    """A parameter whose value differs across ranks by design (an FSDP or DTensor shard)."""
    return type(parameter).__name__ in ("DTensor", "FlatParameter") or \
        hasattr(parameter, "_sharded_size")


def _checksums(parameters: list[torch.Tensor]) -> torch.Tensor | None:
    """The norm of each parameter, as one tensor on the device (read later, with the others)."""
    if not parameters:
        return None
    with torch.no_grad():
        detached = [parameter.detach().float() for parameter in parameters]
        return torch.stack([norm.to(detached[0].device) for norm in torch._foreach_norm(detached)])


# Frames that say nothing about where a rank is: dllint's own hooks, and torch's module-call
# plumbing (`_wrapped_call_impl`, `_call_impl`).
_PLUMBING = ("dllint.", "torch.nn.modules.module")


def main_thread_position(rank: int, waiting: Waiting | None) -> Position:
    frame = sys._current_frames().get(threading.main_thread().ident)
    frames, inside = [], ""
    while frame is not None:
        code = frame.f_code
        module = frame.f_globals.get("__name__", "")
        if is_user_file(code.co_filename):
            frames.append((code.co_filename, frame.f_lineno, code.co_name))
        elif not frames and not inside and not module.startswith(_PLUMBING):
            # The innermost library call below the script's innermost frame.
            inside = f"{module}.{code.co_name}" if module else code.co_name
        frame = frame.f_back
    frames.reverse()
    seconds = time.monotonic() - waiting.since if waiting else 0.0
    return Position(rank, frames, inside, waiting.what if waiting else None, seconds)


def batch_tensors(args: tuple, kwargs: dict) -> list[tuple[str, torch.Tensor]]:
    """The real-valued tensors of a call, positional first, then by keyword (a dict or list
    argument, such as a batch dict, is looked into a few levels deep): (keyword or "", tensor)."""
    found: list[tuple[str, torch.Tensor]] = []

    def add(name: str, value: Any, level: int) -> None:
        if isinstance(value, torch.Tensor):
            if not value.is_complex() and value.layout == torch.strided:
                found.append((name, value))
        elif level < 3 and isinstance(value, (tuple, list)):
            for item in value:
                add(name, item, level + 1)
        elif level < 3 and isinstance(value, dict):
            for key, item in value.items():
                add(f"{name}.{key}" if name else str(key), item, level + 1)

    for value in args:
        add("", value, 0)
    for key, value in kwargs.items():
        add(key, value, 0)
    return found


class RankCompanion(Subscriber):
    """Entered before the instruments (its handlers are attached first, so they run first) and
    left after them."""
    events = frozenset({"on_forward", "on_forward_output", "on_backward", "on_backward_done",
                        "on_step", "on_step_done"})

    def __init__(self, instruments: Instruments, place: RankPlace, exchange: Exchange,
                 collective_timeout: float, timeout: float | None) -> None:
        super().__init__(instruments.context)
        self.instruments = instruments
        self.place = place
        self.left_clean = False  # set when the companion is left: see __exit__
        self.exchange = exchange
        self.collective_timeout = collective_timeout
        self.deadline = time.monotonic() + timeout + STUCK_GRACE if timeout else None
        self.waiting: Waiting | None = None
        self.wrapper_calls: set[int] = set()  # DDP/FSDP models whose forward ran once
        self.replicas: dict[int, Replicas] = {}
        self.replica_values: dict[int, list[torch.Tensor]] = {}  # after each step, on device
        self.replica_parameters: dict[int, list[torch.Tensor]] = {}
        self.before_values: dict[int, torch.Tensor] = {}
        self.first_batch: tuple[str, list[torch.Tensor]] | None = None
        self.loaders: list[Loader] = []
        self.sampler_places: dict[int, tuple[str, int]] = {}
        self.sampler_epochs: dict[int, list[int]] = {}
        self.process_group_before = dist.is_available() and dist.is_initialized()
        self.backend = ""
        self.ended = threading.Lock()  # held by whoever ends the run (a thread or the script)
        # Set by the rank's runner: what the rank saw so far (no device reads: the main thread
        # may be blocked), and, on rank 0 of a user's own torchrun, how to print the report.
        self.partial_report: Callable[[], RankReport] | None = None
        self.print_report: Callable[[], int] | None = None
        self._patches: list[tuple[Any, str, Any]] = []
        self.attached = False
        self.backward_waiting: Waiting | None = None  # set by this backward, cleared after it
        self._watchdog: threading.Thread | None = None
        self._stop_watching = threading.Event()

    # ---- installing and removing ------------------------------------------------------------

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._patches.append((owner, name, owner.__dict__[name] if isinstance(owner, type)
                              else getattr(owner, name)))
        setattr(owner, name, replacement)

    def __enter__(self) -> RankCompanion:
        self.instruments.attach(self, first=True)
        self.attached = True
        for module in (dist, dist.distributed_c10d):
            for name in COLLECTIVES:
                if callable(getattr(module, name, None)):
                    self._patch(module, name, self._collective(name, getattr(module, name)))
        self._patch(DataLoader, "__init__", self._loader_init(DataLoader.__init__))
        self._patch(DistributedSampler, "__init__", self._sampler_init(DistributedSampler.__init__))
        self._patch(DistributedSampler, "__iter__", self._sampler_iter(DistributedSampler.__iter__))
        self._watchdog = threading.Thread(target=self._watch, name="dllint-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop_watching.set()
        self.instruments.detach(self)
        self.attached = False
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches = []
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
        self.note_backend()
        # Judged here, when the instruments are off too and before the trace puts back the
        # process's global state (which would hide a hook this tracer left behind).
        self.left_clean = self.restored()

    def note_backend(self) -> str:
        """The backend of the script's process group ("gloo", "nccl"), once it has one."""
        if not self.backend and dist.is_initialized():
            self.backend = str(dist.get_backend())
        return self.backend

    def restored(self) -> bool:
        """Whether nothing of this rank's tracer is left: patches, hooks, modes."""
        return (not self._patches and not self.attached
                and not optimizer_hooks._global_optimizer_pre_hooks
                and not optimizer_hooks._global_optimizer_post_hooks
                and not module_hooks._global_forward_pre_hooks
                and not module_hooks._global_forward_hooks
                and not module_hooks._global_forward_hooks_with_kwargs
                and torch._C._len_torch_function_stack() == 0
                and all(getattr(getattr(dist, name), "__module__", "") != __name__
                        for name in COLLECTIVES if hasattr(dist, name))
                and getattr(torch.Tensor.backward, "__module__", "") != dispatch.__name__)

    def close_process_group(self) -> None:
        """The script's process group, if it left one (it stopped after N steps): destroyed, as
        the script would at its end; one that existed before the script is left alone."""
        if dist.is_initialized() and not self.process_group_before:
            try:
                dist.destroy_process_group()
            except (RuntimeError, ValueError) as error:  # a backend already torn down
                self.instruments.instrument_error(error)

    # ---- what the rank waits in -------------------------------------------------------------

    def _collective(self, name: str, original: Callable) -> Callable:
        companion = self

        @functools.wraps(original)
        def collective(*args, **kwargs):
            if companion.waiting is not None:  # all_gather_object calls all_gather: count once
                return original(*args, **kwargs)
            companion.waiting = Waiting(f"torch.distributed.{name}", time.monotonic())
            try:
                return original(*args, **kwargs)
            finally:
                companion.waiting = None
        collective.__module__ = __name__
        return collective

    def on_backward(self, tensor: torch.Tensor) -> None:
        """A DDP/FSDP model's gradient all-reduce runs in backward: the rank waits there as in
        a collective, until `on_backward_done`."""
        wrapper = self.data_parallel()
        # A compiled model compiles its backward in the first one: as long as it takes.
        compiling = self.compiled() and not self.instruments.seen.steps
        if self.waiting is not None or wrapper is None or compiling:
            return
        self.backward_waiting = Waiting(f"backward ({wrapper}'s gradient all-reduce)",
                                        time.monotonic())
        self.waiting = self.backward_waiting

    def on_backward_done(self, tensor: torch.Tensor) -> None:
        if self.backward_waiting is not None and self.waiting is self.backward_waiting:
            self.waiting = None
        self.backward_waiting = None

    def compiled(self) -> bool:
        return any(type(root).__name__ == "OptimizedModule" or
                   type(getattr(root, "module", None)).__name__ == "OptimizedModule"
                   for root in self.instruments.roots.values())

    def data_parallel(self) -> str | None:
        """The data-parallel wrapper of a traced model (DistributedDataParallel, FSDP), if any."""
        for root in self.instruments.roots.values():
            for module in (root, getattr(root, "_orig_mod", root)):
                kind = next((name for name in _DATA_PARALLEL
                             if any(c.__name__ == name for c in type(module).__mro__)), None)
                if kind:
                    return "DDP" if kind == "DistributedDataParallel" else "FSDP"
        return None

    # ---- data -------------------------------------------------------------------------------

    def _loader_init(self, original: Callable) -> Callable:
        companion = self

        @functools.wraps(original)
        def loader_init(loader, *args, **kwargs):
            original(loader, *args, **kwargs)
            place = user_location()
            if place[0] != "<unknown>":
                companion.loaders.append(Loader(place, type(loader.sampler).__name__))
        return loader_init

    def _sampler_init(self, original: Callable) -> Callable:
        companion = self

        @functools.wraps(original)
        def sampler_init(sampler, *args, **kwargs):
            original(sampler, *args, **kwargs)
            companion.sampler_places.setdefault(id(sampler), user_location())
        return sampler_init

    def _sampler_iter(self, original: Callable) -> Callable:
        companion = self

        @functools.wraps(original)
        def sampler_iter(sampler):
            return companion.passes(sampler, original(sampler), user_location())
        return sampler_iter

    def passes(self, sampler: DistributedSampler, indices, loop: tuple[str, int]):
        """The sampler's indices; once they are all taken (a pass over the data, not a peek
        such as `next(iter(loader))` to read the batch size), a pass that had the epoch of an
        earlier complete pass is reported."""
        epoch = getattr(sampler, "epoch", 0)
        yield from indices
        completed = self.sampler_epochs.setdefault(id(sampler), [])
        if epoch in completed and getattr(sampler, "shuffle", False):
            self.instruments.find(
                codes.SAMPLER_EPOCH,
                f"this DistributedSampler went through the data again with the epoch of the "
                f"pass before ({epoch}): every epoch repeats the same order; call "
                "`sampler.set_epoch(epoch)` at the start of each epoch",
                {"epochs": [*completed, epoch]}, self.sampler_places.get(id(sampler), loop),
                related=((*loop, "iterated again here"),))
        completed.append(epoch)

    def on_forward(self, call: ModuleCall) -> None:
        """Every module call (one handler, not two: it runs for every module of every step)."""
        self.enter_wrapper(call)
        if self.first_batch is None:
            self.fingerprint_batch(call)

    def enter_wrapper(self, call: ModuleCall) -> None:
        """The forward of a DDP/FSDP model syncs across ranks (DDP broadcasts buffers, FSDP
        gathers parameters): the rank waits there as it does in a collective."""
        module = call.module
        if self.waiting is None and call.root and type(module).__name__ in _DATA_PARALLEL:
            # The first forward may compile or lazily set up the model: as long as it takes.
            if id(module) not in self.wrapper_calls:
                self.wrapper_calls.add(id(module))
                return
            self.waiting = Waiting(f"the forward of {self.data_parallel() or 'the model'}",
                                   time.monotonic(), module)

    def on_forward_output(self, call: ModuleCall, output) -> None:
        if self.waiting is not None and self.waiting.module is call.module:
            self.waiting = None

    def fingerprint_batch(self, call: ModuleCall) -> None:
        """The first training step's batch: every tensor the model is called with, positional
        and keyword (`model(input_ids=..., attention_mask=...)`, `model(**batch)`), summed into
        one fingerprint. A model called without tensors shows its batch at its first layer that
        gets one positionally (only a root call's keyword arguments are known before its
        forward)."""
        module = call.module
        if self.instruments.seen.steps or \
                not torch.is_grad_enabled() or isinstance(module, nn.modules.loss._Loss):
            return
        named = batch_tensors(call.args, call.kwargs if call.root else {})
        if not named:
            return
        with torch.no_grad():
            total = square_total = None
            for _, tensor in named:
                data = tensor.detach().double() if tensor.device.type != "mps" else \
                    tensor.detach().float()
                part, square = data.sum(), (data * data).sum()
                total = part if total is None else total + part.to(total.device)
                square_total = square if square_total is None else \
                    square_total + square.to(square_total.device)
        shape = ", ".join(f"{name}={tuple(tensor.shape)}" if name else str(tuple(tensor.shape))
                          for name, tensor in named)
        self.first_batch = (shape, [total, square_total])

    # ---- replicas ---------------------------------------------------------------------------

    def on_step(self, step: StepEvent) -> None:
        optimizer = step.optimizer
        if id(optimizer) in self.replicas or id(optimizer) in self.before_values:
            return
        parameters = [p for group in optimizer.param_groups for p in group["params"]
                      if not sharded(p)]
        self.replica_parameters[id(optimizer)] = parameters
        values = _checksums(parameters)
        if values is not None:
            self.before_values[id(optimizer)] = values

    def on_step_done(self, step: StepEvent) -> None:
        optimizer = step.optimizer
        key = id(optimizer)
        self.note_backend()  # while the script's process group exists
        parameters = self.replica_parameters.get(key)
        if not parameters:
            return
        if key not in self.replicas:
            names = {id(p): name for name, p in self.instruments.model_parameters().values()}
            self.replicas[key] = Replicas(
                self.instruments.optimizer_names.get(key, type(optimizer).__name__),
                [names.get(id(p), f"parameter #{index}") for index, p in enumerate(parameters)],
                [], step_location=user_location())
        values = _checksums(parameters)
        if values is not None:
            self.replica_values.setdefault(key, []).append(values)

    # ---- the report -------------------------------------------------------------------------

    def fill(self, report: RankReport) -> RankReport:
        """What this companion saw, read from the device at once (after the script)."""
        tensors: list[torch.Tensor] = []
        for key in self.replicas:
            tensors += [self.before_values[key], *self.replica_values.get(key, [])]
        if self.first_batch is not None:
            tensors += self.first_batch[1]
        read = iter(read_vectors(tensors))  # in the order they were listed
        for key, replicas in self.replicas.items():
            replicas.before = next(read)
            replicas.after = [next(read) for _ in self.replica_values.get(key, [])]
            report.replicas.append(replicas)
        if self.first_batch is not None:
            shape, _ = self.first_batch
            report.first_batch = (shape, (next(read)[0], next(read)[0]))
        report.loaders = list(self.loaders)
        return report

    # ---- the watchdog -----------------------------------------------------------------------

    def _watch(self) -> None:
        try:
            while not self._stop_watching.wait(WATCH_INTERVAL):
                waiting = self.waiting
                now = time.monotonic()
                if waiting is not None and now - waiting.since > self.collective_timeout:
                    self.end_run(hang=True)
                elif self.deadline is not None and now > self.deadline:
                    self.end_run(hang=True)
                elif self.exchange.stopped():
                    self.end_run(hang=False)
        except (dist.DistError, OSError):
            return  # the store is gone: the job is over

    def position(self) -> Position:
        return main_thread_position(self.place.rank, self.waiting)

    def end_run(self, hang: bool) -> None:
        """From the watchdog: this rank waited too long (hang), or another rank ended the run.
        Say where this rank is, publish what it saw so far, and end the process: a rank blocked
        in a collective cannot be interrupted any other way."""
        if not self.ended.acquire(blocking=False):
            return  # the script itself is ending the run
        position = self.position()
        rank = self.place.rank
        # The report before the position: the rank that ends the run waits for the others'
        # positions, and torchrun stops whatever is left once it exits.
        if self.partial_report is not None:
            try:
                report = self.partial_report()
            except RuntimeError as error:  # the script's state changed under this thread
                self.instruments.instrument_error(error)
                report = None
            if report is not None:
                report.hang = position if hang else None
                self.exchange.put(f"report/{rank}", report)
        self.exchange.put(f"where/{rank}", position)
        if hang and self.exchange.claim("stop-claim"):
            self.exchange.put("stop", rank)
        status = EXIT_ENDED
        if hang or not self.place.launched:
            self.exchange.wait_for([f"where/{other}" for other in range(self.place.world_size)],
                                   POSITION_WAIT)
        if not self.place.launched:
            # Inside the user's own torchrun, rank 0 prints; no rank may exit before it has
            # (torchrun stops every rank as soon as one exits with an error).
            if rank == 0 and self.print_report is not None:
                status = self.print_report()
                self.exchange.put("printed", True)
            else:
                self.exchange.wait_for(["printed"], PRINT_WAIT)
                status = 0
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)

    def end_from_script(self) -> bool:
        """The script raised or timed out on this rank: tell the others, give them a moment to
        say where they are. False when the watchdog is already ending the run."""
        if not self.ended.acquire(blocking=False):
            return False
        if self.exchange.claim("stop-claim"):
            self.exchange.put("stop", self.place.rank)
        self.exchange.wait_for([f"where/{other}" for other in range(self.place.world_size)
                                if other != self.place.rank], POSITION_WAIT)
        return True
