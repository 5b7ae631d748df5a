"""dllint: find the silent bugs that make a deep-learning model train badly."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# The public names are loaded on first use (PEP 562), not here: `dllint --version`, the list
# of runtime codes and every `import dllint.<submodule>` would otherwise load the whole linter
# (libcst included), and dllint.api -> dllint.config -> dllint would import in a cycle.
_PUBLIC_FROM = {
    "lint_paths": "dllint.api",
    "lint_source": "dllint.api",
    "Diagnostic": "dllint.types",
    "Severity": "dllint.types",
}

if TYPE_CHECKING:
    from dllint.api import lint_paths, lint_source
    from dllint.types import Diagnostic, Severity

__all__ = ["Diagnostic", "Severity", "__version__", "lint_paths", "lint_source"]


def __getattr__(name: str) -> object:
    module = _PUBLIC_FROM.get(name)
    if module is None:
        raise AttributeError(f"module 'dllint' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC_FROM})
