"""Which rank this process is, and the store all ranks (and the launcher) share.

A rank learns its place from the variables torchrun sets (RANK, WORLD_SIZE, ...). Ranks publish
what they saw to a key-value store (a c10d `TCPStore`) rather than through the script's own
process group: the store works whatever state the script's collectives are in (a rank that hangs
or died cannot take part in an all-gather), and needs no shared file system across nodes.
Under `dllint trace --nproc N` the launcher hosts the store and reads it after the job, so the
report survives any rank; inside a user's own torchrun command the store is torchrun's agent
store, and rank 0 merges.

What is read back from the store is never unpickled: see `wire` for the values' form and seal.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch.distributed as dist

from dllint.runtime.distributed.wire import Refused, seal, secret_from_environment, unseal

# Set by the launcher for its ranks: "HOST:PORT/PREFIX" of the store it hosts.
LAUNCHER_STORE = "DLLINT_TRACE_STORE"
STORE_TIMEOUT = timedelta(seconds=30)


@dataclass(frozen=True)
class RankPlace:
    rank: int
    world_size: int
    local_rank: int
    host: str
    port: int
    prefix: str
    launched: bool  # by `dllint trace --nproc`: the launcher, not rank 0, merges and prints
    secret: bytes | None = None  # the key that seals this job's values in the store


def current_rank() -> RankPlace | None:
    """This process's place in a torchrun job of 2+ processes, or None."""
    environ = os.environ
    try:
        world_size = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ["RANK"])
    except (KeyError, ValueError):
        return None
    if world_size < 2:
        return None
    local_rank = int(environ.get("LOCAL_RANK", rank))
    launcher = environ.get(LAUNCHER_STORE)
    if launcher:
        address, prefix = launcher.split("/", 1)
        host, port = address.rsplit(":", 1)
        return RankPlace(rank, world_size, local_rank, host, int(port), prefix, True,
                         secret_from_environment(environ))
    if "MASTER_ADDR" not in environ or "MASTER_PORT" not in environ:
        return None
    # torchrun's agent store; a restarted job publishes under a new prefix.
    prefix = f"{environ.get('TORCHELASTIC_RUN_ID', 'run')}-{environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    return RankPlace(rank, world_size, local_rank, environ["MASTER_ADDR"],
                     int(environ["MASTER_PORT"]), prefix, False, secret_from_environment(environ))


class StoreUnreachable(RuntimeError):
    """A rank could not connect to the job's store."""


class Exchange:
    """Sealed, typed values under `dllint/PREFIX/` in a c10d store.

    A value that fails its seal or its type is not used: `get` answers as if it were absent, and
    `refused` keeps one line per such key for the report."""

    def __init__(self, store: dist.Store, prefix: str, secret: bytes | None) -> None:
        self.store = dist.PrefixStore(f"dllint/{prefix}/", store)
        self.secret = secret
        self.refused: dict[str, str] = {}

    @classmethod
    def connect(cls, place: RankPlace) -> Exchange:
        try:
            store = dist.TCPStore(place.host, place.port, is_master=False, timeout=STORE_TIMEOUT)
        except dist.DistError as error:
            raise StoreUnreachable(
                f"rank {place.rank} could not reach the store at {place.host}:{place.port} "
                f"({error}); run the job with `dllint trace --nproc N`, or with torchrun's "
                "c10d rendezvous (`--standalone`, or `--rdzv-backend c10d`)") from None
        return cls(store, place.prefix, place.secret)

    def put(self, key: str, value: Any) -> None:
        self.store.set(key, seal(key, value, self.secret))

    def has(self, key: str) -> bool:
        return self.store.check([key])

    def get(self, key: str, kind: Any, default: Any = None) -> Any:
        """The value of type `kind` under `key`; `default` when absent or refused."""
        if not self.has(key):
            return default
        try:
            return unseal(key, self.store.get(key), kind, self.secret)
        except Refused as why:
            self.refused[key] = f"the value under `{key}` in the job's store was refused: {why}"
            return default

    def stopped(self) -> bool:
        """Whether a rank of this run asked the others to stop (its rank is the value; a value
        someone else wrote there does not count)."""
        return self.get("stop", int) is not None

    def claim(self, key: str) -> bool:
        """True for the first caller only, across all ranks (an atomic counter)."""
        return self.store.add(key, 1) == 1

    def wait_for(self, keys: list[str], seconds: float) -> None:
        """Until every key exists or `seconds` passed (never raises for a missing key)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not all(self.has(key) for key in keys):
            time.sleep(0.05)

    def published(self, prefix: str, world_size: int, kind: Any) -> dict[int, Any]:
        return {rank: value for rank in range(world_size)
                if (value := self.get(f"{prefix}/{rank}", kind)) is not None}
