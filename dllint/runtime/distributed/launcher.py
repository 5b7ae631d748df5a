"""Running a traced distributed job, and running one rank of it.

`launch` is `dllint trace --nproc N`: it starts the ranks with `torch.distributed.run` (the engine
behind `torchrun`), in this process, with a store of its own that outlives every rank; once the
job is over, whatever happened to it, it reads what each rank published. `run_rank` is what each
rank does: trace the script with the rank's companion, then publish its report.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Sequence

import torch.multiprocessing

from dllint.runtime.distributed.job import LAUNCHER_STORE, Exchange, RankPlace
from dllint.runtime.distributed.loopback import BACKEND, loopback_store, registered_run
from dllint.runtime.distributed.merge import DistributedTrace, merge_ranks
from dllint.runtime.distributed.rank import POSITION_WAIT, RankCompanion, sharded
from dllint.runtime.distributed.records import Position, RankReport
from dllint.runtime.distributed.wire import SECRET_VARIABLE
from dllint.runtime.instruments import Instruments, unwrapped
from dllint.runtime.process_state import ENVIRONMENT, SIGNAL_HANDLERS, ProcessState
from dllint.runtime.script import TraceReport, trace_script

# torch.distributed.run logs its own view of the job (a banner about OMP_NUM_THREADS, each
# failed worker, the signals it sends); the merged report says all that, per rank.
_QUIET_LOGGERS = ("torch.distributed.run", "torch.distributed.elastic",
                  "torch.distributed.launcher")


@dataclass(frozen=True)
class TraceOptions:
    steps: int = 1
    timeout: float | None = 300.0
    device: str = "auto"
    overfit: int | None = None
    collective_timeout: float = 60.0
    script_output_to_stderr: bool = False  # the report is machine-readable on stdout

    def arguments(self) -> list[str]:
        """The same options on a rank's `dllint trace` command line."""
        arguments = ["--steps", str(self.steps), "--device", self.device,
                     "--collective-timeout", repr(self.collective_timeout), "--no-static"]
        if self.timeout:
            arguments += ["--timeout", repr(self.timeout)]
        if self.overfit:
            arguments.append(f"--overfit={self.overfit}")
        if self.script_output_to_stderr:
            arguments.append("--script-output-to-stderr")
        return arguments


def _trained_modules(instruments: Instruments) -> list[str]:
    """Modules with parameters of their own whose forward ran with gradients in the first step."""
    names = []
    for root in instruments.roots.values():
        for module in unwrapped(root).modules():
            if id(module) in instruments.training_rows and \
                    next(module.parameters(recurse=False), None) is not None:
                names.append(instruments.name_of(module))
    return sorted(set(names))


def _rank_report(place: RankPlace, companion: RankCompanion, trace: TraceReport) -> RankReport:
    instruments = companion.instruments
    return RankReport(
        place.rank, place.world_size, os.getpid(), companion.note_backend(), trace,
        trained_modules=_trained_modules(instruments),
        no_gradient=[name for name, _ in instruments.pending_no_gradient.values()],
        sharded=[name for name, parameter in instruments.model_parameters().values()
                 if sharded(parameter)],
        gradient_place=instruments.gradient_location,
        model_place=instruments.root_location if instruments.roots else None)


def run_rank(script: str, argv: Sequence[str], place: RankPlace, options: TraceOptions,
             print_report: Callable[[], int] | None = None) -> RankReport:
    """Trace the script as this rank and publish the report. When the script raised on this
    rank, the others are told to stop (they would wait for it in their next collective)."""
    exchange = Exchange.connect(place)
    companions: list[RankCompanion] = []

    def around(instruments: Instruments) -> RankCompanion:
        companion = RankCompanion(instruments, place, exchange, options.collective_timeout,
                                  options.timeout)
        seen = instruments.seen

        def partial_report() -> RankReport:
            ended = TraceReport(script, "ended", "ended with the run", seen.device or "cpu",
                                seen.steps, seen, instrument_errors=list(instruments.errors))
            return _rank_report(place, companion, ended)
        companion.partial_report = partial_report
        companion.print_report = print_report
        companions.append(companion)
        return companion

    trace = trace_script(script, argv, steps=options.steps, timeout=options.timeout,
                         device=options.device, overfit=options.overfit, around=around)
    companion = companions[0]
    report = companion.fill(_rank_report(place, companion, trace))
    report.hooks_restored = companion.left_clean
    exchange.put(f"report/{place.rank}", report)
    if trace.outcome in ("raised", "timeout"):
        companion.end_from_script()
    companion.close_process_group()
    return report


