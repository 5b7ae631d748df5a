"""dllint's optional parts (the extras of pyproject.toml) and what a failed import means.

A command that needs an extra imports it when it runs. Only a missing module of that extra is
a missing extra; a missing module of dllint itself (a wheel built without a package) or of
its required dependencies is a broken installation, and reinstalling the extra would not fix it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass


@dataclass(frozen=True)
class Extra:
    name: str
    package: str  # what the user is told is missing
    modules: frozenset[str]  # the top-level modules dllint imports from it


EXTRAS = {extra.name: extra for extra in (
    Extra("runtime", "torch", frozenset({"torch"})),
    Extra("lsp", "pygls", frozenset({"pygls", "lsprotocol"})),
    Extra("plot", "matplotlib", frozenset({"matplotlib"})),
)}

# The static core's dependencies (pyproject.toml's `dependencies`), by module name.
REQUIRED_MODULES = frozenset({"libcst", "click", "rich", "pathspec", "tomli"})


def is_installed(extra: str) -> bool:
    """Whether the extra's modules can be found, without importing them (matplotlib takes
    a third of a second, and importing it could change what the traced script sees)."""
    return all(importlib.util.find_spec(module) is not None for module in EXTRAS[extra].modules)


def missing_extra_message(extra: str, needed_by: str, detail: str = "") -> str:
    from dllint.install_hint import install_command

    package = EXTRAS[extra].package
    return f"{needed_by} needs {package}{f' ({detail})' if detail else ''}: " \
           f"{install_command(extra)}"


def import_failure(error: ImportError, needed_by: str, extra: str) -> str:
    """The one-line message for `needed_by` (`dllint trace`, `--trace`) failing to import."""
    missing = error.name or ""
    top_level = missing.partition(".")[0]
    # Only the extra's own top-level module missing: a missing part of an installed torch is
    # not cured by installing torch.
    if isinstance(error, ModuleNotFoundError) and missing in EXTRAS[extra].modules:
        return missing_extra_message(extra, needed_by, str(error))
    if is_broken_installation(error):
        return broken_installation_message(error)
    # The extra is installed but does not import: a version dllint cannot use, or a broken
    # installation of the extra itself.
    return f"{needed_by} could not import {missing or 'a module it needs'}: {error}"


def broken_installation_message(error: ImportError) -> str:
    return f"this installation of dllint is incomplete ({error}); reinstall dllint"


def is_broken_installation(error: ImportError) -> bool:
    """A module of dllint itself or of a required dependency is missing."""
    top_level = (error.name or "").partition(".")[0]
    return isinstance(error, ModuleNotFoundError) and \
        (top_level == "dllint" or top_level in REQUIRED_MODULES)
