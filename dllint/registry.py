"""Finds the rules: every `Rule` subclass defined in a module of the `dllint.rules` package.

Adding a rule means adding one module, and regenerating `dllint/rule_table.py` (the codes, names
and defaults a run reads without importing the rules, and so without libcst; `all_rules()`
refuses to run while the two differ).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING, Union

from dllint.engine_codes import ENGINE_CODES, EngineCode
from dllint.rule_table import RULE_TABLE, RuleEntry, entry_of

if TYPE_CHECKING:  # importing the rule base class imports libcst: only the rules need it
    from dllint.rule import Rule

Documented = Union["type[Rule]", EngineCode]


class StaleRuleTable(RuntimeError):
    """dllint/rule_table.py does not describe the rules that are installed."""


@functools.lru_cache(maxsize=None)
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class, by code. Checked against `RULE_TABLE`, which settings and the runner
    read in its place: a table that drifted from the rules would enable the wrong codes."""
    rules = imported_rules()
    table = tuple(entry_of(rule) for rule in rules)
    if table != RULE_TABLE:
        drifted = sorted(set(table) ^ set(RULE_TABLE))
        raise StaleRuleTable(f"dllint/rule_table.py does not match the rules ({drifted}); "
                             f"run `python -m dllint.rule_table --write`")
    return rules


def imported_rules() -> tuple[type[Rule], ...]:
    """The rule classes found in `dllint.rules`, unchecked (`python -m dllint.rule_table`)."""
    from dllint.rule import Rule

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


def rule_entries() -> tuple[RuleEntry, ...]:
    """Code, name, default and model use of every rule, without importing the rules."""
    return RULE_TABLE


def known_codes() -> frozenset[str]:
    return frozenset(entry.code for entry in RULE_TABLE) | frozenset(ENGINE_CODES)


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