def collect(exchange: Exchange, world_size: int,
            failures: dict[int, str] | None = None) -> DistributedTrace:
    reports = exchange.published("report", world_size, RankReport)
    positions = exchange.published("where", world_size, Position)
    failures = dict(failures or {})
    for rank in range(world_size):
        if f"report/{rank}" in exchange.refused and rank not in failures:
            failures[rank] = "published a report that was refused (see below)"
    return merge_ranks(world_size, reports, positions, failures,
                       refused=sorted(exchange.refused.values()))


def wait_and_collect(exchange: Exchange, world_size: int, seconds: float) -> DistributedTrace:
    """Rank 0 of a user's own torchrun: wait for the other ranks' reports (or for the run to be
    ended), then merge."""
    deadline = time.monotonic() + seconds
    keys = [f"report/{rank}" for rank in range(world_size)]
    while time.monotonic() < deadline and not all(exchange.has(key) for key in keys):
        if exchange.stopped():
            exchange.wait_for(keys, POSITION_WAIT)
            break
        time.sleep(0.05)
    return collect(exchange, world_size)


def _failures(failures: dict) -> dict[int, str]:
    """How each failed rank ended, first failure first; torchrun's SIGTERM to the ranks left
    after it is said as such."""
    ordered = sorted(failures.items(), key=lambda item: item[1].timestamp)
    first = ordered[0][0] if ordered else None
    described = {}
    for rank, failure in ordered:
        if failure.exitcode >= 0:
            described[rank] = f"exited with status {failure.exitcode}"
        elif rank != first and failure.signal_name() == "SIGTERM":
            described[rank] = f"was stopped by torchrun (SIGTERM) after rank {first} failed"
        else:
            described[rank] = f"was killed by {failure.signal_name()}"
    return described


def _loopback_interface() -> str | None:
    """The loopback interface's name: "lo" on Linux, "lo0" on macOS."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return None
    return next((name for name in names if name == "lo" or
                 (name.startswith("lo") and name[2:].isdigit())), None)


def launch(script: str, argv: Sequence[str], nproc: int, options: TraceOptions
           ) -> DistributedTrace:
    """Run `dllint trace` as N ranks under torch.distributed.run and merge their reports."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # The job's only listening socket, on loopback (see `loopback`); its values are sealed with
    # a key that only this process and the ranks it starts hold.
    store = loopback_store(timeout=timedelta(seconds=30))
    prefix = uuid.uuid4().hex
    secret = secrets.token_bytes(32)
    exchange = Exchange(store, prefix, secret)
    # torch.distributed.run changes the environment and signal handlers of this process, which
    # goes on after the job, and renames this thread: all put back.
    saved_state = ProcessState((ENVIRONMENT, SIGNAL_HANDLERS))
    saved_thread_name = torch.multiprocessing._get_thread_name()
    os.environ[LAUNCHER_STORE] = f"127.0.0.1:{store.port}/{prefix}"
    os.environ[SECRET_VARIABLE] = secret.hex()
    # Every rank is on this machine: the script's own gloo and NCCL sockets need no other
    # interface either, unless the user chose one.
    interface = _loopback_interface()
    if interface:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", interface)
        os.environ.setdefault("NCCL_SOCKET_IFNAME", interface)
    saved_levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    failures: dict[int, str] = {}
    try:
        arguments = ["--nnodes=1", f"--rdzv-backend={BACKEND}", f"--rdzv-id={prefix}",
                     f"--nproc-per-node={nproc}", "--module", "dllint",
                     "trace", *options.arguments(), script, "--", *argv]
        try:
            with registered_run(prefix, store):
                run(parse_args(arguments))
        except ChildFailedError as error:
            failures = _failures(error.failures)
        except SignalException as error:
            # Ctrl-C (or a SIGTERM) to dllint: torchrun has stopped the ranks; stop here too.
            raise KeyboardInterrupt(str(error)) from None
        return collect(exchange, nproc, failures)
    finally:
        saved_state.restore()
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        torch.multiprocessing._set_thread_name(saved_thread_name)
        sys.stdout.flush()
