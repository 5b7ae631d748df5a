"""The runtime checks, one module per RT code, registered like rules.

A check is a `dispatch.Check` subclass: its `code` (the entry in `codes.py`, which documents it
for `dllint explain`), the `events` it subscribes to, and its own state. `registry.register`
adds it to `CHECKS`; `all_checks` gives them in the order the tracer runs them on each event
(`CHECK_MODULES`). Its specification is its fixture,
`fixtures/runtime/<code lowercased>_*.py`, run by `tests/test_runtime.py`. The checks of a
distributed run (RT011-RT015) compare what every rank saw, so they are judged after the run
(`dllint/runtime/distributed/merge.py`) from what each rank's `RankCompanion` records.
"""

from __future__ import annotations

import importlib

from dllint.runtime.checks.registry import CHECKS
from dllint.runtime.dispatch import Check

# The check modules, in the order the tracer runs them on each event: a check that several
# events concern runs where its findings came in the single-class tracer. Loaded by `all_checks`,
# not here: a check module imports `registry`, and a package that imported its own submodules
# as it loads would import itself back.
CHECK_MODULES = ("rt001_non_finite", "rt002_broadcast", "rt005_dtypes", "rt003_loss_contract",
                 "rt004_input_scale", "rt007_mode", "rt009_accumulating", "rt008_not_optimized",
                 "rt006_gradient_flow", "rt010_overfit", "rt016_graph_kept_alive",
                 "rt017_does_not_fit")


def all_checks() -> list[type[Check]]:
    """Every registered check, in `CHECK_MODULES` order (whichever was imported first)."""
    for name in CHECK_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    position = {f"{__name__}.{name}": index for index, name in enumerate(CHECK_MODULES)}
    return sorted(CHECKS, key=lambda check: position.get(check.__module__, len(position)))
