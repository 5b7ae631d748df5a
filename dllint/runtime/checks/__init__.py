"""The runtime checks, one module per RT code, registered like rules.

A check is a `dispatch.Check` subclass: its `code` (the entry in `codes.py`, which documents it
for `dllint explain`), the `events` it subscribes to, and its own state. `register` adds it to
`CHECKS`, in the order the tracer runs them on each event. Its specification is its fixture,
`fixtures/runtime/<code lowercased>_*.py`, run by `tests/test_runtime.py`. The checks of a
distributed run (RT011-RT015) compare what every rank saw, so they are judged after the run
(`dllint/runtime/distributed/merge.py`) from what each rank's `RankCompanion` records.
"""

from __future__ import annotations

from dllint.runtime.dispatch import Check

CHECKS: list[type[Check]] = []


def register(check: type[Check]) -> type[Check]:
    if any(other.code.code == check.code.code for other in CHECKS):
        raise ValueError(f"two checks registered for {check.code.code}")
    CHECKS.append(check)
    return check


# Imported for their registration, in the order they run on each event: a check that several
# events concern runs where its findings came in the single-class tracer.
from dllint.runtime.checks import (  # noqa: E402,F401  (registration)
    rt001_non_finite, rt002_broadcast, rt005_dtypes, rt003_loss_contract, rt004_input_scale,
    rt007_mode, rt009_accumulating, rt008_not_optimized, rt006_gradient_flow, rt010_overfit)
