"""One store on the loopback interface, and a torchrun rendezvous that uses it and nothing else.

`dllint trace --nproc N` runs every rank on this machine, so nothing about the job needs to be
reachable from elsewhere. A c10d `TCPStore` started the usual way listens on every interface,
and torchrun's own `--standalone` rendezvous starts two of them (the rendezvous store and the
store the workers share). Here the launcher binds one listening socket to 127.0.0.1 itself,
hands it to its `TCPStore`, and registers a rendezvous backend that gives torchrun that store
for the rendezvous and as the workers' MASTER_ADDR:MASTER_PORT: the job opens no other
listening socket of its own.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import torch.distributed as dist
from torch.distributed.elastic.rendezvous import (RendezvousHandler, RendezvousInfo,
                                                  RendezvousParameters, RendezvousStoreInfo,
                                                  rendezvous_handler_registry)

LOOPBACK = "127.0.0.1"
BACKEND = "dllint-loopback"

# Stores by the run id torchrun passes to the rendezvous: the registry takes a creator function,
# not an object, so the launcher's store is found here.
_STORES: dict[str, dist.TCPStore] = {}


def loopback_store(timeout: timedelta) -> dist.TCPStore:
    """A master `TCPStore` whose only listening socket is on 127.0.0.1."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind((LOOPBACK, 0))
        listener.listen(socket.SOMAXCONN)
        store = dist.TCPStore(LOOPBACK, listener.getsockname()[1], is_master=True,
                              wait_for_workers=False, timeout=timeout,
                              master_listen_fd=listener.fileno())
    except BaseException:
        listener.close()
        raise
    # The store's server owns the socket from now on; the Python object must not close it.
    listener.detach()
    return store


class LoopbackRendezvous(RendezvousHandler):
    """A single-node rendezvous over the launcher's loopback store: this node is rank 0 of one,
    and its workers connect to the same store (the agent store)."""

    def __init__(self, run_id: str, store: dist.TCPStore) -> None:
        self.run_id = run_id
        self.store = store
        self.closed = False

    def get_backend(self) -> str:
        return BACKEND

    @property
    def use_agent_store(self) -> bool:
        return True

    def next_rendezvous(self) -> RendezvousInfo:
        return RendezvousInfo(dist.PrefixStore(f"torchelastic/{self.run_id}/", self.store), 0, 1,
                              RendezvousStoreInfo(LOOPBACK, self.store.port))

    def is_closed(self) -> bool:
        return self.closed

    def set_closed(self) -> None:
        self.closed = True

    def num_nodes_waiting(self) -> int:
        return 0

    def get_run_id(self) -> str:
        return self.run_id

    def shutdown(self) -> bool:
        self.closed = True
        return True


def _create_handler(parameters: RendezvousParameters) -> LoopbackRendezvous:
    return LoopbackRendezvous(parameters.run_id, _STORES[parameters.run_id])


class registered_run:
    """`with registered_run(run_id, store):` torchrun's `--rdzv-backend dllint-loopback
    --rdzv-id run_id` finds `store` while the block runs."""

    def __init__(self, run_id: str, store: dist.TCPStore) -> None:
        self.run_id = run_id
        self.store = store

    def __enter__(self) -> None:
        rendezvous_handler_registry.register(BACKEND, _create_handler)
        _STORES[self.run_id] = self.store

    def __exit__(self, *exc_info) -> None:
        _STORES.pop(self.run_id, None)
