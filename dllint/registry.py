"""Finds the rules: every `Rule` subclass defined in a module of the `dllint.rules` package.

Adding a rule means adding one module; nothing else registers it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import Union

from dllint.engine_codes import ENGINE_CODES, EngineCode
from dllint.rule import Rule

Documented = Union[type[Rule], EngineCode]


@functools.lru_cache(maxsize=None)
def all_rules() -> tuple[type[Rule], ...]:
    package = importlib.import_module("dllint.rules")
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"dllint.rules.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Rule) and value is not Rule
                    and value.__module__ == module.__name__):
                if value.code in found or value.code in ENGINE_CODES:
                    raise RuntimeError(f"rule code {value.code} is defined twice")
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


@functools.lru_cache(maxsize=None)
def rules_by_code() -> dict[str, type[Rule]]:
    return {rule.code: rule for rule in all_rules()}


def known_codes() -> frozenset[str]:
    return frozenset(rules_by_code()) | frozenset(ENGINE_CODES)


def runtime_codes() -> dict[str, EngineCode]:
    # The runtime checks are documented without importing torch.
    from dllint.runtime.codes import RUNTIME_CODES
    return RUNTIME_CODES


def lookup(code_or_name: str) -> Documented | None:
    """A rule, engine code or runtime check by code (`DL001`, any case) or name."""
    wanted = code_or_name.strip()
    for entry in (*all_rules(), *ENGINE_CODES.values(), *runtime_codes().values()):
        if entry.code == wanted.upper() or entry.name == wanted.lower():
            return entry
    return None
