"""The list of runtime checks, filled by `register` as each check module is imported (by
`dllint/runtime/checks/__init__.py`, in the order the tracer runs them on each event). Kept
apart from the package so that a check module imports it without importing the package that
imports the check modules."""

from __future__ import annotations

from dllint.runtime.dispatch import Check

CHECKS: list[type[Check]] = []


def register(check: type[Check]) -> type[Check]:
    if any(other.code.code == check.code.code for other in CHECKS):
        raise ValueError(f"two checks registered for {check.code.code}")
    CHECKS.append(check)
    return check
